"""real.launch.py, checked without `launch` (only the Docker image has it): the plan it starts
(launch_plan.py), the ros2_control controllers against the robot description and MoveIt, the RViz
config against what the stack publishes, the arguments against the docs, and the packages it
needs against package.xml and the Docker image."""

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from pa_grasp_bringup import launch_plan, runner, stack
from pa_grasp_bringup.calibration import CalibrationError
from pa_grasp_description import moveit
from pa_grasp_description.ros2_control import MOCK_HARDWARE_PLUGIN, mimicked_by
from pa_grasp_perception.transforms import TF_REMAPPINGS
from pa_grasp_policy.ros.detect_grasps import CANDIDATES_TOPIC
from pa_grasp_policy.ros.policy_node import DEBUG_IMAGE_TOPIC, MARKERS_TOPIC

ROOT = Path(__file__).resolve().parents[2]
CONFIG = stack.source_config_dir()
CONTROLLERS = yaml.safe_load((CONFIG / launch_plan.CONTROLLERS_FILE).read_text())
CONTROLLER_TYPES = CONTROLLERS["/**/controller_manager"]["ros__parameters"]
REAL = yaml.safe_load((CONFIG / "real.yaml").read_text())
# Packages real.launch.py needs at run time: the executables it starts and the plugins its
# configs name (plugin prefix -> ROS package), with the package.xml that declares each.
PLUGIN_PACKAGES = {
    "mock_components": "hardware_interface",
    "joint_state_broadcaster": "joint_state_broadcaster",
    "joint_trajectory_controller": "joint_trajectory_controller",
    "ompl_interface": "moveit_planners_ompl",
    "pilz_industrial_motion_planner": "pilz_industrial_motion_planner",
    "kdl_kinematics_plugin": "moveit_kinematics",
    "moveit_simple_controller_manager": "moveit_simple_controller_manager",
}


def defaults(mode: str, **overrides) -> dict[str, str]:
    return {**{a.name: a.default for a in launch_plan.launch_arguments(mode)}, **overrides}


def plan(**overrides):
    return launch_plan.launch_plan("real", defaults("real", **overrides))


def by_executable(nodes):
    return {node.executable: node for node in nodes}


def hardware_joints(description: str) -> tuple[set[str], set[str]]:
    """(joints with a command interface, all joints) of the <ros2_control> systems."""
    joints = [j for system in ET.fromstring(description).findall("ros2_control") for j in system.findall("joint")]
    return {j.get("name") for j in joints if j.find("command_interface") is not None}, {j.get("name") for j in joints}


def mock_description() -> str:
    return by_executable(plan(use_mock_hardware="true"))["robot_state_publisher"].parameters[0]["robot_description"]


# --- the plan --------------------------------------------------------------------------------
@pytest.mark.parametrize("use_rviz", ["true", "false"])
def test_real_plan_starts_the_robot_then_the_stack_all_with_relative_tf(use_rviz):
    nodes = plan(use_mock_hardware="true", use_rviz=use_rviz)
    robot = [(n.package, n.executable) for n in nodes[: len(nodes) - len(stack.STACK["real"])]]
    expected = [
        ("robot_state_publisher", "robot_state_publisher"),
        ("controller_manager", "ros2_control_node"),
        ("controller_manager", "spawner"),
    ]
    assert robot == expected + ([("rviz2", "rviz2")] if use_rviz == "true" else [])
    assert [(n.package, n.executable, n.name) for n in nodes[len(robot) :]] == [
        (s.package, s.executable, s.name) for s in stack.STACK["real"]
    ]
    assert "move_group" not in {n.executable for n in nodes}  # executor_node runs moveit_py itself
    for node in nodes:
        assert set(node.remappings) == {("/tf", "tf"), ("/tf_static", "tf_static")} == set(TF_REMAPPINGS)
    spawner = by_executable(nodes)["spawner"]
    assert spawner.arguments[: len(launch_plan.CONTROLLERS)] == launch_plan.CONTROLLERS
    (controllers_file,) = by_executable(nodes)["ros2_control_node"].parameters
    # Files of the installed config/ (setup.py installs the source's; the source is checked here).
    assert controllers_file == str(stack.config_dir() / launch_plan.CONTROLLERS_FILE)
    assert (CONFIG / launch_plan.CONTROLLERS_FILE).is_file() and (CONFIG / launch_plan.RVIZ_FILE).is_file()
    if use_rviz == "true":
        assert by_executable(nodes)["rviz2"].arguments == ("-d", str(stack.config_dir() / launch_plan.RVIZ_FILE))


