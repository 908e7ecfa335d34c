"""Imitation warm start: demonstrated zoom episodes, a real (tiny) fit through the CLI, and PPO
starting from its weights."""

import math

import numpy as np
import pytest
import torch

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_policy.model.checkpoint import load_checkpoint
from pa_grasp_policy.model.zoom import ZoomConfig, ZoomState
from pa_grasp_policy.training import imitation, train


def raised_square_depth(u: int, v: int, size: int = 160, half: int = 6) -> np.ndarray:
    """A table 0.75 m away with a 6 cm tall square block centred on pixel (u, v)."""
    depth = np.full((size, size), 0.75, dtype=np.float32)
    depth[v - half : v + half + 1, u - half : u + half + 1] = 0.69
    return depth


def command_at(u: float, v: float, yaw: float = 0.3, pitch: float = math.pi / 2) -> GraspCommand:
    return GraspCommand(u, v, roll=0.0, pitch=pitch, yaw=yaw, spread=0.0, fingers=(0.0, 0.0, 0.0))


@pytest.mark.parametrize("uv", [(80.0, 80.0), (10.0, 150.0), (159.0, 0.0)])
def test_demonstrated_episode_zooms_once_then_grasps_at_the_demonstrated_pixel(uv):
    zoom = ZoomConfig(input_size=64, max_zoom_steps=4, min_crop_px=16)
    depth = raised_square_depth(80, 80)
    command = command_at(*uv)
    steps = imitation.demonstration_steps(depth, command, zoom, (0.4,))
    assert [float(a.zoom[0]) for _, a in steps] == [1.0, 0.0]
    # Replaying the demonstrated actions through the zoom loop lands on the demonstrated pixel.
    state = ZoomState(depth, zoom)
    for _, action in steps:
        state.apply(action)
    view_pixel = 160 * 0.4 / 64  # original pixels per view pixel after the zoom
    assert abs(state.grasp_uv[0] - uv[0]) <= view_pixel and abs(state.grasp_uv[1] - uv[1]) <= view_pixel
    grasp = steps[-1][1]
    rpy, joints = grasp.grasp_rpy()[0], grasp.hand_joints()[0]
    assert torch.allclose(rpy, torch.tensor([0.0, math.pi / 2, 0.3]), atol=1e-6)
    assert torch.allclose(joints, torch.zeros(4))
    assert steps[1][0].scale == pytest.approx(0.4)


def test_no_attention_demonstration_is_one_grasp_on_the_full_view():
    zoom = ZoomConfig(input_size=64, max_zoom_steps=0)
    steps = imitation.demonstration_steps(raised_square_depth(40, 90), command_at(40, 90), zoom, (0.4, 0.5))
    assert len(steps) == 1 and steps[0][0].must_grasp and float(steps[0][1].zoom[0]) == 0.0


@pytest.mark.parametrize("scales", [(), (0.5,), (0.5, 0.5), (0.6, 0.6, 0.6)])
def test_demonstrated_zoom_follows_the_teacher_steps_onto_the_grasp_pixel(scales):
    zoom = ZoomConfig(input_size=64, max_zoom_steps=4, min_crop_px=16)
    depth, command = raised_square_depth(50, 110), command_at(50, 110)
    steps = imitation.demonstration_steps(depth, command, zoom, scales)
    assert [float(a.zoom[0]) for _, a in steps] == [1.0] * len(scales) + [0.0]
    state = ZoomState(depth, zoom)
    for _, action in steps:
        state.apply(action)
    assert state.scale == pytest.approx(math.prod(scales), rel=1e-5)
    view_pixel = 160 * math.prod(scales) / 64
    assert abs(state.grasp_uv[0] - 50) <= view_pixel and abs(state.grasp_uv[1] - 110) <= view_pixel


def test_dihedral_keeps_a_tilted_approach_direction():
    """A quarter turn of the image turns the approach's horizontal direction by a quarter turn;
    a label wrapped to the canonical yaw range carries pitch -> pi - pitch with it."""

    def approach(c):
        return np.array([math.cos(c.pitch) * math.cos(c.yaw), math.cos(c.pitch) * math.sin(c.yaw), -math.sin(c.pitch)])

    depth = raised_square_depth(80, 80)
    command = command_at(80, 80, yaw=1.3, pitch=math.pi / 2 - 0.5)
    for k in range(4):
        _, label = imitation.dihedral(depth, command, k)
        expected = command_at(80, 80, yaw=1.3 + k * math.pi / 2, pitch=command.pitch)
        assert -math.pi / 2 <= label.yaw < math.pi / 2
        assert np.allclose(approach(label), approach(expected), atol=1e-9), k


