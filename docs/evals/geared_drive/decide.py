"""The rule of docs/experiments.md, "The fingers folded backward": the served choice with the
geared hand against the compliant one, paired by attempt on 400 single seen, 400 single novel
(seeds 2703-2712) and 100 cluttered seen scenes (seeds 2703-2707). The geared drive becomes the
simulator's default unless it is behind in a cell with a two-sided sign test p < 0.05.

    python docs/evals/geared_drive/decide.py [--json docs/evals/geared_drive/decision.json]
"""

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pa_grasp_sim.compare_evals import compare

HERE = Path(__file__).parent
ALPHA = 0.05
CELLS = {
    "single seen": "single_seen_s2703x10",
    "single novel": "single_novel_s2703x10",
    "cluttered seen": "cluttered_seen_s2703x5",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cells, behind = {}, []
    for cell, stem in CELLS.items():
        compliant = json.loads((HERE / f"served_compliant_{stem}.json").read_text())
        geared = json.loads((HERE / f"served_geared_{stem}.json").read_text())
        if (compliant["finger_drive"], geared["finger_drive"]) != ("compliant", "geared"):
            raise SystemExit(f"{stem}: the JSONs are not the two drives")
        cells[cell] = compare(compliant, geared)
        print(f"{cell}: {cells[cell].summary()}")
        if cells[cell].candidate_lifted < cells[cell].baseline_lifted and cells[cell].sign_test_p < ALPHA:
            behind.append(cell)
    adopt = not behind
    print(f"behind with p < {ALPHA} in: {', '.join(behind) or 'none'} -> {'ADOPT' if adopt else 'do not adopt'}")
    if args.json:
        out = {"cells": {c: asdict(v) for c, v in cells.items()}, "behind_in": behind, "adopt": adopt}
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
