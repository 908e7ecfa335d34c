"""policy_node over real DDS with a fake camera and a fake executor: no depth -> a clear abort and
the node stays up; with depth the goal runs the zoom loop, sends the grasp in base_link and
reports feedback; ROI goals start from the ROI; no executor -> a clear abort. With the planner's
extras the node sends what the planner ranks, in its order; cancels stop the twin; a crashed twin
worker aborts one goal. Without pybullet the node serves the policy alone.

The simulator (pybullet) is imported only inside the tests that switch the twin on, so this module
also runs in a process where pybullet cannot be imported (test_the_policy_alone_needs_no_pybullet)."""

import contextlib
import dataclasses
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

rclpy = pytest.importorskip("rclpy")
from action_msgs.msg import GoalStatus  # noqa: E402
from rclpy.action import ActionServer  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from pa_grasp_interfaces.action import ExecuteGrasp, Grasp  # noqa: E402
from pa_grasp_interfaces.srv import DetectGrasps  # noqa: E402
from pa_grasp_perception.action_client import RaceFreeActionClient  # noqa: E402
from pa_grasp_perception.camera import CameraIntrinsics  # noqa: E402
from pa_grasp_perception.grasp_geometry import pose_from_xyz_quat  # noqa: E402
from pa_grasp_perception.perception_msgs import (  # noqa: E402
    from_pose_msg,
    from_transform_msg,
    to_camera_info_msg,
    to_image_msg,
    to_transform_stamped_msg,
)
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402
from pa_grasp_perception.trained_view import TrainedView, to_trained_view  # noqa: E402
from pa_grasp_perception.transforms import publish_static_transforms  # noqa: E402
from pa_grasp_policy.model.checkpoint import save_checkpoint  # noqa: E402
from pa_grasp_policy.model.network import NetworkConfig  # noqa: E402
from pa_grasp_policy.model.policy import Policy  # noqa: E402
from pa_grasp_policy.planner.loading import load_model  # noqa: E402
from pa_grasp_policy.planner.planner import GraspPlanner, PlannerConfig  # noqa: E402
from pa_grasp_policy.planner.proposal import make_proposal  # noqa: E402
from pa_grasp_policy.planner.selector import GraspSelector, SelectorError, weights_sha256  # noqa: E402
from pa_grasp_policy.planner.views import run_turned  # noqa: E402
from pa_grasp_policy.ros.policy_node import PolicyNode  # noqa: E402
from pa_grasp_policy.ros.policy_node_config import PolicyNodeConfig  # noqa: E402

CAMERA = [0.55, 0.0, 0.75, 0.7071067811865476, -0.7071067811865476, 0.0, 0.0]
INTRINSICS = CameraIntrinsics(96, 80, 90.0, 90.0, 47.5, 39.5)
TIMEOUT_S = 20.0


def scene_depth() -> np.ndarray:
    """A ~5 cm box on the table: small enough that some of an untrained policy's grasps lift its
    depth twin and others do not."""
    depth = np.full((80, 96), 0.75, dtype=np.float32)
    depth[34:41, 50:57] = 0.68
    return depth


def bar_depth() -> np.ndarray:
    """A 1.5 cm high bar on the table: the untrained policy's four grasps on it are unsure in the
    depth twin (at most 3 of 5 lift), and a small change of one of them lifts 5 of 5 (a 3 cm bar
    until the geared hand of 2026-12-07, whose grasps lift it for sure)."""
    depth = np.full((80, 96), 0.75, dtype=np.float32)
    depth[34:41, 44:62] = 0.735
    return depth


def wait_for(predicate, what, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.02)
    return value


class FakeRobot:
    """Plays kinect_node (conditioned depth at 20 Hz, on demand), the executor (always lifts) and
    the camera mount (CAMERA on tf_static; `mount_camera` moves it).

    Depth comes from a thread of its own, as from a camera driver, not from a timer on the probe
    node: that timer shared a callback group and the executor with the test's action client, and
    once (fresh-clone CI at e888142) the policy node saw no depth for 1.3 s, which turned the ROI
    goal's expected "roi" abort into a stale-depth abort. (The likelier cause, found later: rclpy's
    executor busy-looping, see pa_grasp_perception.spinning.MultiThreadedExecutor.)"""

    PERIOD_S = 0.05

    def __init__(self, node, depth: np.ndarray):
        self.node = node
        self.depth = depth
        self.publishing = False
        self.last_publish = float("-inf")  # time.monotonic() of the last depth image
        self.goals: list[ExecuteGrasp.Goal] = []
        self.lifts = True  # what every execution reports
        self.unreachable_first = 0  # the first this many executions report an unreachable pose
        self.frame_id = "camera_depth_optical_frame"  # of the depth images
        self.edit_info = lambda info: None  # applied to every camera_info before it is published
        self.depth_pub = node.create_publisher(Image, "/pa_grasp/depth", qos_profile_sensor_data)
        self.info_pub = node.create_publisher(CameraInfo, "/pa_grasp/camera_info", qos_profile_sensor_data)
        self.server = None
        self.mount_camera(pose_from_xyz_quat(CAMERA))
        self._stop = threading.Event()
        self._camera = threading.Thread(target=self._publish_loop, daemon=True)
        self._camera.start()

    def mount_camera(self, T_base_camera, frame="camera_depth_optical_frame"):
        """Latch T_base_camera on tf_static (a new publisher replaces the old one's transform)."""
        self.tf_static = publish_static_transforms(self.node, [("base_link", frame, T_base_camera)])

    def serve_execute(self):
        self.server = ActionServer(self.node, ExecuteGrasp, "/pa_grasp/execute_grasp", execute_callback=self._execute)

    def stop(self):
        self._stop.set()
        self._camera.join(timeout=5)

    def staleness(self) -> str:
        return f"the fake camera last published {time.monotonic() - self.last_publish:.2f} s ago"

    def _execute(self, goal_handle):
        self.goals.append(goal_handle.request)
        goal_handle.succeed()
        if len(self.goals) <= self.unreachable_first:  # refused before moving, as both executors do
            return ExecuteGrasp.Result(success=False, reachable=False, reason="pre-grasp pose unreachable")
        if not self.lifts:
            return ExecuteGrasp.Result(success=False, reachable=True, objects_lifted=0, reason="nothing lifted")
        return ExecuteGrasp.Result(success=True, reachable=True, objects_lifted=1)

    def _publish_loop(self):
        while not self._stop.wait(self.PERIOD_S):
            if self.publishing:
                header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=self.frame_id)
                info = to_camera_info_msg(INTRINSICS, header)
                self.edit_info(info)
                self.info_pub.publish(info)
                self.depth_pub.publish(to_image_msg(self.depth, header))
                self.last_publish = time.monotonic()


