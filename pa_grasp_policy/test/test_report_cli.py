"""`pa-grasp-report` end to end on tiny settings: report.md, results.json and PNGs."""

import json

import pytest

from pa_grasp_policy.evaluation.report import cli
from pa_grasp_policy.model.checkpoint import save_checkpoint
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.planner import loading

TINY = [
    "--attempts",
    "2",
    "--seeds",
    "1",
    "--max-objects",
    "3",
    "--clutter-sizes",
    "3",
    "--clutter-objects",
    "seen",
    "--timing-repeats",
    "1",
    "--bench-episodes",
    "1",
    "--quiet",
]


def test_tiny_heuristic_report(tmp_path):
    out = tmp_path / "report"
    argv = [
        "--out",
        str(out),
        "--rows",
        "heuristic,published",
        "--clutter-rounds",
        "1",
        "--grid-scenes",
        "2",
        "--workers",
        "1",
        *TINY,
    ]
    assert cli.main(argv) == 0
    md = (out / "report.md").read_text()
    data = json.loads((out / "results.json").read_text())
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {"fig_table1.png", "fig_grasp_grid.png", "fig_clutter.png"} <= set(pngs)
    for name in pngs:
        assert f"]({name})" in md  # every figure is embedded
    # The table: the measured baseline, the paper's numbers marked as such, the settings note.
    assert "| Heuristic top-down grasp (baseline) |" in md
    assert "Ours (Sim) — *published, not measured here* | 93.8 ± 2.6 |" in md
    assert "2 grasp attempts per cell" in md and "1 evaluation seeds" in md
    assert "pa-grasp-report " + " ".join(argv) in md  # the exact command line
    assert data["command"] == "pa-grasp-report " + " ".join(argv)
    cells = data["table"]["heuristic"]
    assert set(cells) == {"single_seen", "single_novel", "cluttered_seen", "cluttered_novel"}
    for cell in cells.values():
        assert cell["attempts"] == 2 and 0.0 <= cell["success_rate"] <= 1.0 and len(cell["per_seed"]) == 1
    # Single cells are also counted by object family, and the report tabulates them.
    seen_families = cells["single_seen"]["per_family"]
    assert sum(a for _, a in seen_families.values()) == 2
    assert "### Single objects by family" in md and "| Heuristic top-down grasp (baseline), seen |" in md
    for family, (s, a) in seen_families.items():
        assert f"| {family} | {s}/{a} |" in md
    # Clutter clearing: one round of 3 objects, stopped by one of the rules.
    (clutter,) = data["clutter"]
    assert clutter["row"] == "heuristic" and clutter["rounds"] == 1 and clutter["n_objects"] == 3
    assert 1 <= clutter["attempts"] <= 6 and 0.0 <= clutter["declutter_rate"] <= 1.0
    assert sum(clutter["stop_reasons"].values()) == 1
    assert "## Clutter clearing" in md and "| Heuristic top-down grasp (baseline) | 3 objects, seen | 1 |" in md
    # Timing: both thread counts, sim speed.
    assert [r["threads"] for r in data["timing"]["policy"]["results"]] == [1, 2]
    assert all(r["episodes_per_s"] > 0 for r in data["timing"]["sim"])
    assert "## Timing" in md and "untrained network" in md
    assert not data["errors"]


def test_policy_rows_in_worker_processes(tmp_path):
    """The model, a test-time ablation and a trained ablation, on 2 worker processes."""
    ckpt = save_checkpoint(tmp_path / "tiny.pt", Policy(NetworkConfig(input_size=64)))
    out = tmp_path / "report"
    argv = [
        "--out",
        str(out),
        "--checkpoint",
        str(ckpt),
        "--rows",
        "model,top_down,no_attention",
        "--ablation-checkpoint",
        f"no_attention={ckpt}",
        "--clutter-rounds",
        "0",
        "--grid-scenes",
        "1",
        "--no-timing",
        "--workers",
        "2",
        *TINY,
    ]
    assert cli.main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    md = (out / "report.md").read_text()
    assert set(data["table"]) == {"model", "top_down", "no_attention"}
    assert data["rows"]["top_down"]["label"] == "Top-down only (test-time constraint)"
    assert data["rows"]["no_attention"]["label"] == "No attention (trained)"
    assert "Top-down only (test-time constraint) |" in md and "No attention (trained) |" in md
    assert (out / "fig_zoom_sequence.png").exists() and data["figure_data"]["zoom_episode"]["row"] == "model"
    assert not data["clutter"] and not data["errors"]


