"""When no turned grasp is sure in the depth twin, do other candidates find a sure one?
(measurement, 2026-12-02, twenty-third session)

On the fresh four-grasp sets of seeds 1900-1914 (docs/evals/heldout_1900), the served choice
(twin first, selector breaks ties) fails mostly where the best of the four turned grasps scores
below 5/5 in the twin: seen, 173 of 600 scenes pick such a grasp and 80 of them fail; 47 failing
scenes have another turn that lifts. This script rebuilds exactly those scenes (same protocol
attempts) and, for each, makes extra candidate grasps:
  - "sample": the zoom loop with sampled (not modal) actions on each turned image, 2 per turn
    (torch generator seeded by scene);
  - "yaw90": each of the four modal grasps with its yaw +-90 degrees;
scores each in the shipped depth twin (5 executions) and executes each once on the real scene
(restored before each). It saves everything for choosing a rule offline.

    python docs/evals/not_shipped/twin_search/search_candidates.py seen   # ~40 min, one core
    python docs/evals/not_shipped/twin_search/search_candidates.py novel
"""

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.turn_selection import TURNS, run_turned, wrap_angle
from pa_grasp_policy.zoom_env import result_to_command
from pa_grasp_sim.depth_twin import DepthTwin
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
SAMPLES_PER_TURN = 2
KINDS = ["sample"] * (SAMPLES_PER_TURN * TURNS) + ["yaw90"] * (2 * TURNS)


def as_row(c: GraspCommand) -> list[float]:
    return [c.u, c.v, c.roll, c.pitch, c.yaw, c.spread, *c.fingers]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("objects", choices=["seen", "novel"])
    args = p.parse_args()
    torch.set_num_threads(1)
    base = ROOT / f"docs/evals/heldout_1900/single_{args.objects}_s1900x15"
    data = np.load(f"{base}.npz")
    twin4 = np.load(f"{base}_twin.npz")["twin"]
    open_scenes = set(np.flatnonzero(twin4.max(1) < 1.0).tolist())
    print(f"{len(open_scenes)} of {len(twin4)} scenes have no turned grasp at 5/5 in the twin", flush=True)
    policy, zoom_cfg, world_cfg = load_policy(None)
    cfg = EvalConfig("single", args.objects, len(data["seed"]), 15, 1900, world=world_cfg)
    out = {"scene": [], "grasp": [], "twin": [], "lifted": []}
    start = time.perf_counter()
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world, DepthTwin(None, world_cfg) as twin:
        for i, attempt in enumerate(protocol_attempts(world, cfg)):
            assert attempt.seed == data["seed"][i]
            if i not in open_scenes:
                continue
            snapshot = world.snapshot()
            commands = []
            generator = torch.Generator().manual_seed(int(i))
            for k in range(TURNS):
                for _ in range(SAMPLES_PER_TURN):
                    run = run_turned(attempt.depth, policy, zoom_cfg, k, act=_sampling_actor(policy, generator))
                    commands.append(result_to_command(run.result))
            for g in data["grasp"][i]:
                modal = GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9])))
                commands += [replace(modal, yaw=wrap_angle(modal.yaw + s * math.pi / 2)) for s in (1, -1)]
            scores, lifted = twin_and_real(world, twin, attempt.depth, snapshot, commands)
            out["scene"].append(i)
            out["grasp"].append([as_row(c) for c in commands])
            out["twin"].append(scores)
            out["lifted"].append(lifted)
            n = len(out["scene"])
            if n % 10 == 0:
                best = np.array([t.max() for t in out["twin"]])
                print(
                    f"{n}/{len(open_scenes)} ({(time.perf_counter() - start) / n:.1f} s/scene), best extra twin 1.0 in"
                    f" {(best >= 1).sum()}, extra lifts by any {np.array(out['lifted']).any(1).sum()}",
                    flush=True,
                )
                save(HERE / f"search_{args.objects}_s1900x15.npz", out)
    save(HERE / f"search_{args.objects}_s1900x15.npz", out)


def twin_and_real(world, twin, depth, snapshot, commands) -> tuple[np.ndarray, list[bool]]:
    """Each command's twin score, and whether it lifts once on the real scene (restored before each)."""
    scores = twin.scores(depth, world.camera.intrinsics, world.camera.T_world_camera, commands)
    lifted = []
    for c in commands:
        world.restore(snapshot)
        lifted.append(bool(world.execute(c, depth).success))
    return scores, lifted


def _sampling_actor(policy, generator):
    act = policy.actor(deterministic=False, generator=generator)

    def with_features(obs):  # run_turned computes grasp_features from the last step's extras
        action, extra = act(obs)
        return action, {**extra, "column": np.zeros(1), "pooled": np.zeros(1), "lp_pos": extra["log_prob"]}

    return with_features


def save(path: Path, out: dict) -> None:
    np.savez_compressed(path, kinds=np.array(KINDS), **{k: np.array(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
