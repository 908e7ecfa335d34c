"""Other grasps near one grasp, for trying them on a physics twin of the scene (`twin/`) and for
labelling grasps by how they fare under small execution errors (`training/selector_fit.py`):

- `neighbours`: small changes of the grasp (yaw, pixel, pre-shape, upright);
- `other_kinds`: grasps of another kind at its pixel (turned, tilted, spread);
- `with_small_errors`: the grasp with each of `SMALL_ERRORS` (yaw ±5°, the pixel 1 px off).
"""

from __future__ import annotations

import math
from dataclasses import replace

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_perception.grasp_geometry import SPREAD_MAX
from pa_grasp_sim.teacher import perturbed, wrap_half_turn


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
# (docs/experiments.md at commit 0afafb4, "One kind of grasp for every object").
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


# Small execution errors a robust grasp should survive, (du px, dv px, dyaw rad): yaw ±5°, the
# pixel 1 px (~4 mm) off. A grasp's outcome on these scenes often flips under errors this small
# (docs/experiments.md at commit 0afafb4, "How repeatable is one grasp's outcome?"): a grasp that lifts once may
# only be lucky.
SMALL_ERRORS = ((0.0, 0.0, math.radians(5)), (0.0, 0.0, -math.radians(5)), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def with_small_errors(command: GraspCommand, shape: tuple[int, ...]) -> list[GraspCommand]:
    """`command` with each of `SMALL_ERRORS`, the pixel kept inside an image of `shape`."""
    return [perturbed(command, error, shape) for error in SMALL_ERRORS]
