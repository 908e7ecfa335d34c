"""Experiment kept with its results (not part of the package): two test-time variants of the
deterministic policy, evaluated like `pa-grasp-eval`.

* prediction ensemble of several checkpoints: position log-softmax and head pre-activations
  (at the chosen pixel) averaged over the members, then the usual mode;
* blurred mode: the argmax of the position probabilities after a Gaussian blur of radius R
  pixels (the centre of a high-probability region instead of its single highest pixel);
* another input side than the one trained at, without retraining (the network is fully
  convolutional, so only the size objects appear at in pixels changes). With one checkpoint
  and no blur the policy is the plain one: the mode of a log-softmax is the mode of its logits.

    python docs/evals/not_shipped/test_time/test_time_variants.py CKPT [CKPT ...] [--blur R]
        [--input-size S] [--scene single] [--objects seen] [--attempts 600] [--seeds 15]
        [--first-seed 400] [--json F]

The ensemble and blur JSONs here were written by a first draft (the same maths, without the
`blur` and `seeds` keys); the input 112 and 128 JSONs of seeds 400-414 by a first draft of the
input-size variant (without the `who`, `input_size` and `seeds` keys).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from pa_grasp_policy.distribution import PixelActionDistribution
from pa_grasp_policy.evaluate import load_policy, policy_chooser
from pa_grasp_policy.policy import Policy
from pa_grasp_sim.evaluation import EvalConfig, evaluate


def blurred_log_probs(log_probs: torch.Tensor, radius: int) -> torch.Tensor:
    """(B,H,W) position log-probabilities -> log of their Gaussian blur (σ = radius / 1.5)."""
    taps = torch.arange(2 * radius + 1, dtype=log_probs.dtype) - radius
    g = torch.exp(-0.5 * (taps / max(radius / 1.5, 0.5)) ** 2)
    kernel = g[:, None] * g[None, :]
    kernel = (kernel / kernel.sum())[None, None]
    prob = torch.softmax(log_probs.flatten(1), 1).view_as(log_probs)[:, None]
    return torch.log(torch.nn.functional.conv2d(prob, kernel, padding=radius)[:, 0].clamp_min(1e-30))


class TestTimePolicy(Policy):
    """Policy whose distribution averages `members` and optionally blurs the position map."""

    def __init__(self, members: list[Policy], blur: int = 0):
        super().__init__(members[0].config, members[0].constraints)
        self.members = torch.nn.ModuleList(members)
        self.blur = blur

    def distribution(self, obs):
        encs = [m.net.encode(obs.depth, obs.scale) for m in self.members]
        per_member = []
        for m, enc in zip(self.members, encs):
            logits = m.net.position_logits(enc, obs.scale)
            per_member.append(torch.log_softmax(logits.flatten(1), 1).view_as(logits))
        log_probs = torch.stack(per_member).mean(0)
        if self.blur:
            log_probs = blurred_log_probs(log_probs, self.blur)

        def heads(pixel):
            return torch.stack([m.net.heads_at(e, obs.scale, pixel) for m, e in zip(self.members, encs)]).mean(0)

        log_std = torch.stack([m.net.log_std for m in self.members]).mean(0)
        return PixelActionDistribution(log_probs, heads, log_std, obs.must_grasp, self.constraints), encs[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--blur", type=int, default=0, help="blur radius of the position map in pixels (0: off)")
    p.add_argument("--input-size", type=int, help="run at this input side (default: the checkpoint's)")
    p.add_argument("--scene", default="single")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=600)
    p.add_argument("--seeds", type=int, default=15)
    p.add_argument("--first-seed", type=int, default=400)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(1)
    loaded = [load_policy(c) for c in a.checkpoints]
    policy = TestTimePolicy([policy for policy, _, _ in loaded], a.blur).eval()
    _, zoom_cfg, world_cfg = loaded[0]
    if a.input_size:
        for member in policy.members:
            member.net.set_input_size(a.input_size)
        zoom_cfg = dataclasses.replace(zoom_cfg, input_size=a.input_size)
    cfg = EvalConfig(
        scene=a.scene, objects=a.objects, attempts=a.attempts, seeds=a.seeds, first_seed=a.first_seed, world=world_cfg
    )
    result = evaluate(policy_chooser(policy, zoom_cfg), cfg, None)
    report = {"who": a.checkpoints, "blur": a.blur, "input_size": zoom_cfg.input_size, "scene": a.scene}
    report.update(objects=a.objects, seeds=a.seeds, first_seed=a.first_seed, **result.to_dict())
    print(
        f"input {zoom_cfg.input_size}, {a.scene} {a.objects}: "
        f"{100 * result.success_rate:.1f} ± {100 * result.std:.1f} % ({result.attempts})"
    )
    print("by family: " + ", ".join(f"{n} {s}/{t}" for n, s, t in result.families_by_success()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
