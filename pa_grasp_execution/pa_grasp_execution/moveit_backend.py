"""The MoveIt backend of executor_node (moveit_py): the only module that imports MoveIt.

Motions: hand pre-shape and the move to the pre-grasp pose are free motions (plan request
``free_plan_request``, OMPL), the approach and the lift are straight lines of the palm (Pilz
LIN, ``linear_plan_request``); closing goes to the hand's control_msgs/GripperCommand action
(``hand_close_action``), which closes until ``close_max_effort``. Before anything moves, IK is
solved for the pre-grasp, grasp and lift poses (each seeded with the previous solution) and
every solution is checked against the joint limits (:func:`pa_grasp_execution.plan.check_joint_limits`).
"""

from __future__ import annotations

import contextlib
import threading
import time

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
from pa_grasp_execution.execution_msgs import to_pose_msg, to_pose_stamped_msg
from pa_grasp_execution.executor_config import ExecutorConfig
from pa_grasp_execution.plan import GraspPlan, PlanError, check_joint_limits, object_held


class MoveItUnavailableError(RuntimeError):
    """moveit_py (or control_msgs) is not installed here."""


def _import_moveit():
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
        from control_msgs.action import GripperCommand
    except ImportError as exc:
        raise MoveItUnavailableError(
            f"control_msgs is not available ({exc}): apt install ros-jazzy-control-msgs"
        ) from None
    return MoveItPy, PlanRequestParameters, RobotState, GripperCommand


class MoveItBackend:
    def __init__(self, node, config: ExecutorConfig, callback_group=None):
        MoveItPy, PlanRequestParameters, RobotState, GripperCommand = _import_moveit()
        from pa_grasp_perception.action_client import RaceFreeActionClient

        self.node, self.config = node, config
        self._RobotState, self._GripperCommand = RobotState, GripperCommand
        self.moveit = MoveItPy(node_name=f"{node.get_name()}_moveit_py", config_dict=moveit_config_dict())
        self.model = self.moveit.get_robot_model()
        self.arm = self.moveit.get_planning_component(config.arm_group)
        self.hand = self.moveit.get_planning_component(config.hand_group)
        self.free = PlanRequestParameters(self.moveit, config.free_plan_request)
        self.linear = PlanRequestParameters(self.moveit, config.linear_plan_request)
        self.close_client = RaceFreeActionClient(
            node, GripperCommand, config.hand_close_action, callback_group=callback_group
        )

    # ------------------------------------------------------------------ state / IK
    def _current_state(self):
        state = self._RobotState(self.model)
        with self.moveit.get_planning_scene_monitor().read_only() as scene:
            state.joint_positions = dict(scene.current_state.joint_positions)
        state.update()
        return state

    def _ik(self, seed, T):
        state = self._RobotState(self.model)
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
        from std_msgs.msg import Header

        return Header(frame_id=self.config.base_frame)

    def _close_hand(self) -> str:
        cfg = self.config
        if not self.close_client.wait_for_server(timeout_sec=2.0):
            return f"no hand close action on {cfg.hand_close_action}"
        goal = self._GripperCommand.Goal()
        goal.command.position = float(cfg.close_position_rad)
        goal.command.max_effort = float(cfg.close_max_effort)
        done = threading.Event()
        future = self.close_client.send_goal_async(goal)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(cfg.close_timeout_s) or not future.result().accepted:
            return "the hand did not accept the close command"
        done.clear()
        result = future.result().get_result_async()
        result.add_done_callback(lambda _: done.set())
        if not done.wait(cfg.close_timeout_s):
            return f"closing the hand took longer than {cfg.close_timeout_s:g} s"
        return ""  # stalled / reached_goal are both fine: the fingers stop at max effort

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

        def stop(reason: str) -> ExecutionOutcome:
            if cfg.return_home:
                self._open_and_home()
            return ExecutionOutcome(False, reason)

        feedback(STAGE_PRESHAPE, "pre-shaping the hand")
        hand_goal = self._RobotState(self.model)
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
        feedback(STAGE_CLOSE, "closing until max effort")
        if err := self._close_hand():
            return stop(err)
        feedback(STAGE_LIFT, "lifting")
        if err := self._plan_and_execute(self.arm, "the lift", self.linear, **self._pose_goal(plan.T_lift)):
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
