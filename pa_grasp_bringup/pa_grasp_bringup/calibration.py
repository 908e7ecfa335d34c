"""The camera calibration file (config/camera_calibration.yaml): T_base_camera, read and checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from pa_grasp_perception.grasp_geometry import pose_matrix


class CalibrationError(ValueError):
    """The calibration file is missing, malformed, or not a rigid transform."""


@dataclass(frozen=True)
class CameraCalibration:
    parent_frame: str
    child_frame: str
    translation_xyz_m: tuple[float, float, float]
    rotation_xyzw: tuple[float, float, float, float]

    @property
    def T_parent_child(self) -> np.ndarray:
        return pose_matrix(self.translation_xyz_m, self.rotation_xyzw)

    def static_transform_publisher_arguments(self) -> list[str]:
        """Arguments of tf2_ros' static_transform_publisher publishing this transform."""
        x, y, z = self.translation_xyz_m
        qx, qy, qz, qw = self.rotation_xyzw
        values = {"x": x, "y": y, "z": z, "qx": qx, "qy": qy, "qz": qz, "qw": qw}
        args = [part for key, value in values.items() for part in (f"--{key}", repr(float(value)))]
        return args + ["--frame-id", self.parent_frame, "--child-frame-id", self.child_frame]


def load_camera_calibration(path: str | Path) -> CameraCalibration:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationError(f"cannot read the camera calibration {path}: {exc}") from None
    keys = ("parent_frame", "child_frame", "translation_xyz_m", "rotation_xyzw")
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise CalibrationError(f"{path}: a camera calibration needs the keys {', '.join(keys)}")
    try:
        xyz = tuple(float(v) for v in data["translation_xyz_m"])
        quat = tuple(float(v) for v in data["rotation_xyzw"])
        if len(xyz) != 3:
            raise ValueError(f"translation_xyz_m must be 3 numbers, got {data['translation_xyz_m']}")
        pose_matrix(xyz, quat)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: {exc}") from None
    parent, child = str(data["parent_frame"]).strip(), str(data["child_frame"]).strip()
    if not parent or not child or parent == child:
        raise CalibrationError(f"{path}: parent_frame and child_frame must be two different non-empty names")
    return CameraCalibration(parent, child, xyz, quat)
