"""sim_bridge_node over real DDS: Kinect-like raw depth, /joint_states, execute_grasp (reachable or
not, scene bookkeeping after a pick) and reset_scene."""

import math
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402

from pa_grasp_description import robot  # noqa: E402
from pa_grasp_interfaces.action import ExecuteGrasp  # noqa: E402
from pa_grasp_interfaces.srv import ResetScene  # noqa: E402
from pa_grasp_perception.action_client import RaceFreeActionClient  # noqa: E402
from pa_grasp_perception.grasp_geometry import grasp_palm_pose  # noqa: E402
from pa_grasp_perception.perception_msgs import from_camera_info_msg, from_image_msg, to_pose_msg  # noqa: E402
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402
from pa_grasp_sim.sim_bridge_config import SimBridgeConfig  # noqa: E402
from pa_grasp_sim.sim_bridge_node import SimBridgeNode  # noqa: E402

TIMEOUT_S = 15.0


def wait_for(predicate, what, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.02)


def result_of(future, what, timeout_s=TIMEOUT_S):
    wait_for(future.done, what, timeout_s)
    return future.result()


@pytest.fixture
def graph():
    context = rclpy.Context()
    rclpy.init(context=context)
    bridge = SimBridgeNode(
        context=context,
        parameter_overrides=[
            Parameter("scene", value="single"),
            Parameter("seed", value=5),
            Parameter("publish_rate_hz", value=20.0),
            Parameter("camera_px", value=96),  # not the default 160: the parameter reaches the camera
        ],
    )
    probe = rclpy.create_node("sim_bridge_probe", context=context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(bridge)
    executor.add_node(probe)
    spinner = BackgroundSpinner(executor, name="sim_bridge_test").start()
    try:
        yield bridge, probe
    finally:
        spinner.stop()  # no callback runs while the nodes are destroyed
        bridge.destroy_node()
        probe.destroy_node()
        rclpy.shutdown(context=context)


def execute(probe, T_base_palm, hand=(0.0, 0.0, 0.0, 0.0)) -> ExecuteGrasp.Result:
    client = RaceFreeActionClient(probe, ExecuteGrasp, "/pa_grasp/execute_grasp")
    assert client.wait_for_server(timeout_sec=TIMEOUT_S)
    goal = ExecuteGrasp.Goal()
    goal.grasp_pose.header.frame_id = "base_link"
    goal.grasp_pose.pose = to_pose_msg(T_base_palm)
    goal.hand_joints = list(hand)
    try:
        handle = result_of(client.send_goal_async(goal), "the goal response")
        assert handle.accepted
        return result_of(handle.get_result_async(), "the execution result", 60.0).result
    finally:
        client.destroy()


def reset(probe, **request) -> ResetScene.Response:
    client = probe.create_client(ResetScene, "/pa_grasp/reset_scene")
    assert client.wait_for_service(timeout_sec=TIMEOUT_S)
    return result_of(client.call_async(ResetScene.Request(**request)), "the reset response", 60.0)


def test_publishes_kinect_like_depth_and_joint_states(graph):
    bridge, probe = graph
    got = {}
    probe.create_subscription(
        Image, "/camera/depth/image_raw", lambda m: got.setdefault("depth", m), qos_profile_sensor_data
    )
    probe.create_subscription(
        CameraInfo, "/camera/depth/camera_info", lambda m: got.setdefault("info", m), qos_profile_sensor_data
    )
    probe.create_subscription(JointState, "/joint_states", lambda m: got.setdefault("joints", m), 10)
    wait_for(lambda: len(got) == 3, "depth, camera_info and joint_states")
    depth_msg, info = got["depth"], got["info"]
    assert depth_msg.encoding == "16UC1" and depth_msg.header.frame_id == "camera_depth_optical_frame"
    assert (depth_msg.width, depth_msg.height, info.width, info.height) == (96, 96, 96, 96)
    assert info.header.frame_id == "camera_depth_optical_frame"
    assert from_camera_info_msg(info) == bridge.world.camera.intrinsics
    with bridge._lock:
        rendered = bridge.world.render_depth()
    np.testing.assert_allclose(from_image_msg(depth_msg), rendered, atol=6e-4)  # millimetre quantisation
    assert set(got["joints"].name) == set(robot.ARM_JOINTS) | set(robot.HAND_JOINTS)


def test_execute_grasp_unreachable_and_invalid(graph):
    bridge, probe = graph
    far = grasp_palm_pose(np.array([1.9, 0.0, 0.1]), 0.0, math.pi / 2, 0.0, 0.05)  # 1.9 m from the TX60
    result = execute(probe, far)
    assert not result.success and not result.reachable
    assert "unreachable" in result.reason
    bad = execute(
        probe, grasp_palm_pose(np.array([0.55, 0.0, 0.02]), 0.0, math.pi / 2, 0.0, 0.05), (3.0, 0.0, 0.0, 0.0)
    )
    assert not bad.success and "spread" in bad.reason
    assert len(bridge.world.objects) == 1  # nothing changed


def test_reset_scene_and_pick_until_a_new_scene(graph):
    bridge, probe = graph
    response = reset(probe, scene="cluttered", object_count=3, seed=11)
    assert response.success and response.seed_used == 11 and response.objects_placed == len(bridge.world.objects)
    assert not reset(probe, scene="stacked").success
    assert "2-30" in reset(probe, scene="cluttered", object_count=40).message
    assert "unknown object set" in reset(probe, object_set="no_such_set").message

    # A single object and a top-down grasp at it (the bridge's base frame is the TX60's base,
    # 0.40 m behind the table centre). Try a few scenes: the sim's physics decides the outcome.
    for seed in (1, 2, 3, 4):
        assert reset(probe, scene="single", seed=seed).objects_placed == 1
        rest = bridge.world.objects[0].rest_position - np.asarray(bridge.world.config.arm_base_position)
        scenes = bridge.scenes_built
        result = execute(probe, grasp_palm_pose(rest + [0, 0, 0.02], 0.0, math.pi / 2, 0.0, 0.05))
        if result.success:
            assert result.objects_lifted == 1 and result.reachable
            assert bridge.scenes_built == scenes + 1, "an emptied table gets a new scene"
            assert len(bridge.world.objects) == 1 and bridge.world.objects[0].rest_position[2] < 0.2
            break
    else:
        pytest.fail("no top-down grasp on a single object succeeded in 4 scenes")


def test_an_object_knocked_out_of_the_workspace_is_removed_and_the_table_refilled(graph):
    """A grasp can fling an object off the table, out of the camera's view or out of the arm's reach;
    left in place it would keep the scene from ever counting as cleared, and every later goal would
    fail on it."""
    bridge, probe = graph
    assert reset(probe, scene="cluttered", object_count=2, seed=3).objects_placed == 2
    flung, kept = bridge.world.objects
    with bridge._lock:  # as if the last grasp had knocked it 0.9 m away
        bridge.world.client.resetBasePositionAndOrientation(flung.body, [0.85, 0.6, 0.05], [0, 0, 0, 1])
    scenes = bridge.scenes_built
    far = grasp_palm_pose(np.array([1.9, 0.0, 0.1]), 0.0, math.pi / 2, 0.0, 0.05)  # any execution will do
    assert not execute(probe, far).success
    assert [p.body for p in bridge.world.objects] == [kept.body] and bridge.scenes_built == scenes
    with bridge._lock:  # pushed to the table's far edge: in view, out of the TX60's reach
        bridge.world.client.resetBasePositionAndOrientation(kept.body, [0.25, 0.0, 0.05], [0, 0, 0, 1])
    assert not execute(probe, far).success
    assert bridge.scenes_built == scenes + 1, "a table emptied by knocks gets a new scene"
    assert bridge.world.objects  # the new scene (cluttered, as last reset)


def test_a_scene_that_keeps_failing_is_replaced_after_new_scene_after_failures(graph):
    bridge, probe = graph
    assert bridge.config.new_scene_after_failures == 4
    assert reset(probe, scene="single", seed=2).objects_placed == 1
    scenes = bridge.scenes_built
    far = grasp_palm_pose(np.array([1.9, 0.0, 0.1]), 0.0, math.pi / 2, 0.0, 0.05)
    for _ in range(3):
        assert not execute(probe, far).success
    assert bridge.scenes_built == scenes and bridge.failures_in_a_row == 3
    assert not execute(probe, far).success
    assert bridge.scenes_built == scenes + 1 and bridge.failures_in_a_row == 0
    with pytest.raises(ValueError, match="new_scene_after_failures"):
        SimBridgeConfig(new_scene_after_failures=-1)


def test_a_camera_too_small_to_zoom_into_is_refused():
    with pytest.raises(ValueError, match="camera_px"):
        SimBridgeConfig(camera_px=16)
