"""Can a physics twin built from the depth image alone tell which turned grasp will lift?
(analysis only, 2026-12-01, twenty-first session)

For each scene of a four-grasp collection the object is rebuilt from the depth image only: the
points more than 3 mm above the table become columns standing on the table (5 mm cells, as tall
as the highest point seen in each; what is under an overhang is taken as solid), grouped into
convex pieces of --tile (4 cm tested), 16 pieces to a compound shape, the compounds joined by
fixed links into one rigid body of 0.2 kg with friction 0.9 (the object set's defaults; the true
ones are unknown to a robot). Each of the four saved turned grasps is executed on that twin,
itself and with the four SMALL_ERRORS (--executions 5), in the same floating-hand world as the
real objects. Written: the twin's outcomes per grasp (scenes, 4, executions), to compare with
what the grasps did on the real objects. (The first version, twin_hull_s1200x15.npz, was one
convex hull of the points and their shadows; concave objects became far too big.)

    python docs/evals/not_shipped/twin/twin_check.py COLLECTION.npz --scenes N --tile 0.04 --out F.npz
"""

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import ConvexHull

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.selector_cli import rendered_depths
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.grasp_probe import with_small_errors
from pa_grasp_sim.scene import PlacedObject
from pa_grasp_sim.world import GraspWorld

ABOVE_TABLE_M = 0.003
MAX_POINTS = 5000
CELL_M = 0.005
TILE_M = 0.04


def twin_points(depth: np.ndarray, world: GraspWorld) -> np.ndarray:
    """World points of the object's seen surface and their shadows on the table (z = 0)."""
    intr, T = world.camera.intrinsics, world.camera.T_world_camera
    v, u = np.nonzero(np.isfinite(depth) & (depth > 0))
    d = depth[v, u]
    p_cam = np.stack([(u - intr.cx) * d / intr.fx, (v - intr.cy) * d / intr.fy, d], -1)
    p = p_cam @ T[:3, :3].T + T[:3, 3]
    top = p[p[:, 2] > ABOVE_TABLE_M]
    if len(top) > MAX_POINTS:
        top = top[np.random.default_rng(0).choice(len(top), MAX_POINTS, replace=False)]
    return np.concatenate([top, top * [1, 1, 0]])


def twin_pieces(points: np.ndarray, cell_m: float, tile_m: float) -> list[np.ndarray]:
    """Convex pieces of the twin: the seen points binned into cell_m columns standing on the
    table (as tall as the highest point in each), grouped by tile_m tiles, each tile one convex
    hull of its columns' top and bottom corners. Concave objects stay concave seen from above at
    the tile's resolution; what is under an overhang is taken as solid."""
    top = points[points[:, 2] > 0]
    cells = np.floor(top[:, :2] / cell_m).astype(int)
    keys, inverse = np.unique(cells, axis=0, return_inverse=True)
    height = np.zeros(len(keys))
    np.maximum.at(height, inverse.ravel(), top[:, 2])
    corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    tiles = np.floor(keys * cell_m / tile_m + 1e-9).astype(int)
    pieces = []
    for tile in np.unique(tiles, axis=0):
        mine = np.all(tiles == tile, axis=1)
        xy = ((keys[mine][:, None, :] + corners) * cell_m).reshape(-1, 2)
        h = np.repeat(height[mine], 4)
        pieces.append(np.concatenate([np.c_[xy, h], np.c_[xy, np.zeros_like(h)]]))
    return pieces


COMPOUND_MAX = 16  # children per pybullet compound shape (its shared-memory API's limit)


def _piece_files(pieces: list[np.ndarray], centre: np.ndarray, folder: Path) -> list[str]:
    """Each piece as a convex OBJ file (pybullet builds compound meshes only from files)."""
    names = []
    for i, piece in enumerate(pieces):
        local = piece - centre
        hull = ConvexHull(local)
        lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in local[hull.vertices]]
        index = {v: n + 1 for n, v in enumerate(hull.vertices)}
        lines += [f"f {index[a]} {index[b]} {index[c]}" for a, b, c in hull.simplices]
        name = folder / f"piece{i}.obj"
        name.write_text("\n".join(lines) + "\n")
        names.append(str(name))
    return names


