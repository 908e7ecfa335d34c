"""Eight views instead of four: does twin first among the grasps on the image's four quarter
turns and on its mirror image's four lift more scenes than twin first among the four turns alone?
(analysis, 2026-12-02, twenty-fourth session)

The mirror image of a top-down depth image (numpy.fliplr) is the scene reflected across a
vertical plane, and the BH-280 is symmetric about its palm's x-z plane, so the policy's grasp on
the mirror image maps back to a grasp on the scene (turn_selection.mirror_grasp, tested on the
hand's links). The policy is not mirror-equivariant, so those are four more of its own modal
grasps. Inputs: a four-turn collection of `pa-grasp-selector collect` with its shipped-twin
scores (`*_twin.npz` of docs/evals/depth_twin/twin_pick.py), and the same scenes collected with
`--mirrored`; the mirrored grasps' twin scores are computed here if missing (~37 min per 600
single scenes on one core, 3.7 s a scene here) and saved beside them.

    python docs/evals/mirror_views/mirror_pick.py TURNED.npz MIRRORED.npz [TURNED.npz MIRRORED.npz ...] [--json F]
"""

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "docs/evals/depth_twin"))
from twin_clutter import sign_test, twin_scores  # noqa: E402

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR  # noqa: E402
from pa_grasp_policy.turn_selection import TWIN_TIE_WEIGHT, GraspSelector  # noqa: E402


def twin_path(collection: Path) -> Path:
    return collection.with_name(collection.stem + "_twin.npz")


def saved_twin_scores(collection: Path) -> np.ndarray:
    path = twin_path(collection)
    if not path.exists():
        np.savez_compressed(path, twin=twin_scores(collection))
    return np.load(path)["twin"]


def selector_scores(selector: GraspSelector, data) -> np.ndarray:
    x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
    return selector.scores(x.reshape(-1, x.shape[-1])).reshape(x.shape[:2])


def compare(turned_path: Path, mirrored_path: Path, twin_turned, twin_mirrored, selector) -> dict:
    turned, mirrored = np.load(turned_path), np.load(mirrored_path)
    if not np.array_equal(turned["seed"], mirrored["seed"]) or str(turned["objects"]) != str(mirrored["objects"]):
        raise SystemExit(f"{turned_path} and {mirrored_path} are not the same scenes")
    if not bool(mirrored["mirrored"]):
        raise SystemExit(f"{mirrored_path} was not collected with --mirrored")
    lifted = np.concatenate([turned["lifted"], mirrored["lifted"]], 1)  # views 0-3 turned, 4-7 mirrored
    rank = np.concatenate([twin_turned, twin_mirrored], 1) + TWIN_TIE_WEIGHT * np.concatenate(
        [selector_scores(selector, turned), selector_scores(selector, mirrored)], 1
    )
    rows = np.arange(len(lifted))
    four = lifted[rows, rank[:, :4].argmax(1)]  # the served choice
    eight = lifted[rows, rank.argmax(1)]
    return {
        "turned": str(turned_path),
        "mirrored": str(mirrored_path),
        "objects": str(turned["objects"]),
        "scenes": len(rows),
        "twin_first_4_views": int(four.sum()),
        "twin_first_8_views": int(eight.sum()),
        "gained": int((eight & ~four).sum()),
        "lost": int((four & ~eight).sum()),
        "chose_a_mirrored_view": int((rank.argmax(1) >= 4).sum()),
        "lifts_by_view": lifted.sum(0).tolist(),
        "some_turn_lifts": int(lifted[:, :4].any(1).sum()),
        "some_view_lifts": int(lifted.any(1).sum()),
        "best_turn_below_5_of_5": int((twin_turned.max(1) < 1).sum()),
        "best_view_below_5_of_5": int((np.concatenate([twin_turned, twin_mirrored], 1).max(1) < 1).sum()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pairs", nargs="+", type=Path, help="TURNED MIRRORED, repeated")
    p.add_argument("--json", type=Path)
    p.add_argument("--workers", type=int, default=2, help="processes scoring missing twin scores (default 2)")
    args = p.parse_args()
    if len(args.pairs) % 2:
        raise SystemExit("give collections in pairs: TURNED MIRRORED")
    turned, mirrored = args.pairs[0::2], args.pairs[1::2]
    twins_turned = [np.load(twin_path(t))["twin"] for t in turned]
    with ProcessPoolExecutor(max(1, min(args.workers, len(mirrored)))) as pool:
        twins_mirrored = list(pool.map(saved_twin_scores, mirrored))
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    sets = [compare(*c, selector) for c in zip(turned, mirrored, twins_turned, twins_mirrored)]
    gained, lost = sum(s["gained"] for s in sets), sum(s["lost"] for s in sets)
    report = {
        "sets": sets,
        "twin_first_4_views": sum(s["twin_first_4_views"] for s in sets),
        "twin_first_8_views": sum(s["twin_first_8_views"] for s in sets),
        "gained": gained,
        "lost": lost,
        "sign_test_p": sign_test(gained, lost),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
