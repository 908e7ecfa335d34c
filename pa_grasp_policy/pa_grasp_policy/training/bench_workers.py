"""Rollout-worker benchmark: episodes per second on 1 and 2 worker processes and Ray actors of
this machine, Ray's start-up time and memory, and what 14 and 64 actors would give.

    python -m pa_grasp_policy.training.bench_workers [--steps 300] [--json out/bench_workers.json]

Each measurement starts the workers (timed: start-up until the first rollout), collects one
warm-up rollout, then `--steps` steps of the training mix with the default network (96 px) and
environment. The learner's update time is one PPO update (the default 500 steps, 10 epochs) on
this machine. The projection assumes a cluster's actors each play at the per-worker rate measured
with one worker here (no contention for cores), and an update waits for its whole rollout:
    seconds per update = batch / (actors x rate) + update time,
so the learner is the bottleneck once actors > batch / (rate x update time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.parallel.memory import tree_rss_mb
from pa_grasp_policy.training.config import TrainConfig
from pa_grasp_policy.training.ppo import PPOBatch, PPOConfig, make_optimizer, ppo_update
from pa_grasp_policy.training.rollout import Rollout, training_tasks
from pa_grasp_policy.training.train import cpu_weights, episode_returns
from pa_grasp_policy.training.workers import ProcessRolloutWorkers, RayRolloutWorkers, gather


def measure(backend: str, count: int, steps: int, policy: Policy, cfg: TrainConfig) -> dict:
    env_config = cfg.env_config()
    weights = cpu_weights(policy)
    start = time.perf_counter()
    rss_before = tree_rss_mb(os.getpid())
    if backend == "ray":
        workers = RayRolloutWorkers(count, "local", env_config, policy)
    else:
        workers = ProcessRolloutWorkers(count, env_config, policy)
    with workers:
        gather(workers, training_tasks(env_config, 0, 0), weights, 0, lambda p: len(p) >= count)  # warm-up
        startup_s = time.perf_counter() - start
        t0 = time.perf_counter()
        parts = gather(workers, training_tasks(env_config, 0, 1), weights, 1, lambda p: sum(map(len, p)) >= steps)
        seconds = time.perf_counter() - t0
        rss = tree_rss_mb(os.getpid()) - rss_before
    rollout = Rollout.concat(parts)
    return {
        "backend": backend,
        "workers": count,
        "startup_s": round(startup_s, 2),
        "steps": len(rollout),
        "episodes": len(rollout.episode_success),
        "seconds": round(seconds, 2),
        "episodes_per_s": round(len(rollout.episode_success) / seconds, 3),
        "steps_per_s": round(len(rollout) / seconds, 3),
        "memory_mb": round(rss, 1),  # the workers and, for Ray, its daemons (this process's tree)
    }, rollout


def update_seconds(policy: Policy, rollout: Rollout, ppo: PPOConfig) -> float:
    """One PPO update on `ppo.batch_size` steps (the rollout's, repeated to that size)."""
    reps = -(-ppo.batch_size // len(rollout))
    big = Rollout.concat([rollout] * reps)
    adv, ret = episode_returns(big.reward, big.done, ppo.gamma)
    batch = PPOBatch(big.obs_batch(), big.actions(policy.config.input_size), torch.from_numpy(big.log_prob),
                     torch.from_numpy(adv), torch.from_numpy(ret))  # fmt: skip
    optimizer = make_optimizer(policy, ppo)
    start = time.perf_counter()
    ppo_update(policy, optimizer, batch, ppo)
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="steps per measurement (default 300)")
    p.add_argument("--json", help="write the results to this JSON file")
    args = p.parse_args(argv)
    cfg = TrainConfig()
    torch.manual_seed(0)
    torch.set_num_threads(cfg.threads)
    policy = Policy(NetworkConfig(input_size=cfg.input_size), cfg.constraints())
    rows, rollout = [], None
    for backend in ("processes", "ray"):
        for count in (1, 2):
            row, rollout = measure(backend, count, args.steps, policy, cfg)
            rows.append(row)
            print(json.dumps(row), flush=True)
    import ray

    ray.shutdown()
    ppo = cfg.ppo_config()
    update_s = update_seconds(policy, rollout, ppo)
    one = next(r for r in rows if r["backend"] == "processes" and r["workers"] == 1)
    rate = one["steps_per_s"]  # one worker with a core to itself
    projections = {
        str(n): {
            "collect_s": round(ppo.batch_size / (n * rate), 2),
            "update_s": round(update_s, 2),
            "learner_share": round(update_s / (ppo.batch_size / (n * rate) + update_s), 2),
        }
        for n in (14, 64)
    }
    report = {
        "machine": {"cpus": os.cpu_count()},
        "measured": rows,
        "learner_update_s": round(update_s, 2),
        "batch_steps": ppo.batch_size,
        "per_worker_steps_per_s": rate,
        "projected": projections,
        "learner_bound_above_actors": round(ppo.batch_size / (rate * update_s), 1),
    }
    print(json.dumps({k: v for k, v in report.items() if k != "measured"}, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
