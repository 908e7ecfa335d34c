"""The MoveIt config files parse and name only joints, links and groups that exist."""

import xml.etree.ElementTree as ET

import pytest

from pa_grasp_description import moveit, robot

URDF = ET.parse(robot.robot_urdf_path()).getroot()
LINKS = {link.get("name") for link in URDF.findall("link")}
JOINTS = {j.get("name"): j for j in URDF.findall("joint")}
MOVABLE = {name for name, j in JOINTS.items() if j.get("type") != "fixed"}
MIMIC = {name for name, j in JOINTS.items() if j.find("mimic") is not None}
SRDF = ET.parse(moveit.srdf_path()).getroot()
GROUPS = {g.get("name"): g for g in SRDF.findall("group")}


def chain_joints(base: str, tip: str) -> list[str]:
    parent_of = {j.find("child").get("link"): (name, j.find("parent").get("link")) for name, j in JOINTS.items()}
    out, link = [], tip
    while link != base:
        assert link in parent_of, f"{tip} is not below {base}"
        name, link = parent_of[link]
        out.append(name)
    return [j for j in reversed(out) if j in MOVABLE]


def test_srdf_groups_and_end_effector():
    assert SRDF.get("name") == URDF.get("name")  # MoveIt pairs them by name
    arm = GROUPS[moveit.ARM_GROUP]
    (chain,) = arm.findall("chain")
    assert (chain.get("base_link"), chain.get("tip_link")) == (robot.BASE_LINK, robot.FLANGE_LINK)
    assert chain_joints(chain.get("base_link"), chain.get("tip_link")) == list(robot.ARM_JOINTS)
    hand = {j.get("name") for j in GROUPS[moveit.HAND_GROUP].findall("joint")}
    assert hand == set(robot.HAND_JOINTS)
    (ee,) = SRDF.findall("end_effector")
    assert ee.get("group") == moveit.HAND_GROUP and ee.get("parent_group") == moveit.ARM_GROUP
    assert ee.get("parent_link") in LINKS
    # the palm the grasp poses name hangs rigidly off the arm's tip
    assert robot.PALM_LINK in LINKS


def test_srdf_states_and_collision_pairs_name_existing_things():
    for state in SRDF.findall("group_state"):
        assert state.get("group") in GROUPS
        for joint in state.findall("joint"):
            name, value = joint.get("name"), float(joint.get("value"))
            assert name in MOVABLE, name
            lo, hi = {**robot.ARM_JOINT_LIMITS, **robot.HAND_JOINT_LIMITS}[name]
            assert lo <= value <= hi, f"{state.get('name')}: {name}={value} outside [{lo}, {hi}]"
    names = {s.get("name") for s in SRDF.findall("group_state")}
    assert {moveit.HOME_STATE, moveit.OPEN_STATE} <= names
    for pair in SRDF.findall("disable_collisions"):
        assert {pair.get("link1"), pair.get("link2")} <= LINKS, pair.attrib


def test_yaml_files_parse_and_name_existing_joints():
    kinematics = moveit.load_yaml("kinematics.yaml")
    assert set(kinematics) <= set(GROUPS)
    assert "KDL" in kinematics[moveit.ARM_GROUP]["kinematics_solver"]

    limits = moveit.load_yaml("joint_limits.yaml")["joint_limits"]
    assert set(limits) == MOVABLE
    for name, entry in limits.items():
        urdf_velocity = float(JOINTS[name].find("limit").get("velocity"))
        assert entry["max_velocity"] == pytest.approx(urdf_velocity), name
        assert entry["max_acceleration"] > 0

    controllers = moveit.load_yaml("moveit_controllers.yaml")["moveit_simple_controller_manager"]
    driven = []
    for name in controllers["controller_names"]:
        joints = controllers[name]["joints"]
        assert set(joints) <= MOVABLE - MIMIC, f"{name} drives unknown or mimic joints"
        driven += joints
    assert sorted(driven) == sorted(MOVABLE - MIMIC), "every active joint has exactly one controller"
    assert set(moveit.HAND_ACTIVE_JOINTS) == set(robot.HAND_JOINTS) & (MOVABLE - MIMIC)


def test_moveit_py_config_and_the_merged_dict():
    config = moveit.moveit_config_dict()
    pipelines = config["planning_pipelines"]["pipeline_names"]
    for pipeline in pipelines:
        assert config[pipeline]["planning_plugins"], pipeline
    for request in ("ompl_rrtc", "pilz_lin"):
        assert config[request]["plan_request_params"]["planning_pipeline"] in pipelines
    assert config["pilz_lin"]["plan_request_params"]["planner_id"] == "LIN"
    assert config["robot_description_planning"]["cartesian_limits"]["max_trans_vel"] > 0
    assert config["robot_description"].lstrip().startswith("<")
    assert config["robot_description_semantic"] == moveit.srdf_path().read_text()
