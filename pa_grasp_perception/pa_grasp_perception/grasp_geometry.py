"""Grasp geometry shared by the policy node, the simulator and the executor (core: numpy + scipy).

The paper's grasp orientation (§IV-C): the approach direction is the unit vector [1, 0, 0]
rotated by R = Rz(yaw) Ry(pitch) Rx(roll) in the robot base frame, so pitch = pi/2 approaches
straight down. The palm frame (``bh_palm``) has +z along the approach direction.

Poses are 4x4 homogeneous matrices ``T_a_b`` (b expressed in a). Quaternions are x, y, z, w
(ROS and scipy order).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from pa_grasp_perception.camera import CameraIntrinsics

SPREAD_MAX = math.pi / 2  # the policy's spread range [0, pi/2]
FINGER_MAX = 0.61  # the policy's finger pre-shape range [0, 0.61] rad

# R_align takes the palm frame to the paper's "unit vector [1,0,0]" frame: palm +z -> +x.
_R_ALIGN = Rotation.from_euler("y", 90, degrees=True)


def palm_rotation(roll: float, pitch: float, yaw: float) -> Rotation:
    """R_base_palm for the paper's rpy; the palm's +z is the approach direction."""
    return Rotation.from_euler("xyz", [roll, pitch, yaw]) * _R_ALIGN


def approach_direction(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Unit approach vector in the base frame."""
    return palm_rotation(roll, pitch, yaw).apply([0.0, 0.0, 1.0])


def grasp_palm_pose(surface_point: np.ndarray, roll: float, pitch: float, yaw: float, offset_m: float) -> np.ndarray:
    """T_base_palm at the grasp: palm oriented by rpy, moved ``offset_m`` back from the surface
    point along the approach axis (the paper's 5 cm)."""
    rot = palm_rotation(roll, pitch, yaw)
    T = np.eye(4)
    T[:3, :3] = rot.as_matrix()
    T[:3, 3] = np.asarray(surface_point, dtype=float) - offset_m * rot.apply([0.0, 0.0, 1.0])
    return T


# tf2 refuses a transform whose quaternion has |q|^2 further than this from 1 (buffer_core.cpp,
# QUATERNION_NORMALIZATION_TOLERANCE): typed-in values with 3-4 decimals pass, garbage does not.
QUATERNION_NORM_TOLERANCE = 1e-2


def pose_matrix(xyz, quat_xyzw) -> np.ndarray:
    """4x4 pose from a translation and a unit quaternion (x, y, z, w; renormalised here); ValueError
    for non-finite values or a quaternion whose |q|^2 is more than 1e-2 from 1 (tf2's tolerance)."""
    q = np.asarray(quat_xyzw, dtype=float)
    if q.shape != (4,) or not np.all(np.isfinite(q)):
        raise ValueError(f"quaternion must be 4 finite numbers (x, y, z, w); got {quat_xyzw}")
    if abs(float(q @ q) - 1.0) > QUATERNION_NORM_TOLERANCE:
        raise ValueError(
            f"quaternion must be a unit quaternion (x, y, z, w), |q| = {np.linalg.norm(q):.4g}; got {quat_xyzw}"
        )
    p = np.asarray(xyz, dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"translation must be 3 finite numbers, got {xyz}")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()
    T[:3, 3] = p
    return T


def pose_from_xyz_quat(values) -> np.ndarray:
    """4x4 pose from the 7-vector [x, y, z, qx, qy, qz, qw] (the ``*_xyz_quat`` parameters)."""
    values = [float(v) for v in values]
    if len(values) != 7:
        raise ValueError(f"a pose needs 7 numbers [x, y, z, qx, qy, qz, qw], got {len(values)}")
    return pose_matrix(values[:3], values[3:])


def pose_to_xyz_quat(T: np.ndarray) -> list[float]:
    """[x, y, z, qx, qy, qz, qw] of a 4x4 pose (inverse of :func:`pose_from_xyz_quat`)."""
    T = np.asarray(T, dtype=float)
    return [*T[:3, 3].tolist(), *Rotation.from_matrix(T[:3, :3]).as_quat().tolist()]


def check_pose(T: np.ndarray, what: str = "pose") -> np.ndarray:
    """A finite 4x4 rigid transform (orthonormal rotation, det +1), else ValueError."""
    T = np.asarray(T, dtype=float)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ValueError(f"{what} must be a finite 4x4 matrix")
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or abs(np.linalg.det(R) - 1.0) > 1e-5:
        raise ValueError(f"{what} has no proper rotation (not orthonormal or a reflection)")
    if not np.allclose(T[3], [0, 0, 0, 1]):
        raise ValueError(f"{what} has a bottom row other than [0, 0, 0, 1]")
    return T


def depth_at(depth: np.ndarray, u: float, v: float, window: int = 2) -> float:
    """Depth (m) at pixel (u, v): the pixel's own value (u, v rounded, as the simulator reads
    it) or, if that is invalid, the median of the valid pixels within ``window`` pixels.
    Raises ValueError when there is no valid depth near the pixel."""
    depth = np.asarray(depth)
    h, w = depth.shape
    row, col = int(round(v)), int(round(u))
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"pixel ({u:.1f}, {v:.1f}) is outside the {w}x{h} depth image")
    d = float(depth[row, col])
    if np.isfinite(d) and d > 0:
        return d
    patch = depth[max(row - window, 0) : row + window + 1, max(col - window, 0) : col + window + 1]
    valid = patch[np.isfinite(patch) & (patch > 0)]
    if valid.size == 0:
        raise ValueError(f"no valid depth within {window} px of pixel ({u:.1f}, {v:.1f})")
    return float(np.median(valid))


def pixel_to_base(
    u: float, v: float, depth_m: float, intrinsics: CameraIntrinsics, T_base_camera: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(point in the camera optical frame, the same point in the base frame) for pixel (u, v)
    at depth ``depth_m`` (along the optical axis)."""
    p_camera = intrinsics.pixel_to_point(u, v, depth_m)
    T = np.asarray(T_base_camera, dtype=float)
    return p_camera, T[:3, :3] @ p_camera + T[:3, 3]
