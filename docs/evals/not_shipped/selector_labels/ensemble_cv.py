"""Does averaging the shipped selector's recipe over several network seeds (a bagging-free
ensemble: same data, seeds 0-4, mean of the scores) pick better than one network? 5-fold
cross-validation on the 3,600 robust scenes (analysis only, 2026-12-01). Rule fixed before
running: the fresh held-out sets (seeds 1700-1714) only if the ensemble is 20 scenes ahead.

    python docs/evals/not_shipped/selector_labels/ensemble_cv.py --json F
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from folds import scene_folds  # beside this script
from geometry_cv import fit_mlp, robust_scenes

HERE = Path(__file__).resolve().parent
SEEDS = range(5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    _, x, lifted, robust = robust_scenes()
    totals = {"single_seed0": 0, "mean_of_5_seeds": 0, **{f"seed{s}": 0 for s in SEEDS}}
    for train, test in scene_folds(len(lifted)):
        rows = np.arange(len(test))
        scores = [fit_mlp(x[train], robust[train], seed=s)(x[test]) for s in SEEDS]
        for s, score in zip(SEEDS, scores):
            totals[f"seed{s}"] += int(lifted[test][rows, score.argmax(1)].sum())
        totals["single_seed0"] = totals["seed0"]
        totals["mean_of_5_seeds"] += int(lifted[test][rows, np.mean(scores, 0).argmax(1)].sum())
        print(totals, flush=True)
    report = {"scenes": len(lifted), "cv": totals}
    report["held_out"] = (
        "to score" if totals["mean_of_5_seeds"] >= totals["seed0"] + 20 else "not scored: not 20 scenes ahead"
    )
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
