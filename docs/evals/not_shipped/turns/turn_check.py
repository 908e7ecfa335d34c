"""Is a scene turned by quarter turns about the camera axis the same grasping problem? (analysis only)

The training camera looks straight down at the workspace centre (the world origin) and the
workspace is a square centred there, so turning every object by k x 90° about the world z axis
should turn the depth image by k quarter turns (`numpy.rot90`) and a grasp with it: its pixel
turned the same way, its yaw + k x 90°, roll and pitch unchanged (R = Rz(yaw) Ry(pitch) Rx(roll)
in the world frame). This script checks both on the evaluation's single-object scenes: the
rendered image of each turned scene against the turned image, and the policy's grasp, turned,
executed on the turned scene, against the same grasp on the scene restored unturned (the
outcome of one grasp flips now and then on a restored scene: that is the yardstick). With
--policy-on-turned it also asks whether the policy itself turns with the scene: its own grasp on
each turned image, against the turned grasp, and how often that lifts.

    python docs/evals/not_shipped/turns/turn_check.py --objects seen --attempts 90 --seeds 3 \
        --first-seed 300 [--policy-on-turned] --json F
"""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kinds"))
from grasp_kinds import deterministic_policy, protocol_parser, write_json  # noqa: E402

from pa_grasp_policy.turn_selection import turn_uv, wrap_angle  # noqa: E402
from pa_grasp_policy.zoom import run_zoom_loop  # noqa: E402
from pa_grasp_policy.zoom_env import action_to_command  # noqa: E402
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, protocol_attempts  # noqa: E402
from pa_grasp_sim.world import GraspWorld  # noqa: E402


def turned_command(command, turns: int, side: int):
    """The grasp on the (side x side) image turned by `numpy.rot90(depth, turns)`: pixel and yaw
    turned, the yaw over a full turn (unlike `imitation.dihedral`, whose top-down demonstrations
    are kept modulo a half turn; the policy's grasps may be tilted)."""
    u, v = turn_uv((command.u, command.v), turns, side, side)
    return replace(command, u=u, v=v, yaw=wrap_angle(command.yaw + turns * np.pi / 2))


def policy_grasp(actor, zoom_cfg, depth):
    result = run_zoom_loop(depth, actor, zoom_cfg)
    return action_to_command(result.final_action, result.grasp_uv)


def main() -> None:
    p = protocol_parser(__doc__)
    p.add_argument("--json", required=True)
    p.add_argument(
        "--policy-on-turned",
        action="store_true",
        help="also run the policy on each turned image and execute its own grasp there: how far its grasp is "
        "from the turned one (pixel, yaw modulo a half turn) and how often it lifts",
    )
    a = p.parse_args()
    actor, zoom_cfg, cfg = deterministic_policy(a)
    rows = []
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world:
        for attempt in protocol_attempts(world, cfg):
            depth = attempt.depth
            if depth.shape[0] != depth.shape[1]:
                raise SystemExit(f"quarter turns need a square image, got {depth.shape}")
            snapshot = world.snapshot()
            command = policy_grasp(actor, zoom_cfg, depth)
            row = {"seed": attempt.seed, "family": attempt.placed[0].spec.family}
            row["first"] = bool(world.execute(command, depth).success)
            row["turned"], row["image_diff_mm"] = [], []
            for k in (0, 1, 2, 3):  # 0: restored unturned, the yardstick
                world.restore(snapshot.turned(k))
                depth_k = world.render_depth()
                row["image_diff_mm"].append(float(np.percentile(np.abs(depth_k - np.rot90(depth, k)), 99) * 1000))
                grasp_k = turned_command(command, k, depth.shape[0])
                row["turned"].append(bool(world.execute(grasp_k, depth_k).success))
                if a.policy_on_turned and k > 0:
                    own = policy_grasp(actor, zoom_cfg, depth_k)
                    world.restore(snapshot.turned(k))
                    row.setdefault("policy_turned", []).append(bool(world.execute(own, depth_k).success))
                    row.setdefault("policy_turned_px", []).append(float(np.hypot(own.u - grasp_k.u, own.v - grasp_k.v)))
                    dyaw = (own.yaw - grasp_k.yaw + np.pi / 2) % np.pi - np.pi / 2
                    row.setdefault("policy_turned_dyaw_deg", []).append(float(np.degrees(dyaw)))
            row["restored"] = row["turned"].pop(0)
            rows.append(row)
            print(row, flush=True)
    n = len(rows)
    first = sum(r["first"] for r in rows)
    restored_agree = sum(r["restored"] == r["first"] for r in rows)
    turned_agree = sum(t == r["first"] for r in rows for t in r["turned"])
    turned_lift = sum(t for r in rows for t in r["turned"])
    diff = np.array([d for r in rows for d in r["image_diff_mm"][1:]])
    diff0 = np.array([r["image_diff_mm"][0] for r in rows])
    summary = {
        "attempts": n,
        "first_lifted": first,
        "restored_agrees": restored_agree,
        "turned_agrees": turned_agree,
        "turned_lifted": turned_lift,
        "turned_tries": 3 * n,
        "image_diff_99pct_mm_max": float(diff.max()),
        "image_diff_99pct_mm_median": float(np.median(diff)),
        "restored_image_diff_99pct_mm_max": float(diff0.max()),
        "restored_image_diff_99pct_mm_median": float(np.median(diff0)),
    }
    if a.policy_on_turned:
        summary["policy_turned_lifted"] = sum(t for r in rows for t in r["policy_turned"])
        px = np.array([d for r in rows for d in r["policy_turned_px"]])
        dyaw = np.abs([d for r in rows for d in r["policy_turned_dyaw_deg"]])
        summary["policy_turned_px_median"] = float(np.median(px))
        summary["policy_turned_within_2px_and_10deg"] = int(np.sum((px <= 2) & (dyaw <= 10)))
        summary["policy_turned_dyaw_deg_median"] = float(np.median(dyaw))
    print(summary)
    payload = {"checkpoint": a.checkpoint or "shipped", "objects": a.objects, "summary": summary, "rows": rows}
    write_json(a.json, payload)


if __name__ == "__main__":
    main()
