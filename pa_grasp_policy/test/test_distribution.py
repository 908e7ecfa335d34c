"""The action distribution against hand computations of paper eq. 3-7 and eq. 9."""

import math

import pytest
import torch

from pa_grasp_policy.model.distribution import (
    DOF_SCALES,
    Action,
    DofConstraints,
    PixelActionDistribution,
)

H = W = 4
LOG_2PI_2 = 0.5 * math.log(2 * math.pi)


def sig(x):
    return 1 / (1 + math.exp(-x))


def normal_lp(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s) - LOG_2PI_2


def gauss_h(s):
    return 0.5 + LOG_2PI_2 + math.log(s)


def make_maps(batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 10, H, W, generator=g, dtype=torch.float64)


LOG_STD = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15, 0.2, 0.22, 0.3], dtype=torch.float64))


def hand_terms(maps, b, pixel):
    """log p(pos), zoom logit, scale mean and the 7 dof means at a pixel, in plain Python."""
    logits = [float(v) for v in maps[b, 0].flatten()]
    lse = math.log(sum(math.exp(v) for v in logits))
    r, c = divmod(pixel, W)
    v = [float(maps[b, k, r, c]) for k in range(1, 10)]
    means = [math.tanh(v[2]), sig(v[3]), math.tanh(v[4])] + [sig(x) for x in v[5:9]]
    return logits[pixel] - lse, v[0], sig(v[1]), means


def test_log_prob_matches_eq9_by_hand():
    maps = make_maps()
    std = [math.exp(float(x)) for x in LOG_STD]
    must_grasp = torch.tensor([False, False, True])
    pixel = torch.tensor([5, 15, 0])
    zoom = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    scale_raw = torch.tensor([0.4, 0.9, 0.1], dtype=torch.float64)
    dofs = torch.tensor(
        [
            [0.1, 0.5, -0.2, 0.3, 0.4, 0.5, 0.6],
            [-0.3, 0.6, 0.9, 0.1, 0.2, 0.7, 0.3],
            [0.0, 0.4, 0.2, 0.5, 0.5, 0.5, 0.5],
        ],
        dtype=torch.float64,
    )
    action = Action(pixel, zoom, scale_raw, dofs, W)
    dist = PixelActionDistribution.from_maps(maps, LOG_STD, must_grasp)
    got = dist.log_prob(action)

    expected = []
    for b in range(3):
        lp_pos, zl, scale_mean, means = hand_terms(maps, b, int(pixel[b]))
        p_taken = sig(zl) if zoom[b] == 1 else 1 - sig(zl)
        lp_flag = 0.0 if bool(must_grasp[b]) else math.log(p_taken)  # must_grasp: flag contributes 0
        if zoom[b] == 1:  # zoom step: position + flag + scale
            rest = normal_lp(float(scale_raw[b]), scale_mean, std[0])
        else:  # grasp step: position + flag + all 7 dofs
            rest = sum(normal_lp(float(dofs[b, i]), means[i], std[1 + i]) for i in range(7))
        expected.append(lp_pos + lp_flag + rest)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


def test_log_prob_with_fixed_dofs():
    maps = make_maps(batch=1, seed=3)
    std = [math.exp(float(x)) for x in LOG_STD]
    cons = DofConstraints(fixed={"pitch": math.pi / 2, "spread": 0.0})
    dist = PixelActionDistribution.from_maps(maps, LOG_STD, None, cons)
    action = dist.sample(torch.Generator().manual_seed(1))
    action = action.with_zoom(0.0)  # evaluate it as a grasp step
    assert float(action.dofs_raw[0, 1]) == pytest.approx(0.5)  # pitch raw = (π/2) / π
    assert float(action.dofs_raw[0, 3]) == 0.0
    assert float(action.grasp_rpy()[0, 1]) == pytest.approx(math.pi / 2)
    assert float(action.hand_joints()[0, 0]) == 0.0

    lp_pos, zl, _, means = hand_terms(maps, 0, int(action.pixel[0]))
    free = [0, 2, 4, 5, 6]
    expected = lp_pos + math.log(1 - sig(zl))
    expected += sum(normal_lp(float(action.dofs_raw[0, i]), means[i], std[1 + i]) for i in free)
    assert float(dist.log_prob(action)[0]) == pytest.approx(expected, rel=1e-9)

    mode = dist.mode()
    assert float(mode.grasp_rpy()[0, 1]) == pytest.approx(math.pi / 2)
    assert float(mode.hand_joints()[0, 0]) == 0.0


