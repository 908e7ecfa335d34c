"""Grasp -> motion plan and the safety checks that run before anything moves (core: no ROS, no MoveIt).

A grasp arrives as the palm pose at the grasp (``bh_palm`` in the base frame, +z = approach
direction; the policy already put it 5 cm back from the surface) and the hand pre-shape
[spread, finger1, finger2, finger3]. The executor then

1. pre-shapes the hand (Barrett joint mapping: :func:`hand_joint_targets`),
2. moves the arm to the pre-grasp pose, ``pregrasp_offset_m`` back along the approach axis,
3. approaches in a straight line to the grasp pose,
4. closes the three fingers (:func:`hand_close_targets`; each stops on contact),
5. lifts straight up (base +z) by ``lift_height_m``.

The free motions avoid the goal's obstacle boxes (``GraspPlan.obstacles``) and the table.

:func:`plan_grasp` computes the three arm poses and refuses a grasp whose poses leave the
workspace box, whose approach points upwards or whose pre-shape is outside the hand's range;
:func:`check_joint_limits` checks IK solutions (and any joint target) against the TX60 / BH-280
limits with a margin. :func:`object_held` judges the grasp from the finger joints after the lift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pa_grasp_description import moveit, robot
from pa_grasp_perception.grasp_geometry import FINGER_MAX, SPREAD_MAX, check_pose
from pa_grasp_perception.obstacles import CollisionBox

JOINT_LIMITS: dict[str, tuple[float, float]] = {**robot.ARM_JOINT_LIMITS, **robot.HAND_JOINT_LIMITS}


class PlanError(ValueError):
    """A grasp the robot must not try, with the reason. ``reachable`` is False when the reason
    is geometric (outside the workspace / joint limits), True when the request itself is bad."""

    def __init__(self, message: str, reachable: bool = False):
        super().__init__(message)
        self.reachable = reachable


@dataclass
class PlanConfig:
    pregrasp_offset_m: float = 0.05
    lift_height_m: float = 0.20
    # Axis-aligned box (base frame, metres) every palm pose of the grasp must stay in.
    workspace_min: tuple[float, float, float] = (0.20, -0.50, 0.0)
    workspace_max: tuple[float, float, float] = (0.90, 0.50, 0.80)
    # Largest upward (base +z) component of the unit approach direction: a grasp from below is
    # refused. The policy's pitch range [0, pi] gives z <= 0 (horizontal to straight down).
    max_approach_up: float = 0.1
    joint_limit_margin_rad: float = 0.02

    def __post_init__(self):
        self.workspace_min = tuple(float(x) for x in self.workspace_min)
        self.workspace_max = tuple(float(x) for x in self.workspace_max)
        if len(self.workspace_min) != 3 or len(self.workspace_max) != 3:
            raise ValueError("workspace_min and workspace_max need 3 values (x, y, z)")
        if not all(lo < hi for lo, hi in zip(self.workspace_min, self.workspace_max)):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}")
        if not self.pregrasp_offset_m >= 0 or not self.lift_height_m >= 0:
            raise ValueError("pregrasp_offset_m and lift_height_m must be >= 0")
        if not self.joint_limit_margin_rad >= 0:
            raise ValueError("joint_limit_margin_rad must be >= 0")


@dataclass
class GraspPlan:
    """The poses (4x4, base frame, of bh_palm), the hand pre-shape and the obstacle boxes (base
    frame) of one grasp."""

    T_pregrasp: np.ndarray
    T_grasp: np.ndarray
    T_lift: np.ndarray
    hand_preshape: dict[str, float] = field(default_factory=dict)
    obstacles: tuple[CollisionBox, ...] = ()

    @property
    def approach(self) -> np.ndarray:
        return self.T_grasp[:3, 2].copy()

    def poses(self) -> dict[str, np.ndarray]:
        return {"pre-grasp": self.T_pregrasp, "grasp": self.T_grasp, "lift": self.T_lift}


def hand_joint_targets(spread: float, finger1: float, finger2: float, finger3: float) -> dict[str, float]:
    """[spread, f1, f2, f3] of the policy -> every BH-280 joint: bh_j21 mirrors bh_j11, each
    distal joint follows DISTAL_COUPLING x its proximal (the pre-shape has no contact yet)."""
    out = {"bh_j11_joint": float(spread), "bh_j21_joint": float(spread)}
    for i, f in zip((1, 2, 3), (finger1, finger2, finger3)):
        out[f"bh_j{i}2_joint"] = float(f)
        out[f"bh_j{i}3_joint"] = min(robot.DISTAL_COUPLING * float(f), robot.DISTAL_LIMIT)
    return out


def check_joint_limits(positions: Mapping[str, float], margin_rad: float = 0.0) -> None:
    """Every joint within [lower + margin, upper - margin]; PlanError names the first that is not.
    Joints the robot does not have are an error too (a typo must not skip the check)."""
    for name, value in positions.items():
        if name not in JOINT_LIMITS:
            raise PlanError(f"unknown joint '{name}'", reachable=True)
        lo, hi = JOINT_LIMITS[name]
        value = float(value)
        if not math.isfinite(value) or not (lo + margin_rad <= value <= hi - margin_rad):
            raise PlanError(
                f"{name} = {value:.3f} rad is outside its limits [{lo:.3f}, {hi:.3f}] (margin {margin_rad:g} rad)"
            )


def check_workspace(T: np.ndarray, config: PlanConfig, what: str) -> None:
    p = np.asarray(T, dtype=float)[:3, 3]
    lo, hi = np.asarray(config.workspace_min), np.asarray(config.workspace_max)
    if not np.all((p >= lo) & (p <= hi)):  # written so that NaN is outside
        raise PlanError(
            f"{what} pose at ({p[0]:.3f}, {p[1]:.3f}, {p[2]:.3f}) m is outside the workspace box"
            f" {tuple(round(x, 3) for x in lo)} .. {tuple(round(x, 3) for x in hi)}"
        )


def plan_grasp(
    T_base_palm: np.ndarray,
    hand_joints,
    config: PlanConfig | None = None,
    pregrasp_offset_m: float = 0.0,
    lift_height_m: float = 0.0,
    obstacles: Sequence[CollisionBox] = (),
) -> GraspPlan:
    """The checked plan of one grasp; ``pregrasp_offset_m`` / ``lift_height_m`` of 0 take the
    config's; ``obstacles`` go along for the free motions. Raises PlanError (nothing has moved yet)."""
    config = config or PlanConfig()
    try:
        T_grasp = check_pose(T_base_palm, "grasp pose")
    except ValueError as exc:
        raise PlanError(str(exc), reachable=True) from None
    joints = np.asarray(hand_joints, dtype=float).ravel()
    if joints.shape != (4,) or not np.all(np.isfinite(joints)):
        raise PlanError(f"hand_joints must be 4 finite values [spread, f1, f2, f3], got {list(joints)}", True)
    spread, f1, f2, f3 = (float(x) for x in joints)
    if not -1e-6 <= spread <= SPREAD_MAX + 1e-6 or not all(-1e-6 <= f <= FINGER_MAX + 1e-6 for f in (f1, f2, f3)):
        raise PlanError(
            f"hand pre-shape [spread {spread:.3f}, fingers {f1:.3f}/{f2:.3f}/{f3:.3f}] is outside the policy's range"
            f" (spread [0, {SPREAD_MAX:.3f}], fingers [0, {FINGER_MAX}])",
            reachable=True,
        )
    for name, value in (("pregrasp_offset_m", pregrasp_offset_m), ("lift_height_m", lift_height_m)):
        if not (math.isfinite(value) and value >= 0):
            raise PlanError(f"{name} must be >= 0, got {value}", reachable=True)
    approach = T_grasp[:3, 2]
    if approach[2] > config.max_approach_up:
        raise PlanError(
            f"approach direction ({approach[0]:.2f}, {approach[1]:.2f}, {approach[2]:.2f}) points upwards"
            f" (z > max_approach_up = {config.max_approach_up:g})"
        )
    offset = pregrasp_offset_m or config.pregrasp_offset_m
    lift = lift_height_m or config.lift_height_m
    T_pregrasp = T_grasp.copy()
    T_pregrasp[:3, 3] -= offset * approach
    T_lift = T_grasp.copy()
    T_lift[2, 3] += lift
    plan = GraspPlan(T_pregrasp, T_grasp, T_lift, hand_joint_targets(spread, f1, f2, f3), tuple(obstacles))
    for what, T in plan.poses().items():
        check_workspace(T, config, what)
    check_joint_limits(plan.hand_preshape, 0.0)
    return plan


def hand_close_targets(spread_rad: float, close_position_rad: float) -> dict[str, float]:
    """The close as targets of the hand controller's joints (spread + the three proximal joints,
    in its order): the spread held, every finger driven to ``close_position_rad``. The BH-280
    stops each finger on contact (TorqueSwitch), so the target is reached only by a finger that
    closes on nothing."""
    spread_joint, *proximal_joints = moveit.HAND_ACTIVE_JOINTS
    return {spread_joint: float(spread_rad), **{j: float(close_position_rad) for j in proximal_joints}}


def object_held(proximal_positions, closed_threshold_rad: float = 2.3, min_fingers_blocked: int = 2) -> bool:
    """After the close: fingers that stopped before ``closed_threshold_rad`` are blocked by
    something; an object is held when at least ``min_fingers_blocked`` are."""
    blocked = sum(1 for q in proximal_positions if float(q) < closed_threshold_rad)
    return blocked >= min_fingers_blocked
