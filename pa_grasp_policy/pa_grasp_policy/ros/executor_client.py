"""policy_node's side of ExecuteGrasp: send one grasp to the executor (executor_node or
sim_bridge_node) and wait for its outcome (ROS glue)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pa_grasp_interfaces.action import ExecuteGrasp
from pa_grasp_perception.action_client import RaceFreeActionClient

POLL_S = 0.05


class ExecutionError(Exception):
    """The grasp could not be executed (no executor, rejected, timed out, shutting down)."""


class ExecutorClient:
    def __init__(self, node, action: str, callback_group=None):
        self.action = action
        self._node = node
        self._client = RaceFreeActionClient(node, ExecuteGrasp, action, callback_group=callback_group)
        self.last_end_ns = 0  # when the last execution ended (node clock): later depth shows its effect

    def destroy(self) -> None:
        self._client.destroy()

    def execute(
        self,
        goal: ExecuteGrasp.Goal,
        server_timeout_s: float,
        timeout_s: float,
        on_feedback: Callable[[ExecuteGrasp.Feedback], None],
        stopping: threading.Event,
    ) -> ExecuteGrasp.Result:
        """Send `goal` and wait for its result; ExecutionError says why there is none."""
        client = self._client
        if not client.server_is_ready() and not client.wait_for_server(timeout_sec=server_timeout_s):
            raise ExecutionError(
                f"no ExecuteGrasp server on {self.action} within {server_timeout_s:g} s"
                " (is sim_bridge_node or executor_node running?)"
            )
        future = client.send_goal_async(goal, feedback_callback=lambda msg: on_feedback(msg.feedback))
        handle = self._wait(future, 10.0, "goal response", stopping)
        if handle is None:
            raise ExecutionError(f"the executor on {self.action} did not answer the grasp goal within 10 s")
        if not handle.accepted:
            raise ExecutionError(f"the executor on {self.action} rejected the grasp")
        response = self._wait(handle.get_result_async(), timeout_s, "execution result", stopping)
        self.last_end_ns = self._node.get_clock().now().nanoseconds
        if response is None:
            handle.cancel_goal_async()
            raise ExecutionError(f"the grasp execution did not finish within execute_timeout_s={timeout_s:g} s")
        return response.result

    @staticmethod
    def _wait(future, timeout_s: float, what: str, stopping: threading.Event):
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        deadline = time.monotonic() + timeout_s
        while not done.wait(POLL_S):
            if stopping.is_set():
                raise ExecutionError(f"policy_node is shutting down while waiting for the {what}")
            if time.monotonic() >= deadline:
                return None
        return future.result()
