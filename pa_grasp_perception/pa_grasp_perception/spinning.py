"""Spin an rclpy executor on a thread of its own, and stop it so that no callback is still
running when the caller destroys its nodes (node layer: imports rclpy).

Why not `threading.Thread(target=executor.spin)` + `executor.shutdown()`: in the Jazzy rclpy
these wheels ship, `Executor.shutdown()` neither waits for the spinning thread nor for the
callbacks a `MultiThreadedExecutor` already handed to its worker pool (its wait is skipped,
and the pool is never shut down; ros2/rclpy#968, #1309). A callback that then touches a
destroyed subscription, timer or guard condition fails inside a `Task` nobody awaits, and the
interpreter prints "The following exception was never retrieved: cannot use Destroyable
because destruction was requested" at exit. Here the spin loop is ours: `stop()` ends it,
joins the thread, waits for the worker pool to drain, and only then shuts the executor down.
"""

from __future__ import annotations

import contextlib
import threading

from rclpy.executors import Executor, ExternalShutdownException, ShutdownException


def wait_for_callbacks(executor: Executor, timeout_s: float = 5.0) -> bool:
    """Wait up to `timeout_s` for callbacks already handed to a MultiThreadedExecutor's workers;
    True if they all finished (a callback blocked for longer is left running, not killed).

    Uses the executor's private thread pool: Jazzy's public API has no such wait (rolling's
    `MultiThreadedExecutor.shutdown(wait_for_threads=True)` does this). A single-threaded
    executor runs callbacks on the spinning thread, so joining that thread is the wait.
    """
    pool = getattr(executor, "_executor", None)
    if pool is None or not hasattr(pool, "shutdown"):
        return True
    drain = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, name="ros_callback_drain", daemon=True)
    drain.start()
    drain.join(timeout=timeout_s)
    return not drain.is_alive()


class BackgroundSpinner:
    """`with BackgroundSpinner(executor): ...` spins `executor` until the block ends.

    The thread calls `spin_once` with a short timeout, so `stop()` returns within about
    `poll_s` plus the longest callback in flight.
    """

    def __init__(self, executor: Executor, name: str = "ros_spinner", poll_s: float = 0.05):
        self.executor = executor
        self.poll_s = poll_s
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)

    def _spin(self) -> None:
        # Ends on stop(), on the context's shutdown (Ctrl-C, rclpy.shutdown) or the executor's.
        with contextlib.suppress(ExternalShutdownException, ShutdownException, KeyboardInterrupt):
            while self._running.is_set() and self.executor.context.ok():
                self.executor.spin_once(timeout_sec=self.poll_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> BackgroundSpinner:
        self._running.set()
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop spinning; True if the thread ended and the workers drained within `timeout_s`."""
        self._running.clear()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        # A thread still spinning may yet submit work: leave the pool open to it then.
        drained = not self._thread.is_alive() and wait_for_callbacks(self.executor, timeout_s)
        self.executor.shutdown(timeout_sec=0)
        return drained

    def __enter__(self) -> BackgroundSpinner:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
