"""sim_bridge_node's settings (core, no ROS): one field per ROS parameter, validated here."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pa_grasp_perception.drivers import DRIVER_PRESETS
from pa_grasp_perception.grasp_geometry import pose_from_xyz_quat

SCENES = ("single", "cluttered")
_FREENECT = DRIVER_PRESETS["freenect"]


@dataclass
class SimBridgeConfig:
    mode: str = "arm"
    object_set: str = "seen"
    scene: str = "cluttered"
    object_count: int = 5
    seed: int = 0
    new_scene_when_cleared: bool = True
    new_scene_after_failures: int = 4
    publish_rate_hz: float = 10.0
    joint_state_rate_hz: float = 10.0
    depth_topic: str = _FREENECT.depth_topic
    camera_info_topic: str = _FREENECT.camera_info_topic
    camera_frame: str = "camera_depth_optical_frame"
    base_frame: str = "base_link"
    camera_pose_xyz_quat: list[float] = field(default_factory=lambda: [0.0] * 7)
    camera_noise: bool = False
    camera_px: int = 160
    execute_action: str = "pa_grasp/execute_grasp"
    reset_service: str = "pa_grasp/reset_scene"

    def __post_init__(self):
        if self.mode not in ("arm", "floating"):
            raise ValueError(f"mode must be 'arm' or 'floating', got {self.mode!r}")
        if self.scene not in SCENES:
            raise ValueError(f"scene must be one of {SCENES}, got {self.scene!r}")
        if not 2 <= self.object_count <= 30:
            raise ValueError(f"object_count (objects of a cluttered scene) must be in [2, 30], got {self.object_count}")
        if self.new_scene_after_failures < 0:
            raise ValueError(f"new_scene_after_failures must be >= 0 (0 = never), got {self.new_scene_after_failures}")
        for name in ("publish_rate_hz", "joint_state_rate_hz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.camera_px < 32:
            raise ValueError(f"camera_px (side of the square depth image) must be at least 32, got {self.camera_px}")
        self.camera_pose_xyz_quat = [float(x) for x in self.camera_pose_xyz_quat]
        if len(self.camera_pose_xyz_quat) != 7:
            raise ValueError(f"camera_pose_xyz_quat must have 7 numbers, got {self.camera_pose_xyz_quat}")
        if self.T_base_camera is not None:
            try:
                pose_from_xyz_quat(self.camera_pose_xyz_quat)
            except ValueError as exc:
                raise ValueError(f"camera_pose_xyz_quat: {exc}") from None

    @property
    def T_base_camera(self) -> np.ndarray | None:
        """The configured camera pose in base_frame; None (all zeros) = the simulator's default camera."""
        if not any(self.camera_pose_xyz_quat):
            return None
        return pose_from_xyz_quat(self.camera_pose_xyz_quat)


DESCRIPTIONS = {
    "mode": "arm (TX60 + BH-280, IK, reachability) or floating (hand only, fast)",
    "object_set": "seen, novel, or a directory of .urdf/.obj files",
    "scene": "kind of the scenes the bridge builds: single or cluttered",
    "object_count": "objects of a cluttered scene (2-30)",
    "seed": "seed of the scene sequence; negative = random",
    "new_scene_when_cleared": "build a new scene when the last object was picked",
    "new_scene_after_failures": "build a new scene after this many failed executions in a row on one scene (a"
    " deterministic policy repeats a failing grasp on an unchanged scene for ever; the clutter-clearing protocol"
    " ends a round likewise); 0 = never",
    "publish_rate_hz": "rate of the raw depth + camera_info (like a camera driver)",
    "joint_state_rate_hz": "rate of /joint_states",
    "depth_topic": "raw depth topic (16UC1 millimetres, as the freenect driver)",
    "camera_info_topic": "camera_info of the raw depth",
    "camera_frame": "frame_id of the depth images (the camera optical frame)",
    "base_frame": "robot base frame of the ExecuteGrasp poses",
    "camera_pose_xyz_quat": "camera optical frame in base_frame [x, y, z, qx, qy, qz, qw]; all zero = the sim default",
    "camera_noise": "Kinect-like depth noise and dropouts",
    "camera_px": "side of the square depth image (the camera a model was trained with: pa-grasp-train --camera-px)",
    "execute_action": "ExecuteGrasp action served in simulation",
    "reset_service": "ResetScene service",
}
READ_ONLY = frozenset(DESCRIPTIONS)
