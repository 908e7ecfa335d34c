"""policy_node: the public ``/grasp`` action (pa_grasp_interfaces/action/Grasp).

On a goal: take the latest conditioned depth (``/pa_grasp/depth`` + ``/pa_grasp/camera_info``
from kinect_node) taken after the goal arrived (``require_fresh_depth``; waits up to
``depth_timeout_s``), run the zoom loop of the policy one step at
a time (feedback per step: stage, attempt, zoom_step, current_box in original pixels), lift the
grasp pixel to a palm pose in ``base_frame`` (intrinsics from camera_info, extrinsics from
``camera_pose_xyz_quat``), send it to ``/pa_grasp/execute_grasp`` (ExecuteGrasp: sim_bridge_node
or executor_node) and retry up to ``max_attempts`` times after a failed lift, each attempt on a
depth image taken after the previous execution ended.

Goal outcome:
  * SUCCEEDED, result.success = true: an object was lifted.
  * SUCCEEDED, result.success = false: every attempt was executed (or could not be placed in
    3D) and none lifted anything; result.message says why.
  * ABORTED: the server could not try (no depth, invalid ROI, no executor, execution timeout,
    a depth twin worker that died, internal error); result.message says why. The node stays up.
  * CANCELED: cancel is honoured while waiting for depth, between zoom steps, between the depth
    twin's executions, before the execution and between attempts; a running execution is
    finished first.

One grasp at a time: a goal that arrives while another runs is REJECTED (the reason is logged;
the action protocol has no field for it). Debug output: ``/pa_grasp/debug_image`` (rgb8 depth
with the zoom boxes) and ``/pa_grasp/grasp_markers`` (MarkerArray in base_frame).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import threading
import time

import torch
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from pa_grasp_interfaces.action import ExecuteGrasp, Grasp
from pa_grasp_perception.action_client import RaceFreeActionClient
from pa_grasp_perception.depth import DepthFormatError
from pa_grasp_perception.node_main import run_node
from pa_grasp_perception.ros_parameters import config_with, declare_config
from pa_grasp_policy.checkpoint import CheckpointError
from pa_grasp_policy.conversions import (
    from_camera_info_msg,
    from_image_msg,
    from_roi_msg,
    to_execute_grasp_goal,
    to_feedback_msg,
    to_grasp_markers_msg,
    to_grasp_proposal_msg,
    to_pose_stamped_msg,
    to_rgb_image_msg,
    to_roi_msg,
)
from pa_grasp_policy.evaluate import load_policy, resolve_selector
from pa_grasp_policy.grasp_proposal import ProposalError, final_grasp, make_proposal, view_mismatch
from pa_grasp_policy.node_config import DESCRIPTIONS, READ_ONLY, PolicyNodeConfig
from pa_grasp_policy.turn_selection import SelectorError, camera_looks_down, select_among_turns
from pa_grasp_policy.zoom import ZoomState
from pa_grasp_policy.zoom_env import result_to_command
from pa_grasp_policy.zoom_image import draw_zoom
from pa_grasp_sim.depth_twin import objects_in_view
from pa_grasp_sim.twin_local_search import LocalSearchConfig, search_near
from pa_grasp_sim.twin_workers import TwinWorkerError, make_twin

F = Grasp.Feedback
DEBUG_IMAGE_TOPIC = "/pa_grasp/debug_image"
MARKERS_TOPIC = "/pa_grasp/grasp_markers"
_POLL_S = 0.05


class GoalAbortedError(Exception):
    """The goal cannot go on; the message is the result's message."""


class GoalCanceledError(Exception):
    """Cancel was requested; the message says where it was honoured."""


@dataclasses.dataclass
class DepthFrame:
    depth: object  # float32 HxW metres
    intrinsics: object
    header: Header


class GraspsLeft:
    """One image's grasps not sent yet, best first: (uv, rpy, hand_joints, boxes). An iterator, so
    the later ones are ranked (in the depth twin) only if an attempt asks for them."""

    def __init__(self, grasps, count: int):
        self._grasps, self._count = grasps, count

    def __len__(self) -> int:
        return self._count

    def pop(self):
        self._count -= 1
        return next(self._grasps)


