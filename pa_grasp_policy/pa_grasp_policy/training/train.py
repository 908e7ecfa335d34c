"""`pa-grasp-train`: PPO training of the pixel-attentive policy in PyBullet (paper §IV-E, V).

Read top to bottom: workers (processes, or Ray actors with --ray; workers.py) play the scenes the
learner fixed for this update (rollout.py) until they hold a batch of zoom-MDP steps, the
trainer turns terminal rewards into discounted returns (no value baseline, as in the paper;
advantages normalised per batch), runs clipped-PPO epochs, logs, evaluates on held-out seeds
every few updates and writes checkpoints atomically: `latest.pt` every update, `best.pt` when
the held-out success rate improves. `--resume` continues from a checkpoint (weights, optimizer,
counters, config); `--init` starts a new run from a checkpoint's weights only (e.g. the
imitation warm start of `pa-grasp-imitate`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.model.checkpoint import CheckpointError, load_checkpoint, read_payload, save_checkpoint
from pa_grasp_policy.model.network import NetworkConfig, count_parameters, std_vector
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.training.config import ABLATIONS, BASELINES, TrainConfig
from pa_grasp_policy.training.ppo import PPOBatch, PPOConfig, compute_returns_advantages, make_optimizer, ppo_update
from pa_grasp_policy.training.rollout import Rollout, evaluation_tasks, training_tasks
from pa_grasp_policy.training.workers import ProcessRolloutWorkers, RayRolloutWorkers, gather
from pa_grasp_sim.hand import DRIVES


def parse_args(argv=None) -> tuple[TrainConfig, str | None, dict]:
    """(config, checkpoint to resume or None, settings the command line sets over a resumed run's)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    p.add_argument("--out", default=d.out, help="run directory: checkpoints, TensorBoard logs, config")
    p.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint (its config is used)")
    p.add_argument(
        "--init",
        metavar="CKPT",
        help="start from this checkpoint's weights (new optimizer and counters; "
        "a different --input-size re-sizes the fully convolutional network, weights unchanged)",
    )
    p.add_argument(
        "--ablation",
        choices=ABLATIONS,
        default=d.ablation,
        help="paper ablations: no_attention (horizon 1), top_down (pitch = pi/2), parallel (spread 0), "
        "camera60 (60 deg camera)",
    )
    p.add_argument("--objects", default=d.objects, help="training object set (default: seen)")
    p.add_argument("--input-size", type=int, default=d.input_size, help="network input side (paper: 224)")
    p.add_argument("--max-zoom-steps", type=int, default=d.max_zoom_steps)
    p.add_argument(
        "--min-crop-px",
        type=float,
        default=d.min_crop_px,
        help=f"smallest zoom box side in camera pixels (default {d.min_crop_px})",
    )
    p.add_argument(
        "--camera-px",
        type=int,
        default=d.camera_px,
        help=f"side of the simulated depth image in pixels (default {d.camera_px}; "
        "scale --min-crop-px with it to keep the smallest box's size on the table)",
    )
    p.add_argument("--workers", type=int, default=d.workers, help="rollout processes (default: 2, one per core)")
    p.add_argument(
        "--ray",
        default=d.ray,
        metavar="local|auto|ADDRESS",
        help="rollout workers as Ray actors: 'local' starts Ray here, 'auto' joins this machine's cluster, ADDRESS"
        " a head's (README, Training on a cluster). The same --seed gives the same scenes whatever the workers",
    )
    p.add_argument("--total-steps", type=int, default=d.total_steps, help="environment steps to train for")
    p.add_argument("--hours", type=float, default=d.hours, help="stop after this many hours (0 = no limit)")
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="updates between held-out evaluations")
    p.add_argument("--eval-attempts", type=int, default=d.eval_attempts, help="attempts per held-out evaluation")
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=d.snapshot_every,
        help="keep snapshots/update_NNNN.pt (weights, no optimizer) every N updates (default 0: off)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help=f"seeds scenes, sampling and weights (default {d.seed}); with --resume it replaces the run's, "
        "for a second run of one recipe from the same weights",
    )
    p.add_argument("--camera-noise", action="store_true", help="train with the Kinect noise model")
    p.add_argument(
        "--finger-drive",
        choices=DRIVES,
        help=f"the simulated hand's drive (default {d.finger_drive}; geared: the BH-280's gears hold its joints, "
        "fingers no longer fold backward past their stops; compliant: the simulator before 2026-12-07); "
        "with --resume it replaces the run's",
    )
    p.add_argument(
        "--single-probability",
        type=float,
        help=f"chance that a training scene holds one object, else 2-{d.max_objects} "
        f"(default {d.single_probability}, the paper's); with --resume it replaces the run's",
    )
    p.add_argument(
        "--init-std",
        type=float,
        help=f"initial σ of zoom scale, spread and fingers, unscaled (default {d.init_std}); "
        "with --init it replaces the checkpoint's",
    )
    p.add_argument(
        "--init-std-rpy",
        type=float,
        help=f"initial σ of roll, pitch, yaw, unscaled: x pi rad (default {d.init_std_rpy}); "
        "with --init it replaces the checkpoint's",
    )
    p.add_argument(
        "--baseline",
        choices=BASELINES,
        help=f"advantage baseline (default {d.baseline}, the paper's): batch = return minus the batch mean; "
        "scene = minus the mean outcome of the other episodes on the same scene (needs --scene-repeats)",
    )
    p.add_argument(
        "--scene-repeats",
        type=int,
        help=f"episodes played on each training scene in a row (default {d.scene_repeats}: fresh scenes)",
    )
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads for the update")
    for f in dataclasses.fields(PPOConfig):
        if f.type in ("float", "int") or f.type in (float, int):
            p.add_argument(
                f"--{f.name.replace('_', '-')}",
                type=float if "float" in str(f.type) else int,
                default=None,
                help=f"PPO {f.name} (default {f.default})",
            )
    p.add_argument(
        "--target-kl",
        type=float,
        default=None,
        help="stop an update's epochs early when approx-KL exceeds this (default: off, as in the paper)",
    )
    args = p.parse_args(argv)
    ppo = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(PPOConfig)
        if hasattr(args, f.name) and getattr(args, f.name) is not None
    }
    cfg = TrainConfig(
        out=args.out,
        ablation=args.ablation,
        objects=args.objects,
        input_size=args.input_size,
        max_zoom_steps=args.max_zoom_steps,
        min_crop_px=args.min_crop_px,
        camera_px=args.camera_px,
        workers=args.workers,
        ray=args.ray,
        total_steps=args.total_steps,
        hours=args.hours,
        eval_every=args.eval_every,
        eval_attempts=args.eval_attempts,
        snapshot_every=args.snapshot_every,
        seed=d.seed if args.seed is None else args.seed,
        camera_noise=args.camera_noise,
        finger_drive=args.finger_drive or d.finger_drive,
        single_probability=d.single_probability if args.single_probability is None else args.single_probability,
        baseline=args.baseline or d.baseline,
        scene_repeats=d.scene_repeats if args.scene_repeats is None else args.scene_repeats,
        init_std=d.init_std if args.init_std is None else args.init_std,
        init_std_rpy=d.init_std_rpy if args.init_std_rpy is None else args.init_std_rpy,
        init_reset_std=bool(args.init) and (args.init_std is not None or args.init_std_rpy is not None),
        threads=args.threads,
        ppo=ppo,
        init=args.init or "",
    )
    if args.resume and args.init:
        p.error("--resume and --init exclude each other")
    if cfg.workers < 1:
        p.error("--workers must be at least 1")
    if cfg.total_steps < 1:
        p.error(f"--total-steps must be at least 1, got {cfg.total_steps}")
    if not (cfg.hours >= 0 and math.isfinite(cfg.hours)):
        p.error(f"--hours must be a finite number >= 0 (0 = no limit), got {cfg.hours}")
    if cfg.camera_px < 32:
        p.error(f"--camera-px must be at least 32, got {cfg.camera_px}")
    if not 1 <= cfg.min_crop_px <= cfg.camera_px:
        p.error(f"--min-crop-px must be in [1, --camera-px], got {cfg.min_crop_px}")
    if cfg.snapshot_every < 0:
        p.error(f"--snapshot-every must be 0 (off) or positive, got {cfg.snapshot_every}")
    if not 0.0 <= cfg.single_probability <= 1.0:
        p.error(f"--single-probability must be in [0, 1], got {cfg.single_probability}")
    if not (cfg.init_std > 0 and cfg.init_std_rpy > 0):
        p.error("--init-std and --init-std-rpy must be positive")
    if cfg.scene_repeats < 1:
        p.error(f"--scene-repeats must be at least 1, got {cfg.scene_repeats}")
    if args.baseline == "scene" and cfg.scene_repeats < 2 and not args.resume:
        p.error("--baseline scene compares episodes on the same scene: give --scene-repeats 2 or more")
    # A resumed run keeps its own config, except the budget, workers and output and what the
    # command line sets explicitly: PPO hyper-parameters, the scene mix, the baseline, the seed,
    # the hand's drive.
    extend = {
        "total_steps": cfg.total_steps,
        "hours": cfg.hours,
        "workers": cfg.workers,
        "ray": cfg.ray,
        "out": cfg.out,
        "snapshot_every": cfg.snapshot_every,
    }
    for name in ("single_probability", "baseline", "scene_repeats", "seed", "finger_drive"):
        if getattr(args, name) is not None:
            extend[name] = getattr(cfg, name)
    return cfg, args.resume, extend


