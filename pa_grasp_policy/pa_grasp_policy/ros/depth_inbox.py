"""policy_node's depth input: the latest conditioned depth image and its camera_info, and the wait
for a usable pair (ROS glue)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from pa_grasp_perception.depth import DepthFormatError
from pa_grasp_policy.ros.policy_msgs import from_camera_info_msg, from_image_msg

POLL_S = 0.05


class NoDepthError(Exception):
    """No usable depth image arrived in time; the message says why."""


class BadCameraInfoError(Exception):
    """The latest depth image's camera_info describes no plausible camera (the message says
    which value): geometry from it would send the robot to a garbage pose."""


@dataclasses.dataclass
class DepthFrame:
    depth: object  # float32 HxW metres, NaN = invalid
    intrinsics: object  # pa_grasp_perception.camera.CameraIntrinsics
    header: Header


@dataclasses.dataclass
class View:
    """A depth frame ready to plan on: where its camera was, and the part of the image to look at."""

    frame: DepthFrame
    T_base_camera: np.ndarray  # the image's frame_id in base_frame, from TF at the image's stamp
    T_table_camera: np.ndarray  # the same, in the planner's table frame (z = 0 on the table top)
    start_box: object  # the goal's roi as a zoom box, or None: the whole image


class DepthInbox:
    """Subscribes to `depth_topic` and `camera_info_topic` of `node` and keeps the latest image and
    the last 20 camera_infos."""

    def __init__(self, node, depth_topic: str, camera_info_topic: str, callback_group=None):
        self._node = node
        self.depth_topic = node.resolve_topic_name(depth_topic)  # as messages name them
        self.camera_info_topic = node.resolve_topic_name(camera_info_topic)
        self._cond = threading.Condition()
        self._depth_msg: Image | None = None
        self._infos: list[CameraInfo] = []
        node.create_subscription(
            Image, depth_topic, self._on_depth, qos_profile_sensor_data, callback_group=callback_group
        )
        node.create_subscription(
            CameraInfo, camera_info_topic, self._on_info, qos_profile_sensor_data, callback_group=callback_group
        )

    def _on_depth(self, msg: Image) -> None:
        with self._cond:
            self._depth_msg = msg
            self._cond.notify_all()

    def _on_info(self, msg: CameraInfo) -> None:
        with self._cond:
            self._infos.append(msg)
            del self._infos[:-20]
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait(
        self, timeout_s: float, after_execution_ns: int, not_before_ns: int, max_age_s: float, check: Callable[[], None]
    ) -> DepthFrame:
        """The latest usable frame stamped after the last execution ended (`after_execution_ns`) and
        after `not_before_ns` (the goal's arrival, or 0), at most `max_age_s` old (0: any age),
        waiting up to `timeout_s`; `check()` runs on every poll (it raises to stop the wait).
        NoDepthError says why nothing was usable; BadCameraInfoError is raised at once."""
        deadline = time.monotonic() + timeout_s
        why = f"no depth image received on {self.depth_topic}"
        while True:
            check()
            with self._cond:
                msg, infos = self._depth_msg, list(self._infos)
            if msg is not None:
                frame, why = self._usable(msg, infos, after_execution_ns, not_before_ns, max_age_s)
                if frame is not None:
                    return frame
            if time.monotonic() >= deadline:
                raise NoDepthError(why)
            with self._cond:
                self._cond.wait(timeout=POLL_S)

    def _usable(self, msg: Image, infos: list[CameraInfo], after_execution_ns: int, not_before_ns: int, max_age_s):
        stamp_ns = Time.from_msg(msg.header.stamp).nanoseconds
        if stamp_ns <= after_execution_ns:
            return None, f"no depth image on {self.depth_topic} taken after the last execution ended"
        if stamp_ns <= not_before_ns:
            return None, (
                f"no depth image on {self.depth_topic} taken after the goal arrived (is the camera's clock"
                " in sync with this node's? require_fresh_depth=false accepts older images)"
            )
        if max_age_s > 0:
            age = (self._node.get_clock().now().nanoseconds - stamp_ns) * 1e-9
            if age > max_age_s:
                return None, f"the latest depth image is {age:.1f} s old (max_depth_age_s={max_age_s:g})"
        info = next((i for i in reversed(infos) if i.header.stamp == msg.header.stamp), None)
        if info is None:
            info = next((i for i in reversed(infos) if (i.width, i.height) == (msg.width, msg.height)), None)
        if info is None:
            return None, f"no camera_info on {self.camera_info_topic} for the {msg.width}x{msg.height} depth image"
        try:
            intrinsics = from_camera_info_msg(info)
        except ValueError as exc:
            raise BadCameraInfoError(f"invalid camera_info on {self.camera_info_topic}: {exc}") from None
        try:
            depth = from_image_msg(msg)
        except DepthFormatError as exc:
            return None, f"unusable depth image: {exc}"
        if depth.shape != (intrinsics.height, intrinsics.width):
            return None, f"camera_info is {intrinsics.width}x{intrinsics.height}, depth {msg.width}x{msg.height}"
        return DepthFrame(depth, intrinsics, msg.header), ""
