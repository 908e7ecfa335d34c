"""The report's pure metrics on constructed outcomes: success rate, std over seeds, declutter
rate, the clutter-clearing stopping rules; and the row definitions."""

import math

import numpy as np
import pytest

from pa_grasp_policy.evaluation.report import metrics as m
from pa_grasp_policy.evaluation.report import rows
from pa_grasp_sim.protocol import success_stats


def test_success_rate():
    assert m.success_rate([True, False, True, True]) == 0.75
    assert m.success_rate([0, 0, 1]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        m.success_rate([])


def test_seed_stats_pool_attempts_and_take_population_std_of_per_seed_rates():
    per_seed = [[True, True, False, False], [True, True, True, True], [False, False, False, True]]
    rate, std, seeds = m.seed_stats(per_seed)
    assert seeds == [0.5, 1.0, 0.25]
    assert rate == pytest.approx(7 / 12)
    assert std == pytest.approx(np.std([0.5, 1.0, 0.25]))  # ddof 0, like the paper's mean ± std
    ref_rate, ref_std, ref_seeds = success_stats(per_seed)  # the same definition as pa-grasp-eval
    assert (rate, std) == pytest.approx((ref_rate, ref_std)) and seeds == pytest.approx(ref_seeds)
    # Unequal seed sizes: the mean pools attempts, it is not the mean of the per-seed rates.
    rate, _, seeds = m.seed_stats([[True], [False, False, False]])
    assert rate == 0.25 and seeds == [1.0, 0.0]
    assert m.seed_stats([[True, False]])[1] == 0.0  # one seed: no spread


def test_ratio_stats_skips_empty_seeds_and_rejects_nothing():
    rate, std, seeds = m.ratio_stats([3, 0, 2], [4, 0, 4])
    assert rate == pytest.approx(5 / 8) and seeds == [0.75, 0.5] and std == pytest.approx(0.125)
    with pytest.raises(ValueError):
        m.ratio_stats([0], [0])
    with pytest.raises(ValueError):
        m.ratio_stats([1, 2], [3])


def test_declutter_rate():
    assert m.declutter_rate(7, 10) == 0.7
    assert m.declutter_rate([10, 3], [10, 10]) == pytest.approx(13 / 20)
    with pytest.raises(ValueError):
        m.declutter_rate(1, 0)
    with pytest.raises(ValueError):
        m.declutter_rate(11, 10)


def test_stop_reason_rules():
    # Keep going: nothing yet, isolated failures, below the limit.
    assert m.stop_reason([], 3, 6) is None
    assert m.stop_reason([0], 3, 6) is None
    assert m.stop_reason([1, 0, 1, 0], 5, 10) is None
    # Cleared.
    assert m.stop_reason([1, 1, 1], 3, 6) == m.STOP_CLEARED
    assert m.stop_reason([1, 0, 2], 3, 6) == m.STOP_CLEARED  # one grasp lifted two objects
    assert m.stop_reason([], 0, 6) == m.STOP_CLEARED  # nothing to clear
    # Two consecutive failures, not two failures in all.
    assert m.stop_reason([0, 1, 0], 5, 10) is None
    assert m.stop_reason([1, 0, 0], 5, 10) == m.STOP_FAILURES
    assert m.stop_reason([0, 0, 0], 5, 10, max_consecutive_failures=3) == m.STOP_FAILURES
    assert m.stop_reason([0, 0], 5, 10, max_consecutive_failures=3) is None
    # Step limit.
    assert m.stop_reason([1, 0, 1, 0], 5, 4) == m.STOP_LIMIT
    # Precedence: clearing on the last allowed attempt is "cleared"; two failures at the limit are failures.
    assert m.stop_reason([1, 0, 1, 1], 3, 4) == m.STOP_CLEARED
    assert m.stop_reason([1, 1, 0, 0], 5, 4) == m.STOP_FAILURES
    with pytest.raises(ValueError):
        m.stop_reason([1, -1], 3, 6)
    with pytest.raises(ValueError):
        m.stop_reason([], 3, 0)


def test_clutter_round_cuts_the_sequence_where_a_rule_fires():
    r = m.clutter_round([1, 1, 0, 0, 1, 1, 1], presented=5, max_attempts=10)
    assert r.removed_per_attempt == [1, 1, 0, 0] and r.stop == m.STOP_FAILURES
    assert (r.attempts, r.successes, r.removed, r.cleared) == (4, 2, 2, False)
    r = m.clutter_round([True, False, True, True, True], presented=3, max_attempts=6)
    assert r.stop == m.STOP_CLEARED and r.attempts == 4 and r.removed == 3 and r.cleared
    r = m.clutter_round([1, 0, 1, 0, 1, 0, 1], presented=10, max_attempts=m.max_attempts_for(2))
    assert r.stop == m.STOP_LIMIT and r.attempts == 4
    with pytest.raises(ValueError, match="not over"):
        m.clutter_round([1, 0], presented=5, max_attempts=10)
    d = m.ClutterRound(3, [2, 0, 1], m.STOP_CLEARED).to_dict()
    assert d["successes"] == 2 and d["removed"] == 3 and d["attempts"] == 3


def test_max_attempts_for():
    assert m.max_attempts_for(10) == 20
    assert m.max_attempts_for(5, 1.5) == 8
    assert m.max_attempts_for(0) == 1


def test_summarize_clutter_over_seeds():
    seed0 = [m.ClutterRound(4, [1, 1, 1, 1], m.STOP_CLEARED), m.ClutterRound(4, [0, 0], m.STOP_FAILURES)]
    seed1 = [m.ClutterRound(4, [1, 0, 1, 0, 0], m.STOP_FAILURES)]
    s = m.summarize_clutter([seed0, seed1])
    assert (s["rounds"], s["attempts"], s["successes"], s["removed"], s["presented"]) == (3, 11, 6, 6, 12)
    assert s["grasp_success_rate"] == pytest.approx(6 / 11)
    assert s["grasp_success_per_seed"] == pytest.approx([4 / 6, 2 / 5])
    assert s["grasp_success_std"] == pytest.approx(np.std([4 / 6, 2 / 5]))
    assert s["declutter_rate"] == pytest.approx(0.5)
    assert s["declutter_per_seed"] == pytest.approx([0.5, 0.5]) and s["declutter_std"] == pytest.approx(0.0)
    assert s["cleared_rounds"] == 1
    assert s["stop_reasons"] == {m.STOP_CLEARED: 1, m.STOP_FAILURES: 2}
    with pytest.raises(ValueError):
        m.summarize_clutter([[], []])
    # A round with no objects presented and no attempt: success rate undefined, not an error.
    s = m.summarize_clutter([[m.ClutterRound(1, [1], m.STOP_CLEARED)], [m.ClutterRound(0, [], m.STOP_CLEARED)]])
    assert s["grasp_success_rate"] == 1.0 and s["declutter_rate"] == 1.0


def test_percent():
    assert m.percent(0.938, 0.026) == "93.8 ± 2.6"
    assert m.percent(0.5) == "50.0"
    assert m.percent(math.nan, 0.1) == "—"


def test_parse_rows_groups_order_and_errors():
    assert rows.parse_rows("all") == list(rows.ALL_ROWS)
    assert rows.parse_rows("heuristic,model") == ["model", "heuristic"]
    assert rows.parse_rows("baselines, published") == ["published", "random", "heuristic"]
    assert rows.parse_rows("ablations,parallel") == list(rows.ABLATIONS)
    with pytest.raises(ValueError, match="unknown row"):
        rows.parse_rows("model,bogus")
    with pytest.raises(ValueError):
        rows.parse_rows(" , ")


def test_ablation_rows_say_how_they_were_made():
    test_time = rows.build_row("top_down", "m.pt", "m.pt", {})
    assert test_time.label.endswith("(test-time constraint)") and test_time.test_constraint == "top_down"
    assert test_time.checkpoint == "m.pt"
    cam = rows.build_row("camera60", "m.pt", "m.pt", {})
    assert cam.camera_angle == 60.0 and cam.test_constraint is None and "(test-time constraint)" in cam.label
    trained = rows.build_row("parallel", "m.pt", "m.pt", {"parallel": "par.pt"})
    assert trained.label.endswith("(trained)") and trained.checkpoint == "par.pt" and trained.test_constraint is None
    assert rows.build_row("heuristic", None, "x", {}).kind == "baseline"
    # The paper's table is there for every measured policy row to be compared with.
    for key, pub in rows.PUBLISHED_FOR.items():
        assert key in rows.MEASURED_ROWS and len(rows.PUBLISHED[pub][1]) == len(rows.CONDITIONS)
    assert rows.PUBLISHED["ours_sim"][1][0] == (93.8, 2.6)
