"""kinect_node over real DDS: raw driver frames in, conditioned 32FC1 depth + camera_info out;
malformed, stale and empty frames and implausible camera_infos are dropped with a diagnostic, each
reason logged at most once per 5 s, and the node keeps working."""

import math
import threading
import time
import uuid

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rclpy.time import Duration  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from pa_grasp_perception.camera import CameraIntrinsics  # noqa: E402
from pa_grasp_perception.conditioning import DepthConditioningConfig, condition_depth  # noqa: E402
from pa_grasp_perception.kinect_node import KinectNode  # noqa: E402
from pa_grasp_perception.perception_msgs import from_image_msg, to_camera_info_msg, to_image_msg  # noqa: E402
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402

RAW_DEPTH, RAW_INFO = "/camera/depth/image_raw", "/camera/depth/camera_info"  # the default "freenect" preset
INTRINSICS = CameraIntrinsics(64, 48, 60.0, 60.0, 31.5, 23.5)
STATUS_NAME = "kinect_node: depth conditioning"
TIMEOUT_S = 30.0  # a safety net: waits return as soon as the message comes (8 s timed out once in CI, 2026-12-06)


def raw_frame_mm() -> np.ndarray:
    mm = np.full((48, 64), 1000, dtype=np.float32)
    mm[:, 32:] = 1500
    mm[10:12, 5:7] = 0  # small driver hole -> filled
    mm[30, 40] = 9000  # beyond max range -> NaN -> filled
    mm[20:40, 10:30] = 300  # closer than min range, 20x20 -> stays NaN with hole_fill_max_px=3
    return mm / 1000.0


