"""When the served grasp is not sure in the depth twin, does a small change of it score better,
and does it then lift? (measurement, 2026-12-06, twenty-fifth session)

The served choice (twin first among the four turned grasps, the selector breaks ties) lifts
96-98% of the scenes where its grasp scores 5/5 in the twin and about half of the others
(docs/experiments.md, "Small changes of the served grasp, tried in the twin"). The failure budget found that most
failures have a small change (yaw +-20 deg, the pixel 1.5 px off, another pre-shape or kind) that
lifts robustly. For every scene of a four-grasp collection whose served grasp scores below 5/5,
this rebuilds the scene (same protocol attempt), makes the served grasp's small changes
(`pa_grasp_sim.twin_local_search.local_changes`), scores each in the shipped depth twin and
executes each once on the real scene (restored before each). It saves everything for a rule
fixed offline.

    python docs/evals/local_search/local_candidates.py COLLECTION.npz [--below 0.8]   # ~50 min per 600 scenes, one core
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR, load_policy
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector
from pa_grasp_sim.depth_twin import DepthTwin
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.twin_local_search import local_changes
from pa_grasp_sim.world import GraspWorld

CANDIDATES = 14  # rows saved per scene; a scene with fewer candidates pads with NaN / False


def served_picks(data, twin: np.ndarray) -> np.ndarray:
    """The served choice's turn per scene: twin first, the shipped selector breaks ties."""
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
    score = selector.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
    return (twin + TWIN_TIE_WEIGHT * score).argmax(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("collection", type=Path)
    p.add_argument(
        "--below", type=float, default=1.0, help="only scenes whose served grasp scores below this (default 1.0)"
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    data = np.load(args.collection)
    twin4 = np.load(args.collection.with_name(args.collection.stem + "_twin.npz"))["twin"]
    picks = served_picks(data, twin4)
    rows = np.arange(len(picks))
    open_scenes = set(np.flatnonzero(twin4[rows, picks] < args.below - 1e-9).tolist())
    print(
        f"{len(open_scenes)} of {len(picks)} scenes: the served grasp scores below {args.below} in the twin", flush=True
    )
    _, _, world_cfg = load_policy(None)
    seeds = data["seed"]
    n_seeds = int(seeds[-1] - seeds[0] + 1)  # collections hold seeds first .. first + n - 1
    cfg = EvalConfig("single", str(data["objects"]), len(seeds), n_seeds, int(seeds[0]), world=world_cfg)
    out_path = args.collection.with_name(args.collection.stem + "_local.npz")
    out = {"scene": [], "names": [], "grasp": [], "twin": [], "lifted": []}
    start = time.perf_counter()
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world, DepthTwin(None, world_cfg) as twin:
        height, width = world.camera.intrinsics.height, world.camera.intrinsics.width
        for i, attempt in enumerate(protocol_attempts(world, cfg)):
            assert attempt.seed == seeds[i], "the collection's scenes are not this protocol's"
            if i not in open_scenes:
                continue
            g = data["grasp"][i, picks[i]]
            served = GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9])))
            named = local_changes(served, width, height)
            commands = [c for _, c in named]
            snapshot = world.snapshot()
            scores = twin.scores(attempt.depth, world.camera.intrinsics, world.camera.T_world_camera, commands)
            lifted = []
            for c in commands:
                world.restore(snapshot)
                lifted.append(bool(world.execute(c, attempt.depth).success))
            pad = CANDIDATES - len(commands)
            out["scene"].append(i)
            out["names"].append([n for n, _ in named] + [""] * pad)
            out["grasp"].append(
                [[c.u, c.v, c.roll, c.pitch, c.yaw, c.spread, *c.fingers] for c in commands] + [[np.nan] * 9] * pad
            )
            out["twin"].append(list(scores) + [np.nan] * pad)
            out["lifted"].append(lifted + [False] * pad)
            n = len(out["scene"])
            if n % 10 == 0:
                print(f"{n}/{len(open_scenes)} ({(time.perf_counter() - start) / n:.1f} s/scene)", flush=True)
                np.savez_compressed(out_path, **{k: np.array(v) for k, v in out.items()})
    np.savez_compressed(out_path, **{k: np.array(v) for k, v in out.items()})
    print(f"saved {out_path}")


if __name__ == "__main__":
    main()
