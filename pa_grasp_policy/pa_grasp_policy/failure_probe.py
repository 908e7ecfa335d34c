"""Could a simple grasp have saved the policy's failures? Headroom of a single-object cell.

    python -m pa_grasp_policy.failure_probe --objects seen --first-seed 100
    python -m pa_grasp_policy.failure_probe --checkpoint runs/main/latest.pt --objects novel

Runs the `pa-grasp-eval` protocol (single-object scenes, deterministic policy) and, after every
failed attempt, tries the grasp probe's 16-grasp grid (`pa_grasp_sim.grasp_probe`) on the scene
as it was before the policy's grasp. Failures some grid grasp lifts are ones the policy could
learn to avoid (e.g. from those grasps as demonstrations); failures no grid grasp lifts point at
objects this hand hardly lifts in this simulator. Choose the seeds with `--first-seed`: the
probe is for deciding what to train next, not for the reported cells.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass

from pa_grasp_policy.checkpoint import CheckpointError
from pa_grasp_policy.evaluate import chooser_for
from pa_grasp_sim.evaluation import EvalConfig, EvalResult, evaluate
from pa_grasp_sim.grasp_probe import grid, lifting_grid_grasps
from pa_grasp_sim.objects import ObjectSetError


@dataclass
class FailureProbeResult:
    evaluation: EvalResult
    failures: Counter  # family -> failed attempts
    liftable: Counter  # family -> failed attempts that some grid grasp lifts

    def rows(self) -> list[tuple[str, int, int]]:
        """(family, failures, liftable), most failures first."""
        return sorted(((f, n, self.liftable[f]) for f, n in self.failures.items()), key=lambda r: (-r[1], r[0]))


def probe_failures(choose, config: EvalConfig) -> FailureProbeResult:
    if config.scene != "single":
        raise ValueError("the failure probe grasps the one object of single-object scenes")
    failures: Counter = Counter()
    liftable: Counter = Counter()

    def on_failure(world, depth, snapshot):
        family = snapshot.specs[0].family if snapshot.specs else "(empty scene)"
        failures[family] += 1
        liftable[family] += bool(lifting_grid_grasps(world, depth, snapshot, first_only=True))

    result = evaluate(choose, config, on_failure=on_failure)
    return FailureProbeResult(result, failures, liftable)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--checkpoint", help="policy checkpoint (default: the shipped model)")
    who.add_argument("--baseline", choices=["random", "heuristic"])
    p.add_argument("--objects", default="seen", help="seen, novel, or a directory of .urdf/.obj files")
    p.add_argument("--attempts", type=int, default=200)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument(
        "--first-seed", type=int, default=100, help="first evaluation seed (default 100: not the reported ones)"
    )
    args = p.parse_args(argv)
    try:
        choose, world_cfg, who_name = chooser_for(args.checkpoint, args.baseline)
        config = EvalConfig(
            scene="single",
            objects=args.objects,
            attempts=args.attempts,
            seeds=args.seeds,
            first_seed=args.first_seed,
            world=world_cfg,
        )
        result = probe_failures(choose, config)
    except (CheckpointError, ObjectSetError, ValueError) as exc:
        print(f"failure_probe: {exc}", file=sys.stderr)
        return 2
    ev = result.evaluation
    lost, saved = sum(result.failures.values()), sum(result.liftable.values())
    print(
        f"{who_name} | single {args.objects}, seeds {args.first_seed}-{args.first_seed + args.seeds - 1}: "
        f"success {100 * ev.success_rate:.1f}% ({ev.attempts} attempts); some of {len(grid(0, 0, 0))} grid grasps "
        f"lifts {saved} of its {lost} failures"
    )
    for family, n, k in result.rows():
        print(f"  {family}: {k} of {n} failures liftable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
