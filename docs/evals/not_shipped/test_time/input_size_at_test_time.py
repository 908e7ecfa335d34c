"""Experiment kept with its results (not part of the package): a checkpoint run at another
input side than it was trained at, without retraining (the network is fully convolutional, so
only the size objects appear at in pixels changes), evaluated like `pa-grasp-eval`.

    python docs/evals/not_shipped/test_time/input_size_at_test_time.py --input-size 128
        [--checkpoint CKPT] [--scene single] [--objects seen] [--attempts 600] [--seeds 15]
        [--first-seed 400] [--json F]

The two JSONs here were written by a first draft of this script (the same evaluation, without
the `who`, `input_size` and `seeds` keys).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from pa_grasp_policy.evaluate import load_policy, policy_chooser
from pa_grasp_sim.evaluation import EvalConfig, evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input-size", type=int, required=True)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--scene", default="single")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=600)
    p.add_argument("--seeds", type=int, default=15)
    p.add_argument("--first-seed", type=int, default=400)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(1)
    policy, zoom_cfg, world_cfg = load_policy(a.checkpoint)
    policy.net.set_input_size(a.input_size)
    zoom_cfg = dataclasses.replace(zoom_cfg, input_size=a.input_size)
    cfg = EvalConfig(
        scene=a.scene, objects=a.objects, attempts=a.attempts, seeds=a.seeds, first_seed=a.first_seed, world=world_cfg
    )
    result = evaluate(policy_chooser(policy, zoom_cfg), cfg, None)
    report = {"who": a.checkpoint or "shipped", "input_size": a.input_size, "scene": a.scene, "objects": a.objects}
    report.update(seeds=a.seeds, first_seed=a.first_seed, **result.to_dict())
    print(f"input {a.input_size}, {a.scene} {a.objects}: {100 * result.success_rate:.1f} ± {100 * result.std:.1f} %")
    print("by family: " + ", ".join(f"{n} {s}/{t}" for n, s, t in result.families_by_success()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
