"""The evaluation on worker processes and on local Ray actors gives the outcomes of one process,
attempt by attempt, and a worker killed mid-run loses no attempt: every one is reported once."""

import os
import signal

import pytest

from pa_grasp_policy.evaluation.choosers import planner_chooser
from pa_grasp_policy.evaluation.distributed import ChooserSpec, ProcessWorkers, RayWorkers, evaluate_on
from pa_grasp_policy.planner.loading import load_model
from pa_grasp_policy.planner.planner import GraspPlanner
from pa_grasp_sim.protocol import EvalConfig, evaluate

ATTEMPTS, SEEDS = 20, 4  # 5 batches for 2 workers: when the first is back, the second is running


@pytest.fixture(scope="module")
def config_and_reference():
    """The shipped model's protocol on 20 single novel scenes (4 seeds from seed 7), in one process."""
    model = load_model(None)
    config = EvalConfig(scene="single", objects="novel", attempts=ATTEMPTS, seeds=SEEDS, first_seed=7)
    config.world = model.world_config()
    with GraspPlanner(model, world_config=config.world) as planner:
        return config, evaluate(planner_chooser(planner), config)


def same_outcomes(result, reference):
    assert result.attempts == ATTEMPTS and [len(s) for s in result.per_attempt] == [5] * SEEDS, "each attempt once"
    assert result.per_attempt == reference.per_attempt
    assert result.failure_reasons == reference.failure_reasons and result.per_object == reference.per_object


def killer(kill_one):
    """A progress callback that, when the first batch has come back, kills a worker running
    another (kill_one() returns whether it found one: with 5 batches for 2 workers, it does unless
    the second batch came back in the same instant)."""
    killed = []

    def progress(done, total, rate):
        if not killed:
            killed.append(kill_one())

    return progress, killed


def test_process_workers_give_the_outcomes_of_one_process_even_when_one_is_killed(config_and_reference):
    config, reference = config_and_reference
    same_outcomes(evaluate_on(ProcessWorkers(2), ChooserSpec(), config), reference)

    workers = ProcessWorkers(2)

    def kill_one():
        running = workers.in_flight() > 0
        os.kill(workers.pids()[0], signal.SIGKILL)  # a pool with a died process is replaced whole
        return running

    progress, killed = killer(kill_one)
    logs = []
    same_outcomes(evaluate_on(workers, ChooserSpec(), config, progress, logs.append), reference)
    assert workers.pools_started == 2, "the broken pool was replaced"
    assert killed == [True] and any("a worker died" in line for line in logs), logs


def test_ray_actors_give_the_outcomes_of_one_process_even_when_one_is_killed(config_and_reference):
    ray = pytest.importorskip("ray")
    config, reference = config_and_reference
    try:
        workers = RayWorkers(2, "local")

        def kill_one():
            running = list(workers.in_flight().values())
            if running:
                ray.kill(running[0], no_restart=False)  # as a lost node: Ray restarts it
            return bool(running)

        progress, killed = killer(kill_one)
        logs = []
        same_outcomes(evaluate_on(workers, ChooserSpec(), config, progress, logs.append), reference)
        assert killed == [True] and any("a worker died" in line for line in logs), logs
    finally:
        ray.shutdown()
