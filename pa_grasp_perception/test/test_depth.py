"""decode_depth / encode_depth: encodings, byte order, row padding, clear errors."""

import subprocess
import sys

import numpy as np
import pytest

from pa_grasp_perception.depth import (
    SUPPORTED_ENCODINGS,
    DepthFormatError,
    decode_depth,
    encode_depth,
)
from pa_grasp_perception.drivers import DRIVER_PRESETS, resolve_topics

MM = np.array([[0, 400, 1000], [1500, 65535, 0]], dtype=np.uint16)
EXPECTED_M = np.array([[np.nan, 0.4, 1.0], [1.5, 65.535, np.nan]], dtype=np.float32)


def padded(rows: np.ndarray, pad: int) -> tuple[bytes, int]:
    """Row bytes of ``rows`` (already in the wanted byte order) with ``pad`` junk bytes per row."""
    raw = rows.view(np.uint8).reshape(rows.shape[0], -1)
    junk = np.full((rows.shape[0], pad), 0xAB, dtype=np.uint8)
    full = np.hstack([raw, junk])
    return full.tobytes(), full.shape[1]


@pytest.mark.parametrize("encoding", ["16UC1", "mono16"])
def test_decode_16bit_millimetres_zero_invalid(encoding):
    depth = decode_depth(MM.astype("<u2").tobytes(), 3, 2, 6, encoding, False)
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    np.testing.assert_allclose(depth, EXPECTED_M, rtol=1e-6)  # NaN positions must match too


def test_decode_32fc1_metres_nan_zero_inf_negative_invalid():
    metres = np.array([[0.5, np.nan, 0.0], [np.inf, -1.0, 2.25]], dtype="<f4")
    depth = decode_depth(metres.tobytes(), 3, 2, 12, "32FC1", 0)
    np.testing.assert_array_equal(np.isnan(depth), [[False, True, True], [True, True, False]])
    assert depth[0, 0] == np.float32(0.5) and depth[1, 2] == np.float32(2.25)


@pytest.mark.parametrize("encoding,dtype", [("16UC1", ">u2"), ("mono16", ">u2"), ("32FC1", ">f4")])
def test_decode_big_endian(encoding, dtype):
    values = MM if dtype.endswith("u2") else (MM / 1000.0)
    data = values.astype(dtype).tobytes()
    depth = decode_depth(data, 3, 2, 3 * np.dtype(dtype).itemsize, encoding, True)
    np.testing.assert_allclose(depth, EXPECTED_M, rtol=1e-6)
    # the same bytes read as little-endian give different numbers: the flag matters
    wrong = decode_depth(data, 3, 2, 3 * np.dtype(dtype).itemsize, encoding, False)
    assert not np.allclose(np.nan_to_num(wrong), np.nan_to_num(EXPECTED_M))


@pytest.mark.parametrize("encoding,dtype,pad", [("16UC1", "<u2", 2), ("16UC1", "<u2", 3), ("32FC1", "<f4", 4)])
def test_decode_padded_rows(encoding, dtype, pad):
    values = MM if dtype.endswith("u2") else (MM / 1000.0)
    data, step = padded(np.ascontiguousarray(values.astype(dtype)), pad)
    assert step > 3 * np.dtype(dtype).itemsize
    depth = decode_depth(data, 3, 2, step, encoding, False)
    np.testing.assert_allclose(depth, EXPECTED_M, rtol=1e-6)


def test_decode_accepts_buffers_of_ros_messages():
    import array

    buf = array.array("B", MM.astype("<u2").tobytes())
    np.testing.assert_allclose(decode_depth(buf, 3, 2, 6, "16UC1"), EXPECTED_M, rtol=1e-6)


