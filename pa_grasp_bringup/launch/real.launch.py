"""ros2 launch pa_grasp_bringup real.launch.py [use_mock_hardware:=true] [use_rviz:=false]
[params_file:=...] [calibration_file:=...] [namespace:=robot1]: the real stack.

robot_state_publisher, ros2_control (the TX60 and BH-280 drivers, or mock hardware), RViz and the
pa_grasp nodes; generated from pa_grasp_bringup/launch_plan.py, the nodes of stack.py (which the
pip-only runner `pa-grasp-bringup real` starts too) and config/real.yaml (parameters).
`ros2 launch pa_grasp_bringup real.launch.py --show-args` lists every argument.
"""

from pa_grasp_bringup.stack import launch_description


def generate_launch_description():
    return launch_description("real")
