import datetime
import math
import os

import numpy as np
import pytest
import torch

from pa_grasp_policy.model.checkpoint import (
    FORMAT_VERSION,
    STALE_TEMP_S,
    CheckpointError,
    load_checkpoint,
    read_payload,
    save_checkpoint,
)
from pa_grasp_policy.model.distribution import DofConstraints
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.training.ppo import PPOConfig, make_optimizer


def trained_policy():
    policy = Policy(NetworkConfig(input_size=32, head_hidden=16), DofConstraints(fixed={"spread": 0.0}))
    opt = make_optimizer(policy, PPOConfig(lr=1e-3))
    obs = ObsBatch(torch.randn(4, 1, 32, 32), torch.rand(4), torch.zeros(4, dtype=torch.bool))
    action, _ = policy.act(obs)
    lp, _ = policy.evaluate(obs, action)
    (-lp.mean()).backward()
    opt.step()
    return policy, opt, obs


def test_round_trip_same_deterministic_action(tmp_path):
    policy, opt, obs = trained_policy()
    path = tmp_path / "ckpt" / "policy.pt"
    cfg = {"ppo": PPOConfig(), "scene": "clutter", "sizes": (1, 2), "arr": np.arange(3), "path": tmp_path}
    save_checkpoint(path, policy, opt, config=cfg, counters={"update": 3, "env_steps": np.int64(1500)})
    assert os.listdir(path.parent) == ["policy.pt"]  # no temp file left behind

    loaded, payload = load_checkpoint(path)
    assert loaded.config == policy.config and loaded.constraints == policy.constraints
    a1, lp1 = policy.act(obs, deterministic=True)
    a2, lp2 = loaded.act(obs, deterministic=True)
    for x, y in zip((a1.pixel, a1.zoom, a1.scale_raw, a1.dofs_raw), (a2.pixel, a2.zoom, a2.scale_raw, a2.dofs_raw)):
        assert torch.equal(x, y)
    torch.testing.assert_close(lp1, lp2)
    assert payload["counters"] == {"update": 3, "env_steps": 1500}
    assert payload["config"]["ppo"]["lr"] == 1e-4 and payload["config"]["sizes"] == (1, 2)
    assert payload["config"]["path"] == str(tmp_path)
    assert payload["versions"]["format"] == FORMAT_VERSION and payload["versions"]["torch"] == torch.__version__
    opt2 = make_optimizer(loaded, PPOConfig(lr=1e-3))
    opt2.load_state_dict(payload["optimizer_state"])
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]

    # overwrite in place (atomic replace), without an optimizer
    save_checkpoint(path, loaded, None)
    assert read_payload(path)["optimizer_state"] is None


def test_missing_truncated_and_foreign_files(tmp_path):
    policy, _, _ = trained_policy()
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    good = save_checkpoint(tmp_path / "good.pt", policy)
    data = good.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(trunc)
    for name, content in (("hello", b"hello"), ("garbage", b"garbage\n"), ("png", b"\x89PNG\r\n\x1a\n" + bytes(64))):
        other = tmp_path / f"{name}.pt"
        other.write_bytes(content)
        with pytest.raises(CheckpointError, match=r"is not a checkpoint: .* starts with b'"):
            load_checkpoint(other)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_checkpoint(empty)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a pa_grasp policy checkpoint"):
        load_checkpoint(foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format_version": FORMAT_VERSION, "when": datetime.date(2020, 1, 1)}, pickled)
    with pytest.raises(CheckpointError, match="objects other than tensors") as raised:
        load_checkpoint(pickled)
    assert "datetime" in str(raised.value) and "file an issue" not in str(raised.value)


def _tampered(tmp_path, policy, name, change):
    path = save_checkpoint(tmp_path / f"{name}.pt", policy)
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


def test_wrong_version_missing_keys_and_shape_mismatch(tmp_path):
    policy, _, _ = trained_policy()
    p = _tampered(tmp_path, policy, "v99", lambda d: d.update(format_version=99))
    with pytest.raises(CheckpointError, match=f"format version 99; this code reads version {FORMAT_VERSION}"):
        load_checkpoint(p)
    p = _tampered(tmp_path, policy, "nokeys", lambda d: (d.pop("model_state"), d.pop("counters")))
    with pytest.raises(CheckpointError, match="missing checkpoint entries: model_state, counters"):
        load_checkpoint(p)
    p = _tampered(tmp_path, policy, "shape", lambda d: d["network_config"].update(head_hidden=24))
    with pytest.raises(CheckpointError, match="shape mismatch: net.b_attention"):
        load_checkpoint(p)
    p = _tampered(tmp_path, policy, "extra", lambda d: d["model_state"].update(bogus=torch.zeros(1)))
    with pytest.raises(CheckpointError, match="unexpected parameters"):
        load_checkpoint(p)
    p = _tampered(tmp_path, policy, "cfg", lambda d: d["network_config"].update(input_size=30))
    with pytest.raises(CheckpointError, match="invalid network config"):
        load_checkpoint(p)

    def nan(d):
        d["model_state"]["net.log_std"][0] = math.nan

    with pytest.raises(CheckpointError, match="non-finite"):
        load_checkpoint(_tampered(tmp_path, policy, "nan", nan))


def test_unstorable_config_is_rejected_and_nothing_written(tmp_path):
    policy, _, _ = trained_policy()
    with pytest.raises(CheckpointError, match="config.obj"):
        save_checkpoint(tmp_path / "x.pt", policy, config={"obj": object()})
    assert os.listdir(tmp_path) == []


def test_cards_and_reports_name_the_source_file_not_the_build_symlink(tmp_path, monkeypatch):
    from pa_grasp_policy.planner.loading import shown_path

    source = tmp_path / "src" / "models" / "pa_grasp.pt"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"weights")
    build = tmp_path / "build" / "models"
    build.mkdir(parents=True)
    (build / "pa_grasp.pt").symlink_to(source)  # what colcon's --symlink-install leaves in build/
    monkeypatch.chdir(tmp_path)
    assert shown_path(build / "pa_grasp.pt") == os.path.join("src", "models", "pa_grasp.pt")


