"""Time the grasp planner per decision on the protocol's scenes, on this machine's CPU.

    python -m pa_grasp_policy.evaluation.bench [--scene single|cluttered] [--objects seen|novel|DIR]
        [--scenes 10] [--first-seed 0] [--threads 1] [planner flags: --views, --twin, --all-extras, ...]

Per scene (the first `--scenes` attempts of the evaluation protocol from `--first-seed`: the same
scenes and images pa-grasp-eval builds) one plan() of the planner as configured (the policy
alone by default), timed. Prints the median, mean and maximum seconds and the twin executions
run; nothing is executed in the scene. With no other job on the cores: every extra shares them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluation.eval_cli import add_planner_arguments, planner_config
from pa_grasp_policy.planner.planner import GraspPlanner
from pa_grasp_sim.protocol import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="policy checkpoint (default: the shipped model)")
    parser.add_argument("--scene", choices=["single", "cluttered"], default="single")
    parser.add_argument("--objects", default="seen", help="seen, novel or a directory of .urdf/.obj files")
    parser.add_argument("--scenes", type=int, default=10, help="protocol attempts to time (default 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="the protocol seed they come from (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as one goal uses)")
    add_planner_arguments(parser)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error("--scenes must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        config = planner_config(args)
    except ValueError as exc:
        parser.error(str(exc))
    torch.set_num_threads(args.threads)

    with GraspPlanner.load(args.checkpoint, config) as planner:
        world_cfg = planner.model.world_config()
        world = GraspWorld(world_cfg, args.objects, seed=EVAL_SEED_BASE)
        eval_config = EvalConfig(args.scene, args.objects, args.scenes, 1, args.first_seed, world=world_cfg)
        seconds, executions = [], []
        try:
            for n, attempt in enumerate(protocol_attempts(world, eval_config), start=1):
                ran = planner.twin.executions_run if planner.twin is not None else 0
                start = time.perf_counter()
                plan = planner.plan(attempt.depth, world.camera.intrinsics, world.camera.T_world_camera)
                seconds.append(time.perf_counter() - start)
                executions.append((planner.twin.executions_run if planner.twin is not None else 0) - ran)
                print(
                    f"scene {n}/{args.scenes} ({len(attempt.placed)} objects): {seconds[-1]:.2f} s,"
                    f" {executions[-1]} twin executions; {plan.summary}",
                    flush=True,
                )
        finally:
            world.close()
        described = planner.active.describe()

    results = {
        "planner": described,
        "scene": args.scene,
        "objects": args.objects,
        "scenes": args.scenes,
        "first_seed": args.first_seed,
        "torch_threads": args.threads,
        "twin_workers": args.twin_workers,
        "median_s": float(np.median(seconds)),
        "mean_s": float(np.mean(seconds)),
        "max_s": float(np.max(seconds)),
        "twin_executions": int(np.sum(executions)),
    }
    print(
        f"{described}: median {results['median_s']:.3f} s, mean {results['mean_s']:.3f} s, max {results['max_s']:.3f} s"
        f" per decision; {results['twin_executions']} twin executions"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