@contextlib.contextmanager
def node_graph(checkpoint, *parameters, depth=None, depth_timeout_s=5.0):
    """policy_node (the checkpoint, the test camera, a 1 s executor timeout, `depth_timeout_s`,
    `parameters`), a probe node with the fake robot (publishing `depth`, scene_depth() by
    default), and an action client, spinning in the background."""
    context = rclpy.Context()
    rclpy.init(context=context)
    policy_node = PolicyNode(
        context=context,
        parameter_overrides=[
            Parameter("checkpoint", value=str(checkpoint)),
            Parameter("depth_timeout_s", value=depth_timeout_s),
            Parameter("normalize_view", value=False),  # the small test image as it is (test_trained_view_*)
            Parameter("execute_server_timeout_s", value=1.0),
            *parameters,
        ],
    )
    probe = rclpy.create_node("policy_node_probe", context=context)
    executor = MultiThreadedExecutor(num_threads=6, context=context)
    executor.add_node(policy_node)
    executor.add_node(probe)
    spinner = BackgroundSpinner(executor, name="policy_node_test").start()
    client = RaceFreeActionClient(probe, Grasp, "/grasp")
    assert client.wait_for_server(timeout_sec=TIMEOUT_S)
    robot = FakeRobot(probe, scene_depth() if depth is None else depth)
    try:
        yield policy_node, robot, client
    finally:
        robot.stop()
        spinner.stop()  # no callback runs while the nodes are destroyed
        client.destroy()
        if robot.server is not None:
            robot.server.destroy()
        policy_node.destroy_node()
        probe.destroy_node()
        rclpy.shutdown(context=context)


@pytest.fixture
def graph(tmp_path):
    with node_graph(save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))) as nodes:
        yield nodes


@pytest.fixture
def graph_short_depth_timeout(tmp_path):
    """The graph with a 1 s depth timeout, for the test that waits for it to expire."""
    checkpoint = save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))
    with node_graph(checkpoint, depth_timeout_s=1.0) as nodes:
        yield nodes


def send(client, goal: Grasp.Goal, timeout_s: float = TIMEOUT_S):
    feedback = []
    future = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
    handle = wait_for(lambda: future.done() and future.result(), "the goal response")
    assert handle.accepted
    result_future = handle.get_result_async()
    response = wait_for(lambda: result_future.done() and result_future.result(), "the result", timeout_s)
    return response.status, response.result, feedback


