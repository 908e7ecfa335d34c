"""The `main()` every node of the stack shares (node layer: imports rclpy).

Start the node; if its constructor fails (bad parameters, no model, no MoveIt) log why and exit
non-zero instead of a traceback; spin on a multi-threaded executor; shut down cleanly on Ctrl-C
or an external shutdown.
"""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException

from pa_grasp_perception.process_setup import prepare_node_process
from pa_grasp_perception.spinning import MultiThreadedExecutor, wait_for_callbacks


def run_node(
    make_node: Callable[[], rclpy.node.Node],
    name: str,
    args=None,
    exit_code_for: Callable[[Exception], int] = lambda exc: 2,
    threads: int = 4,
) -> int:
    prepare_node_process()  # before the executor's threads start
    rclpy.init(args=args)
    try:
        node = make_node()
    except Exception as exc:
        rclpy.logging.get_logger(name).fatal(f"cannot start: {type(exc).__name__}: {exc}")
        rclpy.try_shutdown()
        return exit_code_for(exc)
    executor = MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        wait_for_callbacks(executor)  # a callback in flight finishes before its node is destroyed
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
