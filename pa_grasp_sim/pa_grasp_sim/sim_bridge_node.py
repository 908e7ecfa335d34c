"""sim_bridge_node: the simulated robot and camera on the ROS graph.

Owns one GraspWorld (``mode`` arm by default: TX60 + BH-280 with IK and reachability).

* Publishes raw depth like a Kinect driver: 16UC1 millimetres (0 = invalid) + camera_info on
  the freenect topics (``/camera/depth/image_raw``, ``/camera/depth/camera_info``), frame
  ``camera_frame``, at ``publish_rate_hz``; the picture is re-rendered after every scene change.
* Serves ``/pa_grasp/execute_grasp`` (ExecuteGrasp): the palm pose (in ``base_frame``) is
  executed in PyBullet (pre-shape, straight approach from ``pregrasp_offset`` behind, close
  until max effort, lift); an unreachable pose gives success = false with the reason. After a
  pick the lifted object is removed (dropped in a bin), objects pushed out of the workspace (off
  the table, out of view, or where the TX60 cannot reach a top-down grasp) are removed too, and
  the robot returns out of view; when the table is empty a new scene is built
  (``new_scene_when_cleared``), and after ``new_scene_after_failures`` failed executions in a row
  too, so repeated /grasp goals keep working. Executions are atomic: cancel requests are rejected.
* Serves ``/pa_grasp/reset_scene`` (ResetScene) and publishes ``/joint_states`` (arm + hand).
* Publishes what a robot driver stack would on TF: the camera mount ``base_frame`` ->
  ``camera_frame`` on ``tf_static``; in arm mode also ``robot_description`` (the TX60 + BH-280
  URDF, latched), the URDF's fixed joints on ``tf_static`` and its moving links on ``tf`` at
  ``joint_state_rate_hz`` (read from the physics: robot_state_publisher's job on a real robot).

``base_frame`` is the TX60's base: it sits at ``WorldConfig.arm_base_position`` in the
simulator's world (the table centre is the world origin) and is axis-aligned with it, in both
modes. The camera is the simulator's default (top-down, the view the policy was trained on)
unless ``camera_pose_xyz_quat`` sets it; policy_node finds it on TF like on a real robot.

All world access (physics, rendering, joint reads) is serialised by one lock; the periodic
publishers skip a tick while an execution or a reset holds it.
"""

from __future__ import annotations

import dataclasses
import sys
import threading

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header, String
from tf2_msgs.msg import TFMessage

from pa_grasp_description import robot
from pa_grasp_interfaces.action import ExecuteGrasp
from pa_grasp_interfaces.srv import ResetScene
from pa_grasp_perception.action_qos import GOAL_SERVICE_QOS
from pa_grasp_perception.node_main import run_node
from pa_grasp_perception.ros_parameters import declare_config
from pa_grasp_perception.transforms import (
    DYNAMIC_QOS,
    STATIC_PUBLISHER_QOS,
    TF_TOPIC,
    publish_static_transforms,
    transforms_msg,
)
from pa_grasp_sim.execution import GraspOutcome
from pa_grasp_sim.objects import ObjectSetError, load_object_set
from pa_grasp_sim.robot_frames import edge_transforms, robot_edges
from pa_grasp_sim.sim_bridge_config import DESCRIPTIONS, READ_ONLY, SCENES, SimBridgeConfig
from pa_grasp_sim.sim_msgs import (
    from_pose_msg,
    to_camera_info_msg,
    to_depth_image_msg,
    to_execute_result_msg,
    to_joint_state_msg,
    to_reset_response_msg,
)
from pa_grasp_sim.world import GraspWorld, WorldConfig


