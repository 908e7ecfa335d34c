"""`make demo`: the main job on the simulated robot.

Foundation stage: start a placeholder /grasp server and send it one goal over real DDS, so a
fresh machine proves that set-up, the interfaces and the ROS graph work end to end. Later
issues replace the placeholder with the sim stack (sim_bridge -> kinect_node -> policy_node).
"""

import sys
import threading
import time

import rclpy
from rclpy.action import ActionClient, ActionServer
from rclpy.executors import MultiThreadedExecutor

from pa_grasp_interfaces.action import Grasp


def _placeholder_execute(goal_handle):
    feedback = Grasp.Feedback(stage=Grasp.Feedback.STAGE_WAITING_FOR_DEPTH, attempt=1)
    feedback.stage_description = "placeholder server: no policy yet"
    goal_handle.publish_feedback(feedback)
    goal_handle.abort()
    return Grasp.Result(success=False, attempts=0, message="placeholder /grasp server: the policy is not wired yet")


def main() -> int:
    rclpy.init()
    server_node = rclpy.create_node("pa_grasp_placeholder_server")
    client_node = rclpy.create_node("pa_grasp_demo_client")
    ActionServer(server_node, Grasp, "grasp", execute_callback=_placeholder_execute)
    executor = MultiThreadedExecutor()
    executor.add_node(server_node)
    executor.add_node(client_node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        client = ActionClient(client_node, Grasp, "grasp")
        if not client.wait_for_server(timeout_sec=10.0):
            print("demo: /grasp server did not appear", file=sys.stderr)
            return 1
        feedback_seen = []
        send = client.send_goal_async(
            Grasp.Goal(max_attempts=1, deterministic=True), feedback_callback=lambda f: feedback_seen.append(f)
        )
        deadline = time.monotonic() + 10
        while not send.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        result_future = send.result().get_result_async()
        while not result_future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not result_future.done():
            print("demo: no result within 10 s", file=sys.stderr)
            return 1
        result = result_future.result().result
        for f in feedback_seen:
            print(f"demo: feedback stage={f.feedback.stage} ({f.feedback.stage_description})")
        print(f"demo: /grasp result success={result.success} attempts={result.attempts} message='{result.message}'")
        return 0
    finally:
        executor.shutdown()
        rclpy.shutdown()


if __name__ == "__main__":
    sys.exit(main())
