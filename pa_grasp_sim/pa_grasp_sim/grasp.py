"""The grasp as the paper defines it, and what executing it reports.

A grasp is a pixel of the full depth image (its depth gives the 3D surface point through the
intrinsics and the camera pose), an orientation (roll, pitch, yaw), and the BH-280 pre-shape
(spread, finger 1-3). Orientation convention (paper §IV-C): the approach direction is the unit
vector [1, 0, 0] rotated by R = Rz(yaw) Ry(pitch) Rx(roll) in the robot base / world frame, so
pitch = pi/2 approaches straight down; the palm's +z axis is the approach direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# The pure geometry lives in perception (shared with the policy node and the executor); it is
# re-exported here so sim code keeps importing it from pa_grasp_sim.grasp.
from pa_grasp_perception import grasp_geometry
from pa_grasp_perception.grasp_geometry import FINGER_MAX, SPREAD_MAX, approach_direction, palm_rotation

__all__ = [
    "FINGER_MAX",
    "SPREAD_MAX",
    "ExecutionConfig",
    "GraspCommand",
    "GraspInputError",
    "GraspOutcome",
    "approach_direction",
    "grasp_palm_pose",
    "palm_rotation",
    "validate_preshape",
]


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


@dataclass
class ExecutionConfig:
    grasp_offset_m: float = 0.05  # palm this far back from the surface point (the paper's 5 cm)
    approach_distance_m: float = 0.08  # start of the straight approach, behind the grasp pose
    approach_speed_mps: float = 0.4
    close_time_s: float = 0.8
    lift_height_m: float = 0.20
    lift_speed_mps: float = 0.8
    hold_time_s: float = 0.1
    success_lift_m: float = 0.08  # an object counts as lifted when this far above where it lay
    parallel_hand: bool = False  # spread forced to 0 (the paper's "parallel" ablation)


@dataclass
class GraspOutcome:
    success: bool
    reason: str = ""
    reachable: bool = True
    lifted_objects: list[int] = field(default_factory=list)
    moved_objects: list[int] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)
    surface_point: np.ndarray | None = None
    T_world_palm: np.ndarray | None = None
    sim_steps: int = 0

    @property
    def reward(self) -> float:
        return 1.0 if self.success else 0.0


def grasp_palm_pose(surface_point: np.ndarray, command: GraspCommand, offset_m: float) -> np.ndarray:
    """T_world_palm at the grasp: palm moved `offset_m` back along the approach axis
    (:func:`pa_grasp_perception.grasp_geometry.grasp_palm_pose` with the command's rpy)."""
    return grasp_geometry.grasp_palm_pose(surface_point, command.roll, command.pitch, command.yaw, offset_m)
