"""The zoom loop (paper Algorithm 1) over one depth image, as a stepping MDP and a function.

Coordinates. The original depth image is H x W (any size, not necessarily square). Pixels
are (u, v) = (column, row) with pixel centres at integers (as in pa_grasp_perception). A view
box (x0, y0, w, h) is given in pixel-*edge* coordinates of the original image (floats): the
full image is (0, 0, W, H) and pixel u covers [u, u+1). The box is resampled to the S x S
network input (S = input_size), so view pixel (row, col) has its centre at

    u = x0 + (col + 0.5) * w / S - 0.5,    v = y0 + (row + 0.5) * h / S - 0.5.

Zooming at view pixel (row, col) with applied scale a: the new box has sides a·w, a·h (aspect
ratio kept), is centred on that pixel's centre and shifted (not shrunk) to stay inside the
image; s_scale <- s_scale · a (= w_new / W). The applied scale is the raw sample clipped to
[max(min_scale, min_crop_px / min(w, h)), 1], so no box is ever smaller than min_crop_px.

Termination. ``must_grasp`` is set in the observation when step >= max_zoom_steps or the box
is already at the minimal size (min(w, h) <= min_crop_px); then the step is a grasp whatever
the action's flag says (the policy's distribution already forces flag = 0 there). So an
episode has at most max_zoom_steps + 1 steps.

``ZoomState`` is the stepping MDP (observation() / apply(action)); ``run_zoom_loop`` drives it
with an ``act(observation) -> (Action, extra)`` callable until the grasp (Algorithm 1,
lines 1-11). Training (via the env) and the ROS node both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from pa_grasp_policy.model.distribution import Action, DofConstraints
from pa_grasp_policy.model.network import preprocess_depth

Box = tuple[float, float, float, float]  # (x0, y0, w, h), original-image pixel-edge coordinates


@dataclass(frozen=True)
class ZoomConfig:
    """input_size: network input side S. max_zoom_steps: zooms allowed before the grasp is
    forced (0 = no attention). min_crop_px: smallest box side in original pixels.
    min_scale: smallest applied zoom scale per step (fraction of the current view side)."""

    input_size: int = 96
    max_zoom_steps: int = 4
    min_crop_px: float = 24.0
    min_scale: float = 0.25

    def __post_init__(self):
        if self.input_size <= 0:
            raise ValueError(f"input_size must be positive, got {self.input_size}")
        if self.max_zoom_steps < 0:
            raise ValueError(f"max_zoom_steps must be >= 0, got {self.max_zoom_steps}")
        if not 0 < self.min_scale <= 1:
            raise ValueError(f"min_scale must be in (0, 1], got {self.min_scale}")
        if self.min_crop_px < 1:
            raise ValueError(f"min_crop_px must be >= 1, got {self.min_crop_px}")

    def constrained(self, constraints: DofConstraints | None) -> ZoomConfig:
        """This config with the zoom budget of an ablation applied (min of both)."""
        if constraints is None or constraints.max_zoom_steps is None:
            return self
        return replace(self, max_zoom_steps=min(self.max_zoom_steps, constraints.max_zoom_steps))

    def for_image(self, image_shape: tuple[int, ...], trained_side_px: int) -> ZoomConfig:
        """This config for a depth image of `image_shape` (h, w, ...) when min_crop_px counts
        pixels of the square camera of `trained_side_px` the policy was trained with: the
        smallest box keeps its share of the view, so a finer or coarser camera of the same view
        zooms as far into the table as in training (not 2x further at twice the pixels)."""
        if trained_side_px <= 0:
            raise ValueError(f"trained_side_px must be positive, got {trained_side_px}")
        side = min(image_shape[0], image_shape[1])
        return replace(self, min_crop_px=max(1.0, self.min_crop_px * side / trained_side_px))


@dataclass
class Observation:
    """What the policy sees at one step (the paper's s_t = {s_depth, s_scale}).

    depth: (1, S, S) float32, preprocessed (``preprocess_depth``) crop of the view box.
    scale: s_scale, current box side / full image side (1 at the first step).
    must_grasp: the flag must be 0 (grasp) at this step.
    step: 0-based step index in the episode; box: the view box (original pixels).
    """

    depth: np.ndarray
    scale: float
    must_grasp: bool
    step: int = 0
    box: Box = (0.0, 0.0, 0.0, 0.0)


@dataclass
class StepRecord:
    """One step of an episode: the observation, the applied action (batch of 1, flag forced to
    0 on must_grasp steps), the log-prob reported by ``act`` (extra["log_prob"], or None)
    and ``act``'s extra dict."""

    observation: Observation
    action: Action
    log_prob: float | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ZoomResult:
    """The grasp chosen by the zoom loop.

    grasp_uv: grasp pixel (u, v) in the original image (float, pixel centres at integers).
    grasp_rpy: (3,) applied roll, pitch, yaw (rad). hand_joints: (4,) spread, finger1..3 (rad).
    boxes: every view box visited (the first is the full image; the last is the grasp view).
    steps: per-step records for training. scale: s_scale of the grasp view.
    """

    grasp_uv: tuple[float, float]
    grasp_rpy: np.ndarray
    hand_joints: np.ndarray
    boxes: list[Box]
    steps: list[StepRecord]
    scale: float

    @property
    def n_zooms(self) -> int:
        return len(self.steps) - 1

    @property
    def final_action(self) -> Action:
        return self.steps[-1].action


def _scalar_or_array(x: np.ndarray):
    return float(x) if x.ndim == 0 else x


def view_to_original(pixel_rc, box: Box, input_size: int):
    """View pixel (row, col) of the S x S network input -> (u, v) in the original image.

    Scalars give a tuple of floats; arrays of rows/cols (same shape) give arrays.
    """
    row, col = np.asarray(pixel_rc[0], dtype=np.float64), np.asarray(pixel_rc[1], dtype=np.float64)
    x0, y0, w, h = box
    u = x0 + (col + 0.5) * w / input_size - 0.5
    v = y0 + (row + 0.5) * h / input_size - 0.5
    return _scalar_or_array(u), _scalar_or_array(v)


def original_to_view(uv, box: Box, input_size: int):
    """(u, v) in the original image -> fractional view pixel (row, col); inverse of the above."""
    u, v = np.asarray(uv[0], dtype=np.float64), np.asarray(uv[1], dtype=np.float64)
    x0, y0, w, h = box
    row = (v + 0.5 - y0) * input_size / h - 0.5
    col = (u + 0.5 - x0) * input_size / w - 0.5
    return _scalar_or_array(row), _scalar_or_array(col)


def crop_and_resize(depth: np.ndarray, box: Box, input_size: int) -> np.ndarray:
    """Resample the box of ``depth`` (HxW metres, NaN or <= 0 invalid) to S x S metres.

    NaN-aware: values and a validity mask are resampled alike and divided, so invalid pixels
    never leak into valid ones; an output pixel with less than half valid support is NaN.
    Bilinear at the exact (sub-pixel) box geometry, then exact k x k area averaging when the
    box is at least k times larger than S (anti-aliasing for strong downsampling).
    """
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim != 2:
        raise ValueError(f"depth must be HxW, got shape {d.shape}")
    x0, y0, w, h = (float(b) for b in box)
    if not (w > 0 and h > 0):
        raise ValueError(f"box must have positive size, got {box}")
    valid = np.isfinite(d) & (d > 0)
    values = np.where(valid, d, 0.0).astype(np.float32)
    mask = valid.astype(np.float32)
    S = int(input_size)
    k = max(1, int(min(w, h) // S))
    n = S * k
    sx, sy = w / n, h / n
    # inverse map: intermediate pixel centre (j, i) -> source pixel-centre coordinates
    M = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]], dtype=np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = []
    for img in (values, mask):
        r = cv2.warpAffine(img, M, (n, n), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        if k > 1:
            r = cv2.resize(r, (S, S), interpolation=cv2.INTER_AREA)
        out.append(r)
    v, m = out
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(m > 0.5, v / np.maximum(m, 1e-12), np.nan)
    return res.astype(np.float32)


def check_start_box(box: Box, width: int, height: int) -> Box:
    """A region of interest (x0, y0, w, h) to start the zoom from, as floats; ValueError unless it
    is at least 1 px and inside the width x height image."""
    x0, y0, w, h = (float(b) for b in box)
    if not (w >= 1 and h >= 1 and x0 >= 0 and y0 >= 0 and x0 + w <= width and y0 + h <= height):
        raise ValueError(
            f"start box (x0={x0:g}, y0={y0:g}, w={w:g}, h={h:g}) must have a size >= 1 px and lie inside"
            f" the {width}x{height} image"
        )
    return (x0, y0, w, h)


class ZoomState:
    """The zoom MDP over one depth image: current box, s_scale and step.

    >>> state = ZoomState(depth, ZoomConfig())
    >>> while not state.done:
    ...     action, extra = act(state.observation())
    ...     state.apply(action)
    >>> state.grasp_uv
    """

    def __init__(self, depth: np.ndarray, config: ZoomConfig | None = None, start_box: Box | None = None):
        """``start_box``: a region of interest (x0, y0, w, h) in original pixel-edge coordinates
        to start from instead of the full image; s_scale then starts at w / W."""
        d = np.asarray(depth, dtype=np.float32)
        if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
            raise ValueError(f"depth must be a non-empty HxW image, got shape {d.shape}")
        self.depth = d
        self.config = config or ZoomConfig()
        self.height, self.width = d.shape
        self.box: Box = (0.0, 0.0, float(self.width), float(self.height))
        self.scale = 1.0
        if start_box is not None:
            self.box = check_start_box(start_box, self.width, self.height)
            self.scale = self.box[2] / self.width
        self.step = 0
        self.done = False
        self.boxes: list[Box] = [self.box]
        self.grasp_uv: tuple[float, float] | None = None
        self.last_action: Action | None = None
        self._view: tuple[Box, np.ndarray] | None = None

    @property
    def must_grasp(self) -> bool:
        c = self.config
        return self.step >= c.max_zoom_steps or min(self.box[2], self.box[3]) <= c.min_crop_px + 1e-6

    def view_m(self) -> np.ndarray:
        """Current view resampled to S x S, in metres (NaN = invalid); cached per box."""
        if self._view is None or self._view[0] != self.box:
            self._view = (self.box, crop_and_resize(self.depth, self.box, self.config.input_size))
        return self._view[1]

    def observation(self) -> Observation:
        if self.done:
            raise RuntimeError("episode is over (the grasp was chosen); create a new ZoomState")
        depth_in = preprocess_depth(self.view_m())[None]
        return Observation(depth_in, float(self.scale), bool(self.must_grasp), self.step, self.box)

    def applied_scale(self, scale_raw: float) -> float:
        """The zoom scale actually applied from the current box for a raw sample."""
        lo = max(self.config.min_scale, self.config.min_crop_px / min(self.box[2], self.box[3]))
        return float(min(max(scale_raw, lo), 1.0))

    def apply(self, action: Action) -> bool:
        """Apply one action (batch of 1, pixel in the S x S view). Returns done (= grasp)."""
        if self.done:
            raise RuntimeError("episode is over (the grasp was chosen); create a new ZoomState")
        if len(action) != 1:
            raise ValueError(f"apply() takes a batch of exactly 1 action, got {len(action)}")
        S = self.config.input_size
        if action.width != S:
            raise ValueError(f"action indexes a {action.width}-wide image, the view is {S} wide")
        row, col = (int(x) for x in action.rows_cols()[0])
        if not (0 <= row < S and 0 <= col < S):
            raise ValueError(f"pixel ({row}, {col}) outside the {S}x{S} view")
        if self.must_grasp or not bool(action.is_zoom()[0]):
            if bool(action.is_zoom()[0]):
                action = action.with_zoom(0.0)
            self.last_action = action
            u, v = view_to_original((row, col), self.box, S)
            # Float round-off in the box arithmetic must not push the pixel off the image.
            self.grasp_uv = (min(max(u, 0.0), self.width - 1.0), min(max(v, 0.0), self.height - 1.0))
            self.done = True
            return True
        a = self.applied_scale(float(action.scale_raw[0]))
        x0, y0, w, h = self.box
        cx, cy = x0 + (col + 0.5) * w / S, y0 + (row + 0.5) * h / S
        nw, nh = a * w, a * h
        nx0 = min(max(cx - nw / 2, 0.0), self.width - nw)
        ny0 = min(max(cy - nh / 2, 0.0), self.height - nh)
        self.box = (nx0, ny0, nw, nh)
        self.scale *= a
        self.step += 1
        self.boxes.append(self.box)
        self.last_action = action
        return False


def run_zoom_loop(
    depth: np.ndarray,
    act: Callable[[Observation], tuple[Action, dict[str, Any]]],
    config: ZoomConfig | None = None,
    start_box: Box | None = None,
) -> ZoomResult:
    """Algorithm 1 on one depth image (HxW metres, NaN = invalid), from ``start_box`` (a region
    of interest; default the whole image).

    ``act(observation) -> (action, extra)``: one action (batch of 1) for the observation;
    ``extra`` is any dict, its "log_prob" (float) is copied to the step record. See
    ``pa_grasp_policy.model.policy.Policy.actor`` for the network-backed act.
    """
    state = ZoomState(depth, config, start_box)
    steps: list[StepRecord] = []
    while not state.done:
        obs = state.observation()
        action, extra = act(obs)
        extra = dict(extra or {})
        state.apply(action)
        lp = extra.get("log_prob")
        steps.append(StepRecord(obs, state.last_action, None if lp is None else float(lp), extra))
    final = state.last_action
    return ZoomResult(
        grasp_uv=state.grasp_uv,
        grasp_rpy=final.grasp_rpy()[0].detach().cpu().numpy().astype(np.float64),
        hand_joints=final.hand_joints()[0].detach().cpu().numpy().astype(np.float64),
        boxes=list(state.boxes),
        steps=steps,
        scale=state.scale,
    )
