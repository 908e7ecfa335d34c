"""GraspPlanner: one depth image in, the policy's grasps out, best first (core: no ROS).

The default is the paper's method and nothing else: Algorithm 1 (model/zoom.py) with the policy
on the image as it is, deterministic. Every other step is a test-time extra, NOT in the paper,
off unless `PlannerConfig` switches it on:

  views 4 | 8    the zoom loop also on the image turned by 1-3 quarter turns (8: and on its mirror
                 image's four), each grasp mapped back to the image (views.py); only while the
                 camera looks straight down, else the image as it is
  selector       ranks those grasps ("shipped": fitted for the shipped weights; or a
                 pa-grasp-selector file; selector.py)
  twin           tries each first on a physics twin built from the depth image and ranks by how
                 often it lifts there (pa_grasp_sim.twin; this is what imports pybullet)
  local_search   with the twin: where the chosen grasp lifts in at most 3 of its 5 twin
                 executions, tries its 13 small changes there and takes the best if it scores more
  search_budget_s  the most seconds one plan gives the twin (and local search): no batch of twin
                 executions starts after it; the grasps are then ranked by what the twin has seen
                 lift so far (ties, and grasps it never tried, in the selector's order) and the
                 local search is skipped. Overrun: at most one batch (< 1 s on this machine)

What each gains and costs per decision: docs/results.md. policy_node, pa-grasp-eval, the report
and the benchmark all plan through this class; none builds the chain itself.

Frames: `T_table_camera` is the camera's optical frame in a frame whose z = 0 plane is the table
top, z up (the simulator's world frame; on a robot, the base frame moved down to the table). Only
the twin uses the translation; the views use the rotation (does the camera look straight down?).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_perception.grasp_geometry import check_pose
from pa_grasp_policy.model.zoom import Box, ZoomConfig, ZoomResult, ZoomState
from pa_grasp_policy.planner.loading import LoadedModel, load_model, load_selector
from pa_grasp_policy.planner.proposal import final_grasp
from pa_grasp_policy.planner.views import TurnedRun, camera_looks_down, select_among_turns

if TYPE_CHECKING:
    from pa_grasp_sim.world import WorldConfig

VIEWS = (1, 4, 8)


class PlanningError(RuntimeError):
    """An extra failed while planning (e.g. a depth twin worker died; it is started again for the
    next plan). The message says what."""


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """The policy alone by default; each other field switches on a test-time extra (module doc)."""

    views: int = 1  # 1: the image as it is (the paper); 4: its quarter turns; 8: and its mirror image's
    selector: str = "shipped"  # with views 4 | 8: "shipped" or a pa-grasp-selector file
    twin: bool = False  # with views 4 | 8: rank their grasps on the depth twin first
    twin_workers: int = 0  # the twin's executions in this many worker processes (0: in this process)
    local_search: bool = False  # with the twin: small changes of an unsure grasp
    search_budget_s: float = 0.0  # with the twin: seconds per plan, then the best so far (0: no limit)

    def __post_init__(self):
        if self.views not in VIEWS:
            raise ValueError(f"views must be one of {VIEWS}, got {self.views}")
        if self.views > 1 and self.selector in ("", "none"):
            raise ValueError("views 4 and 8 need a selector to rank their grasps ('shipped' or a selector file)")
        if self.twin and self.views == 1:
            raise ValueError("the depth twin ranks the grasps of several views: it needs views 4 or 8")
        if self.local_search and not self.twin:
            raise ValueError("the local search tries changes of the chosen grasp in the depth twin: it needs the twin")
        if not (math.isfinite(self.search_budget_s) and self.search_budget_s >= 0):
            raise ValueError(f"search_budget_s must be >= 0 seconds (0: no limit), got {self.search_budget_s}")
        if self.twin_workers < 0:
            raise ValueError(f"twin_workers must be 0 (the twin in this process) or more, got {self.twin_workers}")

    @classmethod
    def all_extras(cls, twin_workers: int = 0) -> PlannerConfig:
        """Every extra on: what policy_node and pa-grasp-eval served by default until 2026-12-07."""
        return cls(views=8, selector="shipped", twin=True, twin_workers=twin_workers, local_search=True)

    def describe(self) -> str:
        """'policy alone' or the extras, e.g. '8 views + selector (shipped) + depth twin + local search'."""
        if self.views == 1:
            return "policy alone"
        parts = [f"{self.views} views", f"selector ({self.selector})"]
        parts += ["depth twin"] if self.twin else []
        parts += ["local search"] if self.local_search else []
        parts += [f"{self.search_budget_s:g} s search budget"] if self.twin and self.search_budget_s else []
        return " + ".join(parts)


@dataclasses.dataclass(frozen=True)
class PlannedGrasp:
    """A grasp in the depth image it was planned on: pixel (u, v), roll/pitch/yaw (rad, base frame,
    grasp_command's convention), hand joints (spread, fingers 1-3; rad), and the zoom boxes
    (x0, y0, w, h in pixel-edge coordinates, the first the start view, the last the grasp view)."""

    uv: tuple[float, float]
    rpy: np.ndarray
    hand_joints: np.ndarray
    boxes: list[Box]
    view: str = "image"  # which view's zoom loop made it: "image", "turn 1", "turn 0 mirrored", ...
    change: str = ""  # the local search's change, if it replaced the view's grasp

    @property
    def zoom_steps(self) -> int:
        return len(self.boxes) - 1

    def command(self) -> GraspCommand:
        roll, pitch, yaw = (float(x) for x in self.rpy)
        spread, f1, f2, f3 = (float(x) for x in self.hand_joints)
        return GraspCommand(float(self.uv[0]), float(self.uv[1]), roll, pitch, yaw, spread, (f1, f2, f3))

    @classmethod
    def from_result(cls, result: ZoomResult, view: str = "image") -> PlannedGrasp:
        return cls(
            (float(result.grasp_uv[0]), float(result.grasp_uv[1])),
            np.asarray(result.grasp_rpy, dtype=np.float64),
            np.asarray(result.hand_joints, dtype=np.float64),
            list(result.boxes),
            view,
        )


def _view_name(run: TurnedRun) -> str:
    return f"turn {run.turns}" + (" mirrored" if run.mirrored else "")


class Plan:
    """One image's grasps, best first. `take()` hands out the next; the later ones are ranked only
    when taken (the depth twin tries a grasp only when it is wanted). `summary` says how they were
    ranked, for logs."""

    def __init__(self, best: PlannedGrasp, later: Iterable[PlannedGrasp] = (), count: int = 1, summary: str = ""):
        self.best = best
        self.summary = summary
        self._later = iter(later)
        self._count = count
        self._taken = 0

    def __len__(self) -> int:
        """Grasps not taken yet."""
        return self._count - self._taken

    def take(self) -> PlannedGrasp:
        if not len(self):
            raise IndexError("every grasp of this plan was taken")
        grasp = self.best if self._taken == 0 else next(self._later)
        self._taken += 1
        return grasp


@dataclasses.dataclass(frozen=True)
class Candidates:
    """Scored grasps, best first, none executed (detect_grasps). `score_kind`: "policy_log_prob"
    (the policy alone: the log-probability the policy gives each zoom loop's actions, how typical
    the grasp is for it, not a chance of success) or "selector" (the views' selector scores)."""

    grasps: list[PlannedGrasp]
    scores: list[float]
    score_kind: str


@dataclasses.dataclass
class PlanHooks:
    """Callbacks while a plan is made (a ROS node's feedback, debug image and cancel checks). Any of
    them may raise to stop planning; the exception reaches plan()'s caller."""

    before_zoom_step: Callable[[ZoomState], None] | None = None  # the image as it is: before each step
    after_zoom_step: Callable[[ZoomState], None] | None = None  # ... and after it
    stage: Callable[[str], None] | None = None  # several views: a stage begins (its description)
    before_twin_batch: Callable[[], None] | None = None  # before every batch of twin executions


_NO_HOOKS = PlanHooks()


class GraspPlanner:
    """The policy of `model`, with the extras of `config`. `world_config`: the simulated world the
    twin builds on (default: the one the model was trained in); only the twin uses it. Owns the
    twin's worker processes, if any: close() it (or use it as a context manager)."""

    def __init__(
        self, model: LoadedModel, config: PlannerConfig | None = None, world_config: WorldConfig | None = None
    ):
        self.model = model
        self.config = config or PlannerConfig()
        self.notes: list[str] = []  # why an extra asked for is not used, for logs
        view_angle = world_config.camera.view_angle_deg if world_config is not None else 90.0
        self.selector = load_selector(self.config.selector, model, view_angle) if self.config.views > 1 else None
        if self.config.views > 1 and self.selector is None:
            self.notes.append(
                f"selector '{self.config.selector}' has none fitted for this model and view: the policy alone"
            )
        self.twin = None
        self._local_search = None
        self._twin_errors: tuple[type[Exception], ...] = ()
        if self.selector is not None and self.config.twin:
            from pa_grasp_sim.twin.local_search import LocalSearchConfig
            from pa_grasp_sim.twin.workers import TwinWorkerError, make_twin

            self.twin = make_twin(self.config.twin_workers, world_config or model.world_config())
            self._local_search = LocalSearchConfig() if self.config.local_search else None
            self._twin_errors = (TwinWorkerError,)

    @classmethod
    def load(
        cls,
        checkpoint: str | Path | None = None,
        config: PlannerConfig | None = None,
        test_ablation: str = "full",
        world_config: WorldConfig | None = None,
    ) -> GraspPlanner:
        """A planner for the checkpoint (the shipped model when None)."""
        return cls(load_model(checkpoint, test_ablation), config, world_config)

    @property
    def active(self) -> PlannerConfig:
        """The extras actually in use (the policy alone where a selector could not be had)."""
        return self.config if self.selector is not None else PlannerConfig()

    def zoom_config(self, image_shape: tuple[int, ...], max_zoom_steps: int | None = None) -> ZoomConfig:
        """The model's zoom loop for an image of `image_shape`: its smallest box keeps its share of
        the view (ZoomConfig.for_image); `max_zoom_steps` overrides the model's budget."""
        config = self.model.zoom_config.for_image(image_shape, self.model.trained_camera_px)
        return dataclasses.replace(config, max_zoom_steps=max_zoom_steps) if max_zoom_steps else config

    def plan(
        self,
        depth: np.ndarray,
        intrinsics,
        T_table_camera: np.ndarray,
        *,
        start_box: Box | None = None,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
        max_zoom_steps: int | None = None,
        hooks: PlanHooks | None = None,
    ) -> Plan:
        """The grasps for `depth` (HxW metres, NaN where invalid; `intrinsics` of that image),
        best first. `start_box`: a region of interest to start the zoom from. ValueError, before
        any work, for a start box outside the image, intrinsics no camera could have
        (CameraIntrinsics.check_plausible) or of another image size, or a T_table_camera that is
        no rigid transform: a grasp planned on garbage geometry must never reach a robot. A
        sampled plan (`deterministic` False, drawing from `generator`) is the policy alone: the
        extras rank the deterministic grasps of several views."""
        depth, T_table_camera, zoom_config, state = self._checked(
            depth, intrinsics, T_table_camera, start_box, max_zoom_steps
        )
        hooks = hooks or _NO_HOOKS
        if deterministic and self.selector is not None and camera_looks_down(T_table_camera):
            budget = self.config.search_budget_s
            deadline = time.monotonic() + budget if budget > 0 else None
            try:
                return self._plan_views(depth, intrinsics, T_table_camera, zoom_config, start_box, hooks, deadline)
            except self._twin_errors as exc:
                raise PlanningError(str(exc)) from exc
        return self._plan_alone(state, deterministic, generator, hooks)

    def _checked(self, depth, intrinsics, T_table_camera, start_box, max_zoom_steps):
        """(depth as float32, T_table_camera, the zoom config, a first ZoomState) or ValueError."""
        depth = np.asarray(depth, dtype=np.float32)
        intrinsics.check_plausible()
        if depth.shape[:2] != (intrinsics.height, intrinsics.width):
            raise ValueError(f"the depth image is {depth.shape}, its intrinsics {intrinsics.width}x{intrinsics.height}")
        T_table_camera = check_pose(T_table_camera, "T_table_camera")
        zoom_config = self.zoom_config(depth.shape, max_zoom_steps)
        return depth, T_table_camera, zoom_config, ZoomState(depth, zoom_config, start_box)

    def candidates(
        self,
        depth: np.ndarray,
        intrinsics,
        T_table_camera: np.ndarray,
        count: int,
        *,
        start_box: Box | None = None,
        generator: torch.Generator | None = None,
        max_zoom_steps: int | None = None,
    ) -> Candidates:
        """Up to `count` scored grasps for `depth`, best first (the same checks as plan()). With
        several views and a selector (camera looking down): the views' grasps by the selector's
        score (the twin is not asked: candidates are for the caller to judge). Else the policy
        alone: its deterministic grasp and `count - 1` zoom loops sampled from `generator`,
        ranked by the log-probability of their actions."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        depth, T_table_camera, zoom_config, _ = self._checked(
            depth, intrinsics, T_table_camera, start_box, max_zoom_steps
        )
        if self.selector is not None and camera_looks_down(T_table_camera):
            ranked = self._ranked_views(depth, zoom_config, start_box)
            order = ranked.by_selector[:count]
            grasps = [PlannedGrasp.from_result(ranked.runs[i].result, _view_name(ranked.runs[i])) for i in order]
            return Candidates(grasps, [float(ranked.selector_scores[i]) for i in order], "selector")
        scored = []
        for k in range(count):
            state = ZoomState(depth, zoom_config, start_box)
            act = self.model.policy.actor(deterministic=k == 0, generator=generator)
            log_prob = 0.0
            while not state.done:
                action, info = act(state.observation())
                state.apply(action)
                log_prob += info["log_prob"]
            uv, rpy, hand_joints = final_grasp(state)
            scored.append(
                (
                    log_prob,
                    k,
                    PlannedGrasp(uv, rpy, hand_joints, list(state.boxes), "image" if k == 0 else f"sample {k}"),
                )
            )
        scored.sort(key=lambda item: (-item[0], item[1]))
        return Candidates([g for _, _, g in scored], [s for s, _, _ in scored], "policy_log_prob")

    def _plan_alone(self, state: ZoomState, deterministic, generator, hooks: PlanHooks) -> Plan:
        """Algorithm 1 on the image as it is, one step at a time."""
        act = self.model.policy.actor(deterministic=deterministic, generator=generator)
        while not state.done:
            if hooks.before_zoom_step:
                hooks.before_zoom_step(state)
            action, _ = act(state.observation())
            state.apply(action)
            if hooks.after_zoom_step:
                hooks.after_zoom_step(state)
        uv, rpy, hand_joints = final_grasp(state)
        grasp = PlannedGrasp(uv, rpy, hand_joints, list(state.boxes))
        return Plan(grasp, summary=f"the policy alone ({grasp.zoom_steps} zoom steps)")

    def _plan_views(
        self, depth, intrinsics, T_table_camera, zoom_config, start_box, hooks: PlanHooks, deadline
    ) -> Plan:
        """The extras: the views' grasps ranked by the selector (and the twin first), the best
        perhaps replaced by a small change the twin prefers."""
        mirrored = self.config.views == 8
        stage = hooks.stage or (lambda text: None)
        stage(
            "zoom loops on the image turned by 0-3 quarter turns" + (" and on its mirror image's" if mirrored else "")
        )
        twin_ranking = None
        if self.twin is not None:

            def twin_ranking(runs: list[TurnedRun]):
                stage(f"trying the {len(runs)} grasps on the depth twin")
                commands = [PlannedGrasp.from_result(r.result).command() for r in runs]
                return self.twin.ranking(depth, intrinsics, T_table_camera, commands, hooks.before_twin_batch, deadline)

        ranked = self._ranked_views(depth, zoom_config, start_box, twin_ranking)
        best = PlannedGrasp.from_result(ranked.best.result, _view_name(ranked.best))
        summary = f"grasp of the {best.view} view ({ranked.describe()}"
        twin = ranked.twin_ranking
        if twin is not None:
            summary += f"; {twin.executions} twin executions"
            summary += f"; the {self.config.search_budget_s:g} s search budget ran out)" if twin.out_of_time else ")"
        else:
            summary += ")"
        if self._local_search is not None and not (twin is not None and twin.out_of_time):
            best, note = self._search_near(
                best, ranked.twin_score(ranked.best), depth, intrinsics, T_table_camera, hooks, deadline
            )
            summary += note
        later = (PlannedGrasp.from_result(run.result, _view_name(run)) for run in itertools.islice(ranked, 1, None))
        return Plan(best, later, len(ranked), summary)

    def _ranked_views(self, depth, zoom_config, start_box, twin_ranking=None):
        """The zoom loop on each view (4 or 8), ranked by the selector (and the twin, if given)."""
        return select_among_turns(
            depth,
            self.model.policy,
            zoom_config,
            self.selector,
            start_box,
            pixel_scale=min(depth.shape[:2]) / self.model.trained_camera_px,
            twin_ranking=twin_ranking,
            mirrored=self.config.views == 8,
        )

    def _search_near(self, grasp: PlannedGrasp, score, depth, intrinsics, T_table_camera, hooks: PlanHooks, deadline):
        from pa_grasp_sim.twin.local_search import search_near

        def twin_best(commands, floor):
            if hooks.stage:
                hooks.stage(f"trying the {len(commands)} small changes of the chosen grasp on the depth twin")
            return self.twin.best_above(
                depth, intrinsics, T_table_camera, commands, floor, hooks.before_twin_batch, deadline
            )

        height, width = depth.shape[:2]
        found = search_near(grasp.command(), score, twin_best, width, height, self._local_search)
        if not found.change:
            return grasp, ""
        c = found.command
        changed = dataclasses.replace(
            grasp,
            uv=(c.u, c.v),
            rpy=np.array([c.roll, c.pitch, c.yaw]),
            hand_joints=np.array([c.spread, *c.fingers]),
            change=found.change,
        )
        return changed, f"; local search: {found.change} scores {found.score:.1f} in the depth twin"

    def close(self) -> None:
        if self.twin is not None:
            self.twin.close()
            self.twin = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
