"""The zoom MDP's scene schedule in a real PyBullet world: with scene_repeats every scene is
played that many times in a row under one scene id (the scene baseline's groups), and the
paper's fresh-scene schedule stays the default."""

import numpy as np

from pa_grasp_policy.training.rollout import evaluation_env_config
from pa_grasp_policy.training.zoom_env import ZoomEnvConfig, ZoomGraspEnv
from pa_grasp_sim.env import SceneSampler


def object_poses(env):
    return [env.world.client.getBasePositionAndOrientation(p.body)[0] for p in env.world.objects]


def test_scene_repeats_replay_each_scene_under_one_id():
    env = ZoomGraspEnv(ZoomEnvConfig(scenes=SceneSampler(1.0), scene_repeats=3), seed=5)
    ids, depths, poses = [], [], []
    for _ in range(4):
        env.reset()
        ids.append(env.scene_id)
        depths.append(env.depth.copy())
        poses.append(object_poses(env))
    assert ids == [0, 0, 0, 1]
    for replay in (1, 2):  # the same object where it settled, so (nearly) the same picture
        np.testing.assert_allclose(poses[replay], poses[0], atol=2e-3)
        assert np.mean(np.abs(depths[replay] - depths[0]) < 2e-3) > 0.99
    assert not np.allclose(depths[3], depths[0])  # then a new scene


def test_fresh_single_scenes_by_default():
    env = ZoomGraspEnv(ZoomEnvConfig(scenes=SceneSampler(1.0)), seed=5)
    ids = []
    for _ in range(3):
        env.reset()
        ids.append(env.scene_id)
    assert ids == [0, 1, 2]


def test_the_held_out_evaluation_plays_fresh_scenes_whatever_the_training_mix_replays():
    training = ZoomEnvConfig(scenes=SceneSampler(1.0), clutter_reuse=8, scene_repeats=4)
    held_out = evaluation_env_config(training)
    assert (held_out.clutter_reuse, held_out.scene_repeats) == (1, 1)
    assert (training.clutter_reuse, training.scene_repeats) == (8, 4)  # the training config is left as it was
    env = ZoomGraspEnv(held_out, seed=2)
    ids = []
    for _ in range(2):
        env.reset(2)  # clutter: the training env would replay it
        ids.append(env.scene_id)
    assert ids == [0, 1]


def test_played_episodes_carry_their_family_for_per_family_success():
    import torch

    from pa_grasp_policy.model.network import NetworkConfig
    from pa_grasp_policy.model.policy import Policy
    from pa_grasp_policy.model.zoom import ZoomConfig
    from pa_grasp_policy.training.rollout import SceneTask, play
    from pa_grasp_sim.objects import ObjectSet, load_object_set
    from pa_grasp_sim.world import GraspWorld

    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=32))
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=32), scenes=SceneSampler(1.0))
    balls = ObjectSet("balls", [o for o in load_object_set("seen").objects if o.family == "ball"])
    with GraspWorld(config.world, balls, seed=1) as world:
        rollout = play(ZoomGraspEnv(config, seed=1, world=world), policy, SceneTask(0, 0, 1, 5, 3, 0))
    assert rollout.episode_family == ["ball"] * 3 and rollout.episode_scene == [(0, 0)] * 3
    assert rollout.success_by_family() == {"ball": (sum(rollout.episode_success), len(rollout.episode_success))}
    cluttered = play(
        ZoomGraspEnv(ZoomEnvConfig(zoom=ZoomConfig(input_size=32), scenes=SceneSampler(0.0, 2, 3)), seed=1),
        policy,
        SceneTask(0, 1, 2, 7, 1, 0),
    )
    assert set(cluttered.episode_family) == {""} and cluttered.success_by_family() == {}