def test_model_card_tells_validation_seeds_from_the_protocol_ones():
    from pa_grasp_policy.training.ship import model_card

    result = {"scene": "single", "objects": "seen", "success_rate": 0.8, "std": 0.05, "attempts": 200, "seeds": 5}
    protocol = {**result, "who": "runs/a/update_0335.pt", "first_seed": 0}
    validation = {**result, "who": "runs/a/update_0335.pt", "first_seed": 300, "seeds": 15, "attempts": 600}
    card = model_card({}, 10, [protocol, validation], "runs/a/update_0335.pt", shipped=False)
    assert "| update_0335.pt | single | seen | 80.0 | 5.0 | 200 | 5 |" in card
    assert "| update_0335.pt | single | seen | 80.0 | 5.0 | 600 | 15 from 300 |" in card


def test_resized_network_keeps_its_weights_and_saves_its_new_size(tmp_path):
    policy, _, _ = trained_policy()
    obs64 = ObsBatch(torch.randn(3, 1, 64, 64), torch.rand(3), torch.tensor([False, True, False]))
    weights = {k: v.clone() for k, v in policy.state_dict().items()}
    policy.net.set_input_size(64)
    with pytest.raises(ValueError):
        policy.net.set_input_size(50)  # not a multiple of 16: refused, size unchanged
    assert policy.config.input_size == 64
    assert all(torch.equal(weights[k], v) for k, v in policy.state_dict().items())

    path = tmp_path / "resized.pt"
    save_checkpoint(path, policy, None)
    loaded, payload = load_checkpoint(path)
    assert loaded.config.input_size == 64 and payload["network_config"]["input_size"] == 64
    a1, _ = policy.act(obs64, deterministic=True)
    a2, _ = loaded.act(obs64, deterministic=True)
    assert torch.equal(a1.pixel, a2.pixel) and torch.equal(a1.dofs_raw, a2.dofs_raw)
    assert int(a1.pixel.max()) < 64 * 64


def test_shipping_keeps_a_matching_turn_selector_in_the_card_and_removes_a_stale_one(tmp_path, capsys):
    from pa_grasp_policy.planner.selector import fit_selector, weights_sha256
    from pa_grasp_policy.training.ship import turn_selector_lines

    torch.manual_seed(0)
    policy = Policy(NetworkConfig(input_size=32))
    x = np.random.default_rng(0).normal(size=(40, 3))
    path = tmp_path / "pa_grasp_selector.json"
    provenance = {"collections": ["a.npz: 10 scenes, seeds 300-301"], "grasps": 40, "lifted": 20, "l2": 0.01}
    fit_selector(x, x[:, 0] > 0, weights_sha256(policy), provenance=provenance).save(path)
    lines = "\n".join(turn_selector_lines(path, policy))
    assert "## Turn selector" in lines and weights_sha256(policy)[:8] in lines and "a.npz: 10 scenes" in lines
    assert path.is_file()
    other = Policy(NetworkConfig(input_size=32))  # other random weights
    assert turn_selector_lines(path, other) == [] and not path.exists()
    assert "fitted for other weights" in capsys.readouterr().err
    path.write_text("{ truncated")
    assert turn_selector_lines(path, policy) == [] and path.read_text() == "{ truncated"
    assert "unreadable" in capsys.readouterr().err


def test_a_save_removes_the_temp_files_killed_saves_left_and_no_write_in_flight(tmp_path):
    path = tmp_path / "latest.pt"
    left = tmp_path / ".latest.pt.k1ll3d.tmp"  # what a save killed before its rename leaves
    in_flight = tmp_path / ".latest.pt.wr1t1ng.tmp"  # another process writing now
    other = tmp_path / ".best.pt.k1ll3d.tmp"  # another file's
    for f in (left, in_flight, other):
        f.write_bytes(b"half a checkpoint")
    old = datetime.datetime.now().timestamp() - STALE_TEMP_S - 60
    os.utime(left, (old, old))
    os.utime(other, (old, old))
    save_checkpoint(path, Policy(NetworkConfig(input_size=32)))
    assert load_checkpoint(path) is not None
    assert not left.exists() and in_flight.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, in_flight.name, other.name])
