"""plan.py: pre-grasp / grasp / lift poses, Barrett joint mapping, and the checks that refuse a
grasp before anything moves."""

import math

import numpy as np
import pytest

from pa_grasp_description import moveit, robot
from pa_grasp_execution.plan import (
    PlanConfig,
    PlanError,
    check_joint_limits,
    hand_close_targets,
    hand_joint_targets,
    object_held,
    plan_grasp,
)
from pa_grasp_perception.grasp_geometry import grasp_palm_pose
from pa_grasp_perception.obstacles import CollisionBox

TOP_DOWN = grasp_palm_pose(np.array([0.55, 0.05, 0.03]), 0.0, math.pi / 2, 0.4, 0.05)


def test_poses_of_a_top_down_grasp():
    plan = plan_grasp(TOP_DOWN, [0.5, 0.1, 0.2, 0.3], PlanConfig(pregrasp_offset_m=0.05, lift_height_m=0.2))
    np.testing.assert_allclose(plan.T_grasp, TOP_DOWN)
    np.testing.assert_allclose(plan.approach, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(plan.T_pregrasp[:3, 3], [0.55, 0.05, 0.08 + 0.05], atol=1e-12)  # 5 cm back (up)
    np.testing.assert_allclose(plan.T_lift[:3, 3], [0.55, 0.05, 0.08 + 0.2], atol=1e-12)
    for T in (plan.T_pregrasp, plan.T_lift):
        np.testing.assert_allclose(T[:3, :3], TOP_DOWN[:3, :3])  # orientation kept


def test_goal_offsets_override_the_defaults_and_tilted_approach_backs_off_along_its_axis():
    T = grasp_palm_pose(np.array([0.6, 0.0, 0.05]), 0.0, math.pi / 4, math.pi, 0.05)
    plan = plan_grasp(T, [0, 0, 0, 0], PlanConfig(), pregrasp_offset_m=0.1, lift_height_m=0.05)
    np.testing.assert_allclose(plan.T_grasp[:3, 3] - plan.T_pregrasp[:3, 3], 0.1 * plan.approach, atol=1e-12)
    assert plan.T_lift[2, 3] - plan.T_grasp[2, 3] == pytest.approx(0.05)


def test_barrett_joint_mapping():
    q = hand_joint_targets(0.7, 0.2, 0.4, 0.6)
    assert set(q) == set(robot.HAND_JOINTS)
    assert q["bh_j11_joint"] == q["bh_j21_joint"] == 0.7  # finger 2 mirrors finger 1's spread
    assert (q["bh_j12_joint"], q["bh_j22_joint"], q["bh_j32_joint"]) == (0.2, 0.4, 0.6)
    assert q["bh_j33_joint"] == pytest.approx(robot.DISTAL_COUPLING * 0.6)


@pytest.mark.parametrize(
    "T_pos, message",
    [
        ((1.4, 0.0, 0.1), "outside the workspace"),
        ((0.5, 0.9, 0.1), "outside the workspace"),
        ((0.5, 0, -0.1), "outside"),
    ],
)
def test_workspace_box_refuses_far_poses(T_pos, message):
    T = TOP_DOWN.copy()
    T[:3, 3] = T_pos
    with pytest.raises(PlanError, match=message) as info:
        plan_grasp(T, [0, 0, 0, 0])
    assert not info.value.reachable


def test_lift_and_pregrasp_must_fit_the_box_too():
    T = TOP_DOWN.copy()
    T[2, 3] = 0.7  # the grasp fits, the lift (0.9 m) does not
    with pytest.raises(PlanError, match="lift pose"):
        plan_grasp(T, [0, 0, 0, 0])


def test_bad_requests_are_refused():
    with pytest.raises(PlanError, match="points upwards"):
        plan_grasp(grasp_palm_pose(np.array([0.5, 0, 0.1]), 0.0, -math.pi / 2, 0.0, 0.05), [0, 0, 0, 0])
    with pytest.raises(PlanError, match="pre-shape") as info:
        plan_grasp(TOP_DOWN, [2.0, 0, 0, 0])
    assert info.value.reachable  # a malformed request, not a geometric refusal
    with pytest.raises(PlanError, match="4 finite"):
        plan_grasp(TOP_DOWN, [0, 0, math.nan, 0])
    with pytest.raises(PlanError, match="rotation"):
        plan_grasp(np.diag([1.0, 1.0, -1.0, 1.0]), [0, 0, 0, 0])
    for garbage in (math.nan, math.inf, 1e300):
        T = TOP_DOWN.copy()
        T[0, 3] = garbage
        with pytest.raises(PlanError, match="finite|outside the workspace"):
            plan_grasp(T, [0, 0, 0, 0])
    nan_box = PlanConfig()
    nan_box.workspace_max = (math.nan, 0.5, 0.8)  # even a NaN in the box refuses, it never lets through
    with pytest.raises(PlanError, match="outside the workspace"):
        plan_grasp(TOP_DOWN, [0, 0, 0, 0], nan_box)
    with pytest.raises(ValueError, match="below"):
        PlanConfig(workspace_min=(1, 0, 0), workspace_max=(0, 1, 1))


def test_joint_limits():
    check_joint_limits({"joint_2": 2.2, "bh_j12_joint": 1.0})
    with pytest.raises(PlanError, match="joint_2"):
        check_joint_limits({"joint_2": 2.22}, margin_rad=0.02)  # limit 127.5 deg = 2.2253 rad
    with pytest.raises(PlanError, match="joint_5"):
        check_joint_limits({"joint_5": math.radians(-125)})
    with pytest.raises(PlanError, match="unknown joint"):
        check_joint_limits({"joint_7": 0.0})
    with pytest.raises(PlanError, match="bh_j13_joint"):
        check_joint_limits({"bh_j13_joint": 1.0})


def test_object_held_from_the_finger_joints():
    assert object_held([1.2, 1.3, 2.44])  # two fingers stopped on the object
    assert not object_held([2.44, 2.43, 2.44])  # closed on nothing
    assert not object_held([1.0, 2.44, 2.44])  # one finger on something is not a grasp


def test_the_close_holds_the_spread_and_drives_every_finger_of_the_hand_controller():
    targets = hand_close_targets(0.7, 2.44)
    assert list(targets) == list(moveit.HAND_ACTIVE_JOINTS)  # the joint_trajectory_controller's joints
    assert targets[robot.SPREAD_JOINTS[0]] == 0.7
    assert [targets[j] for j in robot.PROXIMAL_JOINTS] == [2.44] * 3


def test_the_obstacles_go_along_with_the_plan():
    boxes = [CollisionBox((0.3, 0.0, 0.02), (0.025, 0.025, 0.04))]
    assert plan_grasp(TOP_DOWN, [0, 0, 0, 0], obstacles=boxes).obstacles == tuple(boxes)
    assert plan_grasp(TOP_DOWN, [0, 0, 0, 0]).obstacles == ()
