import pytest
import torch

from pa_grasp_policy.average import average_checkpoints, main
from pa_grasp_policy.checkpoint import load_checkpoint, save_checkpoint
from pa_grasp_policy.distribution import DofConstraints
from pa_grasp_policy.network import NetworkConfig
from pa_grasp_policy.policy import ObsBatch, Policy


def _policy(seed: int, constraints: DofConstraints | None = None) -> Policy:
    torch.manual_seed(seed)
    return Policy(NetworkConfig(input_size=32, head_hidden=16), constraints or DofConstraints())


def test_average_is_the_parameter_mean_and_keeps_the_newest_counters(tmp_path):
    policies = [_policy(s) for s in (0, 1, 2)]
    paths = []
    for i, (policy, update) in enumerate(zip(policies, (30, 10, 20))):
        paths.append(save_checkpoint(tmp_path / f"u{i}.pt", policy, None, {"run": i}, {"updates": update}))

    averaged, newest, updates = average_checkpoints(paths)
    assert updates == [10, 20, 30] and newest["config"] == {"run": 0}
    states = [p.state_dict() for p in policies]
    for name, value in averaged.state_dict().items():
        torch.testing.assert_close(value, (states[0][name] + states[1][name] + states[2][name]) / 3)

    out = tmp_path / "avg.pt"
    assert main(["--checkpoints", *map(str, paths), "--out", str(out)]) == 0
    loaded, payload = load_checkpoint(out)
    assert payload["counters"] == {"updates": 30, "averaged_updates": [10, 20, 30]}
    assert payload["optimizer_state"] is None
    obs = ObsBatch(torch.rand(3, 1, 32, 32), torch.rand(3), torch.zeros(3, dtype=torch.bool))
    a1, _ = averaged.act(obs, deterministic=True)
    a2, _ = loaded.act(obs, deterministic=True)
    assert torch.equal(a1.pixel, a2.pixel) and torch.equal(a1.dofs_raw, a2.dofs_raw)


def test_different_networks_single_inputs_and_overwriting_an_input_are_refused(tmp_path, capsys):
    a = save_checkpoint(tmp_path / "a.pt", _policy(0), None, {}, {"updates": 1})
    b = save_checkpoint(tmp_path / "b.pt", _policy(1, DofConstraints(fixed={"spread": 0.0})), None, {}, {"updates": 2})
    before = b.read_bytes()
    assert main(["--checkpoints", str(a), str(b), "--out", str(tmp_path / "avg.pt")]) == 2
    assert "different constraints" in capsys.readouterr().err
    assert main(["--checkpoints", str(a), "--out", str(tmp_path / "avg.pt")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert not (tmp_path / "avg.pt").exists()
    with pytest.raises(SystemExit):
        main(["--checkpoints", str(a), str(b), "--out", str(b)])
    assert b.read_bytes() == before
