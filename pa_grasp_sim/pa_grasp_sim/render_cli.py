"""`pa-grasp-sim-render`: a picture of a scene with the hand at a grasp.

Panels: the depth image with the grasp pixel, the hand at the grasp pose (before closing), and
the scene after the lift. The grasp comes from a baseline or from explicit values.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.baselines import heuristic_grasp, random_grasp
from pa_grasp_sim.camera import CameraConfig
from pa_grasp_sim.objects import ObjectSetError
from pa_grasp_sim.render import depth_to_rgb, execute_with_snapshot, save_png
from pa_grasp_sim.world import GraspWorld, WorldConfig


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 2, cv2.LINE_AA)
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="grasp.png", help="PNG file to write (default grasp.png)")
    parser.add_argument("--objects", default="seen", help="seen, novel, or a directory of .urdf/.obj files")
    parser.add_argument("--count", type=int, default=1, help="objects in the scene (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["floating", "arm"], default="floating")
    parser.add_argument("--camera-angle", type=float, default=90.0, help="90 = top-down, 60 = tilted")
    parser.add_argument("--baseline", choices=["heuristic", "random"], default="heuristic")
    parser.add_argument(
        "--grasp",
        nargs=9,
        type=float,
        metavar=("U", "V", "ROLL", "PITCH", "YAW", "SPREAD", "F1", "F2", "F3"),
        help="explicit grasp instead of a baseline",
    )
    args = parser.parse_args(argv)
    try:
        return _render(args)
    except (ObjectSetError, ValueError, OSError) as exc:  # GraspInputError is a ValueError
        print(f"pa-grasp-sim-render: {exc}", file=sys.stderr)
        return 2


def _render(args) -> int:
    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir():  # before the simulation, not after it
        raise OSError(f"cannot write {args.out}: {out_dir} is not a directory")
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    config = WorldConfig(mode=args.mode, camera=CameraConfig(view_angle_deg=args.camera_angle))
    explicit = None
    if args.grasp:
        g = args.grasp
        explicit = GraspCommand(g[0], g[1], g[2], g[3], g[4], g[5], (g[6], g[7], g[8]))
        explicit.validate()
        intrinsics = config.camera.intrinsics()
        if not intrinsics.contains(explicit.u, explicit.v):
            raise ValueError(
                f"grasp pixel ({explicit.u:g}, {explicit.v:g}) is outside the"
                f" {intrinsics.width}x{intrinsics.height} image"
            )
    with GraspWorld(config, args.objects, seed=args.seed) as world:
        world.reset(args.count, seed=args.seed)
        depth = world.render_depth()
        if explicit is not None:
            command = explicit
        elif args.baseline == "heuristic":
            command = heuristic_grasp(depth, world.camera.intrinsics, world.camera.T_world_camera)
        else:
            command = random_grasp(depth, np.random.default_rng(args.seed))
        size = (360, 360)
        depth_img = depth_to_rgb(depth, size)
        sx = size[0] / depth.shape[1]
        cv2.circle(depth_img, (int((command.u + 0.5) * sx), int((command.v + 0.5) * sx)), 6, (255, 40, 40), 2)
        eye_target = {"eye": (0.45, -0.45, 0.45), "target": (0.0, 0.0, 0.05), "size": size}
        outcome, at_grasp, after = execute_with_snapshot(world, command, depth, eye_target)
        at_grasp = at_grasp if at_grasp is not None else after
        verdict = "SUCCESS" if outcome.success else f"FAIL: {outcome.reason}"
        panels = [
            _label(depth_img, f"depth, grasp pixel ({command.u:.0f},{command.v:.0f})"),
            _label(
                at_grasp,
                f"rpy {math.degrees(command.roll):.0f}/{math.degrees(command.pitch):.0f}/"
                f"{math.degrees(command.yaw):.0f} spread {command.spread:.2f}",
            ),
            _label(after, verdict[:48]),
        ]
        save_png(args.out, np.concatenate(panels, axis=1))
    print(f"{verdict}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
