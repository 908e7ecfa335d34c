"""The privileged teacher: its candidates, its search in a real PyBullet world, and the
demonstrations it collects."""

import math

import numpy as np
import pytest

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.baselines import object_tops
from pa_grasp_sim.env import SceneSampler
from pa_grasp_sim.objects import ObjectSet, ObjectSpec, load_object_set
from pa_grasp_sim.teacher import (
    GRASP_KINDS,
    TeacherConfig,
    candidate_grasps,
    canonical,
    collect_demonstrations,
    find_grasp,
    grasp_of_kind,
    perturbed,
    wrap_half_turn,
    zoom_scales,
)
from pa_grasp_sim.world import GraspWorld, WorldConfig

IDENTITY = (0.0, 0.0, 0.0, 1.0)
# An elongated box: 12 cm long in x, 5 cm wide, 6 cm tall. Lying at rest its long side is x.
LONG_BOX = ObjectSpec(
    "long_box", "primitive", mass=0.2, parts=(("box", (0.06, 0.025, 0.03), (0, 0, 0), IDENTITY),), extent=0.12
)


@pytest.mark.parametrize("angle", [-3.0, -math.pi / 2, -0.2, 0.0, 1.0, math.pi / 2, 3.0, 7.0])
def test_wrap_half_turn_keeps_the_grip_axis(angle):
    w = wrap_half_turn(angle)
    assert -math.pi / 2 <= w < math.pi / 2
    assert math.isclose(math.cos(2 * w), math.cos(2 * angle), abs_tol=1e-9)  # same axis, mod pi


def test_candidates_are_each_kind_on_the_object():
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=1)
        depth = world.render_depth()
        candidates = dict(candidate_grasps(depth, world, TeacherConfig()))
        # A solid top has no rim: every other kind, once (one object).
        assert set(candidates) == set(GRASP_KINDS) - {"rim"}
        for c in candidates.values():
            assert -math.pi / 2 <= c.yaw < math.pi / 2
            assert np.isfinite(depth[int(c.v), int(c.u)])
            c.validate()
        parallel, long = candidates["parallel"], candidates["parallel_long"]
        assert parallel.pitch == pytest.approx(math.pi / 2) and parallel.spread == 0.0 and parallel.fingers == (0, 0, 0)
        assert math.isclose(abs(wrap_half_turn(parallel.yaw - long.yaw)), math.pi / 2, abs_tol=1e-6)
        assert candidates["tripod"].spread > 0.5
        tilt = abs(candidates["tilted"].pitch - math.pi / 2)
        assert tilt == pytest.approx(math.radians(30))


def test_a_bowl_top_is_a_rim_and_its_grip_closes_across_the_wall():
    bowl = next(o for o in load_object_set("seen").objects if o.family == "bowl")
    with GraspWorld(WorldConfig(), ObjectSet("bowl", [bowl]), seed=0) as world:
        for seed in range(8):
            world.reset(1, seed=seed)
            depth = world.render_depth()
            top = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)[0]
            rim = grasp_of_kind("rim", top, world, depth)
            if rim is None:  # upside down: a dome, no rim
                continue
            # Palm x (the closing direction, -Rz(yaw) x at pitch pi/2) is radial: along centre -> edge.
            assert math.hypot(top.u - top.centre_u, top.v - top.centre_v) > 1.0
            d = float(depth[int(round(top.v)), int(round(top.u))])
            edge = world.camera.pixel_to_world(top.u, top.v, d)[:2]
            centre = world.camera.pixel_to_world(top.centre_u, top.centre_v, d)[:2]
            radial = (edge - centre) / np.linalg.norm(edge - centre)
            closing = -np.array([math.cos(rim.yaw), math.sin(rim.yaw)])
            assert abs(float(radial @ closing)) > 0.999  # along the radius (either way: a half turn)
            return
    pytest.fail("no seed left the bowl upright")


