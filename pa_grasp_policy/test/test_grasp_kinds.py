"""Grasp kinds for the model card (issue 51): pa-grasp-eval records every attempt's zoom steps and
fingers, the figure is drawn from its JSONs (older ones refused with a message), and ship's card
lists success by family and the command behind each evaluation."""

import json

import pytest

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_policy.evaluation.eval_cli import main as eval_main
from pa_grasp_policy.evaluation.report import grasp_kinds
from pa_grasp_policy.planner.loading import DEFAULT_MODEL

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason=f"no shipped model at {DEFAULT_MODEL}")
DETAIL_KEYS = {"object", "family", "success", "pitch_deg", "spread_deg", "fingers", "zoom_steps"}


def synthetic_eval(who="runs/a/best.pt", zoom=True, families=None, details=True) -> dict:
    """A pa-grasp-eval result of four single-object attempts (one without a chosen grasp)."""
    fingers = [[0.1, 0.2, 0.3], [0.0, 0.0, 0.0], [0.6, 0.5, 0.4]]
    rows = [
        {"object": f"o{i}", "family": fam, "success": ok, "pitch_deg": pitch, "spread_deg": spread}
        | {"fingers": f, "zoom_steps": (i if zoom else None)}
        for i, (fam, ok, pitch, spread, f) in enumerate(
            [
                ("box", True, 90.0, 0.0, fingers[0]),
                ("mug", False, 62.0, 40.0, fingers[1]),
                ("box", True, 85.0, 20.0, fingers[2]),
            ]
        )
    ]
    rows.append(
        {"object": "o3", "family": "mug", "success": False}
        | dict.fromkeys(DETAIL_KEYS - {"object", "family", "success"})
    )
    data = {
        "who": who,
        "scene": "single",
        "objects": "seen",
        "seeds": 1,
        "first_seed": 0,
        "success_rate": 0.5,
        "std": 0.0,
        "attempts": 4,
        "per_attempt": [[1, 0, 1, 0]],
        "per_family": families or {"box": [2, 2], "mug": [0, 2]},
        "command": f"pa-grasp-eval --checkpoint {who} --attempts 4 --seeds 1 --json e.json",
    }
    return data | ({"grasp_details": rows} if details else {})


@needs_model
def test_the_json_records_every_attempts_zoom_steps_and_fingers(tmp_path):
    """A tiny real evaluation (the shipped model, then the heuristic): grasp_details has one entry
    per attempt in per_attempt's order, with the three fingers and the policy's zoom steps."""
    for who, argv, max_zoom in (("policy", [], 4), ("heuristic", ["--baseline", "heuristic"], None)):
        out = tmp_path / f"{who}.json"
        argv = [*argv, "--attempts", "2", "--seeds", "1", "--quiet", "--json", str(out)]
        assert eval_main(argv) == 0
        data = json.loads(out.read_text())
        details = data["grasp_details"]
        assert len(details) == 2 and all(set(d) == DETAIL_KEYS for d in details)
        assert [int(d["success"]) for d in details] == data["per_attempt"][0]
        assert data["command"] == "pa-grasp-eval " + " ".join(argv)
        for d, (pitch, spread, mean_finger) in zip(details, data["grasps"], strict=True):  # the old key, unchanged
            assert (d["pitch_deg"], d["spread_deg"]) == (pitch, spread)
            assert len(d["fingers"]) == 3 and sum(d["fingers"]) / 3 == pytest.approx(mean_finger, abs=1e-3)
            assert data["per_family"][d["family"]][1] >= 1 and d["object"] in data["per_object"]
            if max_zoom is None:
                assert d["zoom_steps"] is None  # a baseline has no zoom loop
            else:
                assert isinstance(d["zoom_steps"], int) and 0 <= d["zoom_steps"] <= max_zoom


