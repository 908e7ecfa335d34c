"""Object families: per-family tallies of the evaluation, and family-weighted draws for training."""

import time

import numpy as np
import pytest

from pa_grasp_sim.baselines import heuristic_grasp, random_grasp
from pa_grasp_sim.objects import ObjectSpec, load_object_set
from pa_grasp_sim.protocol import NO_CHOICE, EvalConfig, EvalResult, NoChoiceError, evaluate
from pa_grasp_sim.world import GraspWorld, WorldConfig


def test_single_scenes_are_tallied_per_object_and_family_and_match_the_rate():
    def choose(depth, world, rng):
        return heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)

    result = evaluate(choose, EvalConfig(scene="single", objects="seen", attempts=6, seeds=2))
    for tallies in (result.per_object, result.per_family):
        assert sum(a for _, a in tallies.values()) == 6
        assert sum(s for s, _ in tallies.values()) == round(6 * result.success_rate)
        assert all(0 <= s <= a for s, a in tallies.values())
    families = {spec.name: spec.family for spec in load_object_set("seen").objects}
    assert set(result.per_family) == {families[name] for name in result.per_object}
    # every attempt's outcome, per seed in order, agrees with the per-seed rates
    assert [len(seed) for seed in result.per_attempt] == [3, 3]
    assert [sum(seed) / 3 for seed in result.per_attempt] == pytest.approx(result.per_seed)
    assert result.to_dict()["per_attempt"] == result.per_attempt


def test_the_result_tells_how_long_each_decision_took_and_what_was_chosen():
    def slow_heuristic(depth, world, rng):
        time.sleep(0.02)
        return heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)

    result = evaluate(slow_heuristic, EvalConfig(scene="single", objects="seen", attempts=4, seeds=2))
    assert 20.0 <= result.decision_ms < 2000.0  # the chooser's own time, not the grasp's simulation
    assert len(result.grasps) == 4
    for pitch, spread, fingers in result.grasps:  # the heuristic: top-down, parallel, fingers straight
        assert pitch == pytest.approx(90.0) and spread == 0.0 and fingers == 0.0
    assert result.to_dict()["decision_ms"] == result.decision_ms


def test_a_later_first_seed_plays_the_scenes_of_that_seed_and_no_others():
    def recorder(seen_depths):
        def choose(depth, world, rng):
            seen_depths.append(depth.copy())
            return heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)

        return choose

    protocol, later = [], []
    evaluate(recorder(protocol), EvalConfig(scene="single", attempts=4, seeds=2))
    result = evaluate(recorder(later), EvalConfig(scene="single", attempts=2, seeds=1, first_seed=1))
    assert result.attempts == 2 and len(result.per_seed) == 1
    # seed 1's two scenes are the protocol's last two; seed 0's are not among them
    assert all(np.array_equal(a, b) for a, b in zip(later, protocol[2:]))
    assert not any(np.array_equal(a, b) for a in later for b in protocol[:2])
    with pytest.raises(ValueError, match="first evaluation seed"):
        EvalConfig(first_seed=-1)


def test_on_failure_sees_each_failed_scene_as_it_was_before_the_grasp():
    def choose(depth, world, rng):
        return random_grasp(depth, rng)  # fails (almost) always: the pre-grasp pose hits the table

    changed_fraction = []

    def on_failure(world, depth, snapshot):
        world.restore(snapshot)
        changed_fraction.append(float((np.abs(world.render_depth() - depth) > 0.005).mean()))

    result = evaluate(choose, EvalConfig(scene="single", attempts=3, seeds=1), on_failure=on_failure)
    assert len(changed_fraction) == round(3 * (1 - result.success_rate)) > 0
    # the restored scene is the one the grasp was chosen on (a few object-edge pixels may differ)
    assert max(changed_fraction) < 0.01


def test_every_built_in_object_has_a_family():
    specs = load_object_set("seen").objects + load_object_set("novel").objects
    assert all(spec.family != spec.name for spec in specs)  # every built-in object has a named kind
    seen = {spec.family for spec in load_object_set("seen").objects}
    novel = {spec.family for spec in load_object_set("novel").objects}
    assert ObjectSpec("lonely", "primitive").family == "lonely"  # no kind given: a family of its own
    assert {"flat_box", "mug", "random_urdf"} <= seen
    assert {"plate", "capsule", "pybullet_mesh"} <= novel - seen


def test_families_are_listed_lowest_success_first():
    result = EvalResult(0.5, 0.0, 9, [0.5], {}, 0.0, per_family={"ball": [0, 2], "box": [3, 3], "cup": [1, 3]})
    assert result.families_by_success() == [("ball", 0, 2), ("cup", 1, 3), ("box", 3, 3)]
    assert EvalResult(1.0, 0.0, 1, [1.0], {}, 0.0).families_by_success() == []


def test_objects_are_drawn_uniformly_from_the_seeded_stream():
    objects = load_object_set("seen")
    plain = objects.sample(np.random.default_rng(3), 50)
    expected = np.random.default_rng(3).integers(0, len(objects.objects), size=50)
    assert [o.name for o in plain] == [objects.objects[i].name for i in expected]  # eval scenes unchanged


def test_other_grasp_kinds_lift_a_box_too_wide_for_a_top_down_grip():
    import math

    from pa_grasp_perception.grasp_command import GraspCommand
    from pa_grasp_sim.baselines import object_tops
    from pa_grasp_sim.grasp_probe import other_kinds
    from pa_grasp_sim.objects import ObjectSet

    def lifts(world, depth, snapshot, command) -> bool:
        world.restore(snapshot)
        return world.execute(command, depth).success

    # 13 x 10.8 x 9 cm: its narrow side is at the limit of the hand's top-down opening.
    wide = ObjectSpec("wide", "primitive", mass=0.3, parts=(("box", (0.065, 0.054, 0.045), (0, 0, 0), (0, 0, 0, 1)),))
    with GraspWorld(WorldConfig(), ObjectSet("one", [wide]), seed=0) as world:
        world.reset(1, seed=0)
        depth = world.render_depth()
        top = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)[0]
        across = GraspCommand(top.u, top.v, 0.0, math.pi / 2, top.yaw, 0.0, (0.0, 0.0, 0.0))  # top-down, spread 0
        snapshot = world.snapshot()
        assert not lifts(world, depth, snapshot, across)
        kinds = other_kinds(across)
        assert [name for name, _ in kinds] == ["turn90-tilt35-spread45", "turn90-tilt35-spread90", "spread90"]
        lifting = [name for name, command in kinds if lifts(world, depth, snapshot, command)]
        assert "turn90-tilt35-spread45" in lifting


def test_an_attempt_whose_chooser_cannot_choose_fails_and_the_run_goes_on():
    """A chooser that raises NoChoiceError (the planner lost its twin worker twice) fails that
    attempt with nothing executed; every attempt is still reported once."""
    calls = []

    def choose(depth, world, rng):
        calls.append(1)
        if len(calls) % 2:
            raise NoChoiceError("planning failed twice")
        return heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)

    result = evaluate(choose, EvalConfig(scene="single", attempts=4, seeds=2))
    assert len(calls) == 4 and [len(seed) for seed in result.per_attempt] == [2, 2]
    assert [seed[0] for seed in result.per_attempt] == [0, 0], "the attempts without a grasp failed"
    assert result.failure_reasons[NO_CHOICE] == 2
