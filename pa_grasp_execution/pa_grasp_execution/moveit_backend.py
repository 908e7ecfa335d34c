"""The MoveIt backend of executor_node (moveit_py): the only module that imports MoveIt (and the
message packages only it needs: moveit_msgs, shape_msgs, control_msgs, trajectory_msgs).

Motions: hand pre-shape and the move to the pre-grasp pose are free motions (plan request
``free_plan_request``, OMPL), the approach and the lift are straight lines of the palm (Pilz
LIN, ``linear_plan_request``). The close is not planned: a control_msgs/FollowJointTrajectory
goal goes straight to the hand's joint_trajectory_controller (``hand_trajectory_action``),
moving the three proximal joints to ``close_position_rad`` over ``close_duration_s`` with the
spread held. The BH-280 stops each finger on contact (TorqueSwitch), so the controller ending
the goal with GOAL_TOLERANCE_VIOLATED or PATH_TOLERANCE_VIOLATED is a normal close; a rejection,
another error or no result within ``close_timeout_s`` is a failure. Whether something is held
is judged from the finger joints after the lift. Before anything moves, IK is solved for the
pre-grasp, grasp and lift poses (each seeded with the previous solution) and every solution is
checked against the joint limits (:func:`pa_grasp_execution.plan.check_joint_limits`).

Planning scene: before the first motion, MoveIt's world becomes the table (``table_*``
parameters) and the goal's obstacle boxes, replacing the previous goal's
(:mod:`pa_grasp_execution.planning_scene`). The target's neighbourhood is not in it, so the
approach can reach the target. The lift is planned in an empty world, and the world is put back
right after it: the closed hand touches the target and may touch the table, which MoveIt would
refuse as a start in collision, while a palm moving straight up cannot enter a box standing on
the table that it was clear of at the grasp.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from rclpy.duration import Duration

from pa_grasp_description import robot
from pa_grasp_description.moveit import moveit_config_dict
from pa_grasp_execution.backend import (
    STAGE_APPROACH,
    STAGE_CLOSE,
    STAGE_LIFT,
    STAGE_PRESHAPE,
    Cancelled,
    ExecutionOutcome,
    Feedback,
)
from pa_grasp_execution.execution_msgs import to_header, to_pose_msg, to_pose_stamped_msg
from pa_grasp_execution.executor_config import ExecutorConfig
from pa_grasp_execution.plan import GraspPlan, PlanError, check_joint_limits, hand_close_targets, object_held
from pa_grasp_execution.planning_scene import SceneObject, scene_changes, scene_objects


class MoveItUnavailableError(RuntimeError):
    """moveit_py (or a message package only this backend uses) is not installed here."""


@dataclass(frozen=True)
class MoveItApi:
    """The MoveIt classes and message types the backend uses: :func:`import_moveit` gives the
    real ones, tests pass fakes."""

    MoveItPy: Any
    PlanRequestParameters: Any
    RobotState: Any
    FollowJointTrajectory: Any
    JointTrajectoryPoint: Any
    CollisionObject: Any
    SolidPrimitive: Any
    ActionClient: Any


def import_moveit() -> MoveItApi:
    try:
        from moveit.core.robot_state import RobotState
        from moveit.planning import MoveItPy, PlanRequestParameters
    except ImportError as exc:
        raise MoveItUnavailableError(
            f"moveit_py is not available ({exc}). executor_node drives the real TX60 through MoveIt 2:"
            " run it in the docker image (docker/README.md) or a ROS 2 Jazzy install with ros-jazzy-moveit-py."
            " The simulated stack does not need it (pa-grasp-bringup sim)."
        ) from None
    try:
        from control_msgs.action import FollowJointTrajectory
        from moveit_msgs.msg import CollisionObject
        from shape_msgs.msg import SolidPrimitive
        from trajectory_msgs.msg import JointTrajectoryPoint
    except ImportError as exc:
        raise MoveItUnavailableError(
            f"a message package is missing ({exc}):"
            " apt install ros-jazzy-control-msgs ros-jazzy-moveit-msgs ros-jazzy-shape-msgs ros-jazzy-trajectory-msgs"
        ) from None
    from pa_grasp_perception.action_client import RaceFreeActionClient

    return MoveItApi(
        MoveItPy,
        PlanRequestParameters,
        RobotState,
        FollowJointTrajectory,
        JointTrajectoryPoint,
        CollisionObject,
        SolidPrimitive,
        RaceFreeActionClient,
    )


class MoveItBackend:
    def __init__(self, node, config: ExecutorConfig, callback_group=None, api: MoveItApi | None = None):
        api = api or import_moveit()
        self.node, self.config, self.api = node, config, api
        self.moveit = api.MoveItPy(node_name=f"{node.get_name()}_moveit_py", config_dict=moveit_config_dict())
        self.model = self.moveit.get_robot_model()
        self.arm = self.moveit.get_planning_component(config.arm_group)
        self.hand = self.moveit.get_planning_component(config.hand_group)
        self.free = api.PlanRequestParameters(self.moveit, config.free_plan_request)
        self.linear = api.PlanRequestParameters(self.moveit, config.linear_plan_request)
        self.close_client = api.ActionClient(
            node, api.FollowJointTrajectory, config.hand_trajectory_action, callback_group=callback_group
        )
        self._world_ids: list[str] = []  # the objects this backend put in MoveIt's world

    # ------------------------------------------------------------------ state / IK
    def _current_state(self):
        state = self.api.RobotState(self.model)
        with self.moveit.get_planning_scene_monitor().read_only() as scene:
            state.joint_positions = dict(scene.current_state.joint_positions)
        state.update()
        return state

    def _ik(self, seed, T):
        state = self.api.RobotState(self.model)
        state.joint_positions = dict(seed.joint_positions)
        ok = state.set_from_ik(self.config.arm_group, to_pose_msg(T), self.config.palm_link, self.config.ik_timeout_s)
        if not ok:
            return None
        state.update()
        return state

    # ------------------------------------------------------------------ motions
    def _plan_and_execute(self, component, what: str, params, **goal) -> str:
        """Empty string on success, else the reason."""
        component.set_start_state_to_current_state()
        component.set_goal_state(**goal)
        result = component.plan(single_plan_parameters=params)
        if not result:
            return f"MoveIt found no plan for {what}"
        status = self.moveit.execute(result.trajectory, controllers=[])
        if not status:
            return f"executing {what} failed ({getattr(status, 'status', status)})"
        return ""

    def _pose_goal(self, T):
        return {"pose_stamped_msg": to_pose_stamped_msg(T, self._header()), "pose_link": self.config.palm_link}

    def _header(self):
        return to_header(self.config.base_frame)

    def _close_hand(self) -> str:
        cfg, api = self.config, self.api
        if not self.close_client.wait_for_server(timeout_sec=2.0):
            return f"no hand trajectory action on {cfg.hand_trajectory_action}"
        spread = self._current_state().joint_positions[robot.SPREAD_JOINTS[0]]
        targets = hand_close_targets(spread, cfg.close_position_rad)
        goal = api.FollowJointTrajectory.Goal()
        goal.trajectory.joint_names = list(targets)
        goal.trajectory.points = [
            api.JointTrajectoryPoint(
                positions=list(targets.values()), time_from_start=Duration(seconds=cfg.close_duration_s).to_msg()
            )
        ]
        done = threading.Event()
        sent = self.close_client.send_goal_async(goal)
        sent.add_done_callback(lambda _: done.set())
        if not done.wait(cfg.close_timeout_s) or not sent.result().accepted:
            return "the hand controller did not accept the close"
        done.clear()
        finished = sent.result().get_result_async()
        finished.add_done_callback(lambda _: done.set())
        if not done.wait(cfg.close_timeout_s):
            sent.result().cancel_goal_async()  # the fingers stop where they are
            return f"closing the hand took longer than {cfg.close_timeout_s:g} s"
        result, codes = finished.result().result, api.FollowJointTrajectory.Result
        # A finger stopped by the object misses its target: the controller calls that a violated tolerance.
        if result.error_code not in (codes.SUCCESSFUL, codes.GOAL_TOLERANCE_VIOLATED, codes.PATH_TOLERANCE_VIOLATED):
            return f"the hand controller failed the close (error {result.error_code}: {result.error_string})"
        return ""

    # ------------------------------------------------------------------ planning scene
    def _set_world(self, wanted: list[SceneObject]) -> None:
        """MoveIt's world becomes exactly ``wanted`` (boxes in the base frame)."""
        adds, removes = scene_changes(self._world_ids, wanted)
        CollisionObject = self.api.CollisionObject
        with self.moveit.get_planning_scene_monitor().read_write() as scene:
            for object_id in removes:
                scene.apply_collision_object(
                    CollisionObject(header=self._header(), id=object_id, operation=CollisionObject.REMOVE)
                )
            for wanted_object in adds:
                scene.apply_collision_object(self._box_object(wanted_object))
            scene.current_state.update()
        self._world_ids = [o.id for o in wanted]

    def _box_object(self, scene_object: SceneObject):
        api = self.api
        message = api.CollisionObject(header=self._header(), id=scene_object.id, operation=api.CollisionObject.ADD)
        message.primitives = [api.SolidPrimitive(type=api.SolidPrimitive.BOX, dimensions=list(scene_object.box.size))]
        T_base_box = np.eye(4)
        T_base_box[:3, 3] = scene_object.box.center
        message.primitive_poses = [to_pose_msg(T_base_box)]
        return message

    def _open_and_home(self) -> None:
        cfg = self.config
        self._plan_and_execute(self.hand, "opening the hand", self.free, configuration_name="open")
        self._plan_and_execute(self.arm, "going home", self.free, configuration_name=cfg.home_state)

    # ------------------------------------------------------------------ the grasp
    def execute(self, plan: GraspPlan, feedback: Feedback, cancelled: Cancelled) -> ExecutionOutcome:
        cfg = self.config
        start = self._current_state()
        solutions = {}
        seed = start
        for what, T in plan.poses().items():
            state = self._ik(seed, T)
            if state is None:
                return ExecutionOutcome(False, f"{what} pose unreachable for the TX60 (no IK solution)", False)
            arm_q = dict(zip(robot.ARM_JOINTS, state.get_joint_group_positions(cfg.arm_group)))
            try:
                check_joint_limits(arm_q, cfg.joint_limit_margin_rad)
            except PlanError as exc:
                return ExecutionOutcome(False, f"{what} pose: {exc}", False)
            solutions[what] = state
            seed = state

        world = scene_objects(cfg.table(), plan.obstacles)
        self._set_world(world)

        def stop(reason: str) -> ExecutionOutcome:
            if cfg.return_home:
                self._open_and_home()
            return ExecutionOutcome(False, reason)

        feedback(STAGE_PRESHAPE, "pre-shaping the hand")
        hand_goal = self.api.RobotState(self.model)
        hand_goal.joint_positions = {**start.joint_positions, **plan.hand_preshape}
        hand_goal.update()
        if err := self._plan_and_execute(self.hand, "the hand pre-shape", self.free, robot_state=hand_goal):
            return stop(err)
        if cancelled():
            return ExecutionOutcome(False, "canceled before the arm moved", canceled=True)
        feedback(STAGE_APPROACH, "moving to the pre-grasp pose")
        if err := self._plan_and_execute(
            self.arm, "the pre-grasp motion", self.free, robot_state=solutions["pre-grasp"]
        ):
            return stop(err)
        if cancelled():
            return ExecutionOutcome(False, "canceled at the pre-grasp pose", canceled=True)
        feedback(STAGE_APPROACH, "straight approach")
        if err := self._plan_and_execute(self.arm, "the approach", self.linear, **self._pose_goal(plan.T_grasp)):
            return stop(err)
        feedback(STAGE_CLOSE, "closing the hand")
        if err := self._close_hand():
            return stop(err)
        feedback(STAGE_LIFT, "lifting")
        self._set_world([])  # see the module docstring: the closed hand touches the target, maybe the table
        try:
            err = self._plan_and_execute(self.arm, "the lift", self.linear, **self._pose_goal(plan.T_lift))
        finally:
            self._set_world(world)
        if err:
            return stop(err)
        time.sleep(0.2)  # let the joint states settle before judging the grasp
        q = self._current_state().joint_positions
        held = object_held([q[j] for j in robot.PROXIMAL_JOINTS], cfg.held_threshold_rad, cfg.held_min_fingers)
        if cfg.return_home:
            # Keep holding: the object is released when the next grasp pre-shapes the hand
            # (put a bin under the home pose); a failed grasp opens the hand at once.
            if held:
                self._plan_and_execute(self.arm, "going home", self.free, configuration_name=cfg.home_state)
            else:
                self._open_and_home()
        if not held:
            return ExecutionOutcome(False, "nothing held after the lift (the fingers closed fully)")
        return ExecutionOutcome(True, objects_lifted=1)

    def shutdown(self) -> None:
        self.close_client.destroy()
        with contextlib.suppress(Exception):  # already down
            self.moveit.shutdown()


def make_backend(node, config: ExecutorConfig, callback_group=None) -> MoveItBackend:
    return MoveItBackend(node, config, callback_group)
