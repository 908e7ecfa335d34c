"""The per-pixel action distribution of the paper (eq. 3-7) and its log-probability (eq. 9).

An action a_t = {position, zoom, scale, roll, pitch, yaw, spread, finger1, finger2, finger3}:

* position ~ Categorical(softmax(position logits over all H*W pixels))          (eq. 3)
* zoom     ~ Bernoulli(sigmoid(zoom logit at the pixel)); 1 = zoom, 0 = grasp   (eq. 4)
* scale    ~ Normal(sigmoid(scale map at the pixel), σ_scale)                   (eq. 5)
             fraction of the current view side for the next crop; the zoom loop clips the
             applied value to [min_scale, 1]
* roll, pitch, yaw ~ Normal(tanh / sigmoid / tanh(rpy maps at the pixel), σ_i) × π   (eq. 6)
             applied: roll and yaw wrapped to [-π, π), pitch clipped to [0, π] (π/2 = top-down)
* spread, finger1..3 ~ Normal(sigmoid(finger maps at the pixel), σ_j) × scale_j      (eq. 7)
             scale_j = (π/2, 0.61, 0.61, 0.61); applied values clipped to [0, scale_j]

log π(a|s) = log p(pos) + log p(zoom | pos) + zoom · log p(scale | pos)
             + (1 - zoom) · Σ_dof log p(dof | pos)                                    (eq. 9)

Conventions:
* Gaussian log-probs are taken on the *raw* (unscaled, unclipped) samples. The ×π / ×scale_j
  maps are constant Jacobians: they add a constant to log π, which cancels in the PPO ratio
  π_new/π_old; clipping happens only when the action is applied, so it never enters log π.
* ``must_grasp`` (per sample): the zoom flag is forced to 0 (grasp) with log-prob 0 and
  entropy 0 -- the episode cannot zoom further (max zoom steps or minimal crop).
* ``DofConstraints``: ablations. A fixed dof is set to a constant (given in applied units)
  in sample/mode and contributes log-prob 0 and entropy 0; ``max_zoom_steps = 0`` ("no
  attention") forces must_grasp everywhere.
* Everything after the position is conditioned on the pixel: the distribution is built from
  the position logits and a ``head_fn(pixel) -> (B, 9)`` that returns the 9 pre-activations
  at given pixels (the network's fast path) -- or from full maps with ``from_maps``.
* ``entropy(action)`` = H(pos) + H(zoom | pix) + p_zoom·H(scale) + (1 - p_zoom)·Σ H(dof),
  evaluated at the action's pixel (exact in the flag, single-sample in the pixel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F  # noqa: N812

DOF_NAMES = ("roll", "pitch", "yaw", "spread", "finger1", "finger2", "finger3")
# applied value = raw sample × DOF_SCALES[i]
DOF_SCALES = (math.pi, math.pi, math.pi, math.pi / 2, 0.61, 0.61, 0.61)
HAND_JOINT_NAMES = ("spread", "finger1", "finger2", "finger3")
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
LOG_STD_MIN = math.log(1e-3)  # σ used by the distribution is exp(clamp(log σ, MIN, MAX))
LOG_STD_MAX = math.log(2.0)


@dataclass(frozen=True)
class DofConstraints:
    """Ablation hook: fixed dofs (applied units, e.g. {"pitch": π/2}) and a zoom budget.

    ``max_zoom_steps``: None = no limit from the constraints (the ZoomConfig decides);
    0 = "no attention" (always grasp at the first step).
    """

    fixed: dict[str, float] = field(default_factory=dict)
    max_zoom_steps: int | None = None

    def __post_init__(self):
        unknown = set(self.fixed) - set(DOF_NAMES)
        if unknown:
            raise ValueError(f"unknown dof(s) {sorted(unknown)}; known: {DOF_NAMES}")
        if self.max_zoom_steps is not None and self.max_zoom_steps < 0:
            raise ValueError("max_zoom_steps must be >= 0 or None")

    @classmethod
    def ablation(cls, name: str) -> DofConstraints:
        """The paper's ablations: 'full', 'top_down', 'parallel', 'no_attention'."""
        table = {
            "full": cls(),
            "top_down": cls(fixed={"pitch": math.pi / 2}),
            "parallel": cls(fixed={"spread": 0.0}),
            "no_attention": cls(max_zoom_steps=0),
        }
        if name not in table:
            raise ValueError(f"unknown ablation {name!r}; known: {sorted(table)}")
        return table[name]

    @property
    def no_zoom(self) -> bool:
        return self.max_zoom_steps == 0

    def free_mask(self) -> torch.Tensor:
        """(7,) bool: True for the dofs that are sampled (not fixed)."""
        return torch.tensor([n not in self.fixed for n in DOF_NAMES])

    def fixed_raw(self) -> torch.Tensor:
        """(7,) raw (unscaled) values of the fixed dofs (0 where free)."""
        return torch.tensor([self.fixed.get(n, 0.0) / s for n, s in zip(DOF_NAMES, DOF_SCALES)])

    def to_dict(self) -> dict:
        return {"fixed": dict(self.fixed), "max_zoom_steps": self.max_zoom_steps}

    @classmethod
    def from_dict(cls, d: dict) -> DofConstraints:
        return cls(fixed=dict(d.get("fixed", {})), max_zoom_steps=d.get("max_zoom_steps"))


