"""ros2 launch pa_grasp_bringup real.launch.py [params_file:=...]: the real stack.

Generated from the one description in pa_grasp_bringup/stack.py (nodes) and config/real.yaml
(parameters), which the pip-only runner `pa-grasp-bringup real` uses too.
"""

from pa_grasp_bringup.stack import launch_description


def generate_launch_description():
    return launch_description("real")
