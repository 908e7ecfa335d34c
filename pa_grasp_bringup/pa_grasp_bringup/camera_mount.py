"""camera_mount_node: the camera's calibrated pose on ``tf_static`` (a static transform publisher
that reads the calibration file, config/camera_calibration.yaml).

    ros2 run pa_grasp_bringup camera_mount_node --ros-args -p calibration_file:=/path/to/mine.yaml

A user with a hand-eye result edits that one file; policy_node finds the camera through TF.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rclpy.node import Node

from pa_grasp_bringup.calibration import load_camera_calibration
from pa_grasp_bringup.stack import config_dir
from pa_grasp_perception.node_main import run_node
from pa_grasp_perception.ros_parameters import declare_config
from pa_grasp_perception.transforms import publish_static_transforms

DEFAULT_CALIBRATION = "camera_calibration.yaml"


@dataclass
class CameraMountConfig:
    calibration_file: str = ""  # empty = the shipped config/camera_calibration.yaml


DESCRIPTIONS = {
    "calibration_file": "camera calibration YAML (parent_frame, child_frame, translation_xyz_m, rotation_xyzw);"
    " empty = pa_grasp_bringup's config/camera_calibration.yaml"
}


class CameraMountNode(Node):
    def __init__(self, node_name: str = "camera_mount_node", **kwargs):
        super().__init__(node_name, **kwargs)
        config = declare_config(self, CameraMountConfig, DESCRIPTIONS, frozenset(DESCRIPTIONS))
        path = config.calibration_file or str(config_dir() / DEFAULT_CALIBRATION)
        calibration = load_camera_calibration(path)
        self._publisher = publish_static_transforms(
            self, [(calibration.parent_frame, calibration.child_frame, calibration.T_parent_child)]
        )
        x, y, z = calibration.translation_xyz_m
        self.get_logger().info(
            f"{calibration.parent_frame} -> {calibration.child_frame} on tf_static from {path}:"
            f" ({x:.3f}, {y:.3f}, {z:.3f}) m"
        )


def main(args=None) -> int:
    return run_node(CameraMountNode, "camera_mount_node", args)


if __name__ == "__main__":
    sys.exit(main())
