"""Held-out test of the five-seed ensemble ensemble_cv.py let through (analysis only, 2026-12-01,
twenty-first session).

The shipped selector's recipe (MLP 64-64 on policy features + object measurements, robust
fractions) fitted five times on all 3,600 robust scenes with network seeds 0-4, scores averaged;
scored once on the fresh four-grasp sets (single seen / novel, seeds 1700-1714, never used for a
choice) against the shipped selector (seed 0). Rule fixed before running: ship only if ahead over
the 1,200 scenes with a two-sided sign test p < 0.05 and behind in neither set.

    python docs/evals/not_shipped/selector_labels/ensemble_heldout.py
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
from geometry_cv import fit_mlp

from pa_grasp_policy.turn_selection import TURNS, GraspSelector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TRAIN = [HERE / f"robust_more_single_seen_s{s}.npz" for s in ("1200x15", "1215x15", "1400x30", "1430x30")]
HELD_OUT = {
    "seen": ROOT / "evals" / "heldout_next" / "single_seen_s1700x15.npz",
    "novel": ROOT / "evals" / "heldout_next" / "single_novel_s1700x15.npz",
}
SEEDS = range(5)


def inputs(data) -> np.ndarray:
    return np.concatenate([data["features"].astype(np.float64), data["geometry"].astype(np.float64)], -1)


def main() -> None:
    torch.set_num_threads(2)
    train = [np.load(f) for f in TRAIN]
    x = np.concatenate([inputs(d) for d in train])
    lifted = np.concatenate([d["lifted"] for d in train])
    errors = np.concatenate([d["lifted_with_errors"] for d in train])
    robust = (lifted + errors.sum(-1)) / (1 + errors.shape[-1])
    members = [fit_mlp(x, robust, seed=s) for s in SEEDS]
    shipped = GraspSelector.load(
        ROOT.parent / "pa_grasp_policy" / "pa_grasp_policy" / "models" / "pa_grasp_selector.json"
    )
    totals = {"ensemble": 0, "shipped": 0, "gained": 0, "lost": 0}
    per_set = {}
    for name, path in HELD_OUT.items():
        data = np.load(path)
        x_test, outcome = inputs(data), data["lifted"]
        rows = np.arange(len(outcome))
        pick = np.mean([m(x_test) for m in members], 0).argmax(1)
        shipped_pick = shipped.scores(x_test.reshape(-1, x_test.shape[-1])).reshape(-1, TURNS).argmax(1)
        chosen, chosen_shipped = outcome[rows, pick], outcome[rows, shipped_pick]
        per_set[name] = {"ensemble": int(chosen.sum()), "shipped": int(chosen_shipped.sum()), "scenes": len(rows)}
        totals["ensemble"] += int(chosen.sum())
        totals["shipped"] += int(chosen_shipped.sum())
        totals["gained"] += int((chosen & ~chosen_shipped).sum())
        totals["lost"] += int((chosen_shipped & ~chosen).sum())
        print(f"{name}: turn 0 {outcome[:, 0].sum()}, shipped {chosen_shipped.sum()}, ensemble {chosen.sum()}")
    changed = totals["gained"] + totals["lost"]
    tail = sum(math.comb(changed, j) for j in range(min(totals["gained"], totals["lost"]) + 1)) / 2**changed
    p = min(1.0, 2 * tail)
    behind = any(s["ensemble"] < s["shipped"] for s in per_set.values())
    report = {
        **totals,
        "sign_test_p": p,
        "per_set": per_set,
        "decision": "ship" if p < 0.05 and totals["gained"] > totals["lost"] and not behind else "keep shipped",
    }
    print(json.dumps(report, indent=1))
    (HERE / "ensemble_heldout.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