class Probe:
    """Plays the camera driver and listens to everything kinect_node publishes."""

    def __init__(self, node, kinect):
        self.node, self.kinect = node, kinect
        self.frame_id = f"test_optical_frame_{uuid.uuid4().hex[:8]}"
        self.image_pub = node.create_publisher(Image, RAW_DEPTH, qos_profile_sensor_data)
        self.info_pub = node.create_publisher(CameraInfo, RAW_INFO, qos_profile_sensor_data)
        self.lock = threading.Lock()
        self.depth, self.info, self.diagnostics, self.logs = [], [], [], []
        node.create_subscription(Log, "/rosout", self._on_log, 100)
        node.create_subscription(Image, "/pa_grasp/depth", self._keep(self.depth), 10)
        node.create_subscription(CameraInfo, "/pa_grasp/camera_info", self._keep(self.info), 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.wait_until(
            lambda: self.image_pub.get_subscription_count() and self.info_pub.get_subscription_count(),
            "kinect_node to subscribe to the driver topics",
        )

    def _keep(self, store):
        def callback(msg):
            with self.lock:
                store.append(msg)

        return callback

    def _on_log(self, msg: Log):
        if msg.name == self.kinect.get_name():
            with self.lock:
                self.logs.append(msg)

    def _on_diagnostics(self, msg):
        with self.lock:
            self.diagnostics.extend(s for s in msg.status if s.name == STATUS_NAME)

    def header(self, age_s=0.0) -> Header:
        stamp = self.kinect.get_clock().now() - Duration(seconds=age_s)
        return Header(stamp=stamp.to_msg(), frame_id=self.frame_id)

    def send_info(self, edit=None):
        info = to_camera_info_msg(INTRINSICS, self.header())
        if edit is not None:
            edit(info)
        self.info_pub.publish(info)

    @staticmethod
    def wait_until(predicate, what, timeout_s=TIMEOUT_S, retry=None, period_s=0.2):
        deadline = time.monotonic() + timeout_s
        next_retry = 0.0
        while True:
            result = predicate()
            if result:
                return result
            assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
            if retry is not None and time.monotonic() >= next_retry:
                retry()
                next_retry = time.monotonic() + period_s
            time.sleep(0.02)

    def send_until_output(self, image: Image):
        """Publish (camera_info +) image until the conditioned frame with its stamp comes back."""
        stamp = image.header.stamp

        def output():
            with self.lock:
                for depth in self.depth:
                    if depth.header.stamp == stamp:
                        info = next((i for i in self.info if i.header.stamp == stamp), None)
                        return (depth, info) if info is not None else None
            return None

        def send():
            self.send_info()
            self.image_pub.publish(image)

        return self.wait_until(output, "a conditioned depth frame", retry=send)

    def send_until_diagnosed(self, image: Image, level, keyword: str, category: str, with_info=True, edit_info=None):
        """Publish ``image`` until a diagnostic of ``level`` names the reason and counts the drop."""
        before = self.kinect.dropped_by_reason.get(category, 0)

        def diagnosed():
            with self.lock:
                for status in self.diagnostics:
                    values = {kv.key: kv.value for kv in status.values}
                    if (
                        status.level == level
                        and keyword in status.message
                        and int(values.get(f"dropped.{category}", 0)) > before
                    ):
                        return status
            return None

        def send():
            if with_info:
                self.send_info(edit_info)
            self.image_pub.publish(image)

        return self.wait_until(diagnosed, f"a {category} diagnostic mentioning {keyword!r}", retry=send)


@pytest.fixture
def graph(request):
    overrides = {"max_age_s": 5.0, "diagnostics_period_s": 0.5, "hole_fill_max_px": 3, **getattr(request, "param", {})}
    context = rclpy.Context()
    rclpy.init(context=context)
    kinect = KinectNode(
        context=context, parameter_overrides=[Parameter(name, value=value) for name, value in overrides.items()]
    )
    probe_node = rclpy.create_node("kinect_node_probe", context=context)
    executor = MultiThreadedExecutor(num_threads=3, context=context)
    executor.add_node(kinect)
    executor.add_node(probe_node)
    spinner = BackgroundSpinner(executor, name="kinect_node_test").start()
    try:
        yield Probe(probe_node, kinect)
    finally:
        spinner.stop()  # no callback runs while the nodes are destroyed
        kinect.destroy_node()
        probe_node.destroy_node()
        rclpy.shutdown(context=context)


@pytest.mark.parametrize("graph", [{"workspace_crop": [8, 4, 48, 40], "output_size": [24, 20]}], indirect=True)
def test_conditions_a_16uc1_frame(graph):
    raw = raw_frame_mm()
    image = to_image_msg(raw, graph.header(), "16UC1")
    depth_msg, info_msg = graph.send_until_output(image)

    config = DepthConditioningConfig(hole_fill_max_px=3, workspace_crop=(8, 4, 48, 40), output_size=(24, 20))
    expected, expected_intrinsics = condition_depth(from_image_msg(image), INTRINSICS, config)
    assert depth_msg.encoding == "32FC1" and (depth_msg.width, depth_msg.height) == (24, 20)
    assert depth_msg.header.frame_id == graph.frame_id and info_msg.header.frame_id == graph.frame_id
    depth = from_image_msg(depth_msg)
    np.testing.assert_array_equal(depth, expected)  # same numbers as the core, NaN where the core has NaN
    assert np.isnan(depth).any() and np.nanmin(depth) == pytest.approx(1.0) and np.nanmax(depth) == pytest.approx(1.5)
    assert (info_msg.width, info_msg.height) == (24, 20)
    assert list(info_msg.p) == pytest.approx(list(expected_intrinsics.projection().ravel()))
    assert graph.kinect.frames_dropped == 0


def test_bad_frames_are_dropped_with_diagnostics(graph):
    good = to_image_msg(raw_frame_mm(), graph.header(), "16UC1")

    status = graph.send_until_diagnosed(good, DiagnosticStatus.WARN, "camera_info", "no_camera_info", with_info=False)
    assert RAW_INFO in status.message

    rgb = Image(header=graph.header(), width=64, height=48, encoding="rgb8", step=64 * 3)
    rgb.data = bytes(64 * 48 * 3)
    graph.send_until_diagnosed(rgb, DiagnosticStatus.ERROR, "unsupported depth encoding 'rgb8'", "malformed")

    truncated = to_image_msg(raw_frame_mm(), graph.header(), "16UC1")
    truncated.data = truncated.data[: len(truncated.data) // 2]
    graph.send_until_diagnosed(truncated, DiagnosticStatus.ERROR, "B of data but step*height", "malformed")

    nan_only = to_image_msg(np.full((48, 64), np.nan, dtype=np.float32), graph.header(), "32FC1")
    graph.send_until_diagnosed(nan_only, DiagnosticStatus.WARN, "hold a valid depth", "all_invalid")
    zero_only = to_image_msg(np.zeros((48, 64), dtype=np.float32), graph.header(), "16UC1")
    assert not any(zero_only.data)
    graph.send_until_diagnosed(zero_only, DiagnosticStatus.WARN, "hold a valid depth", "all_invalid")

    stale = to_image_msg(raw_frame_mm(), graph.header(age_s=60.0), "16UC1")
    graph.send_until_diagnosed(stale, DiagnosticStatus.WARN, "stale frame", "stale")

    wrong_size = to_image_msg(np.ones((24, 32), dtype=np.float32), graph.header(), "32FC1")
    graph.send_until_diagnosed(wrong_size, DiagnosticStatus.ERROR, "camera_info is for 64x48", "camera_info_mismatch")

    # Still alive: a good frame comes through, and the status returns to OK.
    depth_msg, _ = graph.send_until_output(to_image_msg(raw_frame_mm(), graph.header(), "16UC1"))
    assert (depth_msg.width, depth_msg.height) == (64, 48)
    graph.wait_until(
        lambda: any(s.level == DiagnosticStatus.OK for s in graph.diagnostics[-3:]), "an OK diagnostic after recovery"
    )
    with graph.lock:
        last = {kv.key: kv.value for kv in graph.diagnostics[-1].values}
    assert int(last["frames_dropped"]) >= 7 and int(last["frames_published"]) >= 1
    assert last["last_drop_reason"]


def test_an_implausible_camera_info_is_dropped_and_frames_wait_for_a_valid_one(graph):
    def infinite_focal_length(info):
        info.k[0] = info.p[0] = math.inf

    def principal_point_outside(info):
        info.k[2] = info.p[2] = 640.0

    for edit, named in ((infinite_focal_length, "fx=inf"), (principal_point_outside, "cx=640 px is outside")):
        image = to_image_msg(raw_frame_mm(), graph.header(), "16UC1")
        status = graph.send_until_diagnosed(image, DiagnosticStatus.ERROR, named, "invalid_camera_info", edit_info=edit)
        assert "invalid camera_info" in status.message
        with graph.lock:
            assert not any(d.header.stamp == image.header.stamp for d in graph.depth), "published on a bad camera_info"
    depth_msg, info_msg = graph.send_until_output(to_image_msg(raw_frame_mm(), graph.header(), "16UC1"))
    assert info_msg.p[0] == pytest.approx(INTRINSICS.fx)


def test_a_mix_of_good_and_bad_frames_logs_each_reason_once_per_5_s(graph):
    """A driver alternating good and unusable frames for 2 s: kinect_node logs the reason once
    (it logged every bad frame after a good one before: ~45 lines a second)."""
    graph.send_until_output(to_image_msg(raw_frame_mm(), graph.header(), "16UC1"))
    rgb = Image(header=graph.header(), width=64, height=48, encoding="rgb8", step=64 * 3)
    rgb.data = bytes(64 * 48 * 3)
    end = time.monotonic() + 2.0
    sent = 0
    while time.monotonic() < end:
        rgb.header = graph.header()
        graph.image_pub.publish(rgb)
        graph.send_info()
        graph.image_pub.publish(to_image_msg(raw_frame_mm(), graph.header(), "16UC1"))
        sent += 1
        time.sleep(0.025)
    graph.wait_until(lambda: graph.kinect.dropped_by_reason.get("malformed", 0) >= sent // 2, "the drops to be counted")
    time.sleep(0.5)  # the last log lines arrive
    with graph.lock:
        warnings = [m.msg for m in graph.logs if "unsupported depth encoding" in m.msg]
        recovered = [m.msg for m in graph.logs if "usable again" in m.msg]
    assert len(warnings) == 1 and len(recovered) <= 1, (sent, warnings, recovered)


def test_parameters_are_validated():
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(ValueError, match="unknown depth driver"):
            KinectNode(context=context, parameter_overrides=[Parameter("driver", value="kinect9")])
        node = KinectNode(context=context, parameter_overrides=[Parameter("driver", value="azure_kinect")])
        try:
            assert (node.depth_topic, node.camera_info_topic) == ("/depth/image_raw", "/depth/camera_info")
            assert not node.set_parameters([Parameter("min_range_m", value=5.0)])[0].successful
            assert not node.set_parameters([Parameter("workspace_crop", value=[0, 0, 10])])[0].successful
            assert node.set_parameters([Parameter("output_size", value=[224, 224])])[0].successful
            assert node.config.output_size == (224, 224)
            assert not node.set_parameters([Parameter("depth_topic", value="/other")])[0].successful  # read-only
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
