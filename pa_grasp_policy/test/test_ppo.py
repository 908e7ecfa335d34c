import dataclasses

import numpy as np
import pytest
import torch

from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.model.zoom import ZoomConfig, run_zoom_loop
from pa_grasp_policy.training.ppo import PPOBatch, PPOConfig, compute_returns_advantages, make_optimizer, ppo_update

SMALL = NetworkConfig(input_size=32, head_hidden=32)


def test_returns_without_baseline_are_discounted_return_to_go():
    rewards = [0, 0, 1, 0, 1, 0]
    dones = [0, 0, 1, 0, 1, 1]
    ret, adv = compute_returns_advantages(rewards, dones, None, gamma=0.9)
    np.testing.assert_allclose(ret, [0.81, 0.9, 1.0, 0.9, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(ret, adv)
    assert ret.dtype == np.float32
    # (T, N) layout: columns are independent actors; unfinished episodes bootstrap last_values
    r2, _ = compute_returns_advantages(
        np.array([[0, 1], [1, 0]]), np.array([[0, 1], [0, 0]]), gamma=0.5, last_values=[2.0, 4.0]
    )
    np.testing.assert_allclose(r2, [[0 + 0.5 * (1 + 0.5 * 2.0), 1.0], [1 + 0.5 * 2.0, 0 + 0.5 * 4.0]])


def test_scene_baseline_by_hand():
    """Episodes: scene A (zoom, grasp: success), scene A (grasp: failure), scene B (grasp: success).
    Baselines (leave one out): 0 (the other A failed), 1 (the other A lifted), 0.5 (B has no
    sibling: the mean of the other two episodes)."""
    from pa_grasp_policy.training.train import scene_baseline_returns

    rewards = np.array([0, 1, 0, 1], dtype=np.float32)
    dones = np.array([0, 1, 1, 1], dtype=bool)
    adv, ret = scene_baseline_returns(rewards, dones, [(0, 7), (0, 7), (1, 7)], gamma=0.5)
    np.testing.assert_allclose(ret, [0.5, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(adv, [0.5 - 0.5 * 0.0, 1.0 - 0.0, 0.0 - 1.0, 1.0 - 0.5])
    adv, _ = scene_baseline_returns(rewards[1:], dones[1:], [(0, 1), (0, 2), (0, 2)], gamma=0.5)
    np.testing.assert_allclose(adv, [1.0 - 0.5, 0.0 - 1.0, 1.0 - 0.0])
    # A scene where every try lifts teaches nothing: zero advantage, whatever the batch does.
    adv, _ = scene_baseline_returns(np.ones(3, np.float32), np.ones(3, bool), [(0, 3)] * 3, gamma=0.5)
    np.testing.assert_array_equal(adv, 0.0)
    with pytest.raises(ValueError, match="scene ids"):
        scene_baseline_returns(rewards, dones, [(0, 7)], gamma=0.5)


def test_gae_by_hand():
    r = np.array([0.0, 1.0, 0.0])
    d = np.array([0, 1, 1])
    v = np.array([0.5, 0.8, 0.3])
    g, lam = 0.9, 0.8
    ret, adv = compute_returns_advantages(r, d, v, gamma=g, lam=lam)
    delta1 = 1.0 - 0.8
    delta0 = 0.0 + g * 0.8 - 0.5
    delta2 = 0.0 - 0.3
    np.testing.assert_allclose(adv, [delta0 + g * lam * delta1, delta1, delta2], rtol=1e-6)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError):
        compute_returns_advantages([0, 1], [0])


def random_batch(policy, n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = ObsBatch(torch.randn(n, 1, 32, 32, generator=g), torch.rand(n, generator=g), torch.rand(n, generator=g) < 0.5)
    action, lp = policy.act(obs, generator=g)
    adv = torch.randn(n, generator=g)
    return PPOBatch(obs, action, lp, adv, returns=adv.clone())


def test_update_changes_weights_and_reports_stats():
    policy = Policy(SMALL)
    cfg = PPOConfig(update_epochs=2, minibatch_size=10)
    opt = make_optimizer(policy, cfg)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    stats = ppo_update(policy, opt, random_batch(policy), cfg, generator=torch.Generator().manual_seed(0))
    assert stats["n_minibatch_updates"] == 6  # 24 steps / 10 -> 3 minibatches of 8, 2 epochs
    for key in ("policy_loss", "entropy", "approx_kl", "clipfrac", "grad_norm", "sigma/roll"):
        assert np.isfinite(stats[key]), key
    changed = [k for k, v in policy.state_dict().items() if not torch.equal(v, before[k])]
    assert "net.log_std" in changed and "net.b_position.out.weight" in changed and "net.stem.weight" in changed
    assert stats["approx_kl"] >= 0


class RecordingAdam(torch.optim.Adam):
    """Adam that records the global gradient norm it is stepped with."""

    seen: list

    def step(self, closure=None):
        norms = [p.grad.norm() for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.seen.append(float(torch.linalg.vector_norm(torch.stack(norms))))
        return super().step(closure)


def test_gradients_are_clipped():
    policy = Policy(SMALL)
    cfg = PPOConfig(update_epochs=1, minibatch_size=8, max_grad_norm=1e-3)
    opt = RecordingAdam(policy.parameters(), lr=1e-4)
    opt.seen = []
    stats = ppo_update(policy, opt, random_batch(policy), cfg)
    assert len(opt.seen) == 3
    assert max(opt.seen) <= 1e-3 * (1 + 1e-3)
    assert stats["grad_norm_max"] > 1e-3  # the pre-clip norm was larger


def test_value_baseline_path():
    policy = Policy(NetworkConfig(input_size=32, head_hidden=16, value_head=True))
    cfg = PPOConfig(update_epochs=1, minibatch_size=12, use_value_baseline=True)
    stats = ppo_update(policy, make_optimizer(policy, cfg), random_batch(policy), cfg)
    assert np.isfinite(stats["value_loss"])
    with pytest.raises(ValueError, match="value_head"):
        ppo_update(Policy(SMALL), make_optimizer(policy, cfg), random_batch(Policy(SMALL)), cfg)


def test_batch_from_zoom_loop_records():
    policy = Policy(SMALL)
    depth = np.full((60, 80), 1.0, np.float32)
    depth[20:30, 30:45] = 0.92
    steps, rewards, dones = [], [], []
    gen = torch.Generator().manual_seed(0)
    for ep in range(4):
        res = run_zoom_loop(depth, policy.actor(generator=gen), ZoomConfig(input_size=32, max_zoom_steps=2))
        steps += res.steps
        rewards += [0.0] * (len(res.steps) - 1) + [float(ep % 2)]
        dones += [0] * (len(res.steps) - 1) + [1]
    ret, adv = compute_returns_advantages(rewards, dones)
    batch = PPOBatch.from_steps(steps, adv, ret)
    assert len(batch) == len(steps) and batch.obs.depth.shape == (len(steps), 1, 32, 32)
    cfg = PPOConfig(update_epochs=1)
    stats = ppo_update(policy, make_optimizer(policy, cfg), batch, cfg)
    assert stats["approx_kl"] < 1e-6  # first minibatch is on-policy: ratio 1 everywhere
    assert stats["clipfrac"] == 0.0


def test_bandit_learns_the_rewarded_region():
    """One-step episodes (must_grasp): reward 1 iff the pixel is in the top-left 8x8 block."""
    torch.manual_seed(0)
    # No input-height prior here: the bandit starts from a uniform spatial softmax.
    policy = Policy(dataclasses.replace(SMALL, init_position_input_gain=0.0))
    cfg = PPOConfig(lr=1e-3, update_epochs=4, minibatch_size=32)
    opt = make_optimizer(policy, cfg)
    gen = torch.Generator().manual_seed(1)
    depth = torch.randn(1, 1, 32, 32, generator=gen)
    n = 64
    obs = ObsBatch(depth.expand(n, -1, -1, -1).contiguous(), torch.ones(n), torch.ones(n, dtype=torch.bool))
    region = torch.zeros(32, 32, dtype=torch.bool)
    region[:8, :8] = True

    def region_prob():
        with torch.no_grad():
            dist, _ = policy.distribution(obs.index(slice(0, 1)))
            return float(dist.position_probs()[0][region].sum())

    p0 = region_prob()
    for _ in range(5):
        action, lp = policy.act(obs, generator=gen)
        rc = action.rows_cols()
        reward = region[rc[:, 0], rc[:, 1]].float()
        ret, adv = compute_returns_advantages(reward.numpy(), np.ones(n))
        ppo_update(policy, opt, PPOBatch(obs, action, lp, torch.from_numpy(adv)), cfg, generator=gen)
    p1 = region_prob()
    assert p0 == pytest.approx(64 / 1024, abs=0.02)
    assert p1 > 2 * p0, (p0, p1)
