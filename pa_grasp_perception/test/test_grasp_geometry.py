"""Grasp geometry shared by policy, sim and execution: rpy convention, palm pose, pixel -> base."""

import math

import numpy as np
import pytest

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.grasp_geometry import (
    approach_direction,
    check_pose,
    depth_at,
    grasp_palm_pose,
    palm_rotation,
    pixel_to_base,
    pose_from_xyz_quat,
    pose_to_xyz_quat,
)


def test_paper_rpy_convention():
    np.testing.assert_allclose(approach_direction(0.0, 0.0, 0.0), [1, 0, 0], atol=1e-12)  # the paper's [1,0,0]
    np.testing.assert_allclose(approach_direction(0.0, math.pi / 2, 0.0), [0, 0, -1], atol=1e-12)  # top-down
    np.testing.assert_allclose(approach_direction(0.3, 0.0, math.pi / 2), [0, 1, 0], atol=1e-12)  # yaw turns it
    R = palm_rotation(0.2, 1.1, -0.7).as_matrix()
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(R[:, 2], approach_direction(0.2, 1.1, -0.7))  # palm +z = approach


def test_grasp_palm_pose_backs_off_along_the_approach():
    T = grasp_palm_pose(np.array([0.6, -0.1, 0.02]), 0.0, math.pi / 2, 0.0, 0.05)
    np.testing.assert_allclose(T[:3, 3], [0.6, -0.1, 0.07], atol=1e-12)  # 5 cm above, approaching down
    np.testing.assert_allclose(T[:3, 2], [0, 0, -1], atol=1e-12)
    assert check_pose(T) is not None


def test_pose_vector_round_trip_and_errors():
    v = [0.55, 0.0, 0.75, 0.7071067811865476, -0.7071067811865476, 0.0, 0.0]
    T = pose_from_xyz_quat(v)
    np.testing.assert_allclose(T[:3, 2], [0, 0, -1], atol=1e-12)  # the sim camera looks down
    back = pose_to_xyz_quat(T)
    assert back[:3] == pytest.approx(v[:3])
    assert abs(np.dot(back[3:], v[3:])) == pytest.approx(1.0)  # same rotation (q or -q)
    with pytest.raises(ValueError, match="7 numbers"):
        pose_from_xyz_quat([0, 0, 0])
    with pytest.raises(ValueError, match="quaternion"):
        pose_from_xyz_quat([0, 0, 0, 0, 0, 0, 0])
    bad = np.eye(4)
    bad[0, 0] = -1.0  # a reflection
    with pytest.raises(ValueError, match="rotation"):
        check_pose(bad)


def test_depth_at_reads_the_rounded_pixel_or_the_median_nearby():
    depth = np.full((10, 12), 0.8, dtype=np.float32)
    depth[4, 6] = 0.5
    assert depth_at(depth, 6.4, 3.6) == pytest.approx(0.5)  # rounds like the simulator
    depth[4, 6] = np.nan
    assert depth_at(depth, 6, 4) == pytest.approx(0.8)  # hole: median of the valid neighbours
    depth[:, :] = np.nan
    with pytest.raises(ValueError, match="no valid depth"):
        depth_at(depth, 6, 4)
    with pytest.raises(ValueError, match="outside"):
        depth_at(depth, 20, 4)


def test_pixel_to_base_matches_a_hand_computation():
    intrinsics = CameraIntrinsics(160, 160, 100.0, 100.0, 79.5, 79.5)
    T_base_camera = pose_from_xyz_quat([0.55, 0.0, 0.75, 0.7071067811865476, -0.7071067811865476, 0.0, 0.0])
    p_camera, p_base = pixel_to_base(89.5, 59.5, 0.7, intrinsics, T_base_camera)
    # (u - cx) d / fx = 0.07, (v - cy) d / fy = -0.14; camera x = base -y, camera y = base -x, z = -z.
    np.testing.assert_allclose(p_camera, [0.07, -0.14, 0.7], atol=1e-12)
    np.testing.assert_allclose(p_base, [0.55 + 0.14, -0.07, 0.75 - 0.7], atol=1e-12)


def test_pose_messages_round_trip():
    pytest.importorskip("geometry_msgs")
    from pa_grasp_perception.perception_msgs import from_pose_msg, to_pose_msg

    T = grasp_palm_pose(np.array([0.4, 0.1, 0.05]), 0.3, 1.2, -2.0, 0.05)
    msg = to_pose_msg(T)
    assert (msg.position.x, msg.position.y, msg.position.z) == pytest.approx(tuple(T[:3, 3]))
    np.testing.assert_allclose(from_pose_msg(msg), T, atol=1e-12)
    msg.orientation.w = msg.orientation.x = msg.orientation.y = msg.orientation.z = 0.0
    with pytest.raises(ValueError):
        from_pose_msg(msg)
