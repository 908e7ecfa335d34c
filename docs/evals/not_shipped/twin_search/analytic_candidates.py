"""Analytic top-down grasps as extra twin candidates where no turned grasp is sure in the twin
(measurement, 2026-12-02, twenty-third session).

Same scenes as search_candidates.py (seeds 1900-1914, the scenes whose four turned grasps all
score below 5/5 in the depth twin). For each: the heuristic baseline's grasp (centre of the
highest object's top, fingers across its narrow side) with spread 0 and pi/3, each also turned
by 90 degrees in yaw (4 candidates), scored in the shipped twin and executed once on the real
scene.

    python docs/evals/not_shipped/twin_search/analytic_candidates.py seen|novel   # ~3 min
"""

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from search_candidates import twin_and_real

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.turn_selection import wrap_angle
from pa_grasp_sim.baselines import heuristic_grasp
from pa_grasp_sim.depth_twin import DepthTwin
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
NAMES = ["spread0", "spread0_yaw90", "spread60", "spread60_yaw90"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("objects", choices=["seen", "novel"])
    args = p.parse_args()
    base = ROOT / f"docs/evals/heldout_1900/single_{args.objects}_s1900x15"
    seeds = np.load(f"{base}.npz")["seed"]
    twin4 = np.load(f"{base}_twin.npz")["twin"]
    open_scenes = set(np.flatnonzero(twin4.max(1) < 1.0).tolist())
    _, _, world_cfg = load_policy(None)
    cfg = EvalConfig("single", args.objects, len(seeds), 15, 1900, world=world_cfg)
    out = {"scene": [], "family": [], "twin": [], "lifted": []}
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world, DepthTwin(None, world_cfg) as twin:
        camera = world.camera
        for i, attempt in enumerate(protocol_attempts(world, cfg)):
            if i not in open_scenes:
                continue
            snapshot = world.snapshot()
            h = heuristic_grasp(attempt.depth, camera.intrinsics, camera.T_world_camera)
            commands = []
            for spread in (0.0, math.pi / 3):
                for turn in (0.0, math.pi / 2):
                    commands.append(replace(h, spread=spread, yaw=wrap_angle(h.yaw + turn)))
            scores, lifted = twin_and_real(world, twin, attempt.depth, snapshot, commands)
            out["scene"].append(i)
            out["family"].append(attempt.placed[0].spec.family)
            out["twin"].append(scores)
            out["lifted"].append(lifted)
    np.savez_compressed(
        HERE / f"analytic_{args.objects}_s1900x15.npz",
        names=np.array(NAMES),
        **{k: np.array(v) for k, v in out.items()},
    )
    print(f"{len(out['scene'])} scenes; lifted by candidate {np.array(out['lifted']).sum(0).tolist()} ({NAMES})")


if __name__ == "__main__":
    main()
