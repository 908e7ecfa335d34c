"""DAgger-style corrections: failed episodes relabelled with a lifting grasp (pure relabelling,
the correction loss and its gradients, real collection in PyBullet, PPO's auxiliary term and
the trainer's flags)."""

import math

import numpy as np
import pytest
import torch

from pa_grasp_policy import train
from pa_grasp_policy.demonstration import (
    command_to_dofs_raw,
    correction_loss,
    correction_steps,
    demonstration_steps,
    quarter_turned,
)
from pa_grasp_policy.distribution import Action
from pa_grasp_policy.network import NetworkConfig
from pa_grasp_policy.policy import ObsBatch, Policy
from pa_grasp_policy.ppo import PPOBatch, PPOConfig, make_optimizer, ppo_update
from pa_grasp_policy.rollout import LabelledSteps, collect
from pa_grasp_policy.zoom import ZoomConfig, ZoomState, view_to_original
from pa_grasp_policy.zoom_env import ZoomEnvConfig, ZoomGraspEnv, action_to_command
from pa_grasp_sim.env import SceneSampler
from pa_grasp_sim.grasp import GraspCommand

S = 32
ZOOM = ZoomConfig(input_size=S, max_zoom_steps=4, min_crop_px=16)


def block_depth(u: int = 60, v: int = 50, size: int = 128) -> np.ndarray:
    depth = np.full((size, size), 0.75, dtype=np.float32)
    depth[v - 6 : v + 7, u - 6 : u + 7] = 0.69
    return depth


def action(row: int, col: int, zoom: float, scale: float = 0.5) -> Action:
    return Action(torch.tensor([row * S + col]), torch.tensor([zoom]), torch.tensor([scale]), torch.zeros(1, 7), S)


def policy_episode(depth, actions) -> list:
    """(observation, applied action) pairs of playing `actions` through the zoom loop."""
    state, episode = ZoomState(depth, ZOOM), []
    for a in actions:
        obs = state.observation()
        state.apply(a)
        episode.append((obs, state.last_action))
    return episode


COMMAND = GraspCommand(62.0, 48.0, roll=0.0, pitch=math.pi / 2 - 0.35, yaw=1.0, spread=math.pi / 4, fingers=(0.3,) * 3)


def test_correction_keeps_the_policys_states_and_zoom_and_labels_the_grasp():
    depth = block_depth()
    # The policy zoomed at the block (view pixel ~ (12, 15)) at scale 0.6, then grasped off it.
    episode = policy_episode(depth, [action(12, 15, 1.0, 0.6), action(2, 2, 0.0)])
    steps = correction_steps(episode, depth, COMMAND, ZOOM)
    assert [o for o, _ in steps] == [o for o, _ in episode]  # the very states it visited
    assert [float(a.zoom[0]) for _, a in steps] == [1.0, 0.0]
    assert float(steps[0][1].scale_raw[0]) == pytest.approx(0.6)  # its own zoom scale
    for obs, label in steps:  # every label points at the command's pixel in that view
        row, col = (int(x) for x in label.rows_cols()[0])
        u, v = view_to_original((row, col), obs.box, S)
        pixel_size = obs.box[2] / S
        assert abs(u - COMMAND.u) <= pixel_size and abs(v - COMMAND.v) <= pixel_size
    assert steps[1][1].dofs_raw[0].tolist() == pytest.approx(command_to_dofs_raw(COMMAND))
    assert steps[0][1].dofs_raw.abs().sum() == 0  # a zoom step keeps its own (unused) DOFs


def test_correction_falls_back_to_the_demonstration_when_the_policy_zoomed_elsewhere():
    depth = block_depth()
    episode = policy_episode(depth, [action(30, 30, 1.0, 0.3), action(5, 5, 0.0)])  # far corner
    steps = correction_steps(episode, depth, COMMAND, ZOOM)
    demo = demonstration_steps(depth, COMMAND, ZOOM, 0.4)
    assert len(steps) == len(demo)
    for (o1, a1), (o2, a2) in zip(steps, demo):
        assert o1.box == o2.box and int(a1.pixel[0]) == int(a2.pixel[0])