def test_no_depth_aborts_clearly_and_a_later_goal_works(graph_short_depth_timeout):
    policy_node, robot, client = graph_short_depth_timeout
    status, result, feedback = send(client, Grasp.Goal(max_attempts=2))
    assert status == GoalStatus.STATUS_ABORTED
    assert not result.success
    assert "no usable depth within depth_timeout_s=1 s" in result.message and "/pa_grasp/depth" in result.message
    assert feedback[0].stage == Grasp.Feedback.STAGE_WAITING_FOR_DEPTH

    robot.publishing = True
    robot.serve_execute()
    debug = {}
    robot.node.create_subscription(Image, "/pa_grasp/debug_image", lambda m: debug.setdefault("image", m), 10)
    robot.node.create_subscription(MarkerArray, "/pa_grasp/grasp_markers", lambda m: debug.setdefault("markers", m), 10)
    wait_for(lambda: policy_node.count_subscribers("/pa_grasp/debug_image"), "the debug image subscription")
    status, result, feedback = send(client, Grasp.Goal(max_attempts=2, deterministic=True))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success and result.attempts == 1, result.message
    zooming = [f for f in feedback if f.stage == Grasp.Feedback.STAGE_ZOOMING]
    assert [f.zoom_step for f in zooming] == list(range(len(zooming))) and zooming
    assert (zooming[0].current_box.width, zooming[0].current_box.height) == (96, 80)  # the whole image first
    assert len(result.zoom_boxes) == len(zooming)
    assert any(f.stage == Grasp.Feedback.STAGE_EXECUTING for f in feedback)

    # The executor got the grasp in base_link, where the pixel lies according to the camera pose.
    (sent,) = robot.goals
    assert sent.grasp_pose.header.frame_id == "base_link"
    expected = make_proposal(
        scene_depth(),
        INTRINSICS,
        pose_from_xyz_quat(CAMERA),
        (result.proposal.u, result.proposal.v),
        (result.proposal.roll, result.proposal.pitch, result.proposal.yaw),
        result.hand_joints,
        0.05,
    )
    np.testing.assert_allclose(from_pose_msg(sent.grasp_pose.pose), expected.T_base_palm, atol=1e-6)
    np.testing.assert_allclose(list(sent.hand_joints), list(result.hand_joints))
    assert 0 <= result.proposal.pitch <= math.pi
    # The planning scene: what the image shows above the table, but not around the grasp.
    target = expected.point_base  # the grasp's surface point
    boxes = [(c.x, c.y) for c in sent.obstacle_centers]
    assert len(boxes) == len(sent.obstacle_sizes)
    assert all(np.hypot(x - target[0], y - target[1]) > 0.08 for x, y in boxes), boxes

    # Debug output: the depth with the zoom boxes (rgb8, upscaled) and the grasp markers in base_link.
    wait_for(lambda: len(debug) == 2, "the debug image and the grasp markers")
    image, markers = debug["image"], debug["markers"]
    assert image.encoding == "rgb8" and image.width * 80 == image.height * 96 and image.width >= 96
    assert {m.header.frame_id for m in markers.markers} == {"base_link"}
    arrow = next(m for m in markers.markers if m.action == m.ADD and m.type == m.ARROW and m.id == 0)
    tip = np.array([arrow.points[1].x, arrow.points[1].y, arrow.points[1].z])
    np.testing.assert_allclose(tip, expected.T_base_palm[:3, 3], atol=1e-6)  # the arrow ends at the palm


def set_projection(**values):
    """A camera_info edit: these of fx, fy, cx, cy in both K and P, or D."""
    k_index, p_index = {"fx": 0, "cx": 2, "fy": 4, "cy": 5}, {"fx": 0, "cx": 2, "fy": 5, "cy": 6}

    def edit(info: CameraInfo):
        for name, value in values.items():
            if name == "d":
                info.d = value
            else:
                info.k[k_index[name]], info.p[p_index[name]] = value, value

    return edit


BAD_CAMERA_INFOS = [  # (edit, what the abort message must name)
    (set_projection(fx=math.inf, fy=math.inf), "fx=inf"),
    (set_projection(cx=math.nan), "cx=nan"),
    (set_projection(fx=1e-300, fy=1e-300), "fx=1e-300"),
    (set_projection(fx=1e300, fy=1e300), "fx=1e+300"),
    (set_projection(cx=500.0), "cx=500 px is outside the 96-px image"),
    (set_projection(cy=-3.0), "cy=-3 px is outside the 80-px image"),
    (set_projection(d=[0.1, math.nan, 0.0, 0.0, 0.0]), "distortion D is not finite"),
]


def test_implausible_intrinsics_or_an_unplaced_frame_abort_the_goal_before_anything_moves(graph):
    """A camera_info no camera could have (a driver glitch) aborts the goal at once, naming the
    value, and no grasp is sent; so does a depth image whose frame_id TF cannot place in base_link.
    With a valid camera_info again the next goal is executed."""
    policy_node, robot, client = graph
    robot.serve_execute()
    robot.publishing = True
    for edit, named in BAD_CAMERA_INFOS:
        robot.edit_info = edit
        time.sleep(3 * FakeRobot.PERIOD_S)  # the good camera_info of before is not the latest
        status, result, _ = send(client, Grasp.Goal(max_attempts=3))
        assert status == GoalStatus.STATUS_ABORTED, named
        assert "invalid camera_info" in result.message and named in result.message, result.message
        assert "nothing was executed" in result.message and not robot.goals
    robot.edit_info = lambda info: None
    robot.frame_id = "camera_link"
    policy_node.set_parameters([Parameter("tf_timeout_s", value=0.2)])
    time.sleep(3 * FakeRobot.PERIOD_S)  # the bad camera_info of before is not the latest
    status, result, _ = send(client, Grasp.Goal(max_attempts=1))
    assert status == GoalStatus.STATUS_ABORTED, result.message
    assert "no transform from 'base_link' to 'camera_link'" in result.message, result.message
    assert "nothing was executed" in result.message and not robot.goals
    robot.frame_id = "camera_depth_optical_frame"
    status, result, _ = send(client, Grasp.Goal(max_attempts=1))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success and len(robot.goals) == 1


