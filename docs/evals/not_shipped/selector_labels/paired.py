"""Paired comparison of two `pa-grasp-selector score --json` reports on the same collections:
scenes lifted by each choice, scenes gained / lost, and the per-seed difference (mean ± SE).

    python docs/evals/not_shipped/selector_labels/paired.py A.json B.json
"""

import json
import sys
from pathlib import Path

import numpy as np


def main(a_path: str, b_path: str) -> None:
    a, b = (json.loads(Path(p).read_text()) for p in (a_path, b_path))
    if a["seed"] != b["seed"]:
        raise SystemExit("the reports are not on the same scenes")
    seeds = np.array(a["seed"])
    la, lb = np.array(a["chosen_lifted"]), np.array(b["chosen_lifted"])
    per_seed = [100 * (lb[seeds == s].mean() - la[seeds == s].mean()) for s in np.unique(seeds)]
    se = np.std(per_seed, ddof=1) / np.sqrt(len(per_seed))
    print(
        f"{len(la)} scenes: A {la.sum()}, B {lb.sum()}; B gains {int((lb & ~la).sum())}, loses"
        f" {int((la & ~lb).sum())}; per seed B - A = {np.mean(per_seed):+.1f} ± {se:.1f} points"
        f" ({len(per_seed)} seeds)"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
