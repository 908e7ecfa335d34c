"""From the zoom loop's pixel to a palm pose in base_link (core, no ROS): a hand computation, the
simulator's own path, ROI start boxes and the zoom picture."""

import math
import pathlib

import numpy as np
import pytest
import yaml

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.grasp_geometry import pose_from_xyz_quat
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.model.zoom import ZoomConfig, ZoomState
from pa_grasp_policy.model.zoom_image import draw_zoom
from pa_grasp_policy.planner.proposal import ProposalError, final_grasp, make_proposal, view_mismatch

SIM_CAMERA = [0.55, 0.0, 0.75, 0.7071067811865476, -0.7071067811865476, 0.0, 0.0]  # a top-down camera
SIM_YAML = pathlib.Path(__file__).resolve().parents[2] / "pa_grasp_bringup" / "config" / "sim.yaml"


def sim_yaml_camera() -> list[float]:
    """The camera extrinsics the sim stack actually runs with."""
    params = yaml.safe_load(SIM_YAML.read_text())
    return params["sim_bridge_node"]["ros__parameters"]["camera_pose_xyz_quat"]


INTRINSICS = CameraIntrinsics(160, 160, 100.0, 100.0, 79.5, 79.5)


def test_pixel_to_palm_pose_in_base_link_by_hand():
    depth = np.full((160, 160), 0.75, dtype=np.float32)
    depth[59, 89] = 0.70  # an object 5 cm high under pixel (u=89, v=59)
    proposal = make_proposal(
        depth,
        INTRINSICS,
        pose_from_xyz_quat(SIM_CAMERA),
        (89.4, 59.2),
        (0.0, math.pi / 2, 0.0),
        [0.3, 0.1, 0.1, 0.1],
        0.05,
    )
    # camera point: x = (89.4 - 79.5) * 0.7 / 100 = 0.0693, y = (59.2 - 79.5) * 0.7 / 100 = -0.1421, z = 0.7.
    np.testing.assert_allclose(proposal.point_camera, [0.0693, -0.1421, 0.7], atol=1e-6)
    # camera looking down from (0.55, 0, 0.75): base x = 0.55 - y_cam, base y = -x_cam, base z = 0.75 - z_cam.
    np.testing.assert_allclose(proposal.point_base, [0.6921, -0.0693, 0.05], atol=1e-6)
    # top-down grasp: palm 5 cm above the surface, +z pointing down.
    np.testing.assert_allclose(proposal.T_base_palm[:3, 3], [0.6921, -0.0693, 0.10], atol=1e-6)
    np.testing.assert_allclose(proposal.T_base_palm[:3, 2], [0, 0, -1], atol=1e-6)
    assert proposal.depth == pytest.approx(0.70)
    np.testing.assert_allclose(proposal.hand_joints, [0.3, 0.1, 0.1, 0.1])


def test_ros_path_gives_the_pose_the_simulator_computes():
    """policy_node (pixel -> base_link with the configured camera) + sim_bridge (base_link ->
    world) must put the palm where GraspWorld.execute would for the same pixel."""
    from pa_grasp_perception.grasp_command import GraspCommand, command_palm_pose
    from pa_grasp_sim.world import GraspWorld, WorldConfig

    config = WorldConfig()
    with GraspWorld(config, "seen", seed=0) as world:
        world.reset(1, seed=3)
        depth = world.render_depth()
        T_world_base = np.eye(4)
        T_world_base[:3, 3] = config.arm_base_position
        # the configured camera pose is the sim's default camera, in base_link
        np.testing.assert_allclose(
            T_world_base @ pose_from_xyz_quat(sim_yaml_camera()), world.camera.T_world_camera, atol=1e-9
        )
        command = GraspCommand(81.3, 77.8, roll=0.2, pitch=1.2, yaw=-0.4, spread=0.5, fingers=(0.1, 0.2, 0.3))
        surface = world.camera.pixel_to_world(command.u, command.v, float(depth[78, 81]))
        expected = command_palm_pose(surface, command, config.execution.grasp_offset_m)
        proposal = make_proposal(
            depth,
            world.camera.intrinsics,
            pose_from_xyz_quat(sim_yaml_camera()),
            (command.u, command.v),
            (command.roll, command.pitch, command.yaw),
            [command.spread, *command.fingers],
            config.execution.grasp_offset_m,
        )
    np.testing.assert_allclose(T_world_base @ proposal.T_base_palm, expected, atol=1e-9)


def test_proposal_errors_name_the_problem():
    depth = np.full((160, 160), np.nan, dtype=np.float32)
    with pytest.raises(ProposalError, match="no valid depth"):
        make_proposal(depth, INTRINSICS, np.eye(4), (10, 10), (0, 1.5, 0), [0, 0, 0, 0], 0.05)
    with pytest.raises(ProposalError, match="camera_info says 160x160"):
        make_proposal(np.ones((10, 10)), INTRINSICS, np.eye(4), (5, 5), (0, 1.5, 0), [0, 0, 0, 0], 0.05)


def test_zoom_from_a_region_of_interest_and_its_picture():
    depth = np.full((120, 160), 0.75, dtype=np.float32)
    depth[60:70, 100:110] = 0.68
    roi = (90, 50, 40, 30)
    state = ZoomState(depth, ZoomConfig(input_size=32, max_zoom_steps=0), start_box=roi)
    assert state.box == (90.0, 50.0, 40.0, 30.0) and state.scale == pytest.approx(40 / 160)
    act = Policy(NetworkConfig(input_size=32)).actor(deterministic=True)
    state.apply(act(state.observation())[0])  # no zoom budget: grasp in the ROI view
    uv, rpy, joints = final_grasp(state)
    assert 90 - 0.5 <= uv[0] <= 130 - 0.5 and 50 - 0.5 <= uv[1] <= 80 - 0.5
    assert rpy.shape == (3,) and joints.shape == (4,)
    picture = draw_zoom(depth, state.boxes, uv, min_side=240)
    assert picture.dtype == np.uint8 and picture.shape == (240, 320, 3)
    with pytest.raises(ValueError, match="inside"):
        ZoomState(depth, start_box=(150, 0, 20, 20))
    with pytest.raises(ValueError, match="inside"):
        ZoomState(depth, start_box=(0, 0, 0, 20))


def test_a_depth_image_unlike_the_trained_camera_is_named():
    assert view_mismatch((160, 160), (160, 160)) is None
    same_view = view_mismatch((320, 320), (160, 160))
    assert "320x320" in same_view and "scaled" in same_view
    wider = view_mismatch((480, 640), (160, 160))
    assert "640x480" in wider and "aspect ratio" in wider and "normalize_view" in wider
