"""An rclpy ActionClient whose goal, cancel and result responses cannot be lost to a race (node
layer: imports rclpy).

Why: the Jazzy rclpy these wheels ship sends a request first and registers the future that waits
for its response second (`send_goal_async`, `_cancel_goal_async`, `_get_result_async`). With a
MultiThreadedExecutor another thread can take and handle the response in between; the client
then logs "Ignoring unexpected goal response. There may be more than one action server" and the
future never completes (ros2/rclpy#1123). Seen here: fresh-clone CI under load, where
policy_node waited for an ExecuteGrasp goal response the simulator had already sent and executed.
Here each send-and-register runs under one lock, and handling taken responses waits for that
lock first, so a response is only looked up once its future is registered.
"""

from __future__ import annotations

import threading

from rclpy.action import ActionClient


class RaceFreeActionClient(ActionClient):
    """`rclpy.action.ActionClient` with the send/response race closed (same constructor and API)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Reentrant: a feedback or done callback may send another request from inside a send.
        self._register_lock = threading.RLock()

    def send_goal_async(self, goal, feedback_callback=None, goal_uuid=None):
        with self._register_lock:
            return super().send_goal_async(goal, feedback_callback, goal_uuid)

    def _cancel_goal_async(self, goal_handle):
        with self._register_lock:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle):
        with self._register_lock:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data):
        with self._register_lock:
            pass  # a request being sent right now has registered its future once this returns
        await super().execute(taken_data)
