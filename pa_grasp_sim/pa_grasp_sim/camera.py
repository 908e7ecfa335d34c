"""A Kinect-like depth camera in PyBullet: pinhole intrinsics, top-down or tilted pose, metric
depth as a driver would deliver it, and an optional sensor noise model for sim-to-real.

Noise model (all optional, seeded by the caller's generator):
- axial noise growing with range, sigma(z) = 1.2 mm + 1.9 mm * (z - 0.4 m)^2 (Kinect v1, Nguyen
  et al. 2012);
- missing pixels at depth discontinuities (the projector/camera shadow of a structured-light
  sensor) and a small rate of random dropouts;
- quantisation to millimetres happens where a driver does it: when encoding 16UC1;
- camera-pose jitter, drawn once per scene (a camera that was bumped, a calibration error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.depth import encode_depth


@dataclass
class CameraConfig:
    width: int = 160
    height: int = 160
    fov_y_deg: float = 43.0  # Kinect v1 vertical field of view
    distance_m: float = 0.75  # from the camera to the workspace centre on the table
    view_angle_deg: float = 90.0  # optical axis vs the table plane: 90 = top-down, 60 = tilted
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    near_m: float = 0.1
    far_m: float = 2.0
    noise: bool = False
    edge_dropout_m: float = 0.02  # depth jump that counts as an edge
    edge_dropout_prob: float = 0.5
    random_dropout_prob: float = 0.002
    pose_jitter_m: float = 0.0
    pose_jitter_deg: float = 0.0

    def check(self) -> None:
        """ValueError naming the first setting a camera cannot be built with. GraspWorld calls it
        before connecting, not __post_init__: callers adjust a default config in place (--camera-angle)."""
        if not 0.0 < self.view_angle_deg <= 90.0:
            angle = self.view_angle_deg
            raise ValueError(f"camera view angle must be in (0, 90] degrees (90 = top-down), got {angle:g}")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"camera image must be at least 1x1 pixels, got {self.width}x{self.height}")
        if not 0.0 < self.fov_y_deg < 180.0:
            raise ValueError(f"camera vertical field of view must be in (0, 180) degrees, got {self.fov_y_deg:g}")
        if not 0.0 < self.near_m < self.distance_m < self.far_m:
            raise ValueError(
                f"camera needs 0 < near ({self.near_m:g} m) < distance to the table ({self.distance_m:g} m) < far"
                f" ({self.far_m:g} m)"
            )

    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics.from_fov(self.width, self.height, self.fov_y_deg)


def camera_pose(config: CameraConfig, rng: np.random.Generator | None = None) -> np.ndarray:
    """T_world_camera (4x4) of the optical frame (z forward, y down), jitter applied if asked."""
    a = np.radians(config.view_angle_deg)
    target = np.asarray(config.target, dtype=float)
    # The camera sits on the -x side when tilted, looking toward +x and down.
    eye = target + config.distance_m * np.array([-np.cos(a), 0.0, np.sin(a)])
    z = (target - eye) / np.linalg.norm(target - eye)
    up_hint = np.array([1.0, 0.0, 0.0]) if config.view_angle_deg > 89.9 else np.array([0.0, 0.0, 1.0])
    y = -(up_hint - np.dot(up_hint, z) * z)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    T = np.eye(4)
    T[:3, :3] = np.column_stack([x, y, z])
    T[:3, 3] = eye
    if rng is not None and (config.pose_jitter_m > 0 or config.pose_jitter_deg > 0):
        T[:3, 3] += rng.normal(0.0, config.pose_jitter_m, size=3)
        jitter = Rotation.from_rotvec(np.radians(rng.normal(0.0, config.pose_jitter_deg, size=3)))
        T[:3, :3] = jitter.as_matrix() @ T[:3, :3]
    return T


def _view_matrix(T_world_camera: np.ndarray) -> list[float]:
    """OpenGL view matrix (column-major) for an optical frame: OpenGL looks along -z, y up."""
    T_gl_optical = np.diag([1.0, -1.0, -1.0, 1.0])
    T_camera_world = np.linalg.inv(T_world_camera)
    view = T_gl_optical @ T_camera_world
    return view.T.reshape(-1).tolist()


def _projection_matrix(intr: CameraIntrinsics, near: float, far: float) -> list[float]:
    """OpenGL projection from pinhole intrinsics (column-major)."""
    w, h = intr.width, intr.height
    # The intrinsics put pixel (u, v)'s centre at (u, v), so the image spans [-0.5, w - 0.5]. But
    # TinyRenderer samples pixel i at window coordinate i, not i + 0.5, with rows counted from the
    # bottom: with that span the rendered scene sat half a pixel off its intrinsics in u and v
    # (1.8 mm on the table; found 2026-12-06, test_rendered_objects_deproject_to_where_they_are).
    # Spanning [0, w] in u and [-1, h - 1] in v puts every sample on its pixel's centre.
    left = -intr.cx * near / intr.fx
    right = (w - intr.cx) * near / intr.fx
    top = (intr.cy + 1.0) * near / intr.fy
    bottom = -(h - 1.0 - intr.cy) * near / intr.fy
    P = np.array(
        [
            [2 * near / (right - left), 0, (right + left) / (right - left), 0],
            [0, 2 * near / (top - bottom), (top + bottom) / (top - bottom), 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0],
        ]
    )
    return P.T.reshape(-1).tolist()


class DepthCamera:
    """Renders metric depth (float32, metres, NaN = no return) from one physics client."""

    def __init__(self, client, config: CameraConfig):
        self.client = client
        self.config = config
        self.intrinsics = config.intrinsics()
        self._projection = _projection_matrix(self.intrinsics, config.near_m, config.far_m)
        self.set_pose(camera_pose(config))

    def set_pose(self, T_world_camera: np.ndarray) -> None:
        self.T_world_camera = np.asarray(T_world_camera, dtype=float)
        self._view = _view_matrix(self.T_world_camera)

    def jitter_pose(self, rng: np.random.Generator) -> None:
        self.set_pose(camera_pose(self.config, rng))

    def render(self, rng: np.random.Generator | None = None, segmentation: bool = False):
        """Depth in metres (H, W) float32; with segmentation=True also the body-id mask."""
        cfg = self.config
        flags = 0 if segmentation else self.client.ER_NO_SEGMENTATION_MASK
        _, _, _, zbuf, seg = self.client.getCameraImage(
            cfg.width,
            cfg.height,
            self._view,
            self._projection,
            renderer=self.client.ER_TINY_RENDERER,
            flags=flags,
        )
        zbuf = np.asarray(zbuf, dtype=np.float64).reshape(cfg.height, cfg.width)
        depth = cfg.far_m * cfg.near_m / (cfg.far_m - (cfg.far_m - cfg.near_m) * zbuf)
        depth[zbuf >= 1.0] = np.nan  # nothing hit within range
        depth = depth.astype(np.float32)
        if cfg.noise and rng is not None:
            depth = apply_depth_noise(depth, cfg, rng)
        if segmentation:
            return depth, np.asarray(seg, dtype=np.int32).reshape(cfg.height, cfg.width)
        return depth

    def render_driver_frame(self, encoding: str = "16UC1", rng: np.random.Generator | None = None):
        """One frame as a Kinect driver publishes it: (data bytes, step, encoding). 16UC1 is
        millimetres with 0 = no return (this is where the quantisation happens); 32FC1 metres
        with NaN."""
        data, step = encode_depth(self.render(rng), encoding)
        return data, step, encoding

    def pixel_to_world(self, u: float, v: float, depth: float) -> np.ndarray:
        p_camera = self.intrinsics.pixel_to_point(u, v, depth)
        return self.T_world_camera[:3, :3] @ p_camera + self.T_world_camera[:3, 3]


def apply_depth_noise(depth: np.ndarray, cfg: CameraConfig, rng: np.random.Generator) -> np.ndarray:
    out = depth.copy()
    valid = np.isfinite(out)
    z = np.where(valid, out, 0.0)
    sigma = 0.0012 + 0.0019 * np.square(np.maximum(z - 0.4, 0.0))
    out = np.where(valid, z + rng.normal(size=z.shape) * sigma, np.nan).astype(np.float32)
    # Shadows at depth discontinuities: drop pixels next to a large jump.
    filled = np.where(valid, depth, cfg.far_m)
    jump = np.zeros_like(filled, dtype=bool)
    jump[:, 1:] |= np.abs(np.diff(filled, axis=1)) > cfg.edge_dropout_m
    jump[1:, :] |= np.abs(np.diff(filled, axis=0)) > cfg.edge_dropout_m
    drop = (jump & (rng.random(jump.shape) < cfg.edge_dropout_prob)) | (
        rng.random(jump.shape) < cfg.random_dropout_prob
    )
    out[drop] = np.nan
    return out
