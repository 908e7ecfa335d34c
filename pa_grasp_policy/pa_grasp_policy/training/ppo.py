"""Clipped PPO update core (no environment code), in the style of CleanRL's ppo.py.

The trainer collects episodes with ``run_zoom_loop(depth, policy.actor(), zoom_config)``,
then per batch:

    adv, ret = compute_returns_advantages(rewards, dones, values=None, gamma=cfg.gamma, lam=cfg.gae_lambda)
    batch = PPOBatch.from_steps(step_records, adv, ret)
    stats = ppo_update(policy, optimizer, batch, cfg)

The paper trains without a baseline (advantage = discounted return-to-go); with
``normalize_advantages`` (default) the batch mean is subtracted, which acts as a constant
baseline. ``use_value_baseline=True`` (needs NetworkConfig(value_head=True)) switches to GAE
with a learned V(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pa_grasp_policy.model.distribution import Action
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.model.zoom import StepRecord

__all__ = ["PPOBatch", "PPOConfig", "Policy", "compute_returns_advantages", "make_optimizer", "ppo_update"]


@dataclass
class PPOConfig:
    """PPO hyper-parameters; defaults are the paper's (footnote 1), Adam optimiser."""

    lr: float = 1e-4
    update_epochs: int = 10
    batch_size: int = 500  # steps per update (collected by the trainer)
    minibatch_size: int = 96
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    max_grad_norm: float = 20.0
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    use_value_baseline: bool = False
    normalize_advantages: bool = True
    target_kl: float | None = None  # stop the epochs early when approx-KL exceeds it
    adam_eps: float = 1e-5


def make_optimizer(policy: nn.Module, config: PPOConfig) -> torch.optim.Adam:
    return torch.optim.Adam(policy.parameters(), lr=config.lr, eps=config.adam_eps)