def test_an_image_unlike_the_training_camera_is_redrawn_as_it_would_see_it(tmp_path):
    """normalize_view: the 96x80 image is redrawn as the policy's training camera sees the table
    (trained_view.py); the result's zoom boxes and proposal are in that view, whose frame is on
    tf, and the palm pose is the one the redrawn image gives. A roi goal is mapped into it."""
    checkpoint = save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))
    with node_graph(checkpoint, Parameter("normalize_view", value=True)) as (_, robot, client):
        views = []
        robot.node.create_subscription(TFMessage, "/tf", lambda m: views.extend(m.transforms), 10)
        robot.serve_execute()
        robot.publishing = True
        status, result, _ = send(client, Grasp.Goal(max_attempts=1, deterministic=True))
        assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
        trained = TrainedView()  # the test model's training camera is the simulator's default
        assert (result.zoom_boxes[0].width, result.zoom_boxes[0].height) == (trained.side_px, trained.side_px)
        assert result.proposal.header.frame_id == "camera_depth_optical_frame_trained_view"
        wait_for(lambda: [t for t in views if t.child_frame_id == result.proposal.header.frame_id], "the view on tf")
        depth, intrinsics, T_view = to_trained_view(scene_depth(), INTRINSICS, pose_from_xyz_quat(CAMERA), 0.0, trained)
        expected = make_proposal(
            depth,
            intrinsics,
            T_view,
            (result.proposal.u, result.proposal.v),
            (result.proposal.roll, result.proposal.pitch, result.proposal.yaw),
            result.hand_joints,
            0.05,
        )
        np.testing.assert_allclose(from_pose_msg(robot.goals[-1].grasp_pose.pose), expected.T_base_palm, atol=1e-5)

        goal = Grasp.Goal(max_attempts=1, use_roi=True)
        goal.roi.x_offset, goal.roi.y_offset, goal.roi.width, goal.roi.height = 30, 20, 40, 40
        status, result, _ = send(client, goal)
        assert status == GoalStatus.STATUS_SUCCEEDED, result.message
        first = result.zoom_boxes[0]
        assert 0 < first.width < trained.side_px and 0 < first.height < trained.side_px  # the roi, redrawn


def test_moving_the_cameras_transform_moves_the_grasp_in_base_link(graph):
    """The camera is placed by TF at every image: the same image from a camera mounted 10 cm
    further along x and 4 cm to the side gives the same grasp moved by exactly that much."""
    _, robot, client = graph
    robot.serve_execute()
    robot.publishing = True
    poses = []
    shift = np.array([0.10, -0.04, 0.02])
    for offset in (np.zeros(3), shift):
        T_base_camera = pose_from_xyz_quat(CAMERA)
        T_base_camera[:3, 3] += offset
        robot.mount_camera(T_base_camera)
        time.sleep(0.3)  # the new static transform reaches the node
        status, result, _ = send(client, Grasp.Goal(max_attempts=1, deterministic=True))
        assert status == GoalStatus.STATUS_SUCCEEDED, result.message
        poses.append(from_pose_msg(robot.goals[-1].grasp_pose.pose))
    np.testing.assert_allclose(poses[1][:3, 3] - poses[0][:3, 3], shift, atol=1e-6)
    np.testing.assert_allclose(poses[1][:3, :3], poses[0][:3, :3], atol=1e-9)


def test_every_goal_of_a_burst_is_answered(graph):
    """50 goals sent at once by 5 clients: each is accepted or rejected within seconds (one runs,
    the others are rejected: one grasp at a time), none is left without an answer."""
    _, robot, _ = graph
    clients = [RaceFreeActionClient(robot.node, Grasp, "/grasp") for _ in range(5)]
    try:
        for c in clients:
            assert c.wait_for_server(timeout_sec=TIMEOUT_S)
        futures = [c.send_goal_async(Grasp.Goal(max_attempts=1)) for _ in range(10) for c in clients]
        start = time.monotonic()
        wait_for(lambda: all(f.done() for f in futures), "an answer to every goal", timeout_s=10.0)
        answered_s = time.monotonic() - start
        accepted = [f.result() for f in futures if f.result().accepted]
        assert len(accepted) == 1, f"{len(accepted)} of 50 goals accepted in {answered_s:.1f} s"
        # The accepted goal waits for depth that never comes and aborts; then the node serves again.
        result = accepted[0].get_result_async()
        wait_for(lambda: result.done(), "the accepted goal's result")
        assert result.result().status == GoalStatus.STATUS_ABORTED
    finally:
        for c in clients:
            c.destroy()


def start(client, goal: Grasp.Goal):
    """(goal handle, its feedback list) of an accepted goal, its result not awaited."""
    feedback = []
    future = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
    handle = wait_for(lambda: future.done() and future.result(), "the goal response")
    assert handle.accepted
    return handle, feedback


def finish(handle, timeout_s: float = TIMEOUT_S):
    future = handle.get_result_async()
    response = wait_for(lambda: future.done() and future.result(), "the result", timeout_s)
    return response.status, response.result


def test_second_goal_rejects_by_default_preempts_when_asked_and_refuses_other_values(graph):
    """second_goal=reject: a goal arriving while one waits for depth is rejected. Switched to
    preempt at run time: the next goal is accepted, the waiting one ends ABORTED saying it was
    preempted with nothing executed, and the newer goal then runs to success. Anything else than
    reject / preempt is refused."""
    policy_node, robot, client = graph
    robot.serve_execute()
    first, feedback = start(client, Grasp.Goal(max_attempts=1))
    wait_for(lambda: feedback, "the first goal to wait for depth (none is published)")
    rejected = client.send_goal_async(Grasp.Goal(max_attempts=1))
    assert not wait_for(lambda: rejected.done() and rejected.result(), "the second goal's response").accepted

    (refused,) = policy_node.set_parameters([Parameter("second_goal", value="queue")])
    assert not refused.successful and "second_goal must be 'reject' or 'preempt'" in refused.reason
    assert "'queue'" in refused.reason and policy_node.config.second_goal == "reject"
    (switched,) = policy_node.set_parameters([Parameter("second_goal", value="preempt")])
    assert switched.successful and policy_node.config.second_goal == "preempt"

    newer, _ = start(client, Grasp.Goal(max_attempts=1, deterministic=True))
    status, result = finish(first)  # not its depth timeout (5 s): the message tells
    assert status == GoalStatus.STATUS_ABORTED and not result.success, result.message
    assert result.message.startswith("preempted by a newer /grasp goal: stopped while waiting for depth")
    assert "the robot was not moving and nothing was executed" in result.message, result.message
    robot.publishing = True
    status, result = finish(newer)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, f"{result.message} ({robot.staleness()})"
    assert len(robot.goals) == 1


