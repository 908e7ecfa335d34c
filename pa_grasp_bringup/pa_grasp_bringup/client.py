"""`pa-grasp-client`: send /grasp goals, print feedback and results (like `ros2 action send_goal --feedback`).

    pa-grasp-client                                  # one goal, deterministic, 1 attempt
    pa-grasp-client --attempts 3 --sample --goals 5 --save-zoom out/zoom.png
    pa-grasp-client --roi 40 40 80 80 --max-zoom-steps 2
    pa-grasp-client --cancel-after 0.5

Exit status: 0 every goal lifted an object; 1 a grasp failed or was canceled (the stack
worked); 2 an error: no /grasp server, a rejected or aborted goal (e.g. no depth), a timeout;
130 interrupted by Ctrl-C or SIGTERM (a goal in flight is canceled first).
``--save-zoom PNG`` draws each goal's zoom boxes and grasp pixel over the depth image the
policy used (subscribes to /pa_grasp/depth), one panel per goal.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from action_msgs.msg import GoalStatus
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from pa_grasp_interfaces.action import Grasp
from pa_grasp_perception.action_client import RaceFreeActionClient
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor

STATUS_NAMES = {
    GoalStatus.STATUS_SUCCEEDED: "SUCCEEDED",
    GoalStatus.STATUS_ABORTED: "ABORTED",
    GoalStatus.STATUS_CANCELED: "CANCELED",
    GoalStatus.STATUS_UNKNOWN: "UNKNOWN",
}
STAGE_NAMES = {
    Grasp.Feedback.STAGE_WAITING_FOR_DEPTH: "WAITING_FOR_DEPTH",
    Grasp.Feedback.STAGE_ZOOMING: "ZOOMING",
    Grasp.Feedback.STAGE_EXECUTING: "EXECUTING",
    Grasp.Feedback.STAGE_LIFTING: "LIFTING",
}
EXIT_SUCCESS, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class ClientError(RuntimeError):
    pass


class ClientInterruptedError(Exception):
    """Ctrl-C or SIGTERM while waiting."""


def _wait(future, timeout_s: float, what: str, interrupted: threading.Event):
    deadline = time.monotonic() + timeout_s
    while not future.done():
        if interrupted.is_set():
            raise ClientInterruptedError(what)
        if time.monotonic() > deadline:
            raise ClientError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.01)
    return future.result()


def _finish_within(future, timeout_s: float):
    """The future's result if it is done within `timeout_s` (not interruptible), else None."""
    try:
        return _wait(future, timeout_s, "", threading.Event())
    except ClientError:
        return None


def _wait_for_server(client, timeout_s: float, interrupted: threading.Event) -> bool:
    deadline = time.monotonic() + timeout_s
    while not client.wait_for_server(timeout_sec=0.1):
        if interrupted.is_set():
            raise ClientInterruptedError("the /grasp server")
        if time.monotonic() > deadline:
            return False
    return True


