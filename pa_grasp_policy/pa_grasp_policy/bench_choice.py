"""Benchmark the served choice of a grasp on the protocol's scenes, on this machine's CPU.

    python -m pa_grasp_policy.bench_choice [--scene single|cluttered] [--objects seen|novel|DIR]
        [--scenes 10] [--first-seed 0] [--no-full] [--twin-workers N] [--json FILE]

Per scene (the first `--scenes` attempts of the evaluation protocol from `--first-seed`, the same
scenes and images pa-grasp-eval builds): the four zoom loops and the turn selector, then the depth
twin's ranking as served (each grasp tried only as far as the choice needs,
DepthTwin.ranking), and, unless --no-full, every grasp's five twin executions as before
2026-12-06 (DepthTwin.scores), checking that both choose the same grasp. With --twin-workers N
the served ranking runs in N worker processes (twin_workers.TwinPool, as policy_node's
`twin_workers`), the full scores still in this process. Prints the median, mean and maximum
seconds of each, and the twin executions run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import load_policy, resolve_selector
from pa_grasp_policy.turn_selection import TWIN_TIE_WEIGHT, RankedTurns, select_among_turns
from pa_grasp_policy.zoom_env import result_to_command
from pa_grasp_sim.depth_twin import DepthTwin, TwinConfig
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.twin_workers import make_twin
from pa_grasp_sim.world import GraspWorld


def full_scores_choice(full: np.ndarray, selector_scores: np.ndarray) -> int:
    """The view the twin's full scores choose, the selector breaking ties (the rule before the ranking)."""
    ranks = np.empty(len(selector_scores))
    ranks[np.lexsort((-np.arange(len(selector_scores)), selector_scores))] = np.arange(len(selector_scores))
    return int(np.argmax(full + TWIN_TIE_WEIGHT * ranks / len(selector_scores)))


def summary(seconds: list[float]) -> dict:
    return {"median_s": float(np.median(seconds)), "mean_s": float(np.mean(seconds)), "max_s": float(np.max(seconds))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", choices=["single", "cluttered"], default="single")
    parser.add_argument("--objects", default="seen", help="seen, novel or a directory of .urdf/.obj files")
    parser.add_argument("--scenes", type=int, default=10, help="protocol attempts to time (default 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="the protocol seed they come from (default 0)")
    parser.add_argument("--no-full", action="store_true", help="skip the full twin scores (the old way)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as one goal uses)")
    parser.add_argument(
        "--twin-workers", type=int, default=0, help="rank in this many worker processes (default 0: in this one)"
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error("--scenes must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.twin_workers < 0:
        parser.error("--twin-workers must be 0 (in this process) or more")
    torch.set_num_threads(args.threads)

    policy, zoom_cfg, world_cfg = load_policy(None)
    selector = resolve_selector("shipped", policy, world_cfg.camera.view_angle_deg)
    if selector is None:
        print("bench_choice: the shipped model has no turn selector to serve with", file=sys.stderr)
        return 2
    config = EvalConfig(args.scene, args.objects, args.scenes, 1, args.first_seed, world=world_cfg)
    world = GraspWorld(world_cfg, args.objects, seed=EVAL_SEED_BASE)
    twin = DepthTwin(TwinConfig(), world_cfg)
    ranker = make_twin(args.twin_workers, world_cfg) if args.twin_workers else twin
    times = {"zoom_loops_and_selector": [], "twin_ranked": [], "twin_full": []}
    executions, same = [], 0
    try:
        for n, attempt in enumerate(protocol_attempts(world, config), start=1):
            depth, camera = attempt.depth, world.camera

            def twin_ranking(runs, depth=depth, camera=camera):
                commands = [result_to_command(r.result) for r in runs]
                return ranker.ranking(depth, camera.intrinsics, camera.T_world_camera, commands)

            start = time.perf_counter()
            by_selector = select_among_turns(depth, policy, zoom_cfg, selector)
            times["zoom_loops_and_selector"].append(time.perf_counter() - start)
            start = time.perf_counter()
            served = RankedTurns(by_selector.runs, by_selector.selector_scores, twin_ranking)
            times["twin_ranked"].append(time.perf_counter() - start)
            executions.append(int(served.twin_ranking.executions))
            line = (
                f"scene {n}/{args.scenes} ({len(attempt.placed)} objects): selector"
                f" {times['zoom_loops_and_selector'][-1]:.2f} s, twin ranked {times['twin_ranked'][-1]:.2f} s"
                f" ({executions[-1]} executions)"
            )
            if not args.no_full:
                commands = [result_to_command(r.result) for r in by_selector.runs]
                start = time.perf_counter()
                full = twin.scores(depth, camera.intrinsics, camera.T_world_camera, commands)
                times["twin_full"].append(time.perf_counter() - start)
                agree = full_scores_choice(full, by_selector.selector_scores) == served.runs.index(served.best)
                same += agree
                line += f", twin full {times['twin_full'][-1]:.2f} s ({len(commands) * twin.config.executions})"
                line += "" if agree else "  DIFFERENT CHOICE"
            print(line, flush=True)
    finally:
        ranker.close()
        twin.close()
        world.close()

    results = {
        "scene": args.scene,
        "objects": args.objects,
        "scenes": args.scenes,
        "first_seed": args.first_seed,
        "torch_threads": args.threads,
        "twin_workers": args.twin_workers,
        "twin_executions_ranked": int(np.sum(executions)),
    }
    for name, seconds in times.items():
        if seconds:
            results[name] = summary(seconds)
            s = results[name]
            print(f"{name:>24}: median {s['median_s']:.2f} s, mean {s['mean_s']:.2f} s, max {s['max_s']:.2f} s")
    if not args.no_full:
        results["twin_executions_full"] = args.scenes * 4 * TwinConfig().executions
        results["same_choice"] = same
        print(
            f"twin executions: {results['twin_executions_ranked']} ranked against {results['twin_executions_full']}"
            f" full; the same grasp chosen in {same} of {args.scenes} scenes"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if args.no_full or same == args.scenes else 1


if __name__ == "__main__":
    sys.exit(main())
