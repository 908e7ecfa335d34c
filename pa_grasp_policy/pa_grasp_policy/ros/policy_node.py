"""policy_node: the public ``/grasp`` action (pa_grasp_interfaces/action/Grasp.action documents the
goal, feedback, result and outcomes), a thin ROS layer around the grasp planner (planner/planner.py).

Per attempt: wait for a conditioned depth image taken after the goal arrived and after the last
execution (kinect_node's ``/pa_grasp/depth`` + ``/pa_grasp/camera_info``), plan on it (the policy
alone unless the planner's extras are switched on), lift the best grasp to a palm pose in
``base_frame`` and send it to ``/pa_grasp/execute_grasp`` (sim_bridge_node or executor_node). A
failed lift retries on a new image; a grasp the executor found unreachable (nothing moved) is
followed by the same image's next-ranked one. Cancel is honoured between every step but a running
execution. One grasp at a time: a goal arriving while another runs is REJECTED, or with
``second_goal: preempt`` accepted; the running goal then stops at its next check point (ABORTED,
"preempted by a newer /grasp goal") and the new one starts after it. Debug output:
``/pa_grasp/debug_image`` (the depth with the zoom boxes), ``/pa_grasp/grasp_markers``. The
``detect_grasps`` service gives scored candidates and executes nothing (detect_grasps.py).
"""

from __future__ import annotations

import sys
import threading

import torch
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from pa_grasp_interfaces.action import ExecuteGrasp, Grasp
from pa_grasp_perception.action_qos import GOAL_SERVICE_QOS
from pa_grasp_perception.frame_tree import FrameLookupError
from pa_grasp_perception.node_main import run_node
from pa_grasp_perception.obstacles import obstacle_boxes
from pa_grasp_perception.ros_parameters import config_with, declare_config
from pa_grasp_perception.table_objects import objects_in_view
from pa_grasp_perception.trained_view import TrainedView, box_to_view, to_trained_view
from pa_grasp_perception.transforms import DYNAMIC_QOS, TF_TOPIC, make_transform_lookup, transforms_msg
from pa_grasp_policy.model.checkpoint import CheckpointError
from pa_grasp_policy.model.zoom import check_start_box
from pa_grasp_policy.model.zoom_image import draw_zoom
from pa_grasp_policy.planner.planner import GraspPlanner, PlanHooks, PlanningError
from pa_grasp_policy.planner.proposal import ProposalError, make_proposal, view_mismatch
from pa_grasp_policy.planner.selector import SelectorError
from pa_grasp_policy.ros.depth_inbox import BadCameraInfoError, DepthFrame, DepthInbox, NoDepthError, View
from pa_grasp_policy.ros.detect_grasps import DetectGraspsService
from pa_grasp_policy.ros.executor_client import ExecutionError, ExecutorClient
from pa_grasp_policy.ros.goal_context import GoalAbortedError, GoalCanceledError, GoalContext
from pa_grasp_policy.ros.policy_msgs import (
    from_roi_msg,
    to_execute_grasp_goal,
    to_grasp_markers_msg,
    to_grasp_proposal_msg,
    to_pose_stamped_msg,
    to_rgb_image_msg,
    to_roi_msg,
)
from pa_grasp_policy.ros.policy_node_config import DESCRIPTIONS, READ_ONLY, PolicyNodeConfig

F = Grasp.Feedback
DEBUG_IMAGE_TOPIC = "pa_grasp/debug_image"
TRAINED_VIEW_SUFFIX = "_trained_view"  # frame of a depth image redrawn as the training camera sees it
MARKERS_TOPIC = "pa_grasp/grasp_markers"


