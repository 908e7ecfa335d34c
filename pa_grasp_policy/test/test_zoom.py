"""Algorithm 1: crops, coordinate mapping, termination, and consistency with the policy."""

import math

import cv2
import numpy as np
import pytest
import torch

from pa_grasp_policy.model.distribution import Action, DofConstraints
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.model.zoom import (
    Observation,
    ZoomConfig,
    ZoomState,
    crop_and_resize,
    original_to_view,
    run_zoom_loop,
    view_to_original,
)


def make_action(row, col, zoom, scale_raw=0.5, size=32, dofs=None):
    return Action(
        torch.tensor([row * size + col]),
        torch.tensor([float(zoom)]),
        torch.tensor([float(scale_raw)]),
        torch.zeros(1, 7) if dofs is None else torch.tensor([dofs]),
        size,
    )


def spot_depth(h=480, w=640, spot_uv=(500, 100), table=1.0):
    """Table at 1 m with a 7x7 object 10 cm high centred on spot_uv (a few NaNs elsewhere)."""
    d = np.full((h, w), table, dtype=np.float32)
    u, v = spot_uv
    d[v - 3 : v + 4, u - 3 : u + 4] = table - 0.1
    d[v, u] = table - 0.12  # its highest point
    d[10:14, 20:30] = np.nan
    return d


def test_crop_and_resize_geometry_on_a_ramp():
    h, w = 60, 80
    uu, vv = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    ramp = 1.0 + 0.01 * uu + 0.001 * vv  # linear in the pixel-centre coordinates
    for box, S in [((10.0, 5.0, 40.0, 30.0), 16), ((0.0, 0.0, 80.0, 60.0), 16), ((20.5, 7.25, 12.0, 9.0), 32)]:
        out = crop_and_resize(ramp, box, S)
        rows, cols = np.meshgrid(np.arange(S), np.arange(S), indexing="ij")
        u, v = view_to_original((rows, cols), box, S)
        np.testing.assert_allclose(out, 1.0 + 0.01 * u + 0.001 * v, atol=2e-4)  # cv2: 1/32 px precision


def test_crop_and_resize_identity_and_nan_handling():
    d = np.random.default_rng(0).uniform(0.5, 1.5, (32, 32)).astype(np.float32)
    np.testing.assert_allclose(crop_and_resize(d, (0, 0, 32, 32), 32), d, atol=1e-4)
    hole = np.full((100, 100), 0.8, dtype=np.float32)
    hole[40:60, 40:60] = np.nan
    hole[0:5, :] = 0.0  # zero = invalid too
    out = crop_and_resize(hole, (0, 0, 100, 100), 32)
    finite = out[np.isfinite(out)]
    np.testing.assert_allclose(finite, 0.8, atol=1e-5)  # invalid values never leak in
    assert np.isnan(out[16, 16]) and np.isnan(out[0, 16]) and np.isfinite(out[25, 25])
    with pytest.raises(ValueError):
        crop_and_resize(hole, (0, 0, 0, 10), 32)


def test_view_original_round_trip():
    box = (12.5, 40.0, 200.0, 150.0)
    for rc in [(0, 0), (31, 31), (7, 20)]:
        uv = view_to_original(rc, box, 32)
        np.testing.assert_allclose(original_to_view(uv, box, 32), rc, atol=1e-9)
    assert view_to_original((0, 0), (0, 0, 64, 64), 32) == (0.5, 0.5)  # 2x2 block centre


def test_scripted_zoom_finds_the_spot_and_maps_back():
    """act = 'zoom at the highest pixel of the view, by 0.5, twice; then grasp there'."""
    depth = spot_depth()
    cfg = ZoomConfig(input_size=32, max_zoom_steps=4, min_crop_px=24, min_scale=0.25)
    chosen = []

    def act(obs: Observation):
        assert obs.depth.shape == (1, 32, 32) and obs.depth.dtype == np.float32
        r, c = np.unravel_index(np.argmax(obs.depth[0]), obs.depth[0].shape)
        chosen.append((int(r), int(c)))
        return make_action(r, c, zoom=obs.step < 2, scale_raw=0.5), {"log_prob": -1.0}

    res = run_zoom_loop(depth, act, cfg)
    assert len(res.steps) == 3 and res.n_zooms == 2
    assert [s.observation.scale for s in res.steps] == [1.0, 0.5, 0.25]
    assert res.scale == 0.25
    # boxes by hand: centred on the chosen view pixel's centre, shifted inside the image
    expected = [(0.0, 0.0, 640.0, 480.0)]
    for r, c in chosen[:2]:
        x0, y0, w, h = expected[-1]
        cx, cy = x0 + (c + 0.5) * w / 32, y0 + (r + 0.5) * h / 32
        nw, nh = w / 2, h / 2
        expected.append((min(max(cx - nw / 2, 0), 640 - nw), min(max(cy - nh / 2, 0), 480 - nh), nw, nh))
    np.testing.assert_allclose(np.array(res.boxes), np.array(expected))
    assert res.boxes[1][1] == 0.0  # the first zoom box was shifted to stay inside the image
    # final pixel: at the grasp view's resolution (160/32 = 5 px) the spot is found
    u, v = res.grasp_uv
    assert abs(u - 500) <= 2.5 and abs(v - 100) <= 2.5
    assert (u, v) == view_to_original(chosen[-1], res.boxes[-1], 32)
    assert res.steps[-1].action.zoom.item() == 0.0 and res.steps[0].log_prob == -1.0


