#!/usr/bin/env bash
# The image's pip requirements, written to $1: requirements/core.txt and dev.txt with the pins that
# need numpy 2 replaced by docker/requirements-docker.txt (the image keeps the apt numpy 1.26 the
# apt ROS packages are built against), plus colcon. The Dockerfile and a test
# (pa_grasp_bringup/test/test_docker_requirements.py) both use it.
set -euo pipefail
cd "$(dirname "$0")/.."
replaced="numpy|$(sed -nE 's/^([A-Za-z0-9_.-]+)==.*/\1/p' docker/requirements-docker.txt | paste -sd'|')"
{
  grep -hvE "^(${replaced})==" requirements/core.txt requirements/dev.txt
  grep -v '^#' docker/requirements-docker.txt
  grep -h '^colcon-common-extensions==' requirements/ros.txt
} > "$1"
