"""A picture of real scenes beside their depth twins (shipped twin, then with mirror_under), for
mugs whose four turned grasps all score 0 in the twin and lift on the real scene (2026-12-02).

    python docs/evals/not_shipped/twin_search/render_twins.py seen 8 162 230   # writes twin_vs_real.png
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_sim import depth_twin
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


def shot(client, target) -> np.ndarray:
    """A 256 px view from 35 cm away, above and to the side of target."""
    view = client.computeViewMatrix([target[0] + 0.25, target[1] - 0.25, 0.22], list(target), [0, 0, 1])
    projection = client.computeProjectionMatrixFOV(50, 1.0, 0.01, 2)
    rgba = client.getCameraImage(256, 256, view, projection, renderer=client.ER_TINY_RENDERER)[2]
    return np.asarray(rgba, dtype=np.uint8).reshape(256, 256, 4)[:, :, :3]


def main() -> None:
    objects, scenes = sys.argv[1], {int(s) for s in sys.argv[2:]}
    _, _, world_cfg = load_policy(None)
    data = np.load(ROOT / f"docs/evals/heldout_1900/single_{objects}_s1900x15.npz")
    cfg = EvalConfig("single", objects, len(data["seed"]), 15, 1900, world=world_cfg)
    rows = []
    with GraspWorld(world_cfg, objects, seed=EVAL_SEED_BASE) as world, depth_twin.DepthTwin(None, world_cfg) as twin:
        camera = world.camera
        for i, attempt in enumerate(protocol_attempts(world, cfg)):
            if i not in scenes:
                continue
            position = world.client.getBasePositionAndOrientation(world.objects[0].body)[0]
            target = [position[0], position[1], 0.03]
            images = [shot(world.client, target)]
            points = depth_twin.table_points(attempt.depth, camera.intrinsics, camera.T_world_camera)
            regions = depth_twin.object_regions(points, twin.config)
            g = data["grasp"][i][0]
            command = GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9])))
            surface = depth_twin._surface_point(attempt.depth, camera.intrinsics, camera.T_world_camera, command)
            for mirror in (False, True):
                with tempfile.TemporaryDirectory() as folder:
                    pieces = [depth_twin.convex_pieces(r, 0.005, 0.04, mirror) for r in regions]
                    meshes = [depth_twin._RegionMeshes(p, Path(folder) / str(n)) for n, p in enumerate(pieces)]
                    twin._build(meshes, surface)
                    images.append(shot(twin.world.client, target))
            rows.append(np.concatenate(images, 1))
    Image.fromarray(np.concatenate(rows, 0)).save(HERE / "twin_vs_real.png")


if __name__ == "__main__":
    main()
