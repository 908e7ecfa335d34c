"""Messages <-> the simulator's values: the only module of pa_grasp_sim that knows message types.

Depth images, camera_info and poses go through pa_grasp_perception.perception_msgs, so the bridge
publishes exactly what a Kinect driver would (16UC1 millimetres, 0 = invalid).
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from pa_grasp_interfaces.action import ExecuteGrasp
from pa_grasp_interfaces.srv import ResetScene
from pa_grasp_perception.perception_msgs import from_pose_msg, to_camera_info_msg, to_image_msg
from pa_grasp_sim.execution import GraspOutcome

__all__ = [
    "from_pose_msg",
    "to_camera_info_msg",
    "to_depth_image_msg",
    "to_execute_result_msg",
    "to_joint_state_msg",
    "to_reset_response_msg",
]


def to_depth_image_msg(depth_m: np.ndarray, header: Header) -> Image:
    """float32 metres (NaN = no return) -> 16UC1 millimetres, 0 = invalid (the freenect format)."""
    return to_image_msg(depth_m, header, "16UC1")


def to_joint_state_msg(positions: dict[str, float], header: Header) -> JointState:
    msg = JointState(header=header)
    msg.name = list(positions)
    msg.position = [float(v) for v in positions.values()]
    return msg


def to_execute_result_msg(outcome: GraspOutcome) -> ExecuteGrasp.Result:
    return ExecuteGrasp.Result(
        success=bool(outcome.success),
        reason=str(outcome.reason),
        reachable=bool(outcome.reachable),
        objects_lifted=len(outcome.lifted_objects),
    )


def to_reset_response_msg(success: bool, message: str, objects_placed: int, seed: int) -> ResetScene.Response:
    return ResetScene.Response(success=success, message=message, objects_placed=objects_placed, seed_used=seed)
