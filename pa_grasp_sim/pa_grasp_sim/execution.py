"""How the simulator executes a grasp (pa_grasp_perception.grasp_command.GraspCommand) and what
executing it reports."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ExecutionConfig:
    grasp_offset_m: float = 0.05  # palm this far back from the surface point (the paper's 5 cm)
    approach_distance_m: float = 0.08  # start of the straight approach, behind the grasp pose
    approach_speed_mps: float = 0.4
    close_time_s: float = 0.8
    lift_height_m: float = 0.20
    # A success is an object still held after a lift at a robot's transport speed and a 1 s hold:
    # at 0.8 m/s and a 0.1 s hold, grasps that slip out on the way to a bin counted (issue 51:
    # 80 -> 77 % seen, 79 -> 68 % novel for the shipped policy when checked this way).
    lift_speed_mps: float = 0.5
    hold_time_s: float = 1.0
    success_lift_m: float = 0.08  # ... then this far above where it lay and touching the hand
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
