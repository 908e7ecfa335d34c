"""The planner benchmark on protocol scenes: one plan per scene timed, the twin's executions
counted, the JSON written; bad arguments refused (the shipped model; skipped only if missing)."""

import json

import pytest

from pa_grasp_policy.evaluation.bench import main
from pa_grasp_policy.planner.loading import DEFAULT_MODEL


@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason=f"no shipped model at {DEFAULT_MODEL}")
def test_the_policy_alone_and_the_twin_are_timed_per_decision(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--scenes", "2", "--json", str(path)]) == 0
    alone = json.loads(path.read_text())
    assert alone["planner"] == "policy alone" and alone["twin_executions"] == 0
    assert 0 < alone["median_s"] <= alone["max_s"]
    assert main(["--scenes", "1", "--views", "4", "--twin", "on", "--json", str(path)]) == 0
    twin = json.loads(path.read_text())
    assert twin["planner"] == "4 views + selector (shipped) + depth twin" and 1 <= twin["twin_executions"] <= 20
    assert "per decision" in capsys.readouterr().out


def test_bad_arguments_are_refused(capsys):
    for argv, message in (
        (["--scenes", "0"], "--scenes must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--twin", "on"], "needs views 4 or 8"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err
