"""executor_node's settings (core, no ROS): one field per ROS parameter, validated here."""

from __future__ import annotations

from dataclasses import dataclass, field

from pa_grasp_description import moveit, robot
from pa_grasp_execution.plan import PlanConfig
from pa_grasp_execution.planning_scene import table_box
from pa_grasp_perception.obstacles import CollisionBox


@dataclass
class ExecutorConfig:
    execute_action: str = "pa_grasp/execute_grasp"
    base_frame: str = robot.BASE_LINK
    arm_group: str = moveit.ARM_GROUP
    hand_group: str = moveit.HAND_GROUP
    palm_link: str = robot.PALM_LINK
    pregrasp_offset_m: float = 0.05
    lift_height_m: float = 0.20
    workspace_min: list[float] = field(default_factory=lambda: [0.20, -0.50, 0.0])
    workspace_max: list[float] = field(default_factory=lambda: [0.90, 0.50, 0.80])
    max_approach_up: float = 0.1
    joint_limit_margin_rad: float = 0.02
    ik_timeout_s: float = 0.1
    free_plan_request: str = "ompl_rrtc"
    linear_plan_request: str = "pilz_lin"
    hand_trajectory_action: str = "bh280_hand_controller/follow_joint_trajectory"
    close_position_rad: float = robot.PROXIMAL_LIMIT
    close_duration_s: float = 2.0
    close_timeout_s: float = 5.0
    held_threshold_rad: float = 2.3
    held_min_fingers: int = 2
    return_home: bool = True
    home_state: str = moveit.HOME_STATE
    # The simulation's table: top at z = 0 of base_link, centred 0.40 m in front of it; x from
    # 0.12 m (clear of the TX60's base, radius 0.10 m) to 0.68 m, y over the workspace's +-0.5 m.
    table_z_m: float = 0.0
    table_center_xy_m: list[float] = field(default_factory=lambda: [0.40, 0.0])
    table_size_xy_m: list[float] = field(default_factory=lambda: [0.56, 1.0])

    def __post_init__(self):
        self.workspace_min = [float(x) for x in self.workspace_min]
        self.workspace_max = [float(x) for x in self.workspace_max]
        self.plan_config()  # validates the planning values
        for name in ("ik_timeout_s", "close_duration_s", "close_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.close_timeout_s > self.close_duration_s:
            raise ValueError(
                f"close_timeout_s ({self.close_timeout_s:g}) must exceed close_duration_s ({self.close_duration_s:g})"
            )
        if len(self.table_center_xy_m) != 2 or len(self.table_size_xy_m) != 2:
            raise ValueError("table_center_xy_m and table_size_xy_m need 2 values (x, y)")
        self.table()  # validates the table
        if not 1 <= self.held_min_fingers <= 3:
            raise ValueError(f"held_min_fingers must be 1-3, got {self.held_min_fingers}")

    def plan_config(self) -> PlanConfig:
        return PlanConfig(
            pregrasp_offset_m=self.pregrasp_offset_m,
            lift_height_m=self.lift_height_m,
            workspace_min=tuple(self.workspace_min),
            workspace_max=tuple(self.workspace_max),
            max_approach_up=self.max_approach_up,
            joint_limit_margin_rad=self.joint_limit_margin_rad,
        )

    def table(self) -> CollisionBox:
        return table_box(self.table_z_m, self.table_center_xy_m, self.table_size_xy_m)


DESCRIPTIONS = {
    "execute_action": "ExecuteGrasp action this node serves",
    "base_frame": "frame of the grasp poses (the arm's base)",
    "arm_group": "MoveIt planning group of the arm",
    "hand_group": "MoveIt planning group of the hand",
    "palm_link": "link whose pose the grasp gives",
    "pregrasp_offset_m": "default pre-grasp distance back along the approach axis",
    "lift_height_m": "default lift height",
    "workspace_min": "[x, y, z] lower corner of the box every palm pose must stay in (base frame, m)",
    "workspace_max": "[x, y, z] upper corner of that box",
    "max_approach_up": "largest upward component of the approach direction",
    "joint_limit_margin_rad": "IK solutions must stay this far inside the joint limits",
    "ik_timeout_s": "time budget of one IK query",
    "free_plan_request": "moveit_py.yaml plan request for free motions",
    "linear_plan_request": "moveit_py.yaml plan request for straight-line motions",
    "hand_trajectory_action": "control_msgs/FollowJointTrajectory action of the BH-280's joint_trajectory_controller"
    " (spread + proximal joints): the close is sent there",
    "close_position_rad": "proximal target of the close (each finger stops earlier on contact: TorqueSwitch)",
    "close_duration_s": "time the close trajectory takes from open to close_position_rad",
    "close_timeout_s": "how long closing may take before it is a failure (> close_duration_s)",
    "held_threshold_rad": "a proximal joint stopped below this after the lift is blocked by an object",
    "held_min_fingers": "blocked fingers needed to call the grasp a success",
    "return_home": "after the lift (or a failure), go back to home_state with the hand open",
    "home_state": "SRDF group state of the arm out of the camera's view",
    "table_z_m": "height of the table top in base_frame (m): the planning scene's table",
    "table_center_xy_m": "[x, y] centre of the table in base_frame (m)",
    "table_size_xy_m": "[x, y] size of the table (m); keep it clear of the robot's base",
}
READ_ONLY = frozenset(DESCRIPTIONS)
