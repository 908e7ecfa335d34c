"""Lifts of the served choice by object family on a four-grasp collection of seeds 1900-1914
(analysis, 2026-12-02): the scenes are rebuilt (same protocol attempts) to read each object's
family, saved as FAMILIES_<objects>.npy beside this script.

    python docs/evals/not_shipped/twin_search/families.py seen|novel   # ~1 min
"""

import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR, load_policy
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]

objects = sys.argv[1]
_, _, world_cfg = load_policy(None)
base = ROOT / f"docs/evals/heldout_1900/single_{objects}_s1900x15"
data, twin = np.load(f"{base}.npz"), np.load(f"{base}_twin.npz")["twin"]
x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
score = GraspSelector.load(SHIPPED_SELECTOR).scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
lifted = data["lifted"]
served = lifted[np.arange(len(lifted)), (twin + TWIN_TIE_WEIGHT * score).argmax(1)]
cfg = EvalConfig("single", objects, len(lifted), 15, 1900, world=world_cfg)
with GraspWorld(world_cfg, objects, seed=EVAL_SEED_BASE) as world:
    family = np.array([a.placed[0].spec.family for a in protocol_attempts(world, cfg)])
np.save(HERE / f"FAMILIES_{objects}.npy", family)
for name in np.unique(family):
    m = family == name
    print(
        f"{objects} {name:12s} scenes {m.sum():3d} lifted {served[m].sum():3d} some turn lifts"
        f" {lifted[m].any(1).sum():3d} best turn < 5/5 in twin {(twin[m].max(1) < 1).sum():3d}"
    )
