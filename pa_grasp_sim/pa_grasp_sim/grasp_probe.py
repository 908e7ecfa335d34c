"""How graspable is an object family for this hand in this simulator? Try a small grid of grasps
at the top of each object (the heuristic's pixel and yaw) and count the scenes where any lifts.

    python -m pa_grasp_sim.grasp_probe --family flat_box --objects seen --scenes 12

A ceiling check for the evaluation by family (`pa-grasp-eval` prints success by family): when
no grid candidate lifts a scene, a policy has to find a grasp unlike all of them. The grid is
top-down and 20° tilted, across the narrow and the long side, spread 0 or 45°, fingers straight
or pre-closed by 17°: 16 candidates, each tried on the same settled scene (restored after).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections import Counter
from dataclasses import dataclass, replace

from pa_grasp_sim.baselines import object_tops
from pa_grasp_sim.grasp import SPREAD_MAX, GraspCommand
from pa_grasp_sim.objects import ObjectSet, ObjectSetError, load_object_set
from pa_grasp_sim.teacher import perturbed, wrap_half_turn
from pa_grasp_sim.world import GraspWorld, SceneSnapshot, WorldConfig

YAW_OFFSETS = (0.0, math.pi / 2)
PITCHES = (math.pi / 2, math.pi / 2 - 0.35)
SPREADS = (0.0, math.pi / 4)
FINGERS = (0.0, 0.3)


@dataclass
class ProbeResult:
    family: str
    scenes: int  # scenes with an object in view
    scenes_lifted: int  # scenes where some candidate lifted
    lifts_by_candidate: Counter  # (dyaw°, pitch°, spread°, fingers°) -> scenes it lifted


def grid(u: float, v: float, yaw: float) -> list[tuple[tuple[int, int, int, int], GraspCommand]]:
    out = []
    for dyaw, pitch, spread, finger in itertools.product(YAW_OFFSETS, PITCHES, SPREADS, FINGERS):
        key = tuple(round(math.degrees(x)) for x in (dyaw, pitch, spread, finger))
        command = GraspCommand(u, v, 0.0, pitch, wrap_half_turn(yaw + dyaw), spread, (finger,) * 3)
        out.append((key, command))
    return out


def neighbours(command: GraspCommand, width: int, height: int) -> list[tuple[str, GraspCommand]]:
    """Small changes of one grasp, nearest first: yaw ±20°, the pixel moved 1.5 px (~6 mm at the
    table), yaw ±45° and +90°, the other pre-shape (parallel <-> tripod), and upright. Each
    comes with a name (e.g. "yaw+20")."""

    def turned(degrees: int) -> tuple[str, GraspCommand]:
        return f"yaw{degrees:+d}", replace(command, yaw=wrap_half_turn(command.yaw + math.radians(degrees)))

    out = [turned(20), turned(-20)]
    for name, du, dv in (("u+", 1.5, 0), ("u-", -1.5, 0), ("v+", 0, 1.5), ("v-", 0, -1.5)):
        u, v = min(max(command.u + du, 0.0), width - 1.0), min(max(command.v + dv, 0.0), height - 1.0)
        out.append((name, replace(command, u=u, v=v)))
    out += [turned(45), turned(-45), turned(90)]
    out.append(("spread", replace(command, spread=0.0 if command.spread > math.pi / 8 else math.pi / 4)))
    if abs(command.pitch - math.pi / 2) > math.radians(5):
        out.append(("upright", replace(command, pitch=math.pi / 2)))
    return out


# Grasps of another kind at the same pixel. The shipped policy's grasps are all top-down with
# spread ~0, a kind that rarely holds boxes lying with a narrow side of 8 cm or more (1 of 14);
# turned 90° and tilted 35° with a spread pre-shape, 9 of 9 such boxes probed were lifted
# (docs/experiments.md, "One kind of grasp for every object").
OTHER_KINDS = (  # (name, yaw change, pitch, spread), angles in degrees
    ("turn90-tilt35-spread45", 90, 55, 45),
    ("turn90-tilt35-spread90", 90, 55, 90),
    ("spread90", 0, None, 90),
)


def other_kinds(command: GraspCommand) -> list[tuple[str, GraspCommand]]:
    """Grasps of another kind than `command` at its pixel (`OTHER_KINDS`), with straight fingers;
    the untilted spread-90° kind is left out when the command's spread is already within 10° of it."""
    out = []
    for name, dyaw, pitch, spread in OTHER_KINDS:
        pitch_rad = command.pitch if pitch is None else math.radians(pitch)
        spread_rad = min(math.radians(spread), SPREAD_MAX)
        if dyaw == 0 and abs(spread_rad - command.spread) < math.radians(10):
            continue
        yaw = wrap_half_turn(command.yaw + math.radians(dyaw))
        out.append((name, replace(command, yaw=yaw, pitch=pitch_rad, spread=spread_rad, fingers=(0.0, 0.0, 0.0))))
    return out