def compute_returns_advantages(
    rewards,
    dones,
    values=None,
    gamma: float = 0.99,
    lam: float = 0.95,
    last_values=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Discounted returns and advantages, arrays (T,) or (T, N) in time order.

    dones[t] = 1 when the episode ended at step t (r_t was its last reward); the next step
    starts a new episode. If the last step is not terminal, ``last_values`` (V of the next
    observation, default 0) bootstraps it.
    Without ``values``: returns = discounted return-to-go, advantages = returns (the paper).
    With ``values``: GAE(γ, λ) advantages and returns = advantages + values.
    Returns (returns, advantages) as float32 arrays of the input shape.
    """
    r = np.asarray(rewards, dtype=np.float64)
    d = np.asarray(dones, dtype=bool)
    if r.shape != d.shape:
        raise ValueError(f"rewards {r.shape} and dones {d.shape} differ in shape")
    T = r.shape[0]
    nonterminal = 1.0 - d.astype(np.float64)
    last = np.zeros(r.shape[1:]) if last_values is None else np.asarray(last_values, dtype=np.float64)
    if values is None:
        returns = np.zeros_like(r)
        running = last
        for t in reversed(range(T)):
            running = r[t] + gamma * nonterminal[t] * running
            returns[t] = running
        return returns.astype(np.float32), returns.astype(np.float32)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != r.shape:
        raise ValueError(f"values {v.shape} and rewards {r.shape} differ in shape")
    adv = np.zeros_like(r)
    gae = np.zeros(r.shape[1:])
    for t in reversed(range(T)):
        next_v = v[t + 1] if t + 1 < T else last
        delta = r[t] + gamma * nonterminal[t] * next_v - v[t]
        gae = delta + gamma * lam * nonterminal[t] * gae
        adv[t] = gae
    return (adv + v).astype(np.float32), adv.astype(np.float32)


@dataclass
class PPOBatch:
    """Training data of one update: N steps."""

    obs: ObsBatch
    actions: Action
    old_log_probs: torch.Tensor  # (N,)
    advantages: torch.Tensor  # (N,)
    returns: torch.Tensor | None = None  # (N,), for the value loss
    old_values: torch.Tensor | None = None  # (N,), for explained variance

    def __len__(self) -> int:
        return self.old_log_probs.shape[0]

    def index(self, idx) -> PPOBatch:
        opt = lambda t: None if t is None else t[idx]  # noqa: E731
        return PPOBatch(
            self.obs.index(idx),
            self.actions.index(idx),
            self.old_log_probs[idx],
            self.advantages[idx],
            opt(self.returns),
            opt(self.old_values),
        )

    def to(self, device) -> PPOBatch:
        opt = lambda t: None if t is None else t.to(device)  # noqa: E731
        return PPOBatch(
            self.obs.to(device),
            self.actions.to(device),
            self.old_log_probs.to(device),
            self.advantages.to(device),
            opt(self.returns),
            opt(self.old_values),
        )

    @classmethod
    def from_steps(cls, steps: Sequence[StepRecord], advantages, returns=None) -> PPOBatch:
        """From zoom-loop step records (with log_prob set) and per-step advantages/returns."""
        if any(s.log_prob is None for s in steps):
            raise ValueError("every step record needs a log_prob (use Policy.actor() as act)")
        values = [s.extra.get("value") for s in steps]
        return cls(
            ObsBatch.from_observations([s.observation for s in steps]),
            Action.cat([s.action for s in steps]),
            torch.tensor([s.log_prob for s in steps], dtype=torch.float32),
            torch.as_tensor(np.asarray(advantages, dtype=np.float32)).reshape(-1),
            None if returns is None else torch.as_tensor(np.asarray(returns, dtype=np.float32)).reshape(-1),
            None if any(v is None for v in values) else torch.tensor(values, dtype=torch.float32),
        )


def ppo_update(
    policy: Policy,
    optimizer: torch.optim.Optimizer,
    batch: PPOBatch,
    config: PPOConfig,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Clipped-surrogate PPO on one batch: ``update_epochs`` passes over shuffled minibatches.

    Each epoch splits the batch into ceil(N / minibatch_size) near-equal minibatches (all
    data is used; 500 / 96 -> 6 minibatches of 83-84). Advantages are normalised once over
    the whole batch. Gradients are clipped to ``max_grad_norm`` (global L2 norm).
    Returns mean statistics over all minibatch steps (and the σ after the update).
    """
    N = len(batch)
    if N == 0:
        raise ValueError("empty batch")
    if config.use_value_baseline and (policy.net.value is None or batch.returns is None):
        raise ValueError("use_value_baseline needs NetworkConfig(value_head=True) and batch.returns")
    device = next(policy.parameters()).device
    batch = batch.to(device)
    adv = batch.advantages
    if config.normalize_advantages and N > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    n_mb = max(1, -(-N // config.minibatch_size))

    names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac")
    log: dict[str, list[float]] = {k: [] for k in names}
    log["grad_norm"] = []
    policy.train()
    stop = False
    for _epoch in range(config.update_epochs):
        perm = torch.randperm(N, generator=generator).to(device)
        for idx in torch.tensor_split(perm, n_mb):
            mb = batch.index(idx)
            if config.use_value_baseline:
                new_logp, entropy, new_value = policy.evaluate_with_value(mb.obs, mb.actions)
            else:
                new_logp, entropy = policy.evaluate(mb.obs, mb.actions)
            logratio = new_logp - mb.old_log_probs
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()  # http://joschu.net/blog/kl-approx.html
                clipfrac = ((ratio - 1.0).abs() > config.clip_coef).float().mean()

            mb_adv = adv[idx]
            pg_loss1 = -mb_adv * ratio
            pg_loss2 = -mb_adv * torch.clamp(ratio, 1 - config.clip_coef, 1 + config.clip_coef)
            pg_loss = torch.max(pg_loss1, pg_loss2).mean()
            entropy_loss = entropy.mean()
            loss = pg_loss - config.ent_coef * entropy_loss
            if config.use_value_baseline:
                v_loss = 0.5 * ((new_value - mb.returns) ** 2).mean()
                loss = loss + config.vf_coef * v_loss
                log["value_loss"].append(v_loss.item())

            optimizer.zero_grad()
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()

            log["policy_loss"].append(pg_loss.item())
            log["entropy"].append(entropy_loss.item())
            log["approx_kl"].append(float(approx_kl))
            log["clipfrac"].append(float(clipfrac))
            log["grad_norm"].append(float(grad_norm))
            if config.target_kl is not None and float(approx_kl) > config.target_kl:
                stop = True
        if stop:
            break

    stats = {k: float(np.mean(v)) for k, v in log.items() if v}
    stats["grad_norm_max"] = float(np.max(log["grad_norm"]))
    stats["n_minibatch_updates"] = float(len(log["policy_loss"]))
    stats["n_epochs"] = float(_epoch + 1)
    stats["advantage_mean"] = float(batch.advantages.mean())
    if batch.old_values is not None and batch.returns is not None and N > 1:
        var_y = float(batch.returns.var())
        stats["explained_variance"] = (
            float("nan") if var_y == 0 else 1.0 - float((batch.returns - batch.old_values).var()) / var_y
        )
    for name, s in policy.sigmas().items():
        stats[f"sigma/{name}"] = s
    return stats
