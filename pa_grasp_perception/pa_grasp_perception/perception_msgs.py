"""Messages <-> numpy / CameraIntrinsics: the only module of this package that knows message types.

Our own replacement for cv_bridge (not available from pip) restricted to depth images, plus
geometry_msgs poses <-> 4x4 matrices (shared by the policy, sim and execution nodes).
"""

from __future__ import annotations

import array

import numpy as np
from geometry_msgs.msg import Pose, PoseStamped, TransformStamped
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.depth import canonical_encoding, decode_depth, encode_depth
from pa_grasp_perception.grasp_geometry import check_pose, pose_matrix, pose_to_xyz_quat


def from_image_msg(msg: Image) -> np.ndarray:
    """Depth image message (16UC1 / mono16 / 32FC1) -> float32 metres, NaN = invalid.

    Raises :class:`~pa_grasp_perception.depth.DepthFormatError` for anything else.
    """
    return decode_depth(msg.data, msg.width, msg.height, msg.step, msg.encoding, msg.is_bigendian)


def to_image_msg(depth_m: np.ndarray, header: Header | None = None, encoding: str = "32FC1") -> Image:
    """float32 metres (NaN = invalid) -> Image in ``encoding`` (32FC1: NaN; 16UC1: 0 mm for invalid)."""
    data, step = encode_depth(depth_m, encoding)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = (int(n) for n in np.shape(depth_m))
    msg.encoding = canonical_encoding(encoding)
    msg.is_bigendian = 0
    msg.step = step
    buffer = array.array("B")
    buffer.frombytes(data)  # an array.array is taken as is: no per-element type check
    msg.data = buffer
    return msg


def from_camera_info_msg(msg: CameraInfo) -> CameraIntrinsics:
    """Intrinsics of the image that goes with ``msg``.

    fx = P[0], cx = P[2], fy = P[5], cy = P[6]; K is used when P is not set (all zero).
    A region of interest and binning (REP 104) are applied, so the result matches the
    published image size. Raises ValueError, naming the value, when neither P nor K holds a
    camera, when D is not finite or when the camera is implausible, before and after the ROI
    (CameraIntrinsics.check_plausible).
    """
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        raise ValueError(f"camera_info has an empty image size {width}x{height}")
    p = np.asarray(msg.p, dtype=float)
    k = np.asarray(msg.k, dtype=float)
    if p.size == 12 and p[0] > 0 and p[5] > 0:
        intrinsics = CameraIntrinsics.from_projection(width, height, p)
    elif k.size == 9 and k[0] > 0 and k[4] > 0:
        intrinsics = CameraIntrinsics(width, height, float(k[0]), float(k[4]), float(k[2]), float(k[5]))
    else:
        raise ValueError("camera_info holds no camera: P and K have no positive focal lengths (uncalibrated?)")
    intrinsics.check_plausible()
    if not np.all(np.isfinite(np.asarray(msg.d, dtype=float))):
        raise ValueError(f"camera_info distortion D is not finite: {list(msg.d)}")

    roi = msg.roi
    if roi.width > 0 and roi.height > 0 and (roi.width, roi.height) != (width, height):
        intrinsics = intrinsics.cropped(roi.x_offset, roi.y_offset, roi.width, roi.height)
    bx, by = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    if bx > 1 or by > 1:
        intrinsics = intrinsics.resized(intrinsics.width // bx, intrinsics.height // by)
    return intrinsics.check_plausible()


def to_camera_info_msg(
    intrinsics: CameraIntrinsics,
    header: Header | None = None,
    distortion_model: str = "plumb_bob",
    d: list[float] | np.ndarray | None = None,
) -> CameraInfo:
    """CameraInfo of an image with these intrinsics (no ROI, no binning, R = identity).

    ``d`` defaults to zero distortion; pass the source camera's model and D through when the
    image was only cropped/resized (D is in normalised coordinates, valid for the new K).
    """
    msg = CameraInfo()
    if header is not None:
        msg.header = header
    msg.width, msg.height = intrinsics.width, intrinsics.height
    msg.distortion_model = distortion_model
    msg.d = [float(x) for x in (d if d is not None else [0.0] * 5)]
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [float(x) for x in intrinsics.projection().ravel()]
    return msg


def to_pose_msg(T: np.ndarray) -> Pose:
    """4x4 pose -> geometry_msgs/Pose (quaternion x, y, z, w)."""
    x, y, z, qx, qy, qz, qw = pose_to_xyz_quat(check_pose(T))
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = x, y, z
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = qx, qy, qz, qw
    return msg


def to_pose_stamped_msg(T: np.ndarray, header: Header) -> PoseStamped:
    return PoseStamped(header=header, pose=to_pose_msg(T))


def from_pose_msg(msg: Pose) -> np.ndarray:
    """geometry_msgs/Pose -> 4x4 pose; ValueError for non-finite values or a quaternion that is not
    unit length (grasp_geometry.pose_matrix)."""
    p, q = msg.position, msg.orientation
    return pose_matrix([p.x, p.y, p.z], [q.x, q.y, q.z, q.w])


def to_transform_stamped_msg(T_parent_child: np.ndarray, parent: str, child: str, stamp=None) -> TransformStamped:
    """4x4 T_parent_child -> geometry_msgs/TransformStamped (header.frame_id = parent; stamp None = 0)."""
    x, y, z, qx, qy, qz, qw = pose_to_xyz_quat(check_pose(T_parent_child))
    msg = TransformStamped()
    msg.header.frame_id, msg.child_frame_id = parent, child
    if stamp is not None:
        msg.header.stamp = stamp
    t, r = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = x, y, z
    r.x, r.y, r.z, r.w = qx, qy, qz, qw
    return msg


def from_transform_msg(msg) -> np.ndarray:
    """geometry_msgs/Transform -> 4x4; ValueError like :func:`from_pose_msg`."""
    t, r = msg.translation, msg.rotation
    return pose_matrix([t.x, t.y, t.z], [r.x, r.y, r.z, r.w])