def test_correction_loss_trains_position_and_dofs_but_not_the_sigmas():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    depth = block_depth()
    steps = correction_steps(policy_episode(depth, [action(12, 15, 1.0, 0.6), action(2, 2, 0.0)]), depth, COMMAND, ZOOM)
    labels = LabelledSteps.from_steps(steps)
    obs, actions = labels.obs_batch(), labels.actions(S)
    loss = correction_loss(policy, obs, actions)
    loss.backward()
    assert policy.net.log_std.grad is None or float(policy.net.log_std.grad.abs().sum()) == 0.0
    # A few steps on the loss move the deterministic grasp toward the label.
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(40):
        optimizer.zero_grad()
        correction_loss(policy, obs, actions).backward()
        optimizer.step()
    assert float(correction_loss(policy, obs, actions).detach()) < 0.5 * float(loss.detach())
    with torch.no_grad():
        dist, _ = policy.distribution(obs.index(slice(1, 2)))
        mode = dist.mode()
    label_rc = actions.index(slice(1, 2)).rows_cols()[0]
    assert (mode.rows_cols()[0] - label_rc).abs().max() <= 1
    assert mode.grasp_rpy()[0, 1] == pytest.approx(COMMAND.pitch, abs=0.1)


def test_collect_relabels_failed_single_object_episodes_with_lifting_grid_grasps():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))  # untrained: it fails most grasps
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=S), scenes=SceneSampler(1.0, family_weights={"mug": 1e9}))
    env = ZoomGraspEnv(config, seed=3)
    rollout = collect(env, policy, 6, torch.Generator().manual_seed(0), corrections="grid")
    failures = len(rollout.episode_success) - sum(rollout.episode_success)
    assert failures >= 1
    assert rollout.failures_probed == failures  # fresh scenes: one probe per failed episode
    assert 1 <= rollout.failures_corrected <= rollout.failures_probed  # the grid lifts mugs (grasp_probe: 23/24)
    labels = rollout.corrections
    grasps = labels.zoom == 0
    assert grasps.sum() == rollout.failures_corrected  # one grasp label per corrected episode
    pitches = {round(float(p) * math.pi, 3) for p in labels.dofs_raw[grasps, 1]}
    assert pitches <= {round(math.pi / 2, 3), round(math.pi / 2 - 0.35, 3)}  # the grid's two pitches
    plain = collect(ZoomGraspEnv(config, seed=3), policy, 6, torch.Generator().manual_seed(0))
    assert plain.corrections is None and plain.failures_probed == 0
    assert plain.episode_success == rollout.episode_success[: len(plain.episode_success)]


def test_local_corrections_change_the_failed_grasp_a_little_and_respect_the_probe_budget():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=S), scenes=SceneSampler(1.0, family_weights={"box": 1e9}))
    rollout = collect(
        ZoomGraspEnv(config, seed=3), policy, 10, torch.Generator().manual_seed(0), corrections="local", max_probes=2
    )
    failures = len(rollout.episode_success) - sum(rollout.episode_success)
    assert failures > 2 and rollout.failures_probed == 2  # the budget, not every failure
    grasps = rollout.corrections.zoom == 0 if rollout.corrections is not None else np.zeros(0, bool)
    assert grasps.sum() == rollout.failures_corrected
    with pytest.raises(ValueError, match="corrections must be one of"):
        collect(ZoomGraspEnv(config, seed=3), policy, 1, torch.Generator(), corrections="everything")


def test_far_corrections_fall_back_to_other_grasp_kinds_at_the_pixel():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    scenes = SceneSampler(1.0, family_weights={"wide_box": 1e9})
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=S), scenes=scenes)
    far = collect(ZoomGraspEnv(config, seed=3), policy, 10, torch.Generator().manual_seed(0), corrections="local+far")
    local = collect(ZoomGraspEnv(config, seed=3), policy, 10, torch.Generator().manual_seed(0), corrections="local")
    assert far.episode_success == local.episode_success and far.failures_probed == local.failures_probed
    assert far.failures_corrected > local.failures_corrected  # some failures only another kind mends
    grasps = far.corrections.zoom == 0
    pitches = {round(math.degrees(float(p) * math.pi)) for p in far.corrections.dofs_raw[grasps, 1]}
    assert 55 in pitches  # a turned and tilted grasp among the labels


