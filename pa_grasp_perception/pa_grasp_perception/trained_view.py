"""Bring a depth image from wherever the camera is to the view the policy was trained on (core).

The policy saw one camera in training: a square image, ``fov_deg`` wide, looking straight down
from ``height_m`` above the table, its image axes fixed to the robot base (pa_grasp_sim's default
camera). A real Kinect gives 640 x 480 at 57 x 43 degrees from where it is mounted. Squashing that
image to a square (or running on it as it is) shows the policy objects at another scale and shape
than it ever saw. Instead every valid pixel is lifted to 3D (intrinsics + T_base_camera from TF)
and drawn again from a virtual camera placed as in training above the point where the real
camera's optical axis meets the table: nearest surface per pixel (a z-buffer), small gaps left
by a sparser source filled from the nearest drawn pixel. Grasps found on the virtual image are
placed in 3D with the virtual camera's pose, so they land where the real camera saw the object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.conditioning import fill_holes
from pa_grasp_perception.table_objects import table_points

# R_base_camera of the training camera: optical axis straight down, image x along base -y,
# image y along base -x (pa_grasp_sim.camera.camera_pose at view_angle 90; a test keeps them equal).
R_BASE_TRAINED = np.column_stack([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


class ViewError(ValueError):
    """The image cannot be brought to the trained view (the camera does not look at the table)."""


@dataclass(frozen=True)
class TrainedView:
    side_px: int = 160  # the model's trained_camera_px
    fov_deg: float = 43.0  # pa_grasp_sim CameraConfig.fov_y_deg
    height_m: float = 0.75  # above the table top (CameraConfig.distance_m, top-down)
    fill_max_px: int = 3  # gaps of the redrawn image filled up to this far from a drawn pixel
    supersample: int = 3  # odd: the finer grid has a sample at every pixel centre
    # An image within these of the trained view is used as it is (the simulator's own camera).
    same_angle_deg: float = 1.0
    same_height_m: float = 0.01

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics.from_fov(self.side_px, self.side_px, self.fov_deg)

    def camera_pose(self, center_xy, table_z_m: float) -> np.ndarray:
        """T_base_virtual: the training camera above (x, y) on the table."""
        T = np.eye(4)
        T[:3, :3] = R_BASE_TRAINED
        T[:3, 3] = [center_xy[0], center_xy[1], table_z_m + self.height_m]
        return T

    def is_trained_view(self, intrinsics: CameraIntrinsics, T_base_camera: np.ndarray, table_z_m: float) -> bool:
        trained = self.intrinsics
        if (intrinsics.width, intrinsics.height) != (trained.width, trained.height):
            return False
        if not math.isclose(intrinsics.fy, trained.fy, rel_tol=0.01) or not math.isclose(
            intrinsics.fx, trained.fx, rel_tol=0.01
        ):
            return False
        R = np.asarray(T_base_camera, dtype=float)[:3, :3]
        cos_angle = (np.trace(R_BASE_TRAINED.T @ R) - 1.0) / 2.0
        if math.degrees(math.acos(float(np.clip(cos_angle, -1.0, 1.0)))) > self.same_angle_deg:
            return False
        return abs(T_base_camera[2, 3] - table_z_m - self.height_m) <= self.same_height_m


def _on_table(T_base_camera: np.ndarray, rays_camera: np.ndarray, table_z_m: float) -> np.ndarray:
    """(n, 3) points where rays from the camera (its frame, n x 3) meet the table plane; ViewError
    if one never does."""
    T = np.asarray(T_base_camera, dtype=float)
    rays = np.asarray(rays_camera, dtype=float) @ T[:3, :3].T
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (table_z_m - T[2, 3]) / rays[:, 2]
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ViewError(f"the camera ({T[2, 3]:.3f} m) does not look down at the table top ({table_z_m:.3f} m)")
    return T[:3, 3] + s[:, None] * rays


def axis_on_table(T_base_camera: np.ndarray, table_z_m: float) -> np.ndarray:
    """(x, y) where the camera's optical axis meets the table plane; ViewError if it never does."""
    axis = np.asarray(T_base_camera, dtype=float)[:3, 2]
    if axis[2] > -0.2:  # looking sideways or up: more than ~78 degrees off vertical
        raise ViewError(f"the camera's optical axis {np.round(axis, 3).tolist()} does not look down at the table")
    if T_base_camera[2, 3] <= table_z_m:
        raise ViewError(f"the camera ({T_base_camera[2, 3]:.3f} m) is not above the table top ({table_z_m:.3f} m)")
    return _on_table(T_base_camera, [[0.0, 0.0, 1.0]], table_z_m)[0, :2]


