"""kinect_node: raw depth driver topics in, conditioned 32FC1 depth + matching camera_info out.

Subscribes (sensor-data QoS, i.e. best effort: works with reliable and best-effort drivers) to
the depth image and camera_info of a driver preset (``driver``, see
:mod:`pa_grasp_perception.drivers`) or to explicit ``depth_topic`` / ``camera_info_topic``.
Each frame is decoded, conditioned (:func:`~pa_grasp_perception.conditioning.condition_depth`)
and published on ``output_topic`` (32FC1 metres, NaN = invalid) with a camera_info on
``output_info_topic`` carrying the same header and the intrinsics of the conditioned image.

A camera_info whose camera is implausible (non-finite or non-positive focal lengths, a field of
view outside 0.1-170 deg, the principal point outside the image, non-finite D; see
``CameraIntrinsics.check_plausible``) is dropped, and frames wait for a valid one. Frames that
cannot be used (no valid camera_info, stale, unsupported encoding, inconsistent sizes, too few
valid pixels) are dropped. Each reason is logged at most once per 5 s, whatever good frames
come between, and reported on ``/diagnostics``; no exception ever leaves a callback. The diagnostic status (name
``kinect_node: depth conditioning``) is published every ``diagnostics_period_s`` and at once
when a new kind of problem appears; its values hold frame counters and the last drop reason.

Conditioning parameters, ``max_age_s`` and ``frame_id`` can be changed at run time; topics cannot.
"""

from __future__ import annotations

import sys
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from pa_grasp_perception.conditioning import DepthConditioningConfig, condition_depth
from pa_grasp_perception.depth import DepthFormatError, EmptyDepthError
from pa_grasp_perception.drivers import resolve_topics
from pa_grasp_perception.node_main import run_node
from pa_grasp_perception.perception_msgs import from_camera_info_msg, from_image_msg, to_camera_info_msg, to_image_msg

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
LOG_THROTTLE_S = 5.0

_DEFAULTS = DepthConditioningConfig()
# Conditioning parameters: ROS parameter name -> default. Arrays of zeros mean "not set".
_CONDITIONING_PARAMETERS = {
    "min_range_m": _DEFAULTS.min_range_m,
    "max_range_m": _DEFAULTS.max_range_m,
    "hole_fill": _DEFAULTS.hole_fill,
    "hole_fill_max_px": _DEFAULTS.hole_fill_max_px,
    "workspace_crop": [0, 0, 0, 0],
    "output_size": [0, 0],
    "min_valid_fraction": _DEFAULTS.min_valid_fraction,
    "resize_interpolation": _DEFAULTS.resize_interpolation,
}
_DESCRIPTIONS = {
    "driver": "depth driver preset (topic names): freenect, freenect_registered, kinect2_bridge, "
    "kinect2_bridge_qhd, azure_kinect",
    "depth_topic": "raw depth image topic; overrides the driver preset",
    "camera_info_topic": "camera_info topic of the depth image; overrides the driver preset",
    "output_topic": "conditioned depth (32FC1, metres, NaN = invalid)",
    "output_info_topic": "camera_info of the conditioned depth",
    "max_age_s": "drop frames whose header stamp is older than this against the node clock; 0 disables",
    "frame_id": "frame_id of the output; empty keeps the driver's",
    "diagnostics_period_s": "period of the /diagnostics status",
    "min_range_m": "closer depth is invalid (NaN)",
    "max_range_m": "farther depth is invalid (NaN)",
    "hole_fill": "fill small holes from the nearest valid pixel",
    "hole_fill_max_px": "fill holes whose pixels are all within this many pixels of valid depth; 0 = all",
    "workspace_crop": "[x0, y0, width, height] in input pixels; all zero = no crop",
    "output_size": "[width, height] of the output; all zero = keep the (cropped) size",
    "min_valid_fraction": "drop frames with fewer valid pixels than this fraction",
    "resize_interpolation": "nearest (edge preserving) or area (NaN-aware average)",
}
_READ_ONLY = {"driver", "depth_topic", "camera_info_topic", "output_topic", "output_info_topic", "diagnostics_period_s"}