def test_stack_nodes_get_the_runners_parameters_and_the_camera_mount_the_calibration(tmp_path):
    calibration = tmp_path / "mine.yaml"
    calibration.write_text((CONFIG / launch_plan.CALIBRATION_FILE).read_text())
    values = defaults("real", calibration_file=str(calibration))
    nodes = {n.name: n for n in launch_plan.launch_plan("real", values)}
    mounts = [s for s in stack.STACK["real"] if s.node_class == launch_plan.CAMERA_MOUNT_CLASS]
    assert len(mounts) == 1, "one stack node publishes the calibrated camera pose"
    for spec in stack.STACK["real"]:
        (parameters,) = nodes[spec.name].parameters
        params, _ = runner.node_parameters(values["params_file"], spec.section)
        expected = {p.name: launch_plan._plain(p.value) for p in params}
        if spec in mounts:
            expected["calibration_file"] = str(calibration)
        assert parameters == expected, spec.name
    assert nodes["executor_node"].parameters[0]["free_plan_request"] in moveit.moveit_config_dict()


def test_the_robot_description_follows_use_mock_hardware_and_starts_the_mock_at_home():
    def plugins(description):
        return {
            s.get("name"): s.find("hardware/plugin").text for s in ET.fromstring(description).findall("ros2_control")
        }

    assert set(plugins(mock_description()).values()) == {MOCK_HARDWARE_PLUGIN}
    real = plan(arm_hardware_plugin="cs8/TX60", hand_hardware_plugin="barrett/BH280")
    description = by_executable(real)["robot_state_publisher"].parameters[0]["robot_description"]
    assert plugins(description) == {"tx60": "cs8/TX60", "bh280": "barrett/BH280"}
    home = moveit.group_state(moveit.HOME_STATE)
    initial = {
        j.get("name"): float(j.find("state_interface/param").text)
        for j in ET.fromstring(mock_description()).iter("joint")
        if j.find("state_interface/param") is not None
    }
    assert initial == {**home, **moveit.group_state(moveit.OPEN_STATE)} and home["joint_3"] == pytest.approx(2.0)


def test_bad_launch_values_stop_the_launch_naming_them(tmp_path):
    with pytest.raises(ValueError, match="use_rviz"):
        plan(use_rviz="maybe")
    broken = tmp_path / "broken.yaml"
    broken.write_text("parent_frame: base_link\n")
    with pytest.raises(CalibrationError, match="broken.yaml"):
        plan(calibration_file=str(broken))
    with pytest.raises(KeyError, match="use_mock_hardware"):
        launch_plan.launch_plan("real", {k: v for k, v in defaults("real").items() if k != "use_mock_hardware"})


def test_sim_plan_is_the_stack_alone():
    nodes = launch_plan.launch_plan("sim", defaults("sim"))
    assert [(n.package, n.executable) for n in nodes] == [(s.package, s.executable) for s in stack.STACK["sim"]]


def test_every_launch_argument_is_described_and_documented():
    docs = (ROOT / "docs" / "architecture.md").read_text() + (ROOT / "README.md").read_text()
    for mode in stack.MODES:
        for argument in launch_plan.launch_arguments(mode):
            assert len(argument.description) > 20, argument.name
            assert f"`{argument.name}" in docs, f"{argument.name} is in no doc (docs/architecture.md, README.md)"
    assert launch_plan.parse_bool("x", "True") and not launch_plan.parse_bool("x", "0")


# --- ros2_control ------------------------------------------------------------------------------
def test_controllers_drive_exactly_the_commanded_joints_as_moveit_expects():
    commanded, all_joints = hardware_joints(mock_description())
    moveit_controllers = moveit.load_yaml("moveit_controllers.yaml")["moveit_simple_controller_manager"]
    trajectory_controllers = [name for name in launch_plan.CONTROLLERS if name != "joint_state_broadcaster"]
    assert set(CONTROLLER_TYPES) - {"update_rate"} == set(launch_plan.CONTROLLERS), "spawned = declared"
    assert sorted(moveit_controllers["controller_names"]) == sorted(trajectory_controllers)
    driven = []
    for name in trajectory_controllers:
        assert CONTROLLER_TYPES[name]["type"] == "joint_trajectory_controller/JointTrajectoryController"
        params = CONTROLLERS[f"/**/{name}"]["ros__parameters"]
        assert set(params["joints"]) <= commanded, name
        assert params["joints"] == moveit_controllers[name]["joints"], name
        assert moveit_controllers[name]["type"] == "FollowJointTrajectory"
        assert params["command_interfaces"] == ["position"] and params["state_interfaces"] == ["position", "velocity"]
        assert set(params["constraints"]) - {"stopped_velocity_tolerance", "goal_time"} == set(params["joints"])
        driven += params["joints"]
    assert sorted(driven) == sorted(commanded), "every commanded joint has exactly one controller"
    assert all_joints - commanded == set(mimicked_by(ET.fromstring(mock_description()))), "the rest are mimic joints"


