"""Object sets: what the hand is asked to pick up.

Three sources, all sized for the BH-280 (roughly 3-16 cm):
- procedural household-like shapes built from PyBullet primitives: boxes (including wide ones
  close to the hand's opening), thin flat plates, balls (also large ones that need the fingers
  spread), cylinders (which often settle lying down), tall bottles, mugs with handles, open
  bowls (a rim to pinch), long-handled tools (a handle beside a head, like a brush or a ladle);
- pybullet_data's `random_urdfs/` (1000 procedural blobs), split by index;
- any directory of `.urdf` / `.obj` files given by the user (meshes get a convex decomposition
  as their collision shape, convex_parts.py, and are scaled so their largest extent is graspable).

The "seen" and "novel" sets never share an object: procedural instances come from disjoint
seed ranges and some families are novel-only; random_urdfs are split by index.
"""

from __future__ import annotations

import math
import os
import pathlib
import zlib
from dataclasses import dataclass, field

import numpy as np
import pybullet_data
from scipy.spatial.transform import Rotation

SEEN_FAMILIES = (
    "box",
    "flat_box",
    "ball",
    "cylinder",
    "bottle",
    "mug",
    "wide_box",
    "bowl",
    "large_ball",
    "long_handle",
)
NOVEL_ONLY_FAMILIES = ("plate", "tall_box", "capsule")
PROCEDURAL_PER_FAMILY = 12


class ObjectSetError(ValueError):
    """An object set or object file that cannot be used, with the reason."""


@dataclass(frozen=True)
class ObjectSpec:
    """One object: how to build it. Primitive parts are (shape, dims, local_pos, local_quat)."""

    name: str
    kind: str  # "primitive" | "urdf" | "mesh"
    mass: float = 0.2
    parts: tuple = ()
    path: str = ""
    scale: float = 1.0
    color: tuple = (0.7, 0.7, 0.7, 1.0)
    friction: float = 0.9
    extent: float = 0.0  # largest extent in metres (0 = unknown)
    family: str = ""  # kind of object, for success by family ("flat_box", "random_urdf", "user", ...)

    def __post_init__(self):
        if not self.family:  # an object of no named kind is a family of its own
            object.__setattr__(self, "family", self.name)


@dataclass
class ObjectSet:
    name: str
    objects: list[ObjectSpec] = field(default_factory=list)

    def __post_init__(self):
        if not self.objects:
            raise ObjectSetError(f"object set '{self.name}' is empty")

    @property
    def names(self) -> set[str]:
        return {o.name for o in self.objects}

    @property
    def families(self) -> set[str]:
        return {o.family for o in self.objects}

    def sample(self, rng: np.random.Generator, count: int) -> list[ObjectSpec]:
        """`count` objects drawn uniformly with replacement."""
        idx = rng.integers(0, len(self.objects), size=count)
        return [self.objects[i] for i in idx]


# --------------------------------------------------------------------------------------------
# Procedural families


def _rgba(rng: np.random.Generator) -> tuple:
    return (*rng.uniform(0.2, 0.95, size=3).round(3).tolist(), 1.0)


