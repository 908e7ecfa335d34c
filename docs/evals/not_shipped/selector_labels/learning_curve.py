"""How the shipped selector's recipe (MLP on policy features + object measurements, robust
fractions) improves with training scenes: 5-fold cross-validation on the 3,600 robust scenes,
each fold's training scenes cut to a fraction (analysis only, 2026-12-01). Reads the cached
measurements geometry_cv.py wrote (runs/geometry_cv/).

    python docs/evals/not_shipped/selector_labels/learning_curve.py --json F
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from folds import scene_folds  # beside this script
from geometry_cv import fit_mlp, linear, robust_scenes

HERE = Path(__file__).resolve().parent
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    policy, x, lifted, robust = robust_scenes()
    rng = np.random.default_rng(0)
    curve = {}
    for fraction in FRACTIONS:
        totals = {"mlp_policy_geometry_robust": 0, "linear_policy_exact": 0}
        for train, test in scene_folds(len(lifted)):
            kept = rng.permutation(train)[: int(round(fraction * len(train)))]
            rows = np.arange(len(test))
            pick = fit_mlp(x[kept], robust[kept])(x[test]).argmax(1)
            totals["mlp_policy_geometry_robust"] += int(lifted[test][rows, pick].sum())
            pick = linear(policy[kept], lifted[kept].astype(float))(policy[test]).argmax(1)
            totals["linear_policy_exact"] += int(lifted[test][rows, pick].sum())
        curve[f"{fraction:.2f}"] = {"training_scenes_per_fold": int(round(fraction * 2880)), **totals}
        print(fraction, curve[f"{fraction:.2f}"], flush=True)
    report = {"scenes": len(lifted), "turn0": int(lifted[:, 0].sum()), "curve": curve}
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