def _in_view(points_base: np.ndarray, T_base_view: np.ndarray) -> np.ndarray:
    """(n, 3) base-frame points in the view's optical frame."""
    return (points_base - T_base_view[:3, 3]) @ T_base_view[:3, :3]


def to_trained_view(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    T_base_camera: np.ndarray,
    table_z_m: float,
    view: TrainedView | None = None,
    center_xy=None,
) -> tuple[np.ndarray, CameraIntrinsics, np.ndarray]:
    """(depth as the training camera would see it, its intrinsics, T_base_virtual).

    ``depth``: float metres, NaN / 0 = invalid. ``center_xy``: where on the table (base x, y) the
    virtual camera looks; default: where the real camera's optical axis meets the table."""
    view = view or TrainedView()
    depth = np.asarray(depth, dtype=float)
    if depth.shape != (intrinsics.height, intrinsics.width):
        size = f"{intrinsics.width}x{intrinsics.height}"
        raise ValueError(f"depth is {depth.shape[1]}x{depth.shape[0]}, its intrinsics {size}")
    center = axis_on_table(T_base_camera, table_z_m) if center_xy is None else np.asarray(center_xy, float)
    T_base_virtual = view.camera_pose(center, table_z_m)
    virtual = view.intrinsics

    points_base = table_points(depth, intrinsics, np.asarray(T_base_camera, dtype=float)).reshape(-1, 3)
    p = _in_view(points_base[np.isfinite(points_base[:, 2])], T_base_virtual)
    p = p[p[:, 2] > 1e-3]
    # Drawn on a grid `k` times finer, then its centre samples are kept: a pixel shows the
    # surface through its centre, as a renderer's (or a sensor's) ray does, instead of the
    # nearest surface anywhere in its area (which would grow every object by half a pixel).
    k = view.supersample
    fine = virtual.resized(virtual.width * k, virtual.height * k)
    u = np.rint(fine.fx * p[:, 0] / p[:, 2] + fine.cx).astype(np.int64)
    v = np.rint(fine.fy * p[:, 1] / p[:, 2] + fine.cy).astype(np.int64)
    inside = (u >= 0) & (u < fine.width) & (v >= 0) & (v < fine.height)
    drawn = np.full((fine.height, fine.width), np.inf)
    np.minimum.at(drawn, (v[inside], u[inside]), p[inside, 2])  # the nearest surface wins
    drawn[np.isinf(drawn)] = np.nan
    drawn = fill_holes(drawn, view.fill_max_px * k)[k // 2 :: k, k // 2 :: k]
    # What the real camera never saw (outside its view, behind objects) is shown as bare table:
    # the policy never saw a hole, and an unseen object cannot be grasped anyway.
    return np.where(np.isnan(drawn), view.height_m, drawn), virtual, T_base_virtual


def box_to_view(
    box,
    intrinsics: CameraIntrinsics,
    T_base_camera: np.ndarray,
    table_z_m: float,
    view_intrinsics: CameraIntrinsics,
    T_base_view: np.ndarray,
) -> tuple[float, float, float, float]:
    """A box (x0, y0, w, h, pixel-edge coordinates) of the camera's image as the box of the
    view's image that covers the same part of the table; ValueError if none of it is in view."""
    x0, y0, w, h = (float(b) for b in box)
    corners = np.array([[x0, y0], [x0 + w, y0], [x0, y0 + h], [x0 + w, y0 + h]]) - 0.5  # pixel centres
    rays = np.column_stack(
        [(corners[:, 0] - intrinsics.cx) / intrinsics.fx, (corners[:, 1] - intrinsics.cy) / intrinsics.fy, np.ones(4)]
    )
    p = _in_view(_on_table(T_base_camera, rays, table_z_m), T_base_view)
    u = view_intrinsics.fx * p[:, 0] / p[:, 2] + view_intrinsics.cx + 0.5
    v = view_intrinsics.fy * p[:, 1] / p[:, 2] + view_intrinsics.cy + 0.5
    left, top = max(u.min(), 0.0), max(v.min(), 0.0)
    right, bottom = min(u.max(), view_intrinsics.width), min(v.max(), view_intrinsics.height)
    if right - left < 1.0 or bottom - top < 1.0:
        raise ValueError("the box is outside the part of the table the policy looks at")
    return (left, top, right - left, bottom - top)