@needs_model
def test_the_planners_chooser_is_still_a_plain_chooser_and_knows_its_zoom_steps():
    """The report and the clutter rounds call the chooser for a GraspCommand; the protocol asks
    its choice() for the zoom steps too: the same grasp."""
    from pa_grasp_policy.evaluation.choosers import planner_chooser
    from pa_grasp_policy.planner.planner import GraspPlanner
    from pa_grasp_sim.protocol import choice_of
    from pa_grasp_sim.world import GraspWorld

    with GraspPlanner.load(None) as planner, GraspWorld(planner.model.world_config(), "seen", seed=5) as world:
        world.reset(1, seed=5)
        depth = world.render_depth()
        choose = planner_chooser(planner)
        command, choice = choose(depth, world, None), choice_of(choose, depth, world, None)
    assert isinstance(command, GraspCommand) and choice.command == command
    assert isinstance(choice.zoom_steps, int) and choice.zoom_steps >= 0


def test_the_figure_has_four_histograms_and_the_family_bars(tmp_path, capsys):
    policy, baseline = tmp_path / "policy.json", tmp_path / "baseline.json"
    policy.write_text(json.dumps(synthetic_eval()))
    baseline.write_text(json.dumps(synthetic_eval("baseline:heuristic", zoom=False, families={"ball": [1, 1]})))
    png = tmp_path / "figs" / "kinds.png"
    assert grasp_kinds.main([str(policy), str(baseline), "--out", str(png), "--title", "t"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    # 3 grasps chosen of 4: pitch 90 and 85 within 10° of top-down, spreads 40 and 20 over 15°, zooms 0, 1, 2.
    assert "best.pt single seen: 3 grasps: 67% within 10° of top-down, 67% spread over 15°, median zoom steps 1" in out
    assert "baseline:heuristic single seen: 3 grasps: " in out and "no zoom loop" in out
    fig = grasp_kinds.draw_grasp_kinds(tmp_path / "one.png", [synthetic_eval()])
    assert len(fig.axes) == 5  # zoom steps, pitch, spread, fingers; success by family
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[-1].startswith("success by object family") and "pitch (90° = top-down)" in titles
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["box", "mug"]


def test_a_json_without_the_per_attempt_data_is_refused_with_a_clear_message(tmp_path, capsys):
    old, garbage = tmp_path / "old.json", tmp_path / "garbage.json"
    old.write_text(json.dumps(synthetic_eval(details=False)))
    garbage.write_text("{not json")
    for path, message in (
        (
            old,
            "made before zoom steps and fingers were recorded per attempt (no 'grasp_details'); re-run pa-grasp-eval",
        ),
        (tmp_path / "missing.json", "missing.json: no such file"),
        (garbage, "garbage.json: not JSON"),
    ):
        assert grasp_kinds.main([str(path), "--out", str(tmp_path / "x.png")]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(grasp_kinds.GraspKindsError, match="not a pa-grasp-eval JSON"):
        grasp_kinds.load_eval(tmp_path / "list.json")
    assert not (tmp_path / "x.png").exists()


@needs_model
def test_ships_card_lists_each_family_with_its_success_and_embeds_the_figure(tmp_path, capsys):
    from pa_grasp_policy.training import ship

    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(synthetic_eval()))
    legacy = synthetic_eval("runs/b/best.pt", families={"ball": [3, 4]}, details=False)
    del legacy["command"]
    old.write_text(json.dumps(legacy))
    target = tmp_path / "state" / "m.pt"
    argv = ["--checkpoint", str(DEFAULT_MODEL), "--out", str(target), "--eval", str(new), str(old)]
    assert ship.main(argv) == 0
    card = target.with_suffix(".md").read_text()
    assert (tmp_path / "state" / "m_grasp_kinds.png").read_bytes()[:4] == b"\x89PNG"
    assert "](m_grasp_kinds.png)" in card  # beside the card, linked relatively
    assert "| family | (1) best.pt single seen | (2) best.pt single seen |" in card
    assert "| box | 100.0 (2/2) | – |" in card and "| mug | 0.0 (0/2) | – |" in card
    assert "| ball | – | 75.0 (3/4) |" in card
    assert "- (1) best.pt single seen: 3 grasps: 67% within 10° of top-down" in card
    assert "- (2) best.pt single seen: no per-attempt grasp details" in card
    assert "1. `pa-grasp-eval --checkpoint runs/a/best.pt --attempts 4 --seeds 1 --json e.json`" in card
    assert f"--seeds 1 --json {old}` (rebuilt from the JSON" in card
    assert "grasp_kinds " + str(new) + " --out " in card  # the figure's own command: only the JSON it can draw