def lifting_grasps(
    world: GraspWorld, depth, snapshot: SceneSnapshot, candidates: list[tuple], first_only: bool = False
) -> list[tuple]:
    """The (key, command) candidates that lift something, each tried on the scene of `snapshot`
    (restored before every try, and after the last)."""
    lifting = []
    for key, command in candidates:
        world.restore(snapshot)
        if world.execute(command, depth).success:
            lifting.append((key, command))
            if first_only:
                break
    world.restore(snapshot)
    return lifting


# Small execution errors a robust grasp should survive, (du px, dv px, dyaw rad): yaw ±5°, the
# pixel 1 px (~4 mm) off. A grasp's outcome on these scenes often flips under errors this small
# (docs/experiments.md, "How repeatable is one grasp's outcome?"): a grasp that lifts once may
# only be lucky.
SMALL_ERRORS = ((0.0, 0.0, math.radians(5)), (0.0, 0.0, -math.radians(5)), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def with_small_errors(command: GraspCommand, shape: tuple[int, ...]) -> list[GraspCommand]:
    """`command` with each of `SMALL_ERRORS`, the pixel kept inside an image of `shape`."""
    return [perturbed(command, error, shape) for error in SMALL_ERRORS]


def robust_lifting_grasp(
    world: GraspWorld, depth, snapshot: SceneSnapshot, candidates: list[tuple], min_with_errors: int = 3
) -> tuple | None:
    """The first (key, command) of `candidates` that lifts something on the scene of `snapshot`
    and also with at least `min_with_errors` of its copies with `SMALL_ERRORS` (each tried on the
    restored scene, restored after); None when none does."""
    try:
        for key, command in candidates:
            world.restore(snapshot)
            if not world.execute(command, depth).success:
                continue
            copies = with_small_errors(command, depth.shape)
            lifted = 0
            for i, copy in enumerate(copies):
                world.restore(snapshot)
                lifted += world.execute(copy, depth).success
                if lifted + len(copies) - 1 - i < min_with_errors:
                    break  # cannot reach it any more
            if lifted >= min_with_errors:
                return key, command
        return None
    finally:
        world.restore(snapshot)


def lifting_grid_grasps(
    world: GraspWorld, depth, snapshot: SceneSnapshot, first_only: bool = False
) -> list[tuple[tuple[int, int, int, int], GraspCommand]]:
    """(key, command) of the grid grasps at the highest object's top that lift something, each
    tried on the scene of `snapshot`; [] when no object is in view."""
    tops = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)
    candidates = grid(tops[0].u, tops[0].v, tops[0].yaw) if tops else []
    return lifting_grasps(world, depth, snapshot, candidates, first_only)


def probe_family(family: str, objects: str = "seen", scenes: int = 12, seed: int = 0) -> ProbeResult:
    object_set = load_object_set(objects)
    object_set.check_family_weights({family: 1.0})  # a clear error for a family the set lacks
    members = [o for o in object_set.objects if o.family == family]
    lifts: Counter = Counter()
    seen = lifted = 0
    with GraspWorld(WorldConfig(), ObjectSet(family, members), seed=seed) as world:
        for scene in range(scenes):
            world.reset(1, seed=seed + scene)
            depth = world.render_depth()
            if not object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera):
                continue
            seen += 1
            lifting = lifting_grid_grasps(world, depth, world.snapshot())
            lifts.update(key for key, _ in lifting)
            lifted += bool(lifting)
    return ProbeResult(family, seen, lifted, lifts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", required=True, help="object family, e.g. flat_box, mug, random_urdf, plate")
    p.add_argument("--objects", default="seen", help="object set: seen, novel or a directory")
    p.add_argument("--scenes", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.scenes < 1:
        p.error("--scenes must be at least 1")
    try:
        result = probe_family(args.family, args.objects, args.scenes, args.seed)
    except ObjectSetError as exc:
        print(f"grasp_probe: {exc}", file=sys.stderr)
        return 2
    print(
        f"{result.family} ({args.objects}): some of {len(grid(0, 0, 0))} grid grasps lifts the object in "
        f"{result.scenes_lifted} of {result.scenes} scenes"
    )
    for (dyaw, pitch, spread, finger), n in result.lifts_by_candidate.most_common(5):
        print(f"  yaw +{dyaw}°, pitch {pitch}°, spread {spread}°, fingers {finger}°: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
