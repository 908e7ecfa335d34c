"""The shipped depth twin's score of every saved turned grasp of a collection, saved as
<collection>_twin.npz without comparing with any outcome (for a held-out test whose rule is
committed before the comparison; twin_pick.py prints the comparison too).

    python docs/evals/tie_break/twin_blind.py COLLECTION.npz [...]   # ~30 min per 600 single scenes, one core each
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "depth_twin"))
from twin_clutter import twin_scores  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("collections", nargs="+", type=Path)
    args = p.parse_args()
    with ProcessPoolExecutor(len(args.collections)) as pool:
        for path, twin in zip(args.collections, pool.map(twin_scores, args.collections)):
            np.savez_compressed(path.with_name(path.stem + "_twin.npz"), twin=twin)
            print("wrote", path.with_name(path.stem + "_twin.npz"))


if __name__ == "__main__":
    main()
