import numpy as np
import pytest
import torch

from pa_grasp_policy.model.network import (
    DEPTH_CLIP,
    N_MAPS,
    NetworkConfig,
    PixelAttentiveNet,
    count_parameters,
    preprocess_depth,
)


@pytest.mark.parametrize("size", [32, 64, 96])
def test_forward_maps_shape_and_fast_path_agree(size):
    net = PixelAttentiveNet(NetworkConfig(input_size=size))
    depth = torch.randn(2, 1, size, size)
    scale = torch.tensor([1.0, 0.3])
    with torch.no_grad():
        maps = net.forward_maps(depth, scale)
        enc = net.encode(depth, scale)
        logits = net.position_logits(enc, scale)
        pixel = torch.tensor([0, size * size - 1 - 3 * size])  # a corner and an odd row/col pixel
        heads = net.heads_at(enc, scale, pixel)
    assert maps.shape == (2, N_MAPS, size, size)
    assert torch.isfinite(maps).all()
    torch.testing.assert_close(logits, maps[:, 0])
    for b in range(2):
        r, c = divmod(int(pixel[b]), size)
        torch.testing.assert_close(heads[b], maps[b, 1:, r, c], rtol=1e-5, atol=1e-6)


def test_parameter_count_and_sigma_init():
    net = PixelAttentiveNet(NetworkConfig())
    n = count_parameters(net)
    assert 0.5e6 <= n <= 1.5e6, n
    # STD_NAMES order: scale, roll, pitch, yaw, spread, finger1..3; orientation starts narrower.
    expected = torch.log(torch.tensor([0.2, 0.05, 0.05, 0.05, 0.2, 0.2, 0.2, 0.2]))
    torch.testing.assert_close(net.log_std.detach(), expected)


def test_input_size_validation():
    for bad in (0, 24, 100, 50):
        with pytest.raises(ValueError):
            NetworkConfig(input_size=bad)
    net = PixelAttentiveNet(NetworkConfig(input_size=32))
    with pytest.raises(ValueError):
        net.forward_maps(torch.zeros(1, 1, 30, 30), torch.ones(1))
    with pytest.raises(ValueError):
        net.forward_maps(torch.zeros(2, 1, 32, 32), torch.ones(1))


def test_scale_reaches_every_branch():
    net = PixelAttentiveNet(NetworkConfig(input_size=32))
    for br in (net.b_position, net.b_attention, net.b_rpy, net.b_fingers):
        torch.nn.init.normal_(br.out.weight, std=0.5)
    depth = torch.randn(1, 1, 32, 32).expand(2, 1, 32, 32)
    with torch.no_grad():
        maps = net.forward_maps(depth, torch.tensor([1.0, 0.1]))
    diff = (maps[0] - maps[1]).abs().flatten(1).amax(dim=1)
    assert (diff > 1e-4).all(), diff  # all 10 maps depend on s_scale


def test_initial_means():
    net = PixelAttentiveNet(NetworkConfig(input_size=32, init_spread_mean=0.25, init_finger_mean=0.05))
    flat = torch.zeros(1, 1, 32, 32)
    raised = flat.clone()
    raised[0, 0, 10:14, 20:24] = 0.8  # an 8 cm object on the table
    with torch.no_grad():
        maps = net.forward_maps(flat, torch.ones(1))
        raised_logits = net.forward_maps(raised, torch.ones(1))[0, 0]
    assert maps[0, 0].std() < 0.1  # near-uniform spatial softmax over a flat table
    probs = torch.softmax(raised_logits.flatten(), 0).view(32, 32)
    assert probs[10:14, 20:24].sum() > 0.2  # 16 of 1024 pixels, but the input skip prefers raised ones
    assert maps[0, 1:6].abs().max() < 0.5  # p(zoom) ~ 0.5, scale ~ 0.5, roll = yaw ~ 0, pitch ~ top-down
    assert torch.sigmoid(maps[0, 6]).mean().item() == pytest.approx(0.25, abs=0.05)  # spread ~ pi/8
    assert torch.sigmoid(maps[0, 7:]).mean().item() == pytest.approx(0.05, abs=0.02)  # fingers nearly straight


def test_gradient_reaches_all_parameters():
    net = PixelAttentiveNet(NetworkConfig(input_size=32))
    maps = net.forward_maps(torch.randn(2, 1, 32, 32), torch.rand(2))
    (maps.square().mean() + net.log_std.sum()).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_value_head_optional():
    net = PixelAttentiveNet(NetworkConfig(input_size=32, value_head=True))
    enc = net.encode(torch.randn(3, 1, 32, 32))
    assert net.state_value(enc, torch.ones(3)).shape == (3,)
    with pytest.raises(RuntimeError):
        PixelAttentiveNet(NetworkConfig(input_size=32)).state_value(enc, torch.ones(3))


def test_config_dict_round_trip():
    cfg = NetworkConfig(input_size=64, head_hidden=32)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        NetworkConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_preprocess_depth_normalises_shape_not_distance():
    d = np.full((20, 30), 1.0, dtype=np.float32)
    d[5:10, 5:10] = 0.9  # 10 cm tall object
    d[0, 0] = np.nan
    d[0, 1] = 0.0  # invalid as well
    x = preprocess_depth(d)
    assert x.dtype == np.float32 and x.shape == d.shape and np.isfinite(x).all()
    assert x[7, 7] == pytest.approx(1.0)
    assert x[15, 15] == pytest.approx(0.0)
    assert x[0, 0] == pytest.approx(0.0) and x[0, 1] == pytest.approx(0.0)  # holes: filled with max depth
    shifted = np.where(d > 0, d + 0.7, d)
    np.testing.assert_allclose(preprocess_depth(shifted), x, atol=1e-5)  # camera distance removed
    far = d.copy()
    far[19, :] = 5.0  # far outliers are clipped
    assert preprocess_depth(far).min() >= DEPTH_CLIP[0]
    assert (preprocess_depth(np.full((4, 4), np.nan)) == 0).all()
    with pytest.raises(ValueError):
        preprocess_depth(np.zeros((2, 2, 2)))
