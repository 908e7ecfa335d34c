"""Depth conditioning (core: numpy + OpenCV, no ROS): range gating, workspace crop, hole filling,
resize, with the camera intrinsics kept consistent with the pixels.

Pipeline of :func:`condition_depth` (input: float32 metres, NaN = invalid, e.g. from
:func:`pa_grasp_perception.depth.decode_depth`):

1. **Workspace crop** ``(x0, y0, w, h)`` in input pixels; intrinsics shift the principal point.
2. **Range gate**: depth outside ``[min_range_m, max_range_m]`` (and NaN/inf) becomes NaN.
3. **Validity check**: fewer than ``min_valid_fraction`` valid pixels (or none at all) raises
   :class:`~pa_grasp_perception.depth.EmptyDepthError` (a ``DepthFormatError``).
4. **Hole filling** (``hole_fill``): every invalid pixel takes the depth of its nearest valid
   pixel (Euclidean distance transform with labels), so edges stay sharp and no depth is
   invented between surfaces. Only *small* holes are filled: a hole (8-connected NaN region)
   is filled when each of its pixels is within ``hole_fill_max_px`` of a valid pixel, i.e. holes
   up to about ``2 * hole_fill_max_px`` pixels across (Kinect shadows beside object edges,
   speckle, thin specular streaks). Bigger holes stay NaN *entirely* (no half-filled blobs):
   downstream code sees that nothing was measured there. ``hole_fill_max_px = 0`` fills every
   hole. Distances are measured in pixels of the cropped, not yet resized image.
5. **Resize** to ``output_size`` ``(w, h)``: nearest-neighbour with pixel-centre alignment
   (``INTER_NEAREST_EXACT``, matches :meth:`CameraIntrinsics.resized`) by default, so no depth is
   averaged across an object edge ("flying pixels"); ``"area"`` averages the valid pixels of each
   output pixel (smoother, NaN where less than half the footprint is valid).

Cost at 640x480 (shared 2-core machine): 3-6 ms with 5-23 % holes, 0.3-0.6 ms without hole
filling; the label distance transform dominates (see ``test_conditioning.py::test_conditioning_is_fast``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pa_grasp_perception.camera import CameraIntrinsics
from pa_grasp_perception.depth import DepthFormatError, EmptyDepthError

RESIZE_INTERPOLATIONS = ("nearest", "area")


@dataclass
class DepthConditioningConfig:
    """Defaults suit Kinect-class sensors (Kinect v1 0.4-4 m; Kinect v2 / Azure Kinect NFOV ~0.5-4 m)."""

    min_range_m: float = 0.4
    max_range_m: float = 4.0
    hole_fill: bool = True
    # Holes whose pixels are all within this distance (px) of a valid pixel are filled; 0 = fill all.
    hole_fill_max_px: int = 10
    # (x0, y0, width, height) in input pixels; None = whole image.
    workspace_crop: tuple[int, int, int, int] | None = None
    # (width, height) of the output; None = keep the (cropped) size.
    output_size: tuple[int, int] | None = None
    # Frames with fewer valid pixels than this fraction (after range gate, before filling) are rejected.
    min_valid_fraction: float = 0.05
    resize_interpolation: str = "nearest"

    def __post_init__(self):
        self.min_range_m = float(self.min_range_m)
        self.max_range_m = float(self.max_range_m)
        if not (0.0 <= self.min_range_m < self.max_range_m):
            raise ValueError(
                f"need 0 <= min_range_m < max_range_m, got min_range_m={self.min_range_m}"
                f" max_range_m={self.max_range_m}"
            )
        self.hole_fill = bool(self.hole_fill)
        if int(self.hole_fill_max_px) != self.hole_fill_max_px or self.hole_fill_max_px < 0:
            raise ValueError(f"hole_fill_max_px must be an integer >= 0, got {self.hole_fill_max_px}")
        self.hole_fill_max_px = int(self.hole_fill_max_px)
        if self.workspace_crop is not None:
            crop = tuple(int(c) for c in self.workspace_crop)
            if len(crop) != 4 or crop[0] < 0 or crop[1] < 0 or crop[2] <= 0 or crop[3] <= 0:
                raise ValueError(
                    f"workspace_crop must be (x0 >= 0, y0 >= 0, width > 0, height > 0), got {self.workspace_crop}"
                )
            self.workspace_crop = crop
        if self.output_size is not None:
            size = tuple(int(s) for s in self.output_size)
            if len(size) != 2 or size[0] <= 0 or size[1] <= 0:
                raise ValueError(f"output_size must be (width > 0, height > 0), got {self.output_size}")
            self.output_size = size
        self.min_valid_fraction = float(self.min_valid_fraction)
        if not (0.0 <= self.min_valid_fraction <= 1.0):
            raise ValueError(f"min_valid_fraction must be in [0, 1], got {self.min_valid_fraction}")
        if self.resize_interpolation not in RESIZE_INTERPOLATIONS:
            raise ValueError(
                f"resize_interpolation must be one of {RESIZE_INTERPOLATIONS}, got {self.resize_interpolation!r}"
            )


def condition_depth(
    depth_m: np.ndarray, intrinsics: CameraIntrinsics, config: DepthConditioningConfig | None = None
) -> tuple[np.ndarray, CameraIntrinsics]:
    """Condition a depth image (metres, NaN = invalid); returns (float32 depth, matching intrinsics).

    The input is not modified. Raises :class:`DepthFormatError` when the image does not match
    the intrinsics or the crop does not fit, :class:`EmptyDepthError` when too few pixels are valid.
    """
    config = config or DepthConditioningConfig()
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or depth.shape != (intrinsics.height, intrinsics.width):
        raise DepthFormatError(
            f"depth image of shape {depth.shape} does not match the {intrinsics.width}x{intrinsics.height}"
            " camera intrinsics"
        )

    if config.workspace_crop is not None:
        x0, y0, w, h = config.workspace_crop
        if x0 + w > intrinsics.width or y0 + h > intrinsics.height:
            raise DepthFormatError(
                f"workspace_crop (x0={x0}, y0={y0}, w={w}, h={h}) does not fit in the"
                f" {intrinsics.width}x{intrinsics.height} depth image"
            )
        depth = depth[y0 : y0 + h, x0 : x0 + w]
        intrinsics = intrinsics.cropped(x0, y0, w, h)

    depth = depth.astype(np.float32)  # always a fresh copy: the caller's array stays untouched
    with np.errstate(invalid="ignore"):
        invalid = ~((depth >= config.min_range_m) & (depth <= config.max_range_m))
    depth[invalid] = np.nan

    n_valid = invalid.size - int(np.count_nonzero(invalid))
    if n_valid == 0 or n_valid < config.min_valid_fraction * invalid.size:
        raise EmptyDepthError(
            f"only {n_valid} of {invalid.size} pixels ({100.0 * n_valid / invalid.size:.1f}%) hold a valid depth"
            f" in [{config.min_range_m:g}, {config.max_range_m:g}] m"
            f" (min_valid_fraction={config.min_valid_fraction:g})"
        )

    if config.hole_fill and n_valid < invalid.size:
        depth = fill_holes(depth, config.hole_fill_max_px, invalid=invalid)

    if config.output_size is not None and config.output_size != (intrinsics.width, intrinsics.height):
        depth = resize_depth(depth, config.output_size, config.resize_interpolation)
        intrinsics = intrinsics.resized(*config.output_size)

    return np.ascontiguousarray(depth, dtype=np.float32), intrinsics


def fill_holes(depth_m: np.ndarray, max_px: int = 0, *, invalid: np.ndarray | None = None) -> np.ndarray:
    """Fill NaN holes from the nearest valid pixel; holes reaching further than ``max_px`` from any
    valid pixel stay NaN as a whole (``max_px = 0``: fill everything). Returns a new float32 array."""
    depth = np.asarray(depth_m, dtype=np.float32)
    if invalid is None:
        invalid = np.isnan(depth)
    out = depth.copy()
    if not invalid.any() or invalid.all():
        return out
    holes = invalid.view(np.uint8) if invalid.dtype == np.bool_ else invalid.astype(np.uint8)
    holes = np.ascontiguousarray(holes)
    # For every pixel: distance to, and label of, the nearest zero (= valid) pixel. With
    # DIST_LABEL_PIXEL the valid pixels are labelled 1..n in row-major order.
    dist, labels = cv2.distanceTransformWithLabels(holes, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL)
    # Work on the hole pixels only (flat indices): usually a small part of the image.
    hole_idx = np.flatnonzero(invalid)
    if max_px > 0:
        far = dist.ravel()[hole_idx] > max_px
        if far.any():
            n_holes, hole_ids = cv2.connectedComponents(holes, connectivity=8)
            ids = hole_ids.ravel()[hole_idx]
            keep_nan = np.zeros(n_holes, dtype=bool)
            keep_nan[ids[far]] = True
            hole_idx = hole_idx[~keep_nan[ids]]
    valid_values = depth.ravel()[~invalid.ravel()]
    out.ravel()[hole_idx] = valid_values[labels.ravel()[hole_idx] - 1]
    return out


def resize_depth(depth_m: np.ndarray, size: tuple[int, int], interpolation: str = "nearest") -> np.ndarray:
    """Resize a depth image (NaN = invalid) to size = (width, height), pixel-centre aligned."""
    depth = np.asarray(depth_m, dtype=np.float32)
    size = (int(size[0]), int(size[1]))
    if interpolation == "nearest":
        return cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST_EXACT)
    if interpolation == "area":
        valid = np.isfinite(depth)
        total = cv2.resize(np.where(valid, depth, 0.0).astype(np.float32), size, interpolation=cv2.INTER_AREA)
        weight = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = total / weight
        out[weight < 0.5] = np.nan
        return out.astype(np.float32, copy=False)
    raise ValueError(f"unknown interpolation {interpolation!r}: use one of {RESIZE_INTERPOLATIONS}")
