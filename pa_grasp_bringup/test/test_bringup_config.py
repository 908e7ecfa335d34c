"""The stack description, the params files and the launch files agree with each other and with
the packages: every executable exists as a console script, every parameter is one the node
declares (with the declared type), the sim camera is the one the policy is trained on."""

import ast
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from pa_grasp_bringup import runner, stack
from pa_grasp_perception.grasp_geometry import pose_from_xyz_quat
from pa_grasp_perception.ros_parameters import config_defaults

ROOT = Path(__file__).resolve().parents[2]
BRINGUP = ROOT / "pa_grasp_bringup"


def console_scripts(package: str) -> dict[str, str]:
    """name -> target of the console_scripts in <package>/setup.py (parsed, not executed)."""
    tree = ast.parse((ROOT / package / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    entries = [ast.literal_eval(e) for e in value.elts]
                    return {e.split("=")[0].strip(): e.split("=")[1].strip() for e in entries}
    return {}


def load(mode: str) -> dict:
    return yaml.safe_load(stack.source_config_dir().joinpath(f"{mode}.yaml").read_text())


def declared_parameters(spec) -> dict:
    """Parameter name -> default of the node (config dataclass fields; kinect_node's from a node)."""
    if spec.name == "kinect_node":
        rclpy = pytest.importorskip("rclpy")
        from pa_grasp_perception.kinect_node import KinectNode

        context = rclpy.Context()
        rclpy.init(context=context)
        try:
            node = KinectNode(context=context)
            values = {name: node.get_parameter(name).value for name in node._parameters if name != "use_sim_time"}
            node.destroy_node()
            return values
        finally:
            rclpy.shutdown(context=context)
    module = {
        "policy_node": "pa_grasp_policy.ros.policy_node_config:PolicyNodeConfig",
        "sim_bridge_node": "pa_grasp_sim.sim_bridge_config:SimBridgeConfig",
        "executor_node": "pa_grasp_execution.executor_config:ExecutorConfig",
        "camera_mount_node": "pa_grasp_bringup.camera_mount:CameraMountConfig",
    }[spec.name]
    mod, _, cls = module.partition(":")
    return config_defaults(getattr(importlib.import_module(mod), cls))


def plain(value):
    return list(value) if not isinstance(value, str | bool | int | float) else value


def same_type(value, default) -> bool:
    if isinstance(default, list):
        return isinstance(value, list) and all(same_type(v, default[0]) for v in value) if default else True
    return type(value) is type(default)


@pytest.mark.parametrize("mode", stack.MODES)
def test_every_executable_is_a_console_script_and_every_params_file_exists(mode):
    assert stack.params_file(mode).is_file()
    assert (stack.source_config_dir() / f"{mode}.yaml").is_file()
    for spec in stack.STACK[mode]:
        scripts = console_scripts(spec.package)
        assert spec.executable in scripts, f"{spec.package}/setup.py has no console script {spec.executable}"
        module, _, _ = scripts[spec.executable].partition(":")
        assert module == spec.node_class.partition(":")[0], "launch and runner must start the same code"
        assert spec.section == spec.name, "launch_ros applies params file sections by node name"
    for script in ("pa-grasp-bringup", "pa-grasp-client", "pa-grasp-demo"):
        assert script in console_scripts("pa_grasp_bringup")


@pytest.mark.parametrize("mode", stack.MODES)
def test_launch_files_are_generated_from_the_stack_description(mode):
    text = (BRINGUP / "launch" / f"{mode}.launch.py").read_text()
    assert f'launch_description("{mode}")' in text
    setup = (BRINGUP / "setup.py").read_text()
    assert 'share_tree("launch", "launch")' in setup and 'share_tree("config", "config")' in setup


@pytest.mark.parametrize("mode", stack.MODES)
def test_params_files_name_only_declared_parameters_with_their_types(mode):
    data = load(mode)
    nodes = {spec.name: spec for spec in stack.STACK[mode]}
    assert set(data) - {"/**"} == set(nodes), "one section per node of the stack, nothing else"
    declared = {name: declared_parameters(spec) for name, spec in nodes.items()}
    for section, body in data.items():
        params = body["ros__parameters"]
        targets = declared.values() if section == "/**" else [declared[section]]
        for name, value in params.items():
            owners = [d for d in targets if name in d]
            assert owners, f"{mode}.yaml [{section}]: {name} is declared by no node"
            for d in owners:
                assert same_type(value, d[name]), f"{mode}.yaml [{section}] {name}={value!r}: type of {d[name]!r}"


def test_sim_camera_and_offsets_match_the_simulator():
    from pa_grasp_sim.camera import CameraConfig, camera_pose
    from pa_grasp_sim.execution import ExecutionConfig
    from pa_grasp_sim.world import WorldConfig

    data = load("sim")
    T_base_camera = pose_from_xyz_quat(data["sim_bridge_node"]["ros__parameters"]["camera_pose_xyz_quat"])
    T_world_base = np.eye(4)
    T_world_base[:3, 3] = WorldConfig().arm_base_position
    np.testing.assert_allclose(T_world_base @ T_base_camera, camera_pose(CameraConfig()), atol=1e-9)
    assert data["sim_bridge_node"]["ros__parameters"]["camera_px"] == CameraConfig().width  # the shipped model's
    policy = data["policy_node"]["ros__parameters"]
    assert policy["grasp_offset_m"] == pytest.approx(ExecutionConfig().grasp_offset_m)
    assert policy["table_z_m"] == pytest.approx(0.0 - WorldConfig().arm_base_position[2])  # table top: world z = 0
    real = load("real")
    assert math.isclose(real["executor_node"]["ros__parameters"]["pregrasp_offset_m"], 0.05)  # DESIGN: 5 cm


def test_runner_merges_wildcard_then_node_section_and_parses_overrides(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    a: 1.0\n    b: x\nnode_a:\n  ros__parameters:\n    a: 2.0\n")
    params, own = runner.node_parameters(path, "node_a")
    assert {p.name: p.value for p in params} == {"a": 2.0, "b": "x"} and own == {"a"}
    params, own = runner.node_parameters(path, "node_b")
    assert {p.name: p.value for p in params} == {"a": 1.0, "b": "x"} and own == set()
    assert runner.parse_overrides(["policy_node.checkpoint=/x.pt", "sim_bridge_node.seed=3", "a.b=[1.0, 2.0]"]) == {
        "policy_node": {"checkpoint": "/x.pt"},
        "sim_bridge_node": {"seed": 3},
        "a": {"b": [1.0, 2.0]},
    }
    with pytest.raises(runner.StackError, match="node.param=value"):
        runner.parse_overrides(["checkpoint=/x.pt"])
    with pytest.raises(runner.StackError, match="not found"):
        runner.node_parameters(tmp_path / "missing.yaml", "node_a")


def test_docker_files_name_existing_things():
    """The image cannot be built here; at least its files must agree with the repository."""
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["sim"]["profiles"] == ["sim"] and services["real"]["profiles"] == ["real"]
    assert "/dev/bus/usb:/dev/bus/usb" in services["real"]["volumes"]
    for name in ("sim", "real"):
        assert services[name]["network_mode"] == "host"
        launch_file = services[name]["command"][-1]
        assert (BRINGUP / "launch" / launch_file).is_file()
    client = services["client"]["entrypoint"]
    assert client[1:4] == ["ros2", "run", "pa_grasp_bringup"] and client[4] in console_scripts("pa_grasp_bringup")
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and not line.startswith("COPY . "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies a missing {source}"
    assert "docker/requirements.sh" in dockerfile
    written = (ROOT / "docker" / "requirements.sh").read_text()
    for requirements in ("requirements/core.txt", "requirements/dev.txt", "requirements/ros.txt"):
        assert requirements in written


@pytest.mark.parametrize("mode", stack.MODES)
def test_rcl_reads_the_params_files_like_the_runner(mode):
    """ros2 launch hands the file to rcl (--params-file); the runner reads it with PyYAML. Both
    must give every node the same parameters."""
    rclpy = pytest.importorskip("rclpy")
    path = stack.source_config_dir() / f"{mode}.yaml"
    context = rclpy.Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(path)])
    try:
        for spec in stack.STACK[mode]:
            node = rclpy.create_node(
                spec.name,
                context=context,
                allow_undeclared_parameters=True,
                automatically_declare_parameters_from_overrides=True,
            )
            builtin = {"use_sim_time", "start_type_description_service"}
            from_rcl = {n: plain(node.get_parameter(n).value) for n in node._parameters if n not in builtin}
            node.destroy_node()
            from_runner = {p.name: plain(p.value) for p in runner.node_parameters(path, spec.section)[0]}
            assert from_rcl == from_runner, spec.name
    finally:
        rclpy.shutdown(context=context)
