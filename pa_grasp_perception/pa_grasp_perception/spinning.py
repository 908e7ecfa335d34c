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

Every executor of the stack is this module's `MultiThreadedExecutor`, not rclpy's: see its
docstring for the busy loop it removes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from rclpy import executors as rclpy_executors
from rclpy.executors import (
    ConditionReachedException,
    Executor,
    ExternalShutdownException,
    ShutdownException,
    TimeoutException,
)

# How long the spinning thread steps aside when every ready task is already queued for a worker.
QUEUED_BACKOFF_S = 0.001


class MultiThreadedExecutor(rclpy_executors.MultiThreadedExecutor):
    """rclpy's MultiThreadedExecutor without its busy loop (ros2/rclpy#1452; fixed upstream by
    ros2/rclpy#1547, after the Jazzy rclpy 7.1.6 these wheels ship).

    Jazzy's `wait_for_ready_callbacks` yields a callback's task again, without waiting, for as long
    as the task sits in the worker pool's queue, and `spin_once` queues it again each time. The
    spinning thread then queues no-op copies as fast as it can while holding the GIL. Measured on
    this machine: a node with a 10 Hz timer publishing to its own subscription used 97% of a core
    and took 3 of the 50 messages in 5 s; the idle sim stack used a whole core, and depth frames
    reached kinect_node more than 1 s old. Here a task already queued or running is not queued
    again, and the spinning thread sleeps `QUEUED_BACKOFF_S` instead, so a worker can start it. A
    coroutine task suspended on a future is queued again after each run ends, so it is polled until
    it resumes, as in rclpy (the stack's callbacks are plain functions).
    """

    def __init__(self, num_threads: int | None = None, *, context=None):
        super().__init__(num_threads, context=context)
        self._queued: set = set()  # tasks handed to the pool whose run has not ended
        self._queued_lock = threading.Lock()

    def _run(self, task: Callable[[], None]) -> None:
        try:
            task()  # a Task keeps its callback's exception; spin_once re-raises it below
        finally:
            with self._queued_lock:
                self._queued.discard(task)

    def _spin_once_impl(self, timeout_sec=None, wait_condition: Callable[[], bool] = lambda: False) -> None:
        try:
            task, _entity, _node = self.wait_for_ready_callbacks(timeout_sec, None, wait_condition)
        except (ExternalShutdownException, ShutdownException, TimeoutException, ConditionReachedException):
            return  # as rclpy's: the caller's loop decides whether to go on
        with self._queued_lock:
            already_queued = task in self._queued
            self._queued.add(task)
        if already_queued:
            time.sleep(QUEUED_BACKOFF_S)
            return
        self._executor.submit(self._run, task)
        self._futures.append(task)
        for future in self._futures[:]:
            if future.done():
                self._futures.remove(future)
                future.result()  # raise any exception of a callback, as rclpy does


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
