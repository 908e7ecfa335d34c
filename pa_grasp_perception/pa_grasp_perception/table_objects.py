"""What stands above the table in a depth image (core: numpy + scipy).

Frames: `T_table_camera` is the camera's optical frame in a frame whose z = 0 plane is the table
top, z up (the simulator's world frame; on a robot, the base frame moved down to the table).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

ABOVE_TABLE_M = 0.003  # what is higher than this above the table is an object
MIN_PIXELS = 4  # smaller regions are sensor noise, not objects


def table_points(depth: np.ndarray, intrinsics, T_table_camera: np.ndarray) -> np.ndarray:
    """(H, W, 3) every pixel's point in the table frame (NaN where the depth is invalid)."""
    v, u = np.mgrid[0 : depth.shape[0], 0 : depth.shape[1]]
    d = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)
    p_camera = np.stack([(u - intrinsics.cx) * d / intrinsics.fx, (v - intrinsics.cy) * d / intrinsics.fy, d], -1)
    return p_camera @ T_table_camera[:3, :3].T + T_table_camera[:3, 3]


def object_regions(
    points: np.ndarray, above_table_m: float = ABOVE_TABLE_M, min_pixels: int = MIN_PIXELS
) -> list[np.ndarray]:
    """The seen points (n, 3) of each connected region more than `above_table_m` above the table
    and at least `min_pixels` large (smaller ones are sensor noise), largest first."""
    with np.errstate(invalid="ignore"):
        above = points[..., 2] > above_table_m
    labels, count = ndimage.label(above)
    regions = [points[labels == k] for k in range(1, count + 1)]
    return sorted((r for r in regions if len(r) >= min_pixels), key=len, reverse=True)


def objects_in_view(depth: np.ndarray, intrinsics, T_table_camera: np.ndarray, box=None) -> int:
    """How many regions stand above the table in the depth image (or in its `box`, (x, y, w, h)
    pixels): 0 means there is nothing to grasp, or the table's pose is wrong."""
    points = table_points(depth, intrinsics, T_table_camera)
    if box is not None:
        x, y, w, h = (int(round(c)) for c in box)
        points = points[max(y, 0) : y + h, max(x, 0) : x + w]
    return len(object_regions(points))
