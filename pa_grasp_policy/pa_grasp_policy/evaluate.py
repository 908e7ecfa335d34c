"""`pa-grasp-eval`: grasp success of the policy (the shipped model by default) or a baseline.

    pa-grasp-eval --scene single --objects seen --attempts 200 --seeds 5 --json out.json
    pa-grasp-eval --baseline heuristic --scene cluttered --objects novel
    pa-grasp-eval --checkpoint runs/main/best.pt --objects path/to/meshes/

Prints the success rate ± std over seeds (every attempt is a fresh seeded scene, evaluated with
the deterministic policy) and optionally writes JSON with success_rate, std, attempts, ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.checkpoint import CheckpointError, load_checkpoint
from pa_grasp_policy.distribution import DofConstraints
from pa_grasp_policy.turn_selection import (
    GraspSelector,
    SelectorError,
    check_top_down,
    select_among_turns,
    weights_sha256,
)
from pa_grasp_policy.zoom import ZoomConfig, run_zoom_loop
from pa_grasp_policy.zoom_env import action_to_command, result_to_command
from pa_grasp_sim.baselines import heuristic_grasp, random_grasp
from pa_grasp_sim.depth_twin import TwinBase
from pa_grasp_sim.evaluation import EvalConfig, evaluate
from pa_grasp_sim.hand import DRIVES
from pa_grasp_sim.objects import ObjectSetError
from pa_grasp_sim.twin_local_search import LocalSearchConfig, search_near
from pa_grasp_sim.twin_workers import make_twin
from pa_grasp_sim.world import WorldConfig

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = MODELS_DIR / "pa_grasp.pt"
SHIPPED_SELECTOR = MODELS_DIR / "pa_grasp_selector.json"
DEFAULT_TURN_SELECTOR = "shipped"  # pa-grasp-eval and policy_node (node_config); pa-grasp-report: "none"
SELECTOR_TAG = " + turn selector "  # in a chooser's name when it chooses among turned images
TWIN_TAG = " + depth twin"  # ... and tries them on the depth twin first
MIRROR_TAG = " + mirror views"  # ... and also ranks the grasps on the mirror image's turns
LOCAL_TAG = " + local search"  # ... and tries small changes of an unsure grasp in the twin
# Served since 2026-12-07 (docs/experiments.md, "Eight views and local search together").
DEFAULT_LOCAL_SEARCH = True  # pa-grasp-eval --local-search and policy_node's twin_local_search
VIEWS = (4, 8)
DEFAULT_VIEWS = 8  # ... and policy_node's mirror_views


def shown_path(path) -> str:
    """A model path as a card or report should name it: the source-tree file (colcon's build/
    copies are symlinks to it), relative to the working directory."""
    return os.path.relpath(Path(path).resolve())


def default_model_path() -> Path:
    return DEFAULT_MODEL


def load_policy(path: str | Path | None = None, test_constraints: str | None = None):
    """(policy, zoom_config, world_config) for a checkpoint; test_constraints applies an
    ablation at test time on top of the model (labelled as such by callers)."""
    from pa_grasp_policy.train import TrainConfig

    path = Path(path) if path else DEFAULT_MODEL
    if not path.exists() and path == DEFAULT_MODEL:
        raise CheckpointError(f"no shipped model at {path}: train one (pa-grasp-train) or pass --checkpoint")
    policy, payload = load_checkpoint(path)
    saved = payload.get("config", {}).get("train", {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    train_cfg = TrainConfig(**{k: v for k, v in saved.items() if k in known})
    env_cfg = train_cfg.env_config()
    zoom_cfg = ZoomConfig(
        input_size=policy.config.input_size,
        max_zoom_steps=env_cfg.zoom.max_zoom_steps,
        min_crop_px=env_cfg.zoom.min_crop_px,
        min_scale=env_cfg.zoom.min_scale,
    )
    if test_constraints and test_constraints != "full":
        extra = DofConstraints.ablation(test_constraints)
        policy.constraints = DofConstraints(
            {**policy.constraints.fixed, **extra.fixed},
            extra.max_zoom_steps if extra.max_zoom_steps is not None else policy.constraints.max_zoom_steps,
        )
        zoom_cfg = zoom_cfg.constrained(policy.constraints)
        if test_constraints == "parallel":
            env_cfg.world.execution.parallel_hand = True
    policy.eval()
    return policy, zoom_cfg, env_cfg.world


def policy_chooser(policy, zoom_cfg: ZoomConfig):
    actor = policy.actor(deterministic=True)

    def choose(depth, world, rng):
        result = run_zoom_loop(depth, actor, zoom_cfg)
        return action_to_command(result.final_action, result.grasp_uv)

    return choose


def turn_selecting_chooser(
    policy,
    zoom_cfg: ZoomConfig,
    selector,
    twin: TwinBase | None = None,
    mirrored: bool = False,
    local_search: LocalSearchConfig | None = None,
):
    """The policy's grasps on the image turned by 0-3 quarter turns (and, if `mirrored`, on its
    mirror image's), the selector's best executed (see turn_selection); with `twin`, the one that
    lifts most often in the depth twin, the selector breaking ties, and with `local_search` too,
    its best small change in the twin where it is unsure (twin_local_search)."""

    def choose(depth, world, rng):
        if twin is None:
            return result_to_command(
                select_among_turns(depth, policy, zoom_cfg, selector, mirrored=mirrored).best.result
            )
        camera = world.camera

        def twin_best(commands, floor):
            return twin.best_above(depth, camera.intrinsics, camera.T_world_camera, commands, floor)

        def twin_ranking(runs):
            commands = [result_to_command(r.result) for r in runs]
            return twin.ranking(depth, camera.intrinsics, camera.T_world_camera, commands)

        ranked = select_among_turns(depth, policy, zoom_cfg, selector, twin_ranking=twin_ranking, mirrored=mirrored)
        command = result_to_command(ranked.best.result)
        if local_search is None:
            return command
        height, width = depth.shape[:2]
        return search_near(command, ranked.twin_score(ranked.best), twin_best, width, height, local_search).command

    return choose


def resolve_selector(spec: str | None, policy, view_angle_deg: float, test_ablation: str | None = None):
    """The turn selector to use, or None.

    'none': None. 'shipped' (the default): the shipped selector when `policy` has the weights it
    was fitted for, the camera looks straight down and no test-time ablation is applied (it was
    validated on that setting only), else None. A path: that file, refused (SelectorError) if it
    was fitted for other weights, for a tilted camera or with a test-time ablation."""
    if spec in (None, "", "none"):
        return None
    ablated = test_ablation not in (None, "full")
    if spec == "shipped":
        if not SHIPPED_SELECTOR.is_file() or ablated or abs(view_angle_deg - 90.0) > 1e-6:
            return None
        selector = GraspSelector.load(SHIPPED_SELECTOR)
        return selector if selector.weights_sha256 == weights_sha256(policy) else None
    selector = GraspSelector.load(spec)
    selector.check_policy(policy)
    check_top_down(view_angle_deg)
    if ablated:
        raise SelectorError(f"a turn selector ranks the model's own grasps; not with --test-ablation {test_ablation}")
    return selector


def baseline_chooser(name: str):
    if name == "random":
        return lambda depth, world, rng: random_grasp(depth, rng)
    return lambda depth, world, rng: heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)


def chooser_for(
    checkpoint: str | None,
    baseline: str | None,
    test_ablation: str | None = None,
    selector: str | None = DEFAULT_TURN_SELECTOR,
    camera_angle: float | None = None,
    twin: bool = True,
    views: int = DEFAULT_VIEWS,
    local_search: bool = DEFAULT_LOCAL_SEARCH,
    twin_workers: int = 0,
    finger_drive: str | None = None,
):
    """(choose, world config, name) for a baseline, or else a policy checkpoint (the shipped
    model when None), choosing among turned images with `selector` (see resolve_selector) and,
    if `twin`, by the depth twin first (pa_grasp_sim.depth_twin; in `twin_workers` worker
    processes, pa_grasp_sim.twin_workers, or in this one with 0). `views`: 4 (the quarter turns)
    or 8 (and those of the mirror image). `local_search` (with the twin): the chosen grasp's best
    small change in the twin where it is unsure (pa_grasp_sim.twin_local_search). `camera_angle`
    and `finger_drive` (pa_grasp_sim.hand.DRIVES) override the world the model was trained in,
    the depth twin's included."""
    if views not in VIEWS:
        raise ValueError(f"views must be one of {VIEWS}, got {views}")
    if twin_workers < 0:
        raise ValueError(f"--twin-workers must be 0 (the twin in this process) or more, got {twin_workers}")

    def overridden(world_cfg: WorldConfig) -> WorldConfig:
        if camera_angle is not None:
            world_cfg.camera.view_angle_deg = camera_angle
        if finger_drive is not None:
            world_cfg.hand = dataclasses.replace(world_cfg.hand, drive=finger_drive)  # checks the name
        return world_cfg

    if baseline:
        return baseline_chooser(baseline), overridden(WorldConfig()), f"baseline:{baseline}"
    policy, zoom_cfg, world_cfg = load_policy(checkpoint, test_ablation)
    world_cfg = overridden(world_cfg)
    name = checkpoint or shown_path(DEFAULT_MODEL)
    chosen = resolve_selector(selector, policy, world_cfg.camera.view_angle_deg, test_ablation)
    if chosen is not None:
        local = LocalSearchConfig() if twin and local_search else None
        name = f"{name}{SELECTOR_TAG}({selector})" + (TWIN_TAG if twin else "") + (MIRROR_TAG if views == 8 else "")
        name += LOCAL_TAG if local else ""
        depth_twin = make_twin(twin_workers, world_cfg) if twin else None
        return turn_selecting_chooser(policy, zoom_cfg, chosen, depth_twin, views == 8, local), world_cfg, name
    return policy_chooser(policy, zoom_cfg), world_cfg, name


