"""A tiny real training run: worker process, PyBullet episodes, PPO update, checkpoints, resume,
and the evaluation CLI on its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pa_grasp_policy.evaluation import eval_cli as evaluate
from pa_grasp_policy.model.checkpoint import load_checkpoint
from pa_grasp_policy.planner.loading import load_model
from pa_grasp_policy.training import train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    argv = [
        "--out",
        str(out),
        "--total-steps",
        "200",
        "--workers",
        "1",
        "--batch-size",
        "100",
        "--minibatch-size",
        "50",
        "--update-epochs",
        "2",
        "--lr",
        "1e-3",
        "--input-size",
        "64",
        "--camera-px",
        "96",
        "--min-crop-px",
        "10",
        "--eval-every",
        "2",
        "--eval-attempts",
        "2",
        "--snapshot-every",
        "2",
        "--threads",
        "1",
        "--seed",
        "3",
    ]
    cfg, resume, _ = train.parse_args(argv)
    torch.manual_seed(cfg.seed)
    counters = train.train(cfg, resume, progress=False)
    return out, counters, cfg


def test_tiny_training_run_updates_weights_and_writes_checkpoints(tiny_run):
    out, counters, cfg = tiny_run
    assert counters["updates"] == 2 and counters["env_steps"] >= 200
    assert counters["grasp_attempts"] >= 2 * 100 / (cfg.max_zoom_steps + 1)
    for name in ("latest.pt", "best.pt", "config.json"):
        assert (out / name).exists(), name
    trained, payload = load_checkpoint(out / "latest.pt")
    assert payload["counters"]["updates"] == 2
    assert payload["config"]["train"]["input_size"] == 64
    # The camera the run trained with is the one its checkpoint is evaluated with.
    model = load_model(out / "latest.pt")
    world_cfg, zoom_cfg = model.world_config(), model.zoom_config
    assert (world_cfg.camera.width, world_cfg.camera.height, zoom_cfg.min_crop_px) == (96, 96, 10.0)
    # Same seed, same init: compare with a fresh network built like the run's.
    torch.manual_seed(cfg.seed)
    fresh = train.Policy(train.NetworkConfig(input_size=64, init_std=cfg.init_std), cfg.constraints())
    changed = [name for name, p in trained.state_dict().items() if not torch.allclose(p, fresh.state_dict()[name])]
    assert len(changed) > 10, "PPO must change the weights"
    assert any((out / "tensorboard").iterdir())
    # --snapshot-every 2: update 2 kept on its own, weights as latest.pt's, without Adam's state.
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["update_0002.pt"]
    snapshot, snapshot_payload = load_checkpoint(out / "snapshots" / "update_0002.pt")
    assert snapshot_payload["optimizer_state"] is None and snapshot_payload["counters"]["updates"] == 2
    assert all(torch.equal(p, trained.state_dict()[name]) for name, p in snapshot.state_dict().items())


def test_resume_continues_counters(tiny_run):
    out, counters, _ = tiny_run
    resumed_dir = out / "resumed"
    resume = ["--resume", str(out / "latest.pt"), "--out", str(resumed_dir), "--total-steps", "300", "--workers", "1"]
    mix = ["--single-probability", "1.0", "--baseline", "scene", "--scene-repeats", "2"]
    code = train.main([*resume, *mix, "--lr", "2e-4", "--finger-drive", "compliant"])
    assert code == 0
    _, payload = load_checkpoint(resumed_dir / "latest.pt")
    assert payload["counters"]["updates"] == counters["updates"] + 1
    assert payload["counters"]["env_steps"] >= 300
    # The run's own config carries on, except the scene mix and baseline the command line set.
    saved = payload["config"]["train"]
    assert saved["input_size"] == 64
    assert (saved["single_probability"], saved["baseline"], saved["scene_repeats"]) == (1.0, "scene", 2)
    # The hand it now trains with is the hand its checkpoint is evaluated with.
    assert saved["finger_drive"] == "compliant" != train.TrainConfig().finger_drive
    assert load_model(resumed_dir / "latest.pt").world_config().hand.drive == "compliant"
    assert load_model(out / "latest.pt").world_config().hand.drive == train.TrainConfig().finger_drive
    # A new step size reaches Adam, whose saved state (lr 1e-3) was loaded on resume.
    assert payload["config"]["ppo"]["lr"] == 2e-4
    assert {g["lr"] for g in payload["optimizer_state"]["param_groups"]} == {2e-4}
    not_given = {"single_probability", "baseline", "scene_repeats", "finger_drive"}
    assert not not_given & set(train.parse_args(resume)[2])  # the run's stay
    # A second run of one recipe from the same weights: only an explicit --seed replaces the run's.
    assert "seed" not in train.parse_args(resume)[2]
    assert train.parse_args([*resume, "--seed", "7"])[2]["seed"] == 7
    assert train.parse_args([])[0].seed == train.TrainConfig().seed
    with pytest.raises(ValueError, match="drive"):  # e.g. a saved config naming a drive that does not exist
        train.TrainConfig(finger_drive="springy").env_config()
    for bad in (["--camera-px", "16"], ["--camera-px", "96", "--min-crop-px", "97"], ["--min-crop-px", "0"]):
        with pytest.raises(SystemExit):
            train.parse_args(bad)


def test_resume_ignores_saved_settings_this_version_does_not_have(tiny_run, tmp_path, capsys):
    """A checkpoint from a run with training modes since removed (its config saved them) resumes
    without them, and loads for evaluation."""
    out, _, _ = tiny_run
    payload = torch.load(out / "latest.pt", map_location="cpu", weights_only=False)
    payload["config"]["train"].update({"removed_mode": "local", "removed_weights": {"mug": 3.0}})
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    argv = ["--resume", str(old), "--out", str(tmp_path / "r"), "--total-steps", "1", "--workers", "1"]
    assert train.main(argv) == 0
    assert "ignoring saved settings this version does not have: removed_mode, removed_weights" in (
        capsys.readouterr().out
    )
    resumed = json.loads((tmp_path / "r" / "config.json").read_text())  # the config the resumed run trains with
    assert resumed["input_size"] == 64 and not {"removed_mode", "removed_weights"} & set(resumed)
    from pa_grasp_policy.planner.loading import load_model

    assert load_model(old).zoom_config == load_model(out / "latest.pt").zoom_config  # it loads, same zoom


def test_eval_cli_on_a_checkpoint_writes_json(tiny_run, tmp_path, capsys):
    out, _, _ = tiny_run
    report = tmp_path / "eval.json"
    code = evaluate.main(
        ["--checkpoint", str(out / "latest.pt"), "--attempts", "4", "--seeds", "2", "--json", str(report), "--quiet"]
    )
    assert code == 0
    data = json.loads(report.read_text())
    assert data["attempts"] == 4 and 0.0 <= data["success_rate"] <= 1.0 and data["std"] >= 0.0
    assert len(data["per_seed"]) == 2 and data["first_seed"] == 0
    # single scenes (the default): every attempt is tallied under its object's name
    assert sum(a for _, a in data["per_object"].values()) == 4
    assert sum(s for s, _ in data["per_object"].values()) == round(4 * data["success_rate"])
    assert [len(seed) for seed in data["per_attempt"]] == [2, 2]  # every attempt, for paired comparisons
    assert sum(map(sum, data["per_attempt"])) == round(4 * data["success_rate"])
    assert data["finger_drive"] == train.TrainConfig().finger_drive  # the run's hand
    assert "success" in capsys.readouterr().out
    # The hand can be overridden for an evaluation, and the JSON says so.
    code = evaluate.main(
        ["--checkpoint", str(out / "latest.pt"), "--attempts", "2", "--seeds", "1", "--json", str(report), "--quiet"]
        + ["--finger-drive", "compliant"]
    )
    assert code == 0 and json.loads(report.read_text())["finger_drive"] == "compliant"


def test_eval_cli_rejects_bad_checkpoints(tmp_path, capsys):
    assert evaluate.main(["--checkpoint", str(tmp_path / "missing.pt"), "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    assert evaluate.main(["--checkpoint", str(garbage), "--quiet"]) == 2
    assert "garbage.pt" in capsys.readouterr().err
    assert train.main(["--resume", str(garbage), "--out", str(tmp_path / "r")]) == 2


def test_eval_cli_rejects_an_impossible_camera_angle(capsys):
    args = ["--baseline", "heuristic", "--attempts", "1", "--seeds", "1", "--quiet", "--camera-angle", "120"]
    assert evaluate.main(args) == 2
    assert "view angle must be in (0, 90]" in capsys.readouterr().err


def test_ship_writes_weights_without_optimizer_and_a_card(tiny_run, tmp_path):
    from pa_grasp_policy.training import ship

    out, counters, _ = tiny_run
    target = tmp_path / "state" / "main.pt"
    note = "warm start kept as training_state/x.pt"
    assert ship.main(["--checkpoint", str(out / "latest.pt"), "--out", str(target), "--note", note]) == 0
    policy, payload = load_checkpoint(target)
    assert payload["optimizer_state"] is None
    assert payload["counters"]["updates"] == counters["updates"]
    card = target.with_suffix(".md").read_text()
    assert "training state" in card and "PPO updates: 2" in card
    assert f"--resume {os.path.relpath(target)}" in card  # the kept file, which every clone has
    assert f"- {note}\n" in card
    # It resumes: weights, config and counters come back, Adam restarts.
    assert (
        train.main(["--resume", str(target), "--out", str(tmp_path / "r"), "--total-steps", "1", "--workers", "1"]) == 0
    )


def _sigterm_once(argv: list[str], ready: Path, what: str) -> tuple[subprocess.Popen, str]:
    """Start `pa-grasp-train argv` in its own process group, SIGTERM it as soon as `ready`
    exists (within 120 s, else the test fails with `what`), and return it with its output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pa_grasp_policy.training.train", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the workers can be looked for afterwards
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, what
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc, output


