"""The privileged teacher: its candidates, its search in a real PyBullet world, and the
demonstrations it collects."""

import math

import numpy as np
import pytest

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.env import SceneSampler
from pa_grasp_sim.objects import ObjectSet, ObjectSpec
from pa_grasp_sim.teacher import (
    TeacherConfig,
    candidate_grasps,
    collect_demonstrations,
    find_grasp,
    perturbed,
    wrap_half_turn,
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


def test_candidates_are_top_down_parallel_grasps_on_the_object():
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=1)
        depth = world.render_depth()
        candidates = candidate_grasps(depth, world, TeacherConfig())
        assert len(candidates) == 2  # one object, two yaws
        for c in candidates:
            assert c.pitch == pytest.approx(math.pi / 2) and c.spread == 0.0 and c.fingers == (0, 0, 0)
            assert -math.pi / 2 <= c.yaw < math.pi / 2
            assert np.isfinite(depth[int(c.v), int(c.u)])
        first, second = candidates
        assert (first.u, first.v) == (second.u, second.v)
        assert math.isclose(abs(wrap_half_turn(first.yaw - second.yaw)), math.pi / 2, abs_tol=1e-6)


def test_found_grasp_lifts_and_replays_from_the_untouched_scene():
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=2)
        snapshot = world.snapshot()
        depth = world.render_depth()
        found = find_grasp(world, depth, TeacherConfig())
        assert found is not None, "a lying box is the easiest object there is"
        command, outcome = found
        assert outcome.success and outcome.lifted_objects
        # The demonstration is what it claims: executed again on the same scene, it lifts again.
        world.restore(snapshot)
        assert world.execute(command, depth).success


def test_no_lifting_candidate_leaves_the_scene_untouched():
    # Only yaws along the box's long axis (fingers closing on 12 cm: wider than the grip).
    with GraspWorld(WorldConfig(), ObjectSet("one", [LONG_BOX]), seed=0) as world:
        world.reset(1, seed=2)
        depth = world.render_depth()
        narrow = candidate_grasps(depth, world, TeacherConfig())[0]
        along = TeacherConfig(yaw_offsets=(math.pi / 2,))
        before = {b: p.round(3) for b, p in world.object_positions().items()}
        result = find_grasp(world, depth, along)
        if result is None:
            after = {b: p.round(3) for b, p in world.object_positions().items()}
            assert before.keys() == after.keys()
            assert all(np.allclose(before[b], after[b], atol=2e-3) for b in before)
        else:  # the along-axis grip worked after all: it must then differ from the narrow one
            assert not math.isclose(result[0].yaw, narrow.yaw)


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
        assert d.depth.shape == (world.camera.intrinsics.height, world.camera.intrinsics.width)
        assert np.isfinite(d.depth[int(d.command.v), int(d.command.u)])
        d.command.validate()
