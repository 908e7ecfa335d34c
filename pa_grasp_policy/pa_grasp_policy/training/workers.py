"""The rollout workers: processes of this machine or Ray actors, each with its own simulated world
and a CPU copy of the policy, playing the SceneTasks the learner hands out.

The learner stays one process. It hands each worker a task with the weights' version (an update
number); a worker loads the weights only when their version is new to it, and sends back the
task's rollout with the version it used. An update's rollout is the shortest run of its tasks, in
task order, that holds enough steps (`gather`): the same whatever the number of workers or their
speed. A result of an earlier version (a task still running when its update had enough) is
dropped: no rollout ever holds steps of stale weights, and at most `slots - 1` tasks are wasted
per update. A worker that dies (a crash, a lost machine) is replaced (a new process; Ray restarts
the actor) and its task handed out again; a task whose workers died MAX_TRIES times stops the run.

    with ProcessRolloutWorkers(2, env_config, policy) as workers:   # or RayRolloutWorkers(2, "local", ...)
        parts = gather(workers, training_tasks(env_config, seed, update), weights, update, enough)
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from multiprocessing.connection import wait as wait_for_pipes

import torch

from pa_grasp_policy.model.distribution import DofConstraints
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.parallel.ray_cluster import MAX_TRIES, connect_ray, revived
from pa_grasp_policy.training.rollout import Rollout, SceneTask, play
from pa_grasp_policy.training.zoom_env import ZoomEnvConfig, ZoomGraspEnv


class WorkerDiedError(RuntimeError):
    """A worker died while it played a task (the task is handed out again)."""


class TasksLostError(RuntimeError):
    """A task's workers died MAX_TRIES times."""


class TaskPlayer:
    """What every worker is: a world and a policy copy; plays tasks with versioned weights."""

    def __init__(self, env_config: ZoomEnvConfig, net_config: dict, constraints: dict):
        torch.set_num_threads(1)
        self.policy = Policy(NetworkConfig.from_dict(net_config), DofConstraints.from_dict(constraints))
        self.policy.eval()
        self.env = ZoomGraspEnv(env_config, seed=0)  # every scene comes from its task's seed
        self.version = None

    def ready(self) -> bool:
        return True

    def play(self, task: SceneTask, version: int, weights) -> tuple[int, Rollout]:
        """(version, rollout); `weights()` gives the state dict when `version` is new here."""
        if version != self.version:
            self.policy.load_state_dict(weights())
            self.version = version
        return version, play(self.env, self.policy, task)


def gather(
    workers,
    tasks: Iterable[SceneTask],
    weights: dict,
    version: int,
    enough: Callable[[list[Rollout]], bool],
) -> list[Rollout]:
    """The rollouts of the first tasks, in task order, up to the first prefix `enough` accepts."""
    tasks = iter(tasks)
    submitted: set[SceneTask] = set()  # a result of any other task (an earlier gather's) is dropped
    retry: deque[SceneTask] = deque()
    tries: dict[int, int] = {}
    done: dict[int, Rollout] = {}
    prefix: list[Rollout] = []
    workers.new_weights(weights, version)
    while True:
        while workers.free() and (retry or tasks is not None):
            task = retry.popleft() if retry else next(tasks, None)
            if task is None:
                tasks = None
                break
            tries[task.index] = tries.get(task.index, 0) + 1
            submitted.add(task)
            workers.submit(task, version)
        if not workers.busy():
            raise ValueError("the tasks ran out before the rollout had enough")
        task, task_version, outcome = workers.next_result()
        if task_version != version or task not in submitted:
            continue  # a task of an earlier gather, still running when that one had enough: dropped
        if isinstance(outcome, WorkerDiedError):
            if tries[task.index] >= MAX_TRIES:
                raise TasksLostError(f"task {task} stopped {MAX_TRIES} workers: {outcome}")
            retry.append(task)
            continue
        done[task.index] = outcome
        while len(prefix) in done:  # the shortest enough prefix, however the results came in
            prefix.append(done.pop(len(prefix)))
            if enough(prefix):
                return prefix


# ------------------------------------------------------------------ processes of this machine
def _serve(conn, env_config: ZoomEnvConfig, net_config: dict, constraints: dict) -> None:
    from pa_grasp_perception.process_setup import prepare_node_process

    prepare_node_process()  # faulthandler: a crash in pybullet prints the worker's stack
    player = TaskPlayer(env_config, net_config, constraints)
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                break
            _, task, version, weights = msg
            try:
                conn.send(("ok", *player.play(task, version, lambda w=weights: w)))
            except Exception:  # report, do not hang the learner
                conn.send(("error", version, traceback.format_exc()))
    finally:
        conn.close()


