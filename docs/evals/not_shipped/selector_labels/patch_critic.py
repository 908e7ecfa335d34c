"""Does a critic that sees the depth around each turned grasp pick among the four better than
the linear selector on the policy's features? (analysis only, 2026-12-01)

Data: collections made with `pa-grasp-selector collect --small-errors` after the executed grasps
were saved (robust_more_single_seen_s*.npz, 1,200 single seen scenes). The depth of each scene
is rendered again from its seed (the evaluation's scenes are seeded; spot check: the policy's
turn-0 grasp on the re-rendered depth equals the saved one within 4e-6 px on 30 scenes). Per
grasp, a 48 x 48 px window around the grasp pixel, turned by the grasp's yaw so the hand's
closing direction is always the same image axis, heights relative to the grasp point (clipped to
+-10 cm), resampled to 24 x 24; plus sin/cos of roll, pitch, spread and the three finger values.
A small CNN scores it; fitted to each grasp's robust fraction (lifted in how many of its five
executions). 5-fold cross-validation by scene, counted as the scenes whose picked grasp lifted
in its one exact execution, against the shipped recipe (linear, exact outcome) on the same
folds. Rule fixed before running: held-out scenes only if a critic is 10 scenes ahead.

    python docs/evals/not_shipped/selector_labels/patch_critic.py --json F
"""

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from folds import scene_folds  # beside this script

from pa_grasp_policy.selector_cli import rendered_depths
from pa_grasp_policy.turn_selection import TURNS, fit_selector
from pa_grasp_sim.world import WorldConfig

HERE = Path(__file__).resolve().parent
WINDOW, PATCH = 48, 24


def render_depths(collection) -> np.ndarray:
    return np.stack(rendered_depths(collection, WorldConfig())).astype(np.float32)


def patch(depth: np.ndarray, u: float, v: float, yaw: float) -> np.ndarray:
    """The window around (u, v), turned by yaw, heights relative to the grasp point."""
    # Patch pixel (x, y) samples the image at (u, v) + scale * R(yaw) @ ((x, y) - centre).
    scale, centre = WINDOW / PATCH, PATCH / 2 - 0.5
    c, s = math.cos(yaw), math.sin(yaw)
    linear = scale * np.array([[c, -s], [s, c]])
    to_image = np.hstack([linear, (np.array([u, v]) - linear @ [centre, centre])[:, None]])
    filled = np.where(np.isfinite(depth), depth, np.nanmax(depth)).astype(np.float32)
    window = cv2.warpAffine(
        filled, to_image, (PATCH, PATCH), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    row, col = int(round(v)), int(round(u))
    grasp_depth = float(np.median(filled[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]))
    return np.clip(grasp_depth - window, -0.1, 0.1) * 10.0  # height above the grasp point, in dm


def inputs(depths, grasps):
    patches = np.zeros((*grasps.shape[:2], PATCH, PATCH), np.float32)
    for i in range(len(grasps)):
        for k in range(TURNS):
            u, v, _, _, yaw = grasps[i, k, :5]
            patches[i, k] = patch(depths[i], u, v, yaw)
    roll, pitch = grasps[..., 2], grasps[..., 3]
    scalars = np.stack(
        [np.sin(roll), np.cos(roll), pitch, grasps[..., 5], grasps[..., 6], grasps[..., 7], grasps[..., 8]], -1
    ).astype(np.float32)
    return patches, scalars


class Critic(torch.nn.Module):
    def __init__(self, extra: int):
        super().__init__()
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 5, stride=2, padding=2),
            torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Sequential(
            torch.nn.Linear(32 * 6 * 6 + extra, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
        )

    def forward(self, patches, extra):
        return self.head(torch.cat([self.conv(patches[:, None]), extra], 1)).squeeze(1)


def fit_critic(patches, extra, target, epochs: int = 25, seed: int = 0):
    torch.manual_seed(seed)
    p = torch.from_numpy(patches.reshape(-1, PATCH, PATCH))
    e = torch.from_numpy(extra.reshape(-1, extra.shape[-1]))
    t = torch.from_numpy(target.reshape(-1).astype(np.float32))
    net = Critic(e.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    for _ in range(epochs):
        for idx in torch.randperm(len(t)).split(128):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(p[idx], e[idx]), t[idx]).backward()
            opt.step()
    net.eval()

    def scores(patches, extra):
        with torch.no_grad():
            out = net(
                torch.from_numpy(patches.reshape(-1, PATCH, PATCH)), torch.from_numpy(extra.reshape(-1, e.shape[1]))
            )
        return out.numpy().reshape(-1, TURNS)

    return scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(2)
    # The 1,200 scenes this was run on (seeds 1200-1229); the 1400-1459 ones came later.
    files = [HERE / f"robust_more_single_seen_s{s}x15.npz" for s in (1200, 1215)]
    data = [np.load(f) for f in files]
    depths = np.concatenate([render_depths(d) for d in data])
    grasps = np.concatenate([d["grasp"] for d in data])
    features = np.concatenate([d["features"] for d in data]).astype(np.float64)
    lifted = np.concatenate([d["lifted"] for d in data])
    errors = np.concatenate([d["lifted_with_errors"] for d in data])
    robust = (lifted + errors.sum(-1)) / (1 + errors.shape[-1])
    patches, scalars = inputs(depths, grasps)
    standardised = (
        (features - features.reshape(-1, features.shape[-1]).mean(0))
        / (features.reshape(-1, features.shape[-1]).std(0) + 1e-6)
    ).astype(np.float32)
    n = len(lifted)
    totals = {"linear_exact": 0, "critic_patch": 0, "critic_patch_features": 0}
    for k, (train, test) in enumerate(scene_folds(n)):
        rows = np.arange(len(test))
        linear = fit_selector(
            features[train].reshape(-1, features.shape[-1]), lifted[train].reshape(-1).astype(float), "", 1e-2
        )
        pick = linear.scores(features[test].reshape(-1, features.shape[-1])).reshape(-1, TURNS).argmax(1)
        totals["linear_exact"] += int(lifted[test][rows, pick].sum())
        for name, extra in (
            ("critic_patch", scalars),
            ("critic_patch_features", np.concatenate([scalars, standardised], -1)),
        ):
            critic = fit_critic(patches[train], extra[train], robust[train])
            pick = critic(patches[test], extra[test]).argmax(1)
            totals[name] += int(lifted[test][rows, pick].sum())
        print(k, totals, flush=True)
    report = {"scenes": n, "turn0": int(lifted[:, 0].sum()), "any": int(lifted.any(1).sum()), "cv": totals}
    best = max(("critic_patch", "critic_patch_features"), key=totals.get)
    report["held_out"] = (
        "to score" if totals[best] >= totals["linear_exact"] + 10 else "not scored: no critic is 10 scenes ahead"
    )
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
