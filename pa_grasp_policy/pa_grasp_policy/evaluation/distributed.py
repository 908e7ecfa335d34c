"""The evaluation protocol's attempts on worker processes of this machine or on a Ray cluster.

Every worker owns one simulated world and one chooser, built from a `ChooserSpec` (a baseline by
name, or a planner from a checkpoint), and runs the attempts it is handed. The attempts are fixed
before anything runs (pa_grasp_sim.protocol.attempt_specs) and any world builds an attempt's scene
bit for bit, so the outcomes are those of one process, attempt by attempt, whatever the number of
workers and whichever worker runs which attempt.

Workers take small batches from one queue, so a slow worker holds up nothing. A worker that dies
(a crash, a lost machine) loses no attempt: its unfinished batch is handed out again (to a new
process; Ray restarts the actor) and the run goes on; a batch that kills MAX_TRIES workers in a
row stops the run with that error.

    workers = ProcessWorkers(2)                  # or RayWorkers(2, "local" | "auto" | ADDRESS)
    result = evaluate_on(workers, chooser_spec, eval_config, progress)
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable

from pa_grasp_policy.evaluation.choosers import baseline_chooser, planner_chooser
from pa_grasp_policy.parallel.ray_cluster import MAX_TRIES, connect_ray, revived
from pa_grasp_policy.planner.planner import GraspPlanner, PlannerConfig
from pa_grasp_sim.protocol import (
    AttemptRecord,
    AttemptSpec,
    EvalConfig,
    EvalResult,
    attempt_specs,
    result_of,
    run_attempt,
)

BATCH = 4  # attempts per task: small enough to balance, large enough to amortize the hand-off


@dataclasses.dataclass(frozen=True)
class ChooserSpec:
    """How a worker builds its chooser: a baseline by name, or the planner of a checkpoint (None:
    the shipped model) with a test-time ablation and the planner's extras (its twin in the
    worker's own process)."""

    baseline: str = ""  # "heuristic" | "random" | "" (a policy)
    checkpoint: str | None = None
    test_ablation: str = "full"
    planner: PlannerConfig = dataclasses.field(default_factory=PlannerConfig)


class AttemptRunner:
    """One worker's world and chooser; runs attempts."""

    def __init__(self, chooser: ChooserSpec, config: EvalConfig):
        from pa_grasp_sim.protocol import EVAL_SEED_BASE
        from pa_grasp_sim.world import GraspWorld

        self.config = config
        self.planner = None
        if chooser.baseline:
            self.choose = baseline_chooser(chooser.baseline)
        else:
            local = dataclasses.replace(chooser.planner, twin_workers=0)  # the worker is the unit of parallelism
            self.planner = GraspPlanner.load(chooser.checkpoint, local, chooser.test_ablation, config.world)
            self.choose = planner_chooser(self.planner)
        self.world = GraspWorld(config.world, config.objects, seed=EVAL_SEED_BASE)

    def run(self, specs: list[AttemptSpec]) -> list[AttemptRecord]:
        return [run_attempt(self.world, spec, self.choose, self.config.scene == "single") for spec in specs]

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        self.world.close()
        if self.planner is not None:
            self.planner.close()


class WorkerLostError(RuntimeError):
    """A batch of attempts was handed to MAX_TRIES workers and each of them died."""


class _Batch:
    def __init__(self, specs: list[AttemptSpec]):
        self.specs, self.tries = specs, 0


def evaluate_on(
    workers,
    chooser: ChooserSpec,
    config: EvalConfig,
    progress: Callable[[int, int, float], None] | None = None,
    log: Callable[[str], None] = lambda text: None,
) -> EvalResult:
    """The protocol of `config` with `chooser`, its attempts run by `workers` (ProcessWorkers or
    RayWorkers, started here and stopped before returning)."""
    start = time.perf_counter()
    specs = attempt_specs(config)
    todo = deque(_Batch(specs[i : i + BATCH]) for i in range(0, len(specs), BATCH))
    records: list[AttemptRecord] = []
    workers.start(chooser, config)
    try:
        running = {}  # handle -> batch
        while todo or running:
            while todo and len(running) < workers.slots:
                batch = todo.popleft()
                batch.tries += 1
                running[workers.submit(batch.specs)] = batch
            for handle, outcome in workers.wait(list(running)):
                batch = running.pop(handle)
                if isinstance(outcome, Exception):
                    if batch.tries >= MAX_TRIES:
                        raise WorkerLostError(f"{MAX_TRIES} workers died running attempts {batch.specs}: {outcome}")
                    log(f"a worker died ({outcome}); its {len(batch.specs)} attempt(s) go to another")
                    todo.appendleft(batch)
                    continue
                records += outcome
                if progress is not None:
                    progress(len(records), len(specs), sum(r.success for r in records) / len(records))
    finally:
        workers.stop()
    return result_of(records, time.perf_counter() - start)


