"""Choosing among the grasps on quarter-turned images: the geometry of turning back, the
selector (fit, scores, file, refusals), the choice, and pa-grasp-eval / pa-grasp-selector."""

import json
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from pa_grasp_perception.grasp_command import GraspCommand, command_palm_pose
from pa_grasp_policy.evaluation.eval_cli import main as eval_main
from pa_grasp_policy.model.checkpoint import save_checkpoint
from pa_grasp_policy.model.distribution import Action
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.model.zoom import ZoomConfig, run_zoom_loop
from pa_grasp_policy.planner.object_geometry import GEOMETRY_NAMES
from pa_grasp_policy.planner.selector import (
    GraspSelector,
    MlpFitConfig,
    SelectorError,
    fit_mlp_selector,
    fit_selector,
    weights_sha256,
)
from pa_grasp_policy.planner.views import (
    camera_looks_down,
    mirror_box,
    mirror_grasp,
    mirror_uv,
    run_turned,
    select_among_turns,
    turn_box,
    turn_uv,
)
from pa_grasp_policy.training.selector_fit import main as selector_main
from pa_grasp_policy.training.selector_fit import target_fraction
from pa_grasp_sim.world import GraspWorld, WorldConfig

H, W = 80, 96


def test_turn_uv_and_turn_box_follow_numpy_rot90_on_a_non_square_image():
    image = np.zeros((H, W))
    image[17, 70] = 1.0  # (u, v) = (70, 17)
    box = (60.0, 10.0, 20.0, 12.0)  # x0, y0, w, h in pixel edges
    mask = np.zeros((H, W), bool)
    mask[10:22, 60:80] = True
    for k in range(4):
        turned = np.rot90(image, k)
        v, u = np.argwhere(turned == 1.0)[0]
        assert turn_uv((70, 17), k, H, W) == pytest.approx((u, v))
        rows, cols = np.nonzero(np.rot90(mask, k))
        x0, y0, w, h = turn_box(box, k, H, W)
        assert (x0, y0, w, h) == pytest.approx((cols.min(), rows.min(), cols.max() + 1 - x0, rows.max() + 1 - y0))
        th, tw = turned.shape  # and back again
        assert turn_uv(turn_uv((70, 17), k, H, W), -k, th, tw) == pytest.approx((70, 17))
        assert turn_box(turn_box(box, k, H, W), -k, th, tw) == pytest.approx(box)


def spot_scene() -> np.ndarray:
    depth = np.full((H, W), 0.75, dtype=np.float32)
    depth[60:66, 18:24] = 0.65  # an object 10 cm high, off centre
    return depth


def highest_point_actor(yaw_raw: float):
    """Grasps at once, at the highest point of its view (lowest depth), yaw = yaw_raw x π."""

    def act(obs):
        view = obs.depth[0]
        pixel = int(np.argmax(np.abs(view - np.median(view))))
        dofs = torch.tensor([[0.0, 0.5, yaw_raw, 0.0, 0.5, 0.5, 0.5]])
        action = Action(torch.tensor([pixel]), torch.tensor([0.0]), torch.tensor([1.0]), dofs, view.shape[-1])
        return action, {"column": np.zeros(2), "pooled": np.zeros(2), "lp_pos": 0.0}

    return act


def test_each_turn_maps_back_to_the_same_place_and_turns_the_yaw_back():
    depth, config = spot_scene(), ZoomConfig(input_size=32)
    for k in range(4):
        run = run_turned(depth, None, config, k, act=highest_point_actor(0.1))
        u, v = run.result.grasp_uv
        assert 18 - 3 <= u <= 23 + 3 and 60 - 3 <= v <= 65 + 3, (k, u, v)  # one view pixel is 3 px
        expected_yaw = (0.1 * math.pi - k * math.pi / 2 + math.pi) % (2 * math.pi) - math.pi
        assert run.result.grasp_rpy[2] == pytest.approx(expected_yaw, abs=1e-6)
        assert run.in_turned_image.grasp_rpy[2] == pytest.approx(0.1 * math.pi, abs=1e-6)  # as the net made it
        assert run.result.boxes[0] == pytest.approx((0.0, 0.0, W, H))


def small_policy(seed=0) -> Policy:
    torch.manual_seed(seed)
    return Policy(NetworkConfig(input_size=32)).eval()


