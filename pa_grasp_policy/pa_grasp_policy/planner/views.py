"""The policy's grasps on the depth image turned by quarter turns, and on its mirror image's (test
time, not in the paper; core: no ROS).

The policy does not turn with the scene: its grasp on an image turned by k quarter turns is on
median 4 px and 10° from its own grasp turned, and which of the four lifts differs from scene to
scene. For a camera looking straight down, the image turned about its centre is what the camera
rolled about its optical axis would see, so each turned image gives a grasp for the same scene:
its pixel turned back, its yaw - k x 90° (yaw is about the vertical axis of the base frame),
roll, pitch and hand unchanged. The mirror image gives four more (mirror_grasp). A selector
(selector.py) ranks them, and the depth twin, if switched on, first (RankedTurns).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.model.zoom import Box, ZoomConfig, ZoomResult, run_zoom_loop
from pa_grasp_policy.planner.selector import (
    GraspSelector,
    SelectorError,
    feature_actor,
    grasp_features,
    selector_inputs,
)

TURNS = 4


# ---------------------------------------------------------------------------- geometry


def turn_uv(uv: tuple[float, float], turns: int, height: int, width: int) -> tuple[float, float]:
    """Pixel (u, v) of an HxW image -> its position in ``numpy.rot90(image, turns)``."""
    u, v = float(uv[0]), float(uv[1])
    for _ in range(turns % TURNS):  # rot90 moves (row v, col u) of an h x w image to (row w-1-u, col v)
        u, v, height, width = v, width - 1 - u, width, height
    return u, v


def turn_box(box: Box, turns: int, height: int, width: int) -> Box:
    """A box (x0, y0, w, h in pixel-edge coordinates) of an HxW image -> the same box in
    ``numpy.rot90(image, turns)``."""
    x0, y0, w, h = (float(x) for x in box)
    for _ in range(turns % TURNS):  # edge point (x, y) -> (y, width - x)
        x0, y0, w, h = y0, width - x0 - w, h, w
        height, width = width, height
    return (x0, y0, w, h)


def mirror_uv(uv: tuple[float, float], width: int) -> tuple[float, float]:
    """Pixel (u, v) of an image of `width` columns -> its position in ``numpy.fliplr(image)``."""
    return width - 1 - float(uv[0]), float(uv[1])


def mirror_box(box: Box, width: int) -> Box:
    """A box (x0, y0, w, h in pixel-edge coordinates) -> the same box in ``numpy.fliplr(image)``."""
    x0, y0, w, h = (float(x) for x in box)
    return (width - x0 - w, y0, w, h)


def mirror_grasp(rpy, hand_joints) -> tuple[np.ndarray, np.ndarray]:
    """A grasp in the mirror image of the scene -> the same grasp in the scene.

    ``numpy.fliplr`` of the training camera's image is the scene reflected across the vertical
    plane through its optical axis and image v axis: the base frame's y -> -y (the camera's x is
    the base's -y, pa_grasp_sim.camera). The BH-280 is symmetric about its palm's x-z plane
    (finger 3 on it, fingers 1 and 2 mirrored across it, pa_grasp_description.robot), so a hand
    pose R reflected is the proper pose M R S (M, S: y -> -y in base and palm frame) with fingers
    1 and 2 swapped: for R = Rz(yaw) Ry(pitch) Rx(roll) R_align, M R S = Rz(-yaw) Ry(pitch)
    Rx(-roll) R_align, since M commutes with Ry and R_align (a turn about y) and M S = I."""
    roll, pitch, yaw = (float(x) for x in rpy)
    spread, f1, f2, f3 = (float(x) for x in hand_joints)
    return np.array([-roll, pitch, wrap_angle(-yaw)]), np.array([spread, f2, f1, f3])


def wrap_angle(angle: float) -> float:
    return float((angle + math.pi) % (2 * math.pi) - math.pi)


def check_top_down(view_angle_deg: float) -> None:
    """Refuse a simulated camera that does not look straight down (its image has no quarter-turn
    symmetry)."""
    if abs(view_angle_deg - 90.0) > 1e-6:
        raise SelectorError(f"turn selection needs a camera looking straight down; this one is at {view_angle_deg:g}°")


def camera_looks_down(T_base_camera: np.ndarray, tolerance_deg: float = 5.0) -> bool:
    """Whether the camera's optical axis (its z) points straight down the base frame's z, so that
    turning its image is turning the scene about a vertical axis."""
    optical_axis = np.asarray(T_base_camera, dtype=float)[:3, 2]
    cos = -optical_axis[2] / max(np.linalg.norm(optical_axis), 1e-12)
    return bool(cos >= math.cos(math.radians(tolerance_deg)))


# ---------------------------------------------------------------------------- choosing


@dataclass
class TurnedRun:
    """The zoom loop on the image turned by ``turns`` (after a left-right flip if ``mirrored``):
    its result there and the same grasp in the original image (``result`` with grasp_uv,
    grasp_rpy, hand_joints and boxes mapped back; its steps stay those of the turned image, as the
    network saw them)."""

    turns: int
    in_turned_image: ZoomResult
    result: ZoomResult
    features: np.ndarray
    mirrored: bool = False


def run_turned(
    depth: np.ndarray,
    policy: Policy,
    zoom_config: ZoomConfig,
    turns: int,
    start_box: Box | None = None,
    act=None,
    mirrored: bool = False,
) -> TurnedRun:
    """One deterministic zoom loop on ``numpy.rot90(depth, turns)`` (of ``numpy.fliplr(depth)``
    if ``mirrored``), mapped back."""
    height, width = depth.shape
    seen, box = depth, start_box
    if mirrored:
        seen, box = np.fliplr(depth), None if box is None else mirror_box(box, width)
    turned = np.ascontiguousarray(np.rot90(seen, turns))
    box = None if box is None else turn_box(box, turns, height, width)
    result = run_zoom_loop(turned, act or feature_actor(policy), zoom_config, box)
    back = -turns % TURNS
    th, tw = turned.shape
    roll, pitch, yaw = (float(x) for x in result.grasp_rpy)
    uv = turn_uv(result.grasp_uv, back, th, tw)
    rpy = np.array([roll, pitch, wrap_angle(yaw - turns * math.pi / 2)])
    hand = np.asarray(result.hand_joints, dtype=float)
    boxes = [turn_box(b, back, th, tw) for b in result.boxes]
    if mirrored:
        uv, boxes = mirror_uv(uv, width), [mirror_box(b, width) for b in boxes]
        rpy, hand = mirror_grasp(rpy, hand)
    original = replace(result, grasp_uv=uv, grasp_rpy=rpy, hand_joints=hand, boxes=boxes)
    return TurnedRun(turns, result, original, grasp_features(result), mirrored)


class RankedTurns:
    """The turned runs, best first, ranked lazily: by the selector (ties keep the earlier view, so
    turn 0 first), or, with a twin ranking, by the twin's score first and the selector's order
    among equal scores. The ranking is asked for the next run only when one is wanted: the twin
    tries a grasp only as far as the ranking needs (pa_grasp_sim.twin.depth_twin.TwinRanking)."""

    def __init__(self, runs: list[TurnedRun], selector_scores: np.ndarray, twin_ranking=None):
        self.runs = runs
        self.selector_scores = np.asarray(selector_scores, dtype=float)
        # view indices, the selector's best first; ties keep the earlier view
        self.by_selector = [int(i) for i in np.lexsort((np.arange(len(runs)), -self.selector_scores))]
        # twin_ranking(runs in the selector's order) -> a ranking (next_index(), score(i), ...)
        self.twin_ranking = twin_ranking([runs[i] for i in self.by_selector]) if twin_ranking is not None else None
        self._order: list[int] = []  # view indices ranked so far
        self.best = self.runs[self._rank_one()]

    def _rank_one(self) -> int | None:
        if len(self._order) == len(self.runs):
            return None
        k = len(self._order) if self.twin_ranking is None else self.twin_ranking.next_index()
        view = self.by_selector[k]
        self._order.append(view)
        return view

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self):
        """Every run, best first (the first is `best`); later ones are ranked as they are asked for."""
        n = 0
        while n < len(self._order) or self._rank_one() is not None:
            yield self.runs[self._order[n]]
            n += 1

    def twin_score(self, run: TurnedRun) -> float | None:
        """The run's twin score, if the twin tried it to the end (always for `best`)."""
        if self.twin_ranking is None:
            return None
        view = next(i for i, r in enumerate(self.runs) if r is run)  # dataclass == compares arrays
        return self.twin_ranking.score(self.by_selector.index(view))

    def describe(self) -> str:
        """Each view's selector score and twin score (if known) for logs, in view order."""
        parts = []
        for view, run in enumerate(self.runs):
            name = f"turn {run.turns}{' mirrored' if run.mirrored else ''}"
            text = f"{name}: selector {self.selector_scores[view]:+.2f}"
            if self.twin_ranking is not None:
                k = self.by_selector.index(view)
                score = self.twin_ranking.score(k)
                text += (
                    f", twin {score:.1f}"
                    if score is not None
                    else f", twin <= {self.twin_ranking.best_possible(k):.1f} (not tried further)"
                )
            parts.append(text)
        return "; ".join(parts)


