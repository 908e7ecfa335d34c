"""`pa-grasp-eval`: grasp success of the policy (the shipped model by default) or a baseline.

    pa-grasp-eval --scene single --objects seen --attempts 200 --seeds 5 --json out.json
    pa-grasp-eval --baseline heuristic --scene cluttered --objects novel
    pa-grasp-eval --checkpoint runs/main/best.pt --objects path/to/meshes/
    pa-grasp-eval --all-extras ...      # every test-time extra (not in the paper) on

By default the policy alone, deterministic: Algorithm 1, the paper's method. Test-time extras
(--views, --selector, --twin, --local-search; planner/planner.py) are options, each not in the
paper. Prints the success rate ± std over seeds (every attempt is a fresh seeded scene) and
optionally writes JSON with success_rate, std, attempts, per_attempt, per_family, decision_ms (median),
grasps (pitch, spread, mean finger of each), grasp_details (every attempt: pitch, spread, the three
fingers, the policy's zoom steps, object family, success), command (the command line), ...

Draw its grasp kinds: python -m pa_grasp_policy.evaluation.report.grasp_kinds out.json --out kinds.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.evaluation.choosers import baseline_chooser, planner_chooser
from pa_grasp_policy.evaluation.distributed import ChooserSpec, ProcessWorkers, RayWorkers, WorkerLostError, evaluate_on
from pa_grasp_policy.model.checkpoint import CheckpointError
from pa_grasp_policy.planner.loading import DEFAULT_MODEL, TEST_ABLATIONS, load_model, shown_path
from pa_grasp_policy.planner.planner import VIEWS, GraspPlanner, PlannerConfig
from pa_grasp_sim.hand import DRIVES
from pa_grasp_sim.objects import ObjectSetError
from pa_grasp_sim.protocol import EvalConfig, evaluate
from pa_grasp_sim.world import WorldConfig


def overridden_world(world_cfg: WorldConfig, camera_angle: float | None, finger_drive: str | None) -> WorldConfig:
    """`world_cfg` with a camera angle and hand drive other than the model's, if given."""
    if camera_angle is not None:
        world_cfg.camera.view_angle_deg = camera_angle
    if finger_drive is not None:
        world_cfg.hand = dataclasses.replace(world_cfg.hand, drive=finger_drive)  # checks the name
    return world_cfg


def planner_config(args) -> PlannerConfig:
    """The planner the flags ask for (ValueError for combinations that make no sense)."""
    if args.all_extras:
        config = PlannerConfig.all_extras(args.twin_workers)
        if args.views or args.twin or args.local_search:
            raise ValueError("--all-extras sets --views, --twin and --local-search: give those or it, not both")
        return dataclasses.replace(
            config, selector=args.selector or config.selector, search_budget_s=args.search_budget_s
        )
    views = args.views or 1
    if args.selector is not None and views == 1:
        raise ValueError("--selector ranks the grasps of several views: add --views 4 or 8")
    return PlannerConfig(
        views=views,
        selector=args.selector or "shipped",
        twin=args.twin == "on",
        twin_workers=args.twin_workers,
        local_search=args.local_search == "on",
        search_budget_s=args.search_budget_s,
    )