def test_a_preempted_goal_finishes_its_execution_and_a_third_goal_preempts_the_waiting_second(graph):
    """second_goal=preempt while the first goal's grasp executes: the execution is not
    interrupted; the second goal waits for it, and a third goal preempts the waiting second (ended
    before it started). The first ends ABORTED after its execution, saying the robot was moving;
    the third then runs to success. Never do two goals plan or execute at once."""
    policy_node, robot, client = graph
    policy_node.set_parameters([Parameter("second_goal", value="preempt")])
    release, executing = threading.Event(), threading.Event()
    fake_execute = robot._execute

    def slow_first_execution(goal_handle):
        if not robot.goals:  # the first one fails to lift, once released
            robot.goals.append(goal_handle.request)
            executing.set()
            assert release.wait(TIMEOUT_S)
            goal_handle.succeed()
            return ExecuteGrasp.Result(success=False, reachable=True, objects_lifted=0, reason="nothing lifted")
        return fake_execute(goal_handle)

    robot._execute = slow_first_execution
    robot.serve_execute()
    lock, running, most = threading.Lock(), [0], [0]
    run_goal = policy_node._run_goal

    def counted(goal, result):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return run_goal(goal, result)
        finally:
            with lock:
                running[0] -= 1

    policy_node._run_goal = counted
    robot.publishing = True
    first, _ = start(client, Grasp.Goal(max_attempts=3, deterministic=True))
    wait_for(executing.is_set, f"the first goal's execution ({robot.staleness()})")
    second, _ = start(client, Grasp.Goal(max_attempts=1))
    wait_for(lambda: policy_node._waiting is not None, "the second goal to wait for the first")
    third, _ = start(client, Grasp.Goal(max_attempts=1, deterministic=True))
    status, result = finish(second)
    assert status == GoalStatus.STATUS_ABORTED, result.message
    assert result.message.startswith("preempted by a newer /grasp goal: stopped before it started"), result.message
    assert "nothing was executed" in result.message
    release.set()
    status, result = finish(first)
    assert status == GoalStatus.STATUS_ABORTED and not result.success, result.message
    assert result.message.startswith("preempted by a newer /grasp goal"), result.message
    assert "the robot was executing a grasp, which was finished first" in result.message
    status, result = finish(third)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, f"{result.message} ({robot.staleness()})"
    assert len(robot.goals) == 2 and most[0] == 1  # the first's execution, then the third's


def detect(node, request: DetectGrasps.Request) -> DetectGrasps.Response:
    client = node.create_client(DetectGrasps, "detect_grasps")
    try:
        assert client.wait_for_service(timeout_sec=TIMEOUT_S)
        future = client.call_async(request)
        return wait_for(lambda: future.done() and future.result(), "the detect_grasps response")
    finally:
        node.destroy_client(client)


def test_detect_grasps_returns_scored_candidates_and_executes_nothing(graph):
    """The policy alone: its deterministic grasp and sampled ones, best log-probability first, each
    placed in base_link with its zoom boxes; nothing reaches the executor, and /grasp still works."""
    _, robot, client = graph
    robot.serve_execute()
    robot.publishing = True
    response = detect(robot.node, DetectGrasps.Request(max_candidates=4))
    assert response.success, response.message
    assert response.score_kind == DetectGrasps.Response.SCORE_POLICY_LOG_PROB and len(response.candidates) >= 3
    scores = [c.score for c in response.candidates]
    assert scores == sorted(scores, reverse=True) and all(math.isfinite(x) for x in scores)
    for candidate in response.candidates:
        p = candidate.proposal
        assert p.grasp_pose.header.frame_id == "base_link" and len(candidate.zoom_boxes) == p.zoom_steps + 1
        assert all(math.isfinite(x) for x in (p.grasp_pose.pose.position.x, p.grasp_pose.pose.position.z))
    assert robot.goals == [], "detect_grasps executes nothing"
    too_many = detect(robot.node, DetectGrasps.Request(max_candidates=1000))
    assert not too_many.success and "at most" in too_many.message
    status, result, _ = send(client, Grasp.Goal(max_attempts=1, deterministic=True))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success and len(robot.goals) == 1


def test_detect_grasps_with_views_ranks_by_the_selector(tmp_path):
    checkpoint, selector = untrained_with_flat_selector(tmp_path, scene_depth(), weights_seed=1)
    with node_graph(checkpoint, *extras(selector, views=4)) as (node, robot, _):
        robot.publishing = True
        response = detect(robot.node, DetectGrasps.Request(max_candidates=0))  # 0: the default (5); 4 views
        assert response.success and response.score_kind == DetectGrasps.Response.SCORE_SELECTOR
        expected = planned(checkpoint, node.config.planner_config(), scene_depth())
        assert [c.proposal.u for c in response.candidates] == pytest.approx([g.uv[0] for g in expected])
        assert [c.score for c in response.candidates] == sorted((c.score for c in response.candidates), reverse=True)


