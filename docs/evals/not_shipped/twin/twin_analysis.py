"""How well does the depth-only twin (twin_check.py) pick among the four turned grasps, alone
and beside the selector? (analysis only, 2026-12-01, twenty-first session)

On the first 600 of the 3,600 robust scenes (seeds 1200-1214), with the selector's scores
cross-validated (5 folds over all 3,600, the shipped recipe, seed 0), counted as the scenes
whose picked grasp lifted in its one exact execution and as the mean robust fraction.

    python docs/evals/not_shipped/twin/twin_analysis.py runs/twin/twin_s1200.npz
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from twin_combiner import cv_selector_scores  # noqa: E402  (the same cross-validated selector scores)


def main() -> None:
    twin = np.load(sys.argv[1])["twin"]
    n = len(twin)
    sel, lifted, robust = (a[:n] for a in cv_selector_scores())
    twin_frac, twin_exact = twin.mean(-1), twin[..., 0]
    rows = np.arange(n)

    def show(name, pick):
        print(f"{name:40s} lifted {int(lifted[rows, pick].sum()):4d}/{n}  robust {robust[rows, pick].mean():.3f}")

    show("turn 0", np.zeros(n, int))
    show("selector (cross-validated)", sel.argmax(1))
    show("twin fraction, ties by selector", (twin_frac + 1e-3 * sel).argmax(1))
    show("twin exact, ties by selector", (twin_exact + 1e-3 * sel).argmax(1))
    for w in (0.1, 0.3, 1.0):
        show(f"selector + {w} x twin fraction", (sel + w * twin_frac).argmax(1))
    show("twin veto: selector among twin > 0.5", (sel + (twin_frac > 0.5)).argmax(1))
    show("oracle (exact)", lifted.argmax(1))
    agree = (twin_frac > 0.5) == (robust > 0.5)
    print(f"twin > 0.5 agrees with robust > 0.5 on {agree.mean():.3f} of grasps")
    print(f"twin fraction mean {twin_frac.mean():.3f}, real robust mean {robust.mean():.3f}")
    for lo, hi in ((0, 0.01), (0.01, 0.5), (0.5, 0.99), (0.99, 1.01)):
        m = (twin_frac >= lo) & (twin_frac < hi)
        if m.any():
            print(
                f"twin in [{lo}, {hi}): {m.sum():5d} grasps,"
                f" real lifted {lifted[m].mean():.3f}, robust {robust[m].mean():.3f}"
            )


if __name__ == "__main__":
    main()
