"""CameraIntrinsics: pixel <-> point, errors, crop/resize consistency."""

import numpy as np
import pytest

from pa_grasp_perception.camera import CameraIntrinsics

KINECT = CameraIntrinsics(640, 480, 525.0, 525.0, 319.5, 239.5)


@pytest.mark.parametrize("u,v,z", [(0, 0, 0.5), (319.5, 239.5, 1.0), (639, 479, 3.7), (100.25, 400.75, 0.8)])
def test_pixel_point_round_trip(u, v, z):
    point = KINECT.pixel_to_point(u, v, z)
    assert point[2] == pytest.approx(z)
    assert KINECT.point_to_pixel(point) == pytest.approx((u, v))


def test_principal_point_lies_on_the_optical_axis():
    np.testing.assert_allclose(KINECT.pixel_to_point(319.5, 239.5, 2.0), [0.0, 0.0, 2.0])
    # x right, y down (REP 103 optical frame)
    x, y, _ = KINECT.pixel_to_point(600, 400, 1.0)
    assert x > 0 and y > 0


@pytest.mark.parametrize("u,v", [(-1, 10), (10, -0.5), (640, 10), (10, 479.5), (1e6, 1e6)])
def test_pixel_outside_the_image_is_an_error(u, v):
    with pytest.raises(ValueError, match="outside the 640x480 image"):
        KINECT.pixel_to_point(u, v, 1.0)


@pytest.mark.parametrize("depth", [np.nan, 0.0, -1.0, np.inf])
def test_invalid_depth_is_an_error(depth):
    with pytest.raises(ValueError, match="invalid"):
        KINECT.pixel_to_point(10, 10, depth)


def test_point_behind_the_camera_is_an_error():
    with pytest.raises(ValueError, match="behind the camera"):
        KINECT.point_to_pixel(np.array([0.1, 0.1, -1.0]))


def test_from_projection_reads_ros_p():
    p = [570.3, 0, 314.5, 0, 0, 571.1, 235.5, 0, 0, 0, 1, 0]
    intrinsics = CameraIntrinsics.from_projection(640, 480, p)
    assert (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy) == (570.3, 571.1, 314.5, 235.5)
    np.testing.assert_allclose(intrinsics.projection().ravel(), p)
    with pytest.raises(ValueError):
        CameraIntrinsics.from_projection(640, 480, [1, 2, 3])


def test_invalid_intrinsics_rejected():
    with pytest.raises(ValueError):
        CameraIntrinsics(0, 480, 525, 525, 320, 240)
    with pytest.raises(ValueError):
        CameraIntrinsics(640, 480, 0, 525, 320, 240)


def test_points_from_depth_matches_pixel_to_point():
    intrinsics = CameraIntrinsics.from_fov(8, 6, 50.0)
    depth = np.linspace(0.5, 1.5, 48).reshape(6, 8)
    depth[2, 3] = np.nan
    cloud = intrinsics.points_from_depth(depth)
    np.testing.assert_allclose(cloud[4, 5], intrinsics.pixel_to_point(5, 4, depth[4, 5]))
    assert np.isnan(cloud[2, 3]).all()
    with pytest.raises(ValueError):
        intrinsics.points_from_depth(np.ones((5, 8)))


def test_crop_and_resize_keep_points_on_the_same_rays():
    point = KINECT.pixel_to_point(400.0, 300.0, 1.2)
    cropped = KINECT.cropped(100, 50, 400, 300)
    assert cropped.point_to_pixel(point) == pytest.approx((300.0, 250.0))
    half = KINECT.resized(320, 240)
    u, v = half.point_to_pixel(point)
    # pixel-centre aligned: source pixel centre 400 -> (400 + 0.5) / 2 - 0.5
    assert (u, v) == pytest.approx((199.75, 149.75))
    np.testing.assert_allclose(half.pixel_to_point(u, v, 1.2), point)