def conditioning_config_from_parameters(values: dict) -> DepthConditioningConfig:
    """DepthConditioningConfig from ROS parameter values (zero arrays = no crop / no resize)."""
    crop = [int(v) for v in values["workspace_crop"]]
    size = [int(v) for v in values["output_size"]]
    if len(crop) != 4:
        raise ValueError(f"workspace_crop needs 4 integers [x0, y0, width, height], got {crop}")
    if len(size) != 2:
        raise ValueError(f"output_size needs 2 integers [width, height], got {size}")
    return DepthConditioningConfig(
        min_range_m=values["min_range_m"],
        max_range_m=values["max_range_m"],
        hole_fill=values["hole_fill"],
        hole_fill_max_px=values["hole_fill_max_px"],
        workspace_crop=None if not any(crop) else tuple(crop),
        output_size=None if not any(size) else tuple(size),
        min_valid_fraction=values["min_valid_fraction"],
        resize_interpolation=values["resize_interpolation"],
    )


class _Drop(Exception):  # noqa: N818 - control flow, not an error type
    def __init__(self, category: str, level: bytes, message: str):
        super().__init__(message)
        self.category, self.level, self.message = category, level, message


class KinectNode(Node):
    def __init__(self, **kwargs):
        super().__init__("kinect_node", **kwargs)
        plain = {
            "driver": "freenect",
            "depth_topic": "",
            "camera_info_topic": "",
            "output_topic": "pa_grasp/depth",
            "output_info_topic": "pa_grasp/camera_info",
            "max_age_s": 1.0,
            "frame_id": "",
            "diagnostics_period_s": 1.0,
        }
        for name, default in {**plain, **_CONDITIONING_PARAMETERS}.items():
            self.declare_parameter(
                name,
                default,
                ParameterDescriptor(description=_DESCRIPTIONS[name], read_only=name in _READ_ONLY),
            )
        p = {name: self.get_parameter(name).value for name in {**plain, **_CONDITIONING_PARAMETERS}}

        # Configuration errors surface here, at start-up, as ValueError (main() reports them).
        # Names are relative (a namespace moves them); kept resolved, as logs and diagnostics show them.
        topics = resolve_topics(p["driver"], p["depth_topic"], p["camera_info_topic"])
        self.depth_topic, self.camera_info_topic = (self.resolve_topic_name(t) for t in topics)
        self.config = conditioning_config_from_parameters(p)
        self.max_age_s = self._check_max_age(p["max_age_s"])
        self.frame_id = p["frame_id"]
        self.output_topic, self.output_info_topic = (
            self.resolve_topic_name(p[name]) for name in ("output_topic", "output_info_topic")
        )
        self.diagnostics_period_s = float(p["diagnostics_period_s"])
        if self.diagnostics_period_s <= 0:
            raise ValueError(f"diagnostics_period_s must be > 0, got {self.diagnostics_period_s}")
        self.add_on_set_parameters_callback(self._on_set_parameters)

        # State (all callbacks share the node's default mutually exclusive callback group).
        self._camera_info: CameraInfo | None = None
        self._intrinsics = None
        self._camera_info_error = ""  # why the latest camera_info is unusable, if it is
        self.frames_received = 0
        self.frames_published = 0
        self.frames_dropped = 0
        self.dropped_by_reason: dict[str, int] = {}
        self._last_outcome: tuple[bytes, str, str] | None = None  # (level, category, message) of the last frame
        self._window_drops: list[tuple[bytes, str, str]] = []  # drops since the last diagnostics publication
        self._window_frames = 0
        self._last_frame_wall: float | None = None
        self._last_diag_wall = 0.0
        self._last_diag_category: str | None = None
        self._log_times: dict[str, float] = {}  # drop category -> when it was last logged
        self._log_quiet: dict[str, int] = {}  # drop category -> drops not logged since
        self._drop_logged = False  # a drop was logged since frames were last usable
        self._condition_ms = 0.0
        self._period_s = 0.0  # moving average of the time between published frames
        self._last_publish_wall: float | None = None
        self._last_io = ""
        self._last_drop_message = ""

        output_qos = QoSProfile(
            depth=2, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE
        )
        self._depth_pub = self.create_publisher(Image, self.output_topic, output_qos)
        self._info_pub = self.create_publisher(CameraInfo, self.output_info_topic, output_qos)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(CameraInfo, self.camera_info_topic, self._on_camera_info, qos_profile_sensor_data)
        self.create_subscription(Image, self.depth_topic, self._on_image, qos_profile_sensor_data)
        self.create_timer(self.diagnostics_period_s, self._on_diagnostics_timer)
        self.get_logger().info(
            f"conditioning {self.depth_topic} (+ {self.camera_info_topic}) -> {self.output_topic}"
            f" (+ {self.output_info_topic}); {self.config}"
        )

    # ------------------------------------------------------------------ parameters
    @staticmethod
    def _check_max_age(value) -> float:
        value = float(value)
        if value < 0:
            raise ValueError(f"max_age_s must be >= 0 (0 disables), got {value}")
        return value

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        values = {name: self.get_parameter(name).value for name in _CONDITIONING_PARAMETERS}
        values["max_age_s"] = self.get_parameter("max_age_s").value
        values["frame_id"] = self.get_parameter("frame_id").value
        values.update({param.name: param.value for param in parameters})
        try:
            config = conditioning_config_from_parameters(values)
            max_age_s = self._check_max_age(values["max_age_s"])
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.config, self.max_age_s, self.frame_id = config, max_age_s, str(values["frame_id"])
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ callbacks
    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            intrinsics = from_camera_info_msg(msg)
        except Exception as exc:  # a bad camera_info must not kill the node either
            # Frames wait for a valid one: the driver's last good intrinsics may no longer hold.
            self._camera_info = self._intrinsics = None
            self._camera_info_error = f"invalid camera_info on {self.camera_info_topic}: {exc}"
            self._record_drop(_Drop("invalid_camera_info", ERROR, self._camera_info_error), frame=False)
            return
        self._camera_info, self._intrinsics, self._camera_info_error = msg, intrinsics, ""

    def _on_image(self, msg: Image) -> None:
        try:
            self.frames_received += 1
            self._window_frames += 1
            self._last_frame_wall = time.monotonic()
            self._process(msg)
        except _Drop as drop:
            self._record_drop(drop)
        except Exception as exc:  # never let one frame take the node down
            self._record_drop(_Drop("internal_error", ERROR, f"internal error: {type(exc).__name__}: {exc}"))

    def _on_diagnostics_timer(self) -> None:
        try:
            self._publish_diagnostics()
        except Exception as exc:
            self.get_logger().error(f"cannot publish diagnostics: {exc}", throttle_duration_sec=5)

    # ------------------------------------------------------------------ frame processing
    def _process(self, msg: Image) -> None:
        if self._camera_info_error:
            raise _Drop("invalid_camera_info", ERROR, self._camera_info_error)
        if self._intrinsics is None:
            raise _Drop("no_camera_info", WARN, f"no camera_info received yet on {self.camera_info_topic}")
        if self.max_age_s > 0:
            now = self.get_clock().now()
            age_s = (now - Time.from_msg(msg.header.stamp, clock_type=now.clock_type)).nanoseconds * 1e-9
            if age_s > self.max_age_s:
                raise _Drop("stale", WARN, f"stale frame: {age_s:.3f} s old (max_age_s={self.max_age_s:g})")
        self._last_io = f"{msg.width}x{msg.height} {msg.encoding}"
        try:
            depth = from_image_msg(msg)
        except DepthFormatError as exc:
            raise _Drop("malformed", ERROR, f"malformed depth frame: {exc}") from None
        intrinsics = self._intrinsics
        if depth.shape != (intrinsics.height, intrinsics.width):
            raise _Drop(
                "camera_info_mismatch",
                ERROR,
                f"camera_info is for {intrinsics.width}x{intrinsics.height} but the depth frame is"
                f" {depth.shape[1]}x{depth.shape[0]} (do {self.depth_topic} and {self.camera_info_topic} belong"
                " to the same stream?)",
            )
        start = time.perf_counter()
        try:
            conditioned, out_intrinsics = condition_depth(depth, intrinsics, self.config)
        except EmptyDepthError as exc:
            raise _Drop("all_invalid", WARN, f"no usable depth: {exc}") from None
        except DepthFormatError as exc:
            raise _Drop("malformed", ERROR, f"cannot condition the frame: {exc}") from None
        elapsed_ms = (time.perf_counter() - start) * 1e3
        self._condition_ms = elapsed_ms if self.frames_published == 0 else 0.9 * self._condition_ms + 0.1 * elapsed_ms

        header = Header(stamp=msg.header.stamp, frame_id=self.frame_id or msg.header.frame_id)
        info = self._camera_info
        self._depth_pub.publish(to_image_msg(conditioned, header, "32FC1"))
        self._info_pub.publish(to_camera_info_msg(out_intrinsics, header, info.distortion_model or "plumb_bob", info.d))
        self._record_ok(f"{self._last_io} -> {out_intrinsics.width}x{out_intrinsics.height} 32FC1")

    def _record_ok(self, io: str) -> None:
        now = time.monotonic()
        if self._last_publish_wall is not None:
            dt = now - self._last_publish_wall
            self._period_s = dt if self._period_s == 0 else 0.9 * self._period_s + 0.1 * dt
        self._last_publish_wall = now
        self.frames_published += 1
        if self._drop_logged:  # said once per logged drop: a mix of good and bad frames stays quiet
            self._drop_logged = False
            self.get_logger().info(f"depth frames usable again ({self.frames_dropped} dropped so far)")
        self._last_outcome = (OK, "ok", io)

    def _record_drop(self, drop: _Drop, frame: bool = True) -> None:
        if frame:  # else a camera_info
            self.frames_dropped += 1
            self._last_outcome = (drop.level, drop.category, drop.message)
        self._last_drop_message = drop.message
        self.dropped_by_reason[drop.category] = self.dropped_by_reason.get(drop.category, 0) + 1
        self._window_drops.append((drop.level, drop.category, drop.message))
        del self._window_drops[:-100]
        # One line per reason per LOG_THROTTLE_S, whatever good frames come between; the count of
        # the quiet ones rides on the next line.
        now = time.monotonic()
        if now - self._log_times.get(drop.category, -LOG_THROTTLE_S) >= LOG_THROTTLE_S:
            quiet = self._log_quiet.pop(drop.category, 0)
            more = (
                f" (and {quiet} more like it in the last {now - self._log_times[drop.category]:.0f} s)" if quiet else ""
            )
            self._log_times[drop.category] = now
            self._drop_logged = True
            self.get_logger().warning(f"dropping {'depth frame' if frame else 'camera_info'}: {drop.message}{more}")
        else:
            self._log_quiet[drop.category] = self._log_quiet.get(drop.category, 0) + 1
        # Report a new kind of problem at once; otherwise the periodic timer keeps /diagnostics at ~1 Hz.
        if (
            drop.category != self._last_diag_category
            or time.monotonic() - self._last_diag_wall >= self.diagnostics_period_s
        ):
            try:
                self._publish_diagnostics()
            except Exception as exc:
                self.get_logger().error(f"cannot publish diagnostics: {exc}", throttle_duration_sec=5)

    # ------------------------------------------------------------------ diagnostics
    @property
    def rate_hz(self) -> float:
        return 1.0 / self._period_s if self._period_s > 0 else 0.0

    def diagnostic_status(self) -> DiagnosticStatus:
        """The current status; consumes the drops recorded since the previous call."""
        now = time.monotonic()
        category = "ok"
        if self._window_drops:
            worst = max(ord(level) for level, _, _ in self._window_drops)
            level, category, message = [d for d in self._window_drops if ord(d[0]) == worst][-1]
            n = len(self._window_drops)
            if n > 1 or self._window_frames > 1:
                message = f"{message} ({n} of {max(self._window_frames, n)} frames dropped since the last report)"
        elif self._last_outcome is not None and self._last_outcome[0] != OK:
            level, category, message = self._last_outcome
        elif self._last_frame_wall is None:
            level, message = WARN, f"waiting for depth frames on {self.depth_topic}"
            category = "no_frames"
        elif now - self._last_frame_wall > max(3.0, 3 * self.diagnostics_period_s):
            level, message = WARN, f"no depth frame on {self.depth_topic} for {now - self._last_frame_wall:.1f} s"
            category = "no_frames"
        else:
            level, message = OK, f"publishing conditioned depth at {self.rate_hz:.1f} Hz ({self._last_outcome[2]})"
        self._window_drops.clear()
        self._window_frames = 0
        self._last_diag_category = category

        values = {
            "depth_topic": self.depth_topic,
            "camera_info_topic": self.camera_info_topic,
            "output_topic": self.output_topic,
            "frames_received": self.frames_received,
            "frames_published": self.frames_published,
            "frames_dropped": self.frames_dropped,
            "last_drop_reason": self._last_drop_message,
            "input": self._last_io,
            "rate_hz": f"{self.rate_hz:.2f}",
            "conditioning_ms": f"{self._condition_ms:.2f}",
        }
        values.update({f"dropped.{reason}": n for reason, n in sorted(self.dropped_by_reason.items())})
        return DiagnosticStatus(
            level=level,
            name=f"{self.get_name()}: depth conditioning",
            message=message,
            hardware_id=(self._camera_info.header.frame_id if self._camera_info else "") or self.depth_topic,
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
        )

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray(status=[self.diagnostic_status()])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(array)
        self._last_diag_wall = time.monotonic()


def main(args=None) -> int:
    return run_node(KinectNode, "kinect_node", args)


if __name__ == "__main__":
    sys.exit(main())
