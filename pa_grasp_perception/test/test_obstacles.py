"""obstacles.py on depth images rendered analytically (rays against a table plane and blocks):
the boxes cover what stands on the table and nothing else, in the base frame whatever the
camera's pose, without the target's neighbourhood, never from invalid pixels, and capped."""

import math

import numpy as np
import pytest

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.obstacles import CollisionBox, ObstacleConfig, obstacle_boxes

INTRINSICS = CameraIntrinsics.from_fov(160, 120, 45.0)  # ~5 mm per pixel on a table 0.75 m away
CONFIG = ObstacleConfig()
FAR_AWAY = np.array([5.0, 5.0, 0.0])  # a target nowhere near the blocks


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """T_base_camera of an optical frame (z forward, x right, y down) at eye looking at target."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    T[:3, 3] = eye
    return T


TOP_DOWN = look_at((0.40, 0.0, 0.75), (0.40, 0.0, 0.0), up=(1.0, 0.0, 0.0))
TILTED = look_at((0.05, -0.30, 0.60), (0.45, 0.0, 0.0))


def render(T_base_camera, table_z, blocks, intrinsics=INTRINSICS) -> np.ndarray:
    """Depth (m) of a table top at base z = table_z holding axis-aligned blocks (lower, upper)."""
    v, u = np.mgrid[0 : intrinsics.height, 0 : intrinsics.width]
    ray_camera = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones(u.shape)])
    ray = np.moveaxis(ray_camera, 0, -1) @ T_base_camera[:3, :3].T  # per unit of depth along the optical axis
    origin = T_base_camera[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(ray[..., 2] < 0, (table_z - origin[2]) / ray[..., 2], np.inf)
        for lower, upper in blocks:
            t1, t2 = (np.asarray(lower) - origin) / ray, (np.asarray(upper) - origin) / ray
            near, far = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
            hit = (near <= far) & (near > 0)
            depth = np.where(hit, np.minimum(depth, near), depth)
    return depth


def footprint_gap(box: CollisionBox, lower, upper) -> float:
    """x-y distance between a box's footprint and a block's (0 when they overlap)."""
    gap = np.maximum(np.maximum(np.asarray(lower[:2]) - box.upper[:2], box.lower[:2] - np.asarray(upper[:2])), 0)
    return float(np.linalg.norm(gap))


def assert_covers_top_face(boxes, lower, upper):
    """Every point of the block's top face (inset 2 mm) lies inside some box."""
    xs = np.arange(lower[0] + 0.002, upper[0] - 0.002, 0.005)
    ys = np.arange(lower[1] + 0.002, upper[1] - 0.002, 0.005)
    for x in xs:
        for y in ys:
            p = np.array([x, y, upper[2]])
            assert any(np.all(b.lower <= p) and np.all(p <= b.upper) for b in boxes), f"top face point {p} uncovered"


BLOCK = ((0.505, -0.145, 0.0), (0.570, -0.080, 0.08))  # no sliver of it in a cell: 2 cm or more


@pytest.mark.parametrize("T_base_camera, table_z", [(TOP_DOWN, 0.0), (TILTED, -0.03)], ids=["top-down", "tilted"])
def test_a_block_gets_boxes_covering_it_and_nowhere_else(T_base_camera, table_z):
    lower, upper = np.add(BLOCK[0], (0, 0, table_z)), np.add(BLOCK[1], (0, 0, table_z))
    depth = render(T_base_camera, table_z, [(lower, upper)])
    boxes = obstacle_boxes(depth, INTRINSICS, T_base_camera, table_z, FAR_AWAY)
    assert boxes
    assert_covers_top_face(boxes, lower, upper)
    for box in boxes:
        assert footprint_gap(box, lower, upper) == 0.0, f"{box} is off the block"
        assert box.lower[2] == pytest.approx(table_z)  # standing on the table
        assert box.upper[2] <= upper[2] + CONFIG.padding_m + 1e-9
    assert max(b.upper[2] for b in boxes) == pytest.approx(upper[2] + CONFIG.padding_m, abs=1e-6)
    tops = [b.upper[2] for b in boxes]
    assert tops == sorted(tops, reverse=True)  # tallest first


def test_the_targets_neighbourhood_is_left_out_and_other_objects_kept():
    other = ((0.255, 0.105, 0.0), (0.305, 0.155, 0.05))
    depth = render(TOP_DOWN, 0.0, [BLOCK, other])
    target = np.array([0.5375, -0.1125, 0.08])  # the block's top centre
    boxes = obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, target)
    assert boxes and all(footprint_gap(b, *other) == 0.0 for b in boxes), "only the other object is left"
    assert_covers_top_face(boxes, *other)
    for box in boxes:
        assert footprint_gap(box, target, target) >= CONFIG.target_clearance_m
    wide = ObstacleConfig(target_clearance_m=0.5)
    assert obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, target, wide) == []


def test_invalid_pixels_give_nothing():
    depth = render(TOP_DOWN, 0.0, [BLOCK])
    on_block = depth < 0.7499  # the table is 0.75 m away in every pixel
    for invalid in (np.nan, 0.0, -1.0):
        holes = depth.copy()
        holes[on_block] = invalid
        assert obstacle_boxes(holes, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY) == []
    nothing = np.full(depth.shape, np.nan)
    nothing[:, : depth.shape[1] // 2] = 0.0
    assert obstacle_boxes(nothing, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY) == []


def test_a_lone_flying_pixel_is_not_an_obstacle():
    depth = render(TOP_DOWN, 0.0, [])
    depth[60, 80] = 0.70  # 5 cm above the table
    assert obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY) == []
    (box,) = obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY, ObstacleConfig(min_points_per_cell=1))
    assert box.upper[2] == pytest.approx(0.05 + CONFIG.padding_m, abs=1e-6)


def test_the_cap_keeps_the_tallest_boxes():
    blocks = [
        ((0.255 + 0.1 * i, -0.195 + 0.1 * j, 0.0), (0.295 + 0.1 * i, -0.155 + 0.1 * j, 0.02 + 0.01 * (4 * i + j)))
        for i in range(4)
        for j in range(4)
    ]
    depth = render(TOP_DOWN, 0.0, blocks)
    every = obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY)
    capped = obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY, ObstacleConfig(max_boxes=5))
    assert len(every) > 5 and len(capped) == 5
    assert min(b.size[2] for b in capped) >= max(b.size[2] for b in every if b not in capped)
    assert obstacle_boxes(depth, INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY, ObstacleConfig(max_boxes=0)) == []


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="shape"):
        obstacle_boxes(np.zeros((10, 10)), INTRINSICS, TOP_DOWN, 0.0, FAR_AWAY)
    with pytest.raises(ValueError, match="cell_size_m"):
        ObstacleConfig(cell_size_m=0.0)
    with pytest.raises(ValueError, match="> 0"):
        CollisionBox((0, 0, 0), (0.1, 0.0, 0.1))
    with pytest.raises(ValueError, match="finite"):
        CollisionBox((0, math.nan, 0), (0.1, 0.1, 0.1))
