"""The held-out test of the mirror twin (rule in docs/experiments.md, fixed before scoring):
twin first with TwinConfig(mirror_under=True) against twin first with the shipped twin, both with
the shipped selector breaking ties, on the four-grasp sets of seeds 2000-2014.

    python docs/evals/not_shipped/twin_search/mirror_heldout.py   # after twin_pick.py and twin_cells.py --mirror-under
"""

import json
import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
sys.path.insert(0, str(ROOT / "docs/evals/depth_twin"))
from twin_clutter import sign_test  # noqa: E402  (the sign test the twin's own decisions used)


def main() -> None:
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    report, gained, lost, behind = {}, 0, 0, False
    for objects in ("seen", "novel"):
        base = ROOT / f"docs/evals/heldout_2000/single_{objects}_s2000x15"
        data = np.load(f"{base}.npz")
        shipped = np.load(f"{base}_twin.npz")["twin"]
        mirror = np.load(HERE / f"single_{objects}_s2000x15_twin_cell5mm_mirror.npz")["twin"]
        if mirror.shape != shipped.shape:
            raise SystemExit(f"{objects}: the mirror scores cover {len(mirror)} of {len(shipped)} scenes")
        x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
        score = selector.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
        rows, lifted = np.arange(len(score)), data["lifted"]
        by_shipped = lifted[rows, (shipped + TWIN_TIE_WEIGHT * score).argmax(1)]
        by_mirror = lifted[rows, (mirror + TWIN_TIE_WEIGHT * score).argmax(1)]
        g, lo = int((by_mirror & ~by_shipped).sum()), int((by_shipped & ~by_mirror).sum())
        gained, lost, behind = gained + g, lost + lo, behind or by_mirror.sum() < by_shipped.sum()
        report[objects] = {
            "scenes": len(rows),
            "shipped_twin": int(by_shipped.sum()),
            "mirror_twin": int(by_mirror.sum()),
            "gained": g,
            "lost": lo,
        }
    p_value = sign_test(gained, lost)
    report.update(
        gained=gained,
        lost=lost,
        sign_test_p=p_value,
        ship=bool(gained > lost and p_value < 0.05 and not behind),
        rule="ship mirror_under only if ahead over the 1,200 scenes, sign test p < 0.05, behind in neither set",
    )
    print(json.dumps(report, indent=1))
    (HERE / "mirror_heldout_2000.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
