"""pa-grasp-client interrupted before the server's goal response arrives: the order of events
test_sim_stack's Ctrl-C test hits only by chance. A real action server (in this process, over
real DDS) takes its time to accept, so the client's SIGINT lands while it waits for the
response; the client must still cancel the goal the server then accepts."""

import signal
import subprocess
import sys
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.action import ActionServer, CancelResponse, GoalResponse  # noqa: E402

from pa_grasp_interfaces.action import Grasp  # noqa: E402
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402

ACTION = "/pa_grasp_test/slow_to_accept_grasp"
ACCEPT_DELAY_S = 2.0  # the client is interrupted well inside this


class SlowToAcceptServer:
    """A /grasp server whose goal callback takes ACCEPT_DELAY_S; its goals run until canceled."""

    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("slow_to_accept_server", context=self.context)
        self.goal_arrived = threading.Event()
        self.cancel_requested = threading.Event()
        self.goal_ended_canceled = threading.Event()
        self.server = ActionServer(
            self.node,
            Grasp,
            ACTION,
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
        )
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.node)
        self.spinner = BackgroundSpinner(self.executor, name="slow_to_accept_server").start()

    def _on_goal(self, goal):
        self.goal_arrived.set()
        time.sleep(ACCEPT_DELAY_S)
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle):
        self.cancel_requested.set()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        deadline = time.monotonic() + 30.0
        while not goal_handle.is_cancel_requested and time.monotonic() < deadline:
            time.sleep(0.02)
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
            self.goal_ended_canceled.set()
        else:
            goal_handle.abort()
        return Grasp.Result(message="ended by the test server")

    def close(self):
        self.spinner.stop()
        self.server.destroy()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def server():
    s = SlowToAcceptServer()
    yield s
    s.close()


def test_ctrl_c_before_the_goal_response_still_cancels_the_accepted_goal(server):
    cli = subprocess.Popen(
        [sys.executable, "-m", "pa_grasp_bringup.client", "--action", ACTION, "--server-timeout", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.goal_arrived.wait(30.0), "the client's goal never reached the server"
        cli.send_signal(signal.SIGINT)  # the server is still deciding: no goal response yet
        _, stderr = cli.communicate(timeout=20)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130, stderr
    assert "interrupted while waiting for the goal response" in stderr
    assert "the goal in flight was asked to cancel" in stderr
    assert server.cancel_requested.wait(5.0), "the server never got the cancel request"
    assert server.goal_ended_canceled.wait(5.0), "the accepted goal did not end canceled"
