"""Process-wide settings of the stack's long-running processes (no ROS import): a traceback on a
crash in native code, and fewer glibc malloc arenas.

A segfault in pybullet or torch otherwise ends a node with no word in its log (a soak's stack
once vanished that way); faulthandler prints every thread's Python stack to stderr first.

glibc gives a thread that allocates under contention its own arena, up to 8 per core. The
executor's worker threads each end up with one, and the large temporary buffers of torch and
pybullet leave every arena at its own high-water mark: the sim stack served 150 goals at
~555 MB and slowly growing, against ~460 MB with two arenas, with the same grasps and the same
time per goal (README, "Soak test"). An explicit MALLOC_ARENA_MAX in the environment wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import faulthandler
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
DEFAULT_ARENAS = 2


def limit_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas` for threads that start after this call, unless
    MALLOC_ARENA_MAX is set. True if the cap was set; False without glibc or when the environment
    decides."""
    if arenas < 1:
        raise ValueError(f"arenas must be at least 1, got {arenas}")
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to cap
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_ARENA_MAX, arenas) == 1


def prepare_node_process() -> None:
    """Call first in a node process's main, before any thread starts."""
    faulthandler.enable()
    limit_malloc_arenas()
