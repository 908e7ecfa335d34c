"""GraspWorld.execute_pose: the pose path the ROS bridge uses is the same mechanism as execute()."""

import math

import numpy as np
import pytest

from pa_grasp_perception.grasp_command import GraspCommand, command_palm_pose
from pa_grasp_sim.objects import ObjectSet, ObjectSpec
from pa_grasp_sim.world import GraspWorld, WorldConfig

IDENTITY = (0.0, 0.0, 0.0, 1.0)
BOX = ObjectSpec(
    "test_box", "primitive", mass=0.2, parts=(("box", (0.03, 0.025, 0.04), (0, 0, 0), IDENTITY),), extent=0.08
)


def top_down_command(world: GraspWorld) -> GraspCommand:
    T_camera_world = np.linalg.inv(world.camera.T_world_camera)
    p = T_camera_world[:3, :3] @ world.objects[0].rest_position + T_camera_world[:3, 3]
    u, v = world.camera.intrinsics.point_to_pixel(p)
    return GraspCommand(float(round(u)), float(round(v)), 0.0, math.pi / 2, 0.0, 0.0, (0.0, 0.0, 0.0))


def test_execute_pose_reproduces_execute():
    with GraspWorld(WorldConfig(), ObjectSet("one", [BOX]), seed=0) as world:
        world.reset(1, seed=0)
        depth = world.render_depth()
        command = top_down_command(world)
        by_pixel = world.execute(command, depth)

        world.reset(1, seed=0)  # the same scene again, bit for bit
        surface = world.camera.pixel_to_world(command.u, command.v, float(depth[int(command.v), int(command.u)]))
        T = command_palm_pose(surface, command, world.config.execution.grasp_offset_m)
        by_pose = world.execute_pose(T, command.spread, command.fingers)
    assert by_pixel.success, by_pixel.reason
    assert (by_pose.success, by_pose.reason, by_pose.sim_steps) == (
        by_pixel.success,
        by_pixel.reason,
        by_pixel.sim_steps,
    )
    np.testing.assert_allclose(by_pose.T_world_palm, by_pixel.T_world_palm)
    np.testing.assert_allclose(by_pixel.surface_point, surface)


def test_execute_pose_rejects_bad_input_without_moving():
    with GraspWorld(WorldConfig(), ObjectSet("one", [BOX]), seed=0) as world:
        world.reset(1, seed=0)
        T = np.eye(4)
        T[:3, 3] = [0.0, 0.0, 0.1]
        bad_rotation = T.copy()
        bad_rotation[:3, :3] *= 2.0
        assert "rotation" in world.execute_pose(bad_rotation, 0.0, (0, 0, 0)).reason
        assert "finite" in world.execute_pose(np.full((4, 4), np.nan), 0.0, (0, 0, 0)).reason
        assert "spread" in world.execute_pose(T, 3.0, (0, 0, 0)).reason
        assert "finger" in world.execute_pose(T, 0.0, (0, 0.9, 0)).reason


@pytest.mark.parametrize("mode", ["floating", "arm"])
def test_park_robot_clears_the_view_after_a_pick(mode):
    with GraspWorld(WorldConfig(mode=mode), ObjectSet("one", [BOX]), seed=0) as world:
        world.reset(1, seed=0)
        depth = world.render_depth()
        outcome = world.execute(top_down_command(world), depth)
        assert outcome.success, outcome.reason
        world.remove_lifted(outcome)
        held_view = world.render_depth()
        world.park_robot()
        empty = world.render_depth()
    assert np.nanmin(held_view) < 0.7, "the hand holding the object is in view before parking"
    assert np.nanmin(empty) > 0.74, "after parking the camera sees the empty table only"
    assert world.objects == []
