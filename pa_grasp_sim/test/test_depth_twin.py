"""The depth twin: built from a rendered depth image only, it has the object's size and place,
and grasps tried on it behave like grasps on the real object (real PyBullet worlds)."""

import math

import numpy as np
import pytest

from pa_grasp_sim.depth_twin import DepthTwin, TwinConfig, convex_pieces, object_regions, table_points
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.objects import ObjectSet, ObjectSpec
from pa_grasp_sim.twin_local_search import best_from_scores
from pa_grasp_sim.world import GraspWorld, WorldConfig

IDENTITY = (0.0, 0.0, 0.0, 1.0)
BOX = ObjectSpec(
    "test_box", "primitive", mass=0.2, parts=(("box", (0.03, 0.025, 0.04), (0, 0, 0), IDENTITY),), extent=0.08
)


@pytest.fixture(scope="module")
def scene():
    """(depth, intrinsics, T_world_camera, box position, box AABB) of one box settled on the table."""
    with GraspWorld(WorldConfig(), ObjectSet("one", [BOX]), seed=0) as world:
        world.reset(1, seed=0)
        body = world.objects[0].body
        position = np.asarray(world.client.getBasePositionAndOrientation(body)[0])
        aabb = np.asarray(world.client.getAABB(body))
        yield world.render_depth(), world.camera.intrinsics, world.camera.T_world_camera.copy(), position, aabb


def pixel_of(intrinsics, T_world_camera, point) -> tuple[float, float]:
    T_camera_world = np.linalg.inv(T_world_camera)
    u, v = intrinsics.point_to_pixel(T_camera_world[:3, :3] @ np.asarray(point) + T_camera_world[:3, 3])
    return float(round(u)), float(round(v))


def test_the_twin_has_the_boxs_size_and_place(scene):
    depth, intrinsics, T, position, aabb = scene
    regions = object_regions(table_points(depth, intrinsics, T), TwinConfig())
    assert len(regions) == 1, "one box, one region"
    pieces = convex_pieces(regions[0], 0.005, 0.04)
    corners = np.concatenate(pieces)
    assert corners[:, 2].max() == pytest.approx(aabb[1, 2], abs=0.005), "as tall as the box"
    assert corners[:, 2].min() == 0.0, "standing on the table"
    # The footprint: the box's bounding box, to a cell (5 mm) and a pixel (~3.5 mm) each side.
    assert np.allclose(corners[:, :2].min(0), aabb[0, :2], atol=0.01)
    assert np.allclose(corners[:, :2].max(0), aabb[1, :2], atol=0.01)
    assert len(pieces) >= 4, "a box at least 5 cm wide in 4 cm tiles spans at least four pieces"


def test_a_grasp_on_the_box_lifts_its_twin_and_one_on_the_empty_table_does_not(scene):
    depth, intrinsics, T, position, _ = scene
    u, v = pixel_of(intrinsics, T, position)
    on_box = GraspCommand(u, v, pitch=math.pi / 2)
    beside = GraspCommand(10.0 if u > 80 else 150.0, 10.0, pitch=math.pi / 2)
    with DepthTwin(TwinConfig(executions=2)) as twin:
        scores = twin.scores(depth, intrinsics, T, [on_box, beside])
    assert scores[0] > 0.0, "a top-down grasp over the box's middle lifts its twin"
    assert scores[1] == 0.0, "nothing to lift on the empty table"


def test_invalid_depth_and_empty_tables_score_zero_and_bad_images_are_refused(scene):
    depth, intrinsics, T, position, _ = scene
    u, v = pixel_of(intrinsics, T, position)
    holed = depth.copy()
    holed[int(v), int(u)] = np.nan  # no depth at the grasp pixel: that execution cannot be tried
    with DepthTwin(TwinConfig(executions=1)) as twin:
        assert twin.scores(holed, intrinsics, T, [GraspCommand(u, v, pitch=math.pi / 2)])[0] == 0.0
        empty = np.full_like(depth, float(np.median(depth)))  # the table only
        assert twin.scores(empty, intrinsics, T, [GraspCommand(u, v, pitch=math.pi / 2)])[0] == 0.0
        with pytest.raises(ValueError, match="intrinsics say"):
            twin.scores(depth[:-1], intrinsics, T, [])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="tile_m"):
        TwinConfig(tile_m=0.001)
    with pytest.raises(ValueError, match="executions"):
        TwinConfig(executions=6)
    with pytest.raises(ValueError, match="reach_m"):
        TwinConfig(reach_m=0.0)


