"""executor_node: ``/pa_grasp/execute_grasp`` (ExecuteGrasp) on the real TX60 + BH-280 through MoveIt.

Every goal is first checked by the core (:func:`pa_grasp_execution.plan.plan_grasp`: workspace
box, approach direction, hand pre-shape range); a refused grasp ends with success = false,
reachable = false and the reason, and nothing moves. Then the MoveIt backend solves IK for the
pre-grasp, grasp and lift poses, checks the joint limits, and runs: hand pre-shape -> pre-grasp
pose (``pregrasp_offset`` back along the approach axis) -> straight approach -> close (each
finger stops on contact) -> lift -> (home). The free motions avoid the table (parameters
``table_*``) and the goal's obstacle boxes. One grasp at a time (a second goal is rejected);
cancel is honoured between the stages.

Needs moveit_py (docker image or a full ROS 2 Jazzy install); without it the node prints why and
exits with status 1.
"""

from __future__ import annotations

import sys
import threading

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from pa_grasp_execution.backend import ExecutionOutcome
from pa_grasp_execution.execution_msgs import (
    from_execute_goal,
    obstacles_from_goal,
    to_execute_feedback_msg,
    to_execute_result_msg,
)
from pa_grasp_execution.executor_config import DESCRIPTIONS, READ_ONLY, ExecutorConfig
from pa_grasp_execution.plan import PlanError, plan_grasp
from pa_grasp_interfaces.action import ExecuteGrasp
from pa_grasp_perception.action_qos import GOAL_SERVICE_QOS
from pa_grasp_perception.node_main import run_node
from pa_grasp_perception.ros_parameters import declare_config


def moveit_backend_factory(node, config, callback_group):
    from pa_grasp_execution.moveit_backend import make_backend  # the only path to MoveIt

    return make_backend(node, config, callback_group)


class ExecutorNode(Node):
    def __init__(self, node_name: str = "executor_node", backend_factory=None, **kwargs):
        """``backend_factory(node, config, callback_group)`` builds the motion backend (default:
        MoveIt; raises MoveItUnavailableError where moveit_py is missing)."""
        super().__init__(node_name, **kwargs)
        self.config: ExecutorConfig = declare_config(self, ExecutorConfig, DESCRIPTIONS, READ_ONLY)
        self.plan_config = self.config.plan_config()
        group = ReentrantCallbackGroup()
        self.backend = (backend_factory or moveit_backend_factory)(self, self.config, group)
        self._busy_lock = threading.Lock()
        self._busy = False
        self._server = ActionServer(
            self,
            ExecuteGrasp,
            self.config.execute_action,
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda goal_handle: CancelResponse.ACCEPT,
            callback_group=group,
            goal_service_qos_profile=GOAL_SERVICE_QOS,
        )
        self.get_logger().info(f"executing grasps on {self.config.execute_action} (frame {self.config.base_frame})")

    def _on_goal(self, goal) -> GoalResponse:
        with self._busy_lock:
            if self._busy:
                self.get_logger().warning("rejecting an execute_grasp goal: a grasp is being executed")
                return GoalResponse.REJECT
            self._busy = True
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle) -> ExecuteGrasp.Result:
        try:
            return self._run(goal_handle)
        except Exception as exc:  # never let one goal take the node down
            self.get_logger().error(f"execute_grasp failed: {type(exc).__name__}: {exc}")
            goal_handle.abort()
            return to_execute_result_msg(False, f"internal error: {type(exc).__name__}: {exc}", True, 0)
        finally:
            with self._busy_lock:
                self._busy = False

    def _run(self, goal_handle) -> ExecuteGrasp.Result:
        try:
            frame, T, joints, pregrasp, lift = from_execute_goal(goal_handle.request)
            obstacles = obstacles_from_goal(goal_handle.request)
            if frame not in ("", self.config.base_frame):
                raise PlanError(
                    f"grasp_pose is in frame '{frame}'; this executor takes '{self.config.base_frame}'", reachable=True
                )
            plan = plan_grasp(T, joints, self.plan_config, pregrasp, lift, obstacles)
        except (PlanError, ValueError) as exc:
            reachable = getattr(exc, "reachable", True)
            self.get_logger().warning(f"refusing the grasp before moving: {exc}")
            if reachable:  # a malformed request
                goal_handle.abort()
            else:  # a well-formed grasp the robot must not try: a failed grasp
                goal_handle.succeed()
            return to_execute_result_msg(False, str(exc), reachable, 0)

        def feedback(stage: int, description: str) -> None:
            goal_handle.publish_feedback(to_execute_feedback_msg(stage, description))

        outcome: ExecutionOutcome = self.backend.execute(plan, feedback, lambda: goal_handle.is_cancel_requested)
        if outcome.canceled:
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        verdict = "lifted an object" if outcome.success else f"failed: {outcome.reason}"
        self.get_logger().info(f"grasp {verdict}")
        return to_execute_result_msg(outcome.success, outcome.reason, outcome.reachable, outcome.objects_lifted)

    def destroy_node(self):
        self.backend.shutdown()
        self._server.destroy()  # Node.destroy_node() leaves action servers (and so the node) alive
        return super().destroy_node()


def main(args=None) -> int:
    def _exit_code(exc: Exception) -> int:
        from pa_grasp_execution.moveit_backend import MoveItUnavailableError

        return 1 if isinstance(exc, MoveItUnavailableError) else 2

    return run_node(ExecutorNode, "executor_node", args, exit_code_for=_exit_code)


if __name__ == "__main__":
    sys.exit(main())
