"""GraspPlanner: the policy alone is Algorithm 1; each extra does what it says whatever the scene
(the selector's argmax, the twin's full-score ranking, the local search's best change); bad
configurations are refused; degenerate images and odd meshes never raise."""

import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_policy.evaluation.choosers import planner_chooser
from pa_grasp_policy.model.checkpoint import save_checkpoint
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.model.zoom import run_zoom_loop
from pa_grasp_policy.planner.loading import DEFAULT_MODEL, load_model
from pa_grasp_policy.planner.object_geometry import GEOMETRY_NAMES
from pa_grasp_policy.planner.planner import GraspPlanner, PlanHooks, PlannedGrasp, PlannerConfig
from pa_grasp_policy.planner.selector import GraspSelector, weights_sha256
from pa_grasp_policy.planner.views import run_turned, select_among_turns

INTRINSICS = CameraIntrinsics(96, 80, 90.0, 90.0, 47.5, 39.5)
T_TABLE_CAMERA = np.array([[0, -1, 0, 0.0], [-1, 0, 0, 0.0], [0, 0, -1, 0.75], [0, 0, 0, 1.0]])  # looking down


def box_depth() -> np.ndarray:
    depth = np.full((80, 96), 0.75, dtype=np.float32)
    depth[34:41, 50:57] = 0.68
    return depth


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return load_model(save_checkpoint(tmp_path / "untrained.pt", Policy(NetworkConfig(input_size=32))))


def selector_file(model, tmp_path, seed: int | None = 0, geometry: bool = False) -> str:
    """A linear selector for `model`: random weights (`seed`) or flat (None: all views tie)."""
    zoom = model.zoom_config.for_image(box_depth().shape, model.trained_camera_px)
    n = len(run_turned(box_depth(), model.policy, zoom, 0).features) + (len(GEOMETRY_NAMES) if geometry else 0)
    weights = np.zeros(n) if seed is None else np.random.default_rng(seed).normal(size=n)
    inputs = "features+geometry" if geometry else "features"
    selector = GraspSelector.linear(np.zeros(n), np.ones(n), weights, 0.0, weights_sha256(model.policy), inputs=inputs)
    return str(selector.save(tmp_path / f"selector_{seed}_{geometry}.json"))


def test_the_default_is_algorithm_1_alone_and_imports_no_simulator(model):
    planner = GraspPlanner(model)
    assert planner.config == PlannerConfig() and planner.active.describe() == "policy alone"
    assert planner.twin is None and planner.selector is None
    steps = []
    plan = planner.plan(box_depth(), INTRINSICS, T_TABLE_CAMERA, hooks=PlanHooks(before_zoom_step=steps.append))
    zoom = model.zoom_config.for_image(box_depth().shape, model.trained_camera_px)
    expected = run_zoom_loop(box_depth(), model.policy.actor(deterministic=True), zoom)
    assert len(plan) == 1 and plan.take().uv == pytest.approx(expected.grasp_uv)
    np.testing.assert_allclose(plan.best.rpy, expected.grasp_rpy)
    np.testing.assert_allclose(plan.best.hand_joints, expected.hand_joints)
    assert plan.best.boxes == expected.boxes and len(steps) == len(expected.steps)
    with pytest.raises(IndexError):
        plan.take()


@pytest.mark.parametrize("views", [4, 8])
def test_views_are_ranked_by_the_selectors_scores(model, tmp_path, views):
    path = selector_file(model, tmp_path, seed=1)
    planner = GraspPlanner(model, PlannerConfig(views=views, selector=path))
    plan = planner.plan(box_depth(), INTRINSICS, T_TABLE_CAMERA)
    zoom = model.zoom_config.for_image(box_depth().shape, model.trained_camera_px)
    ranked = select_among_turns(box_depth(), model.policy, zoom, planner.selector, mirrored=views == 8)
    order = np.lexsort((np.arange(views), -ranked.selector_scores))  # best score first, ties: earlier view
    names = [f"turn {r.turns}" + (" mirrored" if r.mirrored else "") for r in ranked.runs]
    assert [plan.take().view for _ in range(len(plan))] == [names[i] for i in order]