def add_planner_arguments(p: argparse.ArgumentParser) -> None:
    """The planner's test-time extras as flags (planner_config reads them)."""
    extras = p.add_argument_group("test-time extras (not in the paper; default: the policy alone)")
    extras.add_argument(
        "--views",
        type=int,
        choices=VIEWS,
        help="1: the image as it is (default); 4: also its quarter turns; 8: and its mirror image's. Needs a camera"
        " looking straight down",
    )
    extras.add_argument(
        "--selector",
        help="with --views 4 or 8, what ranks their grasps: 'shipped' (default; fitted for the shipped weights) or"
        " a pa-grasp-selector file fitted for the checkpoint",
    )
    extras.add_argument(
        "--twin",
        choices=["on", "off"],
        help="with --views 4 or 8: try each grasp on a physics twin built from the depth image (5 times, with small"
        " errors) and execute the one that lifts most often there (~1-3 s per decision)",
    )
    extras.add_argument(
        "--local-search",
        choices=["on", "off"],
        help="with the twin: where the chosen grasp lifts in at most 3 of its 5 twin executions, try its 13 small"
        " changes there and execute the best if it scores more",
    )
    extras.add_argument(
        "--all-extras", action="store_true", help="--views 8 --twin on --local-search on (served until 2026-12-07)"
    )
    extras.add_argument(
        "--twin-workers",
        type=int,
        default=0,
        help="run the twin's executions in this many worker processes (the same choices; default 0: in this one)",
    )
    extras.add_argument(
        "--search-budget-s",
        type=float,
        default=0.0,
        help="with the twin: the most seconds per decision for the twin and local search, then the best grasp so"
        " far (default 0: no limit, so the numbers do not depend on the machine's speed; policy_node: 5 s)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--checkpoint", help=f"policy checkpoint (default: the shipped model, {DEFAULT_MODEL.name})")
    who.add_argument("--baseline", choices=["random", "heuristic"])
    p.add_argument("--scene", choices=["single", "cluttered"], default="single")
    p.add_argument("--objects", default="seen", help="seen, novel, or a directory of .urdf/.obj files")
    p.add_argument("--attempts", type=int, default=200, help="grasp attempts in all (default 200)")
    p.add_argument("--seeds", type=int, default=5, help="evaluation seeds the attempts are split over (default 5)")
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first evaluation seed (default 0: the reported protocol); choose checkpoints and settings on "
        "other seeds, e.g. 100, so the reported scenes take no part in the choice",
    )
    p.add_argument(
        "--test-ablation",
        choices=TEST_ABLATIONS,
        default="full",
        help="constrain the model at test time (not the same as a model trained with the ablation)",
    )
    p.add_argument("--camera-angle", type=float, help="override the camera view angle (90 top-down, 60 tilted)")
    p.add_argument(
        "--finger-drive",
        choices=DRIVES,
        help="override the simulated hand's drive the model was trained with (compliant: the motors yield and"
        " fingers fold backward under contact; geared: the BH-280's gears and stops hold)",
    )
    add_planner_arguments(p)
    parallel = p.add_argument_group("parallel attempts (the same outcomes, attempt by attempt, as one process)")
    parallel.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the attempts in this many worker processes, each with its own world (default 1: in this one;"
        " a depth twin then runs in each worker's own process)",
    )
    parallel.add_argument(
        "--ray",
        metavar="local|auto|ADDRESS",
        help="run the workers as Ray actors: 'local' starts Ray on this machine, 'auto' joins the cluster this"
        " machine is part of (ray start), ADDRESS joins the cluster of that head (README, Training on a cluster)",
    )
    p.add_argument("--json", help="write the result to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    planner = None
    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        if args.baseline and (args.views or args.selector or args.twin or args.local_search or args.all_extras):
            raise ValueError("the test-time extras rank a policy's grasps; they do not apply to a baseline")
        if args.baseline:
            choose, config = baseline_chooser(args.baseline), PlannerConfig()
            world_cfg = overridden_world(WorldConfig(), args.camera_angle, args.finger_drive)
            who = f"baseline:{args.baseline}"
        else:
            config = planner_config(args)
            model = load_model(args.checkpoint, args.test_ablation)
            world_cfg = overridden_world(model.world_config(), args.camera_angle, args.finger_drive)
            # The twin builds on the evaluated world; with workers each runs its own, in its process.
            distributed = args.workers > 1 or args.ray
            planner = GraspPlanner(
                model, dataclasses.replace(config, twin_workers=0) if distributed else config, world_cfg
            )
            choose = planner_chooser(planner)
            who = args.checkpoint or shown_path(DEFAULT_MODEL)
            for note in planner.notes:
                print(f"pa-grasp-eval: {note}", file=sys.stderr)
        world_cfg.camera.check()  # e.g. a --camera-angle no camera can have, before any world is built
        eval_config = EvalConfig(
            scene=args.scene,
            objects=args.objects,
            attempts=args.attempts,
            seeds=args.seeds,
            first_seed=args.first_seed,
            world=world_cfg,
        )
    except (CheckpointError, ObjectSetError, ValueError) as exc:  # SelectorError is a ValueError
        if planner is not None:
            planner.close()
        print(f"pa-grasp-eval: {exc}", file=sys.stderr)
        return 2

    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=args.attempts, unit="grasp", dynamic_ncols=True, file=sys.stderr)

    def progress(done, total, rate):
        if bar is not None:
            bar.update(1)
            bar.set_postfix(success=f"{rate:.3f}")

    try:
        if args.workers > 1 or args.ray:
            workers = RayWorkers(args.workers, args.ray) if args.ray else ProcessWorkers(args.workers)
            spec = ChooserSpec(args.baseline or "", args.checkpoint, args.test_ablation, config)
            result = evaluate_on(workers, spec, eval_config, progress, log=lambda text: print(text, file=sys.stderr))
        else:
            result = evaluate(choose, eval_config, progress)
    except (ObjectSetError, WorkerLostError) as exc:
        print(f"pa-grasp-eval: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
        if planner is not None:
            planner.close()
    active = planner.active if planner is not None else None
    report = {
        "who": who,
        "scene": args.scene,
        "objects": args.objects,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "test_ablation": args.test_ablation,
        "planner": dataclasses.asdict(active) if active is not None else None,
        "finger_drive": world_cfg.hand.drive,
        "command": shlex.join(["pa-grasp-eval", *argv]),
        **result.to_dict(),
    }
    described = f" ({active.describe()})" if active is not None else ""
    seeds = f"{args.seeds} seeds" + (f" from seed {args.first_seed}" if args.first_seed else "")
    print(
        f"{who}{described} | {args.scene} {args.objects}: success {100 * result.success_rate:.1f} ± "
        f"{100 * result.std:.1f} % over {seeds} ({result.attempts} attempts, {result.seconds:.0f} s;"
        f" decision {result.decision_ms:.0f} ms median)"
    )
    if result.failure_reasons:
        print(
            "failures: "
            + ", ".join(f"{k} ({v})" for k, v in sorted(result.failure_reasons.items(), key=lambda kv: -kv[1]))
        )
    if result.per_family:
        print("by family: " + ", ".join(f"{name} {s}/{a}" for name, s, a in result.families_by_success()))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if np.isfinite(result.success_rate) else 1


if __name__ == "__main__":
    raise SystemExit(main())
