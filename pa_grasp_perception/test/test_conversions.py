"""Image / CameraInfo <-> numpy / CameraIntrinsics (messages only, no ROS graph)."""

import numpy as np
import pytest

pytest.importorskip("sensor_msgs")
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from pa_grasp_perception.camera import CameraIntrinsics  # noqa: E402
from pa_grasp_perception.depth import DepthFormatError  # noqa: E402
from pa_grasp_perception.perception_msgs import (  # noqa: E402
    from_camera_info_msg,
    from_image_msg,
    to_camera_info_msg,
    to_image_msg,
)


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1", "mono16"])
def test_image_round_trip(encoding):
    depth = np.linspace(0.5, 3.0, 12, dtype=np.float32).reshape(3, 4)
    depth[1, 2] = np.nan
    header = Header(frame_id="camera_depth_optical_frame")
    header.stamp.sec = 42
    msg = to_image_msg(depth, header, encoding)
    assert (msg.width, msg.height, msg.encoding, msg.is_bigendian) == (4, 3, encoding, 0)
    assert msg.step == 4 * (4 if encoding == "32FC1" else 2) and len(msg.data) == msg.step * 3
    assert msg.header.stamp.sec == 42 and msg.header.frame_id == "camera_depth_optical_frame"
    back = from_image_msg(msg)
    np.testing.assert_allclose(back, depth, atol=5e-4)  # NaN stays NaN


def test_from_image_msg_rejects_colour_and_truncated_frames():
    msg = Image(width=4, height=3, encoding="rgb8", step=12)
    msg.data = bytes(36)
    with pytest.raises(DepthFormatError, match="rgb8"):
        from_image_msg(msg)
    msg = to_image_msg(np.ones((3, 4), dtype=np.float32), Header(), "16UC1")
    msg.data = msg.data[:-1]
    with pytest.raises(DepthFormatError, match="23 B of data"):
        from_image_msg(msg)


def kinect_info(**kwargs):
    info = CameraInfo(width=640, height=480, **kwargs)
    info.k = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]
    info.p = [520.0, 0.0, 318.0, 0.0, 0.0, 521.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def test_camera_info_uses_p():
    intrinsics = from_camera_info_msg(kinect_info())
    assert intrinsics == CameraIntrinsics(640, 480, 520.0, 521.0, 318.0, 240.0)


def test_camera_info_falls_back_to_k_when_p_is_zero():
    info = kinect_info()
    info.p = [0.0] * 12
    assert from_camera_info_msg(info) == CameraIntrinsics(640, 480, 525.0, 525.0, 319.5, 239.5)


def test_camera_info_without_camera_or_size_is_an_error():
    with pytest.raises(ValueError, match="no positive focal lengths"):
        from_camera_info_msg(CameraInfo(width=640, height=480))
    info = kinect_info()
    info.width = 0
    with pytest.raises(ValueError, match="empty image size"):
        from_camera_info_msg(info)


def test_camera_info_roi_and_binning():
    info = kinect_info(binning_x=2, binning_y=2)
    info.roi.x_offset, info.roi.y_offset, info.roi.width, info.roi.height = 100, 40, 400, 300
    intrinsics = from_camera_info_msg(info)
    full = CameraIntrinsics(640, 480, 520.0, 521.0, 318.0, 240.0)
    assert intrinsics == full.cropped(100, 40, 400, 300).resized(200, 150)


def test_camera_info_round_trip():
    intrinsics = CameraIntrinsics(224, 224, 300.5, 301.5, 110.0, 112.5)
    header = Header(frame_id="cam")
    msg = to_camera_info_msg(intrinsics, header, "plumb_bob", [0.1, -0.2, 0.0, 0.0, 0.01])
    assert (msg.width, msg.height, msg.header.frame_id, msg.distortion_model) == (224, 224, "cam", "plumb_bob")
    assert list(msg.d) == pytest.approx([0.1, -0.2, 0.0, 0.0, 0.01])
    assert list(msg.k) == [300.5, 0.0, 110.0, 0.0, 301.5, 112.5, 0.0, 0.0, 1.0]
    assert from_camera_info_msg(msg) == intrinsics
    assert list(to_camera_info_msg(intrinsics).d) == [0.0] * 5