def test_turn_zero_is_the_plain_zoom_loop_and_features_have_one_length():
    depth = np.random.default_rng(1).uniform(0.6, 0.8, (H, W)).astype(np.float32)
    policy, config = small_policy(), ZoomConfig(input_size=32)
    plain = run_zoom_loop(depth, policy.actor(deterministic=True), config)
    runs = [run_turned(depth, policy, config, k) for k in range(4)]
    assert runs[0].result.grasp_uv == pytest.approx(plain.grasp_uv)
    np.testing.assert_allclose(runs[0].result.grasp_rpy, plain.grasp_rpy, atol=1e-6)
    assert len({r.features.shape for r in runs}) == 1 and np.all(np.isfinite(runs[0].features))


def test_the_choice_follows_the_selector_scores_and_ties_keep_turn_zero():
    depth = np.random.default_rng(2).uniform(0.6, 0.8, (H, W)).astype(np.float32)
    policy, config = small_policy(), ZoomConfig(input_size=32)
    d = run_turned(depth, policy, config, 0).features.shape[0]
    sha = weights_sha256(policy)
    flat = GraspSelector.linear(np.zeros(d), np.ones(d), np.zeros(d), 0.0, sha)
    ranked = select_among_turns(depth, policy, config, flat)
    assert ranked.best.turns == 0 and np.all(ranked.selector_scores == 0.0)
    assert [r.turns for r in ranked] == [0, 1, 2, 3]
    weights = np.random.default_rng(3).normal(size=d)
    ranked = GraspSelector.linear(np.zeros(d), np.ones(d), weights, 0.0, sha)
    by_selector = select_among_turns(depth, policy, config, ranked)
    chosen, runs = by_selector.best, by_selector.runs
    assert chosen.turns == int(np.argmax([r.features @ weights for r in runs]))
    assert chosen.result.grasp_uv == runs[chosen.turns].result.grasp_uv
    assert [r.turns for r in by_selector] == list(np.argsort(-np.array([r.features @ weights for r in runs])))


def test_mirrored_views_come_after_the_turns_and_the_choice_follows_all_eight_scores():
    depth = np.random.default_rng(2).uniform(0.6, 0.8, (H, W)).astype(np.float32)
    policy, config = small_policy(), ZoomConfig(input_size=32)
    d = run_turned(depth, policy, config, 0).features.shape[0]
    weights = np.random.default_rng(4).normal(size=d)
    ranked = GraspSelector.linear(np.zeros(d), np.ones(d), weights, 0.0, weights_sha256(policy))
    eight = select_among_turns(depth, policy, config, ranked, mirrored=True)
    runs = eight.runs
    assert [(r.turns, r.mirrored) for r in runs] == [(k, f) for f in (False, True) for k in range(4)]
    assert eight.best is runs[int(np.argmax([r.features @ weights for r in runs]))]
    # The twin ranks first, the selector's order breaks its ties: views 5 and 2 score 0.8, the rest 0.2.
    twin = {(1, True): 0.8, (2, False): 0.8}
    by_twin = select_among_turns(
        depth,
        policy,
        config,
        ranked,
        twin_ranking=lambda given: KnownScores([twin.get((r.turns, r.mirrored), 0.2) for r in given]),
        mirrored=True,
    )
    order = [(r.turns, r.mirrored) for r in by_twin]
    selector_order = [(runs[i].turns, runs[i].mirrored) for i in by_twin.by_selector]
    assert by_twin.by_selector == list(np.argsort(-by_twin.selector_scores, kind="stable"))
    assert set(order[:2]) == set(twin) and order[:2] == [v for v in selector_order if v in twin]
    assert order[2:] == [v for v in selector_order if v not in twin]
    assert (by_twin.best.turns, by_twin.best.mirrored) == order[0]
    assert by_twin.twin_score(by_twin.best) == 0.8


class KnownScores:
    """A twin ranking (the interface of DepthTwin.ranking) over scores known in advance."""

    def __init__(self, scores):
        self.scores, self.ranked, self.executions = list(scores), [], 0

    def next_index(self):
        left = [i for i in range(len(self.scores)) if i not in self.ranked]
        best = max(left, key=lambda i: (self.scores[i], -i))
        self.ranked.append(best)
        return best

    def score(self, i):
        return self.scores[i]

    def best_possible(self, i):
        return self.scores[i]


