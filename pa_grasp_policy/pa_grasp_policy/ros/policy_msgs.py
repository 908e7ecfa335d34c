"""Messages <-> the policy core's values: the only module of pa_grasp_policy that knows message types.

Depth images, camera_info and poses go through pa_grasp_perception.perception_msgs (re-exported here).
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import Image, RegionOfInterest
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from pa_grasp_interfaces.action import ExecuteGrasp, Grasp
from pa_grasp_interfaces.msg import GraspProposal
from pa_grasp_perception.obstacles import CollisionBox
from pa_grasp_perception.perception_msgs import (
    from_camera_info_msg,
    from_image_msg,
    from_pose_msg,
    to_pose_msg,
    to_pose_stamped_msg,
)
from pa_grasp_policy.model.zoom import Box
from pa_grasp_policy.planner.proposal import GraspProposalData

__all__ = [
    "from_camera_info_msg",
    "from_image_msg",
    "from_pose_msg",
    "from_roi_msg",
    "to_execute_grasp_goal",
    "to_feedback_msg",
    "to_grasp_markers_msg",
    "to_grasp_proposal_msg",
    "to_pose_msg",
    "to_pose_stamped_msg",
    "to_rgb_image_msg",
    "to_roi_msg",
]


def to_roi_msg(box: Box, width: int, height: int) -> RegionOfInterest:
    """A zoom box (float pixel-edge coordinates) as the smallest integer ROI covering it,
    clipped to the width x height image."""
    x0, y0, w, h = (float(b) for b in box)
    left, top = max(int(math.floor(x0 + 1e-6)), 0), max(int(math.floor(y0 + 1e-6)), 0)
    right = min(int(math.ceil(x0 + w - 1e-6)), int(width))
    bottom = min(int(math.ceil(y0 + h - 1e-6)), int(height))
    return RegionOfInterest(
        x_offset=left, y_offset=top, width=max(right - left, 0), height=max(bottom - top, 0), do_rectify=False
    )


def from_roi_msg(roi: RegionOfInterest) -> Box:
    return (float(roi.x_offset), float(roi.y_offset), float(roi.width), float(roi.height))


def to_feedback_msg(
    stage: int, attempt: int, zoom_step: int, box: Box | None, image_size: tuple[int, int] | None, description: str
) -> Grasp.Feedback:
    feedback = Grasp.Feedback(stage=stage, attempt=attempt, zoom_step=zoom_step, stage_description=description)
    if box is not None and image_size is not None:
        feedback.current_box = to_roi_msg(box, *image_size)
    return feedback


def to_grasp_proposal_msg(proposal: GraspProposalData, camera_header: Header, base_header: Header) -> GraspProposal:
    msg = GraspProposal(header=camera_header, u=proposal.u, v=proposal.v, depth=proposal.depth)
    msg.point_camera = Point(x=float(proposal.point_camera[0]), y=float(proposal.point_camera[1]))
    msg.point_camera.z = float(proposal.point_camera[2])
    msg.roll, msg.pitch, msg.yaw = (float(x) for x in proposal.rpy)
    msg.hand_joints = [float(x) for x in proposal.hand_joints]
    msg.grasp_pose = to_pose_stamped_msg(proposal.T_base_palm, base_header)
    msg.zoom_steps = int(proposal.zoom_steps)
    return msg


def to_execute_grasp_goal(
    proposal: GraspProposalData,
    base_header: Header,
    pregrasp_offset: float,
    lift_height: float,
    obstacles: Sequence[CollisionBox] = (),
) -> ExecuteGrasp.Goal:
    """The goal for the executor; ``obstacles`` are boxes in ``base_header``'s frame
    (:func:`pa_grasp_perception.obstacles.obstacle_boxes`) its free motions must avoid."""
    goal = ExecuteGrasp.Goal(pregrasp_offset=float(pregrasp_offset), lift_height=float(lift_height))
    goal.grasp_pose = to_pose_stamped_msg(proposal.T_base_palm, base_header)
    goal.hand_joints = [float(x) for x in proposal.hand_joints]
    goal.obstacle_centers = [Point(x=b.center[0], y=b.center[1], z=b.center[2]) for b in obstacles]
    goal.obstacle_sizes = [Vector3(x=b.size[0], y=b.size[1], z=b.size[2]) for b in obstacles]
    return goal


def to_rgb_image_msg(rgb: np.ndarray, header: Header) -> Image:
    """uint8 HxWx3 RGB -> sensor_msgs/Image rgb8."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    msg = Image(header=header, height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0)
    msg.step = rgb.shape[1] * 3
    buffer = array.array("B")
    buffer.frombytes(rgb.tobytes())
    msg.data = buffer
    return msg


def to_grasp_markers_msg(
    proposal: GraspProposalData, base_header: Header, approach_length: float, attempt: int = 1
) -> MarkerArray:
    """The grasp in RViz: approach arrow (pre-grasp -> palm), surface point, palm axes, label."""
    T = proposal.T_base_palm
    palm = T[:3, 3]
    approach = T[:3, 2]
    start = palm - max(approach_length, 0.02) * approach

    def marker(mid: int, kind: int, colour: tuple[float, float, float, float]) -> Marker:
        m = Marker(header=base_header, ns="pa_grasp", id=mid, type=kind, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.color = ColorRGBA(r=colour[0], g=colour[1], b=colour[2], a=colour[3])
        return m

    markers = [Marker(header=base_header, ns="pa_grasp", action=Marker.DELETEALL)]
    arrow = marker(0, Marker.ARROW, (0.1, 0.9, 0.3, 1.0))
    arrow.points = [Point(x=float(a), y=float(b), z=float(c)) for a, b, c in (start, palm)]
    arrow.scale = Vector3(x=0.008, y=0.016, z=0.02)
    markers.append(arrow)
    point = marker(1, Marker.SPHERE, (1.0, 0.3, 0.1, 1.0))
    point.pose.position = Point(x=float(proposal.point_base[0]), y=float(proposal.point_base[1]))
    point.pose.position.z = float(proposal.point_base[2])
    point.scale = Vector3(x=0.015, y=0.015, z=0.015)
    markers.append(point)
    for i, colour in enumerate(((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0))):
        axis = marker(2 + i, Marker.ARROW, colour)
        tip = palm + 0.05 * T[:3, i]
        axis.points = [Point(x=float(a), y=float(b), z=float(c)) for a, b, c in (palm, tip)]
        axis.scale = Vector3(x=0.004, y=0.008, z=0.01)
        markers.append(axis)
    label = marker(5, Marker.TEXT_VIEW_FACING, (1.0, 1.0, 1.0, 1.0))
    label.pose.position = Point(x=float(start[0]), y=float(start[1]), z=float(start[2]) + 0.03)
    spread, f1, f2, f3 = (float(x) for x in proposal.hand_joints)
    label.text = f"attempt {attempt}: spread {spread:.2f} fingers {f1:.2f}/{f2:.2f}/{f3:.2f}"
    label.scale.z = 0.02
    markers.append(label)
    return MarkerArray(markers=markers)
