"""The zoom MDP's scene schedule in a real PyBullet world: with scene_repeats every scene is
played that many times in a row under one scene id (the scene baseline's groups), and the
paper's fresh-scene schedule stays the default."""

import numpy as np

from pa_grasp_policy.rollout import evaluation_env_config
from pa_grasp_policy.zoom_env import ZoomEnvConfig, ZoomGraspEnv
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


def test_family_weights_shape_training_scenes_but_not_the_held_out_evaluation():
    weighted = ZoomEnvConfig(scenes=SceneSampler(1.0, family_weights={"mug": 1e9}))
    env = ZoomGraspEnv(weighted, seed=2)
    for _ in range(2):
        env.reset()
        assert [p.spec.family for p in env.world.objects] == ["mug"]
    held_out = evaluation_env_config(weighted)
    assert held_out.scenes.family_weights == {} and held_out.scene_repeats == 1
    assert weighted.scenes.family_weights == {"mug": 1e9}  # the training config is left as it was
    eval_env = ZoomGraspEnv(held_out, seed=2, world=env.world)
    families = set()
    for _ in range(6):
        eval_env.reset(1)
        families |= {p.spec.family for p in eval_env.world.objects}
    assert families != {"mug"}


def test_collected_episodes_carry_their_family_for_per_family_success():
    import torch

    from pa_grasp_policy.network import NetworkConfig
    from pa_grasp_policy.policy import Policy
    from pa_grasp_policy.rollout import collect
    from pa_grasp_policy.zoom import ZoomConfig

    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=32))
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=32), scenes=SceneSampler(1.0, family_weights={"ball": 1e9}))
    rollout = collect(ZoomGraspEnv(config, seed=1), policy, 3, torch.Generator().manual_seed(0))
    assert rollout.episode_family == ["ball"] * len(rollout.episode_success)
    assert rollout.success_by_family() == {"ball": (sum(rollout.episode_success), len(rollout.episode_success))}
    cluttered = collect(
        ZoomGraspEnv(ZoomEnvConfig(zoom=ZoomConfig(input_size=32), scenes=SceneSampler(0.0, 2, 3)), seed=1),
        policy,
        1,
        torch.Generator(),
    )
    assert set(cluttered.episode_family) == {""} and cluttered.success_by_family() == {}
