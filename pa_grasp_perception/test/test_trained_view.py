"""trained_view: a depth image from another camera redrawn as the training camera sees it, on
analytic scenes (a table with a raised block, seen from cameras whose rays are cast here)."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.trained_view import (
    R_BASE_TRAINED,
    TrainedView,
    ViewError,
    axis_on_table,
    box_to_view,
    to_trained_view,
)

TABLE_Z = 0.02
BLOCK = (0.3517, 0.4633, -0.0771, 0.0419, 0.06)  # x from, x to, y from, y to (base), height above the table
KINECT = CameraIntrinsics.from_fov(640, 480, 43.0)


def camera(x, y, height, yaw_deg=0.0, tilt_deg=0.0):
    """T_base_camera above the table at (x, y) looking down, turned and tilted."""
    T = np.eye(4)
    turn = Rotation.from_euler("z", yaw_deg, degrees=True) * Rotation.from_euler("y", tilt_deg, degrees=True)
    T[:3, :3] = turn.as_matrix() @ R_BASE_TRAINED
    T[:3, 3] = [x, y, TABLE_Z + height]
    return T


def render(intrinsics: CameraIntrinsics, T_base_camera: np.ndarray) -> np.ndarray:
    """Depth of the table with the block (its top only: the cameras here look nearly straight down)."""
    v, u = np.mgrid[0 : intrinsics.height, 0 : intrinsics.width].astype(float)
    rays = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones_like(u)], -1)
    rays_base = rays @ T_base_camera[:3, :3].T
    origin = T_base_camera[:3, 3]
    depth = np.full(u.shape, np.nan)
    for z, on_block in ((TABLE_Z + BLOCK[4], True), (TABLE_Z, False)):
        s = (z - origin[2]) / rays_base[..., 2]
        hit = origin + s[..., None] * rays_base
        x, y = hit[..., 0], hit[..., 1]
        inside = (BLOCK[0] <= x) & (x <= BLOCK[1]) & (BLOCK[2] <= y) & (y <= BLOCK[3])
        take = np.isnan(depth) & (inside if on_block else True)
        depth[take] = s[take]  # rays are scaled to z = 1 in the camera: s is the depth
    return depth


def block_pixels(intrinsics, T_base_camera) -> np.ndarray:
    """Where the trained-view camera sees the block's top, by casting its rays (the truth)."""
    return np.isclose(render(intrinsics, T_base_camera), TrainedView().height_m - BLOCK[4], atol=1e-6)


@pytest.mark.parametrize(
    ("height", "yaw_deg", "tilt_deg", "shadow_px"),
    [(1.0, 0.0, 0.0, 1), (1.2, 90.0, 0.0, 1), (0.9, 30.0, 0.0, 1), (1.0, 0.0, 10.0, 4)],
)
def test_a_kinect_image_is_redrawn_as_the_training_camera_sees_the_table(height, yaw_deg, tilt_deg, shadow_px):
    """Top-down from any height or turn: only the block's outline may differ (half a source
    pixel). Tilted: also the table the block hides from the camera (its shadow, a few pixels
    wide here), which is drawn from the nearest surface the camera saw."""
    T_kinect = camera(0.40, 0.0, height, yaw_deg, tilt_deg)
    depth, intrinsics, T_view = to_trained_view(render(KINECT, T_kinect), KINECT, T_kinect, TABLE_Z)
    view = TrainedView()
    assert depth.shape == (view.side_px, view.side_px) and intrinsics == view.intrinsics
    np.testing.assert_allclose(T_view[:3, :3], R_BASE_TRAINED)
    np.testing.assert_allclose(T_view[:3, 3], [*axis_on_table(T_kinect, TABLE_Z), TABLE_Z + view.height_m])
    truth = render(intrinsics, T_view)
    wrong = np.abs(depth - truth) > 1e-3
    outline = block_pixels(intrinsics, T_view) ^ np.roll(block_pixels(intrinsics, T_view), 1, axis=(0, 1))
    near_outline = np.zeros_like(outline)
    for dv in range(-shadow_px, shadow_px + 1):
        for du in range(-shadow_px, shadow_px + 1):
            near_outline |= np.roll(outline, (dv, du), axis=(0, 1))
    assert not (wrong & ~near_outline).any(), f"{int((wrong & ~near_outline).sum())} pixels off the outline differ"
    assert wrong.sum() <= 0.3 * near_outline.sum()


