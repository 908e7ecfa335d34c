"""Where the shipped twin lifts none of the four turned grasps, does a lighter twin tell them
apart? (exploration, 2026-12-02) The twin holds 0.2 kg; mugs and random_urdfs whose grasps all
score 0 often lift on the real scene, and a twin of 0.05 kg holds many of those grasps. This
scores the four grasps of every all-zero scene of a 1900 set with TwinConfig(mass_kg=M).

    python docs/evals/not_shipped/twin_search/light_twin_zeros.py seen|novel --mass-kg 0.05   # ~3 min
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.selector_cli import rendered_depths
from pa_grasp_sim.depth_twin import DepthTwin, TwinConfig
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("objects", choices=["seen", "novel"])
    p.add_argument("--mass-kg", type=float, default=0.05)
    args = p.parse_args()
    torch.set_num_threads(1)
    base = ROOT / f"docs/evals/heldout_1900/single_{args.objects}_s1900x15"
    data = dict(np.load(f"{base}.npz"))
    zeros = np.flatnonzero(np.load(f"{base}_twin.npz")["twin"].max(1) == 0)
    _, _, world_cfg = load_policy(None)
    depths = [rendered_depths(data, world_cfg)[i] for i in zeros]
    out = np.zeros((len(zeros), 4))
    with (
        GraspWorld(world_cfg, str(data["objects"]), seed=0) as world,
        DepthTwin(TwinConfig(mass_kg=args.mass_kg), world_cfg) as twin,
    ):
        camera = world.camera
        for n, (i, depth) in enumerate(zip(zeros, depths)):
            commands = [GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9]))) for g in data["grasp"][i]]
            out[n] = twin.scores(depth, camera.intrinsics, camera.T_world_camera, commands)
    np.savez_compressed(HERE / f"light_zeros_{args.objects}_{args.mass_kg:g}kg.npz", scene=zeros, twin=out)


if __name__ == "__main__":
    main()