@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory):
    """A real fit through the CLI on a saved demonstration file: blocks at random places."""
    out = tmp_path_factory.mktemp("imitate")
    rng = np.random.default_rng(0)
    depths, commands = [], []
    for _ in range(24):
        u, v = (int(x) for x in rng.integers(20, 140, size=2))
        depths.append(raised_square_depth(u, v))
        commands.append([u, v, 0.0, math.pi / 2, float(rng.uniform(-1, 1)), 0.0, 0.0, 0.0, 0.0])
    demos = out / "demos.npz"
    np.savez(
        demos,
        depth=np.stack(depths).astype(np.float16),
        command=np.array(commands, dtype=np.float32),
        object_count=np.ones(24, dtype=np.int32),
    )
    argv = ["--out", str(out), "--demos-file", str(demos), "--input-size", "64", "--epochs", "10"]
    argv += ["--batch-size", "16", "--lr", "3e-3", "--threads", "1", "--seed", "1", "--no-augment"]
    assert imitation.main(argv) == 0
    return out


def test_fit_writes_a_checkpoint_with_its_record_and_frozen_sigmas(tiny_fit):
    policy, payload = load_checkpoint(tiny_fit / "latest.pt")
    assert payload["counters"]["imitation_demos"] == 24
    assert payload["counters"]["imitation_epochs"] == 10
    assert payload["config"]["imitation"]["input_size"] == 64
    fresh = train.Policy(train.NetworkConfig(input_size=64, init_std=train.TrainConfig().init_std))
    assert torch.equal(policy.net.log_std, fresh.net.log_std), "imitation must leave PPO's σ alone"


def test_fit_raises_the_log_probability_of_the_demonstrations(tiny_fit):
    policy, payload = load_checkpoint(tiny_fit / "latest.pt")
    cfg = imitation.ImitationConfig(input_size=64)
    zoom = cfg.train_config().env_config().zoom
    data = imitation.load_demos(tiny_fit / "demos.npz")
    zooms = imitation.demo_zooms(data, 0.4)  # a file without the teacher's zooms: one zoom of 0.4
    obs, actions = imitation.steps_dataset(data["depth"], imitation.commands_from(data), zooms, zoom)
    torch.manual_seed(1)
    fresh = train.Policy(train.NetworkConfig(input_size=64, init_std=train.TrainConfig().init_std))
    with torch.no_grad():
        before = fresh.evaluate(obs, actions)[0].mean()
        after = policy.evaluate(obs, actions)[0].mean()
    assert after > before + 1.0, (float(before), float(after))


def test_bad_demonstration_file_gives_a_clear_error(tmp_path, capsys):
    assert imitation.main(["--out", str(tmp_path), "--demos-file", str(tmp_path / "missing.npz")]) == 2
    assert "demonstration file not found" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, something=np.zeros(3))
    assert imitation.main(["--out", str(tmp_path), "--demos-file", str(wrong)]) == 2
    assert "not a demonstration file" in capsys.readouterr().err


def test_ppo_starts_from_the_imitation_weights(tiny_fit, tmp_path):
    out = tmp_path / "ppo"
    argv = ["--init", str(tiny_fit / "latest.pt"), "--out", str(out), "--total-steps", "40", "--workers", "1"]
    # The fit was at input 64; PPO runs at 48 on the same (re-sized, fully convolutional) weights.
    argv += ["--batch-size", "40", "--minibatch-size", "20", "--update-epochs", "1", "--input-size", "48"]
    argv += ["--eval-every", "100", "--threads", "1", "--init-std", "0.05", "--init-std-rpy", "0.02"]
    assert train.main(argv) == 0
    policy, payload = load_checkpoint(out / "latest.pt")
    assert payload["counters"]["updates"] == 1
    # The σ's were reset to the asked values (one update at lr 1e-4 moves them by well under 1%).
    expected = torch.tensor([0.05, 0.02, 0.02, 0.02, 0.05, 0.05, 0.05, 0.05])
    assert torch.allclose(policy.net.log_std.exp(), expected, rtol=0.01), policy.net.log_std.exp()
    assert payload["network_config"]["input_size"] == 48 and policy.config.input_size == 48
    assert payload["counters"]["imitation_demos"] == 24  # the warm start stays on the record
    assert payload["config"]["train"]["init"] == str(tiny_fit / "latest.pt")


