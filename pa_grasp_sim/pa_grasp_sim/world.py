"""One PyBullet world: table, objects, depth camera, and the BH-280 (floating or on the TX60).

One physics client per world (never a global connection), reused across episodes: a reset
removes the objects and drops new ones; the hand is parked out of the way, not reloaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils import bullet_client
from scipy.spatial.transform import Rotation

from pa_grasp_description import robot
from pa_grasp_perception.grasp_command import GraspCommand, GraspInputError, command_palm_pose, validate_preshape
from pa_grasp_perception.grasp_geometry import check_pose
from pa_grasp_sim.camera import CameraConfig, DepthCamera, camera_pose
from pa_grasp_sim.execution import ExecutionConfig, GraspOutcome
from pa_grasp_sim.hand import BarrettHand, HandConfig
from pa_grasp_sim.objects import ObjectSet, load_object_set
from pa_grasp_sim.scene import PlacedObject, SceneConfig, build_scene, create_body, outside_workspace

PARK_POSITION = (0.0, 0.0, 1.5)  # floating hand waits here, far above the table


@dataclass
class WorldConfig:
    mode: str = "floating"  # "floating" (fast, training) or "arm" (TX60 + IK, like the real robot)
    time_step: float = 1.0 / 240.0
    solver_iterations: int = 50
    arm_base_position: tuple[float, float, float] = (-0.40, 0.0, 0.0)
    camera: CameraConfig = field(default_factory=CameraConfig)
    scene: SceneConfig = field(default_factory=SceneConfig)
    hand: HandConfig = field(default_factory=HandConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    hand_max_force: float = 400.0  # N: the floating hand's constraint (a strong arm)


@dataclass
class SceneSnapshot:
    seed: int | None
    specs: list
    poses: list
    rest_positions: list
    T_world_camera: np.ndarray

    def turned(self, quarter_turns: int) -> SceneSnapshot:
        """This scene with every object turned by quarter_turns x 90° about the world z axis, the
        camera kept: seen by the top-down camera over the workspace centre, the image turned by
        `numpy.rot90(depth, quarter_turns)`."""
        turn = Rotation.from_euler("z", 90.0 * quarter_turns, degrees=True)
        poses = [(tuple(turn.apply(pos)), tuple((turn * Rotation.from_quat(q)).as_quat())) for pos, q in self.poses]
        rests = [turn.apply(rest) for rest in self.rest_positions]
        return replace(self, poses=poses, rest_positions=rests)


class _CachedBulletClient(bullet_client.BulletClient):
    """BulletClient builds a functools.partial on every attribute access (tens of thousands per
    episode); bind each pybullet function to this client once instead."""

    def __getattr__(self, name):
        attribute = super().__getattr__(name)
        if callable(attribute):
            self.__dict__[name] = attribute
        return attribute


def _pose_to_pq(T: np.ndarray) -> tuple[list[float], list[float]]:
    return T[:3, 3].tolist(), Rotation.from_matrix(T[:3, :3]).as_quat().tolist()


class GraspWorld:
    def __init__(self, config: WorldConfig | None = None, object_set: ObjectSet | str = "seen", seed: int = 0):
        self.config = config or WorldConfig()
        if self.config.mode not in ("floating", "arm"):
            raise ValueError(f"mode must be 'floating' or 'arm', got '{self.config.mode}'")
        self.config.camera.check()  # before connecting: a refused config leaves no physics client behind
        self.object_set = load_object_set(object_set) if isinstance(object_set, str) else object_set
        self.rng = np.random.default_rng(seed)
        self.client = _CachedBulletClient(connection_mode=pybullet.DIRECT)
        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.camera = DepthCamera(self.client, self.config.camera)
        self.objects: list[PlacedObject] = []
        self.scene_seed: int | None = None
        self._build_static()

    # -- set-up ----------------------------------------------------------------------------
    def _build_static(self) -> None:
        """Table and robot in a freshly reset simulation. Rebuilding them (a few ms) on every
        scene reset makes seeded scenes bit-identical: PyBullet is deterministic only for an
        identical history of bodies and steps."""
        c = self.client
        c.resetSimulation()
        c.setGravity(0, 0, -9.81)
        c.setPhysicsEngineParameter(
            fixedTimeStep=self.config.time_step,
            numSolverIterations=self.config.solver_iterations,
            deterministicOverlappingPairs=1,
        )
        self.table = c.loadURDF("plane.urdf", [0, 0, 0])
        c.changeDynamics(self.table, -1, lateralFriction=0.8)
        self.objects = []
        if self.config.mode == "floating":
            self._load_floating_hand()
        else:
            self._load_arm()

    def _load_floating_hand(self) -> None:
        c = self.client
        self.robot = c.loadURDF(
            str(robot.hand_urdf_path()), PARK_POSITION, useFixedBase=False, flags=c.URDF_USE_INERTIA_FROM_FILE
        )
        self.hand = BarrettHand(c, self.robot, self.config.hand)
        # T_base_palm, read from the model so the hand files stay the single source of truth.
        base_p, base_q = c.getBasePositionAndOrientation(self.robot)
        palm = c.getLinkState(self.robot, self.hand.palm_link, computeForwardKinematics=True)
        T_world_base = np.eye(4)
        T_world_base[:3, :3] = Rotation.from_quat(base_q).as_matrix()
        T_world_base[:3, 3] = base_p
        T_world_palm = np.eye(4)
        T_world_palm[:3, :3] = Rotation.from_quat(palm[5]).as_matrix()
        T_world_palm[:3, 3] = palm[4]
        self.T_palm_base = np.linalg.inv(T_world_palm) @ T_world_base
        self.constraint = c.createConstraint(self.robot, -1, -1, -1, c.JOINT_FIXED, [0, 0, 0], [0, 0, 0], PARK_POSITION)
        self._park_hand()

    def _load_arm(self) -> None:
        c = self.client
        self.robot = c.loadURDF(
            str(robot.robot_urdf_path()),
            self.config.arm_base_position,
            useFixedBase=True,
            flags=c.URDF_USE_INERTIA_FROM_FILE,
        )
        self.hand = BarrettHand(c, self.robot, self.config.hand)
        names = {c.getJointInfo(self.robot, j)[1].decode(): j for j in range(c.getNumJoints(self.robot))}
        self.arm_joints = [names[n] for n in robot.ARM_JOINTS]
        self.arm_limits = np.array([robot.ARM_JOINT_LIMITS[n] for n in robot.ARM_JOINTS])
        # IK works over every movable joint; remember where the arm joints sit in that list.
        self.movable = [
            j for j in range(c.getNumJoints(self.robot)) if c.getJointInfo(self.robot, j)[2] != c.JOINT_FIXED
        ]
        self.home = np.array([0.0, -0.8, 2.0, 0.0, 1.0, 0.0])  # folded back, outside the camera view
        self._reset_arm(self.home)

    def _reset_arm(self, q: np.ndarray) -> None:
        for j, qi in zip(self.arm_joints, q):
            self.client.resetJointState(self.robot, j, float(qi))
        self.client.setJointMotorControlArray(
            self.robot, self.arm_joints, self.client.POSITION_CONTROL, targetPositions=list(q), forces=[300.0] * 6
        )

    def _park_hand(self) -> None:
        c = self.client
        c.resetBasePositionAndOrientation(self.robot, PARK_POSITION, [0, 0, 0, 1])
        c.resetBaseVelocity(self.robot, [0, 0, 0], [0, 0, 0])
        c.changeConstraint(self.constraint, PARK_POSITION, [0, 0, 0, 1], maxForce=self.config.hand_max_force)
        self.hand.reset_preshape(0.0, (0.0, 0.0, 0.0))

    # -- scenes ----------------------------------------------------------------------------
    def clear(self) -> None:
        for p in self.objects:
            self.client.removeBody(p.body)
        self.objects = []

    def reset(self, object_count: int = 1, seed: int | None = None) -> list[PlacedObject]:
        """A new scene of `object_count` objects drawn uniformly. Same seed -> same scene."""
        self.scene_seed = int(self.rng.integers(2**31)) if seed is None else int(seed)
        rng = np.random.default_rng(self.scene_seed)
        for _ in range(5):  # everything rolled off the table: drop again (same seed, same retries)
            self._build_static()
            self.objects = build_scene(self.client, self.object_set, object_count, rng, self.config.scene)
            if self.objects:
                break
        self.camera.set_pose(camera_pose(self.config.camera, rng))  # jittered only if configured
        return self.objects

    def snapshot(self) -> SceneSnapshot:
        """The current scene (objects and their poses), to rebuild it later without settling."""
        poses = [self.client.getBasePositionAndOrientation(p.body) for p in self.objects]
        return SceneSnapshot(
            self.scene_seed,
            [p.spec for p in self.objects],
            poses,
            [p.rest_position.copy() for p in self.objects],
            self.camera.T_world_camera.copy(),
        )

    def restore(self, snapshot: SceneSnapshot) -> list[PlacedObject]:
        """Rebuild a snapshot: objects created at their settled poses (a few steps of settling
        only). Training reuses each cluttered scene a few times this way; a 30-object drop and
        settle costs seconds, a restore tens of milliseconds."""
        self._build_static()
        self.scene_seed = snapshot.seed
        self.objects = []
        for spec, (pos, quat), rest in zip(snapshot.specs, snapshot.poses, snapshot.rest_positions):
            self.objects.append(PlacedObject(create_body(self.client, spec, pos, quat), spec, rest.copy()))
        for _ in range(10):
            self.client.stepSimulation()
        self.camera.set_pose(snapshot.T_world_camera)
        return self.objects

    def load_bodies(self, build: Callable[[bullet_client.BulletClient], list[PlacedObject]], settle_steps: int = 10):
        """A fresh simulation (table, robot) holding the objects `build(client)` creates, e.g. a
        depth twin's bodies; their rest positions are where they are after `settle_steps`."""
        self._build_static()
        self.scene_seed = None
        self.objects = list(build(self.client))
        for _ in range(settle_steps):
            self.client.stepSimulation()
        for placed in self.objects:  # lifted is judged against these
            placed.rest_position = np.asarray(self.client.getBasePositionAndOrientation(placed.body)[0])
        return self.objects

    def object_positions(self) -> dict[int, np.ndarray]:
        return {p.body: np.asarray(self.client.getBasePositionAndOrientation(p.body)[0]) for p in self.objects}

    def render_depth(self, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.camera.render(rng if rng is not None else self.rng)

    def remove_outside_workspace(self) -> list[PlacedObject]:
        """Take out the objects outside the workspace: off the table or out of the camera's view
        (as a scene's build does) or, in arm mode, where the TX60 cannot reach a top-down grasp
        (`within_reach`). Returns them."""
        gone = [
            p
            for p in self.objects
            if outside_workspace(self.client, p.body, self.config.scene) or not self.within_reach(p.body)
        ]
        for p in gone:
            self.client.removeBody(p.body)
        self.objects = [p for p in self.objects if p not in gone]
        return gone

    def remove_lifted(self, outcome: GraspOutcome) -> None:
        """After a successful pick the robot drops the object in a bin: take it out of the scene."""
        for body in outcome.lifted_objects:
            self.client.removeBody(body)
        self.objects = [p for p in self.objects if p.body not in outcome.lifted_objects]

    # -- grasping --------------------------------------------------------------------------
    def execute(self, command: GraspCommand, depth: np.ndarray) -> GraspOutcome:
        """Execute a grasp chosen on `depth` (the image the policy saw). Bad input -> a failed
        outcome with the reason, never an exception."""
        try:
            command.validate()
            surface = self._surface_point(command, depth)
        except GraspInputError as exc:
            return GraspOutcome(False, reason=str(exc))
        T_grasp = command_palm_pose(surface, command, self.config.execution.grasp_offset_m)
        outcome = self.execute_pose(T_grasp, command.spread, command.fingers)
        outcome.surface_point = surface
        return outcome

    def execute_pose(self, T_world_palm: np.ndarray, spread: float, fingers) -> GraspOutcome:
        """Execute a grasp given as the palm pose at the grasp (world frame; the surface point
        already moved back by the grasp offset) and the hand pre-shape [spread, (f1, f2, f3)]:
        pre-shape, straight approach from `approach_distance_m` behind the pose, close until max
        effort, lift. Bad input -> a failed outcome with the reason, never an exception."""
        try:
            validate_preshape(spread, fingers)
            T_grasp = check_pose(T_world_palm, "grasp pose")
        except ValueError as exc:  # GraspInputError is a ValueError
            return GraspOutcome(False, reason=str(exc))
        spread, fingers = float(spread), tuple(float(f) for f in fingers)
        if self.config.execution.parallel_hand:
            spread = 0.0
        before = self.object_positions()
        if self.config.mode == "floating":
            outcome = self._execute_floating(spread, fingers, T_grasp)
        else:
            outcome = self._execute_arm(spread, fingers, T_grasp)
        outcome.T_world_palm = T_grasp
        after = self.object_positions()
        outcome.moved_objects = [b for b in before if np.linalg.norm(after[b] - before[b]) > 0.01]
        return outcome

    def park_robot(self) -> None:
        """Move the robot out of the camera's view at once (arm home / floating hand parked)
        with the hand open: where a grasp left it no longer matters for the next picture."""
        if self.config.mode == "floating":
            self._park_hand()
        else:
            self.hand.reset_preshape(0.0, (0.0, 0.0, 0.0))
            self._reset_arm(self.home)

    def _surface_point(self, command: GraspCommand, depth: np.ndarray) -> np.ndarray:
        intr = self.camera.intrinsics
        if depth.shape != (intr.height, intr.width):
            raise GraspInputError(f"depth image is {depth.shape}, the camera renders {intr.height}x{intr.width}")
        if not intr.contains(command.u, command.v):
            raise GraspInputError(f"grasp pixel ({command.u:.1f}, {command.v:.1f}) is outside the image")
        d = float(depth[int(round(command.v)), int(round(command.u))])
        if not (np.isfinite(d) and d > 0):
            raise GraspInputError(f"no valid depth at grasp pixel ({command.u:.1f}, {command.v:.1f})")
        return self.camera.pixel_to_world(command.u, command.v, d)

    def _steps(self, seconds: float) -> int:
        return max(1, int(round(seconds / self.config.time_step)))

    def _hand_contacts(self, max_distance: float = 0.001) -> list[int]:
        """Bodies (other than the robot) touching the hand. PyBullet also reports manifold
        points that are still up to ~2 cm apart; only points closer than `max_distance` count."""
        return sorted(
            {
                cp[2]
                for cp in self.client.getContactPoints(bodyA=self.robot)
                if cp[2] != self.robot and cp[8] < max_distance
            }
        )

    def _execute_floating(self, spread: float, fingers: tuple, T_grasp: np.ndarray) -> GraspOutcome:
        c, cfg = self.client, self.config.execution
        approach = T_grasp[:3, 2]
        T_start = T_grasp.copy()
        T_start[:3, 3] -= cfg.approach_distance_m * approach
        steps = 0
        # Pre-shape away from the scene, then appear at the start of the approach.
        self.hand.reset_preshape(spread, fingers)
        T_base = T_start @ self.T_palm_base
        p, q = _pose_to_pq(T_base)
        c.resetBasePositionAndOrientation(self.robot, p, q)
        c.resetBaseVelocity(self.robot, [0, 0, 0], [0, 0, 0])
        c.changeConstraint(self.constraint, p, q, maxForce=self.config.hand_max_force)
        c.performCollisionDetection()
        blocked = self._hand_contacts(max_distance=-0.001)  # interpenetrating, not just near
        if blocked:
            self._park_hand()
            names = ["table" if b == self.table else f"object {b}" for b in blocked]
            return GraspOutcome(False, reason=f"pre-grasp pose in collision with {', '.join(names)}", collisions=names)
        # Straight approach along the hand axis, guarded: it stops where the hand meets the
        # table (an arm would not push the fingers through it).
        n = self._steps(cfg.approach_distance_m / cfg.approach_speed_mps)
        collisions = set()
        T_reached = T_start
        # The orientation is fixed along the way: moving the palm by d moves the base by d.
        base_start = np.asarray(p)
        for k in range(1, n + 1):
            T = T_start.copy()
            step_offset = (k / n) * cfg.approach_distance_m * approach
            T[:3, 3] += step_offset
            c.changeConstraint(
                self.constraint, (base_start + step_offset).tolist(), q, maxForce=self.config.hand_max_force
            )
            self.hand.hold()
            c.stepSimulation()
            steps += 1
            T_reached = T
            collisions.update(self._hand_contacts())
            if self._touching_table():
                break
        # Close at constant velocity until max effort.
        for _ in range(self._steps(cfg.close_time_s)):
            self.hand.close_step()
            c.stepSimulation()
            steps += 1
            if self.hand.closed:
                break
        # Lift straight up (world z), still squeezing.
        n = self._steps(cfg.lift_height_m / cfg.lift_speed_mps)
        base_reached = base_start + (T_reached[:3, 3] - T_start[:3, 3])
        for k in range(1, n + 1):
            lift = np.array([0.0, 0.0, (k / n) * cfg.lift_height_m])
            c.changeConstraint(self.constraint, (base_reached + lift).tolist(), q, maxForce=self.config.hand_max_force)
            self.hand.close_step()
            c.stepSimulation()
            steps += 1
        for _ in range(self._steps(cfg.hold_time_s)):
            self.hand.close_step()
            c.stepSimulation()
            steps += 1
        outcome = self._judge(collisions)
        outcome.sim_steps = steps
        if not outcome.success:
            self._park_hand()  # a failed lift drops what it held: the scene stays perturbed
        return outcome

    def _touching_table(self) -> bool:
        return bool(self.client.getContactPoints(bodyA=self.robot, bodyB=self.table))

    def _judge(self, collisions: set[int]) -> GraspOutcome:
        cfg = self.config.execution
        held = set(self._hand_contacts())
        lifted = []
        for p in self.objects:
            z = self.client.getBasePositionAndOrientation(p.body)[0][2]
            if z > p.rest_position[2] + cfg.success_lift_m and p.body in held:
                lifted.append(p.body)
        names = ["table" if b == self.table else f"object {b}" for b in sorted(collisions)]
        if lifted:
            return GraspOutcome(True, lifted_objects=lifted, collisions=names)
        reason = "nothing held after the lift" if not held - {self.table} else "object slipped / not lifted clear"
        return GraspOutcome(False, reason=reason, collisions=names)

    # -- arm mode --------------------------------------------------------------------------
    def _solve_ik(self, T_world_palm: np.ndarray, seed_q: np.ndarray) -> np.ndarray | None:
        """Arm joints that put the palm at T_world_palm, or None if unreachable."""
        c = self.client
        p, q = _pose_to_pq(T_world_palm)
        self._reset_arm(seed_q)
        sol = None
        for _ in range(3):  # a few restarts from the current guess refine the solution
            full = c.calculateInverseKinematics(
                self.robot, self.hand.palm_link, p, q, maxNumIterations=200, residualThreshold=1e-5
            )
            arm_q = np.array([full[self.movable.index(j)] for j in self.arm_joints])
            self._reset_arm(arm_q)
            sol = arm_q
        state = c.getLinkState(self.robot, self.hand.palm_link, computeForwardKinematics=True)
        pos_err = np.linalg.norm(np.asarray(state[4]) - T_world_palm[:3, 3])
        rot_err = (Rotation.from_quat(state[5]).inv() * Rotation.from_matrix(T_world_palm[:3, :3])).magnitude()
        within = np.all(sol >= self.arm_limits[:, 0] - 1e-6) and np.all(sol <= self.arm_limits[:, 1] + 1e-6)
        if pos_err > 0.01 or rot_err > math.radians(3) or not within:
            return None
        return sol

    def within_reach(self, body: int) -> bool:
        """Whether the arm reaches the pre-grasp, grasp and lift poses of a top-down grasp at the
        top of `body`'s bounding box at one of four yaws (always true for the floating hand). A
        coarse test: the policy's grasp may still be out of reach where this one is not, and the
        other way round."""
        if self.config.mode != "arm":
            return True
        lo, hi = self.client.getAABB(body)
        top = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2]])
        for yaw in np.arange(4) * math.pi / 4:
            command = GraspCommand(0.0, 0.0, yaw=float(yaw))  # top-down
            if self._arm_waypoints(command_palm_pose(top, command, self.config.execution.grasp_offset_m))[0]:
                return True
        return False

    def _solve_ik_from_home(self, T_world_palm: np.ndarray) -> np.ndarray | None:
        """Arm joints for T_world_palm from the home pose or, where pybullet's IK does not converge
        from there, from home with a wrist joint turned half or a full turn: it finds the solution
        on its seed's branch only, and a real arm's planner restarts likewise. Without these
        restarts 1-3 of 8 top-down yaws were 'unreachable' on most of the table."""
        for joint, turn in ((None, 0.0), (5, -math.pi), (5, math.pi), (5, -2 * math.pi), (5, 2 * math.pi),
                            (3, -math.pi), (3, math.pi)):  # fmt: skip
            seed = self.home.copy()
            if joint is not None:
                seed[joint] += turn
            solution = self._solve_ik(T_world_palm, seed)
            if solution is not None:
                return solution
        return None

    def reachable(self, T_world_palm: np.ndarray) -> bool:
        ok = self._solve_ik_from_home(T_world_palm) is not None
        self._reset_arm(self.home)
        return ok

    def _drive_arm(
        self, q_from: np.ndarray, q_to: np.ndarray, seconds: float, closing: bool, guard_table: bool = False
    ) -> set[int]:
        """Joint-space interpolation; with guard_table it stops where the hand meets the table."""
        c = self.client
        n = self._steps(seconds)
        contacts = set()
        for k in range(1, n + 1):
            q = q_from + (k / n) * (q_to - q_from)
            c.setJointMotorControlArray(
                self.robot,
                self.arm_joints,
                c.POSITION_CONTROL,
                targetPositions=list(q),
                forces=[300.0] * 6,
                positionGains=[0.3] * 6,
            )
            if closing:
                self.hand.close_step()
            else:
                self.hand.hold()
            c.stepSimulation()
            contacts.update(self._hand_contacts())
            if guard_table and self._touching_table():
                here = [s[0] for s in c.getJointStates(self.robot, self.arm_joints)]
                c.setJointMotorControlArray(
                    self.robot, self.arm_joints, c.POSITION_CONTROL, targetPositions=here, forces=[300.0] * 6
                )
                break
        return contacts

    def _arm_waypoints(self, T_grasp: np.ndarray) -> tuple[tuple[np.ndarray, ...] | None, str]:
        """((q_start, q_grasp, q_lift), "") for the palm at T_grasp, or (None, the first pose the
        TX60 cannot reach); the arm is left at home."""
        cfg = self.config.execution
        T_start = T_grasp.copy()
        T_start[:3, 3] -= cfg.approach_distance_m * T_grasp[:3, 2]
        T_lift = T_grasp.copy()
        T_lift[2, 3] += cfg.lift_height_m
        q_start = self._solve_ik_from_home(T_start)
        # The grasp and the lift on the pre-grasp's branch: a straight approach, no wrist flip.
        q_grasp = self._solve_ik(T_grasp, q_start) if q_start is not None else None
        q_lift = self._solve_ik(T_lift, q_grasp) if q_grasp is not None else None
        self._reset_arm(self.home)
        if q_start is None or q_grasp is None or q_lift is None:
            return None, "pre-grasp" if q_start is None else "grasp" if q_grasp is None else "lift"
        return (q_start, q_grasp, q_lift), ""

    def _execute_arm(self, spread: float, fingers: tuple, T_grasp: np.ndarray) -> GraspOutcome:
        cfg = self.config.execution
        waypoints, unreachable = self._arm_waypoints(T_grasp)
        if waypoints is None:
            return GraspOutcome(False, reason=f"{unreachable} pose unreachable for the TX60", reachable=False)
        q_start, q_grasp, q_lift = waypoints
        self.hand.reset_preshape(spread, fingers)
        collisions = self._drive_arm(self.home, q_start, 1.0, closing=False)
        if collisions:
            names = ["table" if b == self.table else f"object {b}" for b in sorted(collisions)]
            return GraspOutcome(False, reason="collision moving to the pre-grasp pose", collisions=names)
        collisions |= self._drive_arm(
            q_start, q_grasp, cfg.approach_distance_m / cfg.approach_speed_mps, False, guard_table=True
        )
        q_reached = np.array([s[0] for s in self.client.getJointStates(self.robot, self.arm_joints)])
        for _ in range(self._steps(cfg.close_time_s)):
            self.hand.close_step()
            self.client.stepSimulation()
            if self.hand.closed:
                break
        self._drive_arm(q_reached, q_lift, cfg.lift_height_m / cfg.lift_speed_mps, closing=True)
        self._drive_arm(q_lift, q_lift, cfg.hold_time_s, closing=True)
        outcome = self._judge(collisions)
        if not outcome.success:
            self.hand.reset_preshape(0.0, (0.0, 0.0, 0.0))
            self._reset_arm(self.home)
        return outcome

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