def test_roi_goal_starts_from_the_roi_and_no_executor_aborts(graph):
    policy_node, robot, client = graph
    robot.publishing = True
    goal = Grasp.Goal(max_attempts=1, use_roi=True)
    goal.roi.x_offset, goal.roi.y_offset, goal.roi.width, goal.roi.height = 40, 20, 40, 40
    status, result, feedback = send(client, goal)
    zooming = [f for f in feedback if f.stage == Grasp.Feedback.STAGE_ZOOMING]
    assert zooming, f"{result.message} ({robot.staleness()})"
    first = zooming[0].current_box
    assert (first.x_offset, first.y_offset, first.width, first.height) == (40, 20, 40, 40)
    assert status == GoalStatus.STATUS_ABORTED and "no ExecuteGrasp server" in result.message

    goal.roi.x_offset = 90  # 90 + 40 > 96: outside the image
    status, result, _ = send(client, goal)
    assert status == GoalStatus.STATUS_ABORTED and "roi" in result.message, f"{result.message} ({robot.staleness()})"


def test_an_empty_table_is_refused_before_anything_moves(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))
    table = np.full((80, 96), 0.75, dtype=np.float32)  # the camera is 0.75 m above the table
    with node_graph(checkpoint, depth=table) as (_, robot, client):
        robot.publishing = True
        robot.serve_execute()
        status, result, _ = send(client, Grasp.Goal(max_attempts=3))
        assert status == GoalStatus.STATUS_ABORTED and not result.success and not robot.goals
        assert "nothing to grasp: no object stands above the table in the depth image" in result.message
        assert "table_z_m (0 m)" in result.message
        robot.depth = scene_depth()  # an object, but not in the goal's roi
        goal = Grasp.Goal(max_attempts=1, use_roi=True)
        goal.roi.x_offset, goal.roi.y_offset, goal.roi.width, goal.roi.height = 0, 0, 40, 40
        status, result, _ = send(client, goal)
        assert status == GoalStatus.STATUS_ABORTED and "in the goal's roi" in result.message and not robot.goals
    with node_graph(checkpoint, Parameter("refuse_empty_view", value=False), depth=table) as (_, robot, client):
        robot.publishing = True
        robot.serve_execute()
        status, result, _ = send(client, Grasp.Goal(max_attempts=1))
        assert status == GoalStatus.STATUS_SUCCEEDED and len(robot.goals) == 1  # off: it grasps anyway


def test_a_goal_gets_at_most_max_attempts_limit_attempts_and_is_told(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))
    with node_graph(checkpoint, Parameter("max_attempts_limit", value=2)) as (_, robot, client):
        robot.lifts = False
        robot.publishing = True
        robot.serve_execute()
        status, result, _ = send(client, Grasp.Goal(max_attempts=5))
    assert status == GoalStatus.STATUS_SUCCEEDED and not result.success
    assert result.attempts == 2 and len(robot.goals) == 2
    assert "no grasp succeeded in 2 attempt(s) (the goal asked for 5; max_attempts_limit is 2)" in result.message


def one_deterministic_goal(checkpoint, *parameters, depth=None, timeout_s=60.0):
    """(result, feedback, the executor's goals) of one deterministic /grasp goal to a node started
    with `parameters` (and the fake camera publishing `depth`), asserted to have succeeded."""
    with node_graph(checkpoint, *parameters, depth=depth) as (_, robot, client):
        robot.publishing = True
        robot.serve_execute()
        status, result, feedback = send(client, Grasp.Goal(max_attempts=1, deterministic=True), timeout_s)
        assert status == GoalStatus.STATUS_SUCCEEDED and result.success, f"{result.message} ({robot.staleness()})"
    return result, feedback, robot.goals


def untrained_with_flat_selector(tmp_path, depth: np.ndarray, weights_seed: int | None = None):
    """(checkpoint, selector file) of an untrained policy (seeded) and a linear selector fitted for
    it: flat (every view scores the same: the twin alone ranks) or, with `weights_seed`, random."""
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))
    model = load_model(checkpoint)
    zoom = model.zoom_config.for_image(depth.shape, model.trained_camera_px)
    x = np.stack([run_turned(depth, model.policy, zoom, k).features for k in range(4)])
    weights = (
        np.zeros(x.shape[1]) if weights_seed is None else np.random.default_rng(weights_seed).normal(size=x.shape[1])
    )
    selector = GraspSelector.linear(x.mean(0), x.std(0) + 1.0, weights, 0.0, weights_sha256(model.policy))
    return checkpoint, str(selector.save(tmp_path / "selector.json"))


def planned(checkpoint, config: PlannerConfig, depth: np.ndarray):
    """The grasps the planner ranks for `depth` as the node sees it (INTRINSICS, CAMERA), best first."""
    # As TF delivers it: the twin's physics tells apart poses that differ by a rounding error.
    T_base_camera = from_transform_msg(to_transform_stamped_msg(pose_from_xyz_quat(CAMERA), "b", "c").transform)
    T_table_camera = PolicyNodeConfig().T_table_camera(T_base_camera)
    with GraspPlanner.load(checkpoint, config) as planner:
        plan = planner.plan(depth, INTRINSICS, T_table_camera)
        return [plan.take() for _ in range(len(plan))]


