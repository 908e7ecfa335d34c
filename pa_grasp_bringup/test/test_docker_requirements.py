"""The Docker image's pip requirement set resolves (pip's resolver, dry run): the conflict that
broke `docker compose build` (numpy < 2 against an opencv that needs numpy 2) fails here first.

The set is the one docker/requirements.sh writes for the Dockerfile, with the image's
docker/constraints.txt and numpy at apt's 1.26.4 (Ubuntu 24.04). It is resolved for this Python
(3.11; the image has 3.12: wheels that exist for one and not the other are not checked), with
this machine's package indexes (torch comes from its local wheel here, from the PyTorch CPU index
in the image)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APT_NUMPY = "numpy==1.26.4"  # python3-numpy of Ubuntu 24.04, under ros:jazzy


def test_the_docker_requirement_set_resolves(tmp_path):
    requirements, constraints = tmp_path / "requirements.txt", tmp_path / "apt.txt"
    subprocess.run(["bash", str(ROOT / "docker" / "requirements.sh"), str(requirements)], check=True)
    constraints.write_text(APT_NUMPY + "\n")
    assert not any(line.startswith("numpy") for line in requirements.read_text().splitlines()), "numpy is apt's"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    command += ["-r", str(requirements), "-c", str(ROOT / "docker" / "constraints.txt"), "-c", str(constraints)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    errors = [line for line in run.stderr.splitlines() if "is ignored" not in line]
    assert run.returncode == 0, "pip cannot resolve the image's requirements:\n" + "\n".join(errors[-15:])
