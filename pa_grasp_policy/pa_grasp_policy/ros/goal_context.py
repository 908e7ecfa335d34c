"""One running /grasp goal as policy_node sees it: where a cancel is honoured, and its feedback
(ROS glue)."""

from __future__ import annotations

import threading
import time

from pa_grasp_policy.ros.policy_msgs import to_feedback_msg


class GoalAbortedError(Exception):
    """The goal cannot go on; the message is the result's message."""


class GoalCanceledError(Exception):
    """Cancel was requested; the message says where it was honoured."""


class GoalContext:
    def __init__(self, goal_handle, shutdown: threading.Event):
        self.goal_handle = goal_handle
        self._shutdown = shutdown

    def check(self, where: str) -> None:
        """Stop here (GoalCanceledError) if a cancel was requested, or if the node is shutting down."""
        if self.goal_handle.is_cancel_requested:
            raise GoalCanceledError(f"canceled {where}")
        if self._shutdown.is_set():
            raise GoalAbortedError("policy_node is shutting down")

    def feedback(self, stage, attempt, zoom_step, box, size, description) -> None:
        self.goal_handle.publish_feedback(to_feedback_msg(stage, attempt, zoom_step, box, size, description))

    def pause(self, seconds: float) -> None:
        """Sleep up to `seconds`, less if a cancel arrives or the node shuts down."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.goal_handle.is_cancel_requested and not self._shutdown.is_set():
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
