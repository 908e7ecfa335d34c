"""`make demo` (`pa-grasp-demo`): the main job on the simulated robot, end to end over ROS 2.

1. starts the sim stack (`pa-grasp-bringup sim`: sim_bridge_node -> kinect_node -> policy_node)
   in a subprocess, its log in ``out/demo_stack.log``;
2. sends ``--goals`` /grasp goals (default 5, 2 attempts each) from a separate client process
   (`pa-grasp-client`), which prints feedback and results and writes the zoom sequence of every
   goal to ``out/demo_zoom.png``;
3. stops the stack with SIGINT and waits for a clean exit.

Exit status 0 when the stack worked (individual grasps may fail), 1 otherwise. The policy is the
shipped model (pa_grasp_policy/models/pa_grasp.pt) or ``--checkpoint``; without either the demo
runs an untrained policy and says so.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def untrained_checkpoint(path: Path) -> Path:
    from pa_grasp_policy.model.checkpoint import save_checkpoint
    from pa_grasp_policy.model.policy import Policy

    return save_checkpoint(path, Policy())


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_sim_stack(checkpoint: Path, log, overrides=()) -> subprocess.Popen:
    """`pa-grasp-bringup sim` with the checkpoint and `-p node.name=value` overrides, its output
    to the open file `log`."""
    command = [sys.executable, "-m", "pa_grasp_bringup.runner", "sim", "-p", f"policy_node.checkpoint={checkpoint}"]
    for override in overrides:
        command += ["-p", override]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop_stack(stack: subprocess.Popen, who: str) -> None:
    """SIGINT, as Ctrl-C; killed if it has not stopped within 30 s."""
    if stack.poll() is None:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{who}: the stack did not stop within 30 s; killing it", file=sys.stderr)
            stack.kill()
            stack.wait()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="pa-grasp-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--goals", type=int, default=5)
    p.add_argument("--attempts", type=int, default=2)
    p.add_argument("--checkpoint", help="policy checkpoint (default: the shipped model)")
    p.add_argument("--out", default="out", help="output directory (default out/)")
    p.add_argument("--timeout", type=float, default=240.0, help="give up after this many seconds")
    args = p.parse_args(argv)

    from pa_grasp_policy.planner.loading import DEFAULT_MODEL

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(args.checkpoint) if args.checkpoint else DEFAULT_MODEL
    if not checkpoint.exists():
        if args.checkpoint:
            print(f"demo: checkpoint not found: {checkpoint}", file=sys.stderr)
            return 1
        checkpoint = untrained_checkpoint(out / "untrained_policy.pt")
        print(
            f"demo: NOTE no shipped model at {DEFAULT_MODEL} yet: using an UNTRAINED policy"
            f" ({checkpoint}); most grasps will fail. Pass --checkpoint to use a trained one.",
            flush=True,
        )
    log_path = out / "demo_stack.log"
    zoom_path = out / "demo_zoom.png"
    start = time.monotonic()
    print(f"demo: starting the sim stack (log: {log_path})", flush=True)
    with open(log_path, "w") as log:
        stack = start_sim_stack(checkpoint, log)
        try:
            client = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pa_grasp_bringup.client",
                    "--goals",
                    str(args.goals),
                    "--attempts",
                    str(args.attempts),
                    "--save-zoom",
                    str(zoom_path),
                    "--server-timeout",
                    "90",
                    "--timeout",
                    "90",
                ]
            )
            deadline = start + args.timeout
            while client.poll() is None:
                if stack.poll() is not None:
                    print(
                        f"demo: the stack exited early (status {stack.returncode}):\n{tail(log_path)}", file=sys.stderr
                    )
                    client.terminate()
                    client.wait(10)
                    return 1
                if time.monotonic() > deadline:
                    print(f"demo: gave up after {args.timeout:g} s", file=sys.stderr)
                    client.terminate()
                    client.wait(10)
                    break
                time.sleep(0.2)
            client_status = client.returncode
        finally:
            stop_stack(stack, "demo")
    elapsed = time.monotonic() - start
    stack_ok = stack.returncode == 0
    print(
        f"demo: stack stopped (status {stack.returncode}); client status {client_status}; {elapsed:.0f} s", flush=True
    )
    if client_status not in (0, 1) or not stack_ok:
        print(f"demo: FAILED. Last lines of {log_path}:\n{tail(log_path)}", file=sys.stderr)
        return 1
    print(f"demo: OK (the stack worked; see {zoom_path} for the zoom sequences)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