def select_among_turns(
    depth: np.ndarray,
    policy: Policy,
    zoom_config: ZoomConfig,
    selector: GraspSelector,
    start_box: Box | None = None,
    turns: Sequence[int] = range(TURNS),
    pixel_scale: float = 1.0,
    twin_ranking: Callable[[list[TurnedRun]], object] | None = None,
    mirrored: bool = False,
) -> RankedTurns:
    """The zoom loop on each turned image, ranked (RankedTurns: `.best` is the one to execute).
    `pixel_scale`: this image's side over the training camera's (object_geometry).
    `twin_ranking(runs)`, when given, ranks runs (given in the selector's order) by their depth
    twin scores (pa_grasp_sim.twin.depth_twin.DepthTwin.ranking); the selector then only breaks its
    ties. `mirrored`: also the same turns of the image flipped left-right (after the unflipped
    ones; see mirror_grasp)."""
    act = feature_actor(policy)
    views = [(k, False) for k in turns] + ([(k, True) for k in turns] if mirrored else [])
    runs = [run_turned(depth, policy, zoom_config, k, start_box, act, flip) for k, flip in views]
    scores = selector.scores(np.stack([selector_inputs(selector, r, depth, pixel_scale) for r in runs]))
    return RankedTurns(runs, scores, twin_ranking)
