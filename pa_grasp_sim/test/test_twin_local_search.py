"""Local search in the depth twin: which change replaces an unsure grasp, and when none does.
The twin's scores are given by a function of the command here, so the rule itself is checked;
test_depth_twin checks DepthTwin.best_above against full scores, test_policy_node runs the search
on a real twin through the ROS node."""

import math

import pytest

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.twin.local_search import LocalSearchConfig, best_from_scores, local_changes, search_near

TOP_DOWN = GraspCommand(40.0, 30.0, roll=0.0, pitch=math.pi / 2, yaw=0.3, spread=0.1, fingers=(0.2, 0.2, 0.2))


def scorer(score_of):
    """A TwinBest from every command's score, and the calls made to it."""
    calls = []

    def best(commands, floor):
        calls.append(len(commands))
        return best_from_scores([score_of(c) for c in commands], floor)

    return best, calls


def test_the_changes_of_a_top_down_grasp_are_its_neighbours_then_other_kinds():
    names = [name for name, _ in local_changes(TOP_DOWN, 96, 80)]
    assert names[:6] == ["yaw+20", "yaw-20", "u+", "u-", "v+", "v-"], "nearest first"
    assert len(names) == 13 and "upright" not in names, "a top-down grasp has no upright change"
    assert len(local_changes(TOP_DOWN, 96, 80, with_kinds=False)) == 10
    tilted = local_changes(GraspCommand(40.0, 30.0, pitch=1.0), 96, 80)
    assert "upright" in [name for name, _ in tilted]


def test_a_sure_grasp_is_kept_without_asking_the_twin():
    scores, calls = scorer(lambda c: 1.0)
    found = search_near(TOP_DOWN, 0.8, scores, 96, 80)
    assert found.command == TOP_DOWN and found.change == "" and found.tried == 0 and calls == []


def test_an_unsure_grasp_takes_its_best_change_the_nearer_one_on_ties():
    turned = {round(TOP_DOWN.yaw - math.radians(20), 6), round(TOP_DOWN.yaw + math.radians(45), 6)}
    scores, calls = scorer(lambda c: 1.0 if round(c.yaw, 6) in turned else 0.2)
    found = search_near(TOP_DOWN, 0.6, scores, 96, 80)
    assert found.change == "yaw-20" and found.score == 1.0 and found.tried == 13 and calls == [13]
    assert found.command.yaw == pytest.approx(TOP_DOWN.yaw - math.radians(20))
    assert (found.command.u, found.command.v, found.command.spread) == (TOP_DOWN.u, TOP_DOWN.v, TOP_DOWN.spread)


def test_no_better_change_or_one_within_the_margin_keeps_the_grasp():
    scores, _ = scorer(lambda c: 0.6)
    found = search_near(TOP_DOWN, 0.6, scores, 96, 80)
    assert found.command == TOP_DOWN and found.change == "" and found.tried == 13
    scores, _ = scorer(lambda c: 0.8 if c.u > TOP_DOWN.u else 0.0)
    assert search_near(TOP_DOWN, 0.6, scores, 96, 80, LocalSearchConfig(margin=0.2)).change == ""
    assert search_near(TOP_DOWN, 0.6, scores, 96, 80, LocalSearchConfig(margin=0.1)).change == "u+"


def test_bad_settings_and_a_wrong_number_of_scores_are_refused():
    with pytest.raises(ValueError, match="below"):
        LocalSearchConfig(below=0.0)
    with pytest.raises(ValueError, match="margin"):
        LocalSearchConfig(margin=-0.1)
    with pytest.raises(ValueError, match="grasp 13 of 13"):
        search_near(TOP_DOWN, 0.0, lambda commands, floor: (len(commands), 1.0), 96, 80)


def test_best_from_scores_is_the_first_argmax_above_the_floor():
    assert best_from_scores([0.2, 0.8, 0.8], 0.6) == (1, 0.8)
    assert best_from_scores([0.2, 0.8, 0.8], 0.8) == (None, None)
    assert best_from_scores([], 0.0) == (None, None)
