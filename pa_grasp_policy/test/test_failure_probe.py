"""The failure probe: the evaluation protocol, and the grasp grid tried on every failed scene."""

import pytest

from pa_grasp_policy import failure_probe
from pa_grasp_policy.evaluate import baseline_chooser
from pa_grasp_sim.evaluation import EvalConfig


def test_every_failure_is_counted_and_the_grid_lifts_some_of_them():
    config = EvalConfig(scene="single", attempts=4, seeds=1, first_seed=100)
    result = failure_probe.probe_failures(baseline_chooser("random"), config)
    lost = sum(result.failures.values())
    assert lost == round(4 * (1 - result.evaluation.success_rate)) > 0
    # random grasps fail on objects an easy top grasp lifts
    assert 0 < sum(result.liftable.values()) <= lost
    assert all(result.liftable[f] <= n for f, n in result.failures.items())
    assert [n for _, n, _ in result.rows()] == sorted(result.failures.values(), reverse=True)


def test_cli_reports_and_rejects_bad_input(tmp_path, capsys):
    assert failure_probe.main(["--baseline", "random", "--attempts", "2", "--seeds", "1"]) == 0
    assert "of its 2 failures" in capsys.readouterr().out
    assert failure_probe.main(["--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="single-object"):
        failure_probe.probe_failures(baseline_chooser("random"), EvalConfig(scene="cluttered", attempts=1, seeds=1))
