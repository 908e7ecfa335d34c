"""From the zoom loop's answer to a grasp the robot can execute (core: no ROS).

The zoom loop gives a pixel (u, v) of the original depth image, the orientation (roll, pitch,
yaw in the robot base frame, paper §IV-C) and the hand pre-shape. The pixel's depth and the
camera intrinsics give the surface point in the camera optical frame; the camera extrinsics
T_base_camera take it to the base frame; the palm pose at the grasp is that point moved
``offset_m`` back along the approach axis (paper: 5 cm), oriented by the rpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.grasp_geometry import depth_at, grasp_palm_pose, pixel_to_base
from pa_grasp_policy.model.zoom import Box, ZoomState


class ProposalError(ValueError):
    """The chosen grasp cannot be turned into a pose (no depth there, pixel outside the image)."""


def view_mismatch(image_shape: tuple[int, ...], trained_camera: tuple[int, int]) -> str | None:
    """Why a depth image of `image_shape` (h, w) is not the view the policy was trained on
    (`trained_camera` = (width, height) in pixels), or None when it has that size. Another size
    of the same view is fine (the zoom's smallest box is scaled, ZoomConfig.for_image); another
    aspect ratio means a wider view than the policy ever saw."""
    height, width = image_shape[:2]
    trained_width, trained_height = trained_camera
    if (width, height) == (trained_width, trained_height):
        return None
    message = f"depth is {width}x{height} px, the policy was trained on {trained_width}x{trained_height}"
    if width * trained_height != height * trained_width:
        return (
            f"{message} (another aspect ratio: a view it never saw); policy_node's normalize_view redraws"
            " it as the training camera would see the table"
        )
    return f"{message} (the same aspect ratio: the smallest zoom box is scaled to match)"


@dataclass
class GraspProposalData:
    """A grasp chosen by the policy, lifted to 3D.

    u, v: grasp pixel in the original image; depth: metres at that pixel (see ``depth_at``).
    point_camera / point_base: surface point in the camera optical frame / base frame.
    rpy: (3,) roll, pitch, yaw (rad, base frame). hand_joints: (4,) spread, finger1..3 (rad).
    T_base_palm: palm pose at the grasp. zoom_steps: zooms before the grasp. boxes: the views.
    """

    u: float
    v: float
    depth: float
    point_camera: np.ndarray
    point_base: np.ndarray
    rpy: np.ndarray
    hand_joints: np.ndarray
    T_base_palm: np.ndarray
    zoom_steps: int = 0
    boxes: list[Box] = field(default_factory=list)


def final_grasp(state: ZoomState) -> tuple[tuple[float, float], np.ndarray, np.ndarray]:
    """(grasp_uv, rpy (3,), hand_joints (4,)) of a finished zoom episode (same values as
    :func:`pa_grasp_policy.model.zoom.run_zoom_loop` reports)."""
    if not state.done or state.last_action is None:
        raise RuntimeError("the zoom episode has not chosen a grasp yet")
    action = state.last_action
    rpy = action.grasp_rpy()[0].detach().cpu().numpy().astype(np.float64)
    joints = action.hand_joints()[0].detach().cpu().numpy().astype(np.float64)
    return state.grasp_uv, rpy, joints


def make_proposal(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    T_base_camera: np.ndarray,
    grasp_uv: tuple[float, float],
    rpy,
    hand_joints,
    offset_m: float,
    zoom_steps: int = 0,
    boxes: list[Box] | None = None,
) -> GraspProposalData:
    """Lift the grasp pixel to a palm pose in the base frame. Raises ProposalError."""
    depth = np.asarray(depth)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ProposalError(
            f"depth image is {depth.shape[1]}x{depth.shape[0]} but camera_info says"
            f" {intrinsics.width}x{intrinsics.height}"
        )
    u, v = float(grasp_uv[0]), float(grasp_uv[1])
    rpy = np.asarray(rpy, dtype=float).reshape(3)
    hand_joints = np.asarray(hand_joints, dtype=float).reshape(4)
    try:
        d = depth_at(depth, u, v)
        p_camera, p_base = pixel_to_base(u, v, d, intrinsics, T_base_camera)
    except ValueError as exc:
        raise ProposalError(f"cannot place the grasp in 3D: {exc}") from None
    T_base_palm = grasp_palm_pose(p_base, *rpy, offset_m)
    return GraspProposalData(u, v, d, p_camera, p_base, rpy, hand_joints, T_base_palm, zoom_steps, list(boxes or []))
