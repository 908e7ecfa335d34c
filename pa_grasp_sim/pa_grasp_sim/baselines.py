"""Baselines that set the floor for the learned policy. Both see only what the policy sees:
the depth image, the intrinsics and the camera pose.

- random: a random pixel with valid depth, random orientation and pre-shape within the paper's
  ranges;
- heuristic: segment objects by height above the table, take the object with the highest top,
  grasp top-down at the centre of its top surface with the parallel grip (spread 0, fingers
  straight), closing across the footprint's narrow side. The strongest of the simple rules tried,
  with the held-object check, on single-object scenes of seeds 100-104 (200 attempts, seen / novel;
  issue 51): parallel always 75.0 / 71.0 %; parallel for elongated footprints and a tripod (spread
  60 deg) for round ones, the rule before, 60.0 / 63.5; switching at an axis ratio of 1.2 or 2.0
  instead of 1.4: 67.5 / 66.5 and 45.0 / 48.0; a two-finger pinch (spread 90 deg) for round ones
  56.0 / 63.5; tripod always 20.0 / 15.0; fingers pre-curled 0.3 or 0.6 rad: 0.5 / 1.0 and
  2.5 / 0.0 (they meet the table before the palm is down). Closing across a ring top's edge (the
  teacher's `rim` grip) instead, on 30 single bowls and 30 mugs of seeds 100000-100029: 16 and 22
  lifted against the parallel grip's 14 and 21; within noise, not kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_perception.grasp_geometry import FINGER_MAX, SPREAD_MAX


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


@dataclass(frozen=True)
class ObjectTop:
    """One object as the heuristic sees it: segmented by height above the table."""

    height: float  # of its highest point above the table (m)
    u: float  # pixel at the centre of its top surface (snapped onto the surface)
    v: float
    yaw: float  # palm x across the footprint's major axis (a spread-0 grip closes across it)
    elongation: float  # sqrt of the footprint's principal-variance ratio (1 = round)
    centre_u: float = float("nan")  # centroid of the top surface before snapping (a ring's is its hole)
    centre_v: float = float("nan")
    radius_px: float = 0.0  # how far the footprint reaches from its centroid (95th percentile, pixels)


def object_tops(
    depth: np.ndarray, intrinsics: CameraIntrinsics, T_world_camera: np.ndarray, min_height_m: float = 0.01
) -> list[ObjectTop]:
    """Every object standing out of the table, highest first."""
    import cv2

    heights = height_map(depth, intrinsics, T_world_camera)
    mask = np.nan_to_num(heights, nan=0.0) > min_height_m
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    tops = []
    for label in range(1, count):
        comp = labels == label
        if comp.sum() < 12:  # specks of noise
            continue
        top_height = float(np.nanmax(np.where(comp, heights, np.nan)))
        # The top surface: the part of the object within 2 cm of its highest point.
        top = comp & (np.nan_to_num(heights, nan=-1.0) > top_height - 0.02)
        vs, us = np.nonzero(top)
        u, v = us.mean(), vs.mean()
        # Snap to the nearest pixel of the top surface (the centroid of a ring may be a hole).
        k = np.argmin((us - u) ** 2 + (vs - v) ** 2)
        # Principal axes of the whole object's footprint, in world xy.
        vs_all, us_all = np.nonzero(comp)
        d = depth[vs_all, us_all]
        pts = np.stack(
            [(us_all - intrinsics.cx) * d / intrinsics.fx, (vs_all - intrinsics.cy) * d / intrinsics.fy, d], 1
        )
        xy = (pts @ T_world_camera[:3, :3].T + T_world_camera[:3, 3])[:, :2]
        xy = xy - xy.mean(0)
        evals, evecs = np.linalg.eigh(np.cov(xy.T) + 1e-9 * np.eye(2))
        major = evecs[:, 1]
        # At pitch pi/2, palm x = R_z(yaw) (-x_world): yaw it perpendicular to the major axis.
        yaw = math.atan2(-major[0], major[1])
        elongation = math.sqrt(evals[1] / max(evals[0], 1e-12))
        reach = np.hypot(us_all - us_all.mean(), vs_all - vs_all.mean())
        radius = float(np.percentile(reach, 95))
        tops.append(ObjectTop(top_height, float(us[k]), float(vs[k]), yaw, elongation, float(u), float(v), radius))
    return sorted(tops, key=lambda t: -t.height)


def heuristic_grasp(
    depth: np.ndarray, intrinsics: CameraIntrinsics, T_world_camera: np.ndarray, min_height_m: float = 0.01
) -> GraspCommand:
    tops = object_tops(depth, intrinsics, T_world_camera, min_height_m)
    if not tops:
        # Nothing stands out from the table: grasp the image centre, which fails honestly.
        return GraspCommand((depth.shape[1] - 1) / 2, (depth.shape[0] - 1) / 2)
    t = tops[0]
    return GraspCommand(t.u, t.v, roll=0.0, pitch=math.pi / 2, yaw=t.yaw, spread=0.0, fingers=(0.0, 0.0, 0.0))
