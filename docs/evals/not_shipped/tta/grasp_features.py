"""The policy's own features at its grasp step, for the scenes tta_check.py executed (analysis only).

Re-runs the four quarter-turned zoom loops of tta_check.py on the same scenes (deterministic, no
grasp executed) and saves, per scene and turn, what the network computed at its grasp step: the
hypercolumn at the grasp pixel (all pyramid levels), the pooled bottleneck, the position
log-probability of each step, the zoom count, the grasp's rpy and hand joints. probe.py asks
whether these features tell which of the four grasps lifts.

    python docs/evals/not_shipped/tta/grasp_features.py --attempts 300 --seeds 10 --first-seed 300 \
        --out F.npz
"""

import argparse

import numpy as np

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.turn_selection import feature_actor
from pa_grasp_policy.zoom import run_zoom_loop
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld


def features_of(result) -> dict:
    """What the network computed at the grasp step of one zoom loop run with `feature_actor`."""
    last = result.steps[-1].extra
    lps = [step.extra["lp_pos"] for step in result.steps]
    return {
        "column": last["column"],
        "pooled": last["pooled"],
        "lp_pos": [sum(lps), lps[-1], min(lps)],
        "zooms": result.n_zooms,
        "rpy": result.grasp_rpy,
        "joints": result.hand_joints,
        "uv": result.grasp_uv,  # in the image the loop saw
    }


def save_features(path: str, scenes: list[list[dict]], seeds: list[int]) -> None:
    """Per scene, the features of its four turned runs, as (scenes, 4, ...) arrays."""
    arrays = {key: np.array([[turn[key] for turn in scene] for scene in scenes]) for key in scenes[0][0]}
    np.savez_compressed(path, seed=np.array(seeds), **arrays)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=300)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=300)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    policy, zoom_cfg, world_cfg = load_policy(a.checkpoint)
    cfg = EvalConfig("single", a.objects, a.attempts, a.seeds, a.first_seed, world=world_cfg)
    act = feature_actor(policy)
    scenes, seeds = [], []
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world:
        for attempt in protocol_attempts(world, cfg):
            turns = [np.ascontiguousarray(np.rot90(attempt.depth, k)) for k in range(4)]
            scenes.append([features_of(run_zoom_loop(depth, act, zoom_cfg)) for depth in turns])
            seeds.append(attempt.seed)
            if len(scenes) % 20 == 0:
                print(len(scenes), flush=True)
    save_features(a.out, scenes, seeds)


if __name__ == "__main__":
    main()
