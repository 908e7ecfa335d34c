"""ros2 launch pa_grasp_bringup sim.launch.py [params_file:=...]: the sim stack.

Generated from the one description in pa_grasp_bringup/stack.py (nodes) and config/sim.yaml
(parameters), which the pip-only runner `pa-grasp-bringup sim` uses too.
"""

from pa_grasp_bringup.stack import launch_description


def generate_launch_description():
    return launch_description("sim")
