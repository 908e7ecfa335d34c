"""Resident memory of a process tree, from /proc (Linux): for benchmarks."""

from __future__ import annotations

import contextlib
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the task ended
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants (MB)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        todo += _children(p)
    return total / 1024.0