def test_fit_learns_which_grasps_lift_and_the_file_round_trips(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 5))
    lifted = x[:, 2] + 0.3 * rng.normal(size=400) > 0
    selector = fit_selector(x, lifted, "abc", provenance={"note": "synthetic"})
    weights = selector.layers[0][0][0]
    assert len(selector.layers) == 1 and np.argmax(np.abs(weights)) == 2 and weights[2] > 0
    assert np.mean((selector.scores(x) > 0) == lifted) > 0.85
    path = selector.save(tmp_path / "selector.json")
    assert path.stat().st_mode & 0o777 == 0o644 and not list(tmp_path.glob(".*.tmp"))
    again = GraspSelector.load(path)
    np.testing.assert_allclose(again.scores(x), selector.scores(x))
    assert again.provenance == {"note": "synthetic"}
    with pytest.raises(SelectorError, match="reads 5 inputs"):
        again.scores(x[:, :4])
    with pytest.raises(ValueError, match="all the same"):
        fit_selector(x, np.ones(400, bool), "abc")


def test_a_network_selector_learns_what_a_linear_one_cannot_and_round_trips(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 4))
    lifted = np.abs(x[:, 1]) < 0.7  # lifts in a band: no linear score ranks this
    linear = fit_selector(x, lifted, "abc")
    network = fit_mlp_selector(x, lifted, "abc", "features", MlpFitConfig(hidden=(16,), epochs=30), {"note": "x"})
    assert network.provenance == {"model": "mlp 16", "epochs": 30, "seed": 0, "note": "x"}
    accuracy = {name: np.mean((s.scores(x) > 0) == lifted) for name, s in (("linear", linear), ("mlp", network))}
    assert accuracy["mlp"] > 0.9 and accuracy["linear"] < 0.75, accuracy
    again = GraspSelector.load(network.save(tmp_path / "mlp.json"))
    assert [w.shape for w, _ in again.layers] == [(16, 4), (1, 16)] and again.inputs == "features"
    np.testing.assert_allclose(again.scores(x), network.scores(x), rtol=1e-6, atol=1e-6)
    same_seed = fit_mlp_selector(x, lifted, "abc", "features", MlpFitConfig(hidden=(16,), epochs=30))
    np.testing.assert_array_equal(same_seed.scores(x), network.scores(x))  # seeded: refits are identical


