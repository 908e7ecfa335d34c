#!/usr/bin/env bash
# ROS 2 Jazzy (apt) + the pa_grasp workspace, then the command.
set -e
# shellcheck disable=SC1091
source /opt/ros/jazzy/setup.bash
# shellcheck disable=SC1091
source /ws/install/setup.bash
exec "$@"