@dataclass
class Action:
    """A batch of B actions (all tensors have leading dim B).

    pixel: (B,) long, flat index row * width + col into the network input image.
    zoom: (B,) float in {0., 1.}; 1 = zoom, 0 = grasp.
    scale_raw: (B,) raw zoom-scale sample (fraction of the current view side, unclipped).
    dofs_raw: (B, 7) raw samples of roll, pitch, yaw, spread, finger1..3 (unscaled).
    width: width of the image the pixel indexes (the network input size).
    """

    pixel: torch.Tensor
    zoom: torch.Tensor
    scale_raw: torch.Tensor
    dofs_raw: torch.Tensor
    width: int

    def __len__(self) -> int:
        return self.pixel.shape[0]

    def rows_cols(self) -> torch.Tensor:
        """(B, 2) long: (row, col) of the pixel in the network input image."""
        return torch.stack([self.pixel // self.width, self.pixel % self.width], dim=1)

    def is_zoom(self) -> torch.Tensor:
        return self.zoom > 0.5

    def zoom_scale(self, min_scale: float = 0.0, max_scale: float = 1.0) -> torch.Tensor:
        """(B,) applied zoom scale: the raw sample clipped to [min_scale, max_scale]."""
        return self.scale_raw.clamp(min_scale, max_scale)

    def grasp_rpy(self) -> torch.Tensor:
        """(B, 3) applied roll, pitch, yaw in rad: roll/yaw wrapped to [-π, π), pitch in [0, π]."""
        r = self.dofs_raw[:, :3] * math.pi
        roll_yaw = torch.remainder(r[:, [0, 2]] + math.pi, 2 * math.pi) - math.pi
        pitch = r[:, 1].clamp(0.0, math.pi)
        return torch.stack([roll_yaw[:, 0], pitch, roll_yaw[:, 1]], dim=1)

    def hand_joints(self) -> torch.Tensor:
        """(B, 4) applied [spread, finger1, finger2, finger3] in rad, clipped to [0, scale_j]."""
        scales = torch.tensor(DOF_SCALES[3:], dtype=self.dofs_raw.dtype, device=self.dofs_raw.device)
        return torch.minimum((self.dofs_raw[:, 3:] * scales).clamp_min(0.0), scales)

    def index(self, idx) -> Action:
        """Sub-batch (idx: tensor of indices, slice or bool mask)."""
        return Action(self.pixel[idx], self.zoom[idx], self.scale_raw[idx], self.dofs_raw[idx], self.width)

    def to(self, device) -> Action:
        return Action(*(t.to(device) for t in (self.pixel, self.zoom, self.scale_raw, self.dofs_raw)), self.width)

    def detach(self) -> Action:
        return Action(*(t.detach() for t in (self.pixel, self.zoom, self.scale_raw, self.dofs_raw)), self.width)

    def with_zoom(self, zoom: torch.Tensor | float) -> Action:
        z = torch.as_tensor(zoom, dtype=self.zoom.dtype, device=self.zoom.device).expand_as(self.zoom).clone()
        return replace(self, zoom=z)

    @staticmethod
    def cat(actions: list[Action]) -> Action:
        if not actions:
            raise ValueError("cannot concatenate an empty list of actions")
        widths = {a.width for a in actions}
        if len(widths) != 1:
            raise ValueError(f"actions index images of different widths: {sorted(widths)}")
        return Action(
            torch.cat([a.pixel for a in actions]),
            torch.cat([a.zoom for a in actions]),
            torch.cat([a.scale_raw for a in actions]),
            torch.cat([a.dofs_raw for a in actions]),
            actions[0].width,
        )


def _normal_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return -((x - mean) ** 2) / (2 * std**2) - std.log() - _LOG_SQRT_2PI


def _normal_entropy(std: torch.Tensor) -> torch.Tensor:
    return 0.5 + _LOG_SQRT_2PI + std.log()


@dataclass
class HeadParams:
    """Distribution parameters at given pixels (B rows)."""

    zoom_logit: torch.Tensor  # (B,)
    scale_mean: torch.Tensor  # (B,)
    dof_mean: torch.Tensor  # (B, 7) in raw units


def head_params(pre: torch.Tensor) -> HeadParams:
    """(B, 9) pre-activations [zoom, scale, roll, pitch, yaw, spread, f1, f2, f3] -> means."""
    if pre.dim() != 2 or pre.shape[1] != 9:
        raise ValueError(f"expected (B, 9) head pre-activations, got {tuple(pre.shape)}")
    rpy = torch.stack([torch.tanh(pre[:, 2]), torch.sigmoid(pre[:, 3]), torch.tanh(pre[:, 4])], dim=1)
    fingers = torch.sigmoid(pre[:, 5:9])
    return HeadParams(pre[:, 0], torch.sigmoid(pre[:, 1]), torch.cat([rpy, fingers], dim=1))


class PixelActionDistribution:
    """π(a | s) for a batch, eq. 3-7 / eq. 9 (see the module docstring).

    position_logits: (B, H, W) logits of the spatial softmax.
    head_fn: pixel (B,) long -> (B, 9) pre-activations at those pixels.
    log_std: (8,) learned log σ in STD_NAMES order (scale, roll, pitch, yaw, spread, f1..f3).
    must_grasp: (B,) bool or None.
    constraints: DofConstraints or None.
    """

    def __init__(
        self,
        position_logits: torch.Tensor,
        head_fn: Callable[[torch.Tensor], torch.Tensor],
        log_std: torch.Tensor,
        must_grasp: torch.Tensor | None = None,
        constraints: DofConstraints | None = None,
    ):
        if position_logits.dim() != 3:
            raise ValueError(f"position_logits must be (B, H, W), got {tuple(position_logits.shape)}")
        if log_std.shape != (8,):
            raise ValueError(f"log_std must have shape (8,), got {tuple(log_std.shape)}")
        B, H, W = position_logits.shape
        self.batch, self.height, self.width = B, H, W
        self.pos_log_probs = F.log_softmax(position_logits.reshape(B, H * W), dim=1)
        self.head_fn = head_fn
        self.std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        self.constraints = constraints or DofConstraints()
        dev = position_logits.device
        mg = torch.zeros(B, dtype=torch.bool, device=dev) if must_grasp is None else must_grasp.to(dev).bool()
        if mg.shape != (B,):
            raise ValueError(f"must_grasp must be (B,)={B}, got {tuple(mg.shape)}")
        if self.constraints.no_zoom:
            mg = torch.ones_like(mg)
        self.must_grasp = mg
        self.free = self.constraints.free_mask().to(dev)
        self.fixed_raw = self.constraints.fixed_raw().to(dev, position_logits.dtype)
        self._cache: tuple[torch.Tensor, HeadParams] | None = None

    @classmethod
    def from_maps(
        cls,
        maps: torch.Tensor,
        log_std: torch.Tensor,
        must_grasp: torch.Tensor | None = None,
        constraints: DofConstraints | None = None,
    ) -> PixelActionDistribution:
        """From full maps (B, 10, H, W) as returned by PixelAttentiveNet.forward_maps."""
        if maps.dim() != 4 or maps.shape[1] != 10:
            raise ValueError(f"maps must be (B, 10, H, W), got {tuple(maps.shape)}")
        B = maps.shape[0]
        flat = maps[:, 1:].flatten(2)  # (B, 9, H*W)

        def head_fn(pixel: torch.Tensor) -> torch.Tensor:
            return flat.gather(2, pixel.view(B, 1, 1).expand(B, 9, 1))[:, :, 0]

        return cls(maps[:, 0], head_fn, log_std, must_grasp, constraints)

    # -- parameters at a pixel --------------------------------------------------------------

    def params_at(self, pixel: torch.Tensor) -> HeadParams:
        """Means at the given pixels (cached for the last pixel tensor)."""
        if self._cache is not None and self._cache[0] is pixel:
            return self._cache[1]
        hp = head_params(self.head_fn(pixel))
        self._cache = (pixel, hp)
        return hp

    def position_probs(self) -> torch.Tensor:
        """(B, H, W) spatial-softmax probabilities."""
        return self.pos_log_probs.exp().view(self.batch, self.height, self.width)

    def zoom_prob(self, pixel: torch.Tensor) -> torch.Tensor:
        """(B,) p(zoom | pixel), 0 where must_grasp."""
        p = torch.sigmoid(self.params_at(pixel).zoom_logit)
        return torch.where(self.must_grasp, torch.zeros_like(p), p)

    def _fill_fixed(self, dofs: torch.Tensor) -> torch.Tensor:
        return torch.where(self.free, dofs, self.fixed_raw.expand_as(dofs))

    # -- sampling ---------------------------------------------------------------------------

    def sample(self, generator: torch.Generator | None = None) -> Action:
        """Draw one action per batch row (pass a seeded torch.Generator for reproducibility).

        The returned tensors carry no gradient; the head parameters at the sampled pixel
        are cached (with the caller's grad mode) for a following log_prob/entropy call.
        """
        with torch.no_grad():
            pixel = torch.multinomial(self.pos_log_probs.exp(), 1, generator=generator)[:, 0]
        hp = self.params_at(pixel)
        with torch.no_grad():
            dev, dt = hp.scale_mean.device, hp.scale_mean.dtype
            u = torch.rand(self.batch, generator=generator, device=dev, dtype=dt)
            zoom = ((u < torch.sigmoid(hp.zoom_logit)) & ~self.must_grasp).to(dt)
            noise = torch.randn(self.batch, 8, generator=generator, device=dev, dtype=dt)
            scale_raw = hp.scale_mean + self.std[0] * noise[:, 0]
            dofs = self._fill_fixed(hp.dof_mean + self.std[1:] * noise[:, 1:])
        return Action(pixel, zoom, scale_raw, dofs, self.width)

    def mode(self) -> Action:
        """Deterministic action: argmax pixel, zoom iff p(zoom) > 0.5, Gaussian means."""
        with torch.no_grad():
            pixel = self.pos_log_probs.argmax(dim=1)
        hp = self.params_at(pixel)
        with torch.no_grad():
            zoom = ((hp.zoom_logit > 0) & ~self.must_grasp).to(hp.scale_mean.dtype)
            dofs = self._fill_fixed(hp.dof_mean)
            scale = hp.scale_mean.clone()
        return Action(pixel, zoom, scale, dofs, self.width)

    # -- log-prob and entropy -----------------------------------------------------------------

    def log_prob_terms(self, action: Action) -> dict[str, torch.Tensor]:
        """The (B,) terms of eq. 9 before masking: position, zoom, scale, dofs (B, 7)."""
        if action.width != self.width:
            raise ValueError(f"action indexes an image of width {action.width}, distribution has {self.width}")
        hp = self.params_at(action.pixel)
        lp_pos = self.pos_log_probs.gather(1, action.pixel[:, None])[:, 0]
        z = action.zoom.to(hp.zoom_logit.dtype)
        lp_flag = z * F.logsigmoid(hp.zoom_logit) + (1 - z) * F.logsigmoid(-hp.zoom_logit)
        lp_flag = torch.where(self.must_grasp, torch.zeros_like(lp_flag), lp_flag)
        lp_scale = _normal_log_prob(action.scale_raw, hp.scale_mean, self.std[0])
        lp_dofs = _normal_log_prob(action.dofs_raw, hp.dof_mean, self.std[1:])
        lp_dofs = torch.where(self.free, lp_dofs, torch.zeros_like(lp_dofs))
        return {"position": lp_pos, "zoom": lp_flag, "scale": lp_scale, "dofs": lp_dofs}

    def log_prob(self, action: Action) -> torch.Tensor:
        """(B,) log π(a | s), eq. 9."""
        t = self.log_prob_terms(action)
        z = torch.where(self.must_grasp, 0.0, action.zoom.to(t["scale"].dtype))  # must_grasp: a_zoom = 0
        return t["position"] + t["zoom"] + z * t["scale"] + (1 - z) * t["dofs"].sum(dim=1)

    def entropy(self, action: Action) -> torch.Tensor:
        """(B,) H(pos) + H(flag | pix) + p_zoom·H(scale) + (1 - p_zoom)·Σ H(free dofs) at action.pixel."""
        h_pos = -(self.pos_log_probs.exp() * self.pos_log_probs).sum(dim=1)
        logit = self.params_at(action.pixel).zoom_logit
        p = torch.sigmoid(logit)
        h_flag = F.binary_cross_entropy_with_logits(logit, p, reduction="none")
        p = torch.where(self.must_grasp, torch.zeros_like(p), p)
        h_flag = torch.where(self.must_grasp, torch.zeros_like(h_flag), h_flag)
        h_gauss = _normal_entropy(self.std)
        h_dofs = (h_gauss[1:] * self.free).sum()
        return h_pos + h_flag + p * h_gauss[0] + (1 - p) * h_dofs
