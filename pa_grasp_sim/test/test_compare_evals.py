"""Paired comparison of two evaluations of the same scenes (pa_grasp_sim.compare_evals)."""

import json

import pytest

from pa_grasp_sim.baselines import heuristic_grasp, random_grasp
from pa_grasp_sim.compare_evals import IncomparableEvalsError, compare, main, sign_test_p
from pa_grasp_sim.evaluation import EvalConfig, evaluate

PROTOCOL = {"scene": "single", "objects": "seen", "seeds": 2, "first_seed": 0, "attempts": 6}


def test_sign_test_matches_a_hand_computation():
    assert sign_test_p(5, 0) == pytest.approx(2 / 32)  # 2 * P(X = 0), n = 5
    assert sign_test_p(9, 1) == pytest.approx(2 * (1 + 10) / 1024)  # 2 * P(X <= 1), n = 10
    assert sign_test_p(1, 9) == sign_test_p(9, 1)
    assert sign_test_p(3, 3) == 1.0 and sign_test_p(0, 0) == 1.0
    with pytest.raises(ValueError):
        sign_test_p(-1, 2)


def test_outcomes_are_paired_attempt_by_attempt():
    base = {**PROTOCOL, "per_attempt": [[1, 1, 0], [0, 1, 1]]}
    cand = {**PROTOCOL, "per_attempt": [[1, 0, 1], [1, 1, 1]]}
    result = compare(base, cand)
    assert (result.baseline_lifted, result.candidate_lifted, result.gained, result.lost) == (4, 5, 2, 1)
    assert result.sign_test_p == pytest.approx(1.0)
    assert "5 against 4 of 6 (2 gained, 1 lost" in result.summary()


def test_evaluations_of_other_scenes_or_without_outcomes_are_refused():
    base = {**PROTOCOL, "per_attempt": [[1, 1, 0], [0, 1, 1]]}
    with pytest.raises(IncomparableEvalsError, match="first_seed is 0 in the baseline and 100"):
        compare(base, {**base, "first_seed": 100})
    with pytest.raises(IncomparableEvalsError, match="candidate has no per-attempt outcomes"):
        compare(base, PROTOCOL)
    with pytest.raises(IncomparableEvalsError, match="5 and 6 outcomes"):
        compare({**base, "per_attempt": [[1, 1], [0, 1, 1]]}, base)


def test_two_real_evaluations_pair_up_and_the_cli_reports_them(tmp_path, capsys):
    def heuristic(depth, world, rng):
        return heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)

    def random(depth, world, rng):
        return random_grasp(depth, rng)

    config = EvalConfig(scene="single", objects="seen", attempts=4, seeds=2)
    runs = {
        "heuristic": evaluate(heuristic, config),
        "again": evaluate(heuristic, config),
        "random": evaluate(random, config),
    }
    files = {}
    for name, result in runs.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps({**PROTOCOL, "attempts": 4, **result.to_dict()}))
    # the same chooser on the same scenes: the same outcome in every attempt
    main([str(files["heuristic"]), str(files["again"]), "--json", str(tmp_path / "same.json")])
    same = json.loads((tmp_path / "same.json").read_text())
    assert same["gained"] == same["lost"] == 0
    # random grasps lift nothing the heuristic did not: every difference is a loss
    main([str(files["heuristic"]), str(files["random"])])
    heuristic_lifted = round(4 * runs["heuristic"].success_rate)
    assert f"0 gained, {heuristic_lifted} lost" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no such file"):
        main([str(tmp_path / "missing.json"), str(files["random"])])
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(SystemExit, match="is not JSON"):
        main([str(files["random"]), str(tmp_path / "broken.json")])
    with pytest.raises(SystemExit) as exit_info:
        main([str(files["random"]), str(tmp_path / "same.json")])
    assert exit_info.value.code == 2 and "not the same scenes" in capsys.readouterr().err
