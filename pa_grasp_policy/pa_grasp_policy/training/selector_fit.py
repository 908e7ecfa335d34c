"""`pa-grasp-selector`: collect executed outcomes of the policy's grasps on quarter-turned images,
and fit the turn selector on them (see pa_grasp_policy.planner.selector).

    pa-grasp-selector collect --first-seed 400 --seeds 15 --attempts 600 --out runs/sel/s400.npz
    pa-grasp-selector fit runs/sel/s300.npz runs/sel/s400.npz --out selector.json
    pa-grasp-selector score selector.json runs/sel/s1100.npz --json score.json
    pa-grasp-selector measure old_collection.npz   # add the object measurements to an older one

`collect` builds the evaluation's single-object scenes of those seeds (pa-grasp-eval --first-seed
S shows the same ones), runs the zoom loop on the depth image turned by 0-3 quarter turns,
(with --mirrored: of the image flipped left-right, the scene's mirror image),
executes each grasp (mapped back) on the scene restored, and saves every grasp's features, the
object measured around it (object_geometry) and its outcome (atomically, every --save-every
scenes, so a stopped collection keeps what it did and is marked partial). With --small-errors
each grasp is also executed with the small execution errors of grasp_probe.SMALL_ERRORS (yaw
+-5 deg, the pixel 1 px off), each on the scene restored, and those outcomes are saved too.
`fit` learns the selector for the collection's policy weights: --model linear (L2 logistic
regression) or mlp (a small network), on --inputs features or features+geometry; --label robust
fits it to the fraction of the five executions (the grasp and its four copies with errors) that
lift, a less noisy target than one outcome. The shipped one: `fit --model mlp --inputs
features+geometry --label robust` (README, "Shipped model").
`score` counts how many scenes of other collections (held out from its fit) the selector's
choice lifts, from their executed outcomes. Keep the seeds you collect on apart from the ones
you report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pa_grasp_policy.model.checkpoint import CheckpointError, write_atomically
from pa_grasp_policy.planner.loading import SHIPPED_SELECTOR, load_model, shown_path
from pa_grasp_policy.planner.object_geometry import GEOMETRY_NAMES, object_geometry
from pa_grasp_policy.planner.planner import PlannedGrasp
from pa_grasp_policy.planner.selector import (
    INPUTS,
    GraspSelector,
    MlpFitConfig,
    SelectorError,
    feature_actor,
    fit_mlp_selector,
    fit_selector,
    run_geometry,
    weights_sha256,
)
from pa_grasp_policy.planner.views import TURNS, check_top_down, run_turned
from pa_grasp_sim.grasp_probe import with_small_errors
from pa_grasp_sim.objects import ObjectSetError
from pa_grasp_sim.protocol import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld


def open_collection(path):
    """np.load of a collection (an .npz archive), or SelectorError saying what the file is instead:
    missing, empty, a single .npy array, or not a numpy file at all (np.load would try to unpickle it)."""
    path = Path(path)
    if not path.is_file():
        raise SelectorError(f"collection not found: {path}")
    with path.open("rb") as f:
        head = f.read(16)
    if not head:
        raise SelectorError(f"{path} is empty (0 bytes): not a pa-grasp-selector collection")
    if head.startswith(b"\x93NUMPY"):
        raise SelectorError(f"{path} is a single numpy array (.npy), not a pa-grasp-selector collection (.npz)")
    if not head.startswith(b"PK"):
        raise SelectorError(f"{path} is not a pa-grasp-selector collection (.npz archive): it starts with {head!r}")
    try:
        return np.load(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise SelectorError(f"{path} is a truncated or corrupt collection (an interrupted copy?): {exc}") from None


def collect(args) -> int:
    model = load_model(args.checkpoint)
    policy, zoom_cfg, world_cfg = model.policy, model.zoom_config, model.world_config()
    check_top_down(world_cfg.camera.view_angle_deg)
    cfg = EvalConfig(args.scene, args.objects, args.attempts, args.seeds, args.first_seed, world=world_cfg)
    act = feature_actor(policy)
    if args.save_every < 1:
        raise ValueError(f"--save-every must be at least 1, got {args.save_every}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "weights_sha256": weights_sha256(policy),
        "checkpoint": shown_path(args.checkpoint) if args.checkpoint else "shipped",
        "objects": args.objects,
        "scene": args.scene,
        "attempts_asked": args.attempts,
        "mirrored": args.mirrored,
    }
    # One list per saved array, one entry per scene (see COLUMNS).
    columns = {name: [] for name in COLUMNS if name != "lifted_with_errors" or args.small_errors}
    start = time.perf_counter()
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world:
        for attempt in protocol_attempts(world, cfg):
            snapshot = world.snapshot()
            scene = {name: [] for name in columns if name != "seed"}
            for k in range(TURNS):
                run = run_turned(attempt.depth, policy, zoom_cfg, k, act=act, mirrored=args.mirrored)
                command = PlannedGrasp.from_result(run.result).command()
                if k:
                    world.restore(snapshot)
                scene["lifted"].append(bool(world.execute(command, attempt.depth).success))
                scene["features"].append(run.features)
                scene["geometry"].append(run_geometry(run, attempt.depth))
                scene["grasp"].append(
                    [command.u, command.v, command.roll, command.pitch, command.yaw, command.spread, *command.fingers]
                )
                if args.small_errors:
                    outcomes = []
                    for copy in with_small_errors(command, attempt.depth.shape):
                        world.restore(snapshot)
                        outcomes.append(bool(world.execute(copy, attempt.depth).success))
                    scene["lifted_with_errors"].append(outcomes)
            for name, values in scene.items():
                columns[name].append(values)
            columns["seed"].append(attempt.seed)
            n = len(columns["seed"])
            if n % args.save_every == 0 or n == args.attempts:
                save_collection(out, columns, meta, complete=False)
                done = np.array(columns["lifted"])
                print(
                    f"{n}/{args.attempts} scenes, lifted by turn {done.sum(0).tolist()}, by any {done.any(1).sum()}"
                    f" ({(time.perf_counter() - start) / n:.1f} s/scene)",
                    flush=True,
                )
    if not columns["seed"]:
        raise ValueError("no scenes were collected")
    save_collection(out, columns, meta, complete=True)
    print(f"wrote {out}")
    return 0


# What a collection holds per scene, with its dtype: the grasp features (turns, d), the exact
# outcome of each turn's grasp (turns,), the grasp executed ((turns, 9): u, v, roll, pitch, yaw,
# spread, fingers 1-3, in the original image), the object measured around it (turns,
# len(GEOMETRY_NAMES)), the evaluation seed, and with --small-errors the outcomes of its copies
# with errors (turns, len(SMALL_ERRORS)).
COLUMNS = {
    "features": np.float32,
    "lifted": bool,
    "grasp": np.float32,
    "geometry": np.float64,
    "seed": np.int64,
    "lifted_with_errors": bool,
}


def save_collection(out: Path, columns: dict, meta: dict, complete: bool) -> None:
    """Write the scenes collected so far atomically (`checkpoint.write_atomically`)."""
    arrays = {name: np.array(values, dtype=COLUMNS[name]) for name, values in columns.items()}
    arrays.update(complete=complete, **meta)
    write_atomically(out, lambda f: np.savez_compressed(f, **arrays))


@dataclass
class Collections:
    """Collections of one policy's weights, concatenated: features (scenes, turns, d), lifted
    (scenes, turns), targets (scenes, turns) for the label asked, seeds (scenes,)."""

    features: np.ndarray
    lifted: np.ndarray
    targets: np.ndarray
    seeds: np.ndarray
    sources: list[str]
    weights_sha256: str


def read_collections(paths, label: str = "exact", inputs: str = "features") -> Collections:
    """`features` holds the selector inputs asked: the grasp features, then with
    inputs="features+geometry" the measurements (`collect` saves them; `measure` adds them to
    older collections)."""
    features, lifted, targets, seeds, sources, shas = [], [], [], [], [], set()
    for path in paths:
        try:
            with open_collection(path) as data:
                if inputs == "features+geometry":
                    if "geometry" not in data.files:
                        raise SelectorError(
                            f"{path} has no object measurements: add them with pa-grasp-selector measure"
                        )
                    features.append(np.concatenate([data["features"], data["geometry"]], -1))
                else:
                    features.append(data["features"])
                lifted.append(data["lifted"])
                seeds.append(data["seed"])
                if label == "robust":
                    if "lifted_with_errors" not in data.files:
                        raise SelectorError(f"{path} has no outcomes with small errors: collect it with --small-errors")
                    targets.append(target_fraction(data["lifted"], data["lifted_with_errors"]))
                else:
                    targets.append(data["lifted"].astype(np.float64))
                shas.add(str(data["weights_sha256"]))
                # Collections from before partial saves have no "complete" entry: they were complete.
                partial = "complete" in data.files and not bool(data["complete"])
                sources.append(
                    f"{path}: {len(data['seed'])} scenes, seeds {data['seed'].min()}-{data['seed'].max()}"
                    + (" (partial: the collection was stopped)" if partial else "")
                )
        except SelectorError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise SelectorError(f"{path} is not a pa-grasp-selector collection: {exc}") from None
    if len(shas) != 1:
        raise SelectorError(f"the collections come from different policy weights ({len(shas)}): use one model's")
    return Collections(
        np.concatenate(features),
        np.concatenate(lifted),
        np.concatenate(targets),
        np.concatenate(seeds),
        sources,
        shas.pop(),
    )


def chosen_turns(selector: GraspSelector, features: np.ndarray) -> np.ndarray:
    """Per scene, the turn the selector picks among its four grasps (ties: the first, as in
    select_among_turns)."""
    return selector.scores(features.reshape(-1, features.shape[-1])).reshape(-1, TURNS).argmax(1)


def fit(args) -> int:
    data = read_collections(args.collections, args.label, args.inputs)
    x, y = data.features, data.lifted
    provenance = {
        "collections": data.sources,
        "label": args.label,
        "inputs": args.inputs,
        "grasps": int(y.size),
        "lifted": int(y.sum()),
    }
    flat_x, flat_t = x.reshape(-1, x.shape[-1]), data.targets.reshape(-1)
    if args.model == "linear":
        selector = fit_selector(
            flat_x, flat_t, data.weights_sha256, args.l2, {**provenance, "l2": args.l2}, args.inputs
        )
    else:
        selector = fit_mlp_selector(
            flat_x, flat_t, data.weights_sha256, args.inputs, MlpFitConfig(seed=args.seed), provenance
        )
    chosen = y[np.arange(len(y)), chosen_turns(selector, x)]
    selector.save(args.out)
    print(
        f"wrote {args.out}: {len(y)} scenes; on them (not held out) turn 0 lifts {y[:, 0].sum()},"
        f" the selector's choice {chosen.sum()}, any turn {y.any(1).sum()}"
    )
    return 0


def score(args) -> int:
    """How many scenes of held-out collections the selector's choice lifts (their executed
    outcomes, nothing simulated), against turn 0 (the policy alone) and any turn."""
    path = SHIPPED_SELECTOR if args.selector == "shipped" else Path(args.selector)
    selector = GraspSelector.load(path)
    data = read_collections(args.collections, inputs=selector.inputs)
    if data.weights_sha256 != selector.weights_sha256:
        raise SelectorError(
            f"{args.selector} was fitted for policy weights {selector.weights_sha256[:12]}…, the collections"
            f" hold grasps of {data.weights_sha256[:12]}…"
        )
    y = data.lifted
    turns = chosen_turns(selector, data.features)
    chosen, first = y[np.arange(len(y)), turns], y[:, 0]
    report = {
        "selector": shown_path(path),
        "selector_provenance": selector.provenance,
        "collections": data.sources,
        "scenes": len(y),
        "turn0_lifts": int(first.sum()),
        "mean_turn_lifts": float(y.sum(0).mean()),
        "any_turn_lifts": int(y.any(1).sum()),
        "chosen_lifts": int(chosen.sum()),
        "gained_vs_turn0": int((chosen & ~first).sum()),
        "lost_vs_turn0": int((first & ~chosen).sum()),
        "seed": data.seeds.tolist(),
        "chosen_turn": turns.tolist(),
        "chosen_lifted": chosen.astype(int).tolist(),
    }
    print(
        f"{report['scenes']} scenes: the selector's choice lifts {report['chosen_lifts']}"
        f" ({report['gained_vs_turn0']} gained, {report['lost_vs_turn0']} lost against turn 0);"
        f" turn 0 {report['turn0_lifts']}, mean of the turns {report['mean_turn_lifts']:.1f},"
        f" any turn {report['any_turn_lifts']}"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.json, lambda f: f.write(json.dumps(report, indent=1).encode()))
    return 0


def rendered_depths(collection: dict, world_cfg) -> list[np.ndarray]:
    """Each scene's depth image as `collect` saw it, rendered again from its evaluation seed
    (each seed's scenes and sensor noise come from their own streams, so the first n scenes of a
    seed are the same whatever else was collected)."""
    seeds = np.asarray(collection["seed"])
    scene = str(collection["scene"]) if "scene" in collection else "single"
    depths = []
    with GraspWorld(world_cfg, str(collection["objects"]), seed=EVAL_SEED_BASE) as world:
        for seed in dict.fromkeys(seeds.tolist()):
            cfg = EvalConfig(
                scene, str(collection["objects"]), int((seeds == seed).sum()), 1, int(seed), world=world_cfg
            )
            depths += [attempt.depth for attempt in protocol_attempts(world, cfg)]
    return depths


def measure(args) -> int:
    """Add the object measured around every turned grasp (`geometry`) to collections made before
    `collect` saved it. The grasps are the saved ones (turn 0 is computed again to check the
    depth is the one collected), or in collections older than saved grasps, all four computed
    again (their features must match the saved ones)."""
    model = load_model(args.checkpoint)
    policy, zoom_cfg, world_cfg = model.policy, model.zoom_config, model.world_config()
    sha, act = weights_sha256(policy), feature_actor(policy)
    for path in args.collections:
        try:
            with open_collection(path) as f:
                data = {k: f[k] for k in f.files}
            seeds, features = data["seed"], data["features"]
        except SelectorError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise SelectorError(f"{path} is not a pa-grasp-selector collection: {exc}") from None
        if str(data["weights_sha256"]) != sha:
            raise SelectorError(f"{path} holds grasps of other policy weights: measure it with their --checkpoint")
        geometry = np.zeros((*features.shape[:2], len(GEOMETRY_NAMES)))
        start = time.perf_counter()
        for i, depth in enumerate(rendered_depths(data, world_cfg)):
            for k in range(TURNS) if "grasp" not in data else (0,):
                run = run_turned(depth, policy, zoom_cfg, k, act=act)
                if not np.allclose(run.features, features[i, k], atol=1e-3):
                    raise SelectorError(f"{path}: scene {i} (seed {seeds[i]}) does not render as it was collected")
                if "grasp" not in data:
                    geometry[i, k] = run_geometry(run, depth)
            if "grasp" in data:
                for k, (u, v, roll, pitch, yaw, *hand) in enumerate(data["grasp"][i]):
                    geometry[i, k] = object_geometry(depth, (u, v), (roll, pitch, yaw), hand)
            if (i + 1) % 100 == 0:
                print(f"{path}: {i + 1}/{len(seeds)} scenes ({(time.perf_counter() - start) / (i + 1):.2f} s/scene)")
        data["geometry"] = geometry
        write_atomically(path, lambda f, arrays=data: np.savez_compressed(f, **arrays))
        print(f"{path}: added the measurements of {geometry.shape[0] * geometry.shape[1]} grasps")
    return 0


def target_fraction(lifted: np.ndarray, lifted_with_errors: np.ndarray) -> np.ndarray:
    """Per grasp, the fraction of its executions that lift: the grasp itself (`lifted`, shape
    (scenes, turns)) and its copies with small errors (`lifted_with_errors`, (scenes, turns, e))."""
    lifted = np.asarray(lifted, dtype=np.float64)
    with_errors = np.asarray(lifted_with_errors, dtype=np.float64)
    if with_errors.shape[:2] != lifted.shape:
        raise SelectorError(f"outcomes with errors {with_errors.shape} do not match the outcomes {lifted.shape}")
    return (lifted + with_errors.sum(-1)) / (1 + with_errors.shape[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="execute the policy's grasps on turned images, save features and outcomes")
    c.add_argument("--checkpoint", help="default: the shipped model")
    c.add_argument("--scene", choices=["single", "cluttered"], default="single")
    c.add_argument("--objects", default="seen")
    c.add_argument("--attempts", type=int, default=300)
    c.add_argument("--seeds", type=int, default=10)
    c.add_argument("--first-seed", type=int, default=300)
    c.add_argument("--out", required=True)
    c.add_argument("--save-every", type=int, default=20, help="scenes between atomic saves of --out (default 20)")
    c.add_argument(
        "--small-errors", action="store_true", help="also execute each grasp with small errors (5 executions per grasp)"
    )
    c.add_argument(
        "--mirrored",
        action="store_true",
        help="the four turns of the image flipped left-right (planner.views.mirror_grasp) instead of the image's",
    )
    f = sub.add_parser("fit", help="fit the selector on collections of one model")
    f.add_argument("collections", nargs="+")
    f.add_argument(
        "--model", choices=["linear", "mlp"], default="linear", help="logistic regression or a small network"
    )
    f.add_argument(
        "--inputs",
        choices=list(INPUTS),
        default="features",
        help="the policy's features at each grasp, or those and the object measured around it (object_geometry)",
    )
    f.add_argument("--l2", type=float, default=1e-2, help="linear: L2 penalty")
    f.add_argument("--seed", type=int, default=0, help="mlp: torch seed of its initialisation and batches")
    f.add_argument(
        "--label",
        choices=["exact", "robust"],
        default="exact",
        help="exact: the grasp's one outcome; robust: the fraction of its 5 executions with small errors that lift",
    )
    f.add_argument("--out", required=True)
    m = sub.add_parser("measure", help="add the object measured around each grasp to older collections")
    m.add_argument("collections", nargs="+")
    m.add_argument("--checkpoint", help="the model the collections were made with (default: the shipped model)")
    sc = sub.add_parser("score", help="score a selector on held-out collections of its model (nothing simulated)")
    sc.add_argument("selector", help="'shipped' or a pa-grasp-selector fit file")
    sc.add_argument("collections", nargs="+")
    sc.add_argument("--json", help="write the counts and every scene's chosen turn and outcome here")
    args = p.parse_args(argv)
    try:
        return {"collect": collect, "fit": fit, "measure": measure, "score": score}[args.command](args)
    except (CheckpointError, ObjectSetError, SelectorError, ValueError) as exc:
        print(f"pa-grasp-selector: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