# ------------------------------------------------------------------ worker processes of this machine
_runner: AttemptRunner | None = None


def _init_process(chooser: ChooserSpec, config: EvalConfig) -> None:
    import torch

    from pa_grasp_perception.process_setup import prepare_node_process

    prepare_node_process()  # faulthandler: a crash in pybullet prints the worker's stack
    torch.set_num_threads(1)
    global _runner
    _runner = AttemptRunner(chooser, config)


def _run_in_process(specs: list[AttemptSpec]) -> list[AttemptRecord]:
    return _runner.run(specs)


class ProcessWorkers:
    """`count` spawned processes of this machine. A pool whose process died is replaced as a whole
    (the standard library cannot replace one process); the finished attempts are kept."""

    def __init__(self, count: int):
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        self.slots = count
        self._pool = None
        self._handles = {}  # future -> the pool it was submitted to
        self.pools_started = 0

    def start(self, chooser: ChooserSpec, config: EvalConfig) -> None:
        self._args = (chooser, config)
        self._new_pool()

    def _new_pool(self) -> None:
        self.pools_started += 1
        self._pool = cf.ProcessPoolExecutor(
            self.slots, mp_context=mp.get_context("spawn"), initializer=_init_process, initargs=self._args
        )

    def submit(self, specs):
        try:
            future = self._pool.submit(_run_in_process, specs)
        except cf.process.BrokenProcessPool:  # a process died since the last wait
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._new_pool()
            future = self._pool.submit(_run_in_process, specs)
        self._handles[future] = self._pool
        return future

    def in_flight(self) -> int:
        """Batches handed out and not back yet."""
        return sum(not f.done() for f in self._handles)

    def wait(self, handles):
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        results = []
        for future in done:
            pool, error = self._handles.pop(future, None), future.exception()
            if error is not None and not isinstance(error, cf.process.BrokenProcessPool):
                raise error  # the attempts' own error (a bad object file, ...): no worker died
            if error is not None and pool is self._pool:  # replaced once, whichever of its batches tells
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._new_pool()
            results.append((future, error or future.result()))
        return results

    def pids(self) -> list[int]:
        return [p.pid for p in (self._pool._processes or {}).values()] if self._pool else []

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# ------------------------------------------------------------------ Ray actors
class RayWorkers:
    """`count` Ray actors, each an AttemptRunner, one CPU each. Ray restarts a died actor (up to
    MAX_TRIES times); its unfinished batch is handed out again."""

    def __init__(self, count: int, address: str = "local"):
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        self.slots, self.address = count, address
        self.actors = []

    def start(self, chooser: ChooserSpec, config: EvalConfig) -> None:
        import ray

        connect_ray(self.address)
        actor = ray.remote(num_cpus=1, max_restarts=MAX_TRIES, max_task_retries=0)(AttemptRunner)
        self._make = lambda: actor.remote(chooser, config)
        self.actors = [self._make() for _ in range(self.slots)]
        self._free = deque(self.actors)
        self._actor_of = {}

    def submit(self, specs):
        actor = self._free.popleft()
        handle = actor.run.remote(specs)
        self._actor_of[handle] = actor
        return handle

    def wait(self, handles):
        import ray

        ready, _ = ray.wait(handles, num_returns=1)
        results = []
        for handle in ready:
            actor = self._actor_of.pop(handle)
            try:
                results.append((handle, ray.get(handle)))
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as exc:
                results.append((handle, RuntimeError(type(exc).__name__)))
                alive = revived(actor, self._make)
                self.actors = [alive if a is actor else a for a in self.actors]
                actor = alive
            self._free.append(actor)
        return results

    def in_flight(self) -> dict:
        """Batches handed out and not back yet: handle -> the actor running it."""
        import ray

        handles = list(self._actor_of)
        ready, _ = ray.wait(handles, num_returns=len(handles), timeout=0) if handles else ([], [])
        return {h: a for h, a in self._actor_of.items() if h not in ready}

    def stop(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
