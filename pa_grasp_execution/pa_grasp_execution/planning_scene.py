"""What MoveIt's planning scene holds while a grasp is planned (core: no ROS, no MoveIt).

The world is the table (a box whose top is the table top) and the goal's obstacle boxes, all
axis-aligned in the base frame. Every object has a stable id, so one goal's obstacles replace
the previous goal's: :func:`scene_changes` says what to add and what to remove.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pa_grasp_perception.obstacles import CollisionBox

TABLE_ID = "table"
OBSTACLE_ID_FORMAT = "grasp_obstacle_{:03d}"
# Only the top face matters; some thickness keeps a hand that overshoots it from passing through.
TABLE_THICKNESS_M = 0.05


@dataclass(frozen=True)
class SceneObject:
    id: str
    box: CollisionBox


def table_box(top_z_m: float, center_xy_m: Sequence[float], size_xy_m: Sequence[float]) -> CollisionBox:
    """The table as a box whose top face is at ``top_z_m``; ValueError for a bad size."""
    cx, cy = (float(c) for c in center_xy_m)
    sx, sy = (float(s) for s in size_xy_m)
    return CollisionBox((cx, cy, float(top_z_m) - 0.5 * TABLE_THICKNESS_M), (sx, sy, TABLE_THICKNESS_M))


def scene_objects(table: CollisionBox, obstacles: Sequence[CollisionBox]) -> list[SceneObject]:
    """The table and the obstacles, each under its id (obstacle i is always the same id)."""
    obstacle_objects = [SceneObject(OBSTACLE_ID_FORMAT.format(i), box) for i, box in enumerate(obstacles)]
    return [SceneObject(TABLE_ID, table), *obstacle_objects]


def scene_changes(applied_ids: Collection[str], wanted: Sequence[SceneObject]) -> tuple[list[SceneObject], list[str]]:
    """(objects to add, ids to remove) that take a world holding ``applied_ids`` to exactly
    ``wanted``. Every wanted object is added again: MoveIt's ADD replaces an object of the same
    id, so a moved obstacle under an old id is updated."""
    wanted_ids = {o.id for o in wanted}
    if len(wanted_ids) != len(wanted):
        raise ValueError("scene object ids must be unique")
    return list(wanted), sorted(set(applied_ids) - wanted_ids)
