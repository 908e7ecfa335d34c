"""`pa-grasp-sim-bench`: simulation speed, in episodes per second on one core.

An episode = scene reset (drop + settle) + depth render + one heuristic grasp (approach, close,
lift, judge), as in training and evaluation. Single-object and 10-object scenes, floating hand
and TX60 arm mode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from pa_grasp_sim.baselines import heuristic_grasp
from pa_grasp_sim.world import GraspWorld, WorldConfig


def run_case(mode: str, object_count: int, episodes: int, seed: int) -> dict:
    world = GraspWorld(WorldConfig(mode=mode), "seen", seed=seed)
    successes, reset_s, grasp_s = 0, 0.0, 0.0
    start = time.perf_counter()
    for i in range(episodes):
        t0 = time.perf_counter()
        world.reset(object_count, seed=seed + i)
        depth = world.render_depth()
        t1 = time.perf_counter()
        outcome = world.execute(heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera), depth)
        t2 = time.perf_counter()
        successes += outcome.success
        reset_s += t1 - t0
        grasp_s += t2 - t1
    total = time.perf_counter() - start
    world.close()
    scene = "single" if object_count == 1 else f"cluttered_{object_count}"
    return {
        "scene": scene,
        "mode": mode,
        "episodes": episodes,
        "episodes_per_s": episodes / total,
        "reset_ms": 1000 * reset_s / episodes,
        "grasp_ms": 1000 * grasp_s / episodes,
        "heuristic_success_rate": successes / episodes,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--episodes", type=int, default=40, help="episodes per single-object case (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    cases = [
        ("floating", 1, args.episodes),
        ("floating", 10, max(2, args.episodes // 4)),
        ("arm", 1, max(2, args.episodes // 2)),
        ("arm", 10, max(2, args.episodes // 8)),
    ]
    results = []
    print(f"{'scene':<14}{'mode':<10}{'episodes':>9}{'ep/s':>8}{'reset ms':>10}{'grasp ms':>10}{'heuristic':>11}")
    for mode, count, episodes in cases:
        r = run_case(mode, count, episodes, args.seed)
        results.append(r)
        print(
            f"{r['scene']:<14}{r['mode']:<10}{r['episodes']:>9}{r['episodes_per_s']:>8.2f}{r['reset_ms']:>10.0f}"
            f"{r['grasp_ms']:>10.0f}{r['heuristic_success_rate']:>11.2f}",
            flush=True,
        )
    report = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "note": "one process, one core; episodes_per_s includes reset, render and grasp",
        "results": results,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0 if np.all([r["episodes_per_s"] > 0 for r in results]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
