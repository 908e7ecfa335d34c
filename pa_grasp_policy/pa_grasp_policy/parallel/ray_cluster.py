"""Joining Ray: the one place that says where the actors and tasks of `--ray` run."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

MAX_TRIES = 3  # a job or batch handed to this many workers that all died stops the run


def connect_ray(address: str) -> None:
    """`local`: a Ray instance on this machine, sized to its cores; `auto`: the cluster this
    machine joined with `ray start`; else the address of a cluster's head (`ray start --head`)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no GPUs: Ray's future default, quietly
    common = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address == "local":
        ray.init(num_cpus=os.cpu_count(), **common)
    else:
        ray.init(address=address, **common)


def revived(actor, make: Callable[[], object], timeout_s: float = 120.0):
    """`actor` once Ray has restarted it after it died (its `ready()` answers), or a new one from
    `make()` if Ray gave it up. A task given to an actor while it restarts fails at once, so the
    caller waits here (seconds) instead of losing the task's tries."""
    import ray

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ready.remote(), timeout=timeout_s)
            return actor
        except ray.exceptions.ActorUnavailableError:  # restarting
            time.sleep(0.2)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):  # dead for good, or hung
            break
    ray.kill(actor)
    fresh = make()
    ray.get(fresh.ready.remote(), timeout=timeout_s)
    return fresh
