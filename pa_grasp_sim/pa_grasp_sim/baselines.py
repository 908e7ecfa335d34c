"""Baselines that set the floor for the learned policy. Both see only what the policy sees:
the depth image, the intrinsics and the camera pose.

- random: a random pixel with valid depth, random orientation and pre-shape within the paper's
  ranges;
- heuristic: segment objects by height above the table, take the object with the highest top,
  grasp top-down at the centre of its top surface, fingers closing across its narrow side,
  spread chosen from the top's shape (parallel for elongated tops, tripod for round ones).
"""

from __future__ import annotations

import math

import numpy as np

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_sim.grasp import FINGER_MAX, SPREAD_MAX, GraspCommand


def random_grasp(depth: np.ndarray, rng: np.random.Generator) -> GraspCommand:
    valid = np.argwhere(np.isfinite(depth))
    if len(valid) == 0:
        raise ValueError("depth image has no valid pixel")
    v, u = valid[rng.integers(len(valid))]
    return GraspCommand(
        float(u),
        float(v),
        roll=float(rng.uniform(-math.pi, math.pi)),
        pitch=float(rng.uniform(0, math.pi)),
        yaw=float(rng.uniform(-math.pi, math.pi)),
        spread=float(rng.uniform(0, SPREAD_MAX)),
        fingers=tuple(float(x) for x in rng.uniform(0, FINGER_MAX, size=3)),
    )


def height_map(depth: np.ndarray, intrinsics: CameraIntrinsics, T_world_camera: np.ndarray) -> np.ndarray:
    """World z (height above the table plane z = 0) of every pixel; NaN where depth is NaN."""
    pts = intrinsics.points_from_depth(depth).reshape(-1, 3)
    world = pts @ T_world_camera[:3, :3].T + T_world_camera[:3, 3]
    return world[:, 2].reshape(depth.shape)


def heuristic_grasp(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    T_world_camera: np.ndarray,
    rng: np.random.Generator | None = None,
    min_height_m: float = 0.01,
) -> GraspCommand:
    import cv2

    heights = height_map(depth, intrinsics, T_world_camera)
    mask = np.nan_to_num(heights, nan=0.0) > min_height_m
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        # Nothing stands out from the table: grasp the image centre, which fails honestly.
        return GraspCommand((depth.shape[1] - 1) / 2, (depth.shape[0] - 1) / 2)
    tops = []
    for label in range(1, count):
        comp = labels == label
        if comp.sum() < 12:  # specks of noise
            continue
        tops.append((float(np.nanmax(np.where(comp, heights, np.nan))), label))
    if not tops:
        return GraspCommand((depth.shape[1] - 1) / 2, (depth.shape[0] - 1) / 2)
    top_height, label = max(tops)
    comp = labels == label
    # The top surface: the part of the object within 2 cm of its highest point.
    top = comp & (np.nan_to_num(heights, nan=-1.0) > top_height - 0.02)
    vs, us = np.nonzero(top)
    u, v = us.mean(), vs.mean()
    # Snap to the nearest pixel of the top surface (the centroid of a ring may be a hole).
    k = np.argmin((us - u) ** 2 + (vs - v) ** 2)
    u, v = float(us[k]), float(vs[k])
    # Principal axes of the whole object's footprint, in world xy.
    vs_all, us_all = np.nonzero(comp)
    d = depth[vs_all, us_all]
    pts = np.stack([(us_all - intrinsics.cx) * d / intrinsics.fx, (vs_all - intrinsics.cy) * d / intrinsics.fy, d], 1)
    xy = (pts @ T_world_camera[:3, :3].T + T_world_camera[:3, 3])[:, :2]
    xy = xy - xy.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(xy.T) + 1e-9 * np.eye(2))
    major = evecs[:, 1]
    elongation = math.sqrt(evals[1] / max(evals[0], 1e-12))
    # Palm x (the axis along which a spread-0 grip closes) goes across the object: yaw it so
    # palm x is perpendicular to the major axis. At pitch pi/2, palm x = R_z(yaw) (-x_world).
    yaw = math.atan2(-major[0], major[1])
    spread = 0.0 if elongation > 1.4 else math.pi / 3
    return GraspCommand(u, v, roll=0.0, pitch=math.pi / 2, yaw=yaw, spread=spread, fingers=(0.0, 0.0, 0.0))