def extras(selector: str, views: int = 4, twin: bool = False, local_search: bool = False, workers: int = 0):
    """The planner's extras as node parameters, with no search budget: the node sends what the
    planner ranks with all the time it needs, however slow the machine."""
    return [
        Parameter("search_budget_s", value=0.0),
        Parameter("views", value=views),
        Parameter("selector", value=selector),
        Parameter("depth_twin", value=twin),
        Parameter("local_search", value=local_search),
        Parameter("twin_workers", value=workers),
    ]


def assert_sent(sent: ExecuteGrasp.Goal, grasp, depth: np.ndarray):
    """The executor got `grasp` (a PlannedGrasp on `depth`) as a palm pose in base_link."""
    proposal = make_proposal(
        depth, INTRINSICS, pose_from_xyz_quat(CAMERA), grasp.uv, grasp.rpy, grasp.hand_joints, 0.05
    )
    np.testing.assert_allclose(from_pose_msg(sent.grasp_pose.pose), proposal.T_base_palm, atol=1e-6)
    np.testing.assert_allclose(list(sent.hand_joints), grasp.hand_joints, atol=1e-6)


@pytest.mark.parametrize("views", [4, 8])
def test_deterministic_goals_send_the_planners_best_grasp_of_the_views(tmp_path, views):
    """With views and a selector the node sends what the planner ranks first on the image it got,
    and says in its feedback which views it ran."""
    checkpoint, selector = untrained_with_flat_selector(tmp_path, scene_depth(), weights_seed=3)
    best = planned(checkpoint, PlannerConfig(views=views, selector=selector), scene_depth())[0]
    result, feedback, goals = one_deterministic_goal(checkpoint, *extras(selector, views))
    assert_sent(goals[0], best, scene_depth())
    assert len(result.zoom_boxes) == len(best.boxes)
    assert any("turned by 0-3 quarter turns" in f.stage_description for f in feedback)
    assert any("mirror image" in f.stage_description for f in feedback) == (views == 8)
    assert not any("depth twin" in f.stage_description for f in feedback)


@pytest.mark.parametrize("depth_twin", [False, True])
def test_after_an_unreachable_grasp_the_next_attempt_sends_the_same_images_next_ranked_grasp(tmp_path, depth_twin):
    """An unreachable grasp did not move the robot, so the image still shows the scene: attempts
    2 and 3 send the planner's second and third grasps of attempt 1's image, without looking again."""
    checkpoint, selector = untrained_with_flat_selector(tmp_path, scene_depth(), weights_seed=5)
    ranked = planned(checkpoint, PlannerConfig(views=4, selector=selector, twin=depth_twin), scene_depth())
    with node_graph(checkpoint, *extras(selector, twin=depth_twin)) as (_, robot, client):
        robot.unreachable_first = 2
        robot.publishing = True
        robot.serve_execute()
        status, result, feedback = send(client, Grasp.Goal(max_attempts=3, deterministic=True))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success and result.attempts == 3, result.message
    for sent, grasp in zip(robot.goals, ranked[:3], strict=True):
        assert_sent(sent, grasp, scene_depth())
    waits = [f for f in feedback if f.stage == Grasp.Feedback.STAGE_WAITING_FOR_DEPTH]
    assert len(waits) == 1 and sum("next-ranked" in f.stage_description for f in feedback) == 2


def test_with_the_twin_and_local_search_the_node_sends_the_planners_grasp(tmp_path):
    """Every extra on: the node sends the planner's best grasp, local search included, and its
    feedback names the twin's stages."""
    checkpoint, selector = untrained_with_flat_selector(tmp_path, bar_depth())
    config = PlannerConfig(views=4, selector=selector, twin=True, local_search=True)
    best = planned(checkpoint, config, bar_depth())[0]
    parameters = extras(selector, twin=True, local_search=True)
    result, feedback, goals = one_deterministic_goal(checkpoint, *parameters, depth=bar_depth(), timeout_s=120.0)
    assert_sent(goals[0], best, bar_depth())
    assert any("grasps on the depth twin" in f.stage_description for f in feedback)
    if best.change:  # the search ran and replaced the grasp
        assert any("small changes of the chosen grasp" in f.stage_description for f in feedback)


def canceled_at_feedback(checkpoint, parameters, depth, stage_text: str, timeout_s: float = TIMEOUT_S):
    """(result response, fake robot) of one deterministic goal canceled as soon as a feedback
    message containing `stage_text` arrives."""
    with node_graph(checkpoint, *parameters, depth=depth) as (_, robot, client):
        robot.publishing = True
        robot.serve_execute()
        feedback = []
        future = client.send_goal_async(
            Grasp.Goal(max_attempts=1, deterministic=True), feedback_callback=lambda m: feedback.append(m.feedback)
        )
        handle = wait_for(lambda: future.done() and future.result(), "the goal response")
        wait_for(lambda: any(stage_text in f.stage_description for f in feedback), f"'{stage_text}'", timeout_s)
        handle.cancel_goal_async()
        result_future = handle.get_result_async()
        return wait_for(lambda: result_future.done() and result_future.result(), "the result"), robot


