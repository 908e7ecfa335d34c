"""Scenes on the table: objects dropped and settled, seeded and reproducible.

The table top is the world plane z = 0; the workspace is centred on the world origin. A scene
is fully determined by (object set, kind, object count, seed): the same arguments give the same
objects at the same settled poses.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from pa_grasp_sim.convex_parts import convex_parts
from pa_grasp_sim.objects import ObjectSet, ObjectSetError, ObjectSpec, mesh_vertices


@dataclass
class SceneConfig:
    single_radius_m: float = 0.08  # single objects land within this radius of the centre
    clutter_half_extent_m: float = 0.14  # cluttered objects land in this square (+ spill)
    drop_height_m: float = 0.03  # above the previous objects' top
    settle_max_steps: int = 400
    settle_velocity: float = 0.02  # m/s and rad/s: below this everything is at rest
    workspace_half_extent_m: float = 0.28  # objects that roll further are removed


@dataclass
class PlacedObject:
    body: int
    spec: ObjectSpec
    rest_position: np.ndarray


def create_body(client, spec: ObjectSpec, position, orientation) -> int:
    """Instantiate one object in `client`. Raises ObjectSetError for unusable files."""
    try:
        if spec.kind == "urdf":
            return client.loadURDF(spec.path, position, orientation, globalScaling=spec.scale)
        if spec.kind == "mesh":
            scale = [spec.scale] * 3
            version = os.stat(spec.path).st_mtime_ns
            # Checked before VHACD sees it; then parts, not one convex hull: holes and corners stay
            _check_reach(spec, _mesh_reach(spec.path, version) * spec.scale)
            parts = _collision_file(spec.path, version)
            col = client.createCollisionShape(client.GEOM_MESH, fileName=parts, meshScale=scale)
            vis = client.createVisualShape(client.GEOM_MESH, fileName=spec.path, meshScale=scale, rgbaColor=spec.color)
            body = client.createMultiBody(spec.mass, col, vis, position, orientation)
        elif spec.kind == "primitive":
            body = _primitive_body(client, spec, position, orientation)
        else:
            raise ObjectSetError(f"object '{spec.name}' has unknown kind '{spec.kind}'")
    except ObjectSetError:
        raise
    except Exception as exc:  # pybullet raises its own `error` for unreadable files
        raise ObjectSetError(f"cannot load object '{spec.name}' from '{spec.path}': {exc}") from exc
    if body < 0:
        raise ObjectSetError(f"cannot load object '{spec.name}' from '{spec.path}'")
    _check_size(client, body, spec, position)
    client.changeDynamics(body, -1, lateralFriction=spec.friction, rollingFriction=0.0005, spinningFriction=0.001)
    return body


MAX_OBJECT_REACH_M = 1.0  # a tabletop object's shape lies within this of its origin


def _check_size(client, body: int, spec: ObjectSpec, position) -> None:
    """ObjectSetError, naming the file, for a shape no tabletop object has: coordinates in other
    units, a mesh far from its origin, non-finite vertices (physics on it fails later, unnamed)."""
    lo, hi = (np.asarray(corner, dtype=float) for corner in client.getAABB(body))
    reach = float(np.max(np.abs(np.concatenate([lo, hi]) - np.tile(np.asarray(position, dtype=float), 2))))
    try:
        _check_reach(spec, reach)
    except ObjectSetError:
        client.removeBody(body)
        raise


# Read once per file version, not at every scene reset (a user's mesh may have 100k vertices).
@functools.lru_cache(maxsize=256)
def _mesh_reach(path: str, version: int) -> float:
    return float(np.max(np.abs(mesh_vertices(path))))


@functools.lru_cache(maxsize=256)
def _collision_file(path: str, version: int) -> str:
    return str(convex_parts(path))


def _check_reach(spec: ObjectSpec, reach: float) -> None:
    if not np.isfinite(reach) or reach > MAX_OBJECT_REACH_M:
        raise ObjectSetError(
            f"object '{spec.name}' from '{spec.path}' reaches {reach:.3g} m from its origin (a tabletop object stays"
            f" within {MAX_OBJECT_REACH_M:g} m): are its coordinates in another unit, or far from the origin?"
        )


def _primitive_body(client, spec: ObjectSpec, position, orientation) -> int:
    shapes, dims, positions, quats = [], [], [], []
    vis_kwargs = {"radii": [], "lengths": [], "halfExtents": []}
    for shape, d, pos, quat in spec.parts:
        shapes.append(
            {
                "box": client.GEOM_BOX,
                "sphere": client.GEOM_SPHERE,
                "cylinder": client.GEOM_CYLINDER,
                "capsule": client.GEOM_CAPSULE,
            }[shape]
        )
        radius = d[0] if shape in ("sphere", "cylinder", "capsule") else 0.0
        length = d[1] if shape in ("cylinder", "capsule") else 0.0
        half = list(d) if shape == "box" else [0.0, 0.0, 0.0]
        vis_kwargs["radii"].append(radius)
        vis_kwargs["lengths"].append(length)
        vis_kwargs["halfExtents"].append(half)
        dims.append(d)
        positions.append(list(pos))
        quats.append(list(quat))
    col = client.createCollisionShapeArray(
        shapes,
        radii=vis_kwargs["radii"],
        halfExtents=vis_kwargs["halfExtents"],
        lengths=vis_kwargs["lengths"],
        collisionFramePositions=positions,
        collisionFrameOrientations=quats,
    )
    vis = client.createVisualShapeArray(
        shapes,
        radii=vis_kwargs["radii"],
        halfExtents=vis_kwargs["halfExtents"],
        lengths=vis_kwargs["lengths"],
        visualFramePositions=positions,
        visualFrameOrientations=quats,
        rgbaColors=[list(spec.color)] * len(shapes),
    )
    return client.createMultiBody(spec.mass, col, vis, position, orientation)


def random_orientation(rng: np.random.Generator) -> list[float]:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return q.tolist()


def settle(client, bodies: list[int], config: SceneConfig) -> int:
    """Step until every body is at rest (or the step budget runs out); returns steps taken."""
    for step in range(1, config.settle_max_steps + 1):
        client.stepSimulation()
        if step % 10 == 0 and all(_at_rest(client, b, config.settle_velocity) for b in bodies):
            return step
    return config.settle_max_steps


def _at_rest(client, body: int, threshold: float) -> bool:
    lin, ang = client.getBaseVelocity(body)
    return max(abs(x) for x in lin) < threshold and max(abs(x) for x in ang) < 5 * threshold


def build_scene(
    client,
    object_set: ObjectSet,
    count: int,
    rng: np.random.Generator,
    config: SceneConfig,
):
    """Drop `count` objects (one at a time for a single object, in layers for clutter) and
    settle. Objects that leave the workspace are removed. Returns the placed objects."""
    if count < 1:
        raise ValueError(f"a scene needs at least one object, got {count}")
    specs = object_set.sample(rng, count)
    placed: list[PlacedObject] = []
    top = 0.0
    spread = config.single_radius_m if count == 1 else config.clutter_half_extent_m
    for i, spec in enumerate(specs):
        if count == 1:
            r, a = spread * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            xy = [r * math.cos(a), r * math.sin(a)]
        else:
            xy = rng.uniform(-spread, spread, size=2).tolist()
        z = top + config.drop_height_m + 0.5 * max(spec.extent, 0.06)
        body = create_body(client, spec, [xy[0], xy[1], z], random_orientation(rng))
        placed.append(PlacedObject(body, spec, np.zeros(3)))
        # Drop in small groups so a 30-object pile does not interpenetrate.
        if count == 1 or (i + 1) % 6 == 0 or i == count - 1:
            settle(client, [p.body for p in placed], config)
            top = max(client.getAABB(p.body)[1][2] for p in placed)
    kept = []
    for p in placed:
        if outside_workspace(client, p.body, config):
            client.removeBody(p.body)
            continue
        p.rest_position = np.asarray(client.getBasePositionAndOrientation(p.body)[0])
        kept.append(p)
    return kept


def outside_workspace(client, body: int, config: SceneConfig) -> bool:
    """Whether `body` rolled out of the workspace square or fell below the table top."""
    # Judge by the bounding box: a mesh's origin need not lie inside it.
    lo, hi = client.getAABB(body)
    centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
    return bool(np.max(np.abs(centre[:2])) > config.workspace_half_extent_m or hi[2] < 0.0)
