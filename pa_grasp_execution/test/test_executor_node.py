"""executor_node's action handling over real DDS with a fake motion backend (MoveIt is not
installed here): unsafe grasps are refused before the backend moves anything, good ones reach
it as checked plans, one grasp at a time; without moveit_py the node exits non-zero."""

import math
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from action_msgs.msg import GoalStatus  # noqa: E402
from geometry_msgs.msg import Point, Vector3  # noqa: E402

from pa_grasp_execution.backend import STAGE_CLOSE, ExecutionOutcome  # noqa: E402
from pa_grasp_execution.executor_config import ExecutorConfig  # noqa: E402
from pa_grasp_execution.executor_node import ExecutorNode  # noqa: E402
from pa_grasp_interfaces.action import ExecuteGrasp  # noqa: E402
from pa_grasp_perception.action_client import RaceFreeActionClient  # noqa: E402
from pa_grasp_perception.grasp_geometry import grasp_palm_pose  # noqa: E402
from pa_grasp_perception.perception_msgs import to_pose_msg  # noqa: E402
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402

TIMEOUT_S = 15.0


class FakeBackend:
    def __init__(self):
        self.plans = []
        self.release = threading.Event()
        self.release.set()

    def execute(self, plan, feedback, cancelled):
        self.plans.append(plan)
        feedback(STAGE_CLOSE, "closing")
        self.release.wait(TIMEOUT_S)
        return ExecutionOutcome(True, objects_lifted=1)

    def shutdown(self):
        pass


def wait_for(predicate, what):
    deadline = time.monotonic() + TIMEOUT_S
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


@pytest.fixture
def graph():
    context = rclpy.Context()
    rclpy.init(context=context)
    backend = FakeBackend()
    node = ExecutorNode(context=context, backend_factory=lambda node, config, group: backend)
    probe = rclpy.create_node("executor_probe", context=context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(node)
    executor.add_node(probe)
    spinner = BackgroundSpinner(executor, name="executor_node_test").start()
    client = RaceFreeActionClient(probe, ExecuteGrasp, "/pa_grasp/execute_grasp")
    assert client.wait_for_server(timeout_sec=TIMEOUT_S)
    try:
        yield backend, client
    finally:
        backend.release.set()
        spinner.stop()  # no callback runs while the nodes are destroyed
        client.destroy()
        node.destroy_node()
        probe.destroy_node()
        rclpy.shutdown(context=context)


def goal_at(point, hand=(0.3, 0.1, 0.1, 0.1), frame="base_link") -> ExecuteGrasp.Goal:
    goal = ExecuteGrasp.Goal()
    goal.grasp_pose.header.frame_id = frame
    goal.grasp_pose.pose = to_pose_msg(grasp_palm_pose(np.asarray(point, dtype=float), 0.0, math.pi / 2, 0.0, 0.05))
    goal.hand_joints = list(hand)
    return goal


def send(client, goal, feedback=None):
    future = client.send_goal_async(goal, feedback_callback=feedback)
    handle = wait_for(lambda: future.done() and future.result(), "the goal response")
    return handle


def finish(handle):
    future = handle.get_result_async()
    response = wait_for(lambda: future.done() and future.result(), "the result")
    return response.status, response.result


def test_unsafe_grasps_are_refused_before_anything_moves(graph):
    backend, client = graph
    status, result = finish(send(client, goal_at([1.5, 0.0, 0.05])))
    assert (status, result.success, result.reachable) == (GoalStatus.STATUS_SUCCEEDED, False, False)
    assert "outside the workspace box" in result.reason
    status, result = finish(send(client, goal_at([0.5, 0.0, 0.05], hand=(0.0, 2.0, 0.0, 0.0))))
    assert status == GoalStatus.STATUS_ABORTED and "pre-shape" in result.reason
    status, result = finish(send(client, goal_at([0.5, 0.0, 0.05], frame="camera_depth_optical_frame")))
    assert status == GoalStatus.STATUS_ABORTED and "frame" in result.reason
    assert backend.plans == []


def test_a_good_grasp_reaches_the_backend_one_at_a_time(graph):
    backend, client = graph
    backend.release.clear()
    feedback = []
    first = send(client, goal_at([0.55, 0.05, 0.03]), feedback=lambda m: feedback.append(m.feedback))
    assert first.accepted
    wait_for(lambda: backend.plans, "the backend to start")
    second = send(client, goal_at([0.55, 0.05, 0.03]))
    assert not second.accepted, "a second grasp while one executes is rejected"
    backend.release.set()
    status, result = finish(first)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success and result.objects_lifted == 1
    (plan,) = backend.plans
    np.testing.assert_allclose(plan.T_pregrasp[:3, 3], [0.55, 0.05, 0.13], atol=1e-9)  # default 5 cm back
    assert plan.hand_preshape["bh_j21_joint"] == pytest.approx(0.3)
    wait_for(lambda: feedback, "feedback")
    assert feedback[0].stage == ExecuteGrasp.Feedback.STAGE_CLOSE


def test_the_goals_obstacles_reach_the_backend_and_unpaired_ones_are_refused(graph):
    backend, client = graph
    goal = goal_at([0.55, 0.05, 0.03])
    goal.obstacle_centers = [Point(x=0.3, y=-0.2, z=0.04), Point(x=0.7, y=0.1, z=0.02)]
    goal.obstacle_sizes = [Vector3(x=0.025, y=0.025, z=0.08), Vector3(x=0.02, y=0.03, z=0.04)]
    status, result = finish(send(client, goal))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success
    (plan,) = backend.plans
    assert [(b.center, b.size) for b in plan.obstacles] == [
        ((0.3, -0.2, 0.04), (0.025, 0.025, 0.08)),
        ((0.7, 0.1, 0.02), (0.02, 0.03, 0.04)),
    ]
    goal.obstacle_sizes = goal.obstacle_sizes[:1]
    status, result = finish(send(client, goal))
    assert status == GoalStatus.STATUS_ABORTED and "obstacle_sizes" in result.reason
    goal.obstacle_sizes = [Vector3(x=0.025, y=0.025, z=0.08), Vector3(x=0.02, y=0.0, z=0.04)]
    status, result = finish(send(client, goal))
    assert status == GoalStatus.STATUS_ABORTED and "obstacle 1" in result.reason
    assert len(backend.plans) == 1


def test_bad_close_and_table_settings_are_refused():
    with pytest.raises(ValueError, match="close_timeout_s"):
        ExecutorConfig(close_duration_s=3.0, close_timeout_s=2.0)
    with pytest.raises(ValueError, match="table_size_xy_m"):
        ExecutorConfig(table_size_xy_m=[0.5])


def test_without_moveit_the_node_exits_non_zero(capfd):
    try:
        import moveit  # noqa: F401

        pytest.skip("moveit_py is installed here")
    except ImportError:
        pass
    from pa_grasp_execution.executor_node import main

    assert main() == 1
    assert "moveit_py is not available" in capfd.readouterr().err