def test_only_objects_within_reach_of_the_grasp_are_built(scene):
    depth, intrinsics, T, position, _ = scene
    table = float(np.median(depth))
    box = depth < table - 0.005
    shift = 60 if np.flatnonzero(box.any(0)).max() + 60 < depth.shape[1] else -60  # ~0.22 m away
    two_boxes = depth.copy()
    two_boxes[np.roll(box, shift, axis=1)] = depth[box].min()
    u, v = pixel_of(intrinsics, T, position)
    grasp = [GraspCommand(u, v, pitch=math.pi / 2)]
    with DepthTwin(TwinConfig(executions=1, reach_m=0.1)) as twin:
        twin.scores(two_boxes, intrinsics, T, grasp)
        assert len(twin.world.objects) == 1, "the other box is out of reach: not built"
    with DepthTwin(TwinConfig(executions=1, reach_m=1.0)) as twin:
        twin.scores(two_boxes, intrinsics, T, grasp)
        assert len(twin.world.objects) == 2, "both within reach: one body each"


def test_mirror_under_gives_a_lying_cylinder_its_underside_and_leaves_a_box_on_the_table():
    """Points seen from above: a cylinder (radius 4 cm) lying along x, and a 3 cm tall box."""
    xs, ys = np.meshgrid(np.arange(-0.05, 0.05, 0.002), np.arange(-0.0395, 0.0395, 0.002))
    r = 0.04
    cylinder = np.c_[xs.ravel(), ys.ravel(), r + np.sqrt(r**2 - ys.ravel() ** 2)]
    box = np.c_[xs.ravel(), ys.ravel(), np.full(xs.size, 0.03)]

    def bottom_at(pieces, y):  # the lowest corner of the columns around y
        corners = np.concatenate(pieces)
        near = np.abs(corners[:, 1] - y) < 0.004
        return corners[near, 2].min()

    solid = convex_pieces(cylinder, 0.005, 0.04)
    mirrored = convex_pieces(cylinder, 0.005, 0.04, mirror_under=True)
    assert bottom_at(solid, 0.035) == 0.0, "by default the unseen underside is solid to the table"
    # Near the side (|y| 3.1-3.9 cm) the underside r - sqrt(r^2 - y^2) is 1.5-3 cm above the table
    # (a cell is as tall as its highest point, so its bottom is that of its innermost point).
    assert 0.0135 < bottom_at(mirrored, 0.035) < r - math.sqrt(r**2 - 0.039**2)
    assert bottom_at(mirrored, 0.0) == pytest.approx(0.0, abs=0.001), "it still rests on the table"
    assert np.concatenate(mirrored)[:, 2].max() == pytest.approx(2 * r, abs=1e-4)
    box_pieces = convex_pieces(box, 0.005, 0.04, mirror_under=True)
    assert np.concatenate(box_pieces)[:, 2].min() == 0.0 and all(p[:, 2].min() == 0.0 for p in box_pieces)


def unsure_beside_sure(scene) -> tuple[GraspCommand, GraspCommand, GraspCommand]:
    """Three grasps on the box's twin (the geared hand): one 4 px off the box's middle that lifts 2
    of its 5 executions, one on the empty table beside it (0 of 5), one over the middle that lifts
    5 of 5."""
    _, intrinsics, T, position, _ = scene
    u, v = pixel_of(intrinsics, T, position)
    return (
        GraspCommand(u - 4.0, v, pitch=math.pi / 2),
        GraspCommand(10.0 if u > 80 else 150.0, 10.0, pitch=math.pi / 2),
        GraspCommand(u, v, pitch=math.pi / 2),
    )


