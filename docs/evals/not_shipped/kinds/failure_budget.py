"""Where do a policy's single-object failures go? A budget by what would have lifted them (analysis only)

Runs the evaluation's single-object scenes (`pa-grasp-eval --scene single --first-seed S`) and,
after every failed attempt, tries groups of other grasps on the scene as it was before the
policy's grasp (restored before every try), in this order:

    same         the policy's own grasp again            (simulator chaos: the restored scene differs
                                                           from the original by contact history only)
    neighbours   `grasp_probe.neighbours`: yaw ±20°, ±45°, +90°, the pixel moved 1.5 px, the other pre-shape
    kinds_here   18 grasps at the policy's pixel: its yaw or turned 90°, pitch 90/70/55°, spread 0/45/90°
    kinds_top    the same 18 at the heuristic's pixel (the highest point of the object)
    grid_top     `grasp_probe.grid` at the heuristic's pixel (16: tilted 20°, pre-closed fingers, ...)

Each group stops at its first lifting grasp; every group is tried, so a failure counts once per
group that lifts it, and once in the budget under the first such group. Writes per failure the
family, the object's extents as it lies (world axis-aligned box: the two horizontal sides sorted,
and the height), the policy's grasp and the groups that lifted; prints the budget by family.

    python docs/evals/not_shipped/kinds/failure_budget.py [--checkpoint C] --objects seen \
        --attempts 600 --seeds 15 --first-seed 300 --json F
"""

import time
from collections import Counter, defaultdict
from dataclasses import replace

import numpy as np
from grasp_kinds import deterministic_policy, kinds_at, protocol_parser, write_json  # this script's neighbour

from pa_grasp_policy.zoom import run_zoom_loop
from pa_grasp_policy.zoom_env import action_to_command
from pa_grasp_sim.baselines import object_tops
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, protocol_attempts
from pa_grasp_sim.grasp_probe import grid, lifting_grasps, neighbours
from pa_grasp_sim.world import GraspWorld

GROUPS = ("same", "neighbours", "kinds_here", "kinds_top", "grid_top")


def named_kinds_at(command) -> list:
    """`grasp_kinds.kinds_at` named "turn<deg>-pitch<deg>-spread<deg>"."""
    return [(f"turn{t}-pitch{p}-spread{s}", c) for (t, p, s), c in kinds_at(command)]


def extents(world, body) -> dict:
    """The object's world axis-aligned extents as it lies: narrow and wide horizontal side, height."""
    lo, hi = (np.asarray(c) for c in world.client.getAABB(body))
    size = hi - lo
    narrow, wide = sorted(size[:2])
    return {"narrow_m": float(narrow), "wide_m": float(wide), "height_m": float(size[2])}


def candidate_groups(world, depth, command) -> dict:
    height, width = depth.shape[:2]
    tops = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)
    top = replace(command, u=tops[0].u, v=tops[0].v, yaw=tops[0].yaw) if tops else None
    return {
        "same": [("same", command)],
        "neighbours": neighbours(command, width, height),
        "kinds_here": named_kinds_at(command),
        "kinds_top": named_kinds_at(top) if top else [],
        "grid_top": grid(top.u, top.v, top.yaw) if top else [],
    }


def main() -> None:
    p = protocol_parser(__doc__)
    p.add_argument("--json", required=True)
    a = p.parse_args()
    actor, zoom_cfg, cfg = deterministic_policy(a)
    successes, rows, start = Counter(), [], time.perf_counter()
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world:
        for i, attempt in enumerate(protocol_attempts(world, cfg), start=1):
            placed = attempt.placed[0]
            result = run_zoom_loop(attempt.depth, actor, zoom_cfg)
            command = action_to_command(result.final_action, result.grasp_uv)
            size = extents(world, placed.body)
            before = world.snapshot()
            outcome = world.execute(command, attempt.depth)
            successes[placed.spec.family] += outcome.success
            if not outcome.success:
                groups = candidate_groups(world, attempt.depth, command)
                lifted = {
                    name: [key for key, _ in lifting_grasps(world, attempt.depth, before, groups[name], True)]
                    for name in GROUPS
                }
                rows.append(
                    {
                        "seed": attempt.seed,
                        "family": placed.spec.family,
                        "object": placed.spec.name,
                        "reason": outcome.reason,
                        "pitch_deg": float(np.degrees(command.pitch)),
                        "spread_deg": float(np.degrees(command.spread)),
                        **size,
                        "lifted_by": {k: v[0] for k, v in lifted.items() if v},
                    }
                )
            if i % 50 == 0:
                print(f"{i}/{a.attempts} scenes, {len(rows)} failures, {time.perf_counter() - start:.0f} s", flush=True)
    write_json(
        a.json,
        {
            "checkpoint": a.checkpoint or "shipped",
            "objects": a.objects,
            "first_seed": a.first_seed,
            "attempts": a.attempts,
            "successes_by_family": dict(successes),
            "rows": rows,
        },
    )
    lifted_total = sum(successes.values())
    print(f"success {lifted_total}/{a.attempts} ({100 * lifted_total / a.attempts:.1f}%), {len(rows)} failures")
    budget = defaultdict(Counter)
    for r in rows:
        first = next((g for g in GROUPS if g in r["lifted_by"]), "nothing")
        budget[r["family"]][first] += 1
        budget["(all)"][first] += 1
    header = ["family", "failures", *GROUPS, "nothing"]
    print(" | ".join(header))
    for family, counts in sorted(budget.items(), key=lambda kv: -sum(kv[1].values())):
        print(" | ".join([family, str(sum(counts.values()))] + [str(counts[g]) for g in (*GROUPS, "nothing")]))
    any_group = Counter(g for r in rows for g in r["lifted_by"])
    print("failures each group lifts at all: " + ", ".join(f"{g} {any_group[g]}" for g in GROUPS))


if __name__ == "__main__":
    main()