def test_the_training_camera_itself_is_recognised_and_others_are_not():
    view = TrainedView()
    T = camera(0.40, 0.0, view.height_m)
    assert view.is_trained_view(view.intrinsics, T, TABLE_Z)
    assert not view.is_trained_view(KINECT, T, TABLE_Z)
    assert not view.is_trained_view(view.intrinsics, camera(0.40, 0.0, view.height_m + 0.05), TABLE_Z)
    assert not view.is_trained_view(view.intrinsics, camera(0.40, 0.0, view.height_m, tilt_deg=3.0), TABLE_Z)
    assert not view.is_trained_view(view.intrinsics, camera(0.40, 0.0, view.height_m, yaw_deg=90.0), TABLE_Z)
    assert not view.is_trained_view(CameraIntrinsics.from_fov(160, 160, 50.0), T, TABLE_Z)


def test_a_camera_that_does_not_look_at_the_table_is_refused():
    sideways = camera(0.4, 0.0, 1.0, tilt_deg=85.0)
    with pytest.raises(ViewError, match="does not look down"):
        to_trained_view(np.full((480, 640), 1.0), KINECT, sideways, TABLE_Z)
    below = camera(0.4, 0.0, -0.5)
    with pytest.raises(ViewError, match="not above the table"):
        axis_on_table(below, TABLE_Z)


def test_invalid_pixels_and_unseen_table_are_bare_table():
    T_kinect = camera(0.40, 0.0, 1.0, yaw_deg=45.0)  # turned: the square view's corners are out of its sight
    depth = render(KINECT, T_kinect)
    depth[:, :320] = np.nan  # half the image lost
    out, intrinsics, T_view = to_trained_view(depth, KINECT, T_kinect, TABLE_Z)
    assert np.isfinite(out).all()
    assert np.isclose(out, TrainedView().height_m).mean() > 0.5


def test_a_box_of_the_image_becomes_the_box_of_the_same_table_region():
    T_kinect = camera(0.40, 0.0, 1.0, yaw_deg=90.0)
    view = TrainedView()
    T_view = view.camera_pose(axis_on_table(T_kinect, TABLE_Z), TABLE_Z)
    whole = box_to_view((0, 0, view.side_px, view.side_px), view.intrinsics, T_view, TABLE_Z, view.intrinsics, T_view)
    np.testing.assert_allclose(whole, (0, 0, view.side_px, view.side_px), atol=1e-6)
    # The block's footprint boxed in the Kinect image lands on the block in the view.
    on_block = np.argwhere(np.isclose(render(KINECT, T_kinect), 1.0 - BLOCK[4], atol=1e-6))
    (v0, u0), (v1, u1) = on_block.min(0), on_block.max(0)
    x0, y0, w, h = box_to_view((u0, v0, u1 - u0 + 1, v1 - v0 + 1), KINECT, T_kinect, TABLE_Z, view.intrinsics, T_view)
    truth = np.argwhere(block_pixels(view.intrinsics, T_view))
    (tv0, tu0), (tv1, tu1) = truth.min(0), truth.max(0)
    assert math.isclose(x0, tu0, abs_tol=1.5) and math.isclose(x0 + w, tu1 + 1, abs_tol=1.5)
    assert math.isclose(y0, tv0, abs_tol=1.5) and math.isclose(y0 + h, tv1 + 1, abs_tol=1.5)
    with pytest.raises(ValueError, match="outside"):
        box_to_view((0, 0, 5, 5), KINECT, camera(3.0, 0.0, 1.0), TABLE_Z, view.intrinsics, T_view)
