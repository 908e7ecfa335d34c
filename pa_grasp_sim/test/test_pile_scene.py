"""The pile layout (VGN's clutter-removal scenes): real PyBullet, small and fast."""

import itertools

import numpy as np
import pytest

from pa_grasp_sim.objects import load_object_set
from pa_grasp_sim.scene import SceneConfig, build_scene
from pa_grasp_sim.world import GraspWorld, WorldConfig


def _world(layout: str, objects: str = "novel") -> GraspWorld:
    return GraspWorld(WorldConfig(scene=SceneConfig(layout=layout)), objects, seed=0)


def _mean_pairwise_xy(world: GraspWorld) -> float:
    xy = [p[:2] for p in world.object_positions().values()]
    return float(np.mean([np.linalg.norm(a - b) for a, b in itertools.combinations(xy, 2)])) if len(xy) > 1 else 0.0


def test_scattered_stays_the_default_layout():
    assert SceneConfig().layout == "scattered" and WorldConfig().scene.layout == "scattered"


def test_a_pile_of_5_is_more_compact_than_a_scattered_scene_of_5():
    """Same seeds, so the same 5 objects: dropped into the box and released, they end closer
    together than dropped over the clutter square (averaged over scenes: a fall from the pile can
    throw one object far)."""
    spread = {}
    for layout in ("scattered", "pile"):
        with _world(layout) as world:
            values = []
            for seed in range(10):
                world.reset(5, seed=seed)
                values.append(_mean_pairwise_xy(world))
            spread[layout] = np.mean(values)
    assert spread["pile"] < 0.9 * spread["scattered"], spread


def test_the_walls_are_gone_and_the_same_seed_gives_the_same_pile():
    with _world("pile", "seen") as world:
        first = world.reset(5, seed=4)
        poses = [world.client.getBasePositionAndOrientation(p.body) for p in first]
        bodies = {world.client.getBodyUniqueId(i) for i in range(world.client.getNumBodies())}
        assert bodies == {world.table, world.robot} | {p.body for p in first}, "only table, hand and objects remain"
        assert 3 <= len(first) <= 5
        for p in first:  # at rest on the table, in the workspace
            assert -0.01 < p.rest_position[2] < 0.3
            assert np.max(np.abs(p.rest_position[:2])) <= world.config.scene.workspace_half_extent_m
        world.reset(5, seed=5)
        again = world.reset(5, seed=4)
        assert [p.spec.name for p in again] == [p.spec.name for p in first]
        assert [world.client.getBasePositionAndOrientation(p.body) for p in again] == poses


def test_an_unknown_layout_is_a_clear_value_error():
    known = "unknown scene layout 'heap'; known: scattered, pile"
    with _world("heap") as world, pytest.raises(ValueError, match=known):
        world.reset(5, seed=0)
    config = SceneConfig(layout="pile", pile_box_inner_m=0.5)
    with GraspWorld(WorldConfig(), "seen", seed=0) as world, pytest.raises(ValueError, match="clutter square"):
        build_scene(world.client, load_object_set("seen"), 5, np.random.default_rng(0), config)
