"""What the arm must not hit on its way to a grasp, from one depth image (core: numpy).

The points more than ``above_table_m`` above the table are binned on an x-y grid of the base
frame (anchored at its origin, so a cell is the same from one image to the next); every cell
holding at least ``min_points_per_cell`` of them becomes a box standing on the table top, as
tall as the cell's highest point plus ``padding_m``. The x-y footprint is the whole cell, which
already contains every point seen in it. Cells that reach within ``target_clearance_m`` of the
grasp's surface point (in x-y) are left out: the fingers reach around the target, and the hand
touches it at the grasp. What the camera cannot see (the far side of an object, under an
overhang) is not covered beyond the column under what it sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pa_grasp_perception.table_objects import table_points


@dataclass(frozen=True)
class CollisionBox:
    """An axis-aligned box: its centre and full edge lengths along x, y, z (m) of its frame."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def __post_init__(self):
        center, size = tuple(float(c) for c in self.center), tuple(float(s) for s in self.size)
        if len(center) != 3 or len(size) != 3 or not all(math.isfinite(x) for x in center + size):
            raise ValueError(f"a box needs 3 finite centre and 3 finite size values, got {center} {size}")
        if not all(s > 0 for s in size):
            raise ValueError(f"a box's sizes must be > 0, got {size}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "size", size)

    @property
    def lower(self) -> np.ndarray:
        return np.asarray(self.center) - 0.5 * np.asarray(self.size)

    @property
    def upper(self) -> np.ndarray:
        return np.asarray(self.center) + 0.5 * np.asarray(self.size)


@dataclass
class ObstacleConfig:
    cell_size_m: float = 0.025
    # Higher than this above the table is an obstacle (below: the table seen with sensor noise).
    above_table_m: float = 0.005
    # Fewer points in a cell are flying pixels at object edges, not an object (the price: a
    # sliver of an object only a pixel or two wide in a cell is missed).
    min_points_per_cell: int = 3
    padding_m: float = 0.01  # added to each box's height
    # Cells reaching within this x-y distance of the grasp's surface point are the target's
    # neighbourhood: the open fingers of the BH-280 span about 10 cm around it.
    target_clearance_m: float = 0.09
    # The planner slows down with many objects; beyond this many, the tallest boxes are kept
    # (a low box is the one a hand coming from above passes over).
    max_boxes: int = 128

    def __post_init__(self):
        if not self.cell_size_m > 0:
            raise ValueError(f"cell_size_m must be > 0, got {self.cell_size_m}")
        for name in ("above_table_m", "padding_m", "target_clearance_m"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.min_points_per_cell < 1 or self.max_boxes < 0:
            raise ValueError(
                f"min_points_per_cell must be >= 1 and max_boxes >= 0, got {self.min_points_per_cell}, {self.max_boxes}"
            )


def obstacle_boxes(
    depth: np.ndarray,
    intrinsics,
    T_base_camera: np.ndarray,
    table_z_m: float,
    target_point: np.ndarray,
    config: ObstacleConfig | None = None,
) -> list[CollisionBox]:
    """Boxes in the base frame standing on the table top at ``table_z_m`` (base z), tallest
    first, for the depth image (m; NaN, 0 and negative values are invalid) seen by a camera
    with ``intrinsics`` at ``T_base_camera`` (its optical frame in the base frame). The cells
    around ``target_point`` (the grasp's surface point, base frame) are left out."""
    config = config or ObstacleConfig()
    depth = np.asarray(depth, dtype=float)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f"depth shape {depth.shape} does not match intrinsics {intrinsics.height}x{intrinsics.width}")
    points = table_points(depth, intrinsics, np.asarray(T_base_camera, dtype=float)).reshape(-1, 3)
    heights = points[:, 2] - float(table_z_m)
    with np.errstate(invalid="ignore"):
        above = heights > config.above_table_m  # NaN (invalid depth) is not above
    if not above.any():
        return []
    cells, cell_of_point, counts = np.unique(
        np.floor(points[above, :2] / config.cell_size_m).astype(np.int64),
        axis=0,
        return_inverse=True,
        return_counts=True,
    )
    tops = np.full(len(cells), -np.inf)
    np.maximum.at(tops, cell_of_point.ravel(), heights[above])
    lower = cells * config.cell_size_m
    upper = lower + config.cell_size_m
    target_xy = np.asarray(target_point, dtype=float)[:2]
    gap_to_target = np.linalg.norm(np.clip(target_xy, lower, upper) - target_xy, axis=1)
    kept = np.flatnonzero((counts >= config.min_points_per_cell) & (gap_to_target >= config.target_clearance_m))
    kept = kept[np.argsort(-tops[kept], kind="stable")][: config.max_boxes]
    boxes = []
    for i in kept:
        height = tops[i] + config.padding_m
        center_xy = 0.5 * (lower[i] + upper[i])
        boxes.append(
            CollisionBox(
                (center_xy[0], center_xy[1], float(table_z_m) + 0.5 * height),
                (config.cell_size_m, config.cell_size_m, height),
            )
        )
    return boxes
