"""Measurements of the object around a grasp, read from the depth image (core: no ROS).

What a person checks before trusting a grasp: how wide the object is along the hand's closing
axis and across it, how far the grasp is off the object's middle, how tall the object is at the
grasp and where the fingers will land, which way it is elongated relative to the hand. The turn
selector reads these beside the policy's own features (planner.selector; with them it picks a grasp
that lifts in more fresh single seen scenes: docs/experiments.md at commit 0afafb4, "Object measurements for the
turn selector").

Measured in a square window centred on the grasp pixel and turned by the grasp's yaw, so "x" is
always the same axis of the hand. Heights are above the table, taken as the median depth of the
image (right for scenes where most of the view is table, as the top-down views here are). Pixel
counts are in the training camera's pixels: `pixel_scale` (image side / trained side) stretches
the window for a finer or coarser camera of the same view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class GeometryConfig:
    window_px: int = 64  # window side, in training-camera pixels (~24 cm at the table)
    object_height_m: float = 0.005  # heights above this count as object
    finger_offsets_px: tuple[int, ...] = (6, 12, 18, 24)  # where heights are sampled along each axis


GEOMETRY = GeometryConfig()

WINDOW_NAMES = (
    ("h_centre", "h_max", "h_max_minus_centre", "on_object", "area", "cx", "cy", "abs_cx", "abs_cy")
    + ("ext_left", "ext_right", "width_x", "asym_x", "ext_up", "ext_down", "width_y", "asym_y")
    + ("cos2theta", "sin2theta", "log_elongation", "touches_border")
    + tuple(f"h_x{s}{d}" for d in GEOMETRY.finger_offsets_px for s in "+-")
    + tuple(f"h_y{s}{d}" for d in GEOMETRY.finger_offsets_px for s in "+-")
)
GRASP_NAMES = ("sin_roll", "cos_roll", "pitch", "spread", "finger1", "finger2", "finger3")
GEOMETRY_NAMES = WINDOW_NAMES + GRASP_NAMES


def window_heights(
    depth: np.ndarray, u: float, v: float, yaw: float, pixel_scale: float = 1.0, config: GeometryConfig = GEOMETRY
) -> np.ndarray:
    """Heights above the table (m) on a window_px x window_px grid centred on pixel (u, v), its
    x axis along the grasp's yaw, each cell `pixel_scale` image pixels wide."""
    if depth.ndim != 2:
        raise ValueError(f"depth must be a 2-D image, got shape {depth.shape}")
    if not pixel_scale > 0:
        raise ValueError(f"pixel_scale must be positive, got {pixel_scale}")
    n = config.window_px
    finite = np.isfinite(depth)
    if not finite.any():  # nothing measured: a window of table, nothing on it
        return np.zeros((n, n), np.float32)
    filled = np.where(finite, depth, depth[finite].max()).astype(np.float32)  # holes read as table or below
    table = float(np.median(filled))
    c, s = math.cos(yaw), math.sin(yaw)
    linear = pixel_scale * np.array([[c, -s], [s, c]])
    centre = n / 2 - 0.5
    to_image = np.hstack([linear, (np.array([u, v]) - linear @ [centre, centre])[:, None]])
    window = cv2.warpAffine(
        filled, to_image, (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return table - window


def _run_length(line: np.ndarray) -> int:
    """How many cells from the start of `line` are object before the first gap."""
    gaps = np.flatnonzero(~line)
    return int(gaps[0]) if len(gaps) else len(line)


def measure_window(heights: np.ndarray, config: GeometryConfig = GEOMETRY) -> np.ndarray:
    """WINDOW_NAMES for one window of heights (window_heights)."""
    n = heights.shape[0]
    mid = n // 2
    mask = heights > config.object_height_m
    h_centre = float(np.median(heights[mid - 1 : mid + 2, mid - 1 : mid + 2]))
    rows, cols = np.nonzero(mask)
    if len(rows):
        cy, cx = rows.mean() - mid, cols.mean() - mid
        dx, dy = cols - mid - cx, rows - mid - cy
        mu20, mu02, mu11 = (dx**2).mean(), (dy**2).mean(), (dx * dy).mean()
        theta = 0.5 * math.atan2(2 * mu11, mu20 - mu02)
        spread = math.sqrt((mu20 - mu02) ** 2 + 4 * mu11**2)
        # ratio of the principal second moments (+1 keeps a line of cells finite)
        elongation = (mu20 + mu02 + spread) / (mu20 + mu02 - spread + 1.0)
        if elongation <= 0:  # one cell: no shape to be elongated (log(0) is undefined)
            elongation = 1.0
    else:
        cx = cy = theta = 0.0
        elongation = 1.0
    band_x, band_y = mask[mid - 1 : mid + 2].any(0), mask[:, mid - 1 : mid + 2].any(1)
    left, right = _run_length(band_x[mid::-1]), _run_length(band_x[mid:])
    up, down = _run_length(band_y[mid::-1]), _run_length(band_y[mid:])
    profile = []
    for axis in (0, 1):
        for d in config.finger_offsets_px:
            for sign in (1, -1):
                r, c = (mid, mid + sign * d) if axis == 0 else (mid + sign * d, mid)
                profile.append(float(heights[r - 1 : r + 2, c - 1 : c + 2].mean()) - h_centre)
    border = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
    values = [h_centre, float(heights.max()), float(heights.max()) - h_centre, float(mask[mid, mid]), mask.mean()]
    values += [cx, cy, abs(cx), abs(cy), left, right, left + right, abs(left - right)]
    values += [up, down, up + down, abs(up - down), math.cos(2 * theta), math.sin(2 * theta)]
    values += [math.log(elongation), float(border)]
    return np.array(values + profile, np.float64)


def object_geometry(
    depth: np.ndarray,
    uv: tuple[float, float],
    rpy: tuple[float, float, float],
    hand_joints: tuple[float, ...],
    pixel_scale: float = 1.0,
    config: GeometryConfig = GEOMETRY,
) -> np.ndarray:
    """GEOMETRY_NAMES for one grasp in `depth` (metres): the window's measurements, then the
    grasp's own roll (sin, cos), pitch and hand joints (spread, fingers 1-3)."""
    roll, pitch, yaw = (float(x) for x in rpy)
    heights = window_heights(depth, float(uv[0]), float(uv[1]), yaw, pixel_scale, config)
    own = [math.sin(roll), math.cos(roll), pitch, *(float(x) for x in hand_joints)]
    if len(own) != len(GRASP_NAMES):
        raise ValueError(f"hand_joints must be (spread, finger1, finger2, finger3), got {len(hand_joints)} values")
    return np.concatenate([measure_window(heights, config), own])
