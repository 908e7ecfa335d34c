"""Scenes, object sets, camera, env and bad input: real PyBullet, small and fast."""

import math

import numpy as np
import pytest

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.baselines import heuristic_grasp, random_grasp
from pa_grasp_sim.camera import CameraConfig
from pa_grasp_sim.objects import ObjectSetError, load_object_set
from pa_grasp_sim.world import GraspWorld, WorldConfig

CUBE_OBJ = """o cube
v -1 -1 -1
v 1 -1 -1
v 1 1 -1
v -1 1 -1
v -1 -1 1
v 1 -1 1
v 1 1 1
v -1 1 1
f 1 2 3 4
f 5 6 7 8
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
"""


@pytest.fixture(scope="module")
def world():
    with GraspWorld(WorldConfig(), "seen", seed=0) as w:
        yield w


def test_seen_and_novel_sets_are_disjoint():
    seen, novel = load_object_set("seen"), load_object_set("novel")
    assert len(seen.objects) > 50 and len(novel.objects) > 30
    assert seen.names.isdisjoint(novel.names)
    # Disjoint in content too, not just in names: no random_urdf file is in both.
    assert {o.path for o in seen.objects if o.path}.isdisjoint({o.path for o in novel.objects if o.path})


def test_same_seed_gives_identical_scene(world):
    world.reset(6, seed=42)
    first = {b: p.round(6) for b, p in world.object_positions().items()}
    depth_first = world.render_depth(np.random.default_rng(0))
    world.reset(6, seed=7)
    other = world.render_depth(np.random.default_rng(0))
    world.reset(6, seed=42)
    again = {b: p.round(6) for b, p in world.object_positions().items()}
    depth_again = world.render_depth(np.random.default_rng(0))
    assert [tuple(v) for v in first.values()] == [tuple(v) for v in again.values()]
    assert np.array_equal(depth_first, depth_again, equal_nan=True)
    assert not np.array_equal(depth_first, other, equal_nan=True)


def test_cluttered_scene_settles_objects_on_the_table(world):
    placed = world.reset(12, seed=3)
    assert 8 <= len(placed) <= 12
    for p in placed:
        assert -0.01 < p.rest_position[2] < 0.3
        assert np.max(np.abs(p.rest_position[:2])) <= world.config.scene.workspace_half_extent_m


def test_snapshot_restore_rebuilds_the_scene(world):
    world.reset(8, seed=11)
    snap = world.snapshot()
    before = world.render_depth(np.random.default_rng(0))
    world.reset(1, seed=1)
    world.restore(snap)
    after = world.render_depth(np.random.default_rng(0))
    close = np.abs(np.nan_to_num(before) - np.nan_to_num(after)) < 0.005
    assert close.mean() > 0.98


URDF_OF_MESH = """<?xml version="1.0"?>
<robot name="far">
  <link name="base">
    <inertial><mass value="0.1"/><inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>
    <visual><geometry><mesh filename="{mesh}"/></geometry></visual>
    <collision><geometry><mesh filename="{mesh}"/></geometry></collision>
  </link>
</robot>
"""


def test_user_directory_of_obj_files_loads(tmp_path):
    (tmp_path / "cube.obj").write_text(CUBE_OBJ)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cube2.obj").write_text(CUBE_OBJ)
    objects = load_object_set(str(tmp_path))
    assert len(objects.objects) == 2
    with GraspWorld(WorldConfig(), objects, seed=0) as w:
        placed = w.reset(1, seed=0)
        aabb_min, aabb_max = w.client.getAABB(placed[0].body)
        extent = max(np.subtract(aabb_max, aabb_min))
        # A 0.1 m cube in a random orientation: its AABB side lies between 0.1 and 0.1 * sqrt(3).
        assert 0.095 < extent < 0.18, "meshes are scaled to a graspable size (0.1 m)"
        assert objects.objects[0].scale == pytest.approx(0.05)


