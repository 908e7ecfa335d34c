"""The evaluation protocol's choosers (depth, world, rng) -> GraspCommand: a planner's best grasp
or a baseline's (used by pa-grasp-eval, its workers and the report)."""

from __future__ import annotations

import sys

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_policy.planner.planner import GraspPlanner, PlanningError
from pa_grasp_sim.baselines import heuristic_grasp, random_grasp
from pa_grasp_sim.protocol import Choice, NoChoiceError


class PlannerChooser:
    """The protocol's chooser (depth, world, rng) -> GraspCommand: the planner's best grasp. A plan
    that fails (a twin worker died; the planner starts a new one) is made again once; if that fails
    too, the attempt fails (NoChoiceError) and the run goes on. `log(text)` hears of each.
    `choice(depth, world, rng)` gives the grasp with its zoom steps (the protocol records them)."""

    def __init__(self, planner: GraspPlanner, log=None):
        self.planner = planner
        self.log = log or (lambda text: print(f"pa-grasp-eval: {text}", file=sys.stderr, flush=True))

    def choice(self, depth, world, rng) -> Choice:
        camera = world.camera
        for last in (False, True):
            try:
                best = self.planner.plan(depth, camera.intrinsics, camera.T_world_camera).best
            except PlanningError as exc:
                self.log(f"planning failed: {exc}; " + ("the attempt fails" if last else "planning again"))
            else:
                return Choice(best.command(), best.zoom_steps)
        raise NoChoiceError("planning failed twice")

    def __call__(self, depth, world, rng) -> GraspCommand:
        return self.choice(depth, world, rng).command


def planner_chooser(planner: GraspPlanner, log=None) -> PlannerChooser:
    """The planner's chooser (PlannerChooser)."""
    return PlannerChooser(planner, log)


def baseline_chooser(name: str):
    if name == "random":
        return lambda depth, world, rng: random_grasp(depth, rng)
    return lambda depth, world, rng: heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)