def test_init_errors_are_clear(tmp_path, capsys):
    assert train.main(["--init", str(tmp_path / "nope.pt"), "--out", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        train.parse_args(["--init", "a.pt", "--resume", "b.pt"])
    with pytest.raises(SystemExit):
        train.parse_args(["--init", "a.pt", "--init-std", "0"])
    with pytest.raises(SystemExit):
        train.parse_args(["--single-probability", "1.5"])
    assert "--single-probability must be in [0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.parse_args(["--baseline", "scene"])
    assert "--scene-repeats 2 or more" in capsys.readouterr().err
    assert not (tmp_path / "latest.pt").exists()


def test_init_keeps_the_checkpoint_sigmas_unless_asked():
    assert not train.parse_args(["--init", "a.pt"])[0].init_reset_std
    assert train.parse_args(["--init", "a.pt", "--init-std-rpy", "0.03"])[0].init_reset_std
    fresh, _, _ = train.parse_args(["--init-std", "0.1"])  # a fresh network just starts there
    assert not fresh.init_reset_std and fresh.init_std == 0.1


def test_dihedral_augmentation_matches_the_turned_and_mirrored_scene():
    """The augmented label is what the heuristic reads off the augmented render: same top pixel
    (up to its 1-px snapping) and the same grip axis."""
    from pa_grasp_sim.baselines import object_tops
    from pa_grasp_sim.world import GraspWorld

    with GraspWorld(None, "seen", seed=3) as world:
        intr, T = world.camera.intrinsics, world.camera.T_world_camera
        checked = 0
        for seed in range(6):
            world.reset(1, seed=seed)
            depth = world.render_depth()
            top = object_tops(depth, intr, T)[0]
            if top.elongation < 1.3:  # round tops have no well-defined axis
                continue
            command = command_at(top.u, top.v, yaw=top.yaw)
            for k in range(8):
                image, label = imitation.dihedral(depth, command, k)
                seen = object_tops(image, intr, T)[0]
                assert abs(seen.u - label.u) <= 3 and abs(seen.v - label.v) <= 3, (k, seen, label)
                axis_error = (seen.yaw - label.yaw + math.pi / 2) % math.pi - math.pi / 2
                assert abs(axis_error) < math.radians(3), (k, math.degrees(axis_error))
                assert -math.pi / 2 <= label.yaw < math.pi / 2
            checked += 1
    assert checked >= 2


def test_imitation_loss_treats_half_turned_yaws_as_the_same_grasp():
    torch.manual_seed(0)
    policy = train.Policy(train.NetworkConfig(input_size=64))
    zoom = ZoomConfig(input_size=64)
    depth = raised_square_depth(60, 70)
    tilted = dict(pitch=math.pi / 2 - 0.5, yaw=1.2)
    half_turned = dict(pitch=math.pi / 2 + 0.5, yaw=1.2 - math.pi)  # the same approach direction
    obs, actions = imitation.steps_dataset([depth], [command_at(60, 70, **tilted)], [(0.4,)], zoom)
    turned = imitation.steps_dataset([depth], [command_at(60, 70, **half_turned)], [(0.4,)], zoom)[1]
    other = imitation.steps_dataset([depth], [command_at(60, 70, pitch=math.pi / 2 + 0.5, yaw=1.2)], [(0.4,)], zoom)[1]
    with torch.no_grad():
        same = imitation.imitation_loss(policy, obs, actions), imitation.imitation_loss(policy, obs, turned)
        different = imitation.imitation_loss(policy, obs, other)
    assert torch.isclose(same[0], same[1], atol=1e-4)
    assert not torch.isclose(same[0], different, atol=1e-2)


def test_fit_continues_from_weights_of_another_input_size(tiny_fit, tmp_path):
    out = tmp_path / "refit"
    argv = ["--out", str(out), "--demos-file", str(tiny_fit / "demos.npz"), "--init", str(tiny_fit / "latest.pt")]
    argv += ["--input-size", "32", "--epochs", "1", "--batch-size", "16", "--threads", "1", "--no-augment"]
    assert imitation.main(argv) == 0
    policy, payload = load_checkpoint(out / "latest.pt")
    start, _ = load_checkpoint(tiny_fit / "latest.pt")
    assert policy.config.input_size == 32 and payload["config"]["imitation"]["input_size"] == 32
    moved = (policy.net.stem.weight - start.net.stem.weight).norm()
    fresh = train.Policy(train.NetworkConfig(input_size=32))
    assert 0 < moved < 0.1 * (fresh.net.stem.weight - start.net.stem.weight).norm()  # fitted on from those weights
