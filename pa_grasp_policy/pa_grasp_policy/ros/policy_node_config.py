"""policy_node's settings (core, no ROS): one field per ROS parameter, validated here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pa_grasp_policy.planner.planner import PlannerConfig

SECOND_GOAL_CHOICES = ("reject", "preempt")


@dataclass
class PolicyNodeConfig:
    checkpoint: str = ""
    depth_topic: str = "pa_grasp/depth"
    camera_info_topic: str = "pa_grasp/camera_info"
    base_frame: str = "base_link"
    tf_timeout_s: float = 1.0
    normalize_view: bool = True
    depth_timeout_s: float = 5.0
    max_depth_age_s: float = 1.0
    require_fresh_depth: bool = True
    execute_action: str = "pa_grasp/execute_grasp"
    execute_server_timeout_s: float = 5.0
    execute_timeout_s: float = 120.0
    grasp_offset_m: float = 0.05
    pregrasp_offset_m: float = 0.0
    lift_height_m: float = 0.0
    default_max_zoom_steps: int = 0
    zoom_step_delay_s: float = 0.0
    sample_on_retry: bool = True
    max_attempts_limit: int = 10
    second_goal: str = "reject"  # a /grasp goal arriving while one runs: SECOND_GOAL_CHOICES
    seed: int = 0
    torch_threads: int = 1
    # The planner (planner/planner.py, PlannerConfig): the policy alone unless extras are asked for.
    views: int = 1
    selector: str = "shipped"
    depth_twin: bool = False
    twin_workers: int = 2  # 0: in this process
    local_search: bool = False
    search_budget_s: float = 5.0  # a robot waits at most this (pa-grasp-eval: no limit, machine-independent numbers)
    table_z_m: float = 0.0
    refuse_empty_view: bool = True

    def __post_init__(self):
        for name in ("depth_timeout_s", "execute_server_timeout_s", "execute_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        non_negative = ("tf_timeout_s", "max_depth_age_s", "grasp_offset_m", "pregrasp_offset_m", "lift_height_m")
        for name in (*non_negative, "zoom_step_delay_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.default_max_zoom_steps < 0:
            raise ValueError(
                f"default_max_zoom_steps must be >= 0 (0 = the model's), got {self.default_max_zoom_steps}"
            )
        if self.max_attempts_limit < 1:
            raise ValueError(f"max_attempts_limit must be >= 1, got {self.max_attempts_limit}")
        if self.second_goal not in SECOND_GOAL_CHOICES:
            raise ValueError(
                f"second_goal must be 'reject' or 'preempt' (what a /grasp goal arriving while one runs does),"
                f" got {self.second_goal!r}"
            )
        if self.torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1, got {self.torch_threads}")
        self.planner_config()  # refuses extras that make no sense together
        if not np.isfinite(self.table_z_m):
            raise ValueError(f"table_z_m must be finite, got {self.table_z_m}")
        if not self.base_frame:
            raise ValueError("base_frame must not be empty")

    def planner_config(self) -> PlannerConfig:
        return PlannerConfig(
            views=self.views,
            selector=self.selector,
            twin=self.depth_twin,
            twin_workers=self.twin_workers,
            local_search=self.local_search,
            search_budget_s=self.search_budget_s,
        )

    def T_table_camera(self, T_base_camera: np.ndarray) -> np.ndarray:
        """The camera in the planner's table frame: base_frame moved down to the table top."""
        T = np.array(T_base_camera, dtype=float)
        T[2, 3] -= self.table_z_m
        return T