def test_border_clamping_and_non_square_image():
    depth = np.full((90, 200), 1.0, dtype=np.float32)
    state = ZoomState(depth, ZoomConfig(input_size=32))
    assert not state.apply(make_action(31, 31, zoom=1, scale_raw=0.3))  # bottom-right corner
    x0, y0, w, h = state.box
    assert (w, h) == pytest.approx((60.0, 27.0))  # aspect ratio kept
    assert x0 + w == pytest.approx(200.0) and y0 + h == pytest.approx(90.0)
    assert state.scale == pytest.approx(0.3) and state.scale == pytest.approx(w / 200)
    obs = state.observation()
    assert obs.box == state.box and obs.step == 1 and obs.depth.shape == (1, 32, 32)
    assert state.apply(make_action(0, 0, zoom=0))
    u, v = state.grasp_uv
    assert u == pytest.approx(x0 + 0.5 * 60 / 32 - 0.5) and v == pytest.approx(y0 + 0.5 * 27 / 32 - 0.5)
    with pytest.raises(RuntimeError):
        state.observation()


def test_always_zoom_stops_at_max_steps():
    depth = np.full((480, 640), 1.0, dtype=np.float32)
    cfg = ZoomConfig(input_size=32, max_zoom_steps=3, min_crop_px=4)
    res = run_zoom_loop(depth, lambda obs: (make_action(16, 16, zoom=1, scale_raw=0.9), {}), cfg)
    assert len(res.steps) == 4 and res.n_zooms == 3
    assert [s.observation.must_grasp for s in res.steps] == [False, False, False, True]
    assert res.steps[-1].action.zoom.item() == 0.0  # the forced grasp is recorded as a grasp
    assert res.steps[-1].log_prob is None


def test_always_zoom_stops_at_min_crop():
    depth = np.full((100, 100), 1.0, dtype=np.float32)
    cfg = ZoomConfig(input_size=32, max_zoom_steps=10, min_crop_px=24, min_scale=0.25)
    res = run_zoom_loop(depth, lambda obs: (make_action(5, 9, zoom=1, scale_raw=-3.0), {}), cfg)
    sides = [b[2] for b in res.boxes]
    assert sides == pytest.approx([100.0, 25.0, 24.0])  # 0.25 per step, then clipped to min_crop_px
    assert res.steps[-1].observation.must_grasp and len(res.steps) == 3


def test_random_act_always_terminates_inside_the_image():
    rng = np.random.default_rng(1)
    for trial in range(30):
        h, w = int(rng.integers(20, 300)), int(rng.integers(20, 300))
        depth = rng.uniform(0.5, 1.5, (h, w)).astype(np.float32)
        depth[rng.random((h, w)) < 0.2] = np.nan
        cfg = ZoomConfig(
            input_size=32,
            max_zoom_steps=int(rng.integers(0, 6)),
            min_crop_px=float(rng.uniform(1, 30)),
            min_scale=float(rng.uniform(0.05, 1)),
        )

        def act(obs, rng=rng):
            r, c = rng.integers(0, 32, 2)
            return make_action(r, c, zoom=1, scale_raw=rng.uniform(-0.5, 1.5)), {}

        res = run_zoom_loop(depth, act, cfg)
        assert len(res.steps) <= cfg.max_zoom_steps + 1, trial
        for x0, y0, bw, bh in res.boxes:
            assert x0 >= -1e-9 and y0 >= -1e-9 and x0 + bw <= w + 1e-6 and y0 + bh <= h + 1e-6
            assert min(bw, bh) >= min(cfg.min_crop_px, h, w) - 1e-6
        for s, box in zip(res.steps, res.boxes):
            assert s.observation.scale == pytest.approx(box[2] / w)
            assert np.isfinite(s.observation.depth).all()
        u, v = res.grasp_uv
        assert -0.5 <= u <= w - 0.5 and -0.5 <= v <= h - 0.5


