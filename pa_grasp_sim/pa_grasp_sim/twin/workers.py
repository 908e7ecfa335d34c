"""The depth twin in worker processes: several executions at once, and pybullet kept out of the
caller's process.

`TwinPool` ranks and scores exactly like `DepthTwin` (it shares `TwinBase`), but each execution
runs in one of `workers` child processes, each with its own physics world. Why not in-process:
  * speed: the executions of a ranking are independent (each starts from a fresh twin), so two
    workers run two at a time;
  * isolation: a crash inside pybullet kills a worker, not the ROS node; the call raises
    `TwinWorkerError`, the worker is started again for the next call;
  * memory: pybullet 3.2.7 keeps a reference per mesh file name it is given
    (`createCollisionShapeArray`, ~35 KB per image); a worker is replaced after
    `restart_after` images, so that stays bounded.

A worker is `python -m pa_grasp_sim.twin.workers FD`, talking pickles over one end of a socket
pair (its stdout stays free for pybullet's own printing). The parent's `sys.path` is passed on,
so a worker imports what its parent does. Workers never import rclpy or torch.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe, wait

from pa_grasp_perception.process_setup import prepare_node_process
from pa_grasp_sim.twin.depth_twin import DepthTwin, TwinBase, TwinConfig
from pa_grasp_sim.world import WorldConfig

START_TIMEOUT_S = 60.0  # a worker's imports and world: ~0.5 s measured here
EXECUTION_TIMEOUT_S = 30.0  # per execution; one takes ~0.1 s (a hung worker is stopped)


class TwinWorkerError(RuntimeError):
    """A twin worker died (e.g. a crash in pybullet) or raised while executing grasps."""


@dataclass
class TwinPoolConfig:
    workers: int = 2  # processes, and executions run at once
    restart_after: int = 200  # images a worker serves before it is replaced (bounds pybullet's leak)

    def __post_init__(self):
        if self.workers < 1:
            raise ValueError(f"TwinPoolConfig.workers must be >= 1, got {self.workers}")
        if self.restart_after < 1:
            raise ValueError(f"TwinPoolConfig.restart_after must be >= 1, got {self.restart_after}")


class _Worker:
    """One child process and the parent's end of its pipe."""

    def __init__(self, config: TwinConfig, world_config: WorldConfig | None):
        ours, theirs = Pipe(duplex=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pa_grasp_sim.twin.workers", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()  # the child's copy is its own: EOF here when it exits
        self.conn: Connection = ours
        self.images = 0  # mesh sets received
        self.meshes_sent = None  # the mesh list it holds (by identity)
        self.conn.send(("init", (config, world_config)))
        self.ready = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> None:
        if not self.ready:
            self._read("while starting", START_TIMEOUT_S)
            self.ready = True

    def receive(self, what: str, timeout_s: float):
        """The worker's answer; TwinWorkerError if it died, raised or took longer than timeout_s."""
        self.wait_ready()
        return self._read(what, timeout_s)

    def _read(self, what: str, timeout_s: float):
        if not wait([self.conn], timeout_s):
            self.kill()
            raise TwinWorkerError(f"depth twin worker {self.pid} took over {timeout_s:.0f} s {what}; it was stopped")
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.wait()
            raise TwinWorkerError(f"depth twin worker {self.pid} died ({_exit_reason(code)}) {what}") from None
        if kind == "error":
            raise TwinWorkerError(f"depth twin worker {self.pid} failed {what}: {value}")
        return value

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self, timeout_s: float = 5.0) -> None:
        with contextlib.suppress(OSError):  # already gone
            self.conn.send(("stop", None))
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self.conn.close()


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class TwinPool(TwinBase):
    """A depth twin whose executions run in worker processes, `workers` at a time. Same scores
    and rankings as `DepthTwin` (each execution starts from a fresh twin)."""

    def __init__(
        self,
        config: TwinConfig | None = None,
        world_config: WorldConfig | None = None,
        pool: TwinPoolConfig | None = None,
    ):
        self.config = config or TwinConfig()
        self.pool = pool or TwinPoolConfig()
        self.parallel = self.pool.workers
        self._world_config = world_config
        self._workers = [self._start() for _ in range(self.pool.workers)]
        self.restarts = 0  # workers replaced (served restart_after images, or died)
        try:  # a worker that cannot start is an error here, not at the first grasp
            for worker in self._workers:
                worker.wait_ready()
        except TwinWorkerError:
            self.close()
            raise

    def _start(self) -> _Worker:
        return _Worker(self.config, self._world_config)

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def _lift_many(self, meshes, jobs):
        for n, worker in enumerate(self._workers):  # replace the dead and the worn before new work
            if not worker.alive() or (worker.meshes_sent is not meshes and worker.images >= self.pool.restart_after):
                if worker.alive():
                    worker.stop()
                else:
                    worker.conn.close()
                self._workers[n] = self._start()
                self.restarts += 1
        shares = [jobs[n :: len(self._workers)] for n in range(len(self._workers))]
        busy, failure = [], None
        for n, (worker, share) in enumerate(zip(self._workers, shares)):
            if not share:
                continue
            new_image = worker.meshes_sent is not meshes
            try:
                worker.conn.send(("lift", (meshes if new_image else None, share)))
            except OSError:  # it died since the check above
                failure = failure or TwinWorkerError(f"depth twin worker {worker.pid} died before it was given work")
                worker.kill()
                continue
            worker.images += int(new_image)
            worker.meshes_sent = meshes
            busy.append(n)
        lifted = [False] * len(jobs)
        for n in busy:  # every answer is read, so no pipe is left out of step
            worker = self._workers[n]
            try:
                lifted[n :: len(self._workers)] = worker.receive(
                    f"while trying {len(shares[n])} grasp(s) in the twin", EXECUTION_TIMEOUT_S * len(shares[n])
                )
            except TwinWorkerError as exc:
                worker.meshes_sent = None
                failure = failure or exc
        if failure is not None:
            raise failure
        return lifted

    def close(self) -> None:
        for worker in self._workers:
            if worker.alive():
                worker.stop()
            else:
                worker.conn.close()
        self._workers = []


def make_twin(workers: int, world_config: WorldConfig | None = None, config: TwinConfig | None = None) -> TwinBase:
    """The depth twin in `workers` worker processes, or in this process with 0."""
    if workers < 0:
        raise ValueError(f"twin workers must be 0 (the twin in this process) or more, got {workers}")
    if workers == 0:
        return DepthTwin(config, world_config)
    return TwinPool(config, world_config, TwinPoolConfig(workers=workers))


def _serve(conn: Connection) -> None:
    """The worker's loop: build the twin world, then answer ("lift", (meshes or None, jobs))
    with the lifts of those jobs (None: the meshes of the previous message)."""
    twin = meshes = None
    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:  # the parent is gone
            break
        if kind == "stop":
            break
        try:
            if kind == "init":
                config, world_config = payload
                twin = DepthTwin(config, world_config)
                conn.send(("ready", None))
                continue
            elif kind == "lift":
                new_meshes, jobs = payload
                meshes = new_meshes if new_meshes is not None else meshes
                conn.send(("lifted", twin._lift_many(meshes, jobs)))
            else:
                conn.send(("error", f"unknown request {kind!r}"))
        except Exception as exc:  # the parent reports it; the worker keeps serving if it has a twin
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            if twin is None:
                break
    if twin is not None:
        twin.close()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    prepare_node_process()  # as every stack process: a crash in pybullet prints the worker's stack
    _serve(Connection(int(sys.argv[1])))
