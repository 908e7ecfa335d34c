"""Held-out test of choosing among the four turned grasps by the depth-only twin (analysis only,
2026-12-01, twenty-first session).

The rule, chosen on the first 600 robust scenes (twin_analysis.py, where it picked 499 against
the cross-validated selector's 478) and fixed before this test: execute each turned grasp on the
twin (twin_check.py: 4 cm convex pieces, the grasp and its four SMALL_ERRORS copies) and take
the one that lifts most often there, ties broken by the shipped selector's score. Scored once on
the fresh four-grasp sets (single seen / novel, seeds 1700-1714; each grasp executed once on the
real object) against the shipped selector. Ship only if ahead over the 1,200 scenes with a
two-sided sign test p < 0.05 and behind in neither set. The same rule, fixed again before
scoring, on the second fresh pair (seeds 1800-1814, twenty-second session): `--sets 1800`.

    python docs/evals/not_shipped/twin/twin_heldout.py [--sets 1700|1800]
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np

from pa_grasp_policy.turn_selection import TURNS, GraspSelector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
SETS = {
    "1700": {
        "seen": (ROOT / "docs/evals/heldout_next/single_seen_s1700x15.npz", HERE / "twin_heldout_seen_s1700x15.npz"),
        "novel": (ROOT / "docs/evals/heldout_next/single_novel_s1700x15.npz", HERE / "twin_heldout_novel_s1700x15.npz"),
    },
    "1800": {
        "seen": (ROOT / "docs/evals/heldout_1800/single_seen_s1800x15.npz", HERE / "twin_fresh_seen_s1800x15.npz"),
        "novel": (ROOT / "docs/evals/heldout_1800/single_novel_s1800x15.npz", HERE / "twin_fresh_novel_s1800x15.npz"),
    },
}
REPORT = {"1700": HERE / "twin_heldout.json", "1800": HERE / "twin_heldout_1800.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", choices=sorted(SETS), default="1700")
    args = parser.parse_args()
    shipped = GraspSelector.load(ROOT / "pa_grasp_policy/pa_grasp_policy/models/pa_grasp_selector.json")
    totals = {"twin": 0, "shipped": 0, "gained": 0, "lost": 0}
    per_set = {}
    for name, (collection, twin_file) in SETS[args.sets].items():
        data, twin = np.load(collection), np.load(twin_file)["twin"]
        x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
        score = shipped.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
        outcome = data["lifted"]
        rows = np.arange(len(outcome))
        pick = (twin.mean(-1) + 1e-3 * score).argmax(1)  # scores are in (0, 1): only break ties
        chosen, chosen_shipped = outcome[rows, pick], outcome[rows, score.argmax(1)]
        per_set[name] = {
            "scenes": len(rows),
            "turn0": int(outcome[:, 0].sum()),
            "shipped_selector": int(chosen_shipped.sum()),
            "twin": int(chosen.sum()),
            "any_turn": int(outcome.any(1).sum()),
            "gained": int((chosen & ~chosen_shipped).sum()),
            "lost": int((chosen_shipped & ~chosen).sum()),
        }
        for key, key_set in (("twin", "twin"), ("shipped", "shipped_selector"), ("gained", "gained"), ("lost", "lost")):
            totals[key] += per_set[name][key_set]
        print(name, per_set[name], flush=True)
    changed = totals["gained"] + totals["lost"]
    tail = sum(math.comb(changed, j) for j in range(min(totals["gained"], totals["lost"]) + 1)) / 2**changed
    p = min(1.0, 2 * tail)
    behind = any(s["twin"] < s["shipped_selector"] for s in per_set.values())
    ship = p < 0.05 and totals["gained"] > totals["lost"] and not behind
    report = {**totals, "sign_test_p": p, "per_set": per_set, "decision": "ship" if ship else "keep shipped"}
    print(json.dumps(report, indent=1))
    REPORT[args.sets].write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
