"""The MoveIt configuration of the TX60 + BH-280 (plain files; no MoveIt needed to read them).

Files in ``config/``: ``tx60_bh280.srdf`` (groups ``tx60_arm``: base_link -> flange, and
``bh280_hand``; end effector ``bh280``; states ``home`` / ``open``), ``kinematics.yaml`` (KDL),
``joint_limits.yaml`` and ``pilz_cartesian_limits.yaml`` (robot_description_planning),
``moveit_controllers.yaml`` (FollowJointTrajectory controllers), ``moveit_py.yaml`` (planning
scene monitor, the pipeline names, the named plan requests ``ompl_rrtc`` and ``pilz_lin``) and one
``<pipeline>_planning.yaml`` per pipeline (``ompl_planning.yaml``: RRTConnect for every group;
``pilz_industrial_motion_planner_planning.yaml``: LIN for the approach and the lift).

:func:`moveit_config_dict` merges them into the parameter dict ``MoveItPy(config_dict=...)``
takes, so the executor needs no launch file (the same dict in ``ros2 launch`` and the runner).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from pa_grasp_description import robot

CONFIG_DIR = Path(__file__).resolve().parent / "config"
SRDF_NAME = "tx60_bh280.srdf"
ARM_GROUP = "tx60_arm"
HAND_GROUP = "bh280_hand"
END_EFFECTOR = "bh280"
HOME_STATE = "home"
OPEN_STATE = "open"
# Hand joints a controller drives (the others mimic them).
HAND_ACTIVE_JOINTS = ("bh_j11_joint", "bh_j12_joint", "bh_j22_joint", "bh_j32_joint")


def config_path(name: str) -> Path:
    return CONFIG_DIR / name


def srdf_path() -> Path:
    return config_path(SRDF_NAME)


def load_yaml(name: str) -> dict:
    with open(config_path(name)) as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{config_path(name)} does not hold a YAML mapping")
    return data


def pipeline_config_name(pipeline: str) -> str:
    """The file configuring a planning pipeline (MoveIt's <pipeline>_planning.yaml convention)."""
    return f"{pipeline}_planning.yaml"


def group_state(name: str) -> dict[str, float]:
    """Joint -> value of a named ``<group_state>`` of the SRDF (e.g. ``home``)."""
    states = ET.parse(srdf_path()).getroot().findall(f"group_state[@name='{name}']")
    if not states:
        raise KeyError(f"{SRDF_NAME} has no group_state {name!r}")
    return {joint.get("name"): float(joint.get("value")) for state in states for joint in state.findall("joint")}


def moveit_config_dict() -> dict:
    """Parameters of the MoveItPy node: robot description, semantics, kinematics, limits,
    controllers, pipelines and plan requests."""
    planning = load_yaml("joint_limits.yaml")
    planning.update(load_yaml("pilz_cartesian_limits.yaml"))
    config = {
        "robot_description": robot.robot_urdf_path().read_text(),
        "robot_description_semantic": srdf_path().read_text(),
        "robot_description_kinematics": load_yaml("kinematics.yaml"),
        "robot_description_planning": planning,
    }
    config.update(load_yaml("moveit_controllers.yaml"))
    config.update(load_yaml("moveit_py.yaml"))
    for pipeline in config["planning_pipelines"]["pipeline_names"]:
        config[pipeline] = load_yaml(pipeline_config_name(pipeline))
    return config