def test_sigterm_stops_training_cleanly(tmp_path):
    """`kill` on a long run: exit status 130, no process left behind, latest.pt loads."""
    out = tmp_path / "killed"
    argv = ["--out", str(out), "--total-steps", "100000", "--workers", "1", "--batch-size", "40"]
    argv += ["--minibatch-size", "20", "--update-epochs", "1", "--input-size", "64", "--threads", "1"]
    argv += ["--eval-every", "1000"]
    proc, output = _sigterm_once(argv, out / "latest.pt", "no update finished in 120 s")
    assert proc.returncode == 130, output
    assert "latest.pt holds the last finished update" in output
    deadline = time.monotonic() + 15  # the rollout worker (and multiprocessing's tracker) go with it
    while _live_processes_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _live_processes_in_group(proc.pid)
    _, payload = load_checkpoint(out / "latest.pt")
    assert payload["counters"]["updates"] >= 1


def test_a_run_stopped_before_its_first_update_says_nothing_was_written(tmp_path):
    out = tmp_path / "early"
    argv = ["--out", str(out), "--total-steps", "100000", "--workers", "1", "--batch-size", "400", "--threads", "1"]
    # config.json is written at the start; 400 steps take far longer than the signal
    proc, output = _sigterm_once(argv, out / "config.json", "the run did not start in 120 s")
    assert proc.returncode == 130, output
    assert "stopped before the first update finished; nothing written to" in output
    assert not (out / "latest.pt").exists()


@pytest.mark.parametrize("flags", [["--total-steps", "0"], ["--hours", "-1"], ["--hours", "nan"]])
def test_nonsense_budgets_are_refused(tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as stopped:
        train.main(["--out", str(tmp_path / "r"), *flags])
    assert stopped.value.code == 2
    assert flags[0] in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def _live_processes_in_group(pgid: int) -> list[int]:
    """PIDs in process group `pgid` that are not zombies (an orphaned zombie waits for a reaper
    this container may not have; it holds no resources)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


def test_the_training_configs_default_hand_is_the_simulators():
    """config.py names the default drive without importing the simulator; it must stay the sim's."""
    from pa_grasp_sim.hand import HandConfig

    assert train.TrainConfig().finger_drive == HandConfig.drive
