"""Does another twin choose better? (exploration, 2026-12-02, twenty-third session)

Rescores every saved turned grasp of a four-grasp collection with a twin of other settings
(TwinConfig: --cell-m, --mirror-under) and writes the twin scores beside this
script. Finer cells: the twin's columns are whole 5 mm cells, so its footprint is up to a cell
wider than the points seen. Mirror under: a lying cylinder's unseen underside completed by
symmetry instead of solid to the table (mugs lying down slip out of the twin's hand and lift on
the real scene).

    python docs/evals/not_shipped/twin_search/twin_cells.py COLLECTION.npz --mirror-under   # ~25 min per 600 scenes
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.selector_cli import rendered_depths
from pa_grasp_sim.depth_twin import DepthTwin, TwinConfig
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("collection", type=Path)
    p.add_argument("--cell-m", type=float, default=0.005)
    p.add_argument("--mirror-under", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = dict(np.load(args.collection))
    _, _, world_cfg = load_policy(None)
    depths = rendered_depths(data, world_cfg)
    out = np.zeros(data["lifted"].shape)
    start = time.perf_counter()
    config = TwinConfig(cell_m=args.cell_m, mirror_under=args.mirror_under)
    tag = f"cell{args.cell_m * 1000:g}mm" + ("_mirror" if args.mirror_under else "")
    target = HERE / f"{args.collection.stem}_twin_{tag}.npz"
    with GraspWorld(world_cfg, str(data["objects"]), seed=0) as world, DepthTwin(config, world_cfg) as twin:
        camera = world.camera
        for i, (depth, grasps) in enumerate(zip(depths, data["grasp"])):
            commands = [GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9]))) for g in grasps]
            out[i] = twin.scores(depth, camera.intrinsics, camera.T_world_camera, commands)
            if (i + 1) % 50 == 0:
                print(f"{i + 1}/{len(depths)} ({(time.perf_counter() - start) / (i + 1):.1f} s/scene)", flush=True)
                np.savez_compressed(target, twin=out[: i + 1])
    np.savez_compressed(target, twin=out)


if __name__ == "__main__":
    main()