class SimBridgeNode(Node):
    def __init__(self, node_name: str = "sim_bridge_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.config: SimBridgeConfig = declare_config(self, SimBridgeConfig, DESCRIPTIONS, READ_ONLY)
        cfg = self.config
        world_config = WorldConfig(mode=cfg.mode)
        world_config.camera.noise = cfg.camera_noise
        world_config.camera.width = world_config.camera.height = cfg.camera_px
        self._rng = np.random.default_rng(cfg.seed if cfg.seed >= 0 else None)
        self.world = GraspWorld(world_config, cfg.object_set, seed=int(self._rng.integers(2**31)))
        self.T_world_base = np.eye(4)
        self.T_world_base[:3, 3] = world_config.arm_base_position
        self._lock = threading.Lock()
        self._scene = cfg.scene
        self._object_count = cfg.object_count
        self._depth: np.ndarray | None = None
        self.scenes_built = 0
        self.executions = 0
        self.failures_in_a_row = 0  # on the current scene
        with self._lock:
            self._new_scene(seed=None)

        group = ReentrantCallbackGroup()
        self._depth_pub = self.create_publisher(Image, cfg.depth_topic, qos_profile_sensor_data)
        self._info_pub = self.create_publisher(CameraInfo, cfg.camera_info_topic, qos_profile_sensor_data)
        self._joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self._publish_frames()
        self.create_timer(1.0 / cfg.publish_rate_hz, self._publish_depth, callback_group=group)
        self.create_timer(1.0 / cfg.joint_state_rate_hz, self._publish_joint_states, callback_group=group)
        self._server = ActionServer(
            self,
            ExecuteGrasp,
            cfg.execute_action,
            execute_callback=self._execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT,
            cancel_callback=lambda goal_handle: CancelResponse.REJECT,
            callback_group=group,
            goal_service_qos_profile=GOAL_SERVICE_QOS,
        )
        self.create_service(ResetScene, cfg.reset_service, self._on_reset, callback_group=group)
        self.get_logger().info(
            f"simulated {cfg.mode} robot, {self._scene} scene of {len(self.world.objects)} object(s)"
            f" from '{cfg.object_set}'; depth on {cfg.depth_topic} at {cfg.publish_rate_hz:g} Hz,"
            f" {cfg.execute_action}, {cfg.reset_service}"
        )

    # ------------------------------------------------------------------ world (call with the lock held)
    def _new_scene(self, seed: int | None) -> int:
        """A scene of what the robot can reach (a seed drawn here is redrawn, up to 10 times, until
        something is); returns its seed."""
        count = 1 if self._scene == "single" else self._object_count
        drawn = seed is None or seed < 0
        for _ in range(10 if drawn else 1):
            seed = int(self._rng.integers(2**31)) if drawn else int(seed)
            self.world.reset(count, seed=seed)
            self.world.remove_outside_workspace()
            if self.world.objects:
                break
        if self.config.T_base_camera is not None:
            self.world.camera.set_pose(self.T_world_base @ self.config.T_base_camera)
        self.scenes_built += 1
        self.failures_in_a_row = 0
        self._render()
        return seed

    def _render(self) -> None:
        self._depth = self.world.render_depth()

    def _joint_positions(self) -> dict[str, float]:
        positions = {}
        if self.world.config.mode == "arm":
            states = self.world.client.getJointStates(self.world.robot, self.world.arm_joints)
            positions.update({name: s[0] for name, s in zip(robot.ARM_JOINTS, states)})
        positions.update(self.world.hand.joint_positions())
        return positions

    # ------------------------------------------------------------------ publishers
    def _publish_frames(self) -> None:
        """tf_static (camera mount, the robot's fixed joints) and robot_description, once (latched)."""
        cfg, world = self.config, self.world
        T_base_camera = np.linalg.inv(self.T_world_base) @ world.camera.T_world_camera
        static = [(cfg.base_frame, cfg.camera_frame, T_base_camera)]
        self._moving_edges = []
        self._tf_pub = None
        if cfg.mode == "arm":
            edges = robot_edges(world.client, world.robot)
            static += edge_transforms(world.client, world.robot, [e for e in edges if e.fixed], self.T_world_base)
            self._moving_edges = [e for e in edges if not e.fixed]
            self._tf_pub = self.create_publisher(TFMessage, TF_TOPIC, DYNAMIC_QOS)
            # robot_state_publisher's QoS: latched, so a late RViz or MoveIt still gets it
            self._description_pub = self.create_publisher(String, "robot_description", STATIC_PUBLISHER_QOS)
            self._description_pub.publish(String(data=robot.robot_urdf_path().read_text()))
        self._tf_static_pub = publish_static_transforms(self, static)

    def _publish_depth(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # an execution or reset holds the world: the picture is changing anyway
        try:
            if self.config.camera_noise:
                self._render()  # fresh noise every frame, like a real sensor
            depth, intrinsics = self._depth, self.world.camera.intrinsics
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.config.camera_frame)
            self._info_pub.publish(to_camera_info_msg(intrinsics, header))
            self._depth_pub.publish(to_depth_image_msg(depth, header))
        finally:
            self._lock.release()

    def _publish_joint_states(self) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            positions = self._joint_positions()
            links = edge_transforms(self.world.client, self.world.robot, self._moving_edges, self.T_world_base)
        finally:
            self._lock.release()
        stamp = self.get_clock().now().to_msg()
        self._joint_pub.publish(to_joint_state_msg(positions, Header(stamp=stamp)))
        if self._tf_pub is not None:
            self._tf_pub.publish(transforms_msg(links, stamp))

    # ------------------------------------------------------------------ execute_grasp
    def _execute(self, goal_handle) -> ExecuteGrasp.Result:
        goal: ExecuteGrasp.Goal = goal_handle.request
        frame = goal.grasp_pose.header.frame_id
        try:
            if frame not in ("", self.config.base_frame):
                raise ValueError(f"grasp_pose is in frame '{frame}'; the simulator takes '{self.config.base_frame}'")
            T_world_palm = self.T_world_base @ from_pose_msg(goal.grasp_pose.pose)
            spread, *fingers = (float(x) for x in goal.hand_joints)
        except ValueError as exc:
            goal_handle.abort()
            return ExecuteGrasp.Result(success=False, reason=f"invalid grasp: {exc}", reachable=False)
        feedback = ExecuteGrasp.Feedback(
            stage=ExecuteGrasp.Feedback.STAGE_PRESHAPE, stage_description="simulating the grasp in PyBullet"
        )
        goal_handle.publish_feedback(feedback)
        with self._lock:
            outcome = self._execute_locked(T_world_palm, spread, fingers, goal.pregrasp_offset, goal.lift_height)
        self.executions += 1
        verdict = "lifted an object" if outcome.success else f"failed: {outcome.reason}"
        self.get_logger().info(f"grasp {self.executions} {verdict}; {len(self.world.objects)} object(s) left")
        goal_handle.succeed()
        return to_execute_result_msg(outcome)

    def _execute_locked(self, T_world_palm, spread, fingers, pregrasp_offset, lift_height) -> GraspOutcome:
        world = self.world
        saved = world.config.execution
        changes = {}
        if pregrasp_offset > 0:
            changes["approach_distance_m"] = float(pregrasp_offset)
        if lift_height > 0:
            changes["lift_height_m"] = float(lift_height)
        world.config.execution = dataclasses.replace(saved, **changes)
        try:
            outcome = world.execute_pose(T_world_palm, spread, fingers)
        finally:
            world.config.execution = saved
        if outcome.success:
            world.remove_lifted(outcome)
        world.park_robot()
        knocked_off = world.remove_outside_workspace()
        if knocked_off:  # left in place they would keep the table from ever counting as cleared
            names = ", ".join(p.spec.name for p in knocked_off)
            self.get_logger().info(f"the grasp pushed {names} off the table, out of view or out of reach: removed")
        self.failures_in_a_row = 0 if outcome.success else self.failures_in_a_row + 1
        limit = self.config.new_scene_after_failures
        if limit and self.failures_in_a_row >= limit:
            self.get_logger().info(
                f"{limit} failed grasps in a row on this scene: a new scene (new_scene_after_failures)"
            )
            self._new_scene(seed=None)
        elif not world.objects and self.config.new_scene_when_cleared:
            self._new_scene(seed=None)
        else:
            self._render()
        return outcome

    # ------------------------------------------------------------------ reset_scene
    def _on_reset(self, request: ResetScene.Request, response: ResetScene.Response) -> ResetScene.Response:
        scene = request.scene or self._scene
        if scene not in SCENES:
            return to_reset_response_msg(False, f"unknown scene '{request.scene}': use one of {SCENES}", 0, -1)
        count = int(request.object_count) or self.config.object_count
        if scene == "cluttered" and not 2 <= count <= 30:
            return to_reset_response_msg(False, f"a cluttered scene needs 2-30 objects, got {count}", 0, -1)
        with self._lock:
            if request.object_set and request.object_set != self.world.object_set.name:
                try:
                    self.world.object_set = load_object_set(request.object_set)
                except ObjectSetError as exc:
                    return to_reset_response_msg(False, str(exc), 0, -1)
            self._scene, self._object_count = scene, count
            try:
                seed = self._new_scene(seed=int(request.seed))
            except (ObjectSetError, ValueError) as exc:
                return to_reset_response_msg(False, f"cannot build the scene: {exc}", 0, -1)
            placed = len(self.world.objects)
        self.get_logger().info(f"new {scene} scene: {placed} object(s), seed {seed}")
        return to_reset_response_msg(True, "", placed, seed)

    def destroy_node(self):
        with self._lock:
            self.world.close()
        self._server.destroy()  # Node.destroy_node() leaves action servers (and so the node) alive
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(SimBridgeNode, "sim_bridge_node", args)


if __name__ == "__main__":
    sys.exit(main())
