"""The clutter-clearing protocol in the simulator (like the paper's real-world test with 10
objects, and VGN/GIGA's simulated benchmark).

A round: drop N objects (scattered over the clutter square, or a VGN-style pile: the world's
``SceneConfig.layout``), then grasp until the stopping rules of ``metrics.stop_reason`` end it
(cleared, two failures in a row, or 2 x N attempts). After a success the lifted object is
taken out (``world.remove_lifted``, the robot drops it in a bin); after a failure the scene
stays as the failed grasp left it. The robot is parked out of the camera's view before every
picture. Scene seeds depend only on (objects in the scene, seed index, round index), so every
row is measured on the same scenes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pa_grasp_policy.evaluation.report.metrics import ClutterRound, max_attempts_for, stop_reason, summarize_clutter
from pa_grasp_sim.world import GraspWorld

CLUTTER_SEED_BASE = 3_000_000


def round_seed(n_objects: int, seed_index: int, round_index: int) -> int:
    return int(np.random.default_rng([CLUTTER_SEED_BASE, n_objects, seed_index, round_index]).integers(2**31))


def run_clutter_round(
    world: GraspWorld,
    choose,
    n_objects: int,
    scene_seed: int,
    max_attempts: int,
    max_consecutive_failures: int = 2,
    rng: np.random.Generator | None = None,
) -> tuple[ClutterRound, list[str]]:
    """One round on a fresh scene. Returns the round and the failure reason of every failed attempt."""
    rng = rng if rng is not None else np.random.default_rng(scene_seed)
    world.reset(n_objects, seed=scene_seed)
    presented = len(world.objects)
    removed: list[int] = []
    failures: list[str] = []
    while (reason := stop_reason(removed, presented, max_attempts, max_consecutive_failures)) is None:
        world.park_robot()
        depth = world.render_depth(rng)
        outcome = world.execute(choose(depth, world, rng), depth)
        if outcome.success:
            count = len(outcome.lifted_objects)
            world.remove_lifted(outcome)
        else:
            count = 0
            failures.append(outcome.reason.split(" with ")[0])
        removed.append(count)
    return ClutterRound(presented, removed, reason), failures


def run_clutter(
    world: GraspWorld,
    choose,
    n_objects: int,
    rounds: int,
    seeds: int,
    step_factor: float = 2.0,
    max_consecutive_failures: int = 2,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict:
    """``rounds`` rounds split over ``seeds`` seeds; the summary of ``metrics.summarize_clutter``
    plus the rounds and failure reasons. progress(done_rounds, rounds, declutter_so_far)."""
    if rounds < 1 or seeds < 1:
        raise ValueError("rounds and seeds must be at least 1")
    max_attempts = max_attempts_for(n_objects, step_factor)
    per_seed: list[list[ClutterRound]] = []
    failures: dict[str, int] = {}
    done, removed, presented = 0, 0, 0
    for s, chunk in enumerate(np.array_split(np.arange(rounds), min(seeds, rounds))):
        rounds_here = []
        for i in chunk:
            seed = round_seed(n_objects, s, int(i))
            rng = np.random.default_rng([seed, 1])
            rnd, fails = run_clutter_round(world, choose, n_objects, seed, max_attempts, max_consecutive_failures, rng)
            rounds_here.append(rnd)
            for f in fails:
                failures[f] = failures.get(f, 0) + 1
            done += 1
            removed += rnd.removed
            presented += rnd.presented
            if progress is not None:
                progress(done, rounds, removed / max(presented, 1))
        per_seed.append(rounds_here)
    summary = summarize_clutter(per_seed)
    summary.update(
        n_objects=n_objects,
        layout=world.config.scene.layout,
        max_attempts=max_attempts,
        max_consecutive_failures=max_consecutive_failures,
        failure_reasons=failures,
        rounds_detail=[[r.to_dict() for r in s] for s in per_seed],
    )
    return summary
