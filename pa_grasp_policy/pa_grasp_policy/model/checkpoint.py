"""Policy checkpoints: atomic save, validated load (``torch.load(weights_only=True)``).

Payload (plain Python types + tensors only, so loading never unpickles code):

    format_version   int, FORMAT_VERSION
    kind             "pa_grasp_policy"
    network_config   dict (NetworkConfig.to_dict())
    constraints      dict (DofConstraints.to_dict())
    model_state      policy state dict
    optimizer_state  optimizer state dict or None
    config           dict, anything the trainer wants to keep (plain types)
    counters         dict, e.g. {"update": 12, "env_steps": 6000}
    versions         {"format", "torch", "numpy", "python"}
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pickle
import platform
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from pa_grasp_policy.model.distribution import DofConstraints
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy

FORMAT_VERSION = 1
KIND = "pa_grasp_policy"
REQUIRED_KEYS = ("format_version", "network_config", "constraints", "model_state", "config", "counters", "versions")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read; the message says which file and why."""


def _plain(obj: Any, where: str) -> Any:
    """Convert to types ``torch.load(weights_only=True)`` accepts, or raise CheckpointError."""
    if obj is None or isinstance(obj, torch.Tensor):
        return obj
    for t in (bool, int, float, str):  # also plain-ify subclasses (e.g. torch.TorchVersion)
        if isinstance(obj, t):
            return t(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj), where)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise CheckpointError(f"{where}: dict key {k!r} is not a str/int")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(obj, list | tuple):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise CheckpointError(f"{where}: cannot store a {type(obj).__name__} in a checkpoint (plain types only)")


STALE_TEMP_S = 600.0  # a write takes seconds; a temp file this old was left by a killed one


def _remove_stale_temps(path: Path) -> None:
    now = time.time()
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if now - leftover.stat().st_mtime > STALE_TEMP_S:
                leftover.unlink()


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """`write(file)` to a temp file beside `path`, fsync, then os.replace (and fsync the
    directory): a killed write never leaves a half file, and the previous version stays until
    the new one is whole. Checkpoints, turn selectors and collections are written this way. Temp
    files a killed write left beside `path` are removed once they are STALE_TEMP_S old (a write
    in flight elsewhere is younger)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def save_checkpoint(
    path: str | os.PathLike,
    policy: Policy,
    optimizer: torch.optim.Optimizer | None = None,
    config: dict | None = None,
    counters: dict | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file in the same directory, fsync, os.replace)."""
    path = Path(path)
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "network_config": policy.config.to_dict(),
        "constraints": policy.constraints.to_dict(),
        "model_state": {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()},
        "optimizer_state": None if optimizer is None else _plain(optimizer.state_dict(), "optimizer_state"),
        "config": _plain(dict(config or {}), "config"),
        "counters": _plain(dict(counters or {}), "counters"),
        "versions": {
            "format": FORMAT_VERSION,
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    try:
        return write_atomically(path, lambda f: torch.save(payload, f))
    except Exception as e:
        raise CheckpointError(f"could not write checkpoint {path}: {e}") from e


def read_payload(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load and validate the raw payload (no model construction)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint path is not a file: {path}")
    _check_archive(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt file?): {e}") from e
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain types, so it was not written by "
            f"save_checkpoint (refusing to unpickle arbitrary code): {_unpickler_complaint(e)}"
        ) from e
    except Exception as e:  # torch.load fails in many ways on damaged files (zip, pickle, memo KeyError)
        size = path.stat().st_size
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt file? {size} bytes): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path} is not a pa_grasp policy checkpoint (no 'format_version' entry)")
    if payload.get("kind", KIND) != KIND:
        raise CheckpointError(f"{path} is a {payload.get('kind')!r} checkpoint, expected {KIND!r}")
    version = payload["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}; this code reads version {FORMAT_VERSION}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is missing checkpoint entries: {', '.join(missing)}")
    return payload


ZIP_MAGIC = b"PK\x03\x04"


def _check_archive(path: Path) -> None:
    """torch.save (so save_checkpoint) writes a zip archive. Telling a file that is not one
    (or a cut-off one) apart before unpickling gives the user the real reason; otherwise the
    unpickler's complaint about the first byte it dislikes reads like a security problem."""
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint (an interrupted copy or download?)")
    if zipfile.is_zipfile(path):
        return
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(ZIP_MAGIC):
        raise CheckpointError(
            f"{path} is a truncated or corrupt checkpoint ({size} bytes, its zip directory is missing:"
            " an interrupted copy or download?)"
        )
    raise CheckpointError(
        f"{path} is not a checkpoint: save_checkpoint writes a zip archive (torch.save), this file"
        f" ({size} bytes) starts with {head!r} (the wrong file, or one overwritten with something else)"
    )


def _unpickler_complaint(error: Exception) -> str:
    """The weights-only unpickler's own reason, without torch's advice to file an issue."""
    text = str(error)
    reason = text.split("WeightsUnpickler error:", 1)[-1].strip() if "WeightsUnpickler error:" in text else text
    return reason.split(". ")[0].strip() or "unsupported content"


def _check_state_shapes(path: Path, policy: Policy, state: dict):
    own = policy.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing parameters {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected parameters {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    if mismatched:
        problems.append("shape mismatch: " + "; ".join(mismatched[:5]) + (" ..." if len(mismatched) > 5 else ""))
    if problems:
        raise CheckpointError(f"{path}: model state does not fit its network config: " + " | ".join(problems))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[Policy, dict]:
    """Rebuild the policy from a checkpoint. Returns (policy, payload).

    The optimizer state (payload["optimizer_state"], may be None) is restored by the caller:
    ``optimizer.load_state_dict(payload["optimizer_state"])`` on an optimizer over
    ``policy.parameters()``.
    """
    path = Path(path)
    payload = read_payload(path, map_location)
    try:
        net_config = NetworkConfig.from_dict(dict(payload["network_config"]))
        constraints = DofConstraints.from_dict(dict(payload["constraints"]))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: invalid network config / constraints: {e}") from e
    policy = Policy(net_config, constraints)
    state = payload["model_state"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: model_state is not a state dict")
    _check_state_shapes(path, policy, state)
    policy.load_state_dict(state)
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path}: non-finite values in parameters {bad[:5]}")
    policy.to(map_location)
    return policy, payload
