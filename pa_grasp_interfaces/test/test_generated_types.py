"""The generated Python types import and carry the fields the stack relies on; a wrong field
type raises instead of aborting the process."""

import os
import subprocess
import sys

import pytest

from pa_grasp_interfaces.action import ExecuteGrasp, Grasp
from pa_grasp_interfaces.msg import GraspProposal
from pa_grasp_interfaces.srv import ResetScene


def test_grasp_action_fields():
    goal = Grasp.Goal(max_attempts=3, deterministic=True, max_zoom_steps=4, use_roi=True)
    goal.roi.x_offset, goal.roi.width = 10, 100
    assert (goal.max_attempts, goal.deterministic, goal.roi.width) == (3, True, 100)
    result = Grasp.Result()
    result.zoom_boxes.append(goal.roi)
    assert len(result.hand_joints) == 4 and result.zoom_boxes[0].x_offset == 10
    stages = {
        Grasp.Feedback.STAGE_WAITING_FOR_DEPTH,
        Grasp.Feedback.STAGE_ZOOMING,
        Grasp.Feedback.STAGE_EXECUTING,
        Grasp.Feedback.STAGE_LIFTING,
    }
    assert len(stages) == 4


def test_execute_grasp_and_proposal_and_reset():
    goal = ExecuteGrasp.Goal(pregrasp_offset=0.05, lift_height=0.2)
    goal.grasp_pose.header.frame_id = "base_link"
    assert goal.grasp_pose.header.frame_id == "base_link"
    assert ExecuteGrasp.Result(success=False, reason="unreachable").reason == "unreachable"
    proposal = GraspProposal(u=12.5, v=3.0, depth=0.8, zoom_steps=2)
    assert proposal.hand_joints.shape == (4,)
    request = ResetScene.Request(scene=ResetScene.Request.SCENE_CLUTTERED, object_count=10, seed=-1)
    assert request.scene == "cluttered" and request.seed == -1


NUMPY_FIELDS = """
import numpy as np
from rclpy.serialization import serialize_message
from pa_grasp_interfaces.action import Grasp
for goal in (lambda: Grasp.Goal(max_attempts=np.int64(1)), lambda: Grasp.Goal(max_attempts=-1)):
    try:
        serialize_message(goal())
        print("serialized")
    except Exception as exc:
        print(type(exc).__name__)
"""


@pytest.mark.parametrize("check_fields", ["", "1"])
def test_a_numpy_number_in_a_goal_raises_and_never_aborts_the_process(check_fields):
    """The interfaces are built in Release (scripts/setup.sh): the generated C code's assert() that
    aborted the process (exit 134) on a numpy number is gone, a Python exception is left. With
    ROS_PYTHON_CHECK_FIELDS=1 (env.sh, the Docker image) the field's setter raises first."""
    env = {**os.environ, "ROS_PYTHON_CHECK_FIELDS": check_fields}
    run = subprocess.run([sys.executable, "-c", NUMPY_FIELDS], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"the process died ({run.returncode}): {run.stderr[-500:]}"
    raised = run.stdout.split()
    assert len(raised) == 2 and "serialized" not in raised, run.stdout
    if check_fields:
        assert raised == ["AssertionError", "AssertionError"]