def test_unreadable_or_missing_objects_give_clear_errors(tmp_path):
    with pytest.raises(ObjectSetError, match="does not exist"):
        load_object_set(str(tmp_path / "nope"))
    with pytest.raises(ObjectSetError, match="no .urdf or .obj"):
        load_object_set(str(tmp_path))
    (tmp_path / "broken.obj").write_text("v 0 0 0\nthis is not a mesh\n")
    with pytest.raises(ObjectSetError, match="vertices"):
        load_object_set(str(tmp_path))


@pytest.mark.parametrize("with_urdf", [False, True])
def test_an_object_far_from_its_origin_is_refused_naming_its_file(tmp_path, with_urdf):
    """A cube 1e9 units from its own origin, scaled (a mesh) or not (in a URDF): no tabletop object
    is shaped like that; the error names the file instead of failing later in the physics."""
    lines = [
        "v " + " ".join(str(float(c) + 1e9) for c in line.split()[1:]) if line.startswith("v ") else line
        for line in CUBE_OBJ.splitlines()
    ]
    (tmp_path / "far.obj").write_text("\n".join(lines) + "\n")
    if with_urdf:
        (tmp_path / "far.urdf").write_text(URDF_OF_MESH.format(mesh="far.obj"))
    with GraspWorld(WorldConfig(), load_object_set(str(tmp_path)), seed=0) as w:
        for seed in range(3):  # with the URDF: either file may be drawn
            with pytest.raises(ObjectSetError, match=r"'[^']*far\.(obj|urdf)' reaches .* from its origin"):
                w.reset(1, seed=seed)


def test_bad_grasp_input_fails_cleanly(world):
    world.reset(1, seed=0)
    depth = world.render_depth()
    h, w = depth.shape
    outside = world.execute(GraspCommand(w + 5, 3), depth)
    assert not outside.success and "outside the image" in outside.reason
    holed = depth.copy()
    holed[10, 10] = np.nan
    no_depth = world.execute(GraspCommand(10, 10), holed)
    assert not no_depth.success and "no valid depth" in no_depth.reason
    bad_joints = world.execute(GraspCommand(w / 2, h / 2, fingers=(0.1, 3.0, 0.1)), depth)
    assert not bad_joints.success and "finger" in bad_joints.reason
    nan_angle = world.execute(GraspCommand(w / 2, h / 2, yaw=math.nan), depth)
    assert not nan_angle.success and "non-finite" in nan_angle.reason
    wrong_shape = world.execute(GraspCommand(3, 3), depth[:10])
    assert not wrong_shape.success and "depth image" in wrong_shape.reason
    # The world still works after all that: a sensible grasp runs the whole physical sequence.
    good = world.execute(heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera), depth)
    assert good.sim_steps > 100


def test_camera_depth_is_metric_and_noise_model_drops_edges():
    config = WorldConfig(camera=CameraConfig(noise=True, edge_dropout_prob=1.0))
    with GraspWorld(config, "seen", seed=0) as w:
        w.reset(3, seed=5)
        clean = w.camera.render(None)
        noisy = w.render_depth(np.random.default_rng(0))
    table = np.nanmax(clean)
    assert table == pytest.approx(0.75, abs=0.01), "top-down camera 0.75 m above the table"
    assert np.isnan(noisy).sum() > np.isnan(clean).sum(), "shadows at depth edges"
    both = np.isfinite(noisy) & np.isfinite(clean)
    err = np.abs(noisy[both] - clean[both])
    assert 0.0005 < err.mean() < 0.01


