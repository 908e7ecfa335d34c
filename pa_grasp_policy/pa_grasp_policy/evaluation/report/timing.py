"""Timing for the report: the policy's decision latency at batch 1 (the zoom loop end to end,
and per zoom step / network call) with 1 and 2 torch threads, and simulation speed
(``pa_grasp_sim.bench.run_case``)."""

from __future__ import annotations

import contextlib
import os
import platform
import time

import numpy as np


def machine_info() -> dict:
    import torch

    info = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
    }
    with contextlib.suppress(OSError):  # not on every platform
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def policy_latency(policy, zoom_cfg, depths: list[np.ndarray], threads=(1, 2), repeats: int = 3) -> list[dict]:
    """Decision latency of the deterministic policy on these depth images, per torch thread count.

    decision = one full zoom loop (crop + resize + network per step, until the grasp);
    ms_per_step = decision time / steps (a step = one network evaluation; zooms + 1 per decision);
    network_ms_per_step = the network call alone.
    """
    import torch

    from pa_grasp_policy.model.zoom import run_zoom_loop

    actor = policy.actor(deterministic=True)
    net_times: list[float] = []

    def timed_act(obs):
        t = time.perf_counter()
        out = actor(obs)
        net_times.append(time.perf_counter() - t)
        return out

    before = torch.get_num_threads()
    results = []
    try:
        for t in threads:
            torch.set_num_threads(int(t))
            with torch.inference_mode():
                run_zoom_loop(depths[0], actor, zoom_cfg)  # warm-up
                net_times.clear()
                decisions, steps = [], []
                for _ in range(max(1, repeats)):
                    for depth in depths:
                        start = time.perf_counter()
                        result = run_zoom_loop(depth, timed_act, zoom_cfg)
                        decisions.append(time.perf_counter() - start)
                        steps.append(len(result.steps))
            d_ms = 1000 * np.asarray(decisions)
            results.append(
                {
                    "threads": int(t),
                    "decisions": len(decisions),
                    "decision_ms_median": float(np.median(d_ms)),
                    "decision_ms_mean": float(np.mean(d_ms)),
                    "decision_ms_p90": float(np.percentile(d_ms, 90)),
                    "steps_per_decision": float(np.mean(steps)),
                    "ms_per_step": float(d_ms.sum() / max(sum(steps), 1)),
                    "network_ms_per_step": float(1000 * np.mean(net_times)),
                }
            )
    finally:
        torch.set_num_threads(before)
    return results


def timing_depths(world_cfg, objects: str, counts=(1, 5, 10), seed: int = 4_000_000) -> list[np.ndarray]:
    """A few rendered scenes to time the policy on."""
    from pa_grasp_sim.world import GraspWorld

    with GraspWorld(world_cfg, objects, seed=seed) as world:
        out = []
        for i, n in enumerate(counts):
            world.reset(n, seed=seed + i)
            out.append(world.render_depth())
    return out


def sim_speed(episodes: int, seed: int = 0) -> list[dict]:
    """Simulation episodes per second (reset + render + one heuristic grasp, one process)."""
    from pa_grasp_sim.bench import run_case

    cases = [("floating", 1, episodes), ("floating", 10, max(1, episodes // 4)), ("arm", 1, max(1, episodes // 2))]
    return [run_case(mode, count, n, seed) for mode, count, n in cases]
