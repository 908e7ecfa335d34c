"""Do hand-made measurements of the object around each turned grasp help the selector pick?
(analysis only, 2026-12-01, twentieth session)

The patch CNN (patch_critic.py) had 1,200 scenes to learn what a robust grasp looks like from
raw depth and fell short of the linear selector. A few numbers a person would check instead
(how wide the object is along and across the hand, how far the grasp is off the object's middle,
how tall it is at the grasp and around it, which way it is elongated relative to the hand) need
far less data. Measured in a 64 x 64 px window around the grasp pixel turned by the grasp's yaw,
heights above the table. Data: the 3,600 single seen scenes with five executions per grasp and
the executed grasps saved (robust_more_single_seen_s*.npz); depth rendered again from the seeds.

5-fold cross-validation by scene (folds.py), counted as the scenes whose picked grasp lifted in
its one exact execution. Rule fixed before running: held-out scenes only if a variant is at least
25 scenes (of 3,600) ahead of the shipped recipe (linear, policy features, exact outcome).

    python docs/evals/not_shipped/selector_labels/geometry_cv.py --json F
"""

import argparse
import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from folds import scene_folds  # beside this script
from patch_critic import render_depths

from pa_grasp_policy.object_geometry import GEOMETRY_NAMES, WINDOW_NAMES, measure_window, window_heights
from pa_grasp_policy.turn_selection import TURNS, MlpFitConfig, fit_mlp_selector, fit_selector

HERE = Path(__file__).resolve().parent
CACHE = HERE.parents[3] / "runs" / "geometry_cv"


# The measurements were first written here and then moved, unchanged, into the package
# (pa_grasp_policy/object_geometry.py; the values agree to 1e-6 on the 3,600 scenes).
def collection_geometry(path: Path) -> np.ndarray:
    """(scenes, 4, len(GEOMETRY_NAMES)): the measurements and the grasp's own angles and hand."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"{path.stem}.npy"
    if cached.exists():
        return np.load(cached)
    data = np.load(path)
    depths = render_depths(data)
    grasps = data["grasp"]
    out = np.zeros((*grasps.shape[:2], len(GEOMETRY_NAMES)))
    for i in range(len(grasps)):
        for k in range(TURNS):
            u, v, roll, pitch, yaw = grasps[i, k, :5]
            out[i, k, : len(WINDOW_NAMES)] = measure_window(window_heights(depths[i], u, v, yaw))
            out[i, k, len(WINDOW_NAMES) :] = [math.sin(roll), math.cos(roll), pitch, *grasps[i, k, 5:9]]
    np.save(cached, out)
    return out


def robust_scenes():
    """The 3,600 robust scenes: (policy features, features + measurements, lifted, robust fractions)."""
    files = [HERE / f"robust_more_single_seen_s{s}.npz" for s in ("1200x15", "1215x15", "1400x30", "1430x30")]
    data = [np.load(f) for f in files]
    policy = np.concatenate([d["features"] for d in data]).astype(np.float64)
    x = np.concatenate([policy, np.concatenate([collection_geometry(f) for f in files])], -1)
    lifted = np.concatenate([d["lifted"] for d in data])
    errors = np.concatenate([d["lifted_with_errors"] for d in data])
    return policy, x, lifted, (lifted + errors.sum(-1)) / (1 + errors.shape[-1])


def fit_mlp(x, target, seed: int = 0):
    """The network selector (64-64 ReLU, 40 epochs; first written here, now the package's)."""
    selector = fit_mlp_selector(x.reshape(-1, x.shape[-1]), target.reshape(-1), "", "features", MlpFitConfig(seed=seed))
    return lambda x_new: selector.scores(x_new.reshape(-1, x.shape[-1])).reshape(-1, TURNS)


def linear(x, target, l2=1e-2):
    selector = fit_selector(x.reshape(-1, x.shape[-1]), target.reshape(-1).astype(float), "", l2)
    return lambda x_new: selector.scores(x_new.reshape(-1, x.shape[-1])).reshape(-1, TURNS)


VARIANTS = {
    # name: (inputs, label, model)
    "linear_policy_exact": ("policy", "exact", linear),  # the shipped recipe
    "linear_policy_geometry_exact": ("policy+geometry", "exact", linear),
    "linear_policy_geometry_robust": ("policy+geometry", "robust", linear),
    "linear_geometry_robust": ("geometry", "robust", linear),
    "mlp_geometry_robust": ("geometry", "robust", fit_mlp),
    "mlp_policy_geometry_robust": ("policy+geometry", "robust", fit_mlp),
    # added after the first run, to tell what the gain comes from (geometry_cv_attribution.json)
    "mlp_policy_robust": ("policy", "robust", fit_mlp),
    "mlp_policy_geometry_exact": ("policy+geometry", "exact", fit_mlp),
    "mlp_policy_geometry_robust_seed1": ("policy+geometry", "robust", lambda x, t: fit_mlp(x, t, seed=1)),
}
FIRST_RUN = list(VARIANTS)[:6]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json")
    p.add_argument("--variants", nargs="+", default=FIRST_RUN, choices=list(VARIANTS))
    args = p.parse_args()
    variants = {name: VARIANTS[name] for name in dict.fromkeys(["linear_policy_exact", *args.variants])}
    torch.set_num_threads(2)
    files = [HERE / f"robust_more_single_seen_s{s}.npz" for s in ("1200x15", "1215x15", "1400x30", "1430x30")]
    with ProcessPoolExecutor(2) as pool:
        geometries = list(pool.map(collection_geometry, files))
    data = [np.load(f) for f in files]
    inputs = {
        "geometry": np.concatenate(geometries),
        "policy": np.concatenate([d["features"] for d in data]).astype(np.float64),
    }
    inputs["policy+geometry"] = np.concatenate([inputs["policy"], inputs["geometry"]], -1)
    lifted = np.concatenate([d["lifted"] for d in data])
    errors = np.concatenate([d["lifted_with_errors"] for d in data])
    labels = {"exact": lifted.astype(float), "robust": (lifted + errors.sum(-1)) / (1 + errors.shape[-1])}
    n = len(lifted)
    totals = dict.fromkeys(variants, 0)
    for k, (train, test) in enumerate(scene_folds(n)):
        rows = np.arange(len(test))
        for name, (x_name, label, model) in variants.items():
            x = inputs[x_name]
            pick = model(x[train], labels[label][train])(x[test]).argmax(1)
            totals[name] += int(lifted[test][rows, pick].sum())
        print(k, totals, flush=True)
    robust = labels["robust"]
    report = {
        "scenes": n,
        "turn0": int(lifted[:, 0].sum()),
        "any": int(lifted.any(1).sum()),
        "robust_oracle": int(lifted[np.arange(n), robust.argmax(1)].sum()),
        "cv": totals,
        "geometry_names": list(GEOMETRY_NAMES),
    }
    best = max((v for v in variants if v != "linear_policy_exact"), key=totals.get)
    report["held_out"] = (
        f"to score: {best}"
        if totals[best] >= totals["linear_policy_exact"] + 25
        else "not scored: no variant is 25 scenes ahead"
    )
    print(json.dumps({k: v for k, v in report.items() if k != "geometry_names"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