def test_mode_corrections_check_the_deterministic_policy_once_per_new_single_object_scene():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    scenes = SceneSampler(1.0, family_weights={"cylinder": 1e9})
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=S), scenes=scenes, scene_repeats=2)
    rollout = collect(
        ZoomGraspEnv(config, seed=2),
        policy,
        8,
        torch.Generator().manual_seed(0),
        corrections="local+mode",
        max_probes=0,
    )
    new_scenes = len(set(rollout.episode_scene))
    assert len(rollout.episode_success) > new_scenes  # replays are not checked again
    assert rollout.mode_checked == new_scenes and rollout.failures_probed == 0  # outside the sampled budget
    assert 1 <= rollout.mode_corrected <= rollout.mode_failed <= rollout.mode_checked  # untrained: it misses
    assert (rollout.corrections.zoom == 0).sum() == rollout.mode_corrected  # one grasp label per corrected scene
    # The check leaves the collection as it was: the sampled episodes match a run without it.
    plain = collect(ZoomGraspEnv(config, seed=2), policy, 8, torch.Generator().manual_seed(0))
    assert plain.mode_checked == 0 and plain.episode_success == rollout.episode_success[: len(plain.episode_success)]


def test_robust_mode_corrections_skip_a_lucky_lift_of_the_deterministic_grasp():
    """local+mode+robust checks and fails the same deterministic grasps as local+mode, but on
    this scene the first small change that lifts does not survive small errors, so its label is
    a later change."""
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    scenes = SceneSampler(1.0, family_weights={"cylinder": 1e9})
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=S), scenes=scenes, scene_repeats=2)
    runs = {
        mode: collect(
            ZoomGraspEnv(config, seed=10), policy, 8, torch.Generator().manual_seed(0), corrections=mode, max_probes=0
        )
        for mode in ("local+mode", "local+mode+robust")
    }
    first, robust = runs["local+mode"], runs["local+mode+robust"]
    # (seed 10 since the geared hand of 2026-12-07: on seed 7's scenes the deterministic grasps
    # lift; seed 7 since the camera fix of 2026-12-06: seed 3's first lifting change became robust)
    assert (robust.mode_checked, robust.mode_failed) == (first.mode_checked, first.mode_failed) == (2, 1)
    assert robust.mode_corrected == first.mode_corrected == 1
    grasp_labels = [r.corrections.dofs_raw[r.corrections.zoom == 0] for r in (first, robust)]
    assert not torch.allclose(torch.as_tensor(grasp_labels[0]), torch.as_tensor(grasp_labels[1]))


def test_neighbours_are_small_changes_of_the_grasp():
    from pa_grasp_sim.grasp_probe import neighbours

    variants = dict(neighbours(COMMAND, 160, 160))
    assert variants["yaw+20"].yaw == pytest.approx(COMMAND.yaw + math.radians(20))
    assert (variants["u+"].u, variants["u+"].v) == (COMMAND.u + 1.5, COMMAND.v)
    assert variants["spread"].spread == 0.0 and variants["upright"].pitch == pytest.approx(math.pi / 2)
    for name, variant in variants.items():  # exactly one thing changed, and always something
        changed = [f for f in ("u", "v", "yaw", "spread", "pitch") if getattr(variant, f) != getattr(COMMAND, f)]
        assert len(changed) == 1, (name, changed)
    edge = dict(neighbours(GraspCommand(0.0, 159.0), 160, 160))
    assert edge["u-"].u == 0.0 and edge["v+"].v == 159.0  # stays on the image
    assert "upright" not in edge  # already upright


def test_other_kinds_turn_tilt_or_spread_the_grasp_at_its_pixel():
    from pa_grasp_sim.grasp_probe import other_kinds
    from pa_grasp_sim.teacher import wrap_half_turn

    kinds = dict(other_kinds(COMMAND))
    assert list(kinds) == ["turn90-tilt35-spread45", "turn90-tilt35-spread90", "spread90"]
    for kind in kinds.values():
        assert (kind.u, kind.v, kind.fingers) == (COMMAND.u, COMMAND.v, (0.0, 0.0, 0.0))
    turned = kinds["turn90-tilt35-spread45"]
    assert turned.yaw == pytest.approx(wrap_half_turn(COMMAND.yaw + math.pi / 2))
    assert (turned.pitch, turned.spread) == (pytest.approx(math.radians(55)), pytest.approx(math.pi / 4))
    assert kinds["spread90"].pitch == COMMAND.pitch and kinds["spread90"].spread == pytest.approx(math.pi / 2)
    already_spread = GraspCommand(10.0, 10.0, spread=math.radians(85))
    assert "spread90" not in dict(other_kinds(already_spread))  # not a kind of its own


