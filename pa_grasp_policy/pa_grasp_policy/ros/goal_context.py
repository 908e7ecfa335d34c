"""One running /grasp goal as policy_node sees it: where a cancel or a preemption is honoured, and
its feedback (ROS glue)."""

from __future__ import annotations

import threading
import time

from pa_grasp_policy.ros.policy_msgs import to_feedback_msg

PREEMPTED = "preempted by a newer /grasp goal"


class GoalAbortedError(Exception):
    """The goal cannot go on; the message is the result's message."""


class GoalCanceledError(Exception):
    """Cancel was requested; the message says where it was honoured."""


class GoalContext:
    def __init__(self, goal_handle, shutdown: threading.Event):
        self.goal_handle = goal_handle
        self._shutdown = shutdown
        self._preempted = threading.Event()
        self.executing = False  # an execution on the robot is running (set around ExecuteGrasp)
        self._moving_when_preempted = False
        self.executions = 0  # finished executions of this goal

    def preempt(self) -> None:
        """A newer goal wants the robot: stop at the next check point (a running execution is finished first)."""
        self._moving_when_preempted = self.executing
        self._preempted.set()

    @property
    def preempted(self) -> bool:
        return self._preempted.is_set()

    def _stopping(self) -> bool:
        return self.goal_handle.is_cancel_requested or self._preempted.is_set() or self._shutdown.is_set()

    def check(self, where: str) -> None:
        """Stop here if a cancel was requested (GoalCanceledError), or if a newer goal preempted this
        one or the node is shutting down (GoalAbortedError)."""
        if self.goal_handle.is_cancel_requested:
            raise GoalCanceledError(f"canceled {where}")
        if self._preempted.is_set():
            if self._moving_when_preempted:
                robot = "the robot was executing a grasp, which was finished first"
            elif self.executions:
                robot = f"the robot was not moving ({self.executions} execution(s) of this goal had ended)"
            else:
                robot = "the robot was not moving and nothing was executed for this goal"
            raise GoalAbortedError(f"{PREEMPTED}: stopped {where}; {robot}")
        if self._shutdown.is_set():
            raise GoalAbortedError("policy_node is shutting down")

    def feedback(self, stage, attempt, zoom_step, box, size, description) -> None:
        self.goal_handle.publish_feedback(to_feedback_msg(stage, attempt, zoom_step, box, size, description))

    def pause(self, seconds: float) -> None:
        """Sleep up to `seconds`, less if a cancel or a preemption arrives or the node shuts down."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping():
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