class ProcessRolloutWorkers:
    """`count` spawned processes, talking over pipes; weights travel only to a worker that has not
    seen their version."""

    def __init__(self, count: int, env_config: ZoomEnvConfig, policy: Policy):
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        self.slots = count
        self._args = (env_config, policy.config.to_dict(), policy.constraints.to_dict())
        self._ctx = mp.get_context("spawn")
        self._procs, self._conns = [None] * count, [None] * count
        self._seen = [None] * count  # the weights version each worker holds
        self._task = [None] * count  # (task, version) each is playing
        for i in range(count):
            self._start(i)

    def _start(self, i: int) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(child, *self._args), daemon=True)
        proc.start()
        child.close()
        self._procs[i], self._conns[i], self._seen[i] = proc, parent, None

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def busy_pids(self) -> list[int]:
        """The processes playing a task now."""
        return [p.pid for p, t in zip(self._procs, self._task) if t is not None]

    def new_weights(self, weights: dict, version: int) -> None:
        self._weights = weights

    def free(self) -> bool:
        return any(t is None for t in self._task)

    def busy(self) -> bool:
        return any(t is not None for t in self._task)

    def submit(self, task: SceneTask, version: int) -> None:
        i = self._task.index(None)
        weights = self._weights if self._seen[i] != version else None
        self._task[i] = (task, version)
        try:
            self._conns[i].send(("play", task, version, weights))
            self._seen[i] = version
        except OSError:  # it died since its last task; next_result reports it
            pass

    def next_result(self) -> tuple[SceneTask, int, Rollout | Exception]:
        busy = {self._conns[i]: i for i, t in enumerate(self._task) if t is not None}
        conn = wait_for_pipes(list(busy))[0]
        i = busy[conn]
        task, version = self._task[i]
        self._task[i] = None
        try:
            status, result_version, payload = conn.recv()
        except (EOFError, OSError):
            code = self._procs[i].exitcode
            self._procs[i].join(timeout=5)
            self._start(i)
            return task, version, WorkerDiedError(f"rollout worker {i} died (exit code {code})")
        if status != "ok":
            raise RuntimeError(f"rollout worker {i} failed:\n{payload}")
        return task, result_version, payload

    def close(self) -> None:
        for i, conn in enumerate(self._conns):
            try:
                if self._task[i] is not None and conn.poll(60):  # let a running task finish
                    conn.recv()
                conn.send(("close",))
            except (EOFError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------ Ray actors
class RayRolloutWorkers:
    """`count` Ray actors (one CPU each), each a TaskPlayer. The weights of a version are put in
    Ray's object store once; an actor fetches them when the version is new to it. Ray restarts a
    died actor (MAX_TRIES times), which then holds no weights."""

    def __init__(self, count: int, address: str, env_config: ZoomEnvConfig, policy: Policy):
        import ray

        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        connect_ray(address)
        self.slots = count
        actor = ray.remote(num_cpus=1, max_restarts=MAX_TRIES, max_task_retries=0)(_RayPlayer)
        args = (env_config, policy.config.to_dict(), policy.constraints.to_dict())
        self._make = lambda: actor.remote(*args)
        self.actors = [self._make() for _ in range(count)]
        self._free = deque(self.actors)
        self._running = {}  # object ref -> (actor, task, version)

    def new_weights(self, weights: dict, version: int) -> None:
        import ray

        self._weights_ref = ray.put(weights)

    def free(self) -> bool:
        return bool(self._free)

    def busy(self) -> bool:
        return bool(self._running)

    def submit(self, task: SceneTask, version: int) -> None:
        actor = self._free.popleft()
        ref = actor.play.remote(task, version, [self._weights_ref])  # in a list: fetched only when needed
        self._running[ref] = (actor, task, version)

    def running(self) -> dict:
        """object ref -> the actor playing it."""
        return {ref: actor for ref, (actor, _, _) in self._running.items()}

    def next_result(self) -> tuple[SceneTask, int, Rollout | Exception]:
        import ray

        ready, _ = ray.wait(list(self._running), num_returns=1)
        actor, task, version = self._running.pop(ready[0])
        try:
            result_version, rollout = ray.get(ready[0])
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as exc:
            alive = revived(actor, self._make)
            self.actors = [alive if a is actor else a for a in self.actors]
            self._free.append(alive)
            return task, version, WorkerDiedError(type(exc).__name__)
        self._free.append(actor)
        return task, result_version, rollout

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _RayPlayer(TaskPlayer):
    def play(self, task: SceneTask, version: int, weights_ref: list) -> tuple[int, Rollout]:
        import ray

        return super().play(task, version, lambda: ray.get(weights_ref[0]))