def test_entropy_by_hand():
    maps = make_maps(batch=2, seed=5)
    std = [math.exp(float(x)) for x in LOG_STD]
    must_grasp = torch.tensor([False, True])
    cons = DofConstraints(fixed={"yaw": 0.0})
    dist = PixelActionDistribution.from_maps(maps, LOG_STD, must_grasp, cons)
    action = Action(torch.tensor([6, 9]), torch.zeros(2), torch.zeros(2), torch.zeros(2, 7), W)
    got = dist.entropy(action)
    for b in range(2):
        probs = torch.softmax(maps[b, 0].flatten(), 0).tolist()
        h_pos = -sum(p * math.log(p) for p in probs)
        _, zl, _, _ = hand_terms(maps, b, int(action.pixel[b]))
        q = 0.0 if must_grasp[b] else sig(zl)
        h_flag = 0.0 if must_grasp[b] else -(q * math.log(q) + (1 - q) * math.log(1 - q))
        h_dofs = sum(gauss_h(std[1 + i]) for i in range(7) if i != 2)
        expected = h_pos + h_flag + q * gauss_h(std[0]) + (1 - q) * h_dofs
        assert float(got[b]) == pytest.approx(expected, rel=1e-9)


def test_must_grasp_and_no_attention_force_grasp():
    maps = make_maps(batch=64, seed=1)
    maps[:, 1] = 10.0  # p(zoom) ~ 1
    gen = torch.Generator().manual_seed(0)
    must = torch.arange(64) % 2 == 0
    a = PixelActionDistribution.from_maps(maps, LOG_STD, must).sample(gen)
    assert (a.zoom[must] == 0).all() and (a.zoom[~must] == 1).all()
    a = PixelActionDistribution.from_maps(maps, LOG_STD, None, DofConstraints.ablation("no_attention")).sample(gen)
    assert (a.zoom == 0).all()
    m = PixelActionDistribution.from_maps(maps, LOG_STD, must).mode()
    assert (m.zoom[must] == 0).all() and (m.zoom[~must] == 1).all()


def test_sample_ranges():
    maps = make_maps(batch=512, seed=2) * 3
    log_std = torch.full((8,), math.log(0.5), dtype=torch.float64)  # wide, to hit the clipping
    dist = PixelActionDistribution.from_maps(maps, log_std)
    a = dist.sample(torch.Generator().manual_seed(0))
    assert a.pixel.dtype == torch.long and ((a.pixel >= 0) & (a.pixel < H * W)).all()
    rc = a.rows_cols()
    assert ((rc >= 0) & (rc < 4)).all()
    assert set(a.zoom.unique().tolist()) <= {0.0, 1.0}
    rpy = a.grasp_rpy()
    assert ((rpy[:, [0, 2]] >= -math.pi) & (rpy[:, [0, 2]] <= math.pi)).all()
    assert ((rpy[:, 1] >= 0) & (rpy[:, 1] <= math.pi)).all()
    joints = a.hand_joints()
    scales = torch.tensor(DOF_SCALES[3:], dtype=joints.dtype)
    assert ((joints >= 0) & (joints <= scales)).all()
    assert (joints[:, 0] == scales[0]).any() or (joints[:, 0] == 0).any()  # clipping was exercised
    zs = a.zoom_scale(0.25)
    assert ((zs >= 0.25) & (zs <= 1.0)).all()
    assert torch.isfinite(dist.log_prob(a)).all()


