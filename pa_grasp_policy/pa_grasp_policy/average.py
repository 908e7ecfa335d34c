"""Average the weights of several checkpoints of one training run into one policy.

    python -m pa_grasp_policy.average --checkpoints runs/x/snapshots/*.pt --out runs/x/averaged.pt

Not in the paper. Late in a PPO run the weights keep moving around a good region: consecutive
checkpoints differ by a few points of success on the same scenes. The mean of several of them
(stochastic weight averaging, Izmailov et al. 2018; used for policy-gradient RL by Nikishin et
al. 2018) sits nearer the middle of that region. The network has no normalisation layers, so a
plain mean of the parameters is the whole method. Only checkpoints with the same network and
DOF constraints can be averaged; the written file has no optimizer state (Adam restarts if it is
resumed) and its counters are the newest input's, plus the list of averaged updates.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from pa_grasp_policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pa_grasp_policy.policy import Policy


def average_checkpoints(paths: list[str | os.PathLike]) -> tuple[Policy, dict, list[int]]:
    """(policy with the mean weights, payload of the input with the most updates, sorted updates)."""
    if len(paths) < 2:
        raise CheckpointError(f"averaging needs at least two checkpoints, got {len(paths)}")
    loaded = [(Path(p), *load_checkpoint(p)) for p in paths]
    first_path, policy, first = loaded[0]
    for path, _, payload in loaded[1:]:
        for key in ("network_config", "constraints"):
            if payload[key] != first[key]:
                raise CheckpointError(
                    f"{path} has a different {key} than {first_path}; only checkpoints of one network can be averaged"
                )
    states = [p.state_dict() for _, p, _ in loaded]
    mean = {k: torch.stack([s[k] for s in states]).mean(0) for k in states[0]}
    policy.load_state_dict(mean)
    payloads = [payload for _, _, payload in loaded]
    newest = max(payloads, key=lambda pl: pl["counters"].get("updates", 0))
    return policy, newest, sorted(int(pl["counters"].get("updates", 0)) for pl in payloads)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", required=True, help="checkpoints of one run (two or more)")
    p.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    args = p.parse_args(argv)
    out = Path(args.out)
    if any(out.resolve() == Path(c).resolve() for c in args.checkpoints):
        p.error(f"--out {out} is one of the inputs; write the average to a new file")
    try:
        policy, newest, updates = average_checkpoints(args.checkpoints)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    counters = {**newest["counters"], "averaged_updates": updates}
    save_checkpoint(out, policy, None, newest.get("config", {}), counters)
    print(f"wrote {out}: mean of {len(args.checkpoints)} checkpoints (updates {updates})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
