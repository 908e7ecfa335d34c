"""The planning pipelines moveit_py reads: every pipeline named has its config, every SRDF group
can be planned by OMPL with RRTConnect by default, and the plan requests the executor names
(config/real.yaml: free_plan_request, linear_plan_request) exist and use planners that exist."""

import xml.etree.ElementTree as ET

import pytest

from pa_grasp_description import moveit

CONFIG = moveit.moveit_config_dict()
SRDF_GROUPS = {g.get("name") for g in ET.parse(moveit.srdf_path()).getroot().findall("group")}
PILZ_PLANNERS = {"PTP", "LIN", "CIRC"}  # pilz_industrial_motion_planner's planner ids
PLUGINS = {
    "ompl": "ompl_interface/OMPLPlanner",
    "pilz_industrial_motion_planner": "pilz_industrial_motion_planner/CommandPlanner",
}
PLAN_REQUESTS = {
    "ompl_rrtc": ("ompl", "RRTConnectkConfigDefault"),
    "pilz_lin": ("pilz_industrial_motion_planner", "LIN"),
}


def test_every_pipeline_has_its_file_with_a_planner_plugin():
    pipelines = CONFIG["planning_pipelines"]["pipeline_names"]
    assert set(pipelines) == set(PLUGINS)
    for pipeline in pipelines:
        assert CONFIG[pipeline] == moveit.load_yaml(moveit.pipeline_config_name(pipeline))
        assert CONFIG[pipeline]["planning_plugins"] == [PLUGINS[pipeline]]
        for adapter in CONFIG[pipeline]["request_adapters"]:
            assert adapter.startswith("default_planning_request_adapters/"), adapter


def test_every_srdf_group_has_an_ompl_config_defaulting_to_rrtconnect():
    ompl = CONFIG["ompl"]
    known = set(ompl["planner_configs"])
    for group in SRDF_GROUPS:
        assert group in ompl, f"no OMPL config for the SRDF group {group}"
        assert set(ompl[group]["planner_configs"]) <= known, group
        assert ompl[group]["default_planner_config"] == "RRTConnectkConfigDefault", group
    assert ompl["planner_configs"]["RRTConnectkConfigDefault"]["type"] == "geometric::RRTConnect"


@pytest.mark.parametrize(("request_name", "expected"), PLAN_REQUESTS.items())
def test_plan_requests_name_existing_pipelines_and_planners(request_name, expected):
    params = CONFIG[request_name]["plan_request_params"]
    assert (params["planning_pipeline"], params["planner_id"]) == expected
    pipeline = CONFIG[params["planning_pipeline"]]
    planners = set(pipeline["planner_configs"]) if "planner_configs" in pipeline else PILZ_PLANNERS
    assert params["planner_id"] in planners
    assert params["planning_time"] > 0 and 0 < params["max_velocity_scaling_factor"] <= 1


def test_scene_monitor_topics_are_relative_so_a_namespace_moves_them():
    for key, value in CONFIG["planning_scene_monitor_options"].items():
        if key.endswith("_topic"):
            assert not value.startswith("/"), f"{key}: {value}"


def test_group_states_are_read_from_the_srdf():
    assert moveit.group_state(moveit.HOME_STATE)["joint_2"] == pytest.approx(-0.3)
    assert set(moveit.group_state(moveit.OPEN_STATE)) == set(moveit.HAND_ACTIVE_JOINTS)
    with pytest.raises(KeyError, match="nowhere"):
        moveit.group_state("nowhere")