def test_position_sampling_follows_spatial_softmax():
    maps = make_maps(batch=1, seed=4)
    maps[0, 0] = torch.linspace(-2, 2, 16, dtype=torch.float64).view(4, 4)
    n = 20000
    dist = PixelActionDistribution.from_maps(maps.expand(n, -1, -1, -1), LOG_STD)
    a = dist.sample(torch.Generator().manual_seed(0))
    freq = torch.bincount(a.pixel, minlength=16).double() / n
    torch.testing.assert_close(freq, torch.softmax(maps[0, 0].flatten(), 0), atol=0.01, rtol=0)


def test_mode_is_deterministic_argmax_and_means():
    maps = make_maps(batch=2, seed=6)
    dist = PixelActionDistribution.from_maps(maps, LOG_STD)
    m = dist.mode()
    assert m.pixel.tolist() == maps[:, 0].flatten(1).argmax(1).tolist()
    for b in range(2):
        _, zl, scale_mean, means = hand_terms(maps, b, int(m.pixel[b]))
        assert float(m.zoom[b]) == float(sig(zl) > 0.5)
        assert float(m.scale_raw[b]) == pytest.approx(scale_mean)
        torch.testing.assert_close(m.dofs_raw[b], torch.tensor(means, dtype=torch.float64))


def test_sampling_is_reproducible_and_log_prob_differentiable():
    maps = make_maps(batch=4).requires_grad_(True)
    log_std = LOG_STD.clone().requires_grad_(True)
    d1 = PixelActionDistribution.from_maps(maps, log_std)
    a1 = d1.sample(torch.Generator().manual_seed(7))
    a2 = PixelActionDistribution.from_maps(maps, log_std).sample(torch.Generator().manual_seed(7))
    for x, y in zip((a1.pixel, a1.zoom, a1.scale_raw, a1.dofs_raw), (a2.pixel, a2.zoom, a2.scale_raw, a2.dofs_raw)):
        assert torch.equal(x, y)
    d1.log_prob(a1).sum().backward()
    assert maps.grad.abs().sum() > 0 and log_std.grad.abs().sum() > 0


def test_action_helpers():
    a = Action(torch.tensor([0, 5]), torch.tensor([1.0, 0.0]), torch.tensor([0.1, 1.3]), torch.zeros(2, 7), 4)
    assert a.rows_cols().tolist() == [[0, 0], [1, 1]]
    assert a.zoom_scale(0.25).tolist() == [0.25, 1.0]
    b = Action.cat([a, a.index(torch.tensor([1]))])
    assert len(b) == 3 and b.pixel.tolist() == [0, 5, 5]
    raw = torch.tensor([[1.1, -0.2, -1.05, -0.1, 2.0, 0.5, 1.0, 0.0]])[:, :7]
    c = Action(torch.tensor([0]), torch.zeros(1), torch.zeros(1), raw, 4)
    rpy = c.grasp_rpy()[0]
    assert float(rpy[0]) == pytest.approx(-0.9 * math.pi)  # wrapped, same rotation
    assert float(rpy[1]) == 0.0 and float(rpy[2]) == pytest.approx(0.95 * math.pi)
    j = c.hand_joints()[0]
    assert j.tolist() == pytest.approx([0.0, 0.61, 0.305, 0.61])
    with pytest.raises(ValueError):
        DofConstraints(fixed={"elbow": 1.0})
    with pytest.raises(ValueError):
        DofConstraints.ablation("nope")
    assert DofConstraints.ablation("parallel").fixed == {"spread": 0.0}
    assert DofConstraints.from_dict(DofConstraints.ablation("top_down").to_dict()) == DofConstraints.ablation(
        "top_down"
    )