class PolicyNode(Node):
    def __init__(self, node_name: str = "policy_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.config: PolicyNodeConfig = declare_config(self, PolicyNodeConfig, DESCRIPTIONS, READ_ONLY)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        torch.set_num_threads(self.config.torch_threads)
        try:
            self.planner = GraspPlanner.load(self.config.checkpoint or None, self.config.planner_config())
        except (CheckpointError, SelectorError) as exc:
            raise type(exc)(f"{exc} (policy_node parameters 'checkpoint' / 'selector')") from None
        for note in self.planner.notes:
            self.get_logger().info(note)
        self._generator = torch.Generator().manual_seed(self.config.seed)
        self._told_sizes: set[tuple[int, int]] = set()  # depth sizes already logged as unlike training
        # /grasp goals accepted and not finished; the one planning/executing; the one waiting for it to stop
        self._turn = threading.Condition()
        self._busy = 0
        self._running: GoalContext | None = None
        self._waiting: GoalContext | None = None
        self.planner_lock = threading.Lock()
        self._shutdown = threading.Event()

        group = ReentrantCallbackGroup()
        self._inbox = DepthInbox(self, self.config.depth_topic, self.config.camera_info_topic, group)
        self._transforms = make_transform_lookup(self, group)
        self._view_tf_pub = self.create_publisher(TFMessage, TF_TOPIC, DYNAMIC_QOS)
        latched = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE)
        latched.durability = QoSDurabilityPolicy.TRANSIENT_LOCAL
        self._debug_pub = self.create_publisher(Image, DEBUG_IMAGE_TOPIC, latched)
        self._markers_pub = self.create_publisher(MarkerArray, MARKERS_TOPIC, latched)
        self._executor = ExecutorClient(self, self.config.execute_action, group)
        self._server = ActionServer(
            self,
            Grasp,
            "grasp",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=group,
            goal_service_qos_profile=GOAL_SERVICE_QOS,
        )
        self._detect = DetectGraspsService(self, group)
        zoom = self.planner.model.zoom_config
        self.get_logger().info(
            f"/grasp ready: model {self.config.checkpoint or 'shipped'} (input {zoom.input_size}, max"
            f" {zoom.max_zoom_steps} zoom steps; {self.planner.active.describe()}), depth {self.config.depth_topic},"
            f" executor {self.config.execute_action}"
        )

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        try:
            self.config = config_with(self.config, parameters)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def destroy_node(self):
        self._shutdown.set()
        self._inbox.wake()
        # Node.destroy_node() leaves action servers/clients (and so the node) alive: destroy them.
        self._server.destroy()
        self._detect.destroy()
        self._executor.destroy()
        self._transforms.destroy()
        self.planner.close()
        return super().destroy_node()

    def _on_goal(self, goal: Grasp.Goal) -> GoalResponse:
        with self._turn:
            preempting = self._busy > 0
            if preempting and self.config.second_goal != "preempt":
                self.get_logger().warning(
                    "rejecting a /grasp goal: another grasp is running (one grasp at a time; second_goal=reject)"
                )
                return GoalResponse.REJECT
            self._busy += 1
        self.get_logger().info(
            f"accepted a /grasp goal: max_attempts={goal.max_attempts} deterministic={goal.deterministic}"
            f" max_zoom_steps={goal.max_zoom_steps} use_roi={goal.use_roi}"
            + ("; it preempts the running one (second_goal=preempt)" if preempting else "")
        )
        return GoalResponse.ACCEPT

    def _wait_for_turn(self, goal: GoalContext) -> None:
        """Preempt the goals accepted before `goal` and wait until none of them runs: one goal plans
        and executes at a time (the planner and the robot are shared). GoalAbortedError if a newer
        goal preempts this one while it waits, or the node shuts down; GoalCanceledError on cancel."""
        with self._turn:
            for older, state in ((self._running, "running"), (self._waiting, "waiting to start")):
                if older is not None:
                    older.preempt()
                    during = "; its execution on the robot is finished first" if older.executing else ""
                    self.get_logger().warning(
                        f"a newer /grasp goal preempts the {state} one: it stops at its next check point{during}"
                    )
            self._waiting = goal
            while self._running is not None:
                goal.check("before it started (while the goal it preempted was stopping)")
                self._turn.wait(0.1)
            goal.check("before it started")
            self._waiting, self._running = None, goal

    def _execute(self, goal_handle) -> Grasp.Result:
        result = Grasp.Result()
        goal = GoalContext(goal_handle, self._shutdown)
        try:
            self._wait_for_turn(goal)
            self._run_goal(goal, result)
            self.get_logger().info(
                f"grasp succeeded after {result.attempts} attempt(s)"
                if result.success
                else f"grasp failed: {result.message}"
            )
            goal_handle.succeed()
        except GoalCanceledError as exc:
            result.success, result.message = False, str(exc)
            self.get_logger().info(f"/grasp goal canceled: {exc}")
            goal_handle.canceled()
        except (GoalAbortedError, PlanningError, ExecutionError) as exc:  # a died twin worker is started again
            result.success, result.message = False, str(exc)
            (self.get_logger().warning if goal.preempted else self.get_logger().error)(f"/grasp goal aborted: {exc}")
            goal_handle.abort()
        except Exception as exc:  # never let one goal take the node down
            result.success, result.message = False, f"internal error: {type(exc).__name__}: {exc}"
            self.get_logger().error(f"/grasp goal aborted: {result.message}")
            goal_handle.abort()
        finally:
            with self._turn:
                if self._running is goal:
                    self._running = None
                if self._waiting is goal:
                    self._waiting = None
                self._busy -= 1
                self._turn.notify_all()
        return result

    def _run_goal(self, goal: GoalContext, result: Grasp.Result) -> None:
        request = goal.goal_handle.request
        cfg = self.config
        asked = max(int(request.max_attempts), 1)
        attempts = min(asked, cfg.max_attempts_limit)
        if attempts < asked:
            self.get_logger().warning(f"the goal asks for {asked} attempts; max_attempts_limit allows {attempts}")
        reasons: list[str] = []
        goal_start_ns = self.get_clock().now().nanoseconds
        untried = None  # (view, plan) while the scene is as the image shows: the robot has not moved
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            same_image = untried is not None and len(untried[1]) > 0
            if not same_image:
                untried = self._look(goal, request, attempt, goal_start_ns, reasons)
            view, plan = untried
            frame = view.frame
            grasp = plan.take()
            size = (frame.intrinsics.width, frame.intrinsics.height)
            if same_image:
                goal.check("before the next-ranked grasp")
                why = "the robot did not move: the same image's next-ranked grasp"
                goal.feedback(F.STAGE_ZOOMING, attempt, grasp.zoom_steps, grasp.boxes[-1], size, why)
                self.get_logger().info(f"attempt {attempt}: {why}")
                self._publish_debug_image(frame, grasp.boxes, grasp.uv)
            result.zoom_boxes = [to_roi_msg(b, *size) for b in grasp.boxes]
            base_header = Header(stamp=frame.header.stamp, frame_id=cfg.base_frame)
            grasp_values = (grasp.uv, grasp.rpy, grasp.hand_joints, cfg.grasp_offset_m, grasp.zoom_steps, grasp.boxes)
            try:
                proposal = make_proposal(frame.depth, frame.intrinsics, view.T_base_camera, *grasp_values)
            except ProposalError as exc:
                reasons.append(f"attempt {attempt}: {exc}")
                self.get_logger().warning(reasons[-1])
                continue
            result.proposal = to_grasp_proposal_msg(proposal, frame.header, base_header)
            result.grasp_pose = to_pose_stamped_msg(proposal.T_base_palm, base_header)
            result.hand_joints = [float(x) for x in proposal.hand_joints]
            self._markers_pub.publish(to_grasp_markers_msg(proposal, base_header, 0.05, attempt))

            goal.check("before the execution")
            steps = grasp.zoom_steps
            goal.feedback(F.STAGE_EXECUTING, attempt, steps, grasp.boxes[-1], size, "executing the grasp")

            def forward(fb, attempt=attempt, steps=steps):
                stage = F.STAGE_LIFTING if fb.stage == ExecuteGrasp.Feedback.STAGE_LIFT else F.STAGE_EXECUTING
                text = f"executor: {fb.stage_description}" if fb.stage_description else "executing the grasp"
                goal.feedback(stage, attempt, steps, None, None, text)

            # What else the image shows, for the executor's planning scene (the sim's physics ignores it)
            obstacles = obstacle_boxes(
                frame.depth, frame.intrinsics, view.T_base_camera, cfg.table_z_m, proposal.point_base
            )
            execute_goal = to_execute_grasp_goal(
                proposal, base_header, cfg.pregrasp_offset_m, cfg.lift_height_m, obstacles
            )
            goal.executing = True  # a preemption now lets this execution finish
            try:
                outcome = self._executor.execute(
                    execute_goal, cfg.execute_server_timeout_s, cfg.execute_timeout_s, forward, self._shutdown
                )
            finally:
                goal.executing = False
                goal.executions += 1
            if outcome.success:
                result.success, result.message = True, ""
                return
            reasons.append(f"attempt {attempt}: {outcome.reason or 'failed'}")
            self.get_logger().info(reasons[-1])
            if outcome.reachable:  # the robot moved and may have moved things: look again
                untried = None
        cut = f" (the goal asked for {asked}; max_attempts_limit is {attempts})" if attempts < asked else ""
        result.success = False
        result.message = f"no grasp succeeded in {attempts} attempt(s){cut}: " + "; ".join(reasons)

    def _look(self, goal: GoalContext, request: Grasp.Goal, attempt: int, goal_start_ns: int, reasons: list):
        """A fresh depth image and the planner's grasps on it: (View, Plan)."""
        goal.check("before reading depth")
        goal.feedback(F.STAGE_WAITING_FOR_DEPTH, attempt, 0, None, None, "waiting for depth")
        view = self.usable_view(goal_start_ns, request, reasons, lambda: goal.check("while waiting for depth"))
        frame = view.frame
        size = (frame.intrinsics.width, frame.intrinsics.height)
        cfg = self.config

        def before_step(state):
            goal.check(f"during the zoom loop (step {state.step})")
            goal.feedback(F.STAGE_ZOOMING, attempt, state.step, state.box, size, f"zoom step {state.step}")

        def after_step(state):
            self._publish_debug_image(frame, state.boxes, state.grasp_uv if state.done else None)
            goal.pause(self.config.zoom_step_delay_s)

        current = ["planning"]

        def stage(text):
            goal.check(f"before {text}")
            goal.feedback(F.STAGE_ZOOMING, attempt, 0, None, size, text)
            current[0] = text

        hooks = PlanHooks(before_step, after_step, stage, lambda: goal.check(f"while {current[0]}"))
        with self.planner_lock:  # detect_grasps plans too; the twin is one
            plan = self.planner.plan(
                frame.depth,
                frame.intrinsics,
                view.T_table_camera,
                start_box=view.start_box,
                deterministic=bool(request.deterministic) and not (attempt > 1 and cfg.sample_on_retry),
                generator=self._generator,
                max_zoom_steps=int(request.max_zoom_steps) or cfg.default_max_zoom_steps or None,
                hooks=hooks,
            )
        if len(plan) > 1:
            self.get_logger().info(f"planner: {plan.summary}")
            self._publish_debug_image(frame, plan.best.boxes, plan.best.uv)
        return view, plan

    def usable_view(self, not_before_ns: int, request, reasons: list, check=lambda: None):
        """A View of a depth frame taken after `not_before_ns` and after the last execution, or
        GoalAbortedError saying why there is nothing to plan on: no depth, a camera_info no camera
        could have, a frame TF cannot place, a bad roi, nothing above the table. `request` has
        use_roi and roi (a /grasp goal or a detect_grasps request)."""
        cfg = self.config
        try:
            frame = self._inbox.wait(
                cfg.depth_timeout_s,
                self._executor.last_end_ns,
                not_before_ns if cfg.require_fresh_depth else 0,
                cfg.max_depth_age_s,
                check,
            )
        except NoDepthError as exc:
            raise GoalAbortedError(
                f"no usable depth within depth_timeout_s={cfg.depth_timeout_s:g} s: {exc}"
                " (are the camera driver / sim_bridge_node and kinect_node running?)"
            ) from None
        except BadCameraInfoError as exc:
            raise GoalAbortedError(f"{exc}; nothing was executed") from None
        T_base_camera = self._camera_pose(frame.header)
        size = (frame.intrinsics.width, frame.intrinsics.height)
        start_box = from_roi_msg(request.roi) if request.use_roi else None
        try:
            start_box = None if start_box is None else check_start_box(start_box, *size)
        except ValueError as exc:
            raise GoalAbortedError(f"invalid goal: roi: {exc}") from None
        trained = TrainedView(side_px=self.planner.model.trained_camera_px)
        if cfg.normalize_view and not trained.is_trained_view(frame.intrinsics, T_base_camera, cfg.table_z_m):
            frame, T_base_camera, start_box = self._to_trained_view(frame, T_base_camera, start_box, trained)
        else:
            self._tell_view_mismatch(frame.depth.shape)
        T_table_camera = cfg.T_table_camera(T_base_camera)
        if cfg.refuse_empty_view and not objects_in_view(frame.depth, frame.intrinsics, T_table_camera, start_box):
            where = "the goal's roi" if start_box else "the depth image"
            earlier = f" (after {'; '.join(reasons)})" if reasons else ""
            raise GoalAbortedError(
                f"nothing to grasp: no object stands above the table in {where}{earlier}; if one does, check"
                f" table_z_m ({cfg.table_z_m:g} m) and the camera's transform"
            )
        return View(frame, T_base_camera, T_table_camera, start_box)

    def _to_trained_view(self, frame: DepthFrame, T_base_camera, start_box, trained: TrainedView):
        """The frame redrawn as the training camera would see it (trained_view.py), its pose, the
        roi in its pixels; the virtual camera goes on tf so the result's proposal can be placed."""
        cfg = self.config
        try:
            depth, intrinsics, T_base_view = to_trained_view(
                frame.depth, frame.intrinsics, T_base_camera, cfg.table_z_m, trained
            )
            if start_box is not None:
                args = (frame.intrinsics, T_base_camera, cfg.table_z_m, intrinsics, T_base_view)
                start_box = box_to_view(start_box, *args)
        except ValueError as exc:
            raise GoalAbortedError(
                f"cannot bring the depth image to the trained view: {exc}; nothing was executed"
            ) from None
        header = Header(stamp=frame.header.stamp, frame_id=f"{frame.header.frame_id}{TRAINED_VIEW_SUFFIX}")
        self._view_tf_pub.publish(transforms_msg([(cfg.base_frame, header.frame_id, T_base_view)], header.stamp))
        return DepthFrame(depth, intrinsics, header), T_base_view, start_box

    def _camera_pose(self, header):
        """T_base_camera of an image from TF, or GoalAbortedError naming the frames."""
        cfg = self.config
        camera = header.frame_id
        if not camera:
            raise GoalAbortedError("the depth image has no frame_id: TF cannot place it; nothing was executed")
        try:
            return self._transforms.lookup(cfg.base_frame, camera, header.stamp, cfg.tf_timeout_s)
        except FrameLookupError as exc:
            raise GoalAbortedError(
                f"{exc} (within tf_timeout_s={cfg.tf_timeout_s:g} s). The camera's pose must be on TF:"
                " publish it from your calibration (config/camera_calibration.yaml: camera_mount_node,"
                " real.launch.py); nothing was executed"
            ) from None

    def _tell_view_mismatch(self, shape: tuple[int, ...]) -> None:
        """Log once per image size when the depth is not the view the policy was trained on."""
        side = self.planner.model.trained_camera_px
        mismatch = view_mismatch(shape, (side, side))
        if mismatch is not None and shape[:2] not in self._told_sizes:
            self._told_sizes.add(shape[:2])
            self.get_logger().warning(mismatch)

    def _publish_debug_image(self, frame: DepthFrame, boxes, grasp_uv) -> None:
        if self._debug_pub.get_subscription_count() == 0:
            return
        try:
            self._debug_pub.publish(to_rgb_image_msg(draw_zoom(frame.depth, boxes, grasp_uv), frame.header))
        except Exception as exc:  # a picture must never fail a grasp
            self.get_logger().warning(f"cannot publish the debug image: {exc}", throttle_duration_sec=10)


def main(args=None) -> int:
    return run_node(PolicyNode, "policy_node", args)


if __name__ == "__main__":
    sys.exit(main())
