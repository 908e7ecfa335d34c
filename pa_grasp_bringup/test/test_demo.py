"""`make demo`'s main job (pa-grasp-demo) runs end to end: stack subprocess, client subprocess,
zoom picture, clean shutdown. Its own ROS domain, so it cannot meet another test's stack."""

import os
import subprocess
import sys


def test_demo_runs_the_sim_stack_and_a_client(tmp_path):
    domain = int(os.environ.get("ROS_DOMAIN_ID", "0")) % 101 + 1
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    done = subprocess.run(
        [sys.executable, "-m", "pa_grasp_bringup.demo", "--goals", "2", "--attempts", "1", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo: OK" in done.stdout and done.stdout.count("result: SUCCEEDED") == 2
    assert (tmp_path / "demo_zoom.png").stat().st_size > 0
    log = (tmp_path / "demo_stack.log").read_text()
    assert "sim stack running" in log and "sim stack stopped" in log  # a clean shutdown
