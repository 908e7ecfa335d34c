"""Topic names and frame formats of common Kinect-class depth drivers (core: plain data, no ROS).

``kinect_node`` subscribes to ``DRIVER_PRESETS[driver]`` unless ``depth_topic`` /
``camera_info_topic`` are given explicitly. Each preset is a named tuple whose first two
entries are (depth topic, camera_info topic), so ``depth, info = DRIVER_PRESETS["freenect"][:2]``
works. ``encoding`` and ``size`` say what the driver publishes by default; they are
informative only: every supported encoding is decoded whatever the preset says.
"""

from __future__ import annotations

from typing import NamedTuple


class DriverPreset(NamedTuple):
    depth_topic: str
    camera_info_topic: str
    encoding: str  # what the driver publishes on depth_topic by default
    size: tuple[int, int]  # (width, height) by default
    description: str


DRIVER_PRESETS: dict[str, DriverPreset] = {
    # Kinect v1 through libfreenect (freenect_camera / freenect_launch, ROS 2 ports); the
    # default of kinect_node. depth/image is the 32FC1 variant of the same stream.
    "freenect": DriverPreset(
        "camera/depth/image_raw", "camera/depth/camera_info", "16UC1", (640, 480), "Kinect v1 (libfreenect)"
    ),
    "freenect_registered": DriverPreset(
        "camera/depth_registered/image_raw",
        "camera/depth_registered/camera_info",
        "16UC1",
        (640, 480),
        "Kinect v1 (libfreenect), depth registered to the RGB camera",
    ),
    # Kinect v2 through iai_kinect2's kinect2_bridge: sd = native depth resolution.
    "kinect2_bridge": DriverPreset(
        "kinect2/sd/image_depth_rect", "kinect2/sd/camera_info", "16UC1", (512, 424), "Kinect v2, sd (native depth)"
    ),
    "kinect2_bridge_qhd": DriverPreset(
        "kinect2/qhd/image_depth_rect",
        "kinect2/qhd/camera_info",
        "16UC1",
        (960, 540),
        "Kinect v2, qhd (depth registered to the colour camera)",
    ),
    # Azure Kinect ROS driver, NFOV unbinned by default (other depth modes change the size).
    "azure_kinect": DriverPreset(
        "depth/image_raw", "depth/camera_info", "16UC1", (640, 576), "Azure Kinect (Azure_Kinect_ROS_Driver)"
    ),
}


def resolve_topics(driver: str, depth_topic: str = "", camera_info_topic: str = "") -> tuple[str, str]:
    """(depth topic, camera_info topic): explicit names win; the preset fills what is left empty."""
    if depth_topic and camera_info_topic:
        return depth_topic, camera_info_topic
    preset = DRIVER_PRESETS.get(driver)
    if preset is None:
        raise ValueError(
            f"unknown depth driver {driver!r}: use one of {', '.join(sorted(DRIVER_PRESETS))}"
            " or set depth_topic and camera_info_topic explicitly"
        )
    return depth_topic or preset.depth_topic, camera_info_topic or preset.camera_info_topic