def test_driver_frames_are_16uc1_millimetres_and_32fc1_metres(world):
    from pa_grasp_perception.depth import decode_depth

    world.reset(2, seed=4)
    metres = world.camera.render(None)
    h, w = metres.shape
    data, step, enc = world.camera.render_driver_frame("16UC1")
    assert step == 2 * w and len(data) == step * h
    mm = np.frombuffer(data, dtype="<u2").reshape(h, w)
    valid = np.isfinite(metres)
    assert np.all(mm[~valid] == 0)
    assert np.abs(mm[valid] / 1000.0 - metres[valid]).max() <= 0.0005  # quantised to 1 mm
    data32, step32, _ = world.camera.render_driver_frame("32FC1")
    back = decode_depth(data32, w, h, step32, "32FC1")
    assert np.array_equal(back, metres, equal_nan=True)


def test_tilted_camera_sees_the_table_at_60_degrees():
    config = WorldConfig(camera=CameraConfig(view_angle_deg=60.0))
    with GraspWorld(config, "seen", seed=0) as w:
        w.reset(1, seed=0)
        depth = w.render_depth()
        T = w.camera.T_world_camera
        optical_axis = T[:3, 2]
        assert math.degrees(math.asin(-optical_axis[2])) == pytest.approx(60.0, abs=0.1)
        c = depth.shape[0] // 2
        centre = w.camera.pixel_to_world(c, c, float(depth[c, c]))
        assert abs(centre[2]) < 0.1 and np.linalg.norm(centre[:2]) < 0.1


def test_baselines_give_valid_commands(world):
    world.reset(5, seed=9)
    depth = world.render_depth()
    rng = np.random.default_rng(0)
    for _ in range(5):
        random_grasp(depth, rng).validate()
    heuristic = heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)
    heuristic.validate()
    assert np.isfinite(depth[int(heuristic.v), int(heuristic.u)])


# The action space is the grasp in its own units (pixel, radians, joint angles), on purpose:
# the checker's advice to normalise it to [-1, 1] is for generic RL libraries, not an error.
@pytest.mark.filterwarnings("ignore:.*we recommend using a symmetric and normalized space")
def test_gym_env_passes_the_checker():
    from gymnasium.utils.env_checker import check_env

    from pa_grasp_sim.env import GraspEnv

    env = GraspEnv()
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0, options={"object_count": 1})
    _, reward, terminated, truncated, step_info = env.step(env.action_space.sample())
    assert terminated and not truncated and reward in (0.0, 1.0) and "success" in step_info
    env.close()


@pytest.mark.parametrize("view_angle_deg", [90.0, 60.0])
def test_rendered_objects_deproject_to_where_they_are(view_angle_deg):
    """The rendered image obeys the intrinsics the whole stack deprojects with: the top face of
    a box seen at 20 places deprojects around its true centre. (The renderer once sat half a
    pixel off in u and v, 1.8 mm on the table, which every grasp and the depth twin inherited.)"""
    config = WorldConfig(camera=CameraConfig(view_angle_deg=view_angle_deg))
    with GraspWorld(config, "seen", seed=0) as w:
        c = w.client
        box = c.createMultiBody(0, c.createCollisionShape(c.GEOM_BOX, halfExtents=[0.05, 0.035, 0.01]), -1)
        rng = np.random.default_rng(0)
        offsets = []
        for _ in range(20):
            centre = np.array([*rng.uniform(-0.05, 0.05, size=2), 0.01])
            c.resetBasePositionAndOrientation(box, centre.tolist(), [0, 0, 0, 1])
            depth = w.camera.render(None)
            v, u = np.nonzero(np.isfinite(depth))
            points = np.array([w.camera.pixel_to_world(a, b, float(depth[b, a])) for a, b in zip(u, v)])
            top = points[np.abs(points[:, 2] - 0.02) < 0.003]  # the box's top face
            offsets.append(0.5 * (top[:, :2].min(0) + top[:, :2].max(0)) - centre[:2])
        mean = np.mean(offsets, axis=0)
        # Half a pixel is 1.8 mm on the table; the 60-degree camera's longer pixels leave ~0.8 mm
        # of edge bias in the face's min/max, so the bound is 1 mm.
        assert np.all(np.abs(mean) < 0.001), f"rendered scene off its intrinsics by {mean * 1000} mm"
