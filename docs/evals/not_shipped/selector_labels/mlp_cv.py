"""Would a small MLP choose among the four turned grasps better than the linear selector?
(analysis only, 2026-12-01)

5-fold cross-validation on the shipped selector's 900 training scenes (the four grasps of a
scene in one fold), counting the scenes whose chosen grasp lifted. Rule fixed before running:
the best MLP goes on to the held-out seeds 1100-1114 once, and only if it beats the linear
selector here by 10 scenes or more.

    python docs/evals/not_shipped/selector_labels/mlp_cv.py [--held-out A.npz B.npz]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from folds import scene_folds  # beside this script

from pa_grasp_policy.turn_selection import TURNS, fit_selector

TRAIN = sorted(Path("docs/evals/turn_selector").glob("shipped_single_seen_s*.npz"))


def load(paths):
    data = [np.load(p) for p in paths]
    return np.concatenate([d["features"] for d in data]), np.concatenate([d["lifted"] for d in data])


def fit_linear(x, y):
    return fit_selector(x.reshape(-1, x.shape[-1]), y.reshape(-1).astype(float), "", 1e-2).scores


def fit_mlp(x, y, hidden: int, weight_decay: float, epochs: int = 60, seed: int = 0):
    torch.manual_seed(seed)
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    xt = torch.tensor((flat - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y.reshape(-1), dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(xt.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(128):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt[idx]).squeeze(1), yt[idx])
            loss.backward()
            opt.step()

    def scores(features):
        with torch.no_grad():
            z = torch.tensor((np.atleast_2d(features) - mean) / std, dtype=torch.float32)
            return net(z).squeeze(1).numpy()

    return scores


def chosen_lifts(scores, x, y) -> int:
    pick = scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS).argmax(1)
    return int(y[np.arange(len(y)), pick].sum())


def cross_validated(make, x, y) -> int:
    return sum(chosen_lifts(make(x[train], y[train]), x[test], y[test]) for train, test in scene_folds(len(y)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--held-out", nargs="*", default=[])
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    x, y = load(TRAIN)
    report = {"scenes": len(y), "turn0": int(y[:, 0].sum()), "any": int(y.any(1).sum())}
    report["linear"] = cross_validated(fit_linear, x, y)
    configs = [(h, wd) for h in (16, 64) for wd in (1e-2, 1e-1)]
    report["mlp"] = {
        f"h{h}_wd{wd:g}": cross_validated(lambda a, b, h=h, wd=wd: fit_mlp(a, b, h, wd), x, y) for h, wd in configs
    }
    print(json.dumps(report, indent=1), flush=True)
    best = max(report["mlp"], key=report["mlp"].get)
    if args.held_out and report["mlp"][best] >= report["linear"] + 10:
        h, wd = configs[list(report["mlp"]).index(best)]
        mlp, linear = fit_mlp(x, y, h, wd), fit_linear(x, y)
        for path in args.held_out:
            hx, hy = load([path])
            report[f"held_out {path}"] = {
                "turn0": int(hy[:, 0].sum()),
                "linear": chosen_lifts(linear, hx, hy),
                best: chosen_lifts(mlp, hx, hy),
            }
    elif args.held_out:
        report["held_out"] = f"not scored: the best MLP ({best}) is not 10 scenes ahead of the linear selector"
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