DESCRIPTIONS = {
    "checkpoint": "policy checkpoint (.pt); empty = the shipped model pa_grasp_policy/models/pa_grasp.pt",
    "depth_topic": "conditioned depth (32FC1 metres) from kinect_node",
    "camera_info_topic": "camera_info of the conditioned depth",
    "base_frame": "robot base frame: grasp poses are expressed in it",
    "tf_timeout_s": "how long to wait for TF to place a depth image's frame_id in base_frame (a camera on a fixed"
    " mount: its static transform, e.g. from config/camera_calibration.yaml); none in time aborts the goal",
    "normalize_view": "redraw a depth image that is not the training camera's view (another size, field of view,"
    " height or angle: a Kinect's 640x480) as the training camera would see it above the table, from the image's"
    " 3D points (TF + intrinsics); the result's proposal and zoom boxes are then in that view (frame"
    " <image frame>_trained_view on tf)",
    "depth_timeout_s": "how long a goal waits for a usable depth image before it is aborted",
    "max_depth_age_s": "the latest depth image is used if it is at most this old; else wait for a new one",
    "require_fresh_depth": "use only depth taken after the goal arrived (the scene as of the request); false: "
    "any image up to max_depth_age_s old",
    "execute_action": "ExecuteGrasp action of the executor (executor_node or sim_bridge_node)",
    "execute_server_timeout_s": "how long to wait for the execute_grasp server before aborting",
    "execute_timeout_s": "abort if one grasp execution takes longer than this",
    "grasp_offset_m": "palm this far back from the surface point along the approach axis (paper: 5 cm)",
    "pregrasp_offset_m": "pre-grasp distance sent to the executor; 0 = the executor's default",
    "lift_height_m": "lift height sent to the executor; 0 = the executor's default",
    "default_max_zoom_steps": "zoom budget when a goal gives 0; 0 = the model's own",
    "zoom_step_delay_s": "pause after each zoom step (watch the debug image); can be changed at run time",
    "sample_on_retry": "retries sample from the policy even for deterministic goals (a mode would repeat the grasp)",
    "max_attempts_limit": "most grasp attempts one goal gets, whatever its max_attempts asks (a robot should not"
    " retry for ever on a scene it keeps failing on); the result's message says when a goal was cut",
    "second_goal": "a /grasp goal arriving while another runs: 'reject' (one grasp at a time) or 'preempt' (it is"
    " accepted; the running goal stops at its next check point, where a cancel would, and ends ABORTED; a running"
    " execution is finished first; then the new goal starts). Can be changed at run time",
    "seed": "seed of the policy's sampling",
    "torch_threads": "CPU threads for the network",
    "views": "test-time extra, not in the paper: 1 = the policy alone on the image as it is (the paper's method);"
    " 4 = deterministic goals also run the zoom loop on the image turned by 1-3 quarter turns and take the best"
    " grasp by the selector; 8 = and on its mirror image's four. Only while the camera looks straight down",
    "selector": "with views 4 or 8: what ranks their grasps: 'shipped' (fitted for the shipped model's weights;"
    " without it, the policy alone) or a file from pa-grasp-selector fit",
    "depth_twin": "with views 4 or 8: try each grasp on a physics twin built from the depth image first and take"
    " the one that lifts most often there (pa_grasp_sim.twin; imports pybullet; ~1-3 s per goal on one object)",
    "twin_workers": "with the depth twin: worker processes it runs in, each with its own physics world, trying that"
    " many grasps at once; a crash in one aborts the goal, not the node. 0: in policy_node's own process",
    "local_search": "with the depth twin: where the chosen grasp lifts in at most 3 of its 5 twin executions, try"
    " its 13 small changes there and send the best if it scores higher",
    "search_budget_s": "with the depth twin: the most seconds one image's twin search (and local search) may take;"
    " then the grasp the twin has seen lift most so far is sent (grasps it never tried: the selector's order)."
    " 0: no limit. Overrun: at most one batch of twin executions",
    "table_z_m": "height of the table top in base_frame (the depth twin's objects stand on it)",
    "refuse_empty_view": "abort a goal without moving the robot when nothing stands more than 3 mm above the"
    " table in the depth image (or the goal's roi); needs table_z_m and the camera's transform to be right",
}
READ_ONLY = frozenset(
    {
        "checkpoint",
        "depth_topic",
        "camera_info_topic",
        "execute_action",
        "seed",
        "torch_threads",
        "base_frame",
        "views",
        "selector",
        "depth_twin",
        "twin_workers",
        "local_search",
    }
)