def test_a_format_1_selector_file_still_loads_as_the_logistic_regression_it_was(tmp_path):
    old = {"format": 1, "kind": "pa_grasp_turn_selector", "weights_sha256": "abc", "bias": 0.5}
    old |= {"mean": [1.0, 0.0], "std": [2.0, 1.0], "weights": [1.0, -1.0]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    selector = GraspSelector.load(tmp_path / "old.json")
    assert selector.inputs == "features" and not selector.reads_geometry
    assert selector.scores(np.array([[3.0, 2.0]]))[0] == pytest.approx((3 - 1) / 2 - 2 + 0.5)


def test_bad_selector_files_and_other_weights_are_refused(tmp_path):
    with pytest.raises(SelectorError, match="not found"):
        GraspSelector.load(tmp_path / "missing.json")
    (tmp_path / "cut.json").write_text('{"kind": "pa_grasp_turn_sel')
    with pytest.raises(SelectorError, match="truncated or corrupt"):
        GraspSelector.load(tmp_path / "cut.json")
    (tmp_path / "other.json").write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(SelectorError, match="not a pa_grasp turn selector"):
        GraspSelector.load(tmp_path / "other.json")
    good = GraspSelector.linear(np.zeros(3), np.ones(3), np.ones(3), 0.0, weights_sha256(small_policy(0)))
    bad = good.to_dict() | {"std": [1.0, 0.0, 1.0]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(SelectorError, match="std > 0"):
        GraspSelector.load(tmp_path / "bad.json")
    for broken, why in (
        ({"layers": [{"weight": [[1.0, 1.0]], "bias": [0.0]}]}, "layer 0 has weight"),
        ({"layers": [{"weight": [[1.0] * 3] * 2, "bias": [0.0, 0.0]}]}, "must give one score"),
        ({"inputs": "features+colour"}, "knows features"),
        ({"format": 7}, "selector format 7"),
        ({"layers": []}, "no layers"),
        ({"layers": [{"weight": [[1.0, float("nan"), 1.0]], "bias": [0.0]}]}, "non-finite"),
    ):
        (tmp_path / "broken.json").write_text(json.dumps(good.to_dict() | broken))
        with pytest.raises(SelectorError, match=why):
            GraspSelector.load(tmp_path / "broken.json")
    good.check_policy(small_policy(0))
    with pytest.raises(SelectorError, match="fitted for policy weights"):
        good.check_policy(small_policy(1))


def test_camera_looks_down():
    down = np.eye(4)
    down[:3, :3] = np.diag([1.0, -1.0, -1.0])  # optical z along -z of the base
    assert camera_looks_down(down)
    tilted = down.copy()
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    tilted[:3, :3] = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ down[:3, :3]
    assert not camera_looks_down(tilted)


def test_eval_and_selector_clis_refuse_bad_selectors_clearly(tmp_path, capsys):
    checkpoint = save_checkpoint(tmp_path / "tiny.pt", small_policy(0))
    other = GraspSelector.linear(np.zeros(3), np.ones(3), np.ones(3), 0.0, weights_sha256(small_policy(1)))
    other.save(tmp_path / "other.json")
    base = ["--checkpoint", str(checkpoint), "--attempts", "1", "--seeds", "1", "--quiet"]
    assert eval_main([*base, "--views", "4", "--selector", str(tmp_path / "other.json")]) == 2
    assert "fitted for policy weights" in capsys.readouterr().err
    assert eval_main([*base, "--views", "4", "--selector", str(tmp_path / "nothing.json")]) == 2
    assert "selector not found" in capsys.readouterr().err
    one = ["--attempts", "1", "--seeds", "1"]
    assert eval_main(["--baseline", "heuristic", "--views", "8", *one]) == 2
    assert "do not apply to a baseline" in capsys.readouterr().err
    assert eval_main([*base, "--selector", "shipped"]) == 2
    assert "--selector ranks the grasps of several views: add --views 4 or 8" in capsys.readouterr().err
    assert eval_main([*base, "--views", "4", "--twin-workers", "-1"]) == 2
    assert "twin_workers must be 0" in capsys.readouterr().err
    assert eval_main([*base, "--twin", "on"]) == 2
    assert "needs views 4 or 8" in capsys.readouterr().err
    assert eval_main([*base, "--views", "4", "--local-search", "on"]) == 2
    assert "the local search tries changes of the chosen grasp in the depth twin" in capsys.readouterr().err
    assert eval_main([*base, "--all-extras", "--views", "4"]) == 2
    assert "--all-extras sets --views" in capsys.readouterr().err
    mine = GraspSelector.linear(np.zeros(3), np.ones(3), np.ones(3), 0.0, weights_sha256(small_policy(0)))
    mine.save(tmp_path / "mine.json")
    with_mine = [*base, "--views", "4", "--selector", str(tmp_path / "mine.json")]
    assert eval_main([*with_mine, "--camera-angle", "60"]) == 2
    assert "looking straight down" in capsys.readouterr().err
    assert eval_main([*with_mine, "--test-ablation", "top_down"]) == 2
    assert "not with test ablation top_down" in capsys.readouterr().err
    # The default is the policy alone; the shipped selector does not fit other weights: the policy alone too.
    for extra in ([], ["--views", "8"]):
        assert eval_main([*base, *extra, "--json", str(tmp_path / "plain.json")]) == 0
        assert json.loads((tmp_path / "plain.json").read_text())["planner"]["views"] == 1
    np.savez(
        tmp_path / "a.npz", features=np.zeros((2, 4, 3)), lifted=np.ones((2, 4), bool), seed=[0, 1], weights_sha256="a"
    )
    np.savez(
        tmp_path / "b.npz", features=np.zeros((2, 4, 3)), lifted=np.ones((2, 4), bool), seed=[2, 3], weights_sha256="b"
    )
    assert (
        selector_main(["fit", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--out", str(tmp_path / "s.json")]) == 2
    )
    assert "different policy weights" in capsys.readouterr().err
    assert selector_main(["fit", str(tmp_path / "a.npz"), "--label", "robust", "--out", str(tmp_path / "s.json")]) == 2
    assert "collect it with --small-errors" in capsys.readouterr().err
    assert (
        selector_main(
            ["fit", str(tmp_path / "a.npz"), "--inputs", "features+geometry", "--out", str(tmp_path / "g.json")]
        )
        == 2
    )
    assert "add them with pa-grasp-selector measure" in capsys.readouterr().err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "a.npz").read_bytes()[:200])
    for name, reason in (
        ("junk.npz", "not a pa-grasp-selector collection (.npz archive): it starts with b'not a zip'"),
        ("array.npy", "is a single numpy array (.npy)"),
        ("empty.npz", "is empty (0 bytes)"),
        ("cut.npz", "is a truncated or corrupt collection"),
        ("missing.npz", "collection not found"),
    ):
        assert selector_main(["fit", str(tmp_path / name), "--out", str(tmp_path / "s.json")]) == 2
        assert reason in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_the_robust_target_is_the_fraction_of_five_executions_that_lift():
    lifted = np.array([[True, False]])
    with_errors = np.array([[[True, True, False, False], [True, True, True, True]]])
    assert np.allclose(target_fraction(lifted, with_errors), [[3 / 5, 4 / 5]])
    with pytest.raises(SelectorError, match="do not match"):
        target_fraction(lifted, with_errors[:, :1])


def test_score_counts_what_the_selectors_choice_lifted_in_a_held_out_collection(tmp_path, capsys):
    # Three scenes; feature 0 is highest on turn 2, so the selector (weight 1 on it) picks turn 2.
    features = np.zeros((3, 4, 3))
    features[:, 2, 0] = 1.0
    lifted = np.array([[True, False, True, False], [True, True, False, True], [False, False, True, False]])
    np.savez(tmp_path / "held_out.npz", features=features, lifted=lifted, seed=[5, 5, 6], weights_sha256="abc")
    GraspSelector.linear(np.zeros(3), np.ones(3), np.array([1.0, 0, 0]), 0.0, "abc").save(tmp_path / "s.json")
    out = tmp_path / "score.json"
    assert selector_main(["score", str(tmp_path / "s.json"), str(tmp_path / "held_out.npz"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["chosen_turn"] == [2, 2, 2] and report["chosen_lifted"] == [1, 0, 1]
    assert (report["chosen_lifts"], report["turn0_lifts"], report["any_turn_lifts"]) == (2, 2, 3)
    assert (report["gained_vs_turn0"], report["lost_vs_turn0"]) == (1, 1)
    assert report["mean_turn_lifts"] == pytest.approx(6 / 4)
    assert "the selector's choice lifts 2" in capsys.readouterr().out
    GraspSelector.linear(np.zeros(3), np.ones(3), np.ones(3), 0.0, "other").save(tmp_path / "other.json")
    assert selector_main(["score", str(tmp_path / "other.json"), str(tmp_path / "held_out.npz")]) == 2
    assert "fitted for policy weights" in capsys.readouterr().err


def test_collect_and_fit_on_real_scenes_then_evaluate_with_the_selector(tmp_path):
    """pa-grasp-selector collect executes four grasps of the shipped model per real PyBullet
    scene, each also with the four small errors; fit writes a selector for those weights, to the
    one outcome or to the fraction of five; pa-grasp-eval uses it."""
    data = tmp_path / "collect.npz"
    args = [
        "collect",
        "--small-errors",
        "--attempts",
        "8",
        "--seeds",
        "2",
        "--first-seed",
        "900",
        "--save-every",
        "3",
        "--out",
        str(data),
    ]
    assert selector_main(args) == 0
    with np.load(data) as collected:
        assert collected["features"].shape[:2] == (8, 4) and collected["lifted"].shape == (8, 4)
        assert collected["lifted_with_errors"].shape == (8, 4, 4)
        grasp = collected["grasp"]  # u, v, roll, pitch, yaw, spread, fingers, in the original image
        assert grasp.shape == (8, 4, 9) and np.all((grasp[..., :2] >= 0) & (grasp[..., :2] <= 159))
        assert np.all(np.abs(grasp[..., 4]) <= math.pi + 1e-6)
        # Each turn's grasp was found on another image, so the four are not all the same grasp.
        assert np.ptp(grasp[..., :2], axis=1).max() > 0
        assert bool(collected["complete"]) and list(collected["seed"]) == [900] * 4 + [901] * 4
        assert collected["geometry"].shape == (8, 4, len(GEOMETRY_NAMES))
        assert np.all(collected["geometry"][..., GEOMETRY_NAMES.index("h_max")] > 0.01)  # an object in every window
        lifted = collected["lifted"].copy()
        arrays = dict(collected)
    # measure adds the same measurements to a collection made without them, from the saved
    # grasps or (older collections) from the grasps computed again on the re-rendered scenes.
    for dropped in (("geometry",), ("geometry", "grasp")):
        older = tmp_path / f"older_{len(dropped)}.npz"
        np.savez(older, **{k: v for k, v in arrays.items() if k not in dropped})
        assert selector_main(["measure", str(older)]) == 0
        with np.load(older) as measured:
            np.testing.assert_allclose(measured["geometry"], arrays["geometry"], atol=1e-5)
            assert measured["lifted"].tolist() == arrays["lifted"].tolist()
    assert 0 < lifted.sum() < lifted.size  # these scenes have both outcomes (fit needs them)
    assert selector_main(["fit", str(data), "--l2", "1.0", "--label", "robust", "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["label"] == "robust"
    assert selector_main(["fit", str(data), "--l2", "1.0", "--out", str(tmp_path / "s.json")]) == 0
    mlp = ["fit", str(data), "--model", "mlp", "--inputs", "features+geometry", "--label", "robust"]
    assert selector_main([*mlp, "--out", str(tmp_path / "m.json")]) == 0
    assert GraspSelector.load(tmp_path / "m.json").reads_geometry
    out = tmp_path / "eval.json"
    base = ["--attempts", "2", "--seeds", "1", "--first-seed", "900", "--quiet", "--json", str(out)]
    extras = ["--views", "4", "--selector", str(tmp_path / "m.json"), "--twin", "on"]
    assert eval_main([*base, *extras]) == 0
    report = json.loads(out.read_text())
    assert report["attempts"] == 2 and report["planner"]["selector"] == str(tmp_path / "m.json")
    assert report["who"].endswith("pa_grasp.pt") and report["planner"]["views"] == 4
    assert report["planner"]["twin"] and report["planner"]["twin_workers"] == 0
    # the twin in two worker processes: the same choices, so the same outcomes
    assert eval_main([*base, *extras, "--twin-workers", "2"]) == 0
    in_workers = json.loads(out.read_text())
    assert in_workers["planner"].pop("twin_workers") == 2 and report["planner"].pop("twin_workers") == 0
    assert in_workers.pop("command").endswith("--twin-workers 2") and "--twin-workers" not in report.pop("command")
    for timing in ("seconds", "decision_ms"):  # the machine's, not the choices'
        in_workers.pop(timing), report.pop(timing)
    assert in_workers == report


def test_a_killed_collection_leaves_a_readable_partial_file_that_fit_accepts(tmp_path, capsys):
    """A collection killed (SIGKILL, no cleanup) mid-run keeps its saved scenes in a valid file
    marked partial, with no temp file left behind; fit uses it and says so."""
    data = tmp_path / "killed.npz"
    args = [
        "collect",
        "--attempts",
        "40",
        "--seeds",
        "1",
        "--first-seed",
        "900",
        "--save-every",
        "2",
        "--out",
        str(data),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pa_grasp_policy.training.selector_fit", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        for line in proc.stdout:  # wait for the second save, so the kill lands after a replace
            if line.startswith("4/40 scenes"):
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    time.sleep(0.1)
    with np.load(data) as collected:
        assert not bool(collected["complete"]) and int(collected["attempts_asked"]) == 40
        n = len(collected["seed"])
        assert 4 <= n < 40 and collected["features"].shape[:2] == (n, 4) and collected["lifted"].shape == (n, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["killed.npz"]
    assert selector_main(["fit", str(data), "--l2", "1.0", "--out", str(tmp_path / "s.json")]) == 0
    provenance = json.loads((tmp_path / "s.json").read_text())["provenance"]
    assert "partial: the collection was stopped" in provenance["collections"][0]


def test_mirror_uv_and_mirror_box_follow_numpy_fliplr():
    image, mask = np.zeros((H, W)), np.zeros((H, W), bool)
    image[17, 70] = 1.0
    mask[10:22, 60:80] = True
    v, u = np.argwhere(np.fliplr(image) == 1.0)[0]
    assert mirror_uv((70, 17), W) == pytest.approx((u, v))
    rows, cols = np.nonzero(np.fliplr(mask))
    assert mirror_box((60.0, 10.0, 20.0, 12.0), W) == pytest.approx((cols.min(), 10.0, 20.0, 12.0))


def test_a_grasp_from_the_mirror_image_is_the_hand_reflected_in_the_scene():
    """fliplr of the camera's image is the scene reflected across the base's x-z plane: a pixel
    and its mirror pixel see reflected points, and the grasp mapped back from the mirror image
    puts every link of the (symmetric) BH-280 where the reflection of the grasp puts it, with
    fingers 1 and 2 exchanged."""
    reflect = np.diag([1.0, -1.0, 1.0])
    rpy, hand = np.array([0.3, 1.2, 0.7]), np.array([0.4, 0.1, 0.5, 0.3])
    point = np.array([0.05, 0.08, 0.03])
    with GraspWorld(WorldConfig(), "seen", seed=0) as world:
        c, camera = world.client, world.camera
        a, b = camera.pixel_to_world(30.0, 50.0, 0.7), camera.pixel_to_world(camera.config.width - 1 - 30.0, 50.0, 0.7)
        np.testing.assert_allclose(b, reflect @ a, atol=1e-9)
        names = {c.getJointInfo(world.robot, j)[12].decode(): j for j in range(c.getNumJoints(world.robot))}

        def link_positions(rpy, hand, at):
            world.hand.reset_preshape(hand[0], hand[1:])
            command = GraspCommand(0.0, 0.0, *rpy, hand[0], tuple(hand[1:]))
            T_world_base = command_palm_pose(at, command, 0.05) @ world.T_palm_base
            quat = Rotation.from_matrix(T_world_base[:3, :3]).as_quat()
            c.resetBasePositionAndOrientation(world.robot, T_world_base[:3, 3].tolist(), quat.tolist())
            links = {n: c.getLinkState(world.robot, j, computeForwardKinematics=True) for n, j in names.items()}
            return {n: np.array(state[4]) for n, state in links.items()}

        original = link_positions(rpy, hand, point)
        mirrored = link_positions(*mirror_grasp(rpy, hand), reflect @ point)
    swap = {"bh_finger_1": "bh_finger_2", "bh_finger_2": "bh_finger_1"}
    finger_links = [n for n in names if n[:11] in swap]
    assert len(finger_links) >= 6
    for name, position in original.items():
        other = swap[name[:11]] + name[11:] if name[:11] in swap else name
        np.testing.assert_allclose(mirrored[other], reflect @ position, atol=1e-6, err_msg=name)
    # and a grasp that is not its own mirror image moves: the test would see a wrong reflection
    assert np.linalg.norm(original["bh_finger_13_link"] - reflect @ original["bh_finger_13_link"]) > 0.01


def test_a_mirrored_run_maps_the_grasp_back_to_the_same_place_with_the_yaw_and_fingers_reflected():
    depth, config = spot_scene(), ZoomConfig(input_size=32)
    for k in range(4):
        run = run_turned(depth, None, config, k, act=highest_point_actor(0.1), mirrored=True)
        u, v = run.result.grasp_uv
        assert 18 - 3 <= u <= 23 + 3 and 60 - 3 <= v <= 65 + 3, (k, u, v)
        expected_yaw = (-(0.1 * math.pi - k * math.pi / 2) + math.pi) % (2 * math.pi) - math.pi
        assert run.mirrored and run.result.grasp_rpy[2] == pytest.approx(expected_yaw, abs=1e-6)
        assert run.result.grasp_rpy[0] == pytest.approx(-run.in_turned_image.grasp_rpy[0])
        np.testing.assert_allclose(run.result.hand_joints, np.asarray(run.in_turned_image.hand_joints)[[0, 2, 1, 3]])
        assert run.result.boxes[0] == pytest.approx((0.0, 0.0, W, H))