def test_canonical_grasp_keeps_the_approach_direction():
    for yaw in (-3.0, -1.0, 0.5, 2.0, 4.0):
        c = GraspCommand(10, 10, pitch=1.0, yaw=yaw)
        k = canonical(c)
        assert -math.pi / 2 <= k.yaw < math.pi / 2

        def approach(g):
            return np.array(
                [math.cos(g.pitch) * math.cos(g.yaw), math.cos(g.pitch) * math.sin(g.yaw), -math.sin(g.pitch)]
            )

        assert np.allclose(approach(k), approach(c), atol=1e-9)


def test_found_grasp_lifts_robustly_and_replays_from_the_untouched_scene():
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=2)
        snapshot = world.snapshot()
        depth = world.render_depth()
        choice = find_grasp(world, depth, TeacherConfig())
        assert choice is not None, "a lying box is the easiest object there is"
        assert choice.outcome.success and choice.outcome.lifted_objects
        assert choice.kind in GRASP_KINDS and 0 < choice.robustness <= 1
        # The demonstration is what it claims: executed again on the same scene, it lifts again.
        world.restore(snapshot)
        assert world.execute(choice.command, depth).success


def test_no_lifting_candidate_leaves_the_scene_untouched():
    # Only the grip along the box's long axis (fingers closing on 12 cm: wider than the grip).
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=2)
        depth = world.render_depth()
        before = {b: p.round(3) for b, p in world.object_positions().items()}
        result = find_grasp(world, depth, TeacherConfig(kinds=("parallel_long",)))
        if result is None:
            after = {b: p.round(3) for b, p in world.object_positions().items()}
            assert before.keys() == after.keys()
            assert all(np.allclose(before[b], after[b], atol=2e-3) for b in before)
        else:  # the along-axis grip worked after all
            assert result.kind == "parallel_long"


def test_demonstrated_zoom_closes_in_on_the_object_more_steps_among_neighbours():
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=1)
        depth = world.render_depth()
        parallel = dict(candidate_grasps(depth, world, TeacherConfig()))["parallel"]
        alone = zoom_scales(depth, world, parallel, TeacherConfig())
        assert 1 <= len(alone) <= 2 and all(0.25 <= s < 1 for s in alone)
        crop = 160 * math.prod(alone)  # the last box holds the object with room around it
        top = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)[0]
        assert 2 * top.radius_px < crop <= 3.01 * max(top.radius_px, 1)
        # A second box right beside it: attention needs one more step to the same box.
        crowded = depth.copy()
        u, v = int(parallel.u), int(parallel.v)
        crowded[v + 17 : v + 24, u + 17 : u + 24] = np.nanmin(depth) + 0.02  # 28 px away, inside the last box
        near = zoom_scales(crowded, world, parallel, TeacherConfig())
        assert len(near) == len(alone) + 1


def test_perturbed_grasp_stays_in_the_image_and_in_the_yaw_range():
    g = GraspCommand(1.0, 158.5, yaw=1.5)
    p = perturbed(g, (-2.0, 2.0, 0.3), (160, 160))
    assert (p.u, p.v) == (0.0, 159.0)
    assert -math.pi / 2 <= p.yaw < math.pi / 2 and math.isclose(p.yaw, 1.8 - math.pi)
    assert (p.roll, p.pitch, p.spread, p.fingers) == (g.roll, g.pitch, g.spread, g.fingers)


def test_collect_takes_several_demonstrations_from_one_cluttered_scene():
    with GraspWorld(WorldConfig(), "seen", seed=0) as world:
        demos, decisions = collect_demonstrations(
            world, 3, SceneSampler(single_probability=0.0, min_objects=6, max_objects=6), np.random.default_rng(0)
        )
    assert len(demos) == 3 and decisions >= 3
    counts = [d.object_count for d in demos]
    assert all(1 <= c <= 6 for c in counts), counts  # objects that roll off the table are removed
    # A pick removes its object and the teacher looks at the same scene again.
    assert any(b == a - 1 for a, b in zip(counts, counts[1:])), counts
    for d in demos:
        assert d.kind in GRASP_KINDS and 0 < d.robustness <= 1
        assert all(0.25 <= z < 1 for z in d.zoom_scales) and len(d.zoom_scales) <= 4
        assert d.depth.shape == (world.camera.intrinsics.height, world.camera.intrinsics.width)
        assert np.isfinite(d.depth[int(d.command.v), int(d.command.u)])
        d.command.validate()
