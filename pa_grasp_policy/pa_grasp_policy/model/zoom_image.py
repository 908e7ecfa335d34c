"""Pictures of the zoom loop: the depth image with every zoom box and the grasp pixel (core).

Used by policy_node's debug image and by ``pa-grasp-client --save-zoom``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pa_grasp_policy.model.zoom import Box

# One colour per zoom step (RGB), cycled: first box yellow, then orange, red, magenta, ...
STEP_COLOURS = ((255, 220, 0), (255, 140, 0), (255, 40, 40), (230, 0, 200), (120, 60, 255), (0, 170, 255))
GRASP_COLOUR = (0, 255, 90)


def depth_to_rgb(depth: np.ndarray) -> np.ndarray:
    """Near = bright grey, far = dark; invalid (NaN or <= 0) = dark blue. uint8 HxWx3."""
    d = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0)
    out = np.zeros((*d.shape, 3), dtype=np.uint8)
    if valid.any():
        lo, hi = np.percentile(d[valid], 1), np.percentile(d[valid], 99)
        norm = np.clip((hi - np.where(valid, d, hi)) / max(hi - lo, 1e-6), 0.0, 1.0)
        out[...] = (40 + 215 * norm).astype(np.uint8)[..., None]
    out[~valid] = (20, 20, 90)
    return out


def draw_zoom(
    depth: np.ndarray,
    boxes: Sequence[Box],
    grasp_uv: tuple[float, float] | None = None,
    min_side: int = 480,
) -> np.ndarray:
    """RGB picture (uint8) of ``depth`` upscaled to at least ``min_side`` pixels on its short
    side, with the zoom boxes (original pixel-edge coordinates) and the grasp pixel drawn."""
    rgb = depth_to_rgb(depth)
    h, w = rgb.shape[:2]
    k = max(1, int(np.ceil(min_side / max(min(h, w), 1))))
    if k > 1:
        rgb = cv2.resize(rgb, (w * k, h * k), interpolation=cv2.INTER_NEAREST)
    thickness = max(1, k // 2)
    for i, (x0, y0, bw, bh) in enumerate(boxes):
        colour = STEP_COLOURS[i % len(STEP_COLOURS)]
        p0 = (int(round(x0 * k)), int(round(y0 * k)))
        p1 = (int(round((x0 + bw) * k)) - 1, int(round((y0 + bh) * k)) - 1)
        cv2.rectangle(rgb, p0, p1, colour, thickness)
        cv2.putText(rgb, str(i), (p0[0] + 3, p0[1] + 12 + 2 * thickness), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
    if grasp_uv is not None:
        centre = (int(round((grasp_uv[0] + 0.5) * k)), int(round((grasp_uv[1] + 0.5) * k)))
        cv2.circle(rgb, centre, max(4, 2 * k), GRASP_COLOUR, thickness)
        cv2.drawMarker(rgb, centre, GRASP_COLOUR, cv2.MARKER_CROSS, max(8, 4 * k), thickness)
    return rgb


def save_png(path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
