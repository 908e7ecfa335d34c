"""BH-280 control in PyBullet, the way the paper uses the hand: pre-shape the spread and the
finger joints, then close all fingers at one constant joint velocity until maximum effort.

PyBullet ignores URDF mimic joints, so the coupling is driven here: finger 2's spread mirrors
finger 1's, and each distal joint follows 0.344 x its proximal joint until the proximal link is
stopped by contact; from then on only the distal keeps closing (Barrett's TorqueSwitch).

Two drives (`HandConfig.drive`):
- "compliant" (the simulator's hand until 2026-12-07, kept to reproduce what was measured with
  it): every joint motor yields once its stall torque is exceeded, the distal included.
  Pressed against an object, a finger then keeps turning at the proximal joint while its distal
  folds backward past its 0 rad stop (PyBullet's joint limits are soft under contact): in 88% of
  single-object grasps the distal went below -0.1 rad, in 72% below -0.5, down to -2 rad. All
  models up to 2026-12-07 were trained and measured with this drive (docs/experiments.md at commit 0afafb4, "The
  fingers folded backward").
- "geared" (the default): the BH-280's drive train. Before the TorqueSwitch the distal is held at 0.344 x
  proximal by the gears (stiffly, not by a 3 N m motor); after it the proximal holds where it
  stopped and only the distal closes, yielding above its stall torque but never past its 0 rad
  stop; the pre-shape holds during the approach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pa_grasp_description import robot

DRIVES = ("compliant", "geared")
# rad a joint may be pushed past its 0 stop before the geared drive pushes it back (the stop
# itself would hold it at 0, but PyBullet's joint limits give under contact)
STOP_SLACK = 0.02


@dataclass
class HandConfig:
    close_velocity: float = 3.0  # rad/s of every proximal joint while closing
    proximal_effort: float = 6.0  # N m: the motor's stall torque at the joint
    distal_effort: float = 3.0
    spread_effort: float = 5.0
    stall_velocity: float = 0.1  # rad/s: a proximal joint slower than this is "stopped"
    stall_steps: int = 6  # ... for this many consecutive steps
    drive: str = "geared"  # or "compliant": see the module doc
    # N m: what the gears hold against ("geared" only), well above any load of a grasp here.
    hold_effort: float = 30.0

    def __post_init__(self):
        if self.drive not in DRIVES:
            raise ValueError(f"HandConfig.drive must be one of {DRIVES}, got '{self.drive}'")


class BarrettHand:
    """Joint-level control of one BH-280 body (floating, or on the arm)."""

    def __init__(self, client, body_id: int, config: HandConfig | None = None):
        self.client = client
        self.body = body_id
        self.config = config or HandConfig()
        index = {}
        for j in range(client.getNumJoints(body_id)):
            info = client.getJointInfo(body_id, j)
            index[info[1].decode()] = j
            index["link:" + info[12].decode()] = j
        missing = [name for name in robot.HAND_JOINTS if name not in index]
        if missing:
            raise ValueError(f"body {body_id} is not a BH-280: missing joints {missing}")
        self.spread = [index[n] for n in robot.SPREAD_JOINTS]
        self.proximal = [index[n] for n in robot.PROXIMAL_JOINTS]
        self.distal = [index[n] for n in robot.DISTAL_JOINTS]
        self.palm_link = index["link:" + robot.PALM_LINK]
        self.finger_links = set(self.proximal + self.distal + self.spread)
        self._spread_target = 0.0
        self._closing = False
        self._time_step = client.getPhysicsEngineParameters()["fixedTimeStep"]
        self._switched = [False, False, False]
        self._stalled_for = [0, 0, 0]
        # Joint motors are on by default in PyBullet (velocity 0, small force): disable them so
        # only our commands act.
        all_joints = self.spread + self.proximal + self.distal
        client.setJointMotorControlArray(body_id, all_joints, client.VELOCITY_CONTROL, forces=[0.0] * len(all_joints))

    # -- state -----------------------------------------------------------------------------
    def joint_positions(self) -> dict[str, float]:
        names = robot.SPREAD_JOINTS + robot.PROXIMAL_JOINTS + robot.DISTAL_JOINTS
        states = self.client.getJointStates(self.body, self.spread + self.proximal + self.distal)
        return {n: s[0] for n, s in zip(names, states)}

    def preshape(self) -> tuple[float, float, float, float]:
        """[spread, finger1, finger2, finger3] as the policy sees them."""
        q = self.joint_positions()
        return (q["bh_j11_joint"], q["bh_j12_joint"], q["bh_j22_joint"], q["bh_j32_joint"])

    # -- commands --------------------------------------------------------------------------
    def reset_preshape(self, spread: float, fingers) -> None:
        """Set the pre-grasp shape instantly (before the hand approaches) and hold it."""
        spread = float(np.clip(spread, 0.0, robot.SPREAD_LIMIT))
        self._spread_target = spread
        for j in self.spread:
            self.client.resetJointState(self.body, j, spread)
        for jp, jd, f in zip(self.proximal, self.distal, fingers):
            f = float(np.clip(f, 0.0, robot.PROXIMAL_LIMIT))
            self.client.resetJointState(self.body, jp, f)
            self.client.resetJointState(self.body, jd, min(robot.DISTAL_COUPLING * f, robot.DISTAL_LIMIT))
        self._switched = [False, False, False]
        self._stalled_for = [0, 0, 0]
        self._distal_stalled_for = [0, 0, 0]
        self._preshape_q = [s[0] for s in self.client.getJointStates(self.body, self.proximal + self.distal)]
        self.hold()

    def hold(self) -> None:
        """Keep the current pre-shape (position control) while moving to the grasp."""
        self._closing = False
        c, cfg = self.client, self.config
        q = self.client.getJointStates(self.body, self.proximal + self.distal)
        geared = cfg.drive == "geared"
        c.setJointMotorControlArray(
            self.body,
            self.spread,
            c.POSITION_CONTROL,
            targetPositions=[self._spread_target] * 2,
            forces=[cfg.hold_effort if geared else cfg.spread_effort] * 2,
        )
        c.setJointMotorControlArray(
            self.body,
            self.proximal + self.distal,
            c.POSITION_CONTROL,
            # Geared: the pre-shape itself, which contact cannot push back; compliant: wherever
            # the joints are now (a finger pushed back stays back).
            targetPositions=self._preshape_q if geared else [s[0] for s in q],
            forces=[cfg.hold_effort] * 6 if geared else [cfg.proximal_effort] * 3 + [cfg.distal_effort] * 3,
        )

    def close_step(self) -> None:
        """One control step of closing: call once per simulation step.

        Each finger motor runs at `close_velocity` toward its joint limit with its stall torque
        as the force limit (position control with a velocity cap), so it closes at constant
        velocity until the effort saturates and never drives a joint past its limit. What the
        joints do under contact depends on the drive (module doc).
        """
        c, cfg = self.client, self.config
        geared = cfg.drive == "geared"
        prox = c.getJointStates(self.body, self.proximal)
        if not self._closing:
            # Spread and proximal motor commands persist in PyBullet: set them once per close.
            self._closing = True
            for j in self.spread:
                c.setJointMotorControl2(
                    self.body,
                    j,
                    c.POSITION_CONTROL,
                    targetPosition=self._spread_target,
                    force=cfg.hold_effort if geared else cfg.spread_effort,
                )
            for jp in self.proximal:
                self._drive_proximal(jp)
        distal = c.getJointStates(self.body, self.distal)
        for i, ((q, dq, *_rest), (q_distal, *_rest2)) in enumerate(zip(prox, distal)):
            if not self._switched[i]:
                moving = dq > cfg.stall_velocity or q >= robot.PROXIMAL_LIMIT - 1e-3
                self._stalled_for[i] = 0 if moving else self._stalled_for[i] + 1
                if self._stalled_for[i] >= cfg.stall_steps and q < robot.PROXIMAL_LIMIT - 1e-3:
                    self._switched[i] = True  # TorqueSwitch: proximal blocked, distal goes on
                    if geared:  # the proximal's gear holds it where it stopped
                        c.setJointMotorControl2(
                            self.body, self.proximal[i], c.POSITION_CONTROL, targetPosition=q, force=cfg.hold_effort
                        )
                elif geared:
                    self._drive_proximal(self.proximal[i], at_stop=q < -STOP_SLACK)
            force = cfg.distal_effort
            if self._switched[i]:
                target, max_velocity, gain = robot.DISTAL_LIMIT, cfg.close_velocity, 0.1
                if geared and q_distal < -STOP_SLACK:  # pushed back past its stop: the stop holds
                    target, gain, force = 0.0, 1.0, cfg.hold_effort
            else:
                # The coupling is a rigid gear train: track it stiffly, leading by one step.
                lead = q + dq * self._time_step
                target = min(robot.DISTAL_COUPLING * lead, robot.DISTAL_LIMIT)
                max_velocity, gain = 10 * cfg.close_velocity, 1.0
                force = cfg.hold_effort if geared else force
            c.setJointMotorControl2(
                self.body,
                self.distal[i],
                c.POSITION_CONTROL,
                targetPosition=target,
                maxVelocity=max_velocity,
                force=force,
                positionGain=gain,
            )
        for i, (q, dq, *_rest) in enumerate(distal):  # read before this step's commands: no step since
            done = q >= robot.DISTAL_LIMIT - 1e-3 or (self._switched[i] and abs(dq) < cfg.stall_velocity)
            self._distal_stalled_for[i] = self._distal_stalled_for[i] + 1 if done else 0

    def _drive_proximal(self, joint: int, at_stop: bool = False) -> None:
        """Close a proximal joint at constant velocity up to its stall torque; `at_stop` (geared
        only): it was pushed back past its 0 rad stop, which holds."""
        c, cfg = self.client, self.config
        if at_stop:
            c.setJointMotorControl2(self.body, joint, c.POSITION_CONTROL, targetPosition=0.0, force=cfg.hold_effort)
            return
        c.setJointMotorControl2(
            self.body,
            joint,
            c.POSITION_CONTROL,
            targetPosition=robot.PROXIMAL_LIMIT,
            maxVelocity=cfg.close_velocity,
            force=cfg.proximal_effort,
        )

    @property
    def closed(self) -> bool:
        """Every finger has stopped: its distal joint is at its limit or stalled against contact
        (max effort reached). The real hand's motors stop there too."""
        return all(n >= self.config.stall_steps for n in self._distal_stalled_for)

    @property
    def torque_switched(self) -> list[bool]:
        return list(self._switched)
