"""to_execute_grasp_goal: the grasp and the obstacle boxes the executor must avoid, in order."""

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")
from std_msgs.msg import Header  # noqa: E402

from pa_grasp_perception.grasp_geometry import grasp_palm_pose  # noqa: E402
from pa_grasp_perception.obstacles import CollisionBox  # noqa: E402
from pa_grasp_policy.planner.proposal import GraspProposalData  # noqa: E402
from pa_grasp_policy.ros.policy_msgs import to_execute_grasp_goal  # noqa: E402

POINT = np.array([0.55, 0.05, 0.03])
PROPOSAL = GraspProposalData(
    u=80.0,
    v=60.0,
    depth=0.72,
    point_camera=np.zeros(3),
    point_base=POINT,
    rpy=np.array([0.0, math.pi / 2, 0.0]),
    hand_joints=np.array([0.3, 0.1, 0.2, 0.3]),
    T_base_palm=grasp_palm_pose(POINT, 0.0, math.pi / 2, 0.0, 0.05),
)


def test_the_goal_carries_the_grasp_and_each_obstacle_box_in_order():
    boxes = [CollisionBox((0.3, -0.1, 0.04), (0.025, 0.025, 0.08)), CollisionBox((0.7, 0.2, 0.01), (0.02, 0.03, 0.02))]
    goal = to_execute_grasp_goal(PROPOSAL, Header(frame_id="base_link"), 0.05, 0.2, obstacles=boxes)
    assert goal.grasp_pose.header.frame_id == "base_link"
    assert goal.grasp_pose.pose.position.z == pytest.approx(0.08)
    assert list(goal.hand_joints) == pytest.approx([0.3, 0.1, 0.2, 0.3])
    assert (goal.pregrasp_offset, goal.lift_height) == (0.05, 0.2)
    assert [(c.x, c.y, c.z) for c in goal.obstacle_centers] == [b.center for b in boxes]
    assert [(s.x, s.y, s.z) for s in goal.obstacle_sizes] == [b.size for b in boxes]


def test_without_obstacles_the_goal_has_none():
    goal = to_execute_grasp_goal(PROPOSAL, Header(frame_id="base_link"), 0.0, 0.0)
    assert list(goal.obstacle_centers) == [] and list(goal.obstacle_sizes) == []
