"""/grasp over real DDS: goal, feedback, result and cancel between an rclpy ActionServer and
ActionClient in one process (two nodes, one multi-threaded executor)."""

import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse  # noqa: E402

from pa_grasp_interfaces.action import Grasp  # noqa: E402
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402

ZOOM_STEPS = 3


class ZoomingServer:
    """Publishes one feedback per zoom step, honours cancel between steps."""

    def __init__(self, node, step_period_s):
        self.step_period_s = step_period_s
        self.server = ActionServer(
            node,
            Grasp,
            "grasp",
            execute_callback=self.execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT,
            cancel_callback=lambda goal_handle: CancelResponse.ACCEPT,
        )

    def execute(self, goal_handle):
        result = Grasp.Result()
        for step in range(ZOOM_STEPS):
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                result.message = "canceled during zoom"
                return result
            feedback = Grasp.Feedback(stage=Grasp.Feedback.STAGE_ZOOMING, attempt=1, zoom_step=step)
            feedback.current_box.width = 224 >> step
            feedback.current_box.height = 224 >> step
            goal_handle.publish_feedback(feedback)
            time.sleep(self.step_period_s)
        goal_handle.succeed()
        result.success = True
        result.attempts = 1
        result.hand_joints = [0.1, 0.2, 0.3, 0.4]
        return result


@pytest.fixture
def graph():
    context = rclpy.Context()
    rclpy.init(context=context)
    server_node = rclpy.create_node("grasp_test_server", context=context)
    client_node = rclpy.create_node("grasp_test_client", context=context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(server_node)
    executor.add_node(client_node)
    spinner = BackgroundSpinner(executor, name="grasp_roundtrip").start()
    try:
        yield server_node, client_node
    finally:
        spinner.stop()  # no callback runs while the nodes are destroyed
        server_node.destroy_node()
        client_node.destroy_node()
        rclpy.shutdown(context=context)


def wait(future, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not future.done():
        assert time.monotonic() < deadline, "timed out waiting for the action"
        time.sleep(0.01)
    return future.result()


def test_goal_feedback_result(graph):
    server_node, client_node = graph
    ZoomingServer(server_node, step_period_s=0.05)
    client = ActionClient(client_node, Grasp, "grasp")
    assert client.wait_for_server(timeout_sec=10.0)

    feedback = []
    goal_handle = wait(client.send_goal_async(Grasp.Goal(max_attempts=2), feedback_callback=feedback.append))
    assert goal_handle.accepted
    response = wait(goal_handle.get_result_async())

    assert response.result.success
    assert list(response.result.hand_joints) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    steps = [f.feedback.zoom_step for f in feedback]
    assert steps == list(range(ZOOM_STEPS))
    assert [f.feedback.current_box.width for f in feedback] == [224, 112, 56]


def test_cancel_during_zoom(graph):
    server_node, client_node = graph
    ZoomingServer(server_node, step_period_s=0.5)
    client = ActionClient(client_node, Grasp, "grasp")
    assert client.wait_for_server(timeout_sec=10.0)

    feedback = []
    goal_handle = wait(client.send_goal_async(Grasp.Goal(), feedback_callback=feedback.append))
    deadline = time.monotonic() + 5
    while not feedback:
        assert time.monotonic() < deadline, "no feedback before cancel"
        time.sleep(0.01)
    cancel_response = wait(goal_handle.cancel_goal_async())
    assert len(cancel_response.goals_canceling) == 1
    response = wait(goal_handle.get_result_async())

    from action_msgs.msg import GoalStatus

    assert response.status == GoalStatus.STATUS_CANCELED
    assert not response.result.success
    assert len(feedback) < ZOOM_STEPS
