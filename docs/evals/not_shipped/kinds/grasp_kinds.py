"""Which kinds of grasp does a policy make, and on which box sizes do they fail? (analysis only)

Runs the evaluation's single-object scenes (`pa-grasp-eval --scene single --first-seed S`, the
same scenes and outcomes) and records per attempt: the object's family, the zoom steps, the
grasp's pitch / spread / fingers, and for boxes their horizontal sides as they lie and their
height, and the grasp's offset from the box's centre and angle to its long side. Prints success
by zoom steps, by family and by the narrow horizontal side of boxes; writes every row to --json.

    python docs/evals/not_shipped/kinds/grasp_kinds.py [--checkpoint C] --objects seen \
        --attempts 600 --seeds 15 --first-seed 300 --json F
"""

import argparse
import itertools
import json
import math
from collections import defaultdict
from dataclasses import replace

import numpy as np

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_policy.zoom import run_zoom_loop
from pa_grasp_policy.zoom_env import action_to_command
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.teacher import wrap_half_turn
from pa_grasp_sim.world import GraspWorld

BOXES = ("box", "wide_box", "flat_box")


YAW_TURNS, PITCHES, SPREADS = (0, 90), (90, 70, 55), (0, 45, 90)  # degrees: the 18 kinds below


def kinds_at(command) -> list[tuple[tuple[int, int, int], object]]:
    """18 grasps at `command`'s pixel, keyed (turn, pitch, spread) in degrees: its yaw or turned
    90°, pitch 90/70/55°, spread 0/45/90°, roll 0 and fingers straight."""
    return [
        (
            (turn, pitch, spread),
            replace(
                command,
                roll=0.0,
                pitch=math.radians(pitch),
                yaw=wrap_half_turn(command.yaw + math.radians(turn)),
                spread=math.radians(spread),
                fingers=(0.0, 0.0, 0.0),
            ),
        )
        for turn, pitch, spread in itertools.product(YAW_TURNS, PITCHES, SPREADS)
    ]


def rounded(value, digits: int = 4):
    """`value` with every float rounded (JSON rows stay short and readable)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def write_json(path: str, payload: dict) -> None:
    """`payload` with floats rounded, one row of its "rows" per line."""
    text = json.dumps(rounded(payload), separators=(",", ":")).replace("},{", "},\n{")
    with open(path, "w") as f:
        f.write(text + "\n")


def box_pose(world, placed) -> tuple[np.ndarray, np.ndarray]:
    """(position, rotation matrix) of an object, read before the grasp moves it."""
    pos, q = world.client.getBasePositionAndOrientation(placed.body)
    return np.asarray(pos), np.array(world.client.getMatrixFromQuaternion(q)).reshape(3, 3)


def lying_axes(half: np.ndarray, R: np.ndarray) -> tuple[int, int, int]:
    """Indices of a box's (narrow horizontal, long horizontal, vertical) axes as it lies."""
    up = int(np.argmax(np.abs(R[2, :])))
    narrow, long = sorted((i for i in range(3) if i != up), key=lambda i: half[i])
    return narrow, long, up


def box_geometry(placed, pose, T_palm, surface) -> dict:
    """Sides of a lying box (narrow, long horizontal; height) and where the grasp met it."""
    pos, R = pose
    half = np.asarray(placed.spec.parts[0][1])
    narrow, long, up = lying_axes(half, R)
    axis = {i: R[:2, i] / np.linalg.norm(R[:2, i]) for i in (narrow, long)}
    offset = np.asarray(surface)[:2] - pos[:2]
    palm_x = np.asarray(T_palm)[:2, 0] / (np.linalg.norm(np.asarray(T_palm)[:2, 0]) + 1e-12)
    return {
        "narrow_m": 2 * float(half[narrow]),
        "long_m": 2 * float(half[long]),
        "height_m": 2 * float(half[up]),
        "offset_narrow_m": float(offset @ axis[narrow]),
        "offset_long_m": float(offset @ axis[long]),
        "palm_x_to_long_deg": float(np.degrees(np.arccos(min(1.0, abs(palm_x @ axis[long]))))),
    }


def protocol_parser(doc: str) -> argparse.ArgumentParser:
    """Arguments of these scripts: the policy and the evaluation's single-object scenes."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=600)
    p.add_argument("--seeds", type=int, default=15)
    p.add_argument("--first-seed", type=int, default=300)
    return p


def deterministic_policy(args) -> tuple:
    """(deterministic actor, zoom config, EvalConfig of the single-object scenes) for `args`."""
    policy, zoom_cfg, world_cfg = load_policy(args.checkpoint)
    cfg = EvalConfig(
        scene="single",
        objects=args.objects,
        attempts=args.attempts,
        seeds=args.seeds,
        first_seed=args.first_seed,
        world=world_cfg,
    )
    return policy.actor(deterministic=True), zoom_cfg, cfg


def main() -> None:
    p = protocol_parser(__doc__)
    p.add_argument("--json", required=True)
    a = p.parse_args()
    actor, zoom_cfg, cfg = deterministic_policy(a)
    rows = []
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world:
        for attempt in protocol_attempts(world, cfg):
            placed = attempt.placed[0]
            result = run_zoom_loop(attempt.depth, actor, zoom_cfg)
            command = action_to_command(result.final_action, result.grasp_uv)
            is_box = placed.spec.family in BOXES
            pose = box_pose(world, placed) if is_box else None
            outcome = world.execute(command, attempt.depth)
            geometry = None
            if is_box and outcome.T_world_palm is not None:
                geometry = box_geometry(placed, pose, outcome.T_world_palm, outcome.surface_point)
            rows.append(
                {
                    "seed": attempt.seed,
                    "family": placed.spec.family,
                    "success": bool(outcome.success),
                    "zooms": result.n_zooms,
                    "grasp_view_px": float(result.boxes[-1][2]),
                    "pitch_deg": float(np.degrees(command.pitch)),
                    "spread_deg": float(np.degrees(command.spread)),
                    "fingers_deg": float(np.degrees(np.mean(command.fingers))),
                    "box": geometry,
                }
            )
    write_json(a.json, {"checkpoint": a.checkpoint or "shipped", "first_seed": a.first_seed, "rows": rows})
    success = np.array([r["success"] for r in rows])
    print(f"success {100 * success.mean():.1f}% of {len(rows)}")
    by = defaultdict(list)
    for r in rows:
        by[r["zooms"]].append(r["success"])
    print("by zoom steps: " + ", ".join(f"{k}: {sum(v)}/{len(v)}" for k, v in sorted(by.items())))
    tops = [r for r in rows if abs(r["pitch_deg"] - 90) < 10 and r["spread_deg"] < 10]
    print(f"top-down (pitch within 10° of 90) with spread < 10°: {len(tops)} of {len(rows)}")
    for family in BOXES:
        boxes = [r for r in rows if r["family"] == family and r["box"]]
        for lo, hi in ((0.0, 0.07), (0.07, 0.08), (0.08, 0.2)):
            cell = [r["success"] for r in boxes if lo <= r["box"]["narrow_m"] < hi]
            if cell:
                print(f"{family} narrow side {100 * lo:.0f}-{100 * hi:.0f} cm: {sum(cell)}/{len(cell)}")
        lying = [r["success"] for r in boxes if r["box"]["height_m"] < 0.035]
        if family == "flat_box":
            print(f"flat_box lying flat (height < 3.5 cm): {sum(lying)}/{len(lying)}")


if __name__ == "__main__":
    main()