def build_twin(world: GraspWorld, points: np.ndarray, cell_m: float = CELL_M, tile_m: float = TILE_M) -> None:
    """The twin in a fresh world: one body of fixed convex pieces (twin_pieces), 0.2 kg, the
    pieces grouped 16 to a compound shape and the compounds joined by fixed links."""
    c = world.client
    world._build_static()
    pieces = twin_pieces(points, cell_m, tile_m)
    centre = np.concatenate(pieces).mean(0) * [1, 1, 0]
    with tempfile.TemporaryDirectory() as folder:
        files = _piece_files(pieces, centre, Path(folder))
        groups = [files[i : i + COMPOUND_MAX] for i in range(0, len(files), COMPOUND_MAX)]
        shapes = [c.createCollisionShapeArray([c.GEOM_MESH] * len(g), fileNames=g) for g in groups]
    mass = 0.2 / len(shapes)
    links = len(shapes) - 1
    body = c.createMultiBody(
        mass,
        shapes[0],
        -1,
        centre.tolist(),
        [0, 0, 0, 1],
        linkMasses=[mass] * links,
        linkCollisionShapeIndices=shapes[1:],
        linkVisualShapeIndices=[-1] * links,
        linkPositions=[[0, 0, 0]] * links,
        linkOrientations=[[0, 0, 0, 1]] * links,
        linkInertialFramePositions=[[0, 0, 0]] * links,
        linkInertialFrameOrientations=[[0, 0, 0, 1]] * links,
        linkParentIndices=[0] * links,
        linkJointTypes=[c.JOINT_FIXED] * links,
        linkJointAxis=[[0, 0, 1]] * links,
    )
    for link in range(-1, links):
        c.changeDynamics(body, link, lateralFriction=0.9, rollingFriction=0.0005, spinningFriction=0.001)
    for _ in range(10):
        c.stepSimulation()
    world.objects = [PlacedObject(body, None, np.asarray(c.getBasePositionAndOrientation(body)[0]))]


def run(job) -> np.ndarray:
    path, rows, executions, tile_m = job
    torch.set_num_threads(1)
    data = dict(np.load(path))
    _, _, world_cfg = load_policy(None)
    depths = rendered_depths({**data, "seed": data["seed"][: rows[-1] + 1]}, world_cfg)
    out = np.zeros((len(rows), data["grasp"].shape[1], executions))
    start = time.perf_counter()
    with GraspWorld(world_cfg, str(data["objects"]), seed=0) as world:
        world.camera.set_pose(world.camera.T_world_camera)
        for n, i in enumerate(rows):
            points = twin_points(depths[i], world)
            for k, g in enumerate(data["grasp"][i]):
                command = GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9])))
                copies = [command, *with_small_errors(command, depths[i].shape)][:executions]
                for e, copy in enumerate(copies):
                    build_twin(world, points, tile_m=tile_m)
                    out[n, k, e] = world.execute(copy, depths[i]).success
            if n % 25 == 0:
                print(
                    f"{path}: {n + 1}/{len(rows)} ({(time.perf_counter() - start) / (n + 1):.2f} s/scene)", flush=True
                )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("collection")
    p.add_argument("--scenes", type=int, default=600)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--executions", type=int, default=5, help="1: the grasp only; 5: and its SMALL_ERRORS")
    p.add_argument("--tile", type=float, default=TILE_M, help="size of the twin's convex pieces (m)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    rows = np.array_split(np.arange(args.scenes), args.workers)
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(run, [(args.collection, r, args.executions, args.tile) for r in rows]))
    np.savez(args.out, twin=np.concatenate(parts), rows=np.arange(args.scenes))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
