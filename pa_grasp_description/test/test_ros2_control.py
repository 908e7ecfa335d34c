"""The robot description with <ros2_control>: every hardware joint is a real, movable URDF joint,
each in exactly one system, commands only where nothing else drives the joint, and the mimic
couplings ros2_control reads are the URDF's (PyBullet, which ignores the tags, still loads it)."""

import xml.etree.ElementTree as ET

import pybullet as pb
import pytest

from pa_grasp_description import moveit, robot
from pa_grasp_description.ros2_control import (
    COMMAND_INTERFACES,
    MOCK_HARDWARE_PLUGIN,
    STATE_INTERFACES,
    mimicked_by,
    robot_description,
    urdf_joints,
)

PLAIN = ET.parse(robot.robot_urdf_path()).getroot()
MOVABLE = {name for name, joint in urdf_joints(PLAIN).items() if joint.get("type") != "fixed"}


def systems(text: str) -> dict[str, ET.Element]:
    return {system.get("name"): system for system in ET.fromstring(text).findall("ros2_control")}


def interfaces(joint: ET.Element, kind: str) -> list[str]:
    return [i.get("name") for i in joint.findall(f"{kind}_interface")]


@pytest.mark.parametrize("use_mock_hardware", [True, False])
def test_hardware_joints_are_the_movable_urdf_joints_each_in_one_system(use_mock_hardware):
    text = robot_description(use_mock_hardware)
    root = ET.fromstring(text)
    # The robot itself is the generated URDF, untouched (no camera joint: the calibration's TF is).
    for tag in ("link", "joint"):
        assert [e.get("name") for e in root.findall(tag)] == [e.get("name") for e in PLAIN.findall(tag)]
    hardware = [joint.get("name") for system in systems(text).values() for joint in system.findall("joint")]
    assert len(hardware) == len(set(hardware)), "a joint in two systems"
    assert set(hardware) == MOVABLE
    assert set(systems(text)) == {"tx60", "bh280"}
    arm = [j.get("name") for j in systems(text)["tx60"].findall("joint")]
    assert arm == list(robot.ARM_JOINTS)


def test_commands_go_to_active_joints_and_mimic_joints_follow_one_in_their_own_system():
    text = robot_description(True)
    mimic = mimicked_by(ET.fromstring(text))
    assert mimic == {"bh_j21_joint": "bh_j11_joint", **dict(zip(robot.DISTAL_JOINTS, robot.PROXIMAL_JOINTS))}
    commanded = []
    for system in systems(text).values():
        names = {j.get("name") for j in system.findall("joint")}
        for joint in system.findall("joint"):
            name = joint.get("name")
            assert interfaces(joint, "state") == list(STATE_INTERFACES), name
            if name in mimic:
                # ros2_control refuses a command interface on an active mimic joint, and looks the
                # mimicked joint up in the same system.
                assert interfaces(joint, "command") == [] and mimic[name] in names, name
            else:
                assert interfaces(joint, "command") == list(COMMAND_INTERFACES), name
                commanded.append(name)
    assert commanded == list(robot.ARM_JOINTS) + list(moveit.HAND_ACTIVE_JOINTS)


def test_plugins_and_initial_positions_follow_the_hardware_choice():
    home = {"joint_2": -0.3, "bh_j12_joint": 0.5}
    mock = systems(robot_description(True, initial_positions=home))
    for system in mock.values():
        assert system.find("hardware/plugin").text == MOCK_HARDWARE_PLUGIN
    initial = {
        joint.get("name"): float(joint.find("state_interface[@name='position']/param[@name='initial_value']").text)
        for system in mock.values()
        for joint in system.findall("joint")
        if joint.find("state_interface[@name='position']/param") is not None
    }
    assert initial == home
    real = systems(robot_description(False, "a/Arm", "b/Hand", initial_positions=home))
    assert real["tx60"].find("hardware/plugin").text == "a/Arm"
    assert real["bh280"].find("hardware/plugin").text == "b/Hand"
    assert not [p for system in real.values() for p in system.iter("param")], "a real driver reports its state"
    with pytest.raises(ValueError, match="bh_j31_joint"):
        robot_description(True, initial_positions={"bh_j31_joint": 0.0})


def test_pybullet_loads_the_description_with_ros2_control(tmp_path):
    path = tmp_path / "robot.urdf"
    path.write_text(robot_description(True))
    cid = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(path), useFixedBase=True, physicsClientId=cid)
        count = pb.getNumJoints(body, physicsClientId=cid)
        infos = (pb.getJointInfo(body, i, physicsClientId=cid) for i in range(count))
        assert {info[1].decode() for info in infos if info[2] != pb.JOINT_FIXED} == MOVABLE
    finally:
        pb.disconnect(physicsClientId=cid)