def main(argv=None) -> int:
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
        help="first evaluation seed (default 0: the reported protocol); choose checkpoints on "
        "other seeds, e.g. 100, so the reported scenes take no part in the choice",
    )
    p.add_argument(
        "--test-ablation",
        choices=["full", "top_down", "parallel", "no_attention"],
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
    p.add_argument(
        "--selector",
        help="choose among the policy's grasps on the image turned by 0-3 quarter turns: 'shipped' (default: the"
        " shipped model's selector, when that model is evaluated with the top-down camera and no test ablation),"
        " 'none' (the policy's grasp on the image as is), or a pa-grasp-selector file fitted for the checkpoint",
    )
    p.add_argument(
        "--twin",
        choices=["on", "off"],
        default="on",
        help="with a turn selector: try each turned grasp on a physics twin built from the depth image (5 times,"
        " with small errors) and execute the one that lifts most often there, the selector breaking ties"
        " (default on; ~1 s per decision on a single object)",
    )
    p.add_argument(
        "--twin-workers",
        type=int,
        default=0,
        help="run the twin's executions in this many worker processes, that many at once (as policy_node does;"
        " the same choices, faster when this is the only job on the cores); default 0: in this process",
    )
    p.add_argument(
        "--views",
        type=int,
        choices=VIEWS,
        help="with a turn selector: the grasps on the image's 4 quarter turns, or 8: also on its mirror image's"
        f" (default {DEFAULT_VIEWS})",
    )
    p.add_argument(
        "--local-search",
        choices=["on", "off"],
        help="with the twin: where the chosen grasp lifts in at most 3 of its 5 twin executions, try its 13 small"
        " changes (yaw, pixel, pre-shape, kind) there and execute the best if it scores higher"
        f" (default {'on' if DEFAULT_LOCAL_SEARCH else 'off'})",
    )
    p.add_argument("--json", help="write the result to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    try:
        if args.local_search == "on" and (args.baseline or args.selector == "none" or args.twin == "off"):
            raise ValueError(
                "--local-search tries changes of the chosen grasp in the depth twin: it needs a policy with a turn"
                " selector and --twin on"
            )
        if args.selector is not None and args.baseline:
            raise ValueError("--selector ranks a policy's grasps; it does not apply to a baseline")
        if args.views is not None and (args.baseline or args.selector == "none"):
            raise ValueError(
                "--views chooses among a policy's grasps with a turn selector; not with a baseline or --selector none"
            )
        choose, world_cfg, who_name = chooser_for(
            args.checkpoint,
            args.baseline,
            args.test_ablation,
            args.selector or DEFAULT_TURN_SELECTOR,
            args.camera_angle,
            twin=args.twin == "on",
            views=args.views or DEFAULT_VIEWS,
            local_search=args.local_search == "on" if args.local_search else DEFAULT_LOCAL_SEARCH,
            twin_workers=args.twin_workers,
            finger_drive=args.finger_drive,
        )
        world_cfg.camera.check()  # e.g. a --camera-angle no camera can have, before any world is built
        config = EvalConfig(
            scene=args.scene,
            objects=args.objects,
            attempts=args.attempts,
            seeds=args.seeds,
            first_seed=args.first_seed,
            world=world_cfg,
        )
    except (CheckpointError, ObjectSetError, ValueError) as exc:  # SelectorError is a ValueError
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
        result = evaluate(choose, config, progress)
    except ObjectSetError as exc:
        print(f"pa-grasp-eval: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    report = {
        "who": who_name,
        "scene": args.scene,
        "objects": args.objects,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "test_ablation": args.test_ablation,
        "turn_selector": (args.selector or DEFAULT_TURN_SELECTOR) if SELECTOR_TAG in who_name else None,
        "depth_twin": TWIN_TAG in who_name,
        "views": (args.views or DEFAULT_VIEWS) if SELECTOR_TAG in who_name else None,
        "local_search": LOCAL_TAG in who_name,
        "twin_workers": args.twin_workers if TWIN_TAG in who_name else None,
        "finger_drive": world_cfg.hand.drive,
        **result.to_dict(),
    }
    seeds = f"{args.seeds} seeds" + (f" from seed {args.first_seed}" if args.first_seed else "")
    print(
        f"{who_name} | {args.scene} {args.objects}: success {100 * result.success_rate:.1f} ± "
        f"{100 * result.std:.1f} % over {seeds} ({result.attempts} attempts, {result.seconds:.0f} s)"
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