def _family(name: str, rng: np.random.Generator) -> tuple[tuple, float, float]:
    """Parts, mass and largest extent of one random instance of a family."""
    identity = (0.0, 0.0, 0.0, 1.0)
    origin = (0.0, 0.0, 0.0)
    if name == "box":
        dims = rng.uniform([0.03, 0.03, 0.03], [0.09, 0.07, 0.09])
        return (("box", tuple(dims / 2), origin, identity),), float(rng.uniform(0.1, 0.4)), float(dims.max())
    if name == "wide_box":  # close to the hand's opening: only the right spread fits
        dims = rng.uniform([0.11, 0.05, 0.04], [0.15, 0.09, 0.10])
        return (("box", tuple(dims / 2), origin, identity),), float(rng.uniform(0.2, 0.5)), float(dims.max())
    if name == "tall_box":
        dims = rng.uniform([0.04, 0.04, 0.14], [0.07, 0.06, 0.20])
        return (("box", tuple(dims / 2), origin, identity),), float(rng.uniform(0.15, 0.4)), float(dims.max())
    if name == "flat_box":  # thin, flat: hard to get fingers under
        dims = rng.uniform([0.07, 0.05, 0.015], [0.12, 0.09, 0.03])
        return (("box", tuple(dims / 2), origin, identity),), float(rng.uniform(0.05, 0.2)), float(dims.max())
    if name == "plate":
        r, h = rng.uniform(0.05, 0.08), rng.uniform(0.012, 0.02)
        return (("cylinder", (r, h), origin, identity),), float(rng.uniform(0.05, 0.2)), float(2 * r)
    if name == "ball":
        r = rng.uniform(0.025, 0.042)
        return (("sphere", (r,), origin, identity),), float(rng.uniform(0.05, 0.3)), float(2 * r)
    if name == "cylinder":  # aspect > 1: usually settles lying down when dropped tilted
        r, h = rng.uniform(0.02, 0.04), rng.uniform(0.08, 0.16)
        return (("cylinder", (r, h), origin, identity),), float(rng.uniform(0.1, 0.4)), float(h)
    if name == "capsule":
        r, h = rng.uniform(0.018, 0.035), rng.uniform(0.06, 0.12)
        return (("capsule", (r, h), origin, identity),), float(rng.uniform(0.1, 0.3)), float(h + 2 * r)
    if name == "bottle":  # tall body + neck
        r, h = rng.uniform(0.03, 0.045), rng.uniform(0.14, 0.20)
        rn, hn = r * 0.4, h * 0.3
        parts = (
            ("cylinder", (r, h), (0, 0, -hn / 2), identity),
            ("cylinder", (rn, hn), (0, 0, (h) / 2), identity),
        )
        return parts, float(rng.uniform(0.2, 0.5)), float(h + hn)
    if name == "mug":  # open cylinder (wall of boxes) + bottom + handle
        r, h, wall = rng.uniform(0.035, 0.05), rng.uniform(0.07, 0.11), 0.006
        n = 10
        parts = [("cylinder", (r, wall), (0, 0, -h / 2 + wall / 2), identity)]
        chord = 2 * r * math.sin(math.pi / n) + wall
        for k in range(n):
            a = 2 * math.pi * k / n
            quat = (0.0, 0.0, math.sin(a / 2), math.cos(a / 2))
            parts.append(("box", (wall / 2, chord / 2, h / 2), (r * math.cos(a), r * math.sin(a), 0.0), quat))
        hw = 0.025
        parts.append(("box", (0.006, 0.008, hw), (r + 0.022, 0.0, 0.0), identity))
        parts.append(("box", (0.012, 0.008, 0.004), (r + 0.012, 0.0, hw - 0.004), identity))
        parts.append(("box", (0.012, 0.008, 0.004), (r + 0.012, 0.0, -hw + 0.004), identity))
        return tuple(parts), float(rng.uniform(0.15, 0.35)), float(max(2 * r + 0.035, h))
    if name == "large_ball":  # wider than a parallel grip's reach across: the fingers must wrap it
        r = rng.uniform(0.05, 0.07)
        return (("sphere", (r,), origin, identity),), float(rng.uniform(0.1, 0.4)), float(2 * r)
    if name == "bowl":  # base disc + a ring of wall boxes leaning outward: a rim, open at the top
        r_base, r_top, h, wall = rng.uniform(0.035, 0.045), rng.uniform(0.06, 0.08), rng.uniform(0.04, 0.06), 0.005
        n = 12
        tilt = math.atan2(r_top - r_base, h)
        slant = math.hypot(r_top - r_base, h)
        chord = 2 * r_top * math.sin(math.pi / n) + wall
        parts = [("cylinder", (r_base, wall), (0, 0, -h / 2 + wall / 2), identity)]
        for k in range(n):
            a = 2 * math.pi * k / n
            # Rz(a) then Ry(tilt) in the segment's frame: its top leans out, away from the axis.
            quat = tuple(Rotation.from_euler("ZY", [a, tilt]).as_quat())
            r_mid = (r_base + r_top) / 2
            parts.append(
                (
                    "box",
                    (wall / 2, chord / 2, slant / 2),
                    (r_mid * math.cos(a), r_mid * math.sin(a), 0.0),
                    quat,
                )
            )
        return tuple(parts), float(rng.uniform(0.1, 0.3)), float(2 * r_top)
    if name == "long_handle":  # a handle with a head at one end (brush, ladle, spatula), origin near its middle
        length, side = rng.uniform(0.14, 0.20), rng.uniform(0.018, 0.025)
        head = rng.uniform([0.04, 0.04, 0.02], [0.07, 0.07, 0.04])
        parts = (
            ("box", (length / 2, side / 2, side / 2), (-head[0] / 2, 0.0, 0.0), identity),
            ("box", tuple(head / 2), (length / 2, 0.0, (head[2] - side) / 2), identity),
        )
        return parts, float(rng.uniform(0.1, 0.3)), float(length + head[0] / 2)
    raise ObjectSetError(f"unknown procedural family '{name}'")


