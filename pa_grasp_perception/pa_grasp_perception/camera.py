"""Pinhole camera geometry: intrinsics, pixel <-> 3D point in the camera optical frame.

Optical frame convention (REP 103): x right, y down, z forward (along the viewing ray).
Pixels are (u, v) = (column, row); pixel centres sit at integer coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# What a real depth camera's image can subtend (check_plausible): from a small crop of a
# telephoto view to a fisheye.
MIN_FOV_DEG, MAX_FOV_DEG = 0.1, 170.0


@dataclass(frozen=True)
class CameraIntrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if not all(math.isfinite(x) for x in (self.fx, self.fy, self.cx, self.cy)):
            raise ValueError(f"intrinsics must be finite, got fx={self.fx} fy={self.fy} cx={self.cx} cy={self.cy}")
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.fx} fy={self.fy}")

    def check_plausible(self) -> CameraIntrinsics:
        """These intrinsics, or ValueError naming the value, unless a real camera could have taken
        this image looking at the table: each axis subtends MIN_FOV_DEG..MAX_FOV_DEG and the
        principal point lies inside the image (a crop far off the optical axis is not the view
        the policy was trained on either)."""
        for axis, size, f, c in (("x", self.width, self.fx, self.cx), ("y", self.height, self.fy, self.cy)):
            if not -0.5 <= c <= size - 0.5:
                raise ValueError(f"c{axis}={c:g} px is outside the {size}-px image")
            fov = math.degrees(math.atan2(size - 0.5 - c, f) - math.atan2(-0.5 - c, f))
            if not MIN_FOV_DEG <= fov <= MAX_FOV_DEG:
                raise ValueError(
                    f"f{axis}={f:g} px gives the {size}-px image a field of view of {fov:.3g} deg"
                    f" (a camera has {MIN_FOV_DEG:g}-{MAX_FOV_DEG:g})"
                )
        return self

    @classmethod
    def from_fov(cls, width: int, height: int, fov_y_deg: float) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, vertical field of view."""
        fy = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        return cls(width, height, fy, fy, (width - 1) / 2, (height - 1) / 2)

    @classmethod
    def from_projection(cls, width: int, height: int, p: list[float] | np.ndarray) -> CameraIntrinsics:
        """From a ROS CameraInfo.p (3x4, row-major): fx = P[0], cx = P[2], fy = P[5], cy = P[6]."""
        p = np.asarray(p, dtype=float).ravel()
        if p.size != 12:
            raise ValueError(f"projection matrix must have 12 entries, got {p.size}")
        return cls(int(width), int(height), float(p[0]), float(p[5]), float(p[2]), float(p[6]))

    @property
    def fov_y_deg(self) -> float:
        return math.degrees(2 * math.atan(0.5 * self.height / self.fy))

    def projection(self) -> np.ndarray:
        """The 3x4 projection matrix P of CameraInfo (no stereo baseline)."""
        return np.array([[self.fx, 0, self.cx, 0], [0, self.fy, self.cy, 0], [0, 0, 1, 0]], dtype=float)

    def contains(self, u: float, v: float) -> bool:
        return 0 <= u <= self.width - 1 and 0 <= v <= self.height - 1

    def pixel_to_point(self, u: float, v: float, depth: float) -> np.ndarray:
        """Back-project pixel (u, v) with depth (m, along z) to a 3D point in the optical frame."""
        if not self.contains(u, v):
            raise ValueError(f"pixel ({u:.1f}, {v:.1f}) is outside the {self.width}x{self.height} image")
        if not (np.isfinite(depth) and depth > 0):
            raise ValueError(f"depth at pixel ({u:.1f}, {v:.1f}) is invalid ({depth})")
        return np.array([(u - self.cx) * depth / self.fx, (v - self.cy) * depth / self.fy, depth], dtype=float)

    def point_to_pixel(self, point: np.ndarray) -> tuple[float, float]:
        """Project a 3D point in the optical frame to (u, v)."""
        x, y, z = np.asarray(point, dtype=float)
        if z <= 0:
            raise ValueError(f"point is behind the camera (z={z})")
        return self.fx * x / z + self.cx, self.fy * y / z + self.cy

    def points_from_depth(self, depth: np.ndarray) -> np.ndarray:
        """Organised point cloud (H, W, 3) from a depth image in metres; NaN stays NaN."""
        if depth.shape != (self.height, self.width):
            raise ValueError(f"depth shape {depth.shape} does not match intrinsics {self.height}x{self.width}")
        v, u = np.mgrid[0 : self.height, 0 : self.width]
        z = depth.astype(np.float64)
        return np.stack([(u - self.cx) * z / self.fx, (v - self.cy) * z / self.fy, z], axis=-1)

    def cropped(self, x0: float, y0: float, width: int, height: int) -> CameraIntrinsics:
        """Intrinsics of a crop whose top-left pixel is (x0, y0) of this image."""
        return CameraIntrinsics(width, height, self.fx, self.fy, self.cx - x0, self.cy - y0)

    def resized(self, width: int, height: int) -> CameraIntrinsics:
        """Intrinsics after resizing the whole image to width x height (pixel-centre aligned)."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(
            width, height, self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5
        )