def test_the_ranking_is_the_order_of_the_full_scores_with_fewer_executions(scene):
    """DepthTwin.ranking gives the order the scores of every execution give (highest first, the
    earlier command among equals) while trying a command only as long as it could still outrank
    the best one found."""
    depth, intrinsics, T, _, _ = scene
    unsure, beside, sure = unsure_beside_sure(scene)
    commands = [unsure, beside, sure, unsure]
    with DepthTwin(TwinConfig()) as twin:
        scores = twin.scores(depth, intrinsics, T, commands)
        ranking = twin.ranking(depth, intrinsics, T, commands)
        first = ranking.next_index()
        executions_for_the_first = ranking.executions
        order = [first] + [ranking.next_index() for _ in commands[1:]]
        assert ranking.next_index() is None, "every command ranked once"
    assert list(scores) == [0.4, 0.0, 1.0, 0.4], "the premise"
    assert order == sorted(range(len(commands)), key=lambda i: (-scores[i], i)) == [2, 0, 3, 1]
    # unsure: all 5; beside: 3 (then 2 left cannot beat 2 lifts); sure: 5; the last cannot beat 5 of 5
    assert executions_for_the_first == 13
    assert [ranking.score(i) for i in range(len(commands))] == pytest.approx(scores)


def test_the_best_above_a_floor_is_the_full_scores_argmax_with_fewer_executions(scene):
    """DepthTwin.best_above (the local search's question: which change beats the grasp it would
    replace?) answers what the full scores answer, and stops trying a command once it cannot
    score above the floor."""
    unsure, beside, sure = unsure_beside_sure(scene)
    commands = [beside, unsure, sure, sure]
    depth, intrinsics, T, _, _ = scene
    with DepthTwin(TwinConfig()) as twin:
        scores = twin.scores(depth, intrinsics, T, commands)
        assert list(scores) == [0.0, 0.4, 1.0, 1.0], "the premise"
        for floor in (-1.0, 0.0, 0.4, 0.6, 0.999, 1.0):
            expected = best_from_scores(scores, floor)
            ranking = twin.ranking(depth, intrinsics, T, commands)
            best = ranking.best_above(floor)
            assert (best, ranking.score(best) if best is not None else None) == expected, floor
            assert twin.best_above(depth, intrinsics, T, commands, floor) == expected
            if floor == 0.6:
                # beside: 1 (4 left cannot pass 0.6), unsure: its 2nd miss in its 3rd execution
                # (then at most 3 of 5, not above 0.6), sure: 5, the second sure cannot beat the
                # first: 9 of the 20 executions
                assert ranking.executions == 1 + 3 + 5
            if floor == 1.0:  # nothing can score above 1: nothing is tried
                assert ranking.executions == 0


def test_the_ranking_runs_its_hook_before_each_execution_and_needs_none_on_an_empty_table(scene):
    depth, intrinsics, T, position, _ = scene
    u, v = pixel_of(intrinsics, T, position)
    commands = [GraspCommand(u, v, pitch=math.pi / 2), GraspCommand(u + 3.0, v, pitch=math.pi / 2)]

    class CanceledError(Exception):
        pass

    calls = []

    def cancel_on_the_second():
        calls.append(1)
        if len(calls) == 2:
            raise CanceledError

    with DepthTwin(TwinConfig(executions=2)) as twin:
        ranking = twin.ranking(depth, intrinsics, T, commands, before_each=cancel_on_the_second)
        with pytest.raises(CanceledError):
            ranking.next_index()
        assert ranking.executions == 1 and list(ranking.tried) == [1, 0], "stopped before the second execution"
        best = ranking.next_index()  # asked again, it goes on from where it stopped
        full = twin.scores(depth, intrinsics, T, commands)
        assert best == max(range(2), key=lambda i: (full[i], -i)) and ranking.tried[0] == 2
        empty = np.full_like(depth, float(np.median(depth)))  # the table only: nothing lifts
        on_table = twin.ranking(empty, intrinsics, T, commands)
        assert [on_table.next_index(), on_table.next_index(), on_table.next_index()] == [0, 1, None]
        assert on_table.executions == 0 and on_table.score(1) == 0.0