def test_a_camera_that_does_not_look_down_or_a_sampled_plan_gets_the_policy_alone(model, tmp_path):
    planner = GraspPlanner(model, PlannerConfig(views=4, selector=selector_file(model, tmp_path)))
    tilted = T_TABLE_CAMERA.copy()
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    tilted[:3, :3] = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ T_TABLE_CAMERA[:3, :3]
    assert len(planner.plan(box_depth(), INTRINSICS, tilted)) == 1
    sampled = planner.plan(box_depth(), INTRINSICS, T_TABLE_CAMERA, deterministic=False, generator=torch.Generator())
    assert len(sampled) == 1 and sampled.best.view == "image"


def test_the_twin_ranks_as_its_full_scores_would_and_the_selector_breaks_ties(model, tmp_path):
    """Whatever the scores: the twin's lazy ranking is the order of all four full twin scores,
    the selector's order among equal scores, with no more executions than the full scores."""
    from pa_grasp_sim.twin.depth_twin import DepthTwin

    config = PlannerConfig(views=4, selector=selector_file(model, tmp_path, seed=2), twin=True)
    with GraspPlanner(model, config) as planner:
        plan = planner.plan(box_depth(), INTRINSICS, T_TABLE_CAMERA)
        grasps = [plan.take() for _ in range(len(plan))]
        executions = planner.twin.executions_run
    zoom = model.zoom_config.for_image(box_depth().shape, model.trained_camera_px)
    ranked = select_among_turns(box_depth(), model.policy, zoom, planner.selector)
    commands = [PlannedGrasp.from_result(run.result).command() for run in ranked.runs]
    with DepthTwin(world_config=model.world_config()) as twin:
        full = twin.scores(box_depth(), INTRINSICS, T_TABLE_CAMERA, commands)
    expected = sorted(range(4), key=lambda k: (-full[k], -ranked.selector_scores[k], k))
    assert [g.view for g in grasps] == [f"turn {k}" for k in expected]
    assert executions <= 4 * 5


def test_the_local_search_sends_the_best_change_the_twin_finds_for_an_unsure_grasp(model, tmp_path):
    """The best grasp's twin score decides: below 0.8 the best small change by full scores (if it
    scores more) replaces it; otherwise the grasp is kept. Either way as search_near says."""
    from pa_grasp_sim.twin.depth_twin import DepthTwin
    from pa_grasp_sim.twin.local_search import LocalSearchConfig, best_from_scores, search_near

    depth = np.full((80, 96), 0.75, dtype=np.float32)
    depth[34:41, 44:62] = 0.735  # a 1.5 cm bar
    config = PlannerConfig(views=4, selector=selector_file(model, tmp_path, seed=None), twin=True, local_search=True)
    with GraspPlanner(model, config) as planner:
        best = planner.plan(depth, INTRINSICS, T_TABLE_CAMERA).best
    without = GraspPlanner(model, PlannerConfig(views=4, selector=config.selector, twin=True))
    with without:
        chosen = without.plan(depth, INTRINSICS, T_TABLE_CAMERA).best
    with DepthTwin(world_config=model.world_config()) as twin:
        score = twin.scores(depth, INTRINSICS, T_TABLE_CAMERA, [chosen.command()])[0]

        def twin_best(commands, floor):
            return best_from_scores(twin.scores(depth, INTRINSICS, T_TABLE_CAMERA, commands), floor)

        found = search_near(chosen.command(), score, twin_best, 96, 80, LocalSearchConfig())
    assert best.command() == found.command and best.change == found.change
    assert best.view == chosen.view


