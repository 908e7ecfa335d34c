"""The depth twin in worker processes (real child processes, real PyBullet worlds): the same
scores and ranking as the twin in this process, a crashed worker is an error for that call only
and leaves the ranking as it was, and worn or dead workers are replaced."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_depth_twin import pixel_of, scene, unsure_beside_sure  # noqa: F401  (scene is a fixture)

from pa_grasp_sim.twin.depth_twin import DepthTwin, TwinConfig
from pa_grasp_sim.twin.local_search import best_from_scores
from pa_grasp_sim.twin.workers import TwinPool, TwinPoolConfig, TwinWorkerError, make_twin


def wait_until_dead(pid: int, timeout_s: float = 10.0) -> None:
    """Until the process is a zombie (dead, not yet reaped by its parent) or gone."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive after {timeout_s} s")


def commands_on(scene):  # noqa: F811
    unsure, beside, sure = unsure_beside_sure(scene)
    return [unsure, beside, sure, unsure]


def test_workers_give_the_scores_and_ranking_of_the_twin_in_this_process(scene):  # noqa: F811
    depth, intrinsics, T, _, _ = scene
    commands = commands_on(scene)
    with DepthTwin(TwinConfig()) as twin:
        here = twin.scores(depth, intrinsics, T, commands)
    with TwinPool(TwinConfig(), pool=TwinPoolConfig(workers=2)) as pool:
        assert pool.parallel == 2 and len(set(pool.pids())) == 2 and os.getpid() not in pool.pids()
        assert list(pool.scores(depth, intrinsics, T, commands)) == list(here)
        ranking = pool.ranking(depth, intrinsics, T, commands)
        order = [ranking.next_index() for _ in commands]
        assert order == sorted(range(len(commands)), key=lambda i: (-here[i], i))
        assert ranking.executions <= 5 * len(commands)
        for floor in (0.0, 0.4, 1.0):  # the local search's question, two executions at a time
            assert pool.best_above(depth, intrinsics, T, commands, floor) == best_from_scores(here, floor)
        pids = pool.pids()
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # closed: the workers have exited and been reaped
            os.kill(pid, 0)


def test_a_worker_that_dies_mid_call_fails_that_call_only_and_is_started_again(scene):  # noqa: F811
    """A crash in pybullet kills a worker, not the caller: the call raises TwinWorkerError naming
    the signal, the ranking is as it was before the call, and asked again it goes on with a new
    worker to the same answer."""
    depth, intrinsics, T, _, _ = scene
    commands = commands_on(scene)
    with DepthTwin(TwinConfig()) as twin:
        here = twin.scores(depth, intrinsics, T, commands)
    with TwinPool(TwinConfig(), pool=TwinPoolConfig(workers=2)) as pool:
        victim = pool.pids()[0]
        calls = []

        def crash_the_first_worker_during_the_second_batch():
            calls.append(1)
            if len(calls) == 2:  # stopped now, so it cannot answer before the segfault lands
                os.kill(victim, signal.SIGSTOP)
                threading.Timer(0.2, lambda: (os.kill(victim, signal.SIGSEGV), os.kill(victim, signal.SIGCONT))).start()

        hook = crash_the_first_worker_during_the_second_batch
        ranking = pool.ranking(depth, intrinsics, T, commands, before_each=hook)
        with pytest.raises(TwinWorkerError, match=f"worker {victim} died \\(signal SIGSEGV\\)"):
            ranking.next_index()
        assert ranking.executions == 2 and list(ranking.tried) == [2, 0, 0, 0], "only the first batch counted"
        best = max(range(len(commands)), key=lambda i: (here[i], -i))
        assert ranking.next_index() == best and ranking.score(0) == here[0], "goes on, with a new worker"
        assert victim not in pool.pids() and pool.restarts == 1


def test_worn_workers_are_replaced_and_bad_settings_refused(scene):  # noqa: F811
    depth, intrinsics, T, _, _ = scene
    commands = commands_on(scene)[:3]
    with TwinPool(TwinConfig(executions=1), pool=TwinPoolConfig(workers=2, restart_after=1)) as pool:
        first = pool.scores(depth, intrinsics, T, commands)
        pids = pool.pids()
        second = pool.scores(depth, intrinsics, T, commands)  # a new image for both: both replaced
        assert list(first) == list(second) and pool.restarts == 2 and not set(pids) & set(pool.pids())
        os.kill(pool.pids()[1], signal.SIGKILL)  # dead between calls: replaced before the next one
        wait_until_dead(pool.pids()[1])
        assert list(pool.scores(depth, intrinsics, T, commands)) == list(first)
    with pytest.raises(ValueError, match="workers"):
        TwinPoolConfig(workers=0)
    with pytest.raises(ValueError, match="restart_after"):
        TwinPoolConfig(restart_after=0)
    with pytest.raises(ValueError, match="twin workers must be 0"):
        make_twin(-1)
    with make_twin(0, config=TwinConfig(executions=1)) as here:
        assert isinstance(here, DepthTwin) and list(here.scores(depth, intrinsics, T, commands)) == list(first)


def test_workers_exit_when_their_parent_is_killed():
    """No orphaned physics processes after a crashed node: a worker sees its pipe close and exits."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pa_grasp_sim.twin.workers import TwinPool\n"
            "import time\n"
            "pool = TwinPool()\n"
            "print('pids', *pool.pids(), flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
        text=True,
    )
    try:
        line = ""
        while not line.startswith("pids"):  # pybullet prints to the same stdout
            line = parent.stdout.readline()
            assert line, "the parent exited before its workers started"
        workers = [int(pid) for pid in line.split()[1:]]
        assert len(workers) == 2
    finally:
        parent.kill()
        parent.wait()
    for pid in workers:  # orphans are reaped by init once they exit
        deadline = time.monotonic() + 10.0
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived its parent"
