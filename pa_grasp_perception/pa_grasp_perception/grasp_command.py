"""The grasp as the paper defines it (core: numpy): what the policy outputs, the simulator and the
twin execute, and the executor receives as a palm pose.

A grasp is a pixel of the full depth image (its depth gives the 3D surface point through the
intrinsics and the camera pose), an orientation (roll, pitch, yaw), and the BH-280 pre-shape
(spread, finger 1-3). Orientation convention (paper §IV-C, grasp_geometry): the approach
direction is the unit vector [1, 0, 0] rotated by R = Rz(yaw) Ry(pitch) Rx(roll) in the robot
base / world frame, so pitch = pi/2 approaches straight down; the palm's +z axis is the approach
direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pa_grasp_perception.grasp_geometry import FINGER_MAX, SPREAD_MAX, grasp_palm_pose


class GraspInputError(ValueError):
    """A grasp command that cannot be executed, with the reason."""


@dataclass(frozen=True)
class GraspCommand:
    u: float  # column in the full depth image
    v: float  # row
    roll: float = 0.0
    pitch: float = math.pi / 2
    yaw: float = 0.0
    spread: float = 0.0
    fingers: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def validate(self) -> None:
        values = [self.u, self.v, self.roll, self.pitch, self.yaw, self.spread, *self.fingers]
        if not all(np.isfinite(values)):
            raise GraspInputError(f"grasp has non-finite values: {values}")
        if not (-math.pi - 1e-6 <= self.roll <= math.pi + 1e-6 and -math.pi - 1e-6 <= self.yaw <= math.pi + 1e-6):
            raise GraspInputError(f"roll/yaw must be in [-pi, pi], got {self.roll:.3f}/{self.yaw:.3f}")
        if not -1e-6 <= self.pitch <= math.pi + 1e-6:
            raise GraspInputError(f"pitch must be in [0, pi], got {self.pitch:.3f}")
        validate_preshape(self.spread, self.fingers)


def validate_preshape(spread: float, fingers) -> None:
    """The hand pre-shape in the policy's ranges, else GraspInputError."""
    fingers = tuple(fingers)
    if not all(np.isfinite([spread, *fingers])):
        raise GraspInputError(f"hand pre-shape has non-finite values: spread {spread}, fingers {fingers}")
    if not -1e-6 <= spread <= SPREAD_MAX + 1e-6:
        raise GraspInputError(f"spread must be in [0, pi/2], got {spread:.3f}")
    if len(fingers) != 3 or not all(-1e-6 <= f <= FINGER_MAX + 1e-6 for f in fingers):
        raise GraspInputError(f"finger pre-shape must be 3 values in [0, {FINGER_MAX}], got {fingers}")


def command_palm_pose(surface_point: np.ndarray, command: GraspCommand, offset_m: float) -> np.ndarray:
    """T_world_palm at the grasp: palm moved `offset_m` back along the approach axis
    (grasp_geometry.grasp_palm_pose with the command's rpy)."""
    return grasp_palm_pose(surface_point, command.roll, command.pitch, command.yaw, offset_m)
