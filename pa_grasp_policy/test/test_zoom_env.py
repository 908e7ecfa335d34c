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


def play_grasp(env, command) -> tuple[float, dict]:
    """Play the demonstrated zoom episode of `command` through the env: (reward, info)."""
    from pa_grasp_policy.demonstration import demonstration_steps

    for _, action in demonstration_steps(env.depth, command, env.config.zoom, 0.5):
        _, reward, done, info = env.step(action)
    assert done
    return reward, info


def teacher_grasp(env):
    from pa_grasp_sim.teacher import TeacherConfig, candidate_grasps

    return candidate_grasps(env.depth, env.world, TeacherConfig())[0]  # top-down at the object's top


def test_reward_trials_average_the_grasp_with_perturbed_copies_on_the_same_scene():
    import dataclasses
    import math

    from pa_grasp_sim.grasp import GraspCommand

    balls = SceneSampler(1.0, family_weights={"ball": 1e9})
    exact = ZoomEnvConfig(scenes=balls, reward_trials=4, trial_shift_px=0.0, trial_yaw_deg=0.0)
    env = ZoomGraspEnv(exact, seed=4)
    env.reset()
    command = teacher_grasp(env)
    reward, info = play_grasp(env, command)
    # Exact copies on the restored scene repeat the grasp's outcome: a lift counts 4/4.
    assert info["success"] and reward == 1.0

    env.reset()
    empty = GraspCommand(2.0, 2.0, roll=0.0, pitch=math.pi / 2, yaw=0.0)  # the image corner: table only
    reward, info = play_grasp(env, empty)
    assert not info["success"] and reward == 0.0

    # Copies up to 40 px off: some miss the ball, the grasp's own lift still counts (a fraction below 1).
    far = ZoomGraspEnv(dataclasses.replace(exact, trial_shift_px=40.0), seed=4)
    far.reset()
    reward, info = play_grasp(far, teacher_grasp(far))
    assert info["success"] and reward in (0.25, 0.5, 0.75) and reward * 4 == int(reward * 4)


def test_reward_trials_leave_the_scene_sequence_of_a_seed_unchanged():
    single = SceneSampler(1.0)
    plain = ZoomGraspEnv(ZoomEnvConfig(scenes=single), seed=7)
    tried = ZoomGraspEnv(ZoomEnvConfig(scenes=single, reward_trials=3), seed=7)
    for env in (plain, tried):
        env.reset()
        play_grasp(env, teacher_grasp(env))
        env.reset()
    np.testing.assert_array_equal(plain.depth, tried.depth)
    assert [p.spec.name for p in plain.world.objects] == [p.spec.name for p in tried.world.objects]