def test_ppo_update_adds_the_auxiliary_loss():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    depth = block_depth()
    obs = ObsBatch.from_observations([ZoomState(depth, ZOOM).observation()] * 4)
    with torch.no_grad():
        acts, logp = policy.act(obs)
    batch = PPOBatch(obs, acts, logp, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    config = PPOConfig(update_epochs=1, minibatch_size=4)
    start = {k: v.clone() for k, v in policy.state_dict().items()}
    results = []
    for aux in (None, lambda: 10.0 * policy.net.log_std.square().sum()):
        policy.load_state_dict(start)
        stats = ppo_update(policy, make_optimizer(policy, config), batch, config, auxiliary=aux)
        results.append((stats, policy.net.log_std.detach().clone()))
    assert "auxiliary_loss" not in results[0][0] and results[1][0]["auxiliary_loss"] > 0
    assert not torch.allclose(results[0][1], results[1][1])


def test_training_with_corrections_runs_and_records_them(tmp_path):
    argv = ["--out", str(tmp_path), "--total-steps", "12", "--workers", "1", "--batch-size", "12"]
    argv += ["--input-size", "32", "--update-epochs", "1", "--eval-every", "100", "--threads", "1"]
    argv += ["--single-probability", "1", "--family-weight", "mug=1e9", "--corrections", "local+mode"]
    cfg, resume, _ = train.parse_args([*argv, "--correction-coef", "0.5", "--correction-turns"])
    assert (cfg.corrections, cfg.correction_coef, cfg.correction_turns) == ("local+mode", 0.5, True)
    counters = train.train(cfg, resume, progress=False)
    assert counters["updates"] == 1 and counters["failures_probed"] >= 1
    assert 0 <= counters["failures_corrected"] <= counters["failures_probed"]
    assert counters["mode_checked"] >= 1 and counters["mode_corrected"] <= counters["mode_failed"]
    # A resumed run keeps corrections on unless told; the flag turns them on for an old run.
    assert "corrections" not in train.parse_args(["--resume", "x.pt"])[2]
    assert train.parse_args(["--resume", "x.pt", "--corrections", "local"])[2]["corrections"] == "local"
    assert "correction_turns" not in train.parse_args(["--resume", "x.pt"])[2]
    assert train.parse_args(["--resume", "x.pt", "--correction-turns"])[2]["correction_turns"] is True


def test_bad_correction_settings_are_rejected(capsys):
    for bad in (["--correction-coef", "-1"], ["--correction-buffer", "0"], ["--correction-probes", "0"]):
        with pytest.raises(SystemExit):
            train.parse_args(bad)
    assert "correction" in capsys.readouterr().err
    # Quarter turns are a symmetry of the top-down camera's image only.
    assert train.main(["--ablation", "camera60", "--correction-turns", "--corrections", "local"]) == 2
    assert "top-down camera" in capsys.readouterr().out


def test_robust_corrections_label_only_grasps_that_survive_small_errors():
    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=S))
    scenes = SceneSampler(1.0, family_weights={"cylinder": 1e9})
    config = ZoomEnvConfig(zoom=ZoomConfig(input_size=S), scenes=scenes)
    runs = {
        mode: collect(ZoomGraspEnv(config, seed=4), policy, 12, torch.Generator().manual_seed(0), corrections=mode)
        for mode in ("local", "local+robust")
    }
    local, robust = runs["local"], runs["local+robust"]
    assert robust.episode_success == local.episode_success and robust.failures_probed == local.failures_probed
    # Some small change lifts 3 of the 4 failed cylinders once; only two of them keep lifting
    # with the pixel 1 px or the yaw 5° off (seed 4 since the geared hand of 2026-12-07).
    assert 0 < robust.failures_corrected < local.failures_corrected


