"""The four-branch feature-pyramid CNN of the paper (Fig. 3, eq. 1) and depth preprocessing.

Layout (S = input_size, must be a multiple of 16; channels for the default config):

    depth (B,1,S,S)
      C1 = 9x9 conv, s=2, 32                                      S/2
      C2 = 3x3 conv, s=2, 64  -> 3x3 conv, 64                     S/4
      C3 = 3x3 conv, s=2, 128 -> 3x3 conv, 128                    S/8
      C4 = 3x3 conv, s=2, 192 -> 3x3 conv, 192                    S/16
    feature pyramid, top-down ("P" blocks; 64 channels, P1 32):
      P4 = 1x1(C4)
      Pk = 3x3 conv(1x1(Ck) + 4x4 deconv s=2 (P(k+1)))            k = 3, 2, 1
    back to full resolution:
      F  = 4x4 deconv s=2 (P1) + 3x3 conv(depth), 16 channels     S
    four branches (eq. 1), each a per-pixel MLP on the hypercolumn
    h(r, c) = [F(r,c), P1(r//2,c//2), P2(r//4,c//4)] and s_scale:
      b_position  -> 1  (spatial-softmax logits; hidden 32)
      b_attention -> 2  (zoom-flag logit, zoom-scale pre-activation; 2 hidden layers of 64)
      b_rpy       -> 3  (roll, pitch, yaw pre-activations; idem)
      b_fingers   -> 4  (spread, finger1..3 pre-activations; idem)

All convolutions have ReLU activations. The deepest pyramid level reaches full resolution
through 4 deconvolutions and P1 through 1 (the paper: "1 to 5" at 224 px). The zoom level
s_scale enters every branch as an extra constant input channel ("C" blocks of Fig. 3): a
1x1 conv over [h, s·1] equals W·h + w_s·s, which is how it is computed.

Because the branches are per-pixel, the 9 non-position values only need evaluating at the
sampled pixel. ``forward_maps`` computes all 10 maps (visualisation/tests); acting and
training use ``encode`` once, then ``position_logits`` (full map, needed for the softmax)
and ``heads_at`` (the 9 values at given pixels) -- mathematically identical to reading the
full maps at those pixels (tested). ~1.1 M parameters.

The network also owns the learned, state-independent Gaussian log-σ (8 values: zoom scale,
roll, pitch, yaw, spread, finger1..3), expressed in the unscaled space of the Gaussians
(sigmoid/tanh means in [0,1] / [-1,1]). Initialised to σ = ``init_std`` = 0.2: that is
0.2·π ≈ 36° for roll/pitch/yaw, 0.2·π/2 ≈ 18° for the spread, 0.12 rad for the fingers
and ±0.2 of the current view for the zoom scale -- broad, but not uniform, exploration.
No batch norm (batch-1 acting and minibatch training must see the same function).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

# Channel layout of the 10 maps (also the order used everywhere else).
MAP_NAMES = ("position", "zoom", "scale", "roll", "pitch", "yaw", "spread", "finger1", "finger2", "finger3")
N_MAPS = 10
N_HEADS = 9  # maps 1..9: everything except the position logits
# Names of the 8 learned σ (the Gaussian components, same order as maps 2..9).
STD_NAMES = ("scale", "roll", "pitch", "yaw", "spread", "finger1", "finger2", "finger3")


def std_vector(std: float, std_rpy: float) -> list[float]:
    """σ per STD_NAMES entry: `std_rpy` for roll, pitch and yaw, `std` for the rest."""
    return [std_rpy if name in ("roll", "pitch", "yaw") else std for name in STD_NAMES]


# ---------------------------------------------------------------------------------------------
# Depth preprocessing
# ---------------------------------------------------------------------------------------------

DEPTH_UNIT_M = 0.1  # 1.0 network unit = 10 cm
DEPTH_REF_PERCENTILE = 90.0  # reference "floor" level of a view
DEPTH_CLIP = (-2.0, 4.0)  # in network units: 20 cm below the reference .. 40 cm above


def preprocess_depth(view_m: np.ndarray) -> np.ndarray:
    """Depth view (HxW, metres, NaN/<=0 = invalid) -> network input (HxW float32).

    1. Invalid pixels are filled with the view's maximum valid depth (a hole is never
       treated as a graspable surface).
    2. Heights relative to a robust far reference: x = (d_ref - d) / 0.1 m, with d_ref the
       90th percentile of the valid depths (the table in most views; robust to a few far
       outliers). Closer to the camera = larger; the table is ~0, a 10 cm tall object ~1.
    3. Clipped to [-2, 4].

    The absolute camera distance is removed, so the network sees shape; the zoom level is
    given to it separately (s_scale). A view with no valid pixel gives all zeros.
    Used for every view the network sees (training, evaluation, ROS node).
    """
    d = np.asarray(view_m, dtype=np.float32)
    if d.ndim != 2:
        raise ValueError(f"depth view must be HxW, got shape {d.shape}")
    valid = np.isfinite(d) & (d > 0)
    if not valid.any():
        return np.zeros(d.shape, dtype=np.float32)
    vals = d[valid]
    ref = np.float32(np.percentile(vals, DEPTH_REF_PERCENTILE))
    filled = np.where(valid, d, vals.max())
    x = (ref - filled) / np.float32(DEPTH_UNIT_M)
    return np.clip(x, DEPTH_CLIP[0], DEPTH_CLIP[1]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------


@dataclass
class NetworkConfig:
    """Hyper-parameters of PixelAttentiveNet (stored in checkpoints as a plain dict).

    input_size: side S of the square network input (paper: 224); multiple of 16, >= 32.
    base_channels: stem width; the encoder levels have (1, 2, 4, 6) x base_channels.
    fpn_channels: width of the pyramid blocks P2..P4 (S/4 .. S/16).
    fpn_fine_channels: width of the pyramid block P1 (S/2).
    feature_channels: width of the full-resolution feature map F.
    position_hidden: hidden width of the position branch (evaluated at every pixel).
    head_hidden: hidden width of the attention / rpy / fingers branches (two hidden layers;
        evaluated only at the sampled pixel when acting and training).
    init_std: initial σ of the scale, spread and finger Gaussians (unscaled space).
    init_std_rpy: initial σ of roll, pitch and yaw (unscaled: x π rad, so 0.05 = 9°). Kept
        small because a grasp tilted by more than ~15° drives the lower fingers into the table
        (measured: with 36° the pre-grasp pose collides in ~70% of the first episodes).
    init_zoom_logit: initial bias of the zoom-flag logit (0 -> p(zoom) = 0.5).
    init_spread_mean, init_finger_mean: initial sigmoid means (fraction of the range) of the
        spread and finger pre-shape. Fingers start nearly straight (0.05 x 0.61 rad): with the
        paper's 5 cm offset, fingers pre-closed by more than ~0.1 rad land on the object's top
        instead of around it (measured: 35% vs 0-3% lifts at random object pixels), so a
        mid-range start would leave almost no successes to learn from. Spread starts at pi/8.
    init_position_input_gain: initial weight of a learned skip connection from the input
        (preprocessed height above the view's background, in 0.1 m) to the position logits. At
        init the spatial softmax then prefers raised pixels (objects) over the table instead of
        being uniform: a single object covers ~3% of the image, so a uniform start succeeds on
        ~0.4% of episodes (measured) and leaves PPO almost nothing to learn from.
    value_head: add a state-value head (only needed with PPOConfig.use_value_baseline).
    """

    input_size: int = 96
    base_channels: int = 32
    fpn_channels: int = 64
    fpn_fine_channels: int = 32
    feature_channels: int = 16
    position_hidden: int = 32
    head_hidden: int = 64
    init_std: float = 0.2
    init_std_rpy: float = 0.05
    init_zoom_logit: float = 0.0
    init_spread_mean: float = 0.25
    init_finger_mean: float = 0.05
    init_position_input_gain: float = 8.0
    value_head: bool = False

    def __post_init__(self):
        if self.input_size < 32 or self.input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16 and >= 32, got {self.input_size}")
        for name in (
            "base_channels",
            "fpn_channels",
            "fpn_fine_channels",
            "feature_channels",
            "position_hidden",
            "head_hidden",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not self.init_std > 0:
            raise ValueError(f"init_std must be positive, got {self.init_std}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetworkConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown NetworkConfig keys: {sorted(unknown)}")
        return cls(**d)


def _pointwise(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """1x1 convolution without bias, (B,C,H,W) -> (B,O,H,W), as one batched matmul."""
    B, C, H, W = x.shape
    w = weight.flatten(1)
    return torch.bmm(w.expand(B, *w.shape), x.flatten(2)).view(B, -1, H, W)


def _add_coarse(fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """fine (B,C,H,W) + nearest-2x-upsampled coarse (B,C,H/2,W/2) (or broadcast (B,C,1,1))."""
    if coarse.shape[-1] == 1:
        return fine + coarse
    return fine + F.interpolate(coarse, scale_factor=2, mode="nearest")


class PixelBranch(nn.Module):
    """A branch b_x: per-pixel MLP on the hypercolumn [F(r,c), P1(r//2,c//2), P2(r//4,c//4), s].

    ``forward_map`` evaluates it at every pixel of the full-resolution map, ``forward_vec`` on
    hypercolumns gathered at given pixels; both use the same weights and give identical
    values. In ``forward_map`` the first layer's coarse-level terms are computed at their own
    resolution and nearest-upsampled (a 1x1 conv commutes with nearest upsampling), and the
    bias + s_scale term is added at the coarsest level: only one hidden-width pass at full
    resolution.
    """

    def __init__(self, level_channels: tuple[int, ...], hidden: int, n_hidden: int, out_channels: int):
        super().__init__()
        self.inp = nn.ModuleList([nn.Conv2d(c, hidden, 1, bias=False) for c in level_channels])
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.scale_w = nn.Parameter(torch.zeros(hidden))  # weight of the constant s_scale channel
        self.hidden = nn.ModuleList([nn.Conv2d(hidden, hidden, 1) for _ in range(n_hidden - 1)])
        self.out = nn.Conv2d(hidden, out_channels, 1)
        bound = 1.0 / math.sqrt(sum(level_channels) + 1)
        for m in self.inp:
            nn.init.uniform_(m.weight, -bound, bound)
        nn.init.uniform_(self.scale_w, -bound, bound)

    def forward_map(self, levels: list[torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
        acc = (self.bias + scale[:, None] * self.scale_w)[:, :, None, None]  # (B,hidden,1,1)
        for k in reversed(range(len(levels))):
            acc = _add_coarse(_pointwise(levels[k], self.inp[k].weight), acc)
        h = F.relu(acc)
        for layer in self.hidden:
            h = F.relu(_pointwise(h, layer.weight) + layer.bias[:, None, None])
        return _pointwise(h, self.out.weight) + self.out.bias[:, None, None]

    def forward_vec(self, vecs: list[torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
        h = self.bias + scale[:, None] * self.scale_w
        for v, m in zip(vecs, self.inp):
            h = h + F.linear(v, m.weight.flatten(1))
        h = F.relu(h)
        for layer in self.hidden:
            h = F.relu(F.linear(h, layer.weight.flatten(1), layer.bias))
        return F.linear(h, self.out.weight.flatten(1), self.out.bias)


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    """Exact 2x upsampling (4x4 kernel, stride 2, padding 1)."""
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)


class PixelAttentiveNet(nn.Module):
    """depth (B,1,S,S) + s_scale (B,) -> 10 maps (B,10,S,S); see the module docstring."""

    def __init__(self, config: NetworkConfig | None = None):
        super().__init__()
        self.config = cfg = config or NetworkConfig()
        b = cfg.base_channels
        c1, c2, c3, c4 = b, 2 * b, 4 * b, 6 * b
        p1, p = cfg.fpn_fine_channels, cfg.fpn_channels
        # encoder
        self.stem = _conv(1, c1, 9, stride=2)
        self.enc2 = nn.ModuleList([_conv(c1, c2, 3, 2), _conv(c2, c2, 3)])
        self.enc3 = nn.ModuleList([_conv(c2, c3, 3, 2), _conv(c3, c3, 3)])
        self.enc4 = nn.ModuleList([_conv(c3, c4, 3, 2), _conv(c4, c4, 3)])
        # feature pyramid: top-down pathway with learned (deconvolution) upsampling
        self.lat4 = nn.Conv2d(c4, p, 1)
        self.lat3, self.up3, self.smooth3 = nn.Conv2d(c3, p, 1), _deconv(p, p), _conv(p, p, 3)
        self.lat2, self.up2, self.smooth2 = nn.Conv2d(c2, p, 1), _deconv(p, p), _conv(p, p, 3)
        self.lat1, self.up1, self.smooth1 = nn.Conv2d(c1, p1, 1), _deconv(p, p1), _conv(p1, p1, 3)
        # back to full resolution: deconvolution, then a 3x3 conv that also sees the raw input
        fc = cfg.feature_channels
        self.up0 = _deconv(p1, fc)
        self.depth_skip = _conv(1, fc, 3)
        # the four branches on the hypercolumn (F, P1, P2) + s_scale
        levels = (fc, p1, p)
        self.b_position = PixelBranch(levels, cfg.position_hidden, 1, 1)
        self.b_attention = PixelBranch(levels, cfg.head_hidden, 2, 2)
        self.b_rpy = PixelBranch(levels, cfg.head_hidden, 2, 3)
        self.b_fingers = PixelBranch(levels, cfg.head_hidden, 2, 4)
        # learned state-independent log σ (unscaled space), order STD_NAMES
        self.log_std = nn.Parameter(torch.log(torch.tensor(std_vector(cfg.init_std, cfg.init_std_rpy))))
        self.position_input_gain = nn.Parameter(torch.tensor(float(cfg.init_position_input_gain)))
        # optional state value V(s) from the bottleneck + s_scale
        self.value = nn.Sequential(nn.Linear(c4 + 1, 64), nn.ReLU(), nn.Linear(64, 1)) if cfg.value_head else None
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d) and m.kernel_size != (1, 1):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        # Output layers start small: near-uniform spatial softmax, and all means at the
        # centre of their range (p(zoom) from init_zoom_logit, scale 0.5, roll = yaw = 0,
        # pitch = π/2 i.e. top-down; spread and fingers from their init means).
        for br in (self.b_position, self.b_attention, self.b_rpy, self.b_fingers):
            nn.init.normal_(br.out.weight, std=0.01)
            nn.init.zeros_(br.out.bias)
        with torch.no_grad():
            self.b_attention.out.bias[0] = self.config.init_zoom_logit
            self.b_fingers.out.bias[0] = _logit(self.config.init_spread_mean)
            self.b_fingers.out.bias[1:] = _logit(self.config.init_finger_mean)
        if self.value is not None:
            nn.init.normal_(self.value[2].weight, std=0.01)
            nn.init.zeros_(self.value[2].bias)

    # -- backbone ---------------------------------------------------------------------------

    def set_input_size(self, input_size: int) -> None:
        """Use the same weights at another input side. Every layer is convolutional or
        per-pixel, so nothing depends on S; only the scale objects appear at in pixels changes,
        which is why a re-sized network needs fine-tuning before it acts as well."""
        self.config = replace(self.config, input_size=int(input_size))

    def _check_input(self, depth: torch.Tensor, scale: torch.Tensor):
        if depth.dim() != 4 or depth.shape[1] != 1 or depth.shape[2] % 16 or depth.shape[3] % 16:
            raise ValueError(f"depth must be (B,1,H,W) with H, W multiples of 16, got {tuple(depth.shape)}")
        if scale.shape != (depth.shape[0],):
            raise ValueError(f"scale must be (B,)=({depth.shape[0]},), got {tuple(scale.shape)}")

    def encode(self, depth: torch.Tensor, scale: torch.Tensor | None = None) -> dict:
        """Backbone g(s_depth) -> {"levels": [F (S), P1 (S/2), P2 (S/4)], "bottleneck": C4}.

        ``scale`` is only used for the input check (the backbone does not see it, eq. 1).
        """
        if scale is not None:
            self._check_input(depth, scale)
        x1 = F.relu(self.stem(depth))
        x2 = x1
        for conv in self.enc2:
            x2 = F.relu(conv(x2))
        x3 = x2
        for conv in self.enc3:
            x3 = F.relu(conv(x3))
        x4 = x3
        for conv in self.enc4:
            x4 = F.relu(conv(x4))
        p4 = F.relu(self.lat4(x4))
        p3 = F.relu(self.smooth3(self.lat3(x3) + self.up3(p4)))
        p2 = F.relu(self.smooth2(self.lat2(x2) + self.up2(p3)))
        p1 = F.relu(self.smooth1(self.lat1(x1) + self.up1(p2)))
        feat = F.relu(self.up0(p1) + self.depth_skip(depth))
        return {"levels": [feat, p1, p2], "bottleneck": x4, "input": depth}

    # -- fast path --------------------------------------------------------------------------

    def position_logits(self, enc: dict, scale: torch.Tensor) -> torch.Tensor:
        """Position logits (B,H,W) of the full map (the spatial softmax needs all of them)."""
        return self.b_position.forward_map(enc["levels"], scale)[:, 0] + self.position_input_gain * enc["input"][:, 0]

    @staticmethod
    def hypercolumns(enc: dict, pixel: torch.Tensor) -> list[torch.Tensor]:
        """Per-level feature vectors [(B,C_k)] at flat full-resolution pixel indices (B,)."""
        levels = enc["levels"]
        W = levels[0].shape[-1]
        row, col = pixel // W, pixel % W
        out = []
        for k, lv in enumerate(levels):
            B, C, _, Wk = lv.shape
            idx = (row >> k) * Wk + (col >> k)
            out.append(lv.flatten(2).gather(2, idx.view(B, 1, 1).expand(B, C, 1))[:, :, 0])
        return out

    def heads_at(self, enc: dict, scale: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
        """The 9 non-position pre-activations (B,9) at flat pixel indices ``pixel`` (B,).

        Order: zoom logit, scale, roll, pitch, yaw, spread, finger1, finger2, finger3
        (maps 1..9). Equal to ``forward_maps(...)[b, 1:, row, col]``.
        """
        vecs = self.hypercolumns(enc, pixel)
        return torch.cat([br.forward_vec(vecs, scale) for br in (self.b_attention, self.b_rpy, self.b_fingers)], dim=1)

    def state_value(self, enc: dict, scale: torch.Tensor) -> torch.Tensor:
        """V(s) (B,) from the pooled bottleneck and s_scale (requires config.value_head)."""
        if self.value is None:
            raise RuntimeError("this network has no value head (NetworkConfig.value_head=False)")
        pooled = enc["bottleneck"].mean(dim=(2, 3))
        return self.value(torch.cat([pooled, scale[:, None]], dim=1))[:, 0]

    # -- full maps --------------------------------------------------------------------------

    def forward_maps(self, depth: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """All 10 maps (B,10,H,W), channel order MAP_NAMES (pre-activations / logits)."""
        enc = self.encode(depth, scale)
        levels = enc["levels"]
        branches = (self.b_attention, self.b_rpy, self.b_fingers)
        return torch.cat(
            [self.position_logits(enc, scale)[:, None]] + [br.forward_map(levels, scale) for br in branches], dim=1
        )

    forward = forward_maps


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
