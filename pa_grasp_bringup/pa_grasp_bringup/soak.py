"""Soak benchmark: many /grasp goals, one after the other, against the running sim stack.

    python -m pa_grasp_bringup.soak --goals 200                       # the policy alone (default)
    python -m pa_grasp_bringup.soak --goals 200 -p policy_node.views=8 \\
        -p policy_node.depth_twin=true -p policy_node.local_search=true  # every extra, 5 s budget

Starts `pa-grasp-bringup sim` (its log in ``<out>/soak_stack.log``), sends deterministic
one-attempt goals and measures each goal's time (sent -> result) and the resident memory of the
stack's processes (the stack and its twin workers, from /proc) after every goal. The first
``--warmup`` goals (default 50) are not counted in the memory growth: the network's first
forward passes alone take ~34 MB, and the simulator loads each object's meshes once.
Prints progress and a summary, and writes ``<out>/soak.json``. Not a test: its numbers depend on
the machine; the README quotes them with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from pa_grasp_policy.parallel.memory import tree_rss_mb


def run_goals(count: int, stack_pid: int, timeout_s: float, warmup: int) -> dict:
    import rclpy
    from action_msgs.msg import GoalStatus

    from pa_grasp_interfaces.action import Grasp
    from pa_grasp_perception.action_client import RaceFreeActionClient
    from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor

    rclpy.init()
    node = rclpy.create_node("pa_grasp_soak")
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    spinner = BackgroundSpinner(executor, name="soak").start()
    client = RaceFreeActionClient(node, Grasp, "grasp")
    seconds, statuses, rss = [], [], []
    try:
        if not client.wait_for_server(timeout_sec=120.0):
            raise RuntimeError("no /grasp server within 120 s (see the stack log)")
        for n in range(1, count + 1):
            start = time.monotonic()
            goal_future = client.send_goal_async(Grasp.Goal(max_attempts=1, deterministic=True))
            handle = _wait(goal_future, timeout_s, "the goal response")
            if not handle.accepted:
                raise RuntimeError(f"goal {n} was rejected")
            response = _wait(handle.get_result_async(), timeout_s, "the result")
            seconds.append(time.monotonic() - start)
            statuses.append(
                "lifted"
                if response.result.success
                else ("failed" if response.status == GoalStatus.STATUS_SUCCEEDED else "aborted")
            )
            rss.append(tree_rss_mb(stack_pid))
            if n % 10 == 0 or n == count:
                print(
                    f"soak: {n}/{count} goals, last {seconds[-1]:.2f} s, p50 {np.median(seconds):.2f} s,"
                    f" RSS {rss[-1]:.0f} MB",
                    flush=True,
                )
    finally:
        spinner.stop()
        client.destroy()
        node.destroy_node()
        rclpy.try_shutdown()
    base = rss[min(warmup, len(rss)) - 1] if rss else 0.0
    half = rss[len(rss) // 2 :]  # the slope of the second half: what a leak would keep adding
    return {
        "goals": len(seconds),
        "goal_s": {
            "p50": float(np.percentile(seconds, 50)),
            "p95": float(np.percentile(seconds, 95)),
            "max": float(np.max(seconds)),
        },
        "outcomes": {k: statuses.count(k) for k in ("lifted", "failed", "aborted")},
        "rss_mb": {
            "first_goal": rss[0],
            "after_warmup": base,
            "end": rss[-1],
            "growth_after_warmup": rss[-1] - base,
            "per_100_goals_second_half": 100 * float(np.polyfit(np.arange(len(half)), half, 1)[0])
            if len(half) > 1
            else 0.0,
        },
        "per_goal_s": [round(s, 3) for s in seconds],
        "per_goal_rss_mb": [round(r, 1) for r in rss],
    }


def _wait(future, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not future.done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout_s:g} s")
        time.sleep(0.005)
    return future.result()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pa_grasp_bringup.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--goals", type=int, default=200)
    p.add_argument("--warmup", type=int, default=50, help="goals before the memory baseline (default 50)")
    p.add_argument("--checkpoint", help="policy checkpoint (default: the shipped model)")
    p.add_argument("-p", dest="overrides", action="append", default=[], metavar="NODE.NAME=VALUE")
    p.add_argument("--goal-timeout", type=float, default=180.0, help="give up on a goal after this many seconds")
    p.add_argument("--out", default="out", help="output directory (default out/)")
    args = p.parse_args(argv)
    if args.goals < 1 or not 1 <= args.warmup <= args.goals:
        p.error("--goals must be >= 1 and --warmup between 1 and --goals")

    from pa_grasp_bringup.demo import start_sim_stack, stop_stack
    from pa_grasp_policy.planner.loading import DEFAULT_MODEL

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "soak_stack.log"
    print(f"soak: starting the sim stack (log: {log_path}) {' '.join(args.overrides)}", flush=True)
    with open(log_path, "w") as log:
        stack = start_sim_stack(Path(args.checkpoint) if args.checkpoint else DEFAULT_MODEL, log, args.overrides)
        try:
            report = run_goals(args.goals, stack.pid, args.goal_timeout, args.warmup)
        except (RuntimeError, KeyboardInterrupt) as exc:
            print(f"soak: stopped: {exc}", file=sys.stderr)
            return 1
        finally:
            stop_stack(stack, "soak")
    report = {"command": " ".join(["python -m pa_grasp_bringup.soak", *(argv or sys.argv[1:])]), **report}
    report["machine"] = {"cpus": os.cpu_count()}
    (out / "soak.json").write_text(json.dumps(report, indent=1) + "\n")
    g, m = report["goal_s"], report["rss_mb"]
    print(
        f"soak: {report['goals']} goals: p50 {g['p50']:.2f} s, p95 {g['p95']:.2f} s, max {g['max']:.2f} s;"
        f" {report['outcomes']}; RSS {m['first_goal']:.0f} MB after the first goal, {m['after_warmup']:.0f} MB after"
        f" {args.warmup}, {m['end']:.0f} MB at the end ({m['growth_after_warmup']:+.1f} MB after the warm-up;"
        f" {m['per_100_goals_second_half']:+.1f} MB per 100 goals in the second half); {out / 'soak.json'}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