def procedural_objects(families: tuple[str, ...], seed_base: int, per_family: int) -> list[ObjectSpec]:
    out = []
    for fam in families:
        for i in range(per_family):
            rng = np.random.default_rng([seed_base, zlib.crc32(fam.encode()), i])
            parts, mass, extent = _family(fam, rng)
            out.append(
                ObjectSpec(
                    name=f"{fam}_{seed_base}_{i:02d}",
                    family=fam,
                    kind="primitive",
                    mass=mass,
                    parts=parts,
                    color=_rgba(rng),
                    friction=float(rng.uniform(0.7, 1.0)),
                    extent=extent,
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Files shipped with pybullet and user directories


def random_urdf_objects(split: str, limit: int | None = None) -> list[ObjectSpec]:
    """pybullet_data/random_urdfs split by index: novel = index % 5 == 0, seen = the rest."""
    root = pathlib.Path(pybullet_data.getDataPath()) / "random_urdfs"
    out = []
    for d in sorted(root.iterdir()):
        if not d.name.isdigit():
            continue
        is_novel = int(d.name) % 5 == 0
        if (split == "novel") != is_novel:
            continue
        urdf = d / f"{d.name}.urdf"
        if urdf.exists():
            # Shipped scale 0.015 gives ~3-6 cm blobs; 1.6x brings them to 5-10 cm.
            out.append(ObjectSpec(f"random_urdf_{d.name}", "urdf", path=str(urdf), scale=1.6, family="random_urdf"))
        if limit is not None and len(out) >= limit:
            break
    return out


def directory_objects(directory: str | os.PathLike, target_extent: float = 0.10) -> list[ObjectSpec]:
    """Every .urdf and .obj file below `directory`. Meshes are scaled to `target_extent`."""
    root = pathlib.Path(directory)
    if not root.is_dir():
        raise ObjectSetError(f"object directory '{root}' does not exist or is not a directory")
    out = []
    for path in sorted(root.rglob("*")):
        suffix = path.suffix.lower()
        if suffix == ".urdf":
            out.append(ObjectSpec(f"user:{path.relative_to(root)}", "urdf", path=str(path), family="user"))
        elif suffix == ".obj":
            extent = mesh_extent(path)
            out.append(
                ObjectSpec(
                    name=f"user:{path.relative_to(root)}",
                    kind="mesh",
                    path=str(path),
                    scale=target_extent / extent,
                    mass=0.2,
                    extent=target_extent,
                    family="user",
                )
            )
    if not out:
        raise ObjectSetError(f"no .urdf or .obj files found in '{root}'")
    return out


def mesh_extent(path: pathlib.Path) -> float:
    """Largest bounding-box side of an .obj mesh (file units), read directly from its vertices."""
    v = mesh_vertices(path)
    extent = float((v.max(axis=0) - v.min(axis=0)).max())
    if not np.isfinite(extent) or extent <= 0:
        raise ObjectSetError(f"mesh '{path}' has a degenerate extent ({extent})")
    return extent


def mesh_vertices(path: str | os.PathLike) -> np.ndarray:
    """(n, 3) vertices of an .obj mesh (file units); ObjectSetError for an unreadable file or fewer than 4."""
    verts = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("v "):
                    verts.append([float(x) for x in line.split()[1:4]])
    except (OSError, ValueError) as exc:
        raise ObjectSetError(f"cannot read mesh '{path}': {exc}") from exc
    if len(verts) < 4:
        raise ObjectSetError(f"mesh '{path}' has {len(verts)} vertices; it needs at least 4 to be a solid")
    return np.asarray(verts)


def pybullet_mesh_objects() -> list[ObjectSpec]:
    """A few real-looking meshes that ship with pybullet_data (novel only)."""
    root = pathlib.Path(pybullet_data.getDataPath())
    names = {"duck_vhacd.obj": 0.09, "teddy2_VHACD_CHs.obj": 0.11, "bunny.obj": 0.09}
    out = []
    for fname, size in names.items():
        path = root / fname
        if path.exists():
            out.append(
                ObjectSpec(
                    name=f"pybullet:{fname}",
                    kind="mesh",
                    path=str(path),
                    scale=size / mesh_extent(path),
                    extent=size,
                    family="pybullet_mesh",
                )
            )
    return out


def load_object_set(name: str) -> ObjectSet:
    """'seen', 'novel', 'procedural-seen', 'procedural-novel', or a directory path."""
    if name == "seen":
        objs = procedural_objects(SEEN_FAMILIES, 0, PROCEDURAL_PER_FAMILY) + random_urdf_objects("seen", limit=60)
    elif name == "novel":
        objs = (
            procedural_objects(SEEN_FAMILIES, 1, PROCEDURAL_PER_FAMILY // 2)
            + procedural_objects(NOVEL_ONLY_FAMILIES, 1, PROCEDURAL_PER_FAMILY)
            + random_urdf_objects("novel", limit=30)
            + pybullet_mesh_objects()
        )
    elif name == "procedural-seen":
        objs = procedural_objects(SEEN_FAMILIES, 0, PROCEDURAL_PER_FAMILY)
    elif name == "procedural-novel":
        objs = procedural_objects(SEEN_FAMILIES + NOVEL_ONLY_FAMILIES, 1, PROCEDURAL_PER_FAMILY)
    elif os.path.isdir(name) or os.sep in name:
        objs = directory_objects(name)
        name = f"dir:{name}"
    else:
        raise ObjectSetError(f"unknown object set '{name}': use seen, novel, or a directory of .urdf/.obj files")
    return ObjectSet(name, objs)
