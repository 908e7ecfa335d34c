"""Larger execution errors in the depth twin for the turned grasps tied at a scene's best twin
score (exploration, 2026-12-06, twenty-eighth session).

The served choice is "twin first, ties by the shipped selector". On the fresh four-grasp sets of
seeds 2200-2214 a perfect tie-break among the grasps tied at the best twin score would lift 517
of 600 seen (served 503) and 504 of 600 novel (served 485). The twin's score counts five
executions (the grasp, yaw +-5 deg, pixel +1 in u or v); a grasp that also survives larger
errors should be the more robust one. This executes every tied grasp in the twin six more times:
yaw +-10 deg, pixel +-2 in u, +-2 in v, and saves each outcome.

    python docs/evals/tie_break/tie_extras.py docs/evals/heldout_2200/single_seen_s2200x15.npz [...]
"""

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.selector_cli import rendered_depths
from pa_grasp_sim.depth_twin import DepthTwin, TwinConfig
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.grasp_probe import perturbed
from pa_grasp_sim.world import GraspWorld

LARGER_ERRORS = (
    (0.0, 0.0, math.radians(10)),
    (0.0, 0.0, -math.radians(10)),
    (2.0, 0.0, 0.0),
    (-2.0, 0.0, 0.0),
    (0.0, 2.0, 0.0),
    (0.0, -2.0, 0.0),
)


def extra_outcomes(twin: DepthTwin, depth, intrinsics, T_table_camera, commands) -> np.ndarray:
    """(len(commands), len(LARGER_ERRORS)) bool: each command with each larger error, executed
    once in the twin (`twin` is made with executions=1, so a score is that one outcome)."""
    copies = [perturbed(c, error, depth.shape) for c in commands for error in LARGER_ERRORS]
    return twin.scores(depth, intrinsics, T_table_camera, copies).reshape(len(commands), -1) > 0.5


def run(path: Path) -> Path:
    torch.set_num_threads(1)
    data = dict(np.load(path))
    twin_score = np.load(path.with_name(path.stem + "_twin.npz"))["twin"]
    tied = twin_score == twin_score.max(1, keepdims=True)
    tied &= tied.sum(1, keepdims=True) > 1
    _, _, world_cfg = load_policy(None)
    depths = rendered_depths(data, world_cfg)
    extras = np.zeros((*tied.shape, len(LARGER_ERRORS)), bool)
    start = time.perf_counter()
    once = TwinConfig(executions=1)
    with GraspWorld(world_cfg, str(data["objects"]), seed=0) as world, DepthTwin(once, world_cfg) as twin:
        camera = world.camera
        for i in np.flatnonzero(tied.any(1)):
            turns = np.flatnonzero(tied[i])
            commands = [GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9]))) for g in data["grasp"][i, turns]]
            extras[i, turns] = extra_outcomes(twin, depths[i], camera.intrinsics, camera.T_world_camera, commands)
            if i % 25 == 0:
                print(f"{path.name}: scene {i + 1}/{len(depths)}, {time.perf_counter() - start:.0f} s", flush=True)
    out = Path(__file__).resolve().parent / (path.stem + "_tie_extras.npz")
    np.savez_compressed(out, tied=tied, extras=extras, errors=np.array(LARGER_ERRORS))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("collections", nargs="+", type=Path)
    args = p.parse_args()
    with ProcessPoolExecutor(len(args.collections)) as pool:
        for out in pool.map(run, args.collections):
            print("wrote", out)


if __name__ == "__main__":
    main()
