"""Raw depth frames <-> float32 metres (core: numpy only, no ROS imports).

A depth frame arrives as the fields of a ``sensor_msgs/Image`` (bytes, width, height, step,
encoding, is_bigendian). :func:`decode_depth` turns it into a ``float32`` array of shape
``(height, width)`` in metres where every invalid measurement is ``NaN``; :func:`encode_depth`
is its inverse (for publishing frames the way a Kinect driver does).

Supported encodings (the ones depth cameras and their ROS drivers publish):

========  =========  ===========================  ====================================
encoding  pixel      unit                         invalid
========  =========  ===========================  ====================================
16UC1     uint16     millimetres                  0
mono16    uint16     millimetres (same as 16UC1)  0
32FC1     float32    metres                       NaN, +-inf, 0 and negative values
========  =========  ===========================  ====================================
"""

from __future__ import annotations

import numpy as np


class DepthFormatError(ValueError):
    """A depth frame that cannot be used: unsupported encoding, inconsistent sizes, no valid pixels."""


class EmptyDepthError(DepthFormatError):
    """A well-formed frame with (almost) no valid depth: lens covered, everything out of range."""


# encoding -> (numpy dtype without byte order, metres per unit)
_FORMATS: dict[str, tuple[str, float]] = {
    "16UC1": ("u2", 0.001),
    "mono16": ("u2", 0.001),
    "32FC1": ("f4", 1.0),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_FORMATS)
_BY_LOWER = {name.lower(): name for name in _FORMATS}

# Largest depth a 16-bit millimetre frame can carry.
MAX_DEPTH_16U_M = 65.535


def canonical_encoding(encoding: str) -> str:
    """The canonical spelling of a supported encoding (lookup is case-insensitive), else DepthFormatError."""
    name = _BY_LOWER.get(str(encoding).strip().lower())
    if name is None:
        raise DepthFormatError(
            f"unsupported depth encoding {encoding!r}: expected one of {', '.join(SUPPORTED_ENCODINGS)}"
            " (is this a colour or IR topic instead of depth?)"
        )
    return name


def bytes_per_pixel(encoding: str) -> int:
    return np.dtype(_FORMATS[canonical_encoding(encoding)][0]).itemsize


def decode_depth(
    data: bytes | bytearray | memoryview,
    width: int,
    height: int,
    step: int,
    encoding: str,
    is_bigendian: bool | int = False,
) -> np.ndarray:
    """Decode a raw depth frame into float32 metres of shape (height, width); NaN marks invalid pixels.

    ``data`` is anything exposing the buffer protocol (bytes, the ``array.array`` of a ROS
    message, a numpy array). ``step`` is the row length in bytes, which may include padding.
    Raises :class:`DepthFormatError` for unsupported encodings or inconsistent sizes.
    """
    name = canonical_encoding(encoding)
    base_dtype, scale = _FORMATS[name]
    width, height, step = int(width), int(height), int(step)
    if width <= 0 or height <= 0:
        raise DepthFormatError(f"depth frame has an empty size {width}x{height}")
    bpp = np.dtype(base_dtype).itemsize
    row_bytes = width * bpp
    if step < row_bytes:
        raise DepthFormatError(f"step {step} B is smaller than one row of {width} {name} pixels ({row_bytes} B)")
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != step * height:
        raise DepthFormatError(
            f"depth frame has {raw.size} B of data but step*height = {step}*{height} = {step * height} B"
            f" ({width}x{height} {name})"
        )
    rows = raw.reshape(height, step)
    if step != row_bytes:  # drop the row padding
        rows = np.ascontiguousarray(rows[:, :row_bytes])
    pixels = rows.view(np.dtype(base_dtype).newbyteorder(">" if is_bigendian else "<")).reshape(height, width)

    depth = pixels.astype(np.float32)
    if scale == 1.0:
        with np.errstate(invalid="ignore"):
            invalid = ~(np.isfinite(depth) & (depth > 0))
    else:
        depth *= np.float32(scale)
        invalid = pixels == 0
    depth[invalid] = np.nan
    return depth


def encode_depth(depth_m: np.ndarray, encoding: str = "32FC1", *, bigendian: bool = False) -> tuple[bytes, int]:
    """Encode metres (NaN/inf/<= 0 = invalid) as a raw frame; returns (data, step) with unpadded rows.

    16UC1/mono16: millimetres rounded to the nearest integer, invalid -> 0; depths beyond
    65.535 m cannot be represented and are written as 0 (invalid) rather than saturated.
    32FC1: metres, invalid -> NaN. Little-endian unless ``bigendian`` (set ``is_bigendian`` to match).
    """
    name = canonical_encoding(encoding)
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or depth.size == 0:
        raise DepthFormatError(f"depth image must be a non-empty 2D array, got shape {depth.shape}")
    base_dtype, scale = _FORMATS[name]
    dtype = np.dtype(base_dtype).newbyteorder(">" if bigendian else "<")
    if scale == 1.0:
        out = depth.astype(dtype)  # a copy in the wire byte order
        with np.errstate(invalid="ignore"):
            out[~(out > 0) | np.isinf(out)] = np.nan  # NaN > 0 is False: NaN stays NaN
    else:
        units = depth.astype(np.float32) * np.float32(1.0 / scale)  # float32 holds 0..65535 exactly
        with np.errstate(invalid="ignore"):
            # NaN, <= 0 and sub-unit values round to the invalid 0; beyond 65535 cannot be represented
            units[~(units >= 0.5) | (units >= 65535.5)] = 0.0
        out = np.rint(units, out=units).astype(dtype)
    return out.tobytes(), depth.shape[1] * dtype.itemsize
