"""What the served choice picks on a four-grasp collection: the shipped depth twin's score of
every saved turned grasp, and the lifts of twin-first (selector breaks ties) against the
selector alone and turn 0 (a measurement, no choice; 2026-12-02).

    python docs/evals/depth_twin/twin_pick.py COLLECTION.npz [...]   # ~20 min per 600 single scenes, one core each
"""

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from twin_clutter import twin_scores

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("collections", nargs="+", type=Path)
    args = p.parse_args()
    with ProcessPoolExecutor(len(args.collections)) as pool:
        twins = list(pool.map(twin_scores, args.collections))
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    for path, twin in zip(args.collections, twins):
        data = np.load(path)
        x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
        score = selector.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
        rows, lifted = np.arange(len(score)), data["lifted"]
        report = {
            "collection": str(path),
            "scenes": len(rows),
            "turn0": int(lifted[:, 0].sum()),
            "selector": int(lifted[rows, score.argmax(1)].sum()),
            "twin_first": int(lifted[rows, (twin + TWIN_TIE_WEIGHT * score).argmax(1)].sum()),
            "any_turn": int(lifted.any(1).sum()),
        }
        print(json.dumps(report))
        np.savez_compressed(path.with_name(path.stem + "_twin.npz"), twin=twin)
        path.with_name(path.stem + "_picks.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