def test_a_spent_search_budget_sends_the_selectors_order_without_the_local_search(model, tmp_path):
    """A budget spent before the twin's first batch: nothing is tried, the grasps come in the
    selector's order (as without the twin), the local search is skipped, and the summary says why."""
    path = selector_file(model, tmp_path, seed=1)
    spent = PlannerConfig(views=4, selector=path, twin=True, local_search=True, search_budget_s=1e-9)
    with GraspPlanner(model, spent) as planner:
        plan = planner.plan(box_depth(), INTRINSICS, T_TABLE_CAMERA)
        grasps = [plan.take() for _ in range(len(plan))]
        assert planner.twin.executions_run == 0
    assert "search budget ran out" in plan.summary and all(not g.change for g in grasps)
    without_twin = GraspPlanner(model, PlannerConfig(views=4, selector=path)).plan(
        box_depth(), INTRINSICS, T_TABLE_CAMERA
    )
    assert [g.view for g in grasps] == [without_twin.take().view for _ in range(len(without_twin))]


def test_configurations_that_make_no_sense_are_refused():
    for bad, message in (
        (dict(views=3), "views must be one of"),
        (dict(views=4, selector="none"), "need a selector"),
        (dict(twin=True), "needs views 4 or 8"),
        (dict(views=4, local_search=True), "needs the twin"),
        (dict(views=4, twin=True, twin_workers=-1), "twin_workers must be 0"),
        (dict(search_budget_s=-1.0), "search_budget_s must be >= 0"),
        (dict(search_budget_s=math.nan), "search_budget_s must be >= 0"),
    ):
        with pytest.raises(ValueError, match=message):
            PlannerConfig(**bad)
    assert PlannerConfig.all_extras().describe() == "8 views + selector (shipped) + depth twin + local search"


def test_a_start_box_or_geometry_no_camera_could_have_is_refused_before_any_work(model):
    planner = GraspPlanner(model)
    with pytest.raises(ValueError, match="start box"):
        planner.plan(box_depth(), INTRINSICS, T_TABLE_CAMERA, start_box=(90, 0, 40, 40))
    for intrinsics, named in (
        (CameraIntrinsics(96, 80, 1e300, 1e300, 47.5, 39.5), "field of view"),
        (CameraIntrinsics(96, 80, 1e-300, 1e-300, 47.5, 39.5), "field of view"),
        (CameraIntrinsics(96, 80, 90.0, 90.0, 200.0, 39.5), "cx=200 px is outside"),
        (CameraIntrinsics(64, 80, 90.0, 90.0, 31.5, 39.5), "intrinsics 64x80"),
    ):
        with pytest.raises(ValueError, match=named):
            planner.plan(box_depth(), intrinsics, T_TABLE_CAMERA)
    with pytest.raises(ValueError, match="finite"):
        CameraIntrinsics(96, 80, math.inf, 90.0, 47.5, 39.5)
    not_rigid = T_TABLE_CAMERA * 2.0
    with pytest.raises(ValueError, match="T_table_camera"):
        planner.plan(box_depth(), INTRINSICS, not_rigid)


def degenerate_images():
    """No depth at all, an empty table, one pixel above it, a sliver, a hole-riddled object."""
    table = np.full((80, 96), 0.75, dtype=np.float32)
    speck, sliver, holes = table.copy(), table.copy(), box_depth()
    speck[40, 48] = 0.70
    sliver[40, 10:90] = 0.745
    holes[::2, ::3] = np.nan
    return [np.full((80, 96), np.nan, np.float32), table, speck, sliver, holes]


def test_degenerate_images_give_a_grasp_with_every_extra_on(model, tmp_path):
    """Every extra (4 views; 8 run the same code twice), the selector reading the object
    measurements: no exception, finite grasps."""
    config = PlannerConfig(
        views=4, selector=selector_file(model, tmp_path, geometry=True), twin=True, local_search=True
    )
    with GraspPlanner(model, config) as planner:
        for depth in degenerate_images():
            plan = planner.plan(depth, INTRINSICS, T_TABLE_CAMERA)
            command = plan.best.command()
            assert np.all(np.isfinite([command.u, command.v, command.yaw, command.spread, *command.fingers]))
            assert len(plan) == 4