@pytest.mark.parametrize("encoding", ["16UC1", "mono16", "32FC1"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_encode_decode_round_trip(encoding, bigendian):
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.3, 5.0, (48, 64)).astype(np.float32)
    depth[5:9, 10:20] = np.nan
    depth[0, 0] = 0.0
    depth[1, 1] = np.inf
    depth[2, 2] = -0.5
    data, step = encode_depth(depth, encoding, bigendian=bigendian)
    assert len(data) == step * 48 and step == 64 * (4 if encoding == "32FC1" else 2)
    back = decode_depth(data, 64, 48, step, encoding, bigendian)
    invalid = ~(np.isfinite(depth) & (depth > 0))
    np.testing.assert_array_equal(np.isnan(back), invalid)
    tolerance = 0.0 if encoding == "32FC1" else 0.0005  # millimetre rounding
    np.testing.assert_allclose(back[~invalid], depth[~invalid], atol=tolerance + 1e-6, rtol=0)


def test_encode_16bit_beyond_range_is_invalid_not_saturated():
    data, step = encode_depth(np.array([[1.0, 70.0]], dtype=np.float32), "16UC1")
    assert np.frombuffer(data, "<u2").tolist() == [1000, 0]


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "8UC1", "16SC1", "", "depth"])
def test_decode_unsupported_encoding_is_a_clear_error(encoding):
    with pytest.raises(DepthFormatError, match="unsupported depth encoding") as info:
        decode_depth(bytes(12), 2, 2, 6, encoding)
    assert all(name in str(info.value) for name in SUPPORTED_ENCODINGS)
    assert isinstance(info.value, ValueError)


def test_encoding_lookup_is_case_insensitive():
    np.testing.assert_allclose(decode_depth(MM.tobytes(), 3, 2, 6, "16uc1"), EXPECTED_M, rtol=1e-6)
    np.testing.assert_allclose(decode_depth(MM.tobytes(), 3, 2, 6, "MONO16"), EXPECTED_M, rtol=1e-6)


@pytest.mark.parametrize(
    "nbytes,width,height,step,match",
    [
        (11, 3, 2, 6, "11 B of data but step\\*height = 6\\*2 = 12 B"),  # truncated
        (14, 3, 2, 6, "14 B of data"),  # too long
        (12, 3, 2, 4, "step 4 B is smaller than one row"),
        (0, 0, 2, 0, "empty size 0x2"),
        (0, 3, 0, 6, "empty size 3x0"),
        (0, 3, 2, 6, "0 B of data"),
    ],
)
def test_decode_size_errors(nbytes, width, height, step, match):
    with pytest.raises(DepthFormatError, match=match):
        decode_depth(bytes(nbytes), width, height, step, "16UC1")


def test_encode_rejects_bad_input():
    with pytest.raises(DepthFormatError):
        encode_depth(np.zeros((2, 2)), "rgb8")
    with pytest.raises(DepthFormatError):
        encode_depth(np.zeros(4), "16UC1")


def test_driver_presets():
    """The drivers' default names, relative: a driver in the stack's namespace is found there."""
    assert DRIVER_PRESETS["freenect"][:2] == ("camera/depth/image_raw", "camera/depth/camera_info")
    assert DRIVER_PRESETS["kinect2_bridge"][:2] == ("kinect2/sd/image_depth_rect", "kinect2/sd/camera_info")
    assert DRIVER_PRESETS["azure_kinect"][:2] == ("depth/image_raw", "depth/camera_info")
    assert all(p.encoding in SUPPORTED_ENCODINGS for p in DRIVER_PRESETS.values())
    assert resolve_topics("azure_kinect") == ("depth/image_raw", "depth/camera_info")
    assert resolve_topics("freenect", "/my/depth") == ("/my/depth", "camera/depth/camera_info")
    assert resolve_topics("whatever", "/a", "/b") == ("/a", "/b")
    with pytest.raises(ValueError, match="unknown depth driver 'kinect9'"):
        resolve_topics("kinect9")


def test_core_modules_do_not_import_ros():
    code = (
        "import sys; import pa_grasp_perception.depth, pa_grasp_perception.conditioning,"
        " pa_grasp_perception.camera, pa_grasp_perception.drivers;"
        "ros = ('rclpy', 'sensor_msgs', 'std_msgs', 'rosidl_runtime_py');"
        "bad = [m for m in sys.modules if m.split('.')[0] in ros];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
