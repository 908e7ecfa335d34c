"""The depth twin: built from a rendered depth image only, it has the object's size and place,
and grasps tried on it behave like grasps on the real object (real PyBullet worlds)."""

import math
import time

import numpy as np
import pytest

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_perception.table_objects import object_regions, table_points
from pa_grasp_sim.grasp_probe import with_small_errors
from pa_grasp_sim.objects import ObjectSet, ObjectSpec
from pa_grasp_sim.twin.depth_twin import DepthTwin, TwinBase, TwinConfig, convex_pieces
from pa_grasp_sim.twin.local_search import best_from_scores
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
    regions = object_regions(table_points(depth, intrinsics, T))
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
    """Three grasps on the box's twin: one 4 px off the box's middle, one on the empty table beside
    it, one over the middle (their scores differ; tests compare twins, not the numbers)."""
    _, intrinsics, T, position, _ = scene
    u, v = pixel_of(intrinsics, T, position)
    return (
        GraspCommand(u - 4.0, v, pitch=math.pi / 2),
        GraspCommand(10.0 if u > 80 else 150.0, 10.0, pitch=math.pi / 2),
        GraspCommand(u, v, pitch=math.pi / 2),
    )


class ScriptedTwin(TwinBase):
    """A twin whose executions lift as a table says (no physics): `lifts[command]` for each
    execution's grasp (the command itself and its SMALL_ERRORS copies), `parallel` at a time."""

    def __init__(self, lifts: dict, parallel: int = 1):
        self.config, self.lifts, self.parallel = TwinConfig(), lifts, parallel

    def _meshes(self, regions, folder):
        return []

    def _lift_many(self, meshes, jobs):
        return [self.lifts[command] for _, command in jobs]


def scripted(scene, rng, n: int, parallel: int = 1) -> tuple[ScriptedTwin, list[GraspCommand], np.ndarray]:
    """A scripted twin over `n` grasps on the box (some the same grasp twice) with random outcomes,
    and the full scores those outcomes give."""
    depth, intrinsics, T, position, _ = scene
    u, v = pixel_of(intrinsics, T, position)
    distinct = [GraspCommand(u + du, v, pitch=math.pi / 2) for du in range(-3, 4)]
    commands = [distinct[i] for i in rng.integers(len(distinct), size=n)]
    lifts = {}
    for command in commands:
        for copy in [command, *with_small_errors(command, depth.shape)]:
            lifts.setdefault(copy, bool(rng.random() < rng.choice([0.1, 0.5, 0.9])))
    twin = ScriptedTwin(lifts, parallel)
    return twin, commands, twin.scores(depth, intrinsics, T, commands)


@pytest.mark.parametrize("parallel", [1, 2])
def test_the_lazy_ranking_is_the_full_scores_order_with_no_more_executions(scene, parallel):
    """Whatever the outcomes (100 random tables): DepthTwin.ranking gives the order of the full
    scores (highest first, the earlier command among equals), trying no more than they do, and
    best_above(floor) answers what the full scores' argmax above the floor answers."""
    depth, intrinsics, T, _, _ = scene
    rng = np.random.default_rng(0)
    for _ in range(100):
        twin, commands, full = scripted(scene, rng, int(rng.integers(1, 9)), parallel)
        ranking = twin.ranking(depth, intrinsics, T, commands)
        order = [ranking.next_index() for _ in commands]
        assert ranking.next_index() is None, "every command ranked once"
        assert order == sorted(range(len(commands)), key=lambda i: (-full[i], i))
        assert ranking.executions <= 5 * len(commands)
        assert [ranking.score(i) for i in order[:1]] == pytest.approx([full[order[0]]])
        for floor in (-1.0, 0.0, 0.4, 0.6, 0.999, 1.0):
            assert twin.best_above(depth, intrinsics, T, commands, floor) == best_from_scores(full, floor)
        first = twin.ranking(depth, intrinsics, T, commands)
        first.next_index()
        assert first.executions <= ranking.executions


@pytest.mark.parametrize("parallel", [1, 2])
def test_out_of_time_the_ranking_goes_by_what_lifted_and_starts_no_batch(scene, parallel):
    """A deadline that passes during the k-th batch (30 random tables, random k): no batch starts
    after it, and the ranking is by the share of executions known to lift, the earlier command
    among equals (with nothing tried: the commands' own order); done in time, it is exact."""
    depth, intrinsics, T, _, _ = scene
    rng = np.random.default_rng(1)
    for _ in range(30):
        twin, commands, full = scripted(scene, rng, int(rng.integers(1, 9)), parallel)
        cut = int(rng.integers(0, 6))  # the batch during which the deadline passes (0: before any)
        deadline = time.monotonic() + (0.05 if cut else 0.0)
        started = []  # when each batch started

        def batch(cut=cut, deadline=deadline, started=started):
            started.append(time.monotonic())
            if len(started) == cut:
                time.sleep(max(0.0, deadline - time.monotonic()) + 0.001)

        ranking = twin.ranking(depth, intrinsics, T, commands, before_each=batch, deadline=deadline)
        order = [ranking.next_index() for _ in commands]
        assert all(t < deadline for t in started), "a batch started after the deadline"
        assert len(started) <= cut and ranking.executions <= parallel * len(started)
        if ranking.out_of_time:
            known = [ranking.known_score(i) for i in range(len(commands))]
            assert order == sorted(range(len(commands)), key=lambda i: (-known[i], i))
        else:  # it was done by the deadline: the exact ranking
            assert order == sorted(range(len(commands)), key=lambda i: (-full[i], i))


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
