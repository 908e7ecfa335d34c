"""Independent jobs (a function of its arguments, e.g. a chunk of demonstrations from a seed) on
worker processes of this machine or on Ray, results in job order whatever ran where.

A worker that dies loses nothing: its job runs again elsewhere. Ray retries the job (up to
MAX_TRIES runs); a process pool with a died process is replaced and its unfinished jobs are
submitted again (up to MAX_TRIES pools).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable, Sequence

from pa_grasp_policy.parallel.ray_cluster import MAX_TRIES, connect_ray


class JobsLostError(RuntimeError):
    """Workers kept dying: a job's MAX_TRIES runs on Ray, or MAX_TRIES process pools."""


def map_jobs(
    fn: Callable,
    jobs: Sequence[tuple],
    workers: int,
    ray_address: str | None = None,
    on_result: Callable[[int, object], None] | None = None,
) -> list:
    """[fn(*job) for job in jobs], run by `workers` processes (or Ray tasks with `ray_address`);
    `on_result(index, result)` as each comes back (for progress). `fn` must be importable (a
    module-level function)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    run = _on_ray if ray_address else _on_processes
    return run(fn, list(jobs), workers, ray_address, on_result or (lambda i, r: None))


def _on_processes(fn, jobs, workers, _address, on_result) -> list:
    results: dict[int, object] = {}
    for _ in range(MAX_TRIES):
        if len(results) == len(jobs):
            break
        with cf.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(fn, *jobs[i]): i for i in range(len(jobs)) if i not in results}
            try:
                for future in cf.as_completed(futures):
                    results[futures[future]] = future.result()
                    on_result(futures[future], results[futures[future]])
            except cf.process.BrokenProcessPool:  # a process died: a new pool for what is left
                for future, i in futures.items():
                    if future.done() and not future.exception() and i not in results:
                        results[i] = future.result()
                        on_result(i, results[i])
    if len(results) < len(jobs):
        raise JobsLostError(f"{MAX_TRIES} pools of worker processes broke; {len(jobs) - len(results)} jobs not done")
    return [results[i] for i in range(len(jobs))]


def _on_ray(fn, jobs, workers, address, on_result) -> list:
    import ray

    connect_ray(address)
    remote = ray.remote(num_cpus=1, max_retries=MAX_TRIES - 1)(fn)
    results: dict[int, object] = {}
    pending = {}
    queue = list(range(len(jobs)))
    while queue or pending:
        while queue and len(pending) < 2 * workers:  # a second job waits beside each running one
            i = queue.pop(0)
            pending[remote.remote(*jobs[i])] = i
        ready, _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(ready[0])
        try:
            results[i] = ray.get(ready[0])
        except ray.exceptions.WorkerCrashedError as exc:
            raise JobsLostError(f"job {i} {jobs[i]}: its worker died {MAX_TRIES} times") from exc
        on_result(i, results[i])
    return [results[i] for i in range(len(jobs))]