def test_quarter_turns_move_the_label_with_the_view_and_turn_only_the_yaw():
    torch.manual_seed(0)
    n = 8
    obs = ObsBatch(torch.rand(n, 1, S, S), torch.rand(n), torch.rand(n) > 0.5)
    zoom_flags = (torch.rand(n) > 0.5).float()
    labels = Action(torch.randint(S * S, (n,)), zoom_flags, torch.rand(n), torch.rand(n, 7) * 2 - 1, S)
    obs.depth.view(n, -1)[torch.arange(n), labels.pixel] = 2.0  # the labelled pixel is each view's brightest
    turns = torch.arange(n) % 4
    turned_obs, turned = quarter_turned(obs, labels, turns)
    assert torch.equal(turned_obs.depth.view(n, -1).argmax(dim=1), turned.pixel)  # the label moved with its pixel
    for i in range(n):
        assert torch.equal(turned_obs.depth[i, 0], torch.rot90(obs.depth[i, 0], int(turns[i])))
    yaw_turn = torch.remainder(turned.dofs_raw[:, 2] - labels.dofs_raw[:, 2], 2)  # raw yaw x π = rad
    assert torch.allclose(yaw_turn, turns / 2, atol=1e-6) and bool((turned.dofs_raw[:, 2].abs() <= 1).all())
    others = [0, 1, 3, 4, 5, 6]
    assert torch.equal(turned.dofs_raw[:, others], labels.dofs_raw[:, others])
    assert torch.equal(turned.zoom, labels.zoom) and torch.equal(turned.scale_raw, labels.scale_raw)
    assert torch.equal(turned_obs.scale, obs.scale) and torch.equal(turned_obs.must_grasp, obs.must_grasp)
    # Four quarter turns are none.
    back_obs, back = obs, labels
    for _ in range(4):
        back_obs, back = quarter_turned(back_obs, back, torch.ones(n, dtype=torch.long))
    assert torch.equal(back_obs.depth, obs.depth) and torch.equal(back.pixel, labels.pixel)
    assert torch.allclose(back.dofs_raw, labels.dofs_raw, atol=1e-6)
    with pytest.raises(ValueError, match="square"):
        wide = ObsBatch(torch.rand(1, 1, S, S + 1), torch.ones(1), torch.ones(1, dtype=torch.bool))
        quarter_turned(wide, labels.index(slice(0, 1)), torch.ones(1))


def test_a_quarter_turned_label_is_the_grasp_turned_with_the_scene():
    """In a real PyBullet scene turned about the camera axis, the turned label's grasp is the
    original grasp turned the same way (palm pose), and it lifts the object like the original."""
    from scipy.spatial.transform import Rotation

    from pa_grasp_sim.baselines import object_tops
    from pa_grasp_sim.objects import ObjectSet, ObjectSpec
    from pa_grasp_sim.world import GraspWorld, WorldConfig

    box = ObjectSpec("box", "primitive", mass=0.2, parts=(("box", (0.025, 0.06, 0.03), (0, 0, 0), (0, 0, 0, 1)),))
    with GraspWorld(WorldConfig(), ObjectSet("one", [box]), seed=0) as world:
        world.reset(1, seed=13)
        depth = world.render_depth()
        snapshot = world.snapshot()
        side = depth.shape[0]
        zoom = ZoomConfig(input_size=side, max_zoom_steps=0)  # one view: the whole image, unresampled
        top = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)[0]
        assert abs(top.u - (side - 1) / 2) > 10 and abs(top.v - (side - 1) / 2) > 10  # off the camera axis
        # Across the box's narrow side, tilted 15° (roll and pitch must survive the turn).
        command = GraspCommand(top.u, top.v, 0.0, math.radians(75), top.yaw, 0.0, (0.0, 0.0, 0.0))
        [(obs, label)] = demonstration_steps(depth, command, zoom, 0.4)
        outcome = world.execute(command, depth)
        assert outcome.success
        for k in (1, 3):
            turned_obs, turned = quarter_turned(ObsBatch.from_observations([obs]), label, torch.tensor([k]))
            world.restore(snapshot.turned(k))
            turned_depth = world.render_depth()
            [(seen, _)] = demonstration_steps(turned_depth, command, zoom, 0.4)
            # The turned view is what the camera sees of the turned scene, but for a few pixels on
            # the box's edges (turned the wrong way, ~5% of the image would differ).
            assert np.mean(np.abs(turned_obs.depth[0, 0].numpy() - seen.depth[0]) > 0.05) < 0.01  # 5 mm
            row, col = (int(x) for x in turned.rows_cols()[0])
            turned_command = action_to_command(turned, view_to_original((row, col), obs.box, side))
            turned_outcome = world.execute(turned_command, turned_depth)
            assert turned_outcome.success, k
            turn = Rotation.from_euler("z", 90 * k, degrees=True).as_matrix()
            assert np.allclose(turned_outcome.T_world_palm[:3, :3], turn @ outcome.T_world_palm[:3, :3], atol=0.02)
            assert np.linalg.norm(turned_outcome.T_world_palm[:3, 3] - turn @ outcome.T_world_palm[:3, 3]) < 0.004
