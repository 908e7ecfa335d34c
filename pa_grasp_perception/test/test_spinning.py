"""BackgroundSpinner over a real rclpy context: stop() returns only after the callback in
flight has finished, nothing runs after it, and a callback stuck past the timeout is reported
(False) instead of hanging the caller."""

import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import MultiThreadedExecutor  # noqa: E402

from pa_grasp_perception.spinning import BackgroundSpinner  # noqa: E402


class SlowTimer:
    """A node whose timer callback takes `busy_s`, counting starts and ends."""

    def __init__(self, context, busy_s: float, release: threading.Event | None = None):
        self.node = rclpy.create_node("spinning_test", context=context)
        self.busy_s = busy_s
        self.release = release
        self.started = 0
        self.finished = 0
        self.first_started = threading.Event()
        self.node.create_timer(0.01, self._tick)

    def _tick(self):
        self.started += 1
        self.first_started.set()
        if self.release is not None:
            self.release.wait()
        else:
            time.sleep(self.busy_s)
        self.finished += 1


def spin_until_first_tick(context, slow: SlowTimer) -> BackgroundSpinner:
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(slow.node)
    spinner = BackgroundSpinner(executor).start()
    assert slow.first_started.wait(5.0), "the timer never fired"
    return spinner


def wait_until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def context():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def test_stop_waits_for_the_callback_in_flight(context):
    slow = SlowTimer(context, busy_s=0.3)
    spinner = spin_until_first_tick(context, slow)
    assert spinner.stop(timeout_s=5.0)
    assert not spinner.running
    assert slow.started >= 1 and slow.finished == slow.started  # nothing left half-done
    started = slow.started
    time.sleep(0.1)
    assert slow.started == started  # and nothing new starts after stop()
    slow.node.destroy_node()


def test_stop_reports_a_callback_stuck_past_the_timeout(context):
    release = threading.Event()
    slow = SlowTimer(context, busy_s=0.0, release=release)
    spinner = spin_until_first_tick(context, slow)
    t0 = time.monotonic()
    assert not spinner.stop(timeout_s=0.3)
    assert time.monotonic() - t0 < 3.0
    assert slow.finished < slow.started
    release.set()
    wait_until(lambda: slow.finished == slow.started)
    assert slow.finished == slow.started
    slow.node.destroy_node()


def test_spinning_ends_when_the_context_shuts_down(context):
    slow = SlowTimer(context, busy_s=0.0)
    spinner = spin_until_first_tick(context, slow)
    slow.node.destroy_node()
    rclpy.shutdown(context=context)
    wait_until(lambda: not spinner.running)
    assert not spinner.running
    spinner.stop()
