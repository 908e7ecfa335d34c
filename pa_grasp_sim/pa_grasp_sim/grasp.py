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
from scipy.spatial.transform import Rotation

SPREAD_MAX = math.pi / 2
FINGER_MAX = 0.61

# R_align takes the palm frame to the paper's "unit vector [1,0,0]" frame: palm +z -> +x.
_R_ALIGN = Rotation.from_euler("y", 90, degrees=True)


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
        if not -1e-6 <= self.spread <= SPREAD_MAX + 1e-6:
            raise GraspInputError(f"spread must be in [0, pi/2], got {self.spread:.3f}")
        if len(self.fingers) != 3 or not all(-1e-6 <= f <= FINGER_MAX + 1e-6 for f in self.fingers):
            raise GraspInputError(f"finger pre-shape must be 3 values in [0, {FINGER_MAX}], got {self.fingers}")


def palm_rotation(roll: float, pitch: float, yaw: float) -> Rotation:
    """R_world_palm for the paper's rpy; the palm's +z is the approach direction."""
    return Rotation.from_euler("xyz", [roll, pitch, yaw]) * _R_ALIGN


def approach_direction(roll: float, pitch: float, yaw: float) -> np.ndarray:
    return palm_rotation(roll, pitch, yaw).apply([0.0, 0.0, 1.0])


@dataclass
class ExecutionConfig:
    grasp_offset_m: float = 0.05  # palm this far back from the surface point (the paper's 5 cm)
    approach_distance_m: float = 0.08  # start of the straight approach, behind the grasp pose
    approach_speed_mps: float = 0.4
    close_time_s: float = 0.8
    lift_height_m: float = 0.20
    lift_speed_mps: float = 0.6
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
    """T_world_palm at the grasp: palm moved `offset_m` back along the approach axis."""
    rot = palm_rotation(command.roll, command.pitch, command.yaw)
    T = np.eye(4)
    T[:3, :3] = rot.as_matrix()
    T[:3, 3] = np.asarray(surface_point, dtype=float) - offset_m * rot.apply([0.0, 0.0, 1.0])
    return T
