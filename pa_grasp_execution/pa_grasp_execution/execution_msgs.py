"""Messages <-> the executor's values: the only module of pa_grasp_execution that knows message types."""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from pa_grasp_interfaces.action import ExecuteGrasp
from pa_grasp_perception.obstacles import CollisionBox
from pa_grasp_perception.perception_msgs import from_pose_msg, to_pose_msg, to_pose_stamped_msg

__all__ = [
    "from_execute_goal",
    "from_pose_msg",
    "obstacles_from_goal",
    "to_execute_feedback_msg",
    "to_execute_result_msg",
    "to_header",
    "to_pose_msg",
    "to_pose_stamped_msg",
]


def from_execute_goal(goal: ExecuteGrasp.Goal) -> tuple[str, np.ndarray, np.ndarray, float, float]:
    """(frame_id, T_base_palm, hand_joints (4,), pregrasp_offset, lift_height); ValueError for a bad pose."""
    T = from_pose_msg(goal.grasp_pose.pose)
    joints = np.asarray(goal.hand_joints, dtype=float)
    return goal.grasp_pose.header.frame_id, T, joints, float(goal.pregrasp_offset), float(goal.lift_height)


def obstacles_from_goal(goal: ExecuteGrasp.Goal) -> list[CollisionBox]:
    """The goal's obstacle boxes (grasp_pose's frame); ValueError for unpaired or bad boxes."""
    centers, sizes = goal.obstacle_centers, goal.obstacle_sizes
    if len(centers) != len(sizes):
        raise ValueError(f"{len(centers)} obstacle_centers but {len(sizes)} obstacle_sizes: they come in pairs")
    boxes = []
    for i, (c, s) in enumerate(zip(centers, sizes)):
        try:
            boxes.append(CollisionBox((c.x, c.y, c.z), (s.x, s.y, s.z)))
        except ValueError as exc:
            raise ValueError(f"obstacle {i}: {exc}") from None
    return boxes


def to_execute_result_msg(success: bool, reason: str, reachable: bool, objects_lifted: int) -> ExecuteGrasp.Result:
    return ExecuteGrasp.Result(
        success=bool(success), reason=str(reason), reachable=bool(reachable), objects_lifted=int(objects_lifted)
    )


def to_execute_feedback_msg(stage: int, description: str) -> ExecuteGrasp.Feedback:
    return ExecuteGrasp.Feedback(stage=stage, stage_description=description)


def to_header(frame_id: str, stamp=None) -> Header:
    header = Header(frame_id=frame_id)
    if stamp is not None:
        header.stamp = stamp
    return header
