"""The one description of the stack: which nodes run in which mode, and with which parameters.

``ros2 launch pa_grasp_bringup sim.launch.py`` / ``real.launch.py`` (where ``launch`` exists)
and the pip-only runner ``pa-grasp-bringup sim|real`` both read :data:`STACK` and the params
file of the mode (``config/<mode>.yaml``, one section per node name, standard ROS 2 format), so
the two ways of starting the stack cannot drift apart.

Both modes share the data flow (DESIGN.md): raw depth -> kinect_node -> policy_node (/grasp)
-> ExecuteGrasp. In ``sim`` the camera and the robot are sim_bridge_node (PyBullet); in
``real`` the camera driver (freenect) comes from its own package, ``real.launch.py`` starts the
robot's ros2_control (drivers or mock hardware), robot_state_publisher and RViz
(:mod:`pa_grasp_bringup.launch_plan`), and executor_node moves the robot through MoveIt.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "pa_grasp_bringup"
MODES = ("sim", "real")


@dataclass(frozen=True)
class NodeSpec:
    package: str  # ROS package of the executable
    executable: str  # console script in lib/<package> (ros2 run / launch_ros)
    name: str  # node name
    section: str  # section of the params file that configures it
    node_class: str  # "module:Class" the in-process runner constructs

    def load_class(self):
        module, _, cls = self.node_class.partition(":")
        return getattr(importlib.import_module(module), cls)


_KINECT = NodeSpec(
    "pa_grasp_perception", "kinect_node", "kinect_node", "kinect_node", "pa_grasp_perception.kinect_node:KinectNode"
)
_POLICY = NodeSpec(
    "pa_grasp_policy", "policy_node", "policy_node", "policy_node", "pa_grasp_policy.ros.policy_node:PolicyNode"
)
STACK: dict[str, tuple[NodeSpec, ...]] = {
    "sim": (
        NodeSpec(
            "pa_grasp_sim",
            "sim_bridge_node",
            "sim_bridge_node",
            "sim_bridge_node",
            "pa_grasp_sim.sim_bridge_node:SimBridgeNode",
        ),
        _KINECT,
        _POLICY,
    ),
    "real": (
        NodeSpec(
            "pa_grasp_bringup",
            "camera_mount_node",
            "camera_mount_node",
            "camera_mount_node",
            "pa_grasp_bringup.camera_mount:CameraMountNode",
        ),
        _KINECT,
        NodeSpec(
            "pa_grasp_execution",
            "executor_node",
            "executor_node",
            "executor_node",
            "pa_grasp_execution.executor_node:ExecutorNode",
        ),
        _POLICY,
    ),
}


def source_config_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "config"


def config_dir() -> Path:
    """config/ of the installed package (ament index), else of the source tree."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            share = Path(get_package_share_directory(PACKAGE)) / "config"
            if share.is_dir():
                return share
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return source_config_dir()


def params_file(mode: str) -> Path:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {MODES}")
    return config_dir() / f"{mode}.yaml"


def launch_description(mode: str):
    """The launch_ros description of a mode (needs the ``launch`` and ``launch_ros`` packages): the
    arguments of :func:`launch_plan.launch_arguments`, and the nodes of :func:`launch_plan.launch_plan`
    computed when the arguments' values are known (OpaqueFunction)."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    from pa_grasp_bringup import launch_plan

    def typed(parameters):
        # launch_ros reads a plain string as YAML (a URDF fails, "" becomes null): keep strings strings.
        if isinstance(parameters, dict):
            return {k: ParameterValue(v, value_type=str) if isinstance(v, str) else v for k, v in parameters.items()}
        return parameters

    def nodes(context):
        values = dict(context.launch_configurations)
        plan = launch_plan.launch_plan(mode, values)
        actions = [LogInfo(msg=f"pa_grasp {mode} stack: " + ", ".join(n.name or n.executable for n in plan))]
        for node in plan:
            actions.append(
                Node(
                    package=node.package,
                    executable=node.executable,
                    name=node.name,
                    namespace=values["namespace"],
                    parameters=[typed(p) for p in node.parameters],
                    arguments=list(node.arguments),
                    remappings=list(node.remappings),
                    output="screen",
                    emulate_tty=True,
                )
            )
        return actions

    arguments = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
        for a in launch_plan.launch_arguments(mode)
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=nodes)])
