"""Lifts of the served choice with the twin's ties broken by the larger-error executions of
tie_extras.py, against the served choice (ties by the shipped selector) (exploration,
2026-12-06).

    python docs/evals/tie_break/tie_analysis.py docs/evals/heldout_2200/single_seen_s2200x15.npz [...]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "depth_twin"))
from twin_clutter import sign_test  # noqa: E402

KEYS = {"all six": slice(0, 6), "yaw +-10": slice(0, 2), "pixel +-2": slice(2, 6)}


def picks(path: Path, selector: GraspSelector) -> dict:
    data = np.load(path)
    twin = np.load(path.with_name(path.stem + "_twin.npz"))["twin"]
    extras = np.load(HERE / (path.stem + "_tie_extras.npz"))["extras"]
    x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
    score = selector.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
    lifted, rows = data["lifted"], np.arange(len(twin))
    served = lifted[rows, (twin + TWIN_TIE_WEIGHT * score).argmax(1)]
    report = {"collection": str(path), "scenes": len(rows), "served": int(served.sum())}
    rank = score.argsort(1).argsort(1) / TURNS  # the selector's rank breaks what is still tied: 1e-3 x rank < 0.01 / 6
    for name, cols in KEYS.items():
        key = twin + 0.01 * extras[..., cols].mean(-1) + TWIN_TIE_WEIGHT * rank
        chosen = lifted[rows, key.argmax(1)]
        gained, lost = int((chosen & ~served).sum()), int((~chosen & served).sum())
        report[name] = {"lifted": int(chosen.sum()), "gained": gained, "lost": lost, "p": sign_test(gained, lost)}
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("collections", nargs="+", type=Path)
    args = p.parse_args()
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    for path in args.collections:
        print(json.dumps(picks(path, selector)))


if __name__ == "__main__":
    main()
