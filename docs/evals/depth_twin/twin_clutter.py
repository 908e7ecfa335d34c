"""Does the depth twin hurt in clutter? (analysis, 2026-12-02, twenty-second session)

The twin was shipped on single-object evidence (docs/experiments.md, "A physics twin from the
depth image"). Clutter was never tried: there the package's twin (pa_grasp_sim.depth_twin) makes
one body of every connected region above the table, so touching objects become one body. On the
400 cluttered four-grasp scenes of seeds 1600-1609 (each turned grasp executed once on the real
scene, docs/evals/geometry_selector/clutter/) this scores the package's twin for every grasp and
compares "twin first, ties by the shipped selector" with the shipped selector alone (330 of 400).

Rule fixed before running: the twin stays on in clutter unless it is behind the shipped selector
there with a two-sided sign test p < 0.05 (it was shipped for single objects; in clutter it must
only not be shown to hurt).

    python docs/evals/depth_twin/twin_clutter.py [--workers 2]   # ~25-50 min on 2 cores
"""

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR, load_policy
from pa_grasp_policy.selector_cli import rendered_depths
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector
from pa_grasp_sim.depth_twin import DepthTwin
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
COLLECTIONS = [ROOT / f"docs/evals/geometry_selector/clutter/cluttered_seen_s{s}x5.npz" for s in (1600, 1605)]


def twin_scores(path: Path) -> np.ndarray:
    """(scenes, 4) the twin's lift fraction of each saved turned grasp of one collection."""
    torch.set_num_threads(1)
    data = dict(np.load(path))
    _, _, world_cfg = load_policy(None)
    depths = rendered_depths(data, world_cfg)
    out = np.zeros(data["lifted"].shape)
    start = time.perf_counter()
    with GraspWorld(world_cfg, str(data["objects"]), seed=0) as world, DepthTwin(None, world_cfg) as twin:
        camera = world.camera  # the protocol's camera does not move (no pose jitter)
        for i, (depth, grasps) in enumerate(zip(depths, data["grasp"])):
            commands = [GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9]))) for g in grasps]
            out[i] = twin.scores(depth, camera.intrinsics, camera.T_world_camera, commands)
            if i % 20 == 0:
                print(f"{path.name}: {i + 1}/{len(depths)} ({(time.perf_counter() - start) / (i + 1):.1f} s/scene)")
    return out


def sign_test(gained: int, lost: int) -> float:
    n = gained + lost
    return min(1.0, 2 * sum(math.comb(n, j) for j in range(min(gained, lost) + 1)) / 2**n) if n else 1.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    with ProcessPoolExecutor(args.workers) as pool:
        twins = list(pool.map(twin_scores, COLLECTIONS))
    np.savez_compressed(HERE / "twin_clutter_s1600x10.npz", twin=np.concatenate(twins))
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    twin_total = shipped_total = gained = lost = 0
    for path, twin in zip(COLLECTIONS, twins):
        data = np.load(path)
        x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
        score = selector.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
        rows, outcome = np.arange(len(score)), data["lifted"]
        by_twin = outcome[rows, (twin + TWIN_TIE_WEIGHT * score).argmax(1)]
        by_selector = outcome[rows, score.argmax(1)]
        twin_total, shipped_total = twin_total + by_twin.sum(), shipped_total + by_selector.sum()
        gained, lost = gained + (by_twin & ~by_selector).sum(), lost + (by_selector & ~by_twin).sum()
    p_value = sign_test(int(gained), int(lost))
    report = {
        "scenes": int(sum(len(t) for t in twins)),
        "twin_first": int(twin_total),
        "shipped_selector": int(shipped_total),
        "gained": int(gained),
        "lost": int(lost),
        "sign_test_p": p_value,
        "decision": "twin off in clutter" if lost > gained and p_value < 0.05 else "twin stays on in clutter",
    }
    print(json.dumps(report, indent=1))
    (HERE / "twin_clutter.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
