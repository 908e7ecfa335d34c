"""Scenes on the table: objects dropped and settled, seeded and reproducible.

The table top is the world plane z = 0; the workspace is centred on the world origin. A scene
is fully determined by (object set, kind, object count, layout, seed): the same arguments give
the same objects at the same settled poses.

Layouts: "scattered" (the default, every evaluation and training scene) drops the objects over
the whole clutter square; "pile" is VGN's pile (Breyer et al. 2020, clutter removal benchmark):
the objects are dropped one after another into an open box at a random spot on the table, and
the box is then taken away so that they slump into a pile.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from pa_grasp_sim.convex_parts import convex_parts
from pa_grasp_sim.objects import ObjectSet, ObjectSetError, ObjectSpec, mesh_vertices

LAYOUTS = ("scattered", "pile")


@dataclass
class SceneConfig:
    single_radius_m: float = 0.08  # single objects land within this radius of the centre
    clutter_half_extent_m: float = 0.14  # cluttered objects land in this square (+ spill)
    drop_height_m: float = 0.03  # above the previous objects' top
    settle_max_steps: int = 400
    settle_velocity: float = 0.02  # m/s and rad/s: below this everything is at rest
    workspace_half_extent_m: float = 0.28  # objects that roll further are removed
    layout: str = "scattered"  # one of LAYOUTS: "scattered" over the clutter square, or a "pile"
    # The pile's box, inner side, 18 cm: dropped into it at random, 5 objects of 3-16 cm (typically
    # 7-11 cm) land mostly on one another and stand ~0.35 m high; without the box they slump into
    # a pile (0.17 m between objects on average vs 0.21 m scattered; 60 scenes, seen + novel),
    # and the largest fit lying flat. In a 16 cm box they stand as a ~0.43 m tower whose fall
    # spreads them as far and drops more of them off the table (3.9 of 5 kept vs 4.1). The box
    # lands at a random spot inside the clutter square.
    pile_box_inner_m: float = 0.18

    def check(self) -> None:
        """ValueError naming the first setting a scene cannot be built with (build_scene calls
        it: callers adjust a default config in place, e.g. the report's --clutter-layout)."""
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown scene layout {self.layout!r}; known: {', '.join(LAYOUTS)}")
        if self.layout == "pile" and not 0.0 < self.pile_box_inner_m <= 2 * self.clutter_half_extent_m:
            raise ValueError(
                f"the pile's box ({self.pile_box_inner_m:g} m inside) must fit in the clutter square "
                f"({2 * self.clutter_half_extent_m:g} m)"
            )


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
    """Drop `count` objects and settle: one at a time for a single object, in layers for a
    scattered clutter, one after another into a box for a pile (config.layout). Objects that
    leave the workspace are removed. Returns the placed objects."""
    config.check()
    if count < 1:
        raise ValueError(f"a scene needs at least one object, got {count}")
    specs = object_set.sample(rng, count)
    if config.layout == "pile":
        placed = _drop_pile(client, specs, rng, config)
    else:
        placed = _drop_scattered(client, specs, rng, config)
    kept = []
    for p in placed:
        if outside_workspace(client, p.body, config):
            client.removeBody(p.body)
            continue
        p.rest_position = np.asarray(client.getBasePositionAndOrientation(p.body)[0])
        kept.append(p)
    return kept


def _drop_scattered(client, specs: list[ObjectSpec], rng: np.random.Generator, config: SceneConfig):
    count = len(specs)
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
    return placed


PILE_WALL_THICKNESS_M = 0.01
PILE_WALL_HEIGHT_M = 0.6  # 5 objects stand up to ~0.45 m high in the box
PILE_WALL_FRICTION = 0.0  # smooth walls hold nothing up: removing them drops nothing from mid-air
PILE_ORIENTATION_DRAWS = 10


def _drop_pile(client, specs: list[ObjectSpec], rng: np.random.Generator, config: SceneConfig):
    """VGN's pile: an open box (four thin static walls) at a random spot, the objects dropped into
    it one after another, each settled before the next; then the walls are removed and the pile
    settles again. The walls touch only the objects: bodies already in the simulation (the table,
    a parked hand or arm) never collide with them."""
    inner = config.pile_box_inner_m
    centre = rng.uniform(-1.0, 1.0, size=2) * (config.clutter_half_extent_m - 0.5 * inner)
    others = [client.getBodyUniqueId(i) for i in range(client.getNumBodies())]
    walls = _pile_walls(client, centre, inner)
    for other in others:
        for link in range(-1, client.getNumJoints(other)):
            client.setCollisionFilterPair(walls, other, -1, link, 0)
    placed: list[PlacedObject] = []
    top = 0.0
    half = 0.5 * inner
    for spec in specs:
        xy = centre + rng.uniform(-half, half, size=2)
        z = top + config.drop_height_m + 0.5 * max(spec.extent, 0.06)
        body = create_body(client, spec, [xy[0], xy[1], z], random_orientation(rng))
        _fit_in_box(client, body, centre, inner, top + config.drop_height_m, rng)
        placed.append(PlacedObject(body, spec, np.zeros(3)))
        settle(client, [p.body for p in placed], config)
        top = max(client.getAABB(p.body)[1][2] for p in placed)
    client.removeBody(walls)
    settle(client, [p.body for p in placed], config)
    return placed


def _fit_in_box(client, body: int, centre, inner: float, bottom: float, rng: np.random.Generator) -> None:
    """Move a new object to start inside the box and `bottom` above the table (above the pile):
    never in a wall or in another object. An orientation too wide for the box is drawn again (the
    narrowest of PILE_ORIENTATION_DRAWS is kept; still wider than the box, it is centred)."""
    pos, quat = client.getBasePositionAndOrientation(body)
    best = (math.inf, quat)
    for _ in range(PILE_ORIENTATION_DRAWS):
        lo, hi = client.getAABB(body)
        width = max(hi[0] - lo[0], hi[1] - lo[1])
        if width < best[0]:
            best = (width, quat)
        if width < inner:
            break
        quat = random_orientation(rng)
        client.resetBasePositionAndOrientation(body, pos, quat)
    client.resetBasePositionAndOrientation(body, pos, best[1])
    lo, hi = (np.asarray(v) for v in client.getAABB(body))
    shift = np.zeros(3)
    for k in range(2):
        low, high = centre[k] - 0.5 * inner, centre[k] + 0.5 * inner
        if hi[k] - lo[k] >= inner:
            shift[k] = centre[k] - 0.5 * (lo[k] + hi[k])
        else:
            shift[k] = max(low - lo[k], 0.0) + min(high - hi[k], 0.0)
    shift[2] = bottom - lo[2]
    client.resetBasePositionAndOrientation(body, (np.asarray(pos) + shift).tolist(), best[1])


def _pile_walls(client, centre, inner: float) -> int:
    """One static body of four walls around a square of side `inner` centred on `centre`."""
    t, height = PILE_WALL_THICKNESS_M, PILE_WALL_HEIGHT_M
    offset = 0.5 * (inner + t)
    along = 0.5 * inner + t  # the walls overlap at the corners: no gap
    half_extents = [[t / 2, along, height / 2]] * 2 + [[along, t / 2, height / 2]] * 2
    positions = [[offset, 0, 0], [-offset, 0, 0], [0, offset, 0], [0, -offset, 0]]
    shape = client.createCollisionShapeArray(
        [client.GEOM_BOX] * 4, halfExtents=half_extents, collisionFramePositions=positions
    )
    walls = client.createMultiBody(0, shape, -1, [float(centre[0]), float(centre[1]), height / 2])
    client.changeDynamics(walls, -1, lateralFriction=PILE_WALL_FRICTION)
    return walls


def outside_workspace(client, body: int, config: SceneConfig) -> bool:
    """Whether `body` rolled out of the workspace square or fell below the table top."""
    # Judge by the bounding box: a mesh's origin need not lie inside it.
    lo, hi = client.getAABB(body)
    centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
    return bool(np.max(np.abs(centre[:2])) > config.workspace_half_extent_m or hi[2] < 0.0)
