"""The policy: network + per-pixel action distribution + ablation constraints.

One object serves rollouts (``act`` / ``actor`` for the zoom loop) and the PPO update
(``evaluate``), so both compute exactly the same π(a|s):

    enc   = net.encode(depth)                        # shared backbone, once per batch
    dist  = PixelActionDistribution(net.position_logits(enc, s), pixel -> net.heads_at(enc, s, pixel),
                                    net.log_std, must_grasp, constraints)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from pa_grasp_policy.model.distribution import LOG_STD_MAX, LOG_STD_MIN, Action, DofConstraints, PixelActionDistribution
from pa_grasp_policy.model.network import STD_NAMES, NetworkConfig, PixelAttentiveNet
from pa_grasp_policy.model.zoom import Observation


@dataclass
class ObsBatch:
    """A batch of observations as tensors: depth (B,1,S,S) float32, scale (B,), must_grasp (B,) bool."""

    depth: torch.Tensor
    scale: torch.Tensor
    must_grasp: torch.Tensor

    def __len__(self) -> int:
        return self.depth.shape[0]

    @classmethod
    def from_observations(cls, observations: Sequence[Observation], device: str | torch.device = "cpu") -> ObsBatch:
        if not observations:
            raise ValueError("no observations")
        depth = torch.from_numpy(np.stack([np.asarray(o.depth, dtype=np.float32) for o in observations]))
        if depth.dim() == 3:  # observations given as (S, S)
            depth = depth[:, None]
        scale = torch.tensor([float(o.scale) for o in observations], dtype=torch.float32)
        must_grasp = torch.tensor([bool(o.must_grasp) for o in observations], dtype=torch.bool)
        return cls(depth, scale, must_grasp).to(device)

    def index(self, idx) -> ObsBatch:
        return ObsBatch(self.depth[idx], self.scale[idx], self.must_grasp[idx])

    def to(self, device) -> ObsBatch:
        return ObsBatch(self.depth.to(device), self.scale.to(device), self.must_grasp.to(device))


class Policy(nn.Module):
    """π_θ(a | s) of the paper. ``net`` holds every learned parameter (incl. log σ)."""

    def __init__(self, net_config: NetworkConfig | None = None, constraints: DofConstraints | None = None):
        super().__init__()
        self.net = PixelAttentiveNet(net_config or NetworkConfig())
        self.constraints = constraints or DofConstraints()

    @property
    def config(self) -> NetworkConfig:
        return self.net.config

    def distribution(self, obs: ObsBatch) -> tuple[PixelActionDistribution, dict[str, torch.Tensor]]:
        """π(·|s) for a batch (and the backbone encoding, e.g. for the value head)."""
        enc = self.net.encode(obs.depth, obs.scale)
        logits = self.net.position_logits(enc, obs.scale)
        dist = PixelActionDistribution(
            logits,
            lambda pixel: self.net.heads_at(enc, obs.scale, pixel),
            self.net.log_std,
            obs.must_grasp,
            self.constraints,
        )
        return dist, enc

    @torch.no_grad()
    def act(
        self, obs: ObsBatch, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Action, torch.Tensor]:
        """Sample (or take the mode of) an action per row; returns (action, log π(a|s) (B,))."""
        dist, _ = self.distribution(obs)
        action = dist.mode() if deterministic else dist.sample(generator)
        return action, dist.log_prob(action)

    @torch.no_grad()
    def act_with_value(
        self, obs: ObsBatch, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Action, torch.Tensor, torch.Tensor]:
        """Like ``act`` plus V(s) (B,) (requires NetworkConfig.value_head)."""
        dist, enc = self.distribution(obs)
        action = dist.mode() if deterministic else dist.sample(generator)
        return action, dist.log_prob(action), self.net.state_value(enc, obs.scale)

    def evaluate(self, obs: ObsBatch, action: Action) -> tuple[torch.Tensor, torch.Tensor]:
        """(log π(a|s), entropy) (B,) each, differentiable (the PPO update)."""
        dist, _ = self.distribution(obs)
        return dist.log_prob(action), dist.entropy(action)

    def evaluate_with_value(self, obs: ObsBatch, action: Action) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log π(a|s), entropy, V(s)), one backbone pass (requires NetworkConfig.value_head)."""
        dist, enc = self.distribution(obs)
        return dist.log_prob(action), dist.entropy(action), self.net.state_value(enc, obs.scale)

    @torch.no_grad()
    def maps(self, obs: ObsBatch) -> torch.Tensor:
        """All 10 maps (B,10,S,S) for visualisation (pre-activations; see network.MAP_NAMES)."""
        return self.net.forward_maps(obs.depth, obs.scale)

    def sigmas(self) -> dict[str, float]:
        """Current σ of the Gaussians (unscaled space), by name."""
        std = self.net.log_std.detach().clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        return {n: float(v) for n, v in zip(STD_NAMES, std)}

    def actor(
        self, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> Callable[[Observation], tuple[Action, dict[str, Any]]]:
        """An ``act(observation) -> (action, {"log_prob": float[, "value": float]})`` for run_zoom_loop."""
        device = next(self.parameters()).device
        with_value = self.net.value is not None

        def act(obs: Observation) -> tuple[Action, dict[str, Any]]:
            batch = ObsBatch.from_observations([obs], device)
            if with_value:
                action, lp, v = self.act_with_value(batch, deterministic, generator)
                return action.to("cpu"), {"log_prob": float(lp[0]), "value": float(v[0])}
            action, lp = self.act(batch, deterministic, generator)
            return action.to("cpu"), {"log_prob": float(lp[0])}

        return act
