"""Benchmark the policy network on this machine's CPU.

    python -m pa_grasp_policy.evaluation.bench_net [--sizes 64 96 112 224] [--minibatch 96] [--threads 2]

Prints the parameter count, batch-1 forward time per input size (1 thread: full 10 maps,
and the acting fast path = backbone + position logits + heads at one pixel), and the
forward+backward time of one PPO minibatch (Policy.evaluate + backward) at the default size.
"""

from __future__ import annotations

import argparse
import time

import torch

from pa_grasp_policy.model.network import NetworkConfig, count_parameters
from pa_grasp_policy.model.policy import ObsBatch, Policy


def _time_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return 1e3 * times[len(times) // 2]  # median


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 112, 224])
    ap.add_argument("--train-size", type=int, default=96)
    ap.add_argument("--minibatch", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2, help="threads for the minibatch benchmark")
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args(argv)
    torch.manual_seed(0)

    print(f"torch {torch.__version__}, {count_parameters(Policy(NetworkConfig()))} parameters")
    torch.set_num_threads(1)
    print("batch-1 forward, 1 thread (median ms):")
    print(f"{'size':>6} {'maps(10)':>10} {'act path':>10}")
    for S in args.sizes:
        policy = Policy(NetworkConfig(input_size=S))
        obs = ObsBatch(torch.randn(1, 1, S, S), torch.ones(1), torch.zeros(1, dtype=torch.bool))
        with torch.no_grad():
            t_maps = _time_ms(lambda p=policy, o=obs: p.net.forward_maps(o.depth, o.scale), args.repeats)
            t_act = _time_ms(lambda p=policy, o=obs: p.act(o), args.repeats)
        print(f"{S:>6} {t_maps:>10.1f} {t_act:>10.1f}")

    torch.set_num_threads(args.threads)
    S, B = args.train_size, args.minibatch
    policy = Policy(NetworkConfig(input_size=S))
    obs = ObsBatch(torch.randn(B, 1, S, S), torch.rand(B), torch.rand(B) < 0.3)
    action, _ = policy.act(obs)

    def step():
        policy.zero_grad()
        lp, ent = policy.evaluate(obs, action)
        (-(lp.mean()) - 0.0 * ent.mean()).backward()

    t_fb = _time_ms(step, max(3, args.repeats // 2), warmup=1)
    with torch.no_grad():
        t_f = _time_ms(lambda: policy.evaluate(obs, action), max(3, args.repeats // 2), warmup=1)
    print(f"minibatch {B} @ {S}x{S}, {args.threads} threads: forward {t_f:.0f} ms, forward+backward {t_fb:.0f} ms")
    n_mb = -(-500 // B)
    print(f"=> one PPO update (10 epochs x {n_mb} minibatches of a 500-step batch) ~ {10 * n_mb * t_fb / 1e3:.0f} s")


if __name__ == "__main__":
    main()