def _stop_on_signals(interrupted: threading.Event) -> dict:
    """Ctrl-C / SIGTERM set `interrupted` (with rclpy's own handler the client never noticed and
    waited out its timeouts); returns the handlers they replace (none off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, lambda *_: interrupted.set()) for signum in (signal.SIGINT, signal.SIGTERM)}


def _box(roi) -> str:
    return f"({roi.x_offset}, {roi.y_offset}, {roi.width}x{roi.height})"


def format_feedback(fb: Grasp.Feedback) -> str:
    stage = STAGE_NAMES.get(fb.stage, str(fb.stage))
    box = f" box {_box(fb.current_box)}" if fb.current_box.width else ""
    return f"  feedback: attempt {fb.attempt} {stage:<17} zoom step {fb.zoom_step}{box}  {fb.stage_description}"


def format_result(status: int, result: Grasp.Result, elapsed_s: float | None = None) -> str:
    p = result.grasp_pose.pose
    took = f"  ({elapsed_s:.1f} s)" if elapsed_s is not None else ""
    lines = [
        f"  result: {STATUS_NAMES.get(status, status)}  success={result.success}  attempts={result.attempts}{took}",
        f"    zoom boxes: {' -> '.join(_box(b) for b in result.zoom_boxes) or '-'}",
    ]
    if result.grasp_pose.header.frame_id:
        lines.append(
            f"    grasp pixel ({result.proposal.u:.1f}, {result.proposal.v:.1f}) depth {result.proposal.depth:.3f} m;"
            f" palm in {result.grasp_pose.header.frame_id}: ({p.position.x:.3f}, {p.position.y:.3f},"
            f" {p.position.z:.3f}) rpy ({result.proposal.roll:.2f}, {result.proposal.pitch:.2f},"
            f" {result.proposal.yaw:.2f}) hand [{', '.join(f'{x:.2f}' for x in result.hand_joints)}]"
        )
    if result.message:
        lines.append(f"    message: {result.message}")
    return "\n".join(lines)


class DepthRecorder:
    """Keeps the recent conditioned depth frames by stamp (for --save-zoom)."""

    def __init__(self, node, topic: str, keep: int = 200):
        self.lock = threading.Lock()
        self.frames: dict[tuple[int, int], Image] = {}
        self.order: list[tuple[int, int]] = []
        self.keep = keep
        node.create_subscription(Image, topic, self._on_image, qos_profile_sensor_data)

    def _on_image(self, msg: Image) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with self.lock:
            self.frames[key] = msg
            self.order.append(key)
            while len(self.order) > self.keep:
                self.frames.pop(self.order.pop(0), None)

    def wait_for_first(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.order:
                    return True
            time.sleep(0.05)
        return False

    def frame(self, stamp) -> Image | None:
        """The frame with this stamp, else the latest."""
        with self.lock:
            msg = self.frames.get((stamp.sec, stamp.nanosec))
            if msg is None and self.order:
                msg = self.frames[self.order[-1]]
            return msg


def zoom_panel(depth_msg: Image | None, result: Grasp.Result, label: str, side: int = 360) -> np.ndarray:
    import cv2

    from pa_grasp_perception.perception_msgs import from_image_msg
    from pa_grasp_policy.model.zoom_image import draw_zoom
    from pa_grasp_policy.ros.policy_msgs import from_roi_msg

    if depth_msg is None:
        panel = np.full((side, side, 3), 40, dtype=np.uint8)
    else:
        depth = from_image_msg(depth_msg)
        uv = (result.proposal.u, result.proposal.v) if result.grasp_pose.header.frame_id else None
        panel = draw_zoom(depth, [from_roi_msg(b) for b in result.zoom_boxes], uv, min_side=side)
        panel = cv2.resize(panel, (side, side), interpolation=cv2.INTER_AREA)
    colour = (90, 255, 90) if result.success else (255, 90, 90)
    panel = np.ascontiguousarray(panel)
    cv2.rectangle(panel, (0, side - 30), (side - 1, side - 1), (0, 0, 0), -1)
    cv2.putText(panel, label, (8, side - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_AA)
    return panel


def make_goal(args) -> Grasp.Goal:
    goal = Grasp.Goal(
        max_attempts=args.attempts, deterministic=not args.sample, max_zoom_steps=args.max_zoom_steps or 0
    )
    if args.roi:
        goal.use_roi = True
        goal.roi.x_offset, goal.roi.y_offset, goal.roi.width, goal.roi.height = args.roi
    return goal


def run(args) -> int:
    interrupted = threading.Event()
    previous_handlers = _stop_on_signals(interrupted)
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("pa_grasp_client", context=context)
    recorder = DepthRecorder(node, args.depth_topic) if args.save_zoom else None
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    spinner = BackgroundSpinner(executor, name="pa_grasp_client").start()
    client = RaceFreeActionClient(node, Grasp, args.action)
    panels, codes = [], []
    handle = sending = None  # the goal in flight, and the request that sent it
    try:
        if not _wait_for_server(client, args.server_timeout, interrupted):
            raise ClientError(f"no /grasp action server on {args.action} within {args.server_timeout:g} s")
        if recorder is not None and not recorder.wait_for_first(args.server_timeout):
            print(f"pa-grasp-client: no depth on {args.depth_topic} yet; the zoom picture may lack it", flush=True)
        for i in range(1, args.goals + 1):
            print(
                f"goal {i}/{args.goals}: sending {args.action} (attempts={args.attempts}, "
                f"{'sample' if args.sample else 'deterministic'})",
                flush=True,
            )
            sent = time.monotonic()
            sending = client.send_goal_async(
                make_goal(args), feedback_callback=lambda m: print(format_feedback(m.feedback), flush=True)
            )
            handle = _wait(sending, 10.0, "the goal response", interrupted)
            if not handle.accepted:
                raise ClientError("the goal was rejected (is another /grasp goal running? see the server's log)")
            result_future = handle.get_result_async()
            if args.cancel_after is not None:
                interrupted.wait(args.cancel_after)
                if not result_future.done() and not interrupted.is_set():
                    print(f"  canceling after {args.cancel_after:g} s", flush=True)
                    _wait(handle.cancel_goal_async(), 10.0, "the cancel response", interrupted)
            try:
                response = _wait(result_future, args.timeout, "the result", interrupted)
            except ClientError:
                handle.cancel_goal_async()
                raise
            handle = sending = None
            print(format_result(response.status, response.result, time.monotonic() - sent), flush=True)
            status, result = response.status, response.result
            if status == GoalStatus.STATUS_SUCCEEDED:
                codes.append(EXIT_SUCCESS if result.success else EXIT_FAILED)
            elif status == GoalStatus.STATUS_CANCELED:
                codes.append(EXIT_FAILED)
            else:
                codes.append(EXIT_ERROR)
            if recorder is not None:
                verdict = "lifted" if result.success else STATUS_NAMES.get(status, "?").lower()
                if status == GoalStatus.STATUS_SUCCEEDED and not result.success:
                    verdict = "failed"
                depth = recorder.frame(result.proposal.header.stamp)
                views = len(result.zoom_boxes)
                label = f"goal {i}: {verdict}, {views} view{'' if views == 1 else 's'}"
                panels.append(zoom_panel(depth, result, label))
    except ClientError as exc:
        print(f"pa-grasp-client: {exc}", file=sys.stderr, flush=True)
        codes.append(EXIT_ERROR)
    except ClientInterruptedError as exc:
        what = f"while waiting for {exc}"
        if handle is None and sending is not None:  # the server may have accepted it already
            handle = _finish_within(sending, 5.0)
            handle = handle if handle is not None and handle.accepted else None
        if handle is not None:  # a goal in flight: the robot must not go on without its client
            cancelled = _finish_within(handle.cancel_goal_async(), 5.0) is not None
            what += "; the goal in flight " + ("was asked to cancel" if cancelled else "may still run")
        print(f"pa-grasp-client: interrupted {what}", file=sys.stderr, flush=True)
        codes.append(EXIT_INTERRUPTED)
    finally:
        if panels:
            from pa_grasp_policy.model.zoom_image import save_png

            Path(args.save_zoom).parent.mkdir(parents=True, exist_ok=True)
            save_png(args.save_zoom, np.concatenate(panels, axis=1))
            print(f"wrote the zoom sequence of {len(panels)} goal(s) to {args.save_zoom}", flush=True)
        spinner.stop()  # no callback runs while the node is destroyed
        client.destroy()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    succeeded = sum(c == EXIT_SUCCESS for c in codes)
    if args.goals > 1:
        print(f"{succeeded}/{args.goals} goal(s) lifted an object", flush=True)
    return max(codes) if codes else EXIT_ERROR


def uint32(text: str) -> int:
    """An argparse type for the goal's uint32 fields: refused here, not by the message setter
    (which fails deep inside rclpy with a SystemError)."""
    value = int(text)
    if not 0 <= value <= 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {2**32 - 1}, got {text}")
    return value


def positive_seconds(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="pa-grasp-client", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--attempts", type=int, default=1, help="grasp attempts per goal (retry after a failed lift)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--deterministic", action="store_true", default=True, help="mode of the policy (default)")
    mode.add_argument("--sample", action="store_true", help="sample from the policy")
    p.add_argument("--max-zoom-steps", type=uint32, default=0, help="zoom budget; 0 = the server's default")
    p.add_argument("--roi", type=uint32, nargs=4, metavar=("X", "Y", "W", "H"), help="start the zoom from this region")
    p.add_argument(
        "--timeout", type=positive_seconds, default=120.0, help="seconds to wait for each result (default 120)"
    )
    p.add_argument(
        "--server-timeout", type=positive_seconds, default=10.0, help="seconds to wait for the /grasp server"
    )
    p.add_argument("--cancel-after", type=seconds, metavar="S", help="cancel each goal S seconds after sending it")
    p.add_argument("--goals", type=int, default=1, help="goals to send one after the other (default 1)")
    p.add_argument("--save-zoom", metavar="PNG", help="write the zoom sequence of every goal to this picture")
    p.add_argument(
        "--action", default="grasp", help="action name (default grasp: /grasp, or under the client's namespace)"
    )
    p.add_argument("--depth-topic", default="pa_grasp/depth", help="conditioned depth, for --save-zoom")
    args = p.parse_args(argv)
    if args.attempts < 1 or args.goals < 1:
        p.error("--attempts and --goals must be >= 1")
    return args


def main(argv=None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
