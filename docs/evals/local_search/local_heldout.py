"""Score the pre-registered local-search rule on collections with their local candidates
(docs/experiments.md, "Small changes of the served grasp, tried in the twin"; written and committed before the
held-out scores were looked at).

Rule: where the served grasp (twin first among the four turned grasps, the selector breaking
ties) scores below 0.8 in the twin (at most 3 of 5), try its 13 small changes
(pa_grasp_sim.twin_local_search.local_changes) in the twin and execute the best of them (the
nearer change on ties) if it scores more than the served grasp; else the served grasp. Each
grasp's real outcome is its one execution on the restored scene.

    python docs/evals/local_search/local_heldout.py BASE [BASE ...] [--json FILE]
    # BASE: a collection's path without .npz, beside BASE_twin.npz and BASE_local.npz
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from local_candidates import served_picks

from pa_grasp_sim.twin_local_search import LocalSearchConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "depth_twin"))
from twin_clutter import sign_test  # noqa: E402  (the sign test the twin's own decisions used)

BELOW, MARGIN = LocalSearchConfig().below, LocalSearchConfig().margin  # the rule: the package's defaults


def score(base: str) -> dict:
    data = np.load(f"{base}.npz")
    twin4 = np.load(f"{base}_twin.npz")["twin"]
    local = np.load(f"{base}_local.npz")
    picks = served_picks(data, twin4)
    rows = np.arange(len(picks))
    served_score, served_lift = twin4[rows, picks], data["lifted"][rows, picks].astype(bool)
    searched = {int(s): k for k, s in enumerate(local["scene"])}
    missing = [i for i in np.flatnonzero(served_score < BELOW - 1e-9) if int(i) not in searched]
    if missing:
        raise SystemExit(f"{base}: {len(missing)} scenes below {BELOW} have no local candidates (first {missing[0]})")
    outcome = served_lift.copy()
    switched = 0
    for i in np.flatnonzero(served_score < BELOW - 1e-9):
        k = searched[int(i)]
        scores = np.nan_to_num(local["twin"][k], nan=-1.0)
        best = int(np.argmax(scores))  # first (nearest) change on ties
        if scores[best] > served_score[i] + MARGIN + 1e-9:
            switched += 1
            outcome[i] = bool(local["lifted"][k][best])
    gained, lost = int((outcome & ~served_lift).sum()), int((served_lift & ~outcome).sum())
    return {
        "collection": Path(base).name,
        "objects": str(data["objects"]),
        "scenes": len(rows),
        "searched": int((served_score < BELOW - 1e-9).sum()),
        "switched": switched,
        "served": int(served_lift.sum()),
        "with_local_search": int(outcome.sum()),
        "gained": gained,
        "lost": lost,
    }


def behind_in_objects(sets: list[dict]) -> list[str]:
    """The object sets (seen, novel) on whose collections together local search lifts fewer."""
    behind = []
    for objects in sorted({s["objects"] for s in sets}):
        mine = [s for s in sets if s["objects"] == objects]
        if sum(s["with_local_search"] for s in mine) < sum(s["served"] for s in mine):
            behind.append(objects)
    return behind


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bases", nargs="+")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="ship only below this sign-test p (0.0294: the final look of a two-look Pocock design)",
    )
    args = p.parse_args()
    sets = [score(b) for b in args.bases]
    for s in sets:
        print(json.dumps(s))
    gained, lost = sum(s["gained"] for s in sets), sum(s["lost"] for s in sets)
    total = {
        "served": sum(s["served"] for s in sets),
        "with_local_search": sum(s["with_local_search"] for s in sets),
        "gained": gained,
        "lost": lost,
        "sign_test_p": sign_test(gained, lost),
        "behind_in_a_set": any(s["with_local_search"] < s["served"] for s in sets),
        "behind_in_objects": behind_in_objects(sets),
        "alpha": args.alpha,
    }
    total["ship"] = bool(
        total["with_local_search"] > total["served"]
        and total["sign_test_p"] < args.alpha
        and not total["behind_in_objects"]
    )
    print(json.dumps(total))
    if args.json:
        args.json.write_text(
            json.dumps({"sets": sets, "total": total, "rule": {"below": BELOW, "margin": MARGIN}}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
