"""Independent jobs on worker processes and on local Ray: results in job order whatever ran where,
a worker that dies loses no job, and the demonstrations are the same file on 1 or 2 workers."""

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from pa_grasp_policy.parallel.jobs import map_jobs
from pa_grasp_policy.training import imitation
from pa_grasp_policy.training.imitation import ImitationConfig, collect


def square_or_die_once(x: int, marker: str) -> int:
    """x * x; the first time it runs on x == 3 its process dies, as on a lost machine."""
    if x == 3 and not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)
    return x * x


def test_jobs_come_back_in_order_and_a_died_worker_loses_none(tmp_path):
    done = []
    jobs = [(x, str(tmp_path / "died")) for x in range(8)]
    assert map_jobs(square_or_die_once, jobs, 2, on_result=lambda i, r: done.append(i)) == [x * x for x in range(8)]
    assert (tmp_path / "died").exists() and sorted(done) == list(range(8)), "each result reported once"


def test_ray_jobs_come_back_in_order_and_a_died_worker_loses_none(tmp_path):
    ray = pytest.importorskip("ray")
    import sys

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray's workers do not import tests
    try:
        jobs = [(x, str(tmp_path / "died")) for x in range(8)]
        assert map_jobs(square_or_die_once, jobs, 2, ray_address="local") == [x * x for x in range(8)]
        assert (tmp_path / "died").exists()
    finally:
        ray.shutdown()


def test_demonstrations_are_the_same_on_one_or_two_workers(tmp_path):
    # Single objects: the teacher tries five kinds of grasp, which takes seconds in a 30-object pile.
    cfg = ImitationConfig(demos=4, workers=1, input_size=32, single_probability=1.0)
    one = collect(cfg, tmp_path / "one.npz", chunk=2)
    two = collect(dataclasses.replace(cfg, workers=2), tmp_path / "two.npz", chunk=2)
    for key in imitation.DEMO_ARRAYS:
        np.testing.assert_array_equal(one[key], two[key])
    assert len(one["command"]) == 4