@pytest.mark.parametrize("twin_workers", [0, 2])
def test_a_cancel_while_the_depth_twin_tries_the_grasps_stops_it_between_executions(tmp_path, twin_workers):
    """The twin checks for a cancel before each batch of its executions: a goal canceled once its
    grasps are on the twin ends canceled there, no grasp sent."""
    checkpoint, selector = untrained_with_flat_selector(tmp_path, scene_depth())
    parameters = extras(selector, twin=True, workers=twin_workers)
    response, robot = canceled_at_feedback(checkpoint, parameters, scene_depth(), "on the depth twin")
    assert response.status == GoalStatus.STATUS_CANCELED, response.result.message
    assert response.result.message == "canceled while trying the 4 grasps on the depth twin"
    assert robot.goals == [], "no grasp was sent"


def test_a_twin_worker_that_crashes_aborts_that_goal_only(tmp_path):
    """pybullet crashing inside the depth twin kills a worker process, not policy_node: the goal
    is aborted with the worker's fate, nothing is sent to the robot, and the next goal is served
    by a new worker."""
    checkpoint, selector = untrained_with_flat_selector(tmp_path, scene_depth())
    with node_graph(checkpoint, *extras(selector, twin=True, workers=2)) as (node, robot, client):
        robot.publishing = True
        robot.serve_execute()
        workers = node.planner.twin.pids()
        for pid in workers:  # stopped, so neither can answer before it is crashed
            os.kill(pid, signal.SIGSTOP)
        feedback = []
        future = client.send_goal_async(
            Grasp.Goal(max_attempts=1, deterministic=True), feedback_callback=lambda m: feedback.append(m.feedback)
        )
        handle = wait_for(lambda: future.done() and future.result(), "the goal response")
        wait_for(lambda: any("on the depth twin" in f.stage_description for f in feedback), "the twin's feedback")
        for pid in workers:  # the segfault is delivered as it resumes
            os.kill(pid, signal.SIGSEGV)
            os.kill(pid, signal.SIGCONT)
        result_future = handle.get_result_async()
        response = wait_for(lambda: result_future.done() and result_future.result(), "the result")
        assert response.status == GoalStatus.STATUS_ABORTED, response.result.message
        assert "died (signal SIGSEGV) while trying" in response.result.message
        assert robot.goals == [], "no grasp was sent"
        status, result, _ = send(client, Grasp.Goal(max_attempts=1, deterministic=True))
        assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
        assert not set(workers) & set(node.planner.twin.pids()), "new workers"


def test_a_selector_fitted_for_other_weights_stops_the_node_at_start(tmp_path):
    _, selector = untrained_with_flat_selector(tmp_path, scene_depth())
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path / "other.pt", Policy(NetworkConfig(input_size=32)))
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(SelectorError, match="fitted for policy weights.*'selector'"):
            PolicyNode(
                context=context,
                parameter_overrides=[
                    Parameter("checkpoint", value=str(other)),
                    *extras(selector),
                ],
            )
    finally:
        rclpy.shutdown(context=context)


def test_the_node_config_is_the_policy_alone_by_default_and_refuses_nonsense():
    config = PolicyNodeConfig()
    node_only = {"twin_workers": config.twin_workers, "search_budget_s": config.search_budget_s}
    assert config.planner_config() == dataclasses.replace(PlannerConfig(), **node_only)
    assert config.planner_config().describe() == "policy alone"
    with pytest.raises(ValueError, match="tf_timeout_s"):
        PolicyNodeConfig(tf_timeout_s=-1.0)
    with pytest.raises(ValueError, match="search_budget_s"):
        PolicyNodeConfig(search_budget_s=-1.0)
    with pytest.raises(ValueError, match="twin_workers must be 0"):
        PolicyNodeConfig(twin_workers=-1)
    with pytest.raises(ValueError, match="needs views 4 or 8"):
        PolicyNodeConfig(depth_twin=True)
    with pytest.raises(ValueError, match="views must be one of"):
        PolicyNodeConfig(views=3)


def test_the_depth_twins_table_is_table_z_m_below_the_camera():
    T_base_camera = pose_from_xyz_quat(CAMERA)
    T_table_camera = PolicyNodeConfig(table_z_m=0.1).T_table_camera(T_base_camera)
    assert T_table_camera[2, 3] == pytest.approx(CAMERA[2] - 0.1)
    assert np.allclose(T_table_camera[:3, :3], T_base_camera[:3, :3])
    with pytest.raises(ValueError, match="table_z_m"):
        PolicyNodeConfig(table_z_m=float("nan"))


def serve_one_goal_with_the_policy_alone(checkpoint: str) -> None:
    """One deterministic goal to a node with the planner's defaults; run by the test below in a
    process where pybullet cannot be imported."""
    result, _, goals = one_deterministic_goal(checkpoint)
    assert result.success and len(goals) == 1
    loaded = sorted(m for m, mod in sys.modules.items() if m.startswith(("pybullet", "pa_grasp_sim")) and mod)
    assert not loaded, f"the policy alone imported {loaded}"


def test_the_policy_alone_needs_no_pybullet(tmp_path):
    """A robot computer without pybullet runs the policy: policy_node serves a /grasp goal in a
    process where importing pybullet fails."""
    checkpoint = save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32)))
    script = (
        "import sys\n"
        "for name in ('pybullet', 'pybullet_data', 'pybullet_utils'):\n"
        "    sys.modules[name] = None  # import pybullet -> ImportError\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_policy_node\n"
        f"test_policy_node.serve_one_goal_with_the_policy_alone({str(checkpoint)!r})\n"
        "print('served')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "served" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]
