"""Do the policy's own features tell which of its four turned grasps lifts? (analysis only)

A linear probe (logistic regression, L2) on the features grasp_features.py saved, with the outcomes
tta_check.py measured, cross-validated with the four grasps of a scene always in the same fold.
Reports the held-out AUC and, per held-out scene, the outcome of the grasp the probe ranks first,
against turn 0 (the policy as evaluated) and the policy's most confident grasp.

    python docs/evals/not_shipped/tta/probe.py --features F.npz --outcomes A.json [B.json ...] \
        [--test-features T.npz --test-outcomes C.json ...]
"""

import argparse
import json

import numpy as np

from pa_grasp_policy.turn_selection import fit_selector


def design(f, which: str) -> np.ndarray:
    """(scenes, 4, d) inputs of the probe."""
    parts = {
        "column": f["column"],
        "pooled": f["pooled"],
        "scores": np.concatenate(
            [f["lp_pos"], f["zooms"][..., None], np.sin(f["rpy"]), np.cos(f["rpy"]), f["joints"]], axis=-1
        ),
    }
    return np.concatenate([parts[w] for w in which.split("+")], axis=-1).astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, l2: float):
    """The package's selector fit (logistic regression, L2) as a scoring function."""
    return fit_selector(x, y, weights_sha="", l2=l2).scores


def auc(score: np.ndarray, y: np.ndarray) -> float:
    pos, neg = score[y], score[~y]
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def load(features: str, outcomes: list[str]) -> tuple:
    """(features, lifted (scenes, 4) bool) of the same scenes, checked."""
    f = np.load(features)
    rows = []
    for path in outcomes:
        with open(path) as file:
            rows += json.load(file)["rows"]
    if len(rows) != len(f["seed"]) or any(r["seed"] != s for r, s in zip(rows, f["seed"])):
        raise SystemExit(f"{features} and {outcomes} are not the same scenes")
    return f, np.array([[t["lifted"] for t in r["turns"]] for r in rows])


def selection(score: np.ndarray, lifted: np.ndarray) -> dict:
    """The outcome of the grasp each scene's highest score picks, against turn 0's."""
    chosen = lifted[np.arange(len(lifted)), score.argmax(1)]
    return {
        "auc": auc(score.reshape(-1), lifted.reshape(-1)),
        "lifted": int(chosen.sum()),
        "gain_vs_turn0": int((chosen & ~lifted[:, 0]).sum()),
        "loss_vs_turn0": int((~chosen & lifted[:, 0]).sum()),
    }


def baselines(f, lifted) -> dict:
    return {
        "scenes": len(lifted),
        "turn0_lifted": int(lifted[:, 0].sum()),
        "confident": selection(f["lp_pos"][:, :, 0], lifted),
        "any_lifted": int(lifted.any(1).sum()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", required=True)
    p.add_argument("--outcomes", nargs="+", required=True)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--test-features", help="fit --probe on all of --features, score these held-out scenes once")
    p.add_argument("--test-outcomes", nargs="+")
    p.add_argument("--probe", default="column+pooled+scores", help="inputs of the probe for --test-features")
    p.add_argument("--l2", type=float, default=1e-2)
    p.add_argument("--json")
    a = p.parse_args()
    f, lifted = load(a.features, a.outcomes)
    n = len(lifted)
    if a.test_features:
        tf, test_lifted = load(a.test_features, a.test_outcomes or [])
        x, tx = design(f, a.probe), design(tf, a.probe)
        predict = fit(x.reshape(-1, x.shape[-1]), lifted.reshape(-1), a.l2)
        report = baselines(tf, test_lifted)
        report.update(probe=f"{a.probe} l2={a.l2}", train_scenes=n)
        report["probe_selection"] = selection(predict(tx.reshape(-1, tx.shape[-1])).reshape(-1, 4), test_lifted)
    else:
        fold = np.random.default_rng(0).permutation(n) % a.folds
        report = baselines(f, lifted)
        report["probes"] = {}
        for which in ("scores", "pooled", "column", "column+pooled+scores"):
            x = design(f, which)
            for l2 in (1e-3, 1e-2, 1e-1):
                held = np.zeros((n, 4))
                for k in range(a.folds):
                    train = fold != k
                    predict = fit(x[train].reshape(-1, x.shape[-1]), lifted[train].reshape(-1), l2)
                    held[~train] = predict(x[~train].reshape(-1, x.shape[-1])).reshape(-1, 4)
                report["probes"][f"{which} l2={l2}"] = selection(held, lifted)
                print(which, l2, report["probes"][f"{which} l2={l2}"], flush=True)
    print(json.dumps({k: v for k, v in report.items() if k != "probes"}))
    if a.json:
        with open(a.json, "w") as out:
            json.dump(report, out, indent=1)


if __name__ == "__main__":
    main()