def test_apply_validates_actions():
    state = ZoomState(np.ones((50, 50), np.float32), ZoomConfig(input_size=32))
    with pytest.raises(ValueError):
        state.apply(make_action(0, 0, 1, size=16))
    with pytest.raises(ValueError):
        state.apply(Action.cat([make_action(0, 0, 1), make_action(0, 0, 1)]))
    with pytest.raises(ValueError):
        ZoomConfig(min_scale=0)
    assert ZoomConfig(max_zoom_steps=4).constrained(DofConstraints.ablation("no_attention")).max_zoom_steps == 0
    assert ZoomConfig(max_zoom_steps=4).constrained(DofConstraints()).max_zoom_steps == 4


def test_policy_actor_in_the_loop_is_consistent_with_evaluate():
    depth = np.full((120, 160), 1.0, dtype=np.float32)
    depth[40:70, 60:90] = 0.9
    depth[5:8, 5:8] = np.nan
    policy = Policy(NetworkConfig(input_size=32), DofConstraints(fixed={"pitch": math.pi / 2}))
    cfg = ZoomConfig(input_size=32, max_zoom_steps=3)
    gen = torch.Generator().manual_seed(3)
    records = []
    for _ in range(6):
        res = run_zoom_loop(depth, policy.actor(generator=gen), cfg)
        assert 1 <= len(res.steps) <= 4
        assert res.grasp_rpy[1] == pytest.approx(math.pi / 2)
        assert -math.pi <= res.grasp_rpy[0] <= math.pi and -math.pi <= res.grasp_rpy[2] <= math.pi
        assert all(0 <= j <= s for j, s in zip(res.hand_joints, (math.pi / 2, 0.61, 0.61, 0.61)))
        records += res.steps
    assert any(r.action.zoom.item() == 1 for r in records)
    obs = ObsBatch.from_observations([r.observation for r in records])
    actions = Action.cat([r.action for r in records])
    with torch.no_grad():
        lp, ent = policy.evaluate(obs, actions)
    torch.testing.assert_close(lp, torch.tensor([r.log_prob for r in records]), rtol=1e-4, atol=1e-4)
    assert torch.isfinite(ent).all()
    # deterministic actor: same result twice
    r1 = run_zoom_loop(depth, policy.actor(deterministic=True), cfg)
    r2 = run_zoom_loop(depth, policy.actor(deterministic=True), cfg)
    assert r1.grasp_uv == r2.grasp_uv and r1.boxes == r2.boxes


def test_crop_downsampling_uses_area_averaging():
    d = np.zeros((64, 64), np.float32) + 1.0
    d[::2, ::2] = 2.0  # high-frequency checker: area averaging gives the mean everywhere
    out = crop_and_resize(d, (0, 0, 64, 64), 16)
    np.testing.assert_allclose(out, 1.25, atol=1e-5)
    ref = cv2.resize(d, (16, 16), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_the_smallest_box_keeps_its_share_of_the_view_on_another_camera_size():
    config = ZoomConfig(input_size=32, max_zoom_steps=10, min_crop_px=16.0)
    assert config.for_image((320, 320), 160).min_crop_px == 32.0
    assert config.for_image((80, 96), 160).min_crop_px == 8.0  # the shorter side counts
    assert config.for_image((160, 160, 1), 160) == config
    assert ZoomConfig(min_crop_px=2.0).for_image((10, 10), 160).min_crop_px == 1.0  # never below a pixel
    with pytest.raises(ValueError, match="trained_side_px"):
        config.for_image((160, 160), 0)
    # On the finer image the loop zooms as far into the table as on the trained one.
    depth = np.full((320, 320), 0.75, dtype=np.float32)
    always_zoom_smallest = lambda obs: (make_action(16, 16, zoom=1, scale_raw=-3.0), {})  # noqa: E731
    result = run_zoom_loop(depth, always_zoom_smallest, config.for_image(depth.shape, 160))
    assert min(result.boxes[-1][2:]) == pytest.approx(32.0)  # 16 px of the 160-px camera's view