class PolicyNode(Node):
    def __init__(self, node_name: str = "policy_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.config: PolicyNodeConfig = declare_config(self, PolicyNodeConfig, DESCRIPTIONS, READ_ONLY)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        torch.set_num_threads(self.config.torch_threads)
        try:
            self.policy, self.zoom_config, world_config = load_policy(self.config.checkpoint or None)
        except CheckpointError as exc:
            raise CheckpointError(
                f"{exc} (policy_node parameter 'checkpoint'; e.g. pa-grasp-bringup sim -p policy_node.checkpoint=PATH)"
            ) from None
        self._generator = torch.Generator().manual_seed(self.config.seed)
        self.selector = self._load_selector()
        # The depth twin, used only with the selector: its worker processes (or, with twin_workers 0,
        # one physics client in this process) live as long as the node.
        use_twin = self.selector is not None and self.config.depth_twin
        self.twin = make_twin(self.config.twin_workers, world_config) if use_twin else None
        # The camera the policy was trained with; its min zoom box counts that camera's pixels.
        self._trained_camera = (world_config.camera.width, world_config.camera.height)
        self._told_sizes: set[tuple[int, int]] = set()  # depth sizes already logged as unlike training

        self._group = ReentrantCallbackGroup()
        self._depth_cond = threading.Condition()
        self._depth_msg: Image | None = None
        self._infos: list[CameraInfo] = []
        self._busy_lock = threading.Lock()
        self._busy = False
        self._shutdown = threading.Event()
        self._last_execution_end_ns = 0

        self.create_subscription(
            Image, self.config.depth_topic, self._on_depth, qos_profile_sensor_data, callback_group=self._group
        )
        self.create_subscription(
            CameraInfo,
            self.config.camera_info_topic,
            self._on_info,
            qos_profile_sensor_data,
            callback_group=self._group,
        )
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE)
        latched.durability = QoSDurabilityPolicy.TRANSIENT_LOCAL
        self._debug_pub = self.create_publisher(Image, DEBUG_IMAGE_TOPIC, latched)
        self._markers_pub = self.create_publisher(MarkerArray, MARKERS_TOPIC, latched)
        self._execute_client = RaceFreeActionClient(
            self, ExecuteGrasp, self.config.execute_action, callback_group=self._group
        )
        self._server = ActionServer(
            self,
            Grasp,
            "/grasp",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            callback_group=self._group,
        )
        self.get_logger().info(
            f"/grasp ready: model {self.config.checkpoint or 'shipped'} (input {self.zoom_config.input_size},"
            f" max {self.zoom_config.max_zoom_steps} zoom steps), depth {self.config.depth_topic},"
            f" executor {self.config.execute_action}"
        )

    def _load_selector(self):
        """The turn selector of parameter turn_selector (a bad file stops the node with a clear error)."""
        spec = self.config.turn_selector
        try:
            selector = resolve_selector(spec, self.policy, 90.0)
        except SelectorError as exc:
            raise SelectorError(f"{exc} (policy_node parameter 'turn_selector')") from None
        if selector is None and spec not in ("none", ""):
            self.get_logger().info(f"turn_selector '{spec}': none fitted for this model; grasps from the image as is")
        elif selector is not None and not camera_looks_down(self.config.T_base_camera):
            self.get_logger().warning(
                "turn_selector is set but the camera does not look straight down (camera_pose_xyz_quat):"
                " grasps come from the image as is"
            )
        return selector

    # ------------------------------------------------------------------ parameters / inputs
    def _on_set_parameters(self, parameters) -> SetParametersResult:
        try:
            config = config_with(self.config, parameters)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.config = config
        return SetParametersResult(successful=True)

    def _on_depth(self, msg: Image) -> None:
        with self._depth_cond:
            self._depth_msg = msg
            self._depth_cond.notify_all()

    def _on_info(self, msg: CameraInfo) -> None:
        with self._depth_cond:
            self._infos.append(msg)
            del self._infos[:-20]
            self._depth_cond.notify_all()

    def destroy_node(self):
        self._shutdown.set()
        with self._depth_cond:
            self._depth_cond.notify_all()
        # Node.destroy_node() leaves action servers/clients (and so the node) alive: destroy them.
        self._server.destroy()
        self._execute_client.destroy()
        if self.twin is not None:
            self.twin.close()
        return super().destroy_node()

    # ------------------------------------------------------------------ action callbacks
    def _on_goal(self, goal: Grasp.Goal) -> GoalResponse:
        with self._busy_lock:
            if self._busy:
                self.get_logger().warning("rejecting a /grasp goal: another grasp is running (one grasp at a time)")
                return GoalResponse.REJECT
            self._busy = True
        self.get_logger().info(
            f"accepted a /grasp goal: max_attempts={goal.max_attempts} deterministic={goal.deterministic}"
            f" max_zoom_steps={goal.max_zoom_steps} use_roi={goal.use_roi}"
        )
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        self.get_logger().info("cancel requested for the running /grasp goal")
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle) -> Grasp.Result:
        result = Grasp.Result()
        try:
            self._run_goal(goal_handle, result)
            if result.success:
                self.get_logger().info(f"grasp succeeded after {result.attempts} attempt(s)")
            else:
                self.get_logger().info(f"grasp failed: {result.message}")
            goal_handle.succeed()
        except GoalCanceledError as exc:
            result.success, result.message = False, str(exc)
            self.get_logger().info(f"/grasp goal canceled: {exc}")
            goal_handle.canceled()
        except (GoalAbortedError, TwinWorkerError) as exc:  # a twin worker that died is started again
            result.success, result.message = False, str(exc)
            self.get_logger().error(f"/grasp goal aborted: {exc}")
            goal_handle.abort()
        except Exception as exc:  # never let one goal take the node down
            result.success, result.message = False, f"internal error: {type(exc).__name__}: {exc}"
            self.get_logger().error(f"/grasp goal aborted: {result.message}")
            goal_handle.abort()
        finally:
            with self._busy_lock:
                self._busy = False
        return result

    def _tell_view_mismatch(self, shape: tuple[int, ...]) -> None:
        """Log once per image size when the depth is not the view the policy was trained on."""
        mismatch = view_mismatch(shape, self._trained_camera)
        if mismatch is not None and shape[:2] not in self._told_sizes:
            self._told_sizes.add(shape[:2])
            self.get_logger().warning(mismatch)

    # ------------------------------------------------------------------ one goal
    def _run_goal(self, goal_handle, result: Grasp.Result) -> None:
        goal: Grasp.Goal = goal_handle.request
        cfg = self.config
        asked = max(int(goal.max_attempts), 1)
        attempts = min(asked, cfg.max_attempts_limit)
        if attempts < asked:
            self.get_logger().warning(
                f"the goal asks for {asked} attempts; max_attempts_limit allows {cfg.max_attempts_limit}"
            )
        max_zoom = int(goal.max_zoom_steps) or cfg.default_max_zoom_steps or self.zoom_config.max_zoom_steps
        reasons = []
        goal_start_ns = self.get_clock().now().nanoseconds
        # (the image, its grasps not yet tried, best first) while the scene is still as it shows:
        # an executor that finds a grasp unreachable has not moved the robot.
        untried: tuple[DepthFrame, GraspsLeft] | None = None
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            same_image = untried is not None and bool(untried[1])
            if not same_image:
                untried = self._look(goal_handle, goal, attempt, max_zoom, goal_start_ns, reasons)
            frame, candidates = untried
            uv, rpy, hand_joints, boxes = candidates.pop()
            size = (frame.intrinsics.width, frame.intrinsics.height)
            if same_image:
                self._check_cancel(goal_handle, "before the next-ranked grasp")
                why = "the robot did not move: the same image's next-ranked grasp"
                self._feedback(goal_handle, F.STAGE_ZOOMING, attempt, len(boxes) - 1, boxes[-1], size, why)
                self.get_logger().info(f"attempt {attempt}: {why}")
                self._publish_debug_image(frame, boxes, uv)
            zoom_steps = len(boxes) - 1
            result.zoom_boxes = [to_roi_msg(b, *size) for b in boxes]

            base_header = Header(stamp=frame.header.stamp, frame_id=cfg.base_frame)
            try:
                proposal = make_proposal(
                    frame.depth,
                    frame.intrinsics,
                    cfg.T_base_camera,
                    uv,
                    rpy,
                    hand_joints,
                    cfg.grasp_offset_m,
                    zoom_steps=zoom_steps,
                    boxes=boxes,
                )
            except ProposalError as exc:
                reasons.append(f"attempt {attempt}: {exc}")
                self.get_logger().warning(reasons[-1])
                continue
            result.proposal = to_grasp_proposal_msg(proposal, frame.header, base_header)
            result.grasp_pose = to_pose_stamped_msg(proposal.T_base_palm, base_header)
            result.hand_joints = [float(x) for x in proposal.hand_joints]
            self._markers_pub.publish(to_grasp_markers_msg(proposal, base_header, 0.05, attempt))

            self._check_cancel(goal_handle, "before the execution")
            self._feedback(goal_handle, F.STAGE_EXECUTING, attempt, zoom_steps, boxes[-1], size, "executing the grasp")
            outcome = self._execute_grasp(
                goal_handle,
                attempt,
                zoom_steps,
                to_execute_grasp_goal(proposal, base_header, cfg.pregrasp_offset_m, cfg.lift_height_m),
            )
            if outcome.success:
                result.success, result.message = True, ""
                return
            reasons.append(f"attempt {attempt}: {outcome.reason or 'failed'}")
            self.get_logger().info(reasons[-1])
            if outcome.reachable:  # the robot moved and may have moved things: look again
                untried = None
        result.success = False
        cut = f" (the goal asked for {asked}; max_attempts_limit is {attempts})" if attempts < asked else ""
        result.message = f"no grasp succeeded in {attempts} attempt(s){cut}: " + "; ".join(reasons)

    def _look(self, goal_handle, goal: Grasp.Goal, attempt: int, max_zoom: int, goal_start_ns: int, reasons: list):
        """A fresh depth image and the policy's grasps on it, best first: (frame, GraspsLeft of
        (uv, rpy, hand_joints, boxes)); ranked turned grasps for deterministic goals with a turn
        selector, else the one grasp of the zoom loop."""
        cfg = self.config
        self._check_cancel(goal_handle, "before reading depth")
        self._feedback(goal_handle, F.STAGE_WAITING_FOR_DEPTH, attempt, 0, None, None, "waiting for depth")
        frame = self._wait_for_depth(goal_handle, cfg, goal_start_ns if cfg.require_fresh_depth else 0)
        zoom_config = dataclasses.replace(
            self.zoom_config.for_image(frame.depth.shape, min(self._trained_camera)), max_zoom_steps=max_zoom
        )
        self._tell_view_mismatch(frame.depth.shape)

        start_box = from_roi_msg(goal.roi) if goal.use_roi else None
        try:
            state = ZoomState(frame.depth, zoom_config, start_box)
        except ValueError as exc:
            raise GoalAbortedError(f"invalid goal: roi: {exc}") from None
        if cfg.refuse_empty_view and not objects_in_view(frame.depth, frame.intrinsics, cfg.T_table_camera, start_box):
            where = "the goal's roi" if start_box else "the depth image"
            earlier = f" (after {'; '.join(reasons)})" if reasons else ""
            raise GoalAbortedError(
                f"nothing to grasp: no object stands above the table in {where}{earlier}; if one does, check"
                f" table_z_m ({cfg.table_z_m:g} m) and camera_pose_xyz_quat"
            )
        deterministic = bool(goal.deterministic) and not (attempt > 1 and cfg.sample_on_retry)
        if deterministic and self.selector is not None and camera_looks_down(cfg.T_base_camera):
            return frame, self._choose_among_turns(goal_handle, frame, zoom_config, start_box, attempt)
        return frame, GraspsLeft(iter([self._zoom(goal_handle, frame, state, deterministic, attempt)]), 1)

    def _zoom(self, goal_handle, frame: DepthFrame, state: ZoomState, deterministic: bool, attempt: int):
        """Algorithm 1, step by step with feedback: (uv, rpy, hand_joints, boxes)."""
        size = (frame.intrinsics.width, frame.intrinsics.height)
        act = self.policy.actor(deterministic=deterministic, generator=self._generator)
        while not state.done:
            self._check_cancel(goal_handle, f"during the zoom loop (step {state.step})")
            step = state.step
            self._feedback(goal_handle, F.STAGE_ZOOMING, attempt, step, state.box, size, f"zoom step {step}")
            action, _ = act(state.observation())
            state.apply(action)
            self._publish_debug_image(frame, state.boxes, state.grasp_uv if state.done else None)
            self._pause(goal_handle, self.config.zoom_step_delay_s)
        uv, rpy, hand_joints = final_grasp(state)
        return uv, rpy, hand_joints, list(state.boxes)

    def _choose_among_turns(self, goal_handle, frame: DepthFrame, zoom_config, start_box, attempt: int):
        """The deterministic zoom loop on the image turned by 0-3 quarter turns (and on its mirror
        image's, with mirror_views), ranked by the selector (turn_selection) and, with the depth
        twin, by the twin first: their (uv, rpy, hand_joints, boxes) best first, in the image as
        received."""
        size = (frame.intrinsics.width, frame.intrinsics.height)
        self._check_cancel(goal_handle, "before the zoom loop")
        views = "zoom loops on the image turned by 0-3 quarter turns"
        views += " and on its mirror image's" if self.config.mirror_views else ""
        self._feedback(goal_handle, F.STAGE_ZOOMING, attempt, 0, None, size, views)
        pixel_scale = min(frame.depth.shape[:2]) / min(self._trained_camera)  # for the object measurements
        twin_ranking = twin_best = None
        if self.twin is not None:
            T_table_camera = self.config.T_table_camera

            def on_twin(what: str):
                self._check_cancel(goal_handle, "before the depth twin")
                self._feedback(goal_handle, F.STAGE_ZOOMING, attempt, 0, None, size, f"trying {what} on the depth twin")

            def twin_best(commands, floor):
                on_twin(f"the {len(commands)} small changes of the chosen grasp")
                return self.twin.best_above(
                    frame.depth,
                    frame.intrinsics,
                    T_table_camera,
                    commands,
                    floor,
                    before_each=lambda: self._check_cancel(goal_handle, "during the depth twin's local search"),
                )

            def twin_ranking(runs):
                on_twin(f"the {len(runs)} grasps")
                commands = [result_to_command(r.result) for r in runs]
                return self.twin.ranking(
                    frame.depth,
                    frame.intrinsics,
                    T_table_camera,
                    commands,
                    before_each=lambda: self._check_cancel(goal_handle, "during the depth twin"),
                )

        ranked = select_among_turns(
            frame.depth,
            self.policy,
            zoom_config,
            self.selector,
            start_box,
            pixel_scale=pixel_scale,
            twin_ranking=twin_ranking,
            mirrored=self.config.mirror_views,
        )
        chosen = ranked.best
        result = chosen.result
        twin_note = f", {ranked.twin_ranking.executions} twin executions" if ranked.twin_ranking is not None else ""
        self.get_logger().info(
            f"turn selector{' and depth twin' if self.twin is not None else ''}: grasp from the image turned by"
            f" {chosen.turns} quarter turn(s){' of its mirror image' if chosen.mirrored else ''}"
            f" ({ranked.describe()}{twin_note})"
        )
        uv, rpy, hand_joints = result.grasp_uv, result.grasp_rpy, result.hand_joints
        if self.twin is not None and self.config.twin_local_search:
            height, width = frame.depth.shape[:2]
            found = search_near(
                result_to_command(result), ranked.twin_score(chosen), twin_best, width, height, LocalSearchConfig()
            )
            if found.change:
                c = found.command
                uv, rpy, hand_joints = (c.u, c.v), (c.roll, c.pitch, c.yaw), (c.spread, *c.fingers)
                self.get_logger().info(f"local search: {found.change} scores {found.score:.1f} in the depth twin")
        self._publish_debug_image(frame, result.boxes, uv)

        def best_first():
            yield uv, rpy, hand_joints, list(result.boxes)
            for run in itertools.islice(ranked, 1, None):  # ranked (in the twin) only when asked for
                r = run.result
                yield r.grasp_uv, r.grasp_rpy, r.hand_joints, list(r.boxes)

        return GraspsLeft(best_first(), len(ranked))

    # ------------------------------------------------------------------ helpers
    def _check_cancel(self, goal_handle, where: str) -> None:
        if goal_handle.is_cancel_requested:
            raise GoalCanceledError(f"canceled {where}")
        if self._shutdown.is_set():
            raise GoalAbortedError("policy_node is shutting down")

    def _pause(self, goal_handle, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not goal_handle.is_cancel_requested and not self._shutdown.is_set():
            time.sleep(min(_POLL_S, max(deadline - time.monotonic(), 0.0)))

    def _feedback(self, goal_handle, stage, attempt, zoom_step, box, size, description) -> None:
        goal_handle.publish_feedback(to_feedback_msg(stage, attempt, zoom_step, box, size, description))

    def _wait_for_depth(self, goal_handle, cfg: PolicyNodeConfig, not_before_ns: int) -> DepthFrame:
        """The latest usable depth frame taken after ``not_before_ns`` and after the last execution
        ended (and not older than max_depth_age_s), waiting up to depth_timeout_s."""
        deadline = time.monotonic() + cfg.depth_timeout_s
        why = f"no depth image received on {cfg.depth_topic}"
        while True:
            self._check_cancel(goal_handle, "while waiting for depth")
            with self._depth_cond:
                msg, infos = self._depth_msg, list(self._infos)
            if msg is not None:
                frame, why = self._usable(msg, infos, cfg, not_before_ns)
                if frame is not None:
                    return frame
            if time.monotonic() >= deadline:
                raise GoalAbortedError(
                    f"no usable depth within depth_timeout_s={cfg.depth_timeout_s:g} s: {why}"
                    " (are the camera driver / sim_bridge_node and kinect_node running?)"
                )
            with self._depth_cond:
                self._depth_cond.wait(timeout=_POLL_S)

    def _usable(self, msg: Image, infos: list[CameraInfo], cfg: PolicyNodeConfig, not_before_ns: int):
        stamp_ns = Time.from_msg(msg.header.stamp).nanoseconds
        if stamp_ns <= self._last_execution_end_ns:
            return None, f"no depth image on {cfg.depth_topic} taken after the last execution ended"
        if stamp_ns <= not_before_ns:
            return None, (
                f"no depth image on {cfg.depth_topic} taken after the goal arrived (is the camera's clock"
                " in sync with this node's? require_fresh_depth=false accepts older images)"
            )
        if cfg.max_depth_age_s > 0:
            age = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
            if age > cfg.max_depth_age_s:
                return None, f"the latest depth image is {age:.1f} s old (max_depth_age_s={cfg.max_depth_age_s:g})"
        info = next((i for i in reversed(infos) if i.header.stamp == msg.header.stamp), None)
        if info is None:
            info = next((i for i in reversed(infos) if (i.width, i.height) == (msg.width, msg.height)), None)
        if info is None:
            return None, f"no camera_info on {cfg.camera_info_topic} for the {msg.width}x{msg.height} depth image"
        try:
            depth = from_image_msg(msg)
            intrinsics = from_camera_info_msg(info)
        except (DepthFormatError, ValueError) as exc:
            return None, f"unusable depth image / camera_info: {exc}"
        if depth.shape != (intrinsics.height, intrinsics.width):
            return None, f"camera_info is {intrinsics.width}x{intrinsics.height}, depth {msg.width}x{msg.height}"
        return DepthFrame(depth, intrinsics, msg.header), ""

    def _publish_debug_image(self, frame: DepthFrame, boxes, grasp_uv) -> None:
        if self._debug_pub.get_subscription_count() == 0:
            return
        try:
            self._debug_pub.publish(to_rgb_image_msg(draw_zoom(frame.depth, boxes, grasp_uv), frame.header))
        except Exception as exc:  # a picture must never fail a grasp
            self.get_logger().warning(f"cannot publish the debug image: {exc}", throttle_duration_sec=10)

    def _execute_grasp(self, goal_handle, attempt: int, zoom_step: int, goal: ExecuteGrasp.Goal):
        """Send the grasp to the executor and wait for its result (ExecuteGrasp.Result)."""
        cfg = self.config
        client = self._execute_client
        if not client.server_is_ready() and not client.wait_for_server(timeout_sec=cfg.execute_server_timeout_s):
            raise GoalAbortedError(
                f"no ExecuteGrasp server on {cfg.execute_action} within {cfg.execute_server_timeout_s:g} s"
                " (is sim_bridge_node or executor_node running?)"
            )

        def forward(feedback_msg):
            fb = feedback_msg.feedback
            stage = F.STAGE_LIFTING if fb.stage == ExecuteGrasp.Feedback.STAGE_LIFT else F.STAGE_EXECUTING
            text = f"executor: {fb.stage_description}" if fb.stage_description else "executing the grasp"
            self._feedback(goal_handle, stage, attempt, zoom_step, None, None, text)

        handle = self._wait_future(client.send_goal_async(goal, feedback_callback=forward), 10.0, "goal response")
        if handle is None:
            raise GoalAbortedError(f"the executor on {cfg.execute_action} did not answer the grasp goal within 10 s")
        if not handle.accepted:
            raise GoalAbortedError(f"the executor on {cfg.execute_action} rejected the grasp")
        response = self._wait_future(handle.get_result_async(), cfg.execute_timeout_s, "execution result")
        self._last_execution_end_ns = self.get_clock().now().nanoseconds
        if response is None:
            handle.cancel_goal_async()
            raise GoalAbortedError(
                f"the grasp execution did not finish within execute_timeout_s={cfg.execute_timeout_s:g} s"
            )
        return response.result

    def _wait_future(self, future, timeout_s: float, what: str):
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        deadline = time.monotonic() + timeout_s
        while not done.wait(_POLL_S):
            if self._shutdown.is_set():
                raise GoalAbortedError(f"policy_node is shutting down while waiting for the {what}")
            if time.monotonic() >= deadline:
                return None
        return future.result()


def main(args=None) -> int:
    return run_node(PolicyNode, "policy_node", args)


if __name__ == "__main__":
    sys.exit(main())
