"""What ``ros2 launch pa_grasp_bringup <mode>.launch.py`` starts, decided by plain functions.

The ``launch`` packages exist only in the Docker image, so every decision (which nodes, with which
parameters, arguments and remappings) is made here, where tests can call it, and
:func:`pa_grasp_bringup.stack.launch_description` only turns the plan into launch_ros actions.

``real``: robot_state_publisher (the description of :mod:`pa_grasp_description.ros2_control`),
ros2_control_node with ``config/ros2_controllers.yaml``, one spawner for the three controllers,
RViz (``use_rviz``) and the nodes of ``STACK["real"]``. There is no move_group: executor_node
runs MoveIt in its own process (moveit_py, :func:`pa_grasp_description.moveit.moveit_config_dict`).
``sim``: the nodes of ``STACK["sim"]`` (sim_bridge_node is the robot, its TF and description).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pa_grasp_bringup import runner
from pa_grasp_bringup.calibration import load_camera_calibration
from pa_grasp_bringup.stack import STACK, config_dir, params_file
from pa_grasp_description import moveit
from pa_grasp_description.ros2_control import ARM_HARDWARE_PLUGIN, HAND_HARDWARE_PLUGIN, robot_description
from pa_grasp_perception.transforms import TF_REMAPPINGS

CONTROLLERS_FILE = "ros2_controllers.yaml"
RVIZ_FILE = "pa_grasp.rviz"
CALIBRATION_FILE = "camera_calibration.yaml"
# Spawned in this order: joint_states first, so MoveIt and robot_state_publisher see the robot.
CONTROLLERS = ("joint_state_broadcaster", "tx60_arm_controller", "bh280_hand_controller")
CONTROLLER_MANAGER_TIMEOUT_S = 30.0
# The stack node that publishes the camera's calibrated pose on tf_static (it reads calibration_file).
CAMERA_MOUNT_CLASS = "pa_grasp_bringup.camera_mount:CameraMountNode"
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str


@dataclass(frozen=True)
class NodeLaunch:
    """One node to start: launch_ros.actions.Node's fields, in the launch's namespace."""

    package: str
    executable: str
    name: str | None = None  # None: the executable's own node name
    parameters: tuple = ()  # dicts of name -> value, or paths of params files
    arguments: tuple[str, ...] = ()
    # tf2_ros uses the absolute /tf and /tf_static: made relative, a namespace:=robot1 launch
    # keeps its transforms apart from another robot's.
    remappings: tuple[tuple[str, str], ...] = TF_REMAPPINGS


def launch_arguments(mode: str) -> tuple[LaunchArgument, ...]:
    common = (
        LaunchArgument("params_file", str(params_file(mode)), f"parameters of the {mode} stack's nodes"),
        LaunchArgument("namespace", "", "every node (and so every relative name, TF included) in this namespace"),
    )
    if mode == "sim":
        return common
    return common + (
        LaunchArgument(
            "use_mock_hardware",
            "false",
            "true: ros2_control's mock_components stand in for the TX60 and the BH-280 (a PC with no robot)",
        ),
        LaunchArgument("use_rviz", "true", f"start RViz with config/{RVIZ_FILE}"),
        LaunchArgument(
            "calibration_file",
            str(config_dir() / CALIBRATION_FILE),
            "camera calibration (base_link -> depth optical frame), published on tf_static",
        ),
        LaunchArgument(
            "arm_hardware_plugin",
            ARM_HARDWARE_PLUGIN,
            "ros2_control hardware plugin of the TX60 driver (ignored with use_mock_hardware)",
        ),
        LaunchArgument(
            "hand_hardware_plugin",
            HAND_HARDWARE_PLUGIN,
            "ros2_control hardware plugin of the BH-280 driver (ignored with use_mock_hardware)",
        ),
    )


def parse_bool(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(f"launch argument {name}:={text!r} is not a boolean (true / false)")
    return word in TRUE_WORDS


def _plain(value):
    """A parameter value launch_ros takes (rclpy gives arrays as array.array)."""
    return value if isinstance(value, str | bool | int | float) else list(value)


def stack_nodes(mode: str, values: dict[str, str]) -> list[NodeLaunch]:
    """The nodes of STACK[mode], each with its parameters merged from the params file like the
    runner does (``/**``, then its section): launch_ros would hand the file to rcl, which matches
    a section ``policy_node`` only to ``/policy_node``, not to ``/robot1/policy_node``."""
    path = Path(values["params_file"])
    nodes = []
    for spec in STACK[mode]:
        parameters = {p.name: _plain(p.value) for p in runner.node_parameters(path, spec.section)[0]}
        if spec.node_class == CAMERA_MOUNT_CLASS:
            parameters["calibration_file"] = values["calibration_file"]
        nodes.append(NodeLaunch(spec.package, spec.executable, spec.name, (parameters,)))
    return nodes


def robot_nodes(values: dict[str, str]) -> list[NodeLaunch]:
    """robot_state_publisher, ros2_control and RViz of the real robot (or its mock)."""
    use_mock_hardware = parse_bool("use_mock_hardware", values["use_mock_hardware"])
    load_camera_calibration(values["calibration_file"])  # a bad file stops the launch here, named
    # A mock robot starts where the simulator's does: arm at home, hand open.
    start = {**moveit.group_state(moveit.HOME_STATE), **moveit.group_state(moveit.OPEN_STATE)}
    description = robot_description(
        use_mock_hardware, values["arm_hardware_plugin"], values["hand_hardware_plugin"], start
    )
    nodes = [
        NodeLaunch("robot_state_publisher", "robot_state_publisher", parameters=({"robot_description": description},)),
        # ros2_control_node reads the description from robot_state_publisher's robot_description topic.
        NodeLaunch("controller_manager", "ros2_control_node", parameters=(str(config_dir() / CONTROLLERS_FILE),)),
        NodeLaunch(
            "controller_manager",
            "spawner",
            arguments=(*CONTROLLERS, "--controller-manager-timeout", str(CONTROLLER_MANAGER_TIMEOUT_S)),
        ),
    ]
    if parse_bool("use_rviz", values["use_rviz"]):
        nodes.append(NodeLaunch("rviz2", "rviz2", arguments=("-d", str(config_dir() / RVIZ_FILE))))
    return nodes


def launch_plan(mode: str, values: dict[str, str]) -> list[NodeLaunch]:
    """Every node a launch of ``mode`` starts, given the launch arguments' values (strings)."""
    missing = {a.name for a in launch_arguments(mode)} - set(values)
    if missing:
        raise KeyError(f"launch arguments without a value: {sorted(missing)}")
    robot = robot_nodes(values) if mode == "real" else []
    return robot + stack_nodes(mode, values)
