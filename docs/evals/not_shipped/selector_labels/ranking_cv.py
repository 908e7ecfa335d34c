"""Can a within-scene ranking fitted to robust outcomes pick among the four turned grasps better
than the pointwise linear selector? (analysis only, 2026-12-01)

On the 900 training scenes with small-error executions (robust_single_seen_*.npz): the oracle
that picks each scene's grasp lifting most often under the four small errors, and 5-fold
cross-validated picks (the four grasps of a scene in one fold) of
- the shipped recipe (pointwise logistic regression on the one outcome, L2 0.01),
- a conditional logit: softmax over a scene's four grasps of a linear score, fitted by
  cross-entropy to the scene's robust fractions normalised (scenes where all are equal carry no
  information and are skipped), L2 0.01.
Counted: the scenes whose picked grasp lifted in its one exact execution. Rule fixed before
running: score the conditional logit on the held-out seeds only if it is 10 scenes ahead here.

    python docs/evals/not_shipped/selector_labels/ranking_cv.py [--held-out A.npz ...] [--json F]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from folds import scene_folds  # beside this script

from pa_grasp_policy.turn_selection import TURNS, fit_selector

HERE = Path(__file__).resolve().parent
TRAIN = sorted(HERE.glob("robust_single_seen_s*.npz"))


def load(paths):
    data = [np.load(p) for p in paths]
    x = np.concatenate([d["features"] for d in data]).astype(np.float64)
    lifted = np.concatenate([d["lifted"] for d in data])
    errors = [d["lifted_with_errors"] for d in data if "lifted_with_errors" in d.files]
    with_errors = np.concatenate(errors) if len(errors) == len(data) else None
    return x, lifted, with_errors


def fit_pointwise(x, lifted, _):
    return fit_selector(x.reshape(-1, x.shape[-1]), lifted.reshape(-1).astype(float), "", 1e-2).scores


def fit_ranking(x, lifted, with_errors, l2: float = 1e-2):
    robust = (lifted + with_errors.sum(-1)) / (1 + with_errors.shape[-1])
    informative = robust.max(1) > robust.min(1)
    target = robust[informative] / robust[informative].sum(1, keepdims=True)
    flat = x.reshape(-1, x.shape[-1])
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    xt = torch.from_numpy((x[informative] - mean) / std)
    tt = torch.from_numpy(target)
    w = torch.zeros(x.shape[-1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = -(tt * torch.log_softmax(xt @ w, dim=1)).sum(1).mean() + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weights = w.detach().numpy()
    return lambda features: (np.atleast_2d(features) - mean) / std @ weights


def picks(scores, x):
    return scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS).argmax(1)


def cross_validated(fit, x, lifted, with_errors) -> int:
    total = 0
    for train, test in scene_folds(len(lifted)):
        chosen = picks(fit(x[train], lifted[train], with_errors[train]), x[test])
        total += int(lifted[test][np.arange(len(test)), chosen].sum())
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--held-out", nargs="*", default=[])
    p.add_argument("--json")
    args = p.parse_args()
    x, lifted, with_errors = load(TRAIN)
    n = len(lifted)
    oracle = with_errors.sum(-1).argmax(1)
    report = {
        "scenes": n,
        "turn0": int(lifted[:, 0].sum()),
        "any": int(lifted.any(1).sum()),
        "oracle_most_robust_of_four": int(lifted[np.arange(n), oracle].sum()),
        "pointwise_cv": cross_validated(fit_pointwise, x, lifted, with_errors),
        "ranking_cv": cross_validated(fit_ranking, x, lifted, with_errors),
    }
    if args.held_out and report["ranking_cv"] >= report["pointwise_cv"] + 10:
        ranking, pointwise = fit_ranking(x, lifted, with_errors), fit_pointwise(x, lifted, None)
        for path in args.held_out:
            hx, hl, _ = load([path])
            report[f"held_out {Path(path).name}"] = {
                "turn0": int(hl[:, 0].sum()),
                "pointwise": int(hl[np.arange(len(hl)), picks(pointwise, hx)].sum()),
                "ranking": int(hl[np.arange(len(hl)), picks(ranking, hx)].sum()),
            }
    elif args.held_out:
        report["held_out"] = "not scored: the ranking is not 10 scenes ahead of the pointwise selector"
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
