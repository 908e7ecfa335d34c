"""Is the protocol's single-object shortfall its mix of objects? (analysis, 2026-12-06)

The served choice (twin first among the four turned grasps, the shipped selector breaking ties)
on fresh four-grasp collections of the fixed camera, by object family; then the rate those
per-family rates predict for the protocol's own mix of families (the `per_family` counts of the
served protocol cell, docs/evals/depth_twin/model_single_<objects>.json). The scenes are rebuilt
(same protocol attempts, no grasping) to read each object's family, cached as
<collection>_families.npy beside the collection (~1 min per 600 scenes).

    python docs/evals/family_mix/family_mix.py seen|novel FIRST_SEED [FIRST_SEED ...] [--json F]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR, load_policy
from pa_grasp_policy.turn_selection import TWIN_TIE_WEIGHT, GraspSelector
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "docs/evals/mirror_views"))
from mirror_pick import selector_scores  # noqa: E402  (the selector's scores of every saved grasp)


def served_lifts(base: Path) -> np.ndarray:
    """The exact execution of the served choice in every scene: twin first, the selector breaking ties."""
    data, twin = np.load(f"{base}.npz"), np.load(f"{base}_twin.npz")["twin"]
    rank = twin + TWIN_TIE_WEIGHT * selector_scores(GraspSelector.load(SHIPPED_SELECTOR), data)
    return data["lifted"][np.arange(len(twin)), rank.argmax(1)]


def families(base: Path, objects: str, first_seed: int, scenes: int, world_cfg) -> np.ndarray:
    cache = Path(f"{base}_families.npy")
    if not cache.exists():
        cfg = EvalConfig("single", objects, scenes, 15, first_seed, world=world_cfg)
        with GraspWorld(world_cfg, objects, seed=EVAL_SEED_BASE) as world:
            np.save(cache, np.array([a.placed[0].spec.family for a in protocol_attempts(world, cfg)]))
    return np.load(cache)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("objects", choices=["seen", "novel"])
    p.add_argument("first_seeds", nargs="+", type=int)
    p.add_argument("--json")
    a = p.parse_args()
    _, _, world_cfg = load_policy(None)
    lifted, family = [], []
    for seed in a.first_seeds:
        base = ROOT / f"docs/evals/heldout_{seed}/single_{a.objects}_s{seed}x15"
        served = served_lifts(base)
        lifted.append(served)
        family.append(families(base, a.objects, seed, len(served), world_cfg))
    lifted, family = np.concatenate(lifted), np.concatenate(family)
    protocol = json.loads((ROOT / f"docs/evals/depth_twin/model_single_{a.objects}.json").read_text())
    rows, expected, protocol_lifted = {}, 0.0, 0
    for name, (won, count) in sorted(protocol["per_family"].items()):
        m = family == name
        rate = float(lifted[m].mean())
        rows[name] = {
            "fresh_scenes": int(m.sum()),
            "fresh_lifted": int(lifted[m].sum()),
            "fresh_rate": round(rate, 3),
            "protocol_scenes": count,
            "protocol_lifted": won,
        }
        expected += count * rate
        protocol_lifted += won
        print(f"{name:14s} fresh {lifted[m].sum():4d}/{m.sum():4d} ({100 * rate:5.1f}%)   protocol {won:3d}/{count:3d}")
    total = sum(r["protocol_scenes"] for r in rows.values())
    summary = {
        "objects": a.objects,
        "fresh_sets": a.first_seeds,
        "fresh_scenes": len(lifted),
        "fresh_rate": round(float(lifted.mean()), 4),
        "protocol_rate": round(protocol_lifted / total, 4),
        "protocol_mix_expected_rate": round(expected / total, 4),
        "families": rows,
    }
    print(
        f"{a.objects}: fresh {100 * lifted.mean():.1f}% of {len(lifted)}; the protocol's mix of families at the fresh"
        f" per-family rates: {100 * expected / total:.1f}%; the protocol measured {100 * protocol_lifted / total:.1f}%"
    )
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
