"""Held-out test of the one variant geometry_cv.py let through (an MLP on the policy's features
plus the hand-made measurements, fitted to robust fractions; analysis only, 2026-12-01).

Fitted once on the 3,600 robust-labelled single seen scenes (seeds 1200-1229, 1400-1459), then
scored once on the four held-out collections (single seen / novel, seeds 1100-1114 and 1300-1314,
2,400 scenes, all four turned grasps executed once), against the shipped selector on the same
scenes. The held-out collections predate saving the grasps, so each scene's depth is rendered
again from its seed and the four turned grasps recomputed by the deterministic policy (their
features are checked against the saved ones). Writes one report per collection in the format of
`pa-grasp-selector score --json`, for paired.py, and
the totals in geometry_heldout.json. Rule fixed before running: ship only if ahead of
the shipped selector over the 2,400 scenes with a sign test p < 0.05 and behind in no collection.

    python docs/evals/not_shipped/selector_labels/geometry_heldout.py
"""

import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from geometry_cv import CACHE, fit_mlp
from patch_critic import render_depths

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.object_geometry import GEOMETRY_NAMES
from pa_grasp_policy.turn_selection import TURNS, GraspSelector, feature_actor, run_geometry, run_turned

HERE = Path(__file__).resolve().parent
TRAIN = [HERE / f"robust_more_single_seen_s{s}.npz" for s in ("1200x15", "1215x15", "1400x30", "1430x30")]
HELD_OUT = {
    "seen_s1100": HERE / "heldout_single_seen_s1100x15.npz",
    "novel_s1100": HERE / "heldout_single_novel_s1100x15.npz",
    "seen_s1300": HERE / "heldout2_single_seen_s1300x15.npz",
    "novel_s1300": HERE / "heldout2_single_novel_s1300x15.npz",
}


def held_out_geometry(path: Path) -> np.ndarray:
    cached = CACHE / f"{path.stem}.npy"
    if cached.exists():
        return np.load(cached)
    torch.set_num_threads(1)
    data = np.load(path)
    depths = render_depths(data)
    policy, zoom_cfg, _ = load_policy(None)
    act = feature_actor(policy)
    out = np.zeros((len(depths), TURNS, len(GEOMETRY_NAMES)))
    worst = 0.0
    for i, depth in enumerate(depths):
        for k in range(TURNS):
            run = run_turned(depth, policy, zoom_cfg, k, act=act)
            worst = max(worst, float(np.abs(run.features - data["features"][i, k]).max()))
            out[i, k] = run_geometry(run, depth)
    print(f"{path.name}: recomputed features differ from the saved ones by at most {worst:.2e}", flush=True)
    if worst > 1e-3:
        raise SystemExit(f"{path.name}: the recomputed grasps are not the collected ones")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, out)
    return out


def main() -> None:
    from geometry_cv import collection_geometry

    with ProcessPoolExecutor(2) as pool:
        train_geometry = list(pool.map(collection_geometry, TRAIN))
        test_geometry = dict(zip(HELD_OUT, pool.map(held_out_geometry, HELD_OUT.values())))
    torch.set_num_threads(2)
    train = [np.load(f) for f in TRAIN]
    x = np.concatenate([np.concatenate([d["features"] for d in train]), np.concatenate(train_geometry)], -1)
    lifted = np.concatenate([d["lifted"] for d in train])
    errors = np.concatenate([d["lifted_with_errors"] for d in train])
    scores = fit_mlp(x, (lifted + errors.sum(-1)) / (1 + errors.shape[-1]))
    # the selector shipped before this one (the linear one, git show cdf4742:pa_grasp_policy/...)
    shipped = GraspSelector.load(HERE.parents[1] / "turn_selector" / "linear_selector_2026-11-30.json")
    totals = {"mlp": 0, "shipped": 0, "gained": 0, "lost": 0}
    for name, path in HELD_OUT.items():
        data = np.load(path)
        features, outcome = data["features"].astype(np.float64), data["lifted"]
        rows = np.arange(len(outcome))
        pick = scores(np.concatenate([features, test_geometry[name]], -1)).argmax(1)
        shipped_pick = shipped.scores(features.reshape(-1, features.shape[-1])).reshape(-1, TURNS).argmax(1)
        chosen, chosen_shipped = outcome[rows, pick], outcome[rows, shipped_pick]
        report = {
            "selector": "geometry_heldout.py: MLP on policy features + geometry, robust fractions, 3,600 scenes",
            "collections": [str(path.relative_to(HERE.parents[3]))],
            "scenes": len(rows),
            "turn0_lifts": int(outcome[:, 0].sum()),
            "any_turn_lifts": int(outcome.any(1).sum()),
            "chosen_lifts": int(chosen.sum()),
            "shipped_selector_lifts": int(chosen_shipped.sum()),
            "seed": data["seed"].tolist(),
            "chosen_turn": pick.tolist(),
            "chosen_lifted": chosen.astype(int).tolist(),
        }
        (HERE / f"score_geometry_mlp_{name}.json").write_text(json.dumps(report))
        totals["mlp"] += int(chosen.sum())
        totals["shipped"] += int(chosen_shipped.sum())
        totals["gained"] += int((chosen & ~chosen_shipped).sum())
        totals["lost"] += int((chosen_shipped & ~chosen).sum())
        print(f"{name}: turn 0 {outcome[:, 0].sum()}, shipped selector {chosen_shipped.sum()}, MLP {chosen.sum()}")
    changed = totals["gained"] + totals["lost"]
    # two-sided sign test on the scenes where the two choices' outcomes differ
    tail = sum(math.comb(changed, j) for j in range(0, min(totals["gained"], totals["lost"]) + 1)) / 2**changed
    summary = json.dumps({**totals, "sign_test_p": min(1.0, 2 * tail)})
    print(summary)
    (HERE / "geometry_heldout.json").write_text(summary)


if __name__ == "__main__":
    main()
