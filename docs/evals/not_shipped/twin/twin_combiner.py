"""Which way of combining the selector with the depth twin picks best? (analysis only,
2026-12-01, twenty-first session)

On the robust scenes with twin outcomes (seeds 1200-1214, and 1215-1229 once twin_check.py has
run on them), with the selector's scores cross-validated (5 folds over all 3,600, the shipped
recipe, seed 0): the selector alone, the twin first (ties by the selector, the rule tested on
seeds 1700-1714), and a logistic combiner of [selector logit, twin fraction, twin exact outcome]
fitted to the robust fraction, itself cross-validated by scene. Counted as scenes whose pick
lifted in its one exact execution.

    python docs/evals/not_shipped/twin/twin_combiner.py [--json F]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "selector_labels"))
from ensemble_heldout import TRAIN, inputs  # noqa: E402
from folds import scene_folds  # noqa: E402
from geometry_cv import fit_mlp  # noqa: E402

TWIN = [HERE / "twin_tile0.04_s1200x15.npz", HERE / "twin_tile0.04_s1215x15.npz"]


def combiner_inputs(selector_score: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """(scenes, 4, 3): the selector's logit, the twin's lift fraction and its exact outcome."""
    p = np.clip(selector_score, 1e-4, 1 - 1e-4)
    return np.stack([np.log(p / (1 - p)), twin.mean(-1), twin[..., 0].astype(float)], -1)


def fit_combiner(x: np.ndarray, target: np.ndarray, l2: float = 1e-3, steps: int = 500):
    """Logistic regression (full-batch LBFGS) of per-grasp robust fractions on x (n, 4, k)."""
    xt = torch.tensor(x.reshape(-1, x.shape[-1]), dtype=torch.float64)
    yt = torch.tensor(target.reshape(-1), dtype=torch.float64)
    w = torch.zeros(x.shape[-1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=steps)

    def loss():
        opt.zero_grad()
        z = xt @ w[:-1] + w[-1]
        value = torch.nn.functional.binary_cross_entropy_with_logits(z, yt) + l2 * (w[:-1] ** 2).sum()
        value.backward()
        return value

    opt.step(loss)
    weights = w.detach().numpy()
    return lambda x_new: x_new @ weights[:-1] + weights[-1], weights


def cv_selector_scores():
    torch.set_num_threads(2)
    data = [np.load(f) for f in TRAIN]
    x = np.concatenate([inputs(d) for d in data])
    lifted = np.concatenate([d["lifted"] for d in data])
    errors = np.concatenate([d["lifted_with_errors"] for d in data])
    robust = (lifted + errors.sum(-1)) / (1 + errors.shape[-1])
    cv = np.zeros(lifted.shape)
    for train, test in scene_folds(len(lifted)):
        cv[test] = fit_mlp(x[train], robust[train])(x[test])
    return cv, lifted, robust


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json")
    args = p.parse_args()
    twin = np.concatenate([np.load(f)["twin"] for f in TWIN if f.exists()])
    n = len(twin)
    cv, lifted, robust = (a[:n] for a in cv_selector_scores())
    x = combiner_inputs(cv, twin)
    rows = np.arange(n)
    picks = {"turn 0": np.zeros(n, int), "selector": cv.argmax(1), "twin first": (twin.mean(-1) + 1e-3 * cv).argmax(1)}
    combined = np.zeros(cv.shape)
    for train, test in scene_folds(n):
        combined[test] = fit_combiner(x[train], robust[train])[0](x[test])
    picks["logistic combiner (cross-validated)"] = combined.argmax(1)
    report = {"scenes": n, "lifted": {k: int(lifted[rows, v].sum()) for k, v in picks.items()}}
    report["oracle"] = int(lifted.any(1).sum())
    report["combiner_weights_all"] = fit_combiner(x, robust)[1].round(3).tolist()
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
