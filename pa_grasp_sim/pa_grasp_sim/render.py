"""Pictures of a world: an RGB view from an oblique camera and the depth image, side by side."""

from __future__ import annotations

import numpy as np


def render_rgb(client, eye=(0.45, -0.45, 0.45), target=(0.0, 0.0, 0.06), size=(480, 360), fov_deg=50.0) -> np.ndarray:
    w, h = size
    view = client.computeViewMatrix(list(eye), list(target), [0, 0, 1])
    proj = client.computeProjectionMatrixFOV(fov_deg, w / h, 0.05, 5.0)
    _, _, rgba, _, _ = client.getCameraImage(
        w, h, view, proj, renderer=client.ER_TINY_RENDERER, lightDirection=[0.5, -0.3, 1.0], shadow=1
    )
    return np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[:, :, :3]


def depth_to_rgb(depth: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Near = bright; NaN = magenta."""
    import cv2

    valid = np.isfinite(depth)
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    if valid.any():
        lo, hi = np.nanpercentile(depth, 1), np.nanpercentile(depth, 99)
        norm = np.clip((hi - depth) / max(hi - lo, 1e-6), 0, 1)
        gray = (40 + 215 * np.nan_to_num(norm)).astype(np.uint8)
        out[...] = gray[..., None]
    out[~valid] = (255, 0, 255)
    if size is not None:
        out = cv2.resize(out, size, interpolation=cv2.INTER_NEAREST)
    return out


def save_png(path: str, rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write '{path}'")


def execute_with_snapshot(world, command, depth, view: dict):
    """Execute a grasp and picture it: (outcome, RGB at the moment closing starts or None if
    closing never started, RGB after the lift). `view` holds render_rgb's eye/target/size."""
    frames = {}
    hand = world.hand
    original = hand.close_step

    def close_step_with_snapshot():
        if "grasp" not in frames:
            frames["grasp"] = render_rgb(world.client, **view)
        original()

    hand.close_step = close_step_with_snapshot
    try:
        outcome = world.execute(command, depth)
    finally:
        hand.close_step = original
    return outcome, frames.get("grasp"), render_rgb(world.client, **view)
