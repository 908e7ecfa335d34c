"""`pa-grasp-report` running only the clutter protocol on VGN-style piles (--no-table,
--clutter-layout pile): tiny settings, real simulation."""

import json

import pytest

from pa_grasp_policy.evaluation.report import cli
from pa_grasp_policy.model.checkpoint import save_checkpoint
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy


def test_clutter_only_report_on_piles(tmp_path):
    ckpt = save_checkpoint(tmp_path / "tiny.pt", Policy(NetworkConfig(input_size=64)))
    out = tmp_path / "pile"
    clutter_only = (
        "--rows model,heuristic --no-table --clutter-layout pile --clutter-sizes 3 --clutter-objects seen "
        "--clutter-rounds 1 --seeds 1 --max-objects 3 --grid-scenes 0 --no-timing --workers 1 --quiet"
    )
    argv = ["--out", str(out), "--checkpoint", str(ckpt), *clutter_only.split()]
    assert cli.main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    md = (out / "report.md").read_text()
    assert data["table"] == {} and not data["errors"]
    assert data["settings"]["clutter_layout"] == "pile" and data["settings"]["table"] is False
    assert [(c["row"], c["layout"], c["n_objects"], c["rounds"]) for c in data["clutter"]] == [
        ("model", "pile", 3, 1),
        ("heuristic", "pile", 3, 1),
    ]
    # The same pile for both rows: same seed, same objects presented.
    assert len({c["rounds_detail"][0][0]["presented"] for c in data["clutter"]}) == 1
    assert "## Table I" not in md and "Table I not measured (`--no-table`)." in md
    assert "## Clutter clearing" in md and "**pile** layout, as in VGN's benchmark" in md
    assert "| Heuristic top-down grasp (baseline) | 3 objects, seen | 1 |" in md
    assert (out / "fig_clutter.png").exists() and not (out / "fig_table1.png").exists()


def test_scattered_stays_the_default_and_an_unknown_layout_is_refused(capsys):
    args = cli.build_parser().parse_args(["--out", "x"])
    assert cli.resolve_settings(args)["clutter_layout"] == "scattered"
    assert cli.resolve_settings(args)["table"] is True
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["--out", "x", "--clutter-layout", "heap"])
    assert exc.value.code == 2
    assert "invalid choice: 'heap' (choose from 'scattered', 'pile')" in capsys.readouterr().err
