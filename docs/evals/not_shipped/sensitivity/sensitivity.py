"""Experiment kept with its results (not part of the package): how much does one grasp's outcome
in the simulator depend on errors far below what a real robot makes?

On the scenes of `pa-grasp-eval --first-seed S` (same seeds, same scenes, same depth images) the
deterministic policy's grasp is executed as the evaluation does, then the scene is restored from
its snapshot and the same grasp is executed again, and again with small errors: yaw ±2° and ±5°,
the grasp pixel moved 1 px (~4 mm at the table) along u or v. Reported: the policy's success,
how often each error flips the outcome, the share of scenes where any of them does, the success
with each error, and the success averaged over the errors.

    python docs/evals/not_shipped/sensitivity/sensitivity.py [--checkpoint C] [--attempts 200]
        [--seeds 5] [--first-seed 500] [--objects seen] [--solver-iterations N] [--json F]

--solver-iterations changes the physics (scenes then settle slightly differently): is the chaos
numerical? (The time step is left alone: settling and the hand's stall detection count steps.)
The JSONs here without a `solver_iterations` key were written at the default 50, before the
option existed.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace

import numpy as np
import torch

from pa_grasp_policy.evaluate import default_model_path, load_policy, policy_chooser, shown_path
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld

ERRORS = {
    "yaw +2deg": {"yaw": math.radians(2)},
    "yaw -2deg": {"yaw": -math.radians(2)},
    "yaw +5deg": {"yaw": math.radians(5)},
    "yaw -5deg": {"yaw": -math.radians(5)},
    "u +1px": {"u": 1.0},
    "u -1px": {"u": -1.0},
    "v +1px": {"v": 1.0},
    "v -1px": {"v": -1.0},
}


def with_error(command, error: dict, shape):
    moved = replace(command, **{k: getattr(command, k) + v for k, v in error.items()})
    return replace(
        moved,
        u=float(np.clip(moved.u, 0, shape[1] - 1)),
        v=float(np.clip(moved.v, 0, shape[0] - 1)),
        yaw=(moved.yaw + math.pi) % (2 * math.pi) - math.pi,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=200)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=500)
    p.add_argument("--solver-iterations", type=int, help="PyBullet solver iterations (default 50)")
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(1)
    policy, zoom_cfg, world_cfg = load_policy(a.checkpoint)
    if a.solver_iterations:
        world_cfg.solver_iterations = a.solver_iterations
    choose = policy_chooser(policy, zoom_cfg)
    world = GraspWorld(world_cfg, a.objects, seed=EVAL_SEED_BASE)
    first, restored = [], []
    flips, lifted = {name: 0 for name in ERRORS}, {name: 0 for name in ERRORS}
    perturbed_success, any_flip, per_family = [], 0, {}
    start = time.perf_counter()
    config = EvalConfig("single", a.objects, a.attempts, a.seeds, a.first_seed, world=world_cfg)
    for attempt in protocol_attempts(world, config):  # the evaluation's scenes and images
        depth = attempt.depth
        command = choose(depth, world, attempt.choose_rng)
        snapshot = world.snapshot()
        first.append(world.execute(command, depth).success)
        world.restore(snapshot)
        base = world.execute(command, depth).success
        restored.append(base)
        outcomes = []
        for name, error in ERRORS.items():
            world.restore(snapshot)
            ok = world.execute(with_error(command, error, depth.shape), depth).success
            outcomes.append(ok)
            flips[name] += ok != base
            lifted[name] += ok
        any_flip += any(ok != base for ok in outcomes)
        perturbed_success.append(float(np.mean(outcomes)))
        tally = per_family.setdefault(attempt.placed[0].spec.family, [0, 0, 0.0, 0])
        tally[0] += first[-1]
        tally[1] += 1
        tally[2] += perturbed_success[-1]
        tally[3] += any(ok != base for ok in outcomes)
        if len(first) % 40 == 0:
            print(f"{len(first)} scenes, {time.perf_counter() - start:.0f} s", flush=True)
    n = len(first)
    result = {
        "who": a.checkpoint or shown_path(default_model_path()),
        "objects": a.objects,
        "first_seed": a.first_seed,
        "seeds": a.seeds,
        "attempts": n,
        "solver_iterations": world_cfg.solver_iterations,
        "success_rate": float(np.mean(first)),
        "success_rate_restored": float(np.mean(restored)),
        "restored_agrees": float(np.mean(np.array(first) == np.array(restored))),
        "flip_rate_by_error": {k: v / n for k, v in flips.items()},
        "success_rate_by_error": {k: v / n for k, v in lifted.items()},
        "scenes_with_any_flip": any_flip / n,
        "success_rate_under_errors": float(np.mean(perturbed_success)),
        "per_family": {
            f: {"success": t[0] / t[1], "scenes": t[1], "success_under_errors": t[2] / t[1], "any_flip": t[3] / t[1]}
            for f, t in sorted(per_family.items())
        },
        "seconds": time.perf_counter() - start,
    }
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
