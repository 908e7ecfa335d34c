"""Experiment kept with its results (not part of the package): do the simulator's successful
grasps hold, or do they slip and only count because the success check comes early?

The protocol's cell (`pa-grasp-eval`: same seeds, scenes and depth images) with one execution
or physics value changed: the lift speed (default 0.8 m/s: the 0.2 m lift takes 0.25 s), the
hold before the success check (default 0.1 s), or the friction of the hand's links (not set in
the BH-280 model, so Bullet's default 0.5; Bullet multiplies it with the object's 0.7-1.0).

    python docs/evals/not_shipped/grip/grip.py [--checkpoint C | --baseline heuristic]
        [--scene single] [--objects seen] [--attempts 200] [--seeds 5] [--first-seed 0]
        [--lift-speed 0.8] [--hold-time 0.1] [--hand-friction MU] --json F

Analysis only: the protocol, training and every reported number keep the defaults.
The JSONs here without an `execution` key were written by this script's first draft (the same
maths, with `lift_speed` / `hold_time` / `hand_friction` as top-level keys); this version
reproduced one of its cells exactly (heuristic, lift 0.2 m/s: per seed and per family).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace

from pa_grasp_policy.evaluate import chooser_for
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, evaluate
from pa_grasp_sim.world import GraspWorld


class FrictionHandWorld(GraspWorld):
    """GraspWorld whose floating hand's links get one lateral friction (re-applied at every
    scene reset, which reloads the hand). Floating mode only, as the evaluation runs."""

    def __init__(self, hand_friction: float, *args, **kwargs):
        self.hand_friction = hand_friction  # read while the base class loads the hand
        super().__init__(*args, **kwargs)

    def _load_floating_hand(self) -> None:
        super()._load_floating_hand()
        for link in range(-1, self.client.getNumJoints(self.robot)):
            self.client.changeDynamics(self.robot, link, lateralFriction=self.hand_friction)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--checkpoint", help="policy checkpoint (default: the shipped model)")
    who.add_argument("--baseline", choices=["random", "heuristic"])
    p.add_argument("--scene", choices=["single", "cluttered"], default="single")
    p.add_argument("--objects", default="seen")
    p.add_argument("--attempts", type=int, default=200)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--lift-speed", type=float, help="m/s (default: the protocol's 0.8)")
    p.add_argument("--hold-time", type=float, help="s before the success check (default: the protocol's 0.1)")
    p.add_argument("--hand-friction", type=float, help="lateral friction of every hand link (default: Bullet's 0.5)")
    p.add_argument("--json", required=True)
    args = p.parse_args()

    choose, world_cfg, name = chooser_for(args.checkpoint, args.baseline)
    changes = {"lift_speed_mps": args.lift_speed, "hold_time_s": args.hold_time}
    world_cfg.execution = replace(world_cfg.execution, **{k: v for k, v in changes.items() if v is not None})
    config = EvalConfig(args.scene, args.objects, args.attempts, args.seeds, args.first_seed, world=world_cfg)
    world = None
    if args.hand_friction is not None:
        world = FrictionHandWorld(args.hand_friction, world_cfg, args.objects, seed=EVAL_SEED_BASE)
    try:
        result = evaluate(choose, config, world=world)
    finally:
        if world is not None:
            world.close()
    out = result.to_dict()
    out.update(
        who=name,
        scene=args.scene,
        objects=args.objects,
        first_seed=args.first_seed,
        execution=asdict(world_cfg.execution),
        hand_friction=args.hand_friction if args.hand_friction is not None else 0.5,
    )
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    rate, std = 100 * result.success_rate, 100 * result.std
    print(f"{name}: {rate:.1f}% ± {std:.1f} ({args.attempts} attempts) -> {args.json}")


if __name__ == "__main__":
    main()