def test_the_hand_controller_lets_a_close_stall_on_the_object():
    hand = CONTROLLERS["/**/bh280_hand_controller"]["ros__parameters"]
    assert hand["joints"] == list(moveit.HAND_ACTIVE_JOINTS)
    constraints = hand["constraints"]
    for joint in hand["joints"]:
        # 0 = not checked (JTC): a finger stopped short of the target neither aborts nor fails.
        assert constraints[joint] == {"trajectory": 0.0, "goal": 0.0}, joint
    assert constraints["goal_time"] > 0, "a goal whose fingers never settle still ends"
    assert hand["allow_partial_joints_goal"]
    arm = CONTROLLERS["/**/tx60_arm_controller"]["ros__parameters"]["constraints"]
    assert all(arm[j]["goal"] > 0 and arm[j]["trajectory"] > 0 for j in moveit.robot.ARM_JOINTS)


def test_the_executor_closes_through_the_hand_controller_and_waits_out_its_goal_time():
    executor = REAL["executor_node"]["ros__parameters"]
    hand = CONTROLLERS["/**/bh280_hand_controller"]["ros__parameters"]
    assert executor["hand_trajectory_action"] == "bh280_hand_controller/follow_joint_trajectory"
    assert executor["close_timeout_s"] > executor["close_duration_s"] + hand["constraints"]["goal_time"]
    assert 0 < executor["close_position_rad"] <= moveit.robot.PROXIMAL_LIMIT


# --- RViz ------------------------------------------------------------------------------------
def topics(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Topic", "Description Topic"):
                yield value["Value"]
            else:
                yield from topics(value)
    elif isinstance(node, list):
        for item in node:
            yield from topics(item)


def test_rviz_shows_what_the_stack_publishes_in_base_link():
    config = yaml.safe_load((CONFIG / launch_plan.RVIZ_FILE).read_text())
    published = {
        DEBUG_IMAGE_TOPIC,
        MARKERS_TOPIC,
        CANDIDATES_TOPIC,
        REAL["kinect_node"]["ros__parameters"]["output_topic"],
        "robot_description",  # robot_state_publisher
    }
    shown = list(topics(config))
    assert sorted(shown) == sorted(published), "each published topic shown once, nothing else"
    assert all(not t.startswith("/") for t in shown), "relative, so a namespace moves them"
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == REAL["/**"]["ros__parameters"]["base_frame"]
    classes = {d["Class"] for d in manager["Displays"]}
    assert {"rviz_default_plugins/RobotModel", "rviz_default_plugins/TF"} <= classes


# --- packages --------------------------------------------------------------------------------
def declared(package: str) -> set[str]:
    root = ET.parse(ROOT / package / "package.xml").getroot()
    return {e.text.strip() for e in root if e.tag in ("depend", "exec_depend")}


def needed_packages() -> dict[str, set[str]]:
    """package.xml -> the ROS packages real.launch.py needs from it."""
    started = {n.package for n in plan(use_mock_hardware="true")} - {s.package for s in stack.STACK["real"]}
    controller_plugins = {v["type"].split("/")[0] for v in CONTROLLER_TYPES.values() if isinstance(v, dict)}
    config = moveit.moveit_config_dict()
    description_plugins = {
        MOCK_HARDWARE_PLUGIN,
        config["robot_description_kinematics"]["tx60_arm"]["kinematics_solver"],
    }
    description_plugins |= {config[p]["planning_plugins"][0] for p in config["planning_pipelines"]["pipeline_names"]}
    description_plugins.add(config["moveit_controller_manager"])
    return {
        "pa_grasp_bringup": started | {"rviz_default_plugins"} | {PLUGIN_PACKAGES[p] for p in controller_plugins},
        "pa_grasp_description": {PLUGIN_PACKAGES[p.split("/")[0]] for p in description_plugins},
    }


def test_package_xml_and_the_docker_image_have_what_real_launch_needs():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    for package, needed in needed_packages().items():
        assert needed <= declared(package), f"{package}/package.xml lacks {needed - declared(package)}"
        for name in needed:
            assert f"ros-jazzy-{name.replace('_', '-')} " in dockerfile, f"the Dockerfile does not install {name}"


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None, reason="launch / launch_ros not installed here")
def test_the_launch_file_turns_the_plan_into_nodes():
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch_ros.actions import Node

    spec = importlib.util.spec_from_file_location(
        "real_launch", ROOT / "pa_grasp_bringup" / "launch" / "real.launch.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities = module.generate_launch_description().entities
    declared_args = {e.name: e for e in entities if isinstance(e, DeclareLaunchArgument)}
    assert set(declared_args) == {a.name for a in launch_plan.launch_arguments("real")}
    context = LaunchContext()
    context.launch_configurations.update(defaults("real", use_mock_hardware="true"))
    (opaque,) = [e for e in entities if isinstance(e, OpaqueFunction)]
    nodes = [a for a in opaque.execute(context) if isinstance(a, Node)]
    assert [(n.node_package, n.node_executable) for n in nodes] == [
        (n.package, n.executable) for n in plan(use_mock_hardware="true")
    ]
