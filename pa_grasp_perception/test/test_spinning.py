"""BackgroundSpinner over a real rclpy context: stop() returns only after the callback in
flight has finished, nothing runs after it, and a callback stuck past the timeout is reported
(False) instead of hanging the caller. And the stack's MultiThreadedExecutor against rclpy's:
no busy loop, every message taken, callback errors and coroutine callbacks as in rclpy."""

import resource
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy import executors as rclpy_executors  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor  # noqa: E402


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


class Loopback:
    """A node whose 10 Hz timer publishes to its own subscription, on `executor_class`; counts
    what the executor hands to its worker pool."""

    def __init__(self, context, executor_class):
        self.node = rclpy.create_node("loopback_test", context=context)
        self.received = 0
        self.ticks = 0
        publisher = self.node.create_publisher(String, "loopback", 10)
        self.node.create_subscription(String, "loopback", self._on_message, 10)

        def tick():
            self.ticks += 1
            publisher.publish(String(data="x"))

        self.node.create_timer(0.1, tick)
        self.executor = executor_class(num_threads=4, context=context)
        self.executor.add_node(self.node)
        self.submitted = 0
        submit = self.executor._executor.submit

        def counting_submit(*args, **kwargs):
            self.submitted += 1
            return submit(*args, **kwargs)

        self.executor._executor.submit = counting_submit

    def _on_message(self, msg):
        self.received += 1

    def run(self, seconds: float) -> float:
        """Spin for `seconds`; the process's CPU time per wall second meanwhile."""
        start_cpu, start = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        with BackgroundSpinner(self.executor):
            time.sleep(seconds)
        end_cpu = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = end_cpu.ru_utime - start_cpu.ru_utime + end_cpu.ru_stime - start_cpu.ru_stime
        self.node.destroy_node()
        return cpu_s / (time.monotonic() - start)


def test_the_executor_queues_each_callback_once_and_takes_every_message(context):
    loop = Loopback(context, MultiThreadedExecutor)
    cpu = loop.run(2.0)
    assert loop.ticks >= 15
    assert loop.received >= loop.ticks - 2  # every message but the last in flight
    assert loop.submitted <= loop.ticks + loop.received + 2  # one run per callback
    assert cpu < 0.3, f"the idle executor used {cpu:.0%} of a core"


def test_rclpy_jazzy_executor_still_busy_loops(context):
    """Why the stack has its own executor. If this fails, the pinned rclpy has the upstream fix
    (ros2/rclpy#1547) and spinning.MultiThreadedExecutor can go."""
    loop = Loopback(context, rclpy_executors.MultiThreadedExecutor)
    loop.run(2.0)
    # Each callback is queued again and again while it waits for a worker thread, against once with
    # ours (the test above): 7-12 times per run on 2026-12-06's machine, 1.9-2.2 times on 2026-12-07's
    # slower one (3x failed there on an idle machine); how often depends on the CPU's speed.
    assert loop.submitted > 1.5 * (loop.ticks + loop.received)


def test_a_callback_error_reaches_spin_once(context):
    node = rclpy.create_node("raising_test", context=context)

    def fail():
        raise RuntimeError("callback failed")

    node.create_timer(0.01, fail)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    with pytest.raises(RuntimeError, match="callback failed"):
        for _ in range(200):
            executor.spin_once(timeout_sec=0.05)
    executor.shutdown()
    node.destroy_node()


def test_a_coroutine_callback_resumes_after_its_future_completes(context):
    node = rclpy.create_node("coroutine_test", context=context)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    future = rclpy.task.Future(executor=executor)
    results = []

    started = []

    async def wait_for_future():
        # One waiting coroutine is enough; the timer keeps firing, since cancelling a timer while
        # the executor spins can make rclpy 7.1.6 raise "timer is canceled" (ros2/rclpy#1485,
        # fixed upstream after it): that failed this test once in CI.
        if started:
            return
        started.append(True)
        results.append(await future)

    node.create_timer(0.01, wait_for_future)
    with BackgroundSpinner(executor):
        wait_until(lambda: started, 2.0)
        time.sleep(0.2)  # the coroutine is suspended on the future meanwhile
        assert results == []
        future.set_result("done")
        wait_until(lambda: results, 5.0)
    node.destroy_node()
    assert results[:1] == ["done"]
