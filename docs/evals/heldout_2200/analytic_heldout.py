"""Held-out test of one analytic grasp as a fifth twin candidate (rule fixed before scoring,
2026-12-06, twenty-seventh session; docs/experiments.md, "An analytic fifth candidate").

On the four-grasp collections of seeds 2200-2214 (made after the camera fix, with
--small-errors) and their twin scores (docs/evals/depth_twin/twin_pick.py): in every scene
whose best turned grasp scores below 5/5 in the depth twin, the heuristic baseline's grasp with
spread 0 (a parallel grip at the centre of the highest object's top, fingers across its narrow
side) is scored in the same twin and executed on the restored real scene, once exactly and
with the four small errors. "Twin first + analytic" takes it when its twin score is above the
best turned grasp's; otherwise it is twin first as served.

    python docs/evals/heldout_2200/analytic_heldout.py seen|novel     # the candidate, one core each
    python docs/evals/heldout_2200/analytic_heldout.py --decide      # the rule, over both sets
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from pa_grasp_policy.evaluate import SHIPPED_SELECTOR, load_policy
from pa_grasp_policy.selector_cli import target_fraction
from pa_grasp_policy.turn_selection import TURNS, TWIN_TIE_WEIGHT, GraspSelector
from pa_grasp_sim.baselines import heuristic_grasp
from pa_grasp_sim.depth_twin import DepthTwin
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.grasp_probe import with_small_errors
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
FIRST_SEED, SEEDS = 2200, 15
ALPHA = 0.05


def base(objects: str) -> Path:
    return HERE / f"single_{objects}_s{FIRST_SEED}x{SEEDS}"


def score_candidate(objects: str) -> None:
    data = np.load(f"{base(objects)}.npz")
    twin4 = np.load(f"{base(objects)}_twin.npz")["twin"]
    open_scenes = set(np.flatnonzero(twin4.max(1) < 1.0).tolist())
    _, _, world_cfg = load_policy(None)
    cfg = EvalConfig("single", objects, len(data["seed"]), SEEDS, FIRST_SEED, world=world_cfg)
    out = {"scene": [], "twin": [], "lifted": [], "lifted_with_errors": []}
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world, DepthTwin(None, world_cfg) as twin:
        camera = world.camera
        for i, attempt in enumerate(protocol_attempts(world, cfg)):
            if attempt.seed != data["seed"][i]:
                raise RuntimeError(f"scene {i}: seed {attempt.seed} is not the collection's {data['seed'][i]}")
            if i not in open_scenes:
                continue
            snapshot = world.snapshot()
            h = heuristic_grasp(attempt.depth, camera.intrinsics, camera.T_world_camera)
            command = replace(h, spread=0.0)
            scores = twin.scores(attempt.depth, camera.intrinsics, camera.T_world_camera, [command])
            out["twin"].append(float(scores[0]))
            world.restore(snapshot)
            out["lifted"].append(bool(world.execute(command, attempt.depth).success))
            errors = []
            for copy in with_small_errors(command, attempt.depth.shape):
                world.restore(snapshot)
                errors.append(bool(world.execute(copy, attempt.depth).success))
            out["lifted_with_errors"].append(errors)
            out["scene"].append(i)
            if len(out["scene"]) % 20 == 0:
                print(f"{objects}: {len(out['scene'])}/{len(open_scenes)} open scenes", flush=True)
    np.savez_compressed(f"{base(objects)}_analytic.npz", **{k: np.array(v) for k, v in out.items()})
    print(f"{objects}: {len(out['scene'])} open scenes, the analytic grasp lifts {sum(out['lifted'])}")


def decide() -> dict:
    selector = GraspSelector.load(SHIPPED_SELECTOR)
    report, gained, lost = {}, 0, 0
    for objects in ("seen", "novel"):
        data = np.load(f"{base(objects)}.npz")
        twin4 = np.load(f"{base(objects)}_twin.npz")["twin"]
        cand = np.load(f"{base(objects)}_analytic.npz")
        x = np.concatenate([data["features"].astype(np.float64), data["geometry"]], -1)
        score = selector.scores(x.reshape(-1, x.shape[-1])).reshape(-1, TURNS)
        rows = np.arange(len(score))
        pick = (twin4 + TWIN_TIE_WEIGHT * score).argmax(1)
        served = data["lifted"][rows, pick].copy()
        robust4 = target_fraction(data["lifted"], data["lifted_with_errors"])
        served_robust = robust4[rows, pick]
        with_analytic, with_analytic_robust = served.copy(), served_robust.copy()
        take = cand["twin"] > twin4[cand["scene"]].max(1)
        taken = cand["scene"][take]
        with_analytic[taken] = cand["lifted"][take]
        candidate_robust = target_fraction(cand["lifted"][:, None], cand["lifted_with_errors"][:, None])[:, 0]
        with_analytic_robust[taken] = candidate_robust[take]
        g = int((with_analytic & ~served).sum())
        lo = int((~with_analytic & served).sum())
        gained, lost = gained + g, lost + lo
        report[objects] = {
            "scenes": len(rows),
            "twin_first": int(served.sum()),
            "twin_first_plus_analytic": int(with_analytic.sum()),
            "analytic_taken": int(take.sum()),
            "open_scenes": len(cand["scene"]),
            "gained": g,
            "lost": lo,
            "robust_mean_twin_first": round(float(served_robust.mean()), 4),
            "robust_mean_plus_analytic": round(float(with_analytic_robust.mean()), 4),
            "any_turn": int(data["lifted"].any(1).sum()),
        }
    p = binomtest(gained, gained + lost).pvalue if gained + lost else 1.0
    behind = any(r["twin_first_plus_analytic"] < r["twin_first"] for r in report.values())
    report["pooled"] = {"gained": gained, "lost": lost, "p_two_sided_sign_test": round(float(p), 4)}
    report["ship"] = bool(gained > lost and p < ALPHA and not behind)
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("objects", nargs="?", choices=["seen", "novel"])
    p.add_argument("--decide", action="store_true")
    args = p.parse_args()
    if args.decide:
        report = decide()
        print(json.dumps(report, indent=1))
        (HERE / "analytic_heldout.json").write_text(json.dumps(report, indent=1) + "\n")
    elif args.objects:
        score_candidate(args.objects)
    else:
        p.error("give seen, novel or --decide")


if __name__ == "__main__":
    main()
