"""Would looking at the image turned by quarter turns help the policy choose? (analysis only)

The policy does not turn with the scene (turns/turn_check.py --policy-on-turned): its grasp on an
image turned by k quarter turns is on median 4 px and 10° from its own grasp turned, and which of
the four lifts differs from scene to scene. Turning the image about its centre is what a camera
rolled about its optical axis would see, so each turned image gives a grasp for the same scene
(mapped back: pixel turned back, yaw - k x 90°). For every scene this script executes, on the
unturned scene (restored between tries):

  turn k (0..3): the policy's grasp on numpy.rot90(depth, k), mapped back,
  averaged:      one zoom loop whose every step averages the four turned views' outputs
                 (position log-softmax turned back and averaged; heads read at the chosen pixel in
                 each view, yaw turned back and averaged modulo a half turn),

and records the scores a selection rule could use (position log-probability of each step).

    python docs/evals/not_shipped/tta/tta_check.py --scene single --objects seen --attempts 120 \
        --seeds 4 --first-seed 300 --json F
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kinds"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from grasp_features import features_of, save_features  # noqa: E402
from grasp_kinds import write_json  # noqa: E402

from pa_grasp_policy.distribution import Action, head_params  # noqa: E402
from pa_grasp_policy.evaluate import load_policy  # noqa: E402
from pa_grasp_policy.turn_selection import feature_actor, run_turned  # noqa: E402
from pa_grasp_policy.zoom import run_zoom_loop  # noqa: E402
from pa_grasp_policy.zoom_env import action_to_command, result_to_command  # noqa: E402
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts  # noqa: E402
from pa_grasp_sim.world import GraspWorld  # noqa: E402


def turn_averaged_actor(policy):
    """One deterministic step from the four quarter-turned views of the observation."""
    net = policy.net

    def act(obs):
        depth = torch.from_numpy(np.asarray(obs.depth, dtype=np.float32))[None]  # (1,1,S,S)
        S = depth.shape[-1]
        views = torch.cat([torch.rot90(depth, k, dims=(-2, -1)) for k in range(4)])
        scale = torch.full((4,), float(obs.scale))
        with torch.no_grad():
            enc = net.encode(views, scale)
            logp = torch.log_softmax(net.position_logits(enc, scale).reshape(4, -1), dim=1).view(4, S, S)
            back = torch.stack([torch.rot90(logp[k], -k, dims=(-2, -1)) for k in range(4)]).mean(0)
            pixel = int(back.flatten().argmax())
            index = torch.arange(S * S).view(S, S)
            pixel_k = torch.stack([(torch.rot90(index, k).flatten() == pixel).nonzero()[0, 0] for k in range(4)])
            hp = head_params(net.heads_at(enc, scale, pixel_k))
            dofs = hp.dof_mean.clone()
            yaw = math.pi * dofs[:, 2] - torch.arange(4) * math.pi / 2  # turned back
            # modulo a half turn (doubled angles), then the representative nearest turn 0's
            mean2 = torch.atan2(torch.sin(2 * yaw).mean(), torch.cos(2 * yaw).mean()) / 2
            if torch.cos(mean2 - yaw[0]) < 0:
                mean2 = mean2 + math.pi
            mean = dofs.mean(0)
            mean[2] = torch.remainder(mean2 / math.pi + 1, 2) - 1
            zoom = float((hp.zoom_logit.mean() > 0) and not obs.must_grasp)
            action = Action(torch.tensor([pixel]), torch.tensor([zoom]), hp.scale_mean.mean()[None], mean[None], S)
        apart = torch.remainder(2 * (yaw - yaw[0]) + math.pi, 2 * math.pi) - math.pi  # doubled angles
        spread = float(torch.rad2deg(apart.abs() / 2).max())
        return action, {"lp_pos": float(back.flatten()[pixel]), "yaw_spread_deg": spread}

    return act


def grasp_row(result, command) -> dict:
    steps = result.steps
    return {
        "u": command.u,
        "v": command.v,
        "rpy_deg": [math.degrees(x) for x in (command.roll, command.pitch, command.yaw)],
        "zooms": result.n_zooms,
        "lp_pos": [s.extra["lp_pos"] for s in steps],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--scene", choices=["single", "cluttered"], default="single")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=120)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--first-seed", type=int, default=300)
    p.add_argument("--json", required=True)
    p.add_argument("--features", help="also save the policy's features at each grasp step (.npz, see probe.py)")
    p.add_argument("--skip-averaged", action="store_true", help="only the four turned runs (faster)")
    a = p.parse_args()
    policy, zoom_cfg, world_cfg = load_policy(a.checkpoint)
    cfg = EvalConfig(a.scene, a.objects, a.attempts, a.seeds, a.first_seed, world=world_cfg)
    plain, averaged = feature_actor(policy), turn_averaged_actor(policy)
    features, seeds = [], []
    rows = []
    with GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE) as world:
        for attempt in protocol_attempts(world, cfg):
            depth = attempt.depth
            snapshot = world.snapshot()
            row = {"seed": attempt.seed, "objects": len(attempt.placed), "turns": []}
            features.append([])
            seeds.append(attempt.seed)
            for k in range(4):
                run = run_turned(depth, policy, zoom_cfg, k, act=plain)
                command = result_to_command(run.result)  # the grasp mapped back to the unturned image
                if k:
                    world.restore(snapshot)
                features[-1].append(features_of(run.in_turned_image))
                entry = grasp_row(run.result, command)
                entry["lifted"] = bool(world.execute(command, depth).success)
                row["turns"].append(entry)
            rows.append(row)
            if a.skip_averaged:
                print(len(rows), [t["lifted"] for t in row["turns"]], flush=True)
                continue
            result = run_zoom_loop(depth, averaged, zoom_cfg)
            command = action_to_command(result.final_action, result.grasp_uv)
            world.restore(snapshot)
            row["averaged"] = grasp_row(result, command)
            row["averaged"]["yaw_spread_deg"] = [s.extra["yaw_spread_deg"] for s in result.steps]
            row["averaged"]["lifted"] = bool(world.execute(command, depth).success)
            print(
                len(rows),
                [t["lifted"] for t in row["turns"]],
                row["averaged"]["lifted"],
                [round(sum(t["lp_pos"]), 2) for t in row["turns"]],
                flush=True,
            )
    n = len(rows)
    lifted = np.array([[t["lifted"] for t in r["turns"]] for r in rows])
    score = np.array([[sum(t["lp_pos"]) for t in r["turns"]] for r in rows])
    summary = {
        "attempts": n,
        "turn_lifted": lifted.sum(0).tolist(),
        "any_turn_lifted": int(lifted.any(1).sum()),
        "averaged_lifted": None if a.skip_averaged else sum(r["averaged"]["lifted"] for r in rows),
        "most_confident_lifted": int(lifted[np.arange(n), score.argmax(1)].sum()),
    }
    print(json.dumps(summary))
    if a.features:
        save_features(a.features, features, seeds)
    write_json(
        a.json,
        {
            "checkpoint": a.checkpoint or "shipped",
            "scene": a.scene,
            "objects": a.objects,
            "first_seed": a.first_seed,
            "summary": summary,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
