"""A physics twin of the scene built from one depth image, to try grasps on before executing one.

The robot knows only the depth image, so the twin is what the image shows: every connected
region more than `above_table_m` above the table becomes one rigid body of columns standing on
the table (as tall as the highest point seen in each `cell_m` cell; what is under an overhang is
taken as solid), grouped into convex pieces of `tile_m` (concave objects stay concave seen from
above at that resolution). Mass and friction are unknown to a robot: every body gets the object
set's defaults. A grasp is tried on the twin in the simulator's floating hand, itself and with
the small execution errors of `grasp_probe.SMALL_ERRORS`; the fraction that lifts is its twin
score. Choosing among the policy's candidate grasps by that score (pa_grasp_policy.planner) is not in the
paper: measured in docs/experiments.md at commit 0afafb4 ("A physics twin from the depth image").

Frames: `T_table_camera` is the camera's optical frame in a frame whose z = 0 plane is the table
top, z up (the simulator's world frame; on a robot, the base frame moved down to the table).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull

from pa_grasp_perception.grasp_command import GraspCommand, GraspInputError, command_palm_pose
from pa_grasp_perception.table_objects import ABOVE_TABLE_M, MIN_PIXELS, object_regions, table_points
from pa_grasp_sim.grasp_probe import with_small_errors
from pa_grasp_sim.objects import ObjectSpec
from pa_grasp_sim.scene import PlacedObject
from pa_grasp_sim.world import GraspWorld, WorldConfig

COMPOUND_MAX = 16  # children per pybullet compound shape (a limit of its shared-memory API)
_CORNERS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])


@dataclass
class TwinConfig:
    cell_m: float = 0.005  # column width
    tile_m: float = 0.04  # convex piece width: finer is closer to the image and slower
    above_table_m: float = ABOVE_TABLE_M  # what is higher than this above the table is an object
    min_pixels: int = MIN_PIXELS  # smaller regions are sensor noise, not objects
    mass_kg: float = 0.2  # per body (the object set's default)
    friction: float = 0.9  # the object set's default
    executions: int = 5  # the grasp itself, then its copies with SMALL_ERRORS
    # Pieces farther than this (in the table plane) from the grasp point are left out, so a
    # cluttered twin builds and runs in a fraction of the time; 0.3 m keeps every single object of
    # the object sets (at most ~0.24 m across) whole, whatever part of it is grasped.
    reach_m: float = 0.3
    # If True, what the camera cannot see under a region is completed by mirror symmetry: a column
    # whose top is in the upper half of its region's height stands not on the table but on the
    # top mirrored about mid-height (a lying cylinder or a ball gets its rounded underside back,
    # a box stays a box). False: every column stands on the table (what is unseen is solid).
    mirror_under: bool = False

    def __post_init__(self):
        for name in ("cell_m", "tile_m", "mass_kg", "friction", "reach_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TwinConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.tile_m < self.cell_m:
            raise ValueError(f"TwinConfig.tile_m ({self.tile_m}) must be at least cell_m ({self.cell_m})")
        if self.above_table_m < 0:
            raise ValueError(f"TwinConfig.above_table_m must be >= 0, got {self.above_table_m}")
        if not 1 <= self.executions <= 5:
            raise ValueError(f"TwinConfig.executions must be 1-5 (the grasp and up to 4 copies), got {self.executions}")


def convex_pieces(points: np.ndarray, cell_m: float, tile_m: float, mirror_under: bool = False) -> list[np.ndarray]:
    """Corner points of each convex piece of one region: columns of cell_m, as tall as the
    highest point in the cell, standing on the table (or with mirror_under on their top mirrored
    about the region's mid-height, see TwinConfig), grouped by tile_m tiles."""
    cells = np.floor(points[:, :2] / cell_m).astype(int)
    keys, inverse = np.unique(cells, axis=0, return_inverse=True)
    height = np.zeros(len(keys))
    np.maximum.at(height, inverse.ravel(), points[:, 2])
    top = height.max()
    # mirrored about mid-height where the top is above it; never higher than the column's top
    bottom = np.where(height > top / 2, top - height, 0.0) if mirror_under else np.zeros_like(height)
    tiles = np.floor(keys * cell_m / tile_m + 1e-9).astype(int)
    pieces = []
    for tile in np.unique(tiles, axis=0):
        mine = np.all(tiles == tile, axis=1)
        xy = ((keys[mine][:, None, :] + _CORNERS) * cell_m).reshape(-1, 2)
        h = np.repeat(height[mine], len(_CORNERS))
        b = np.repeat(bottom[mine], len(_CORNERS))
        pieces.append(np.concatenate([np.c_[xy, h], np.c_[xy, b]]))
    return pieces


class TwinBase:
    """What every twin shares: scoring and ranking grasps on the twin of one image. Subclasses
    run the executions: `DepthTwin` in its own physics world, `twin_workers.TwinPool` in worker
    processes, `parallel` at a time."""

    config: TwinConfig
    parallel = 1  # executions run at once
    executions_run = 0  # executions this twin ran in all (for benchmarks)

    def scores(
        self, depth: np.ndarray, intrinsics, T_table_camera: np.ndarray, commands: list[GraspCommand]
    ) -> np.ndarray:
        """The fraction of each command's executions (itself, then its SMALL_ERRORS copies) that
        lift something in the twin of this image. A command with no valid depth at its pixel,
        or an image with nothing above the table, scores 0."""
        ranking = self.ranking(depth, intrinsics, T_table_camera, commands)
        ranking.try_all()
        return np.array([ranking.score(i) for i in range(len(commands))])

    def ranking(
        self,
        depth: np.ndarray,
        intrinsics,
        T_table_camera: np.ndarray,
        commands: list[GraspCommand],
        before_each: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> TwinRanking:
        """The commands ranked by their scores (ties: the earlier command first), each tried only
        as often as the ranking needs (TwinRanking). `before_each` runs before every batch of
        `parallel` executions (e.g. to stop on a cancel); no batch starts after `deadline`
        (time.monotonic()), the ranking then goes by what was tried."""
        return TwinRanking(self, depth, intrinsics, T_table_camera, commands, before_each, deadline)

    def best_above(
        self,
        depth: np.ndarray,
        intrinsics,
        T_table_camera: np.ndarray,
        commands: list[GraspCommand],
        floor: float,
        before_each: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> tuple[int | None, float | None]:
        """(index, score) of the command with the highest score (the earlier on ties) if that
        score is above `floor`, else (None, None): what `scores` and an argmax would say, with
        each command tried only until it can no longer be the answer (TwinRanking.best_above).
        After `deadline` the score is the share of executions known to lift."""
        ranking = self.ranking(depth, intrinsics, T_table_camera, commands, before_each, deadline)
        best = ranking.best_above(floor)
        return (best, ranking.known_score(best)) if best is not None else (None, None)

    def _meshes(self, regions: list[np.ndarray], folder: Path) -> list[_RegionMeshes]:
        c = self.config
        return [
            _RegionMeshes(convex_pieces(r, c.cell_m, c.tile_m, c.mirror_under), folder / str(n))
            for n, r in enumerate(regions)
        ]

    def _lift_many(self, meshes: list[_RegionMeshes], jobs: list[tuple[np.ndarray, GraspCommand]]) -> list[bool]:
        """One execution of each (surface point, command) in a fresh twin: which lift something?"""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DepthTwin(TwinBase):
    """Owns one physics world (a floating hand, the table) in which twins are built and grasps
    tried, one at a time. `world_config`: the world the policy was trained in (its execution
    settings: grasp offset, approach, lift); the twin always uses the floating hand."""

    def __init__(self, config: TwinConfig | None = None, world_config: WorldConfig | None = None):
        self.config = config or TwinConfig()
        world_config = replace(world_config or WorldConfig(), mode="floating")
        # The world's object set is never drawn from: twins are built from the image.
        self.world = GraspWorld(world_config, "seen", seed=0)
        # Every image's pieces are new mesh files, and pybullet's file cache (process-wide) keeps
        # each one for good: ~0.6 MB per cluttered image, 24 MB in 36 twin calls; ~5 MB without it,
        # the same scores, 1.5% slower.
        self.world.client.setPhysicsEngineParameter(enableFileCaching=0)

    def _lift_many(self, meshes, jobs):
        return [self._lifts(meshes, surface, command) for surface, command in jobs]

    def _lifts(self, meshes: list[_RegionMeshes], surface: np.ndarray, command: GraspCommand) -> bool:
        """One execution of `command` at `surface` in a fresh twin: does it lift something?"""
        self._build(meshes, surface)
        T_table_palm = command_palm_pose(surface, command, self.world.config.execution.grasp_offset_m)
        return bool(self.world.execute_pose(T_table_palm, command.spread, command.fingers).success)

    def _build(self, meshes: list[_RegionMeshes], surface: np.ndarray) -> None:
        """A fresh twin world holding the pieces within reach of the grasp point `surface`, one
        body per region."""

        def twin_bodies(c) -> list[PlacedObject]:
            bodies = []
            for n, region in enumerate(meshes):
                near = region.within(surface[:2], self.config.reach_m)
                if near.any():
                    body = _twin_body(c, region, near, self.config)
                    spec = ObjectSpec(f"twin_{n}", "primitive", mass=self.config.mass_kg, family="twin")
                    bodies.append(PlacedObject(body, spec, np.zeros(3)))
            return bodies

        self.world.load_bodies(twin_bodies)

    def close(self) -> None:
        self.world.close()


class TwinRanking:
    """Commands ranked by their twin scores, the earlier command first among equal scores, found
    lazily and exactly: a command is tried only while it can still outrank the best one found,
    so the ranking is what full scores would give (each execution starts from a fresh twin, so
    the order of executions changes nothing). The served grasp, the first, takes 47-52% of the
    executions all scores would (docs/experiments.md at commit 0afafb4, "The depth twin tried only as far as the
    choice needs")."""

    def __init__(self, twin: TwinBase, depth, intrinsics, T_table_camera, commands, before_each=None, deadline=None):
        if depth.ndim != 2 or depth.shape != (intrinsics.height, intrinsics.width):
            raise ValueError(f"depth image is {depth.shape}, the intrinsics say {intrinsics.height}x{intrinsics.width}")
        self._twin, self._depth, self._intrinsics = twin, depth, intrinsics
        self._T_table_camera = np.asarray(T_table_camera, dtype=float)
        self._before_each = before_each
        self._deadline = deadline  # time.monotonic() after which no batch starts
        self.out_of_time = False  # the deadline cut the ranking short: it went by what was tried
        points = table_points(depth, intrinsics, self._T_table_camera)
        self._regions = object_regions(points, twin.config.above_table_m, twin.config.min_pixels)
        self._copies = [[c, *with_small_errors(c, depth.shape)][: twin.config.executions] for c in commands]
        self.lifted = np.zeros(len(commands), dtype=int)
        self.tried = np.zeros(len(commands), dtype=int)
        self.executions = 0  # run in the twin so far
        if not self._regions:  # nothing above the table: nothing lifts, nothing to try
            self.tried[:] = [len(c) for c in self._copies]
        self._ranked: list[int] = []

    def __len__(self) -> int:
        return len(self._copies)

    def complete(self, i: int) -> bool:
        return self.tried[i] == len(self._copies[i])

    def score(self, i: int) -> float | None:
        """Command i's score (the fraction of its executions that lift), None if not tried to the end."""
        return self.lifted[i] / len(self._copies[i]) if self.complete(i) else None

    def known_score(self, i: int) -> float:
        """The share of command i's executions known to lift: its score once tried to the end, a
        lower bound before."""
        return self.lifted[i] / len(self._copies[i])

    def best_possible(self, i: int) -> float:
        """The highest score command i can still reach."""
        return (self.lifted[i] + len(self._copies[i]) - self.tried[i]) / len(self._copies[i])

    def next_index(self) -> int | None:
        """The best command not yet returned (None when all are): the earliest of the highest
        score, trying commands only until no untried execution could change the answer."""
        left = [i for i in range(len(self)) if i not in self._ranked]
        if not left:
            return None
        leader = self._best(left, -math.inf)
        self._ranked.append(leader)
        return leader

    def best_above(self, floor: float) -> int | None:
        """The best command (as next_index's first) if its score is above `floor`, else None. A
        command that cannot score above `floor` is not tried further (the local search's changes
        must beat the grasp they would replace)."""
        return self._best(range(len(self)), floor)

    def _best(self, candidates, floor: float) -> int | None:
        """The earliest of the highest score among `candidates` above `floor` (None if none),
        each tried only while it could still be that one."""
        candidates = list(candidates)
        with tempfile.TemporaryDirectory() as folder:  # each piece's mesh written once per call
            meshes = None
            while True:
                done = [i for i in candidates if self.complete(i) and self.score(i) > floor]
                leader = max(done, key=lambda i: (self.score(i), -i)) if done else None
                rivals = [
                    i
                    for i in candidates
                    if not self.complete(i) and self.best_possible(i) > floor and self._may_outrank(i, leader)
                ]
                if not rivals:
                    return leader
                if self._time_is_up():
                    return self._best_known(candidates, floor)
                if meshes is None:
                    meshes = self._twin._meshes(self._regions, Path(folder))
                self._try_next_copies(rivals, meshes)

    def _time_is_up(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.out_of_time = True
        return self.out_of_time

    def _best_known(self, candidates, floor: float) -> int | None:
        """Out of time: the earliest of the highest known score above `floor` (a command not tried
        to the end counts only the executions that lifted), so with nothing tried yet the first."""
        above = [i for i in candidates if self.known_score(i) > floor]
        return max(above, key=lambda i: (self.known_score(i), -i)) if above else None

    def try_all(self) -> None:
        """Try every command to the end (every score known)."""
        with tempfile.TemporaryDirectory() as folder:
            meshes = None
            while not all(self.complete(i) for i in range(len(self))):
                meshes = meshes or self._twin._meshes(self._regions, Path(folder))
                self._try_next_copies(range(len(self)), meshes)

    def _may_outrank(self, i: int, leader: int | None) -> bool:
        if leader is None:
            return True
        best, possible = self.score(leader), self.best_possible(i)
        return possible > best or (possible == best and i < leader)

    def _try_next_copies(self, order, meshes) -> None:
        """Run the next untried executions of the commands in `order`, the first command's first,
        as many at once as the twin runs in parallel (one for DepthTwin). Extra executions of a
        later command only add what full scores would know, so the ranking stays exact."""
        if self._before_each is not None:  # first: if it raises, the ranking is as it was
            self._before_each()
        tried = self.tried.copy()
        jobs = []  # (command index, surface point, copy)
        for i in order:
            while tried[i] < len(self._copies[i]) and (tried - self.tried).sum() < self._twin.parallel:
                copy = self._copies[i][tried[i]]
                tried[i] += 1
                try:
                    copy.validate()
                    jobs.append((i, _surface_point(self._depth, self._intrinsics, self._T_table_camera, copy), copy))
                except ValueError:  # GraspInputError, or a pixel outside the image: not tried, not lifted
                    pass
        lifted = self._twin._lift_many(meshes, [(surface, copy) for _, surface, copy in jobs]) if jobs else []
        # counted only once they ran: if an execution fails (a crashed worker), the ranking is as it was
        self.tried = tried
        self.executions += len(jobs)
        self._twin.executions_run += len(jobs)
        for (i, _, _), up in zip(jobs, lifted, strict=True):
            self.lifted[i] += bool(up)


def _surface_point(depth: np.ndarray, intrinsics, T_table_camera: np.ndarray, command: GraspCommand) -> np.ndarray:
    """Where the grasp pixel's ray meets the surface, as GraspWorld.execute finds it: the depth of
    the nearest pixel, the ray through the command's own (sub-pixel) coordinates."""
    u, v = int(round(command.u)), int(round(command.v))
    d = float(depth[v, u]) if 0 <= v < depth.shape[0] and 0 <= u < depth.shape[1] else float("nan")
    if not (np.isfinite(d) and d > 0):
        raise GraspInputError(f"no valid depth at grasp pixel ({command.u:.1f}, {command.v:.1f})")
    p_camera = intrinsics.pixel_to_point(command.u, command.v, d)
    return T_table_camera[:3, :3] @ p_camera + T_table_camera[:3, 3]


class _RegionMeshes:
    """One region's convex pieces as OBJ files (pybullet builds compound meshes only from files),
    each in a frame at the region's centre on the table, and each piece's footprint."""

    def __init__(self, pieces: list[np.ndarray], folder: Path):
        folder.mkdir()
        self.pieces = pieces
        self.centre = _footprint_centre(pieces)
        self.low = np.array([p[:, :2].min(0) for p in pieces])
        self.high = np.array([p[:, :2].max(0) for p in pieces])
        self.files = []
        for i, piece in enumerate(pieces):
            local = piece - self.centre
            hull = ConvexHull(local)
            index = {v: n + 1 for n, v in enumerate(hull.vertices)}
            lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in local[hull.vertices]]
            lines += [f"f {index[a]} {index[b]} {index[d]}" for a, b, d in hull.simplices]
            path = folder / f"piece{i}.obj"
            path.write_text("\n".join(lines) + "\n")
            self.files.append(str(path))

    def within(self, xy: np.ndarray, reach_m: float) -> np.ndarray:
        """Which pieces have some point within reach_m of xy (in the table plane)."""
        nearest = np.clip(xy, self.low, self.high)
        return np.linalg.norm(nearest - xy, axis=1) <= reach_m


def _footprint_centre(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(pieces).mean(0) * [1, 1, 0]


def _twin_body(c, region: _RegionMeshes, near: np.ndarray, config: TwinConfig) -> int:
    """One rigid body of the region's pieces `near`: 16 convex meshes to a compound shape, the
    compounds joined by fixed links, its origin (and centre of mass) at those pieces' centre."""
    chosen = np.flatnonzero(near)
    centre = _footprint_centre([region.pieces[i] for i in chosen])
    shift = (region.centre - centre).tolist()  # the meshes are written about the whole region's centre
    groups = [chosen[i : i + COMPOUND_MAX] for i in range(0, len(chosen), COMPOUND_MAX)]
    shapes = [
        c.createCollisionShapeArray(
            [c.GEOM_MESH] * len(g), fileNames=[region.files[i] for i in g], collisionFramePositions=[shift] * len(g)
        )
        for g in groups
    ]
    mass, links = config.mass_kg / len(shapes), len(shapes) - 1
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
        c.changeDynamics(body, link, lateralFriction=config.friction, rollingFriction=0.0005, spinningFriction=0.001)
    return body