def write_obj(path: Path, boxes) -> None:
    """An .obj of axis-aligned boxes (x0, y0, z0, x1, y1, z1): one mesh, non-convex if they are."""
    lines, faces = [], []
    for n, (x0, y0, z0, x1, y1, z1) in enumerate(boxes):
        corners = [(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]
        lines += [f"v {x} {y} {z}" for x, y, z in corners]
        o = 8 * n + 1
        for a, b, c, d in ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)):
            faces += [f"f {o + a} {o + b} {o + c}", f"f {o + a} {o + c} {o + d}"]
    path.write_text("\n".join(lines + faces) + "\n")


def odd_meshes(folder: Path) -> Path:
    folder.mkdir()
    write_obj(folder / "thin_plate.obj", [(0, 0, 0, 0.2, 0.2, 0.002)])
    write_obj(folder / "l_shape.obj", [(0, 0, 0, 0.1, 0.02, 0.03), (0, 0, 0, 0.02, 0.1, 0.03)])
    write_obj(
        folder / "u_shape.obj", [(0, 0, 0, 0.1, 0.02, 0.04), (0, 0, 0, 0.02, 0.1, 0.04), (0.08, 0, 0, 0.1, 0.1, 0.04)]
    )
    write_obj(folder / "tiny.obj", [(0, 0, 0, 0.001, 0.001, 0.001)])
    write_obj(folder / "huge.obj", [(0, 0, 0, 50.0, 3.0, 1.0)])
    write_obj(folder / "needle.obj", [(0, 0, 0, 0.3, 0.002, 0.002)])
    return folder


@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason=f"no shipped model at {DEFAULT_MODEL}")
def test_every_extra_on_odd_meshes_runs_without_an_exception(tmp_path):
    """The shipped model with every extra (its selector reads the object measurements, which once
    raised 'math domain error' on plain meshes) over single scenes of generated odd meshes."""
    from pa_grasp_policy.evaluation.choosers import planner_chooser
    from pa_grasp_sim.protocol import EvalConfig, evaluate

    with GraspPlanner.load(None, PlannerConfig.all_extras()) as planner:
        assert planner.active == PlannerConfig.all_extras(), planner.notes
        config = EvalConfig(
            "single", str(odd_meshes(tmp_path / "meshes")), 6, 1, 4300, world=planner.model.world_config()
        )
        result = evaluate(planner_chooser(planner), config)
    assert result.attempts == 6 and 0.0 <= result.success_rate <= 1.0


def test_the_evaluations_chooser_plans_again_when_a_twin_worker_dies(model, tmp_path):
    """pa-grasp-eval survives a lost twin worker: the worker is killed while it holds the plan's
    first batch, the plan fails, the chooser logs it and plans again on a new worker."""
    from pa_grasp_sim.objects import ObjectSet, ObjectSpec
    from pa_grasp_sim.world import GraspWorld

    box = ObjectSpec("box", "primitive", mass=0.2, parts=(("box", (0.03, 0.025, 0.04), (0, 0, 0), (0, 0, 0, 1)),))
    config = PlannerConfig(views=4, selector=selector_file(model, tmp_path, seed=1), twin=True, twin_workers=1)
    logs, chosen = [], []
    with GraspPlanner(model, config) as planner, GraspWorld(model.world_config(), ObjectSet("one", [box])) as world:
        world.reset(1, seed=0)
        depth = world.render_depth()
        choose = planner_chooser(planner, logs.append)
        worker = planner.twin._workers[0]
        os.kill(worker.pid, signal.SIGSTOP)  # it cannot answer the batch it is sent
        thread = threading.Thread(target=lambda: chosen.append(choose(depth, world, None)))
        thread.start()
        deadline = time.monotonic() + 60
        while worker.images == 0:  # the batch was sent to it
            assert time.monotonic() < deadline and thread.is_alive(), "the plan never reached the twin"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert worker.pid not in planner.twin.pids(), "a new worker"
    assert len(chosen) == 1 and len(logs) == 1, logs
    assert "planning failed" in logs[0] and "planning again" in logs[0]
