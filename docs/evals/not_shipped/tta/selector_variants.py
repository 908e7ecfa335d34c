"""Would the turn selector pick better with more data, another objective, cross-candidate
features, more candidates or another model's grasps? (analysis only, 2026-11-30)

Everything here re-uses executed outcomes; nothing is simulated. Two parts:

`variants`: fits on the shipped selector's 900 training scenes (`docs/evals/turn_selector/*.npz`)
and scores, on the held-out four-grasp scenes of probe.py (single seen 500-514, single novel
300-314, cluttered seen 300-304; features from grasp_features.py, outcomes from tta_check.py),
how many scenes the chosen grasp lifts:
- the learning curve (150 / 300 / 600 / 900 training scenes);
- a conditional logit (a softmax over each scene's four grasps, fitted on the scenes where
  some but not all lift), with and without the pointwise term;
- the pointwise selector plus cross-candidate features (mean pixel and yaw distance of a grasp
  to the scene's other three);
- choosing among 1, 2, 3 or 4 of the turns.

`models`: two collections of `pa-grasp-selector collect` on the same scenes by two checkpoints:
per-turn and any-turn lifts, the 5-fold cross-validated choice of each model's own selector,
and the choice among all eight grasps (each model scored by its own selector).

    python docs/evals/not_shipped/tta/selector_variants.py variants --held-out DIR --json F
    python docs/evals/not_shipped/tta/selector_variants.py models --a A1.npz A2.npz --b B1.npz ... --json F
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from probe import design  # beside this script: the probe's inputs, in the selector's order

from pa_grasp_policy.turn_selection import TURNS, fit_selector

HERE = Path(__file__).resolve().parent
TRAIN = sorted((HERE.parents[1] / "turn_selector").glob("shipped_single_seen_s*.npz"))
HELD_OUT = {  # name: (features file in --held-out, tta_check.py outcome JSONs beside this script)
    "single_seen_s500x15": (
        "features_s500.npz",
        ["shipped_single_seen_s500x7.json", "shipped_single_seen_s507x8.json"],
    ),
    "single_novel_s300x15": (
        "features_novel_s300x15.npz",
        ["shipped_single_novel_s300x7.json", "shipped_single_novel_s307x8.json"],
    ),
    "cluttered_seen_s300x5": ("features_cluttered_seen_s300.npz", ["shipped_cluttered_seen_s300x5.json"]),
}


def collection(paths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (n, 4, d), lifted (n, 4), seeds) of pa-grasp-selector collections, by seed."""
    parts = [np.load(p) for p in paths]
    x, y, s = (np.concatenate([p[k] for p in parts]) for k in ("features", "lifted", "seed"))
    order = np.argsort(s, kind="stable")
    return x[order], y[order], s[order]


def held_out(directory: Path, features: str, outcomes: list[str]):
    """(features (n, 4, 318) in the selector's order, lifted (n, 4), rows) of a probe.py test set."""
    f = np.load(directory / features)
    rows = tta_rows(outcomes)
    if [r["seed"] for r in rows] != list(f["seed"]):
        raise SystemExit(f"{features} and {outcomes} are not the same scenes")
    return design(f, "column+pooled+scores"), np.array([[t["lifted"] for t in r["turns"]] for r in rows]), rows


def chosen(scores: np.ndarray, lifted: np.ndarray) -> int:
    """Scenes where the highest-scoring grasp lifts."""
    return int(lifted[np.arange(len(lifted)), scores.argmax(1)].sum())


def pointwise(x, y, l2=1e-2):
    d = x.shape[-1]
    selector = fit_selector(x.reshape(-1, d), y.reshape(-1), "", l2)
    return lambda q: selector.scores(q.reshape(-1, d)).reshape(q.shape[:-1])


def conditional_logit(x, y, l2=1e-2, pointwise_weight=0.0):
    """Maximise log P(a lifting grasp) under a softmax over each scene's grasps."""
    d = x.shape[-1]
    mean, std = x.reshape(-1, d).mean(0), x.reshape(-1, d).std(0) + 1e-6
    xt, yt = torch.from_numpy((x - mean) / std).double(), torch.from_numpy(y).double()
    w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    mixed = (yt.sum(1) > 0) & (yt.sum(1) < yt.shape[1])
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        z = xt @ w
        log_p = torch.logsumexp(z.masked_fill(yt == 0, -1e9), 1) - torch.logsumexp(z, 1)
        loss = -log_p[mixed].mean() + l2 * (w**2).sum()
        if pointwise_weight:
            loss = loss + pointwise_weight * torch.nn.functional.binary_cross_entropy_with_logits(z + b, yt)
        loss.backward()
        return loss

    opt.step(closure)
    weights = w.detach().numpy()
    return lambda q: ((q - mean) / std) @ weights


