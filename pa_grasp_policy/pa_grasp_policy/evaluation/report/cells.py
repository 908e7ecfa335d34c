"""One independent unit of the report's work (a Table I cell or a clutter-clearing series),
runnable in a worker process: every task builds its own chooser and its own world."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from pa_grasp_policy.evaluation.report.rows import RowSpec

Progress = Callable[[int, int, float], None]


@dataclass
class Task:
    """kind "eval": a Table I cell (scene single/cluttered on an object set); kind "clutter":
    ``rounds`` clutter-clearing rounds of ``n_objects`` objects, dropped as ``layout``
    (pa_grasp_sim.scene.LAYOUTS: "scattered" or a VGN-style "pile")."""

    id: int
    kind: str
    row: RowSpec
    objects: str  # object set: "seen", "novel" or a directory
    objects_label: str  # "seen" / "novel"
    seeds: int
    scene: str = "single"
    attempts: int = 0
    max_objects: int = 30
    n_objects: int = 10
    rounds: int = 0
    step_factor: float = 2.0
    max_consecutive_failures: int = 2
    layout: str = "scattered"

    @property
    def label(self) -> str:
        if self.kind == "eval":
            return f"{self.row.key} | {self.scene} {self.objects_label}"
        layout = "" if self.layout == "scattered" else f" {self.layout}"
        return f"{self.row.key} | clear {self.n_objects} {self.objects_label}{layout}"

    @property
    def total(self) -> int:
        return self.attempts if self.kind == "eval" else self.rounds

    @property
    def cost(self) -> float:
        """Rough relative cost, to start the long tasks first."""
        if self.kind == "eval":
            return self.attempts * (0.2 if self.scene == "single" else 0.5 + 0.1 * (2 + self.max_objects) / 2)
        return self.rounds * (0.1 * self.n_objects + 0.6 * self.n_objects)


def make_chooser(row: RowSpec):
    """(choose, world_config) of a measured row, built in the calling process."""
    from pa_grasp_policy.evaluation.choosers import baseline_chooser, planner_chooser
    from pa_grasp_policy.evaluation.eval_cli import overridden_world
    from pa_grasp_policy.planner.loading import load_model
    from pa_grasp_policy.planner.planner import GraspPlanner
    from pa_grasp_sim.world import WorldConfig

    if row.kind == "baseline":
        return baseline_chooser(row.baseline), overridden_world(WorldConfig(), row.camera_angle, None)
    # The report measures the paper's method: the policy alone (the planner's default).
    model = load_model(row.checkpoint, row.test_constraint or "full")
    return planner_chooser(GraspPlanner(model)), overridden_world(model.world_config(), row.camera_angle, None)


def run_task(task: Task, progress: Progress | None = None) -> dict:
    """Run one task; the result dict carries the task description too."""
    from pa_grasp_policy.evaluation.report.clutter import run_clutter
    from pa_grasp_sim.protocol import EvalConfig, evaluate
    from pa_grasp_sim.world import GraspWorld

    start = time.perf_counter()
    if progress is not None:
        progress(0, task.total, float("nan"))
    choose, world_cfg = make_chooser(task.row)
    out = {"task": {k: v for k, v in asdict(task).items() if k != "row"}, "row": task.row.key}
    if task.kind == "eval":
        cfg = EvalConfig(
            scene=task.scene,
            objects=task.objects,
            attempts=task.attempts,
            seeds=task.seeds,
            max_objects=max(task.max_objects, 2),
            world=world_cfg,
        )
        out.update(evaluate(choose, cfg, progress).to_dict())
    elif task.kind == "clutter":
        world_cfg = replace(world_cfg, scene=replace(world_cfg.scene, layout=task.layout))
        with GraspWorld(world_cfg, task.objects, seed=0) as world:
            out.update(
                run_clutter(
                    world,
                    choose,
                    task.n_objects,
                    task.rounds,
                    task.seeds,
                    task.step_factor,
                    task.max_consecutive_failures,
                    progress,
                )
            )
    else:
        raise ValueError(f"unknown task kind {task.kind!r}")
    out["seconds"] = time.perf_counter() - start
    return out


# -- worker processes ------------------------------------------------------------------------
_queue = None


def worker_init(queue, threads: int = 1) -> None:
    """Pool initializer: one torch thread per worker (the workers share the cores), a queue
    for progress messages."""
    global _queue
    import torch

    torch.set_num_threads(threads)
    _queue = queue


def worker_run(task: Task) -> dict:
    """Run a task in a worker; progress goes to the queue as (task id, done, total, rate).
    Exceptions come back as {"error": ...} so one bad cell does not stop the report."""

    def progress(done, total, rate):
        if _queue is not None:
            _queue.put((task.id, done, total, rate))

    try:
        return run_task(task, progress)
    except Exception as exc:  # reported in the table, the report goes on
        import traceback

        return {
            "row": task.row.key,
            "task": {"id": task.id},
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