def test_bad_input_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    assert cli.main(["--out", str(out), "--rows", "bogus"]) == 2
    assert "unknown row" in capsys.readouterr().err
    assert cli.main(["--out", str(out), "--rows", "model", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli.main(["--out", str(out), "--ablation-checkpoint", "wings=x.pt"]) == 2
    assert "unknown ablation" in capsys.readouterr().err
    assert cli.main(["--out", str(out), "--rows", "heuristic", "--novel", str(tmp_path / "no_such_dir")]) == 2
    capsys.readouterr()
    assert cli.main(["--out", str(out), "--attempts", "2", "--seeds", "3"]) == 2
    assert "seeds" in capsys.readouterr().err
    assert cli.main(["--out", str(out), "--clutter-sizes", "a,b"]) == 2
    assert "--clutter-sizes expects comma-separated integers, got 'a,b'" in capsys.readouterr().err
    assert cli.main(["--out", str(out), "--clutter-sizes", "10,0"]) == 2
    assert "--clutter-sizes expects positive integers" in capsys.readouterr().err
    assert cli.main(["--out", str(out), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    # No shipped model: say how to get a report anyway.
    monkeypatch.setattr(loading, "DEFAULT_MODEL", tmp_path / "pa_grasp.pt")
    assert cli.main(["--out", str(out), "--rows", "model,baselines"]) == 2
    assert "--rows published,baselines" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("quick", [False, True])
def test_settings_profiles(quick):
    args = cli.build_parser().parse_args(["--out", "x", "--attempts", "30"] + (["--quick"] if quick else []))
    s = cli.resolve_settings(args)
    assert s["attempts"] == 30  # explicit options win over the profile
    assert s["seeds"] == (cli.QUICK if quick else cli.FULL)["seeds"]
    assert s["clutter_sizes"] == [10, 5]


def test_published_only_report_needs_no_model_and_no_simulation(tmp_path):
    out = tmp_path / "report"
    assert cli.main(["--out", str(out), "--rows", "published", "--no-timing", "--quiet"]) == 0
    md = (out / "report.md").read_text()
    assert "| 60° Camera — *published, not measured here* | 92.3 ± 2.1 |" in md
    assert (out / "fig_table1.png").exists()
    data = json.loads((out / "results.json").read_text())
    assert data["table"] == {} and data["published"]["parallel"]["values"]["single_seen"] == {"mean": 50.4, "std": 6.7}


def test_report_reuses_matching_eval_cells_and_says_so(tmp_path):
    measured_before = {
        "who": "baseline:heuristic",
        "scene": "single",
        "objects": "seen",
        "seeds": 1,
        "attempts": 2,
        "success_rate": 0.123,
        "std": 0.0,
        "per_seed": [0.123],
        "test_ablation": "full",  # what pa-grasp-eval writes without --test-ablation
        "per_family": {"mug": [0, 2]},
    }
    other_protocol = {**measured_before, "scene": "cluttered", "attempts": 4, "success_rate": 0.999}
    other_scenes = {**measured_before, "first_seed": 100, "success_rate": 0.777}  # pa-grasp-eval --first-seed 100
    with_selector = {**measured_before, "planner": {"views": 8}, "success_rate": 0.555}  # not the paper's method
    files = []
    cells = (
        ("s.json", with_selector),
        ("c.json", other_scenes),
        ("a.json", measured_before),
        ("b.json", other_protocol),
    )
    for name, cell in cells:
        files.append(tmp_path / name)
        files[-1].write_text(json.dumps(cell))
    out = tmp_path / "report"
    argv = ["--out", str(out), "--rows", "heuristic", "--attempts", "2", "--seeds", "1", "--clutter-rounds", "0"]
    argv += ["--no-figures", "--no-timing", "--workers", "1", "--quiet", "--reuse-eval", *map(str, files)]
    assert cli.main(argv) == 0
    table = json.loads((out / "results.json").read_text())["table"]["heuristic"]
    assert table["single_seen"]["success_rate"] == 0.123 and table["single_seen"]["reused_from"] == str(files[2])
    for cond in ("single_novel", "cluttered_seen", "cluttered_novel"):  # measured now (4 attempts in b.json)
        assert "reused_from" not in table[cond] and table[cond]["attempts"] == 2
    md = (out / "report.md").read_text()
    assert "not re-measured by this command" in md and "single seen (`" + str(files[2]) in md
    assert table["single_seen"]["per_family"] == {"mug": [0, 2]} and "| mug | 0/2 |" in md
    bad = tmp_path / "bad.json"
    bad.write_text('{"who": "baseline:heuristic"}')
    assert cli.main([*argv[:-2], str(bad)]) == 2
