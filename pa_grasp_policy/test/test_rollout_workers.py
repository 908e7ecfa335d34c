"""Rollout workers: the learner's tasks fix every scene, so an update's rollout is the same on one
or two worker processes and on Ray actors; a worker killed mid-rollout loses no task; the training
mix keeps the scene sampler's share of single scenes; one PPO update runs end to end on Ray."""

import os
import signal

import numpy as np
import pytest
import torch

from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.model.zoom import ZoomConfig
from pa_grasp_policy.training.rollout import STEP_FIELDS, Rollout, training_tasks
from pa_grasp_policy.training.workers import ProcessRolloutWorkers, RayRolloutWorkers, gather
from pa_grasp_policy.training.zoom_env import ZoomEnvConfig
from pa_grasp_sim.env import SceneSampler

STEPS = 24


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=32))
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=32), scenes=SceneSampler(0.75, 2, 4), clutter_reuse=2)
    weights = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    return policy, config, weights


def rollout_on(workers, config, weights, after=None) -> Rollout:
    def enough(parts):
        if after is not None:
            after(parts)
        return sum(len(p) for p in parts) >= STEPS

    return Rollout.concat(gather(workers, training_tasks(config, 3, 7), weights, 7, enough))


def same(a: Rollout, b: Rollout):
    for name in STEP_FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.episode_success == b.episode_success and a.episode_scene == b.episode_scene


@pytest.fixture(scope="module")
def reference(setting):
    policy, config, weights = setting
    with ProcessRolloutWorkers(1, config, policy) as workers:
        return rollout_on(workers, config, weights)


def test_the_rollout_is_the_same_on_two_workers_even_when_one_is_killed(setting, reference):
    policy, config, weights = setting
    assert len(reference) >= STEPS and len(set(reference.episode_scene)) >= 2
    with ProcessRolloutWorkers(2, config, policy) as workers:
        same(rollout_on(workers, config, weights), reference)
        killed = []

        def kill_a_busy_worker(parts):
            if not killed and workers.busy():
                killed.append(workers.busy_pids()[0])
                os.kill(killed[0], signal.SIGKILL)

        same(rollout_on(workers, config, weights, kill_a_busy_worker), reference)
        assert killed and killed[0] not in workers.pids(), "replaced by a new process"
        same(rollout_on(workers, config, weights), reference)  # and it keeps working


def test_the_training_mix_keeps_the_samplers_share_of_single_scenes(setting):
    _, config, _ = setting
    tasks = training_tasks(config, 0, 0)
    episodes = [(t.object_count, t.episodes) for t in (next(tasks) for _ in range(2000))]
    single = sum(e for n, e in episodes if n == 1) / sum(e for _, e in episodes)
    assert single == pytest.approx(0.75, abs=0.03)
    assert all(e == config.clutter_reuse for n, e in episodes if n > 1) and all(e == 1 for n, e in episodes if n == 1)


def test_ray_actors_give_the_same_rollout_even_when_one_is_killed(setting, reference):
    ray = pytest.importorskip("ray")
    policy, config, weights = setting
    try:
        with RayRolloutWorkers(2, "local", config, policy) as workers:
            killed = []

            def kill_a_busy_actor(parts):
                running = list(workers.running().values())
                if not killed and running:
                    killed.append(running[0])
                    ray.kill(running[0], no_restart=False)

            same(rollout_on(workers, config, weights, kill_a_busy_actor), reference)
            assert killed
    finally:
        ray.shutdown()


def test_one_ppo_update_on_ray_end_to_end(tmp_path):
    ray = pytest.importorskip("ray")
    from pa_grasp_policy.model.checkpoint import load_checkpoint
    from pa_grasp_policy.training.train import main

    out = tmp_path / "run"
    argv = ["--out", str(out), "--input-size", "32", "--total-steps", "16", "--batch-size", "16"]
    argv += ["--minibatch-size", "8", "--update-epochs", "1", "--eval-every", "1", "--eval-attempts", "2"]
    try:
        assert main([*argv, "--workers", "2", "--ray", "local", "--threads", "1"]) == 0
    finally:
        ray.shutdown()
    _, payload = load_checkpoint(out / "latest.pt")
    assert payload["counters"]["updates"] >= 1 and payload["counters"]["env_steps"] >= 16
    assert "last_eval" in payload["counters"]
