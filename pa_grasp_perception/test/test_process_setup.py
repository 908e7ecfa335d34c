"""pa_grasp_perception.process_setup, each probe in a fresh interpreter (the settings are
process-wide and cannot be undone): limit_malloc_arenas caps glibc's arenas for the threads
started after it, and a node's main prints the Python stack when native code crashes."""

import os
import subprocess
import sys

import pytest

from pa_grasp_perception.process_setup import limit_malloc_arenas

PROBE = """
import ctypes, sys, threading
import numpy as np
from pa_grasp_perception.process_setup import limit_malloc_arenas
if sys.argv[1] != "none":
    print("capped:", limit_malloc_arenas(int(sys.argv[1])), file=sys.stderr, flush=True)
together = threading.Barrier(6)
keep = []
def work():
    together.wait()  # all six alive at once: none can take over another's arena
    keep.append(np.ones(300_000))  # malloc'd, not Python's small-object allocator
    together.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas(cap: str, **env) -> tuple[int, str]:
    """(arenas after six threads allocated at once, stderr) in a fresh interpreter with `env` added
    to this environment without its MALLOC_ARENA_MAX."""
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, cap], capture_output=True, text=True, timeout=60, env={**base, **env}
    )
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines()), done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_stats")
def test_threads_share_the_capped_arenas_and_the_environment_wins():
    uncapped, _ = arenas("none")
    assert uncapped > 2, "the premise: six threads allocating at once get their own arenas"
    capped, stderr = arenas("2")
    assert capped == 2 and "capped: True" in stderr
    from_env, stderr = arenas("2", MALLOC_ARENA_MAX="3")
    assert from_env == 3 and "capped: False" in stderr, "an explicit MALLOC_ARENA_MAX is kept"


def test_a_cap_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        limit_malloc_arenas(0)


CRASHING_NODE = """
import ctypes
from pa_grasp_perception.node_main import run_node

def make_node_that_crashes_in_native_code():
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a crash inside pybullet or torch would

run_node(make_node_that_crashes_in_native_code, "crashing_node")
"""


def test_a_node_that_crashes_in_native_code_leaves_its_python_stack_on_stderr():
    done = subprocess.run([sys.executable, "-c", CRASHING_NODE], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Segmentation fault" in done.stderr, done.stderr
    assert "make_node_that_crashes_in_native_code" in done.stderr, "the frame that crashed is named"