def cross_features(rows) -> np.ndarray:
    """(n, 4, 2): mean pixel distance and mean yaw distance (rad) of each grasp to the other three."""
    out = []
    for r in rows:
        uv = np.array([[t["u"], t["v"]] for t in r["turns"]])
        yaw = np.deg2rad([t["rpy_deg"][2] for t in r["turns"]])
        pixel = np.linalg.norm(uv[:, None] - uv[None], axis=-1).sum(1) / (TURNS - 1)
        turn = np.abs(np.angle(np.exp(1j * (yaw[:, None] - yaw[None])))).sum(1) / (TURNS - 1)
        out.append(np.stack([pixel, turn], 1))
    return np.array(out)


def tta_rows(names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        rows += json.loads((HERE / name).read_text())["rows"]
    return rows


def variants(args) -> dict:
    x, y, seeds = collection(TRAIN)
    tests = {name: held_out(Path(args.held_out), *spec) for name, spec in HELD_OUT.items()}
    report = {
        "train_scenes": len(y),
        "held_out": {
            n: {"scenes": len(t[1]), "turn0": int(t[1][:, 0].sum()), "any": int(t[1].any(1).sum())}
            for n, t in tests.items()
        },
    }

    def score_all(predict):
        return {name: chosen(predict(tx), ty) for name, (tx, ty, _) in tests.items()}

    order = np.random.default_rng(0).permutation(len(y))
    report["learning_curve"] = {n: score_all(pointwise(x[order[:n]], y[order[:n]])) for n in (150, 300, 600, 900)}
    report["conditional_logit"] = {
        f"l2={l2} pointwise={pw}": score_all(conditional_logit(x, y, l2, pw))
        for l2 in (3e-3, 1e-2, 3e-2, 1e-1)
        for pw in (0.0, 1.0)
    }
    # The training scenes' rows (same order as the collections: seeds 300-309, 400-414).
    train_rows = tta_rows(
        ["shipped_single_seen_s300x10.json", "shipped_single_seen_s400x7.json", "shipped_single_seen_s407x8.json"]
    )
    if [r["seed"] for r in train_rows] != list(seeds):
        raise SystemExit("tta_check rows and the selector collections are not the same scenes")
    with_cross = pointwise(np.concatenate([x, cross_features(train_rows)], -1), y)
    report["pointwise_plus_cross_features"] = {
        name: chosen(with_cross(np.concatenate([tx, cross_features(rows)], -1)), ty)
        for name, (tx, ty, rows) in tests.items()
    }
    shipped_like = pointwise(x, y)
    report["candidates"] = {}
    for subset in ([0], [0, 2], [0, 1], [0, 1, 2], [0, 1, 2, 3]):
        report["candidates"][str(subset)] = {
            name: {"chosen": chosen(shipped_like(tx)[:, subset], ty[:, subset]), "any": int(ty[:, subset].any(1).sum())}
            for name, (tx, ty, _) in tests.items()
        }
    return report


def cross_validated_scores(x, y, folds: np.ndarray) -> np.ndarray:
    scores = np.zeros(y.shape)
    for k in np.unique(folds):
        train = folds != k
        scores[~train] = pointwise(x[train], y[train])(x[~train])
    return scores


def models(args) -> dict:
    xa, ya, sa = collection(args.a)
    xb, yb, sb = collection(args.b)
    if not np.array_equal(sa, sb):
        raise SystemExit("the two collections are not the same scenes")
    folds = np.random.default_rng(0).permutation(len(ya)) % 5
    score_a, score_b = cross_validated_scores(xa, ya, folds), cross_validated_scores(xb, yb, folds)

    def summary(y, scores):
        return {
            "turn0": int(y[:, 0].sum()),
            "per_turn": y.sum(0).tolist(),
            "any": int(y.any(1).sum()),
            "cv_chosen": chosen(scores, y),
        }

    return {
        "scenes": len(ya),
        "seeds": [int(sa.min()), int(sa.max())],
        "a": {"collections": [str(p) for p in args.a], **summary(ya, score_a)},
        "b": {"collections": [str(p) for p in args.b], **summary(yb, score_b)},
        "turn0_agree": float((ya[:, 0] == yb[:, 0]).mean()),
        "eight": summary(np.concatenate([ya, yb], 1), np.concatenate([score_a, score_b], 1)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("variants")
    v.add_argument("--held-out", required=True, help="directory with grasp_features.py's held-out .npz files")
    v.add_argument("--json")
    m = sub.add_parser("models")
    m.add_argument("--a", nargs="+", required=True)
    m.add_argument("--b", nargs="+", required=True)
    m.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    report = variants(args) if args.command == "variants" else models(args)
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
