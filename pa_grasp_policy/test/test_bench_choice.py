"""bench_choice on one protocol scene: the served twin ranking and the full twin scores choose
the same grasp, and the JSON says so (the shipped model; skipped only if it is missing)."""

import json

import pytest

from pa_grasp_policy.bench_choice import main
from pa_grasp_policy.evaluate import default_model_path


@pytest.mark.skipif(not default_model_path().exists(), reason=f"no shipped model at {default_model_path()}")
def test_one_scene_is_timed_and_both_ways_choose_the_same_grasp(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--scenes", "1", "--json", str(path)]) == 0
    results = json.loads(path.read_text())
    assert results["same_choice"] == 1 and results["twin_executions_full"] == 20
    assert 1 <= results["twin_executions_ranked"] <= 20
    assert results["twin_ranked"]["max_s"] > 0 and "twin_full" in results
    assert "the same grasp chosen in 1 of 1 scenes" in capsys.readouterr().out


def test_no_scenes_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--scenes", "0"])
    assert "--scenes must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--threads", "0"])
    assert "--threads must be at least 1" in capsys.readouterr().err
