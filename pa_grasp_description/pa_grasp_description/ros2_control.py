"""The robot description ros2_control reads: tx60_bh280.urdf plus two ``<ros2_control>`` systems.

    robot_description(use_mock_hardware=True)   # what real.launch.py use_mock_hardware:=true runs

The TX60 (Staubli CS8 controller) and the BH-280 (its own CAN/serial electronics) are separate
devices, so each is its own system with its own hardware plugin. Every non-mimic joint takes a
``position`` command; every joint reports ``position`` and ``velocity``. The hand's mimic joints
(bh_j21 = bh_j11, distal = DISTAL_COUPLING x proximal) are listed with state interfaces only:
ros2_control (Jazzy) reads their coupling from the URDF ``<mimic>`` tags, and
``mock_components/GenericSystem`` computes their states from it. No joint is added for the
camera: its pose is the calibration's static transform (a URDF joint would give it two parents).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pa_grasp_description import robot

MOCK_HARDWARE_PLUGIN = "mock_components/GenericSystem"
# Placeholders: no ROS 2 driver for either device is shipped with pa_grasp. A real bring-up passes
# the plugin names of its drivers (launch arguments arm_hardware_plugin / hand_hardware_plugin);
# docs/architecture.md ("Real bring-up") gives the contract they must meet.
ARM_HARDWARE_PLUGIN = "tx60_hardware/TX60System"
HAND_HARDWARE_PLUGIN = "bh280_hardware/BH280System"
ARM_SYSTEM = "tx60"
HAND_SYSTEM = "bh280"
COMMAND_INTERFACES = ("position",)
STATE_INTERFACES = ("position", "velocity")


def urdf_joints(urdf: ET.Element) -> dict[str, ET.Element]:
    return {joint.get("name"): joint for joint in urdf.findall("joint")}


def mimicked_by(urdf: ET.Element) -> dict[str, str]:
    """Mimic joint -> the joint it follows, from the URDF's ``<mimic>`` tags."""
    return {
        name: joint.find("mimic").get("joint")
        for name, joint in urdf_joints(urdf).items()
        if joint.find("mimic") is not None
    }


def _system(name: str, plugin: str, joints, mimic: dict, initial_positions: dict) -> ET.Element:
    system = ET.Element("ros2_control", name=name, type="system")
    ET.SubElement(ET.SubElement(system, "hardware"), "plugin").text = plugin
    for joint in joints:
        element = ET.SubElement(system, "joint", name=joint)
        if joint not in mimic:
            for interface in COMMAND_INTERFACES:
                ET.SubElement(element, "command_interface", name=interface)
        for interface in STATE_INTERFACES:
            state = ET.SubElement(element, "state_interface", name=interface)
            if interface == "position" and joint in initial_positions:
                ET.SubElement(state, "param", name="initial_value").text = repr(float(initial_positions[joint]))
    return system


def robot_description(
    use_mock_hardware: bool,
    arm_hardware_plugin: str = ARM_HARDWARE_PLUGIN,
    hand_hardware_plugin: str = HAND_HARDWARE_PLUGIN,
    initial_positions: dict[str, float] | None = None,
) -> str:
    """URDF text of the TX60 + BH-280 with its ``<ros2_control>`` systems. With mock hardware both
    systems are ``mock_components/GenericSystem`` and start at ``initial_positions`` (joint ->
    rad; the others at 0); otherwise the given driver plugins, which report the measured state."""
    urdf = ET.parse(robot.robot_urdf_path()).getroot()
    mimic = mimicked_by(urdf)
    initial = dict(initial_positions or {}) if use_mock_hardware else {}
    unknown = set(initial) - set(robot.ARM_JOINTS + robot.HAND_JOINTS)
    if unknown:
        raise ValueError(f"initial positions name joints the robot does not have: {sorted(unknown)}")
    plugins = (MOCK_HARDWARE_PLUGIN,) * 2 if use_mock_hardware else (arm_hardware_plugin, hand_hardware_plugin)
    urdf.append(_system(ARM_SYSTEM, plugins[0], robot.ARM_JOINTS, mimic, initial))
    urdf.append(_system(HAND_SYSTEM, plugins[1], robot.HAND_JOINTS, mimic, initial))
    ET.indent(urdf, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(urdf, encoding="unicode") + "\n"