def episode_returns(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """(advantages, returns): without a value baseline both are the discounted return-to-go."""
    returns, advantages = compute_returns_advantages(rewards, dones, None, gamma=gamma)
    return advantages, returns


def scene_baseline_returns(
    rewards: np.ndarray, dones: np.ndarray, episode_scene: list, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """(advantages, returns) with a leave-one-out baseline per scene: each episode's outcome
    minus the mean outcome of the other episodes on the same scene in this batch (of all other
    episodes when its scene has none here), discounted to each step like the return."""
    advantages, returns = episode_returns(rewards, dones, gamma)
    ends = np.flatnonzero(dones)
    if len(ends) != len(episode_scene):
        raise ValueError(f"{len(ends)} episodes in the steps, {len(episode_scene)} scene ids")
    starts = np.concatenate([[0], ends[:-1] + 1])
    outcome = np.array([rewards[a : b + 1].sum() for a, b in zip(starts, ends)], dtype=np.float64)
    groups: dict = {}
    for i, scene in enumerate(episode_scene):
        groups.setdefault(scene, []).append(i)
    n, total = len(outcome), outcome.sum()
    baseline = np.zeros(n)
    for members in groups.values():
        group_sum = outcome[members].sum()
        for i in members:
            if len(members) > 1:
                baseline[i] = (group_sum - outcome[i]) / (len(members) - 1)
            elif n > 1:
                baseline[i] = (total - outcome[i]) / (n - 1)
    for i, (a, b) in enumerate(zip(starts, ends)):
        steps_to_end = np.arange(b - a, -1, -1)
        advantages[a : b + 1] = returns[a : b + 1] - gamma**steps_to_end * baseline[i]
    return advantages, returns


def train(cfg: TrainConfig, resume: str | None = None, progress: bool = True) -> dict:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    counters = {
        "updates": 0,
        "env_steps": 0,
        "episodes": 0,
        "grasp_attempts": 0,
        "successes": 0,
        "wall_time_s": 0.0,
        "best_eval_success": -1.0,
    }
    ppo_cfg = cfg.ppo_config()
    if resume:
        policy, payload = load_checkpoint(resume)
        counters.update(payload.get("counters", {}))
        optimizer = make_optimizer(policy, ppo_cfg)
        if payload.get("optimizer_state"):
            optimizer.load_state_dict(payload["optimizer_state"])
            # Loading Adam's state also restores the saved step size: the run's config (with any
            # --lr / --adam-eps from the command line) decides it.
            for group in optimizer.param_groups:
                group["lr"], group["eps"] = ppo_cfg.lr, ppo_cfg.adam_eps
    elif cfg.init:
        policy, payload = load_checkpoint(cfg.init)
        if policy.config.input_size != cfg.input_size:
            print(f"{cfg.init}: input size {policy.config.input_size} -> {cfg.input_size} (same weights)")
            policy.net.set_input_size(cfg.input_size)
        policy.constraints = cfg.constraints()
        if cfg.init_reset_std:
            with torch.no_grad():
                policy.net.log_std.copy_(torch.log(torch.tensor(std_vector(cfg.init_std, cfg.init_std_rpy))))
        # What the weights already went through (e.g. imitation) stays on the record.
        counters.update(
            {
                k: v
                for k, v in payload.get("counters", {}).items()
                if k.startswith("imitation") or k == "teacher_success"
            }
        )
        optimizer = make_optimizer(policy, ppo_cfg)
    else:
        net_cfg = NetworkConfig(input_size=cfg.input_size, init_std=cfg.init_std, init_std_rpy=cfg.init_std_rpy)
        policy = Policy(net_cfg, cfg.constraints())
        optimizer = make_optimizer(policy, ppo_cfg)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    run_config = {
        "train": dataclasses.asdict(cfg),
        "ppo": dataclasses.asdict(ppo_cfg),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out / "tensorboard"))
    env_config = cfg.env_config()
    if cfg.ray:
        workers = RayRolloutWorkers(cfg.workers, cfg.ray, env_config, policy)
    else:
        workers = ProcessRolloutWorkers(cfg.workers, env_config, policy)
    print(
        f"training {count_parameters(policy)} parameters, input {cfg.input_size}, ablation {cfg.ablation}, "
        f"{cfg.workers} {'Ray actors' if cfg.ray else 'workers'} -> {out}",
        flush=True,
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=cfg.total_steps, initial=min(counters["env_steps"], cfg.total_steps), unit="step", dynamic_ncols=True
        )
    session_start = time.perf_counter()
    wall_before = counters["wall_time_s"]
    recent: list[bool] = []
    try:
        while counters["env_steps"] < cfg.total_steps:
            if cfg.hours and time.perf_counter() - session_start > cfg.hours * 3600:
                print("time budget reached", flush=True)
                break
            t0 = time.perf_counter()
            policy.eval()
            # The weights' version is the number of updates they went through; the update's scenes
            # come from (seed, version), so a resumed run plays the scenes the whole run would have.
            version = counters["updates"]
            tasks = training_tasks(env_config, cfg.seed, version)
            parts = gather(workers, tasks, cpu_weights(policy), version, lambda p: steps_in(p) >= ppo_cfg.batch_size)
            rollout = Rollout.concat(parts)
            t1 = time.perf_counter()
            if cfg.baseline == "scene":
                adv, ret = scene_baseline_returns(rollout.reward, rollout.done, rollout.episode_scene, ppo_cfg.gamma)
            else:
                adv, ret = episode_returns(rollout.reward, rollout.done, ppo_cfg.gamma)
            batch = PPOBatch(
                rollout.obs_batch(),
                rollout.actions(cfg.input_size),
                torch.from_numpy(rollout.log_prob),
                torch.from_numpy(adv),
                torch.from_numpy(ret),
            )
            stats = ppo_update(policy, optimizer, batch, ppo_cfg)
            t2 = time.perf_counter()

            counters["updates"] += 1
            counters["env_steps"] += len(rollout)
            counters["episodes"] += len(rollout.episode_success)
            counters["grasp_attempts"] += len(rollout.episode_success)
            counters["successes"] += int(sum(rollout.episode_success))
            counters["wall_time_s"] = wall_before + time.perf_counter() - session_start
            recent = (recent + rollout.episode_success)[-500:]
            single = [s for s, n in zip(rollout.episode_success, rollout.episode_objects) if n == 1]
            clutter = [s for s, n in zip(rollout.episode_success, rollout.episode_objects) if n > 1]
            step = counters["env_steps"]
            writer.add_scalar("rollout/success_rate", float(np.mean(rollout.episode_success)), step)
            if single:
                writer.add_scalar("rollout/success_single", float(np.mean(single)), step)
            if clutter:
                writer.add_scalar("rollout/success_cluttered", float(np.mean(clutter)), step)
            for family, (s, n) in rollout.success_by_family().items():  # noisy per update: smooth in TensorBoard
                writer.add_scalar(f"rollout_family/success_{family}", s / n, step)
            writer.add_scalar("rollout/zoom_steps_per_episode", float(np.mean(rollout.episode_zooms)), step)
            writer.add_scalar("time/collect_s", t1 - t0, step)
            writer.add_scalar("time/update_s", t2 - t1, step)
            for k, v in stats.items():
                writer.add_scalar(("sigma/" if k.startswith("sigma/") else "loss/") + k.split("/")[-1], v, step)
            line = (
                f"update {counters['updates']} steps {step} episodes {counters['episodes']} "
                f"success {np.mean(rollout.episode_success):.3f} (last500 {np.mean(recent):.3f}) "
                f"zooms {np.mean(rollout.episode_zooms):.2f} kl {stats['approx_kl']:.4f} "
                f"collect {t1 - t0:.0f}s update {t2 - t1:.0f}s"
            )
            if bar is not None:
                bar.update(len(rollout))
                bar.set_postfix(success=f"{np.mean(recent):.3f}", zooms=f"{np.mean(rollout.episode_zooms):.2f}")
                bar.write(line)
                sys.stdout.flush()  # logs usually go to a file: show progress as it happens
            else:
                print(line, flush=True)

            if counters["updates"] % cfg.eval_every == 0:
                evals = {}
                for k, scene in enumerate(("single", "cluttered")):
                    tasks = evaluation_tasks(scene, cfg.eval_attempts // 2, seed=[10_000_000 + counters["updates"], k])
                    everyone = len(tasks)
                    parts = gather(
                        workers, tasks, cpu_weights(policy), counters["updates"], lambda p, n=everyone: len(p) == n
                    )
                    evals[scene] = float(np.mean([s for part in parts for s in part.episode_success]))
                    writer.add_scalar(f"eval/success_{scene}", evals[scene], step)
                score = 0.5 * (evals["single"] + evals["cluttered"])
                msg = f"held-out eval: single {evals['single']:.3f} cluttered {evals['cluttered']:.3f}"
                (bar.write if bar is not None else print)(msg)
                sys.stdout.flush()
                counters["last_eval"] = evals
                if score > counters["best_eval_success"]:
                    counters["best_eval_success"] = score
                    save_checkpoint(out / "best.pt", policy, optimizer, run_config, counters)
            save_checkpoint(out / "latest.pt", policy, optimizer, run_config, counters)
            if cfg.snapshot_every and counters["updates"] % cfg.snapshot_every == 0:
                save_checkpoint(snapshot_path(out, counters["updates"]), policy, None, run_config, counters)
    finally:
        workers.close()
        writer.close()
        if bar is not None:
            bar.close()
    return counters


def cpu_weights(policy) -> dict:
    return {k: v.detach().cpu() for k, v in policy.state_dict().items()}


def steps_in(parts) -> int:
    return sum(len(part) for part in parts)


def snapshot_path(out: Path, update: int) -> Path:
    return Path(out) / "snapshots" / f"update_{update:04d}.pt"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    cfg, resume, extend = parse_args(argv)
    if resume:
        try:
            payload = read_payload(resume)
        except CheckpointError as exc:
            print(f"pa-grasp-train: {exc}")
            return 2
        saved = payload.get("config", {}).get("train")
        if saved:
            # A run saved with settings this version no longer has (training modes that were tried,
            # not shipped and removed; git history keeps them) resumes without them.
            known = {f.name for f in dataclasses.fields(TrainConfig)}
            dropped = sorted(k for k in saved if k not in known)
            if dropped:
                names = ", ".join(dropped)
                print(f"pa-grasp-train: {resume}: ignoring saved settings this version does not have: {names}")
            saved = {k: v for k, v in saved.items() if k in known}
            cfg = TrainConfig(**{**saved, **extend, "ppo": {**saved.get("ppo", {}), **cfg.ppo}})
    if cfg.init:
        try:
            read_payload(cfg.init)
        except CheckpointError as exc:
            print(f"pa-grasp-train: {exc}")
            return 2
    # `kill` (SIGTERM) stops a run like Ctrl-C: unwinding through train() closes the worker pool,
    # and latest.pt (written atomically after every update) holds the last finished update.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        counters = train(cfg, resume)
    except KeyboardInterrupt:
        latest = Path(cfg.out) / "latest.pt"
        if latest.exists():
            print(f"pa-grasp-train: stopped; {latest} holds the last finished update", flush=True)
        else:
            print(f"pa-grasp-train: stopped before the first update finished; nothing written to {latest}", flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)  # main() may be called in-process (tests)
    print(json.dumps({k: v for k, v in counters.items() if not isinstance(v, dict)}, indent=None))
    return 0 if math.isfinite(counters.get("wall_time_s", 0.0)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
