"""Choose among the policy's grasps on the depth image turned by quarter turns (test time, not
in the paper; core: no ROS).

The policy does not turn with the scene: its grasp on an image turned by k quarter turns is on
median 4 px and 10° from its own grasp turned, and which of the four lifts differs from scene to
scene (docs/experiments.md, "Choosing among the grasps on turned images"). For a camera looking
straight down, the image turned about its centre is what the camera rolled about its optical
axis would see, so each turned image gives a grasp for the same scene: its pixel turned back,
its yaw - k x 90° (yaw is about the vertical axis of the base frame), roll, pitch and hand
unchanged. The zoom loop runs on each of the four images; a selector ranks them on what the
network computed at each grasp step (the hypercolumn at the grasp pixel, the pooled bottleneck,
the position log-probabilities, the zoom count, the grasp's orientation and hand) and, for the
shipped one, on the object measured around each grasp in the depth image (object_geometry); the
best is executed.

A selector belongs to one set of policy weights (it reads their features), so it is stored with
the SHA-256 of the model's weights and refused for any other. ``fit_selector`` (logistic
regression) and ``fit_mlp_selector`` (a small network) learn it from executed outcomes
(``pa-grasp-selector``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from pa_grasp_policy.checkpoint import write_atomically
from pa_grasp_policy.object_geometry import object_geometry
from pa_grasp_policy.policy import ObsBatch, Policy
from pa_grasp_policy.zoom import Box, ZoomConfig, ZoomResult, run_zoom_loop

TURNS = 4
# The selector's rank (in [0, 1)) times this breaks ties of the twin scores (steps >= 0.2) in the
# offline analyses of docs/evals; served, RankedTurns ranks the same way without scores for all.
TWIN_TIE_WEIGHT = 1e-3
SELECTOR_FORMAT = 2


class SelectorError(ValueError):
    """A selector file that cannot be used: missing, corrupt, or fitted for other weights."""


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


# ---------------------------------------------------------------------------- features


def feature_actor(policy: Policy):
    """The deterministic actor for ``run_zoom_loop``, also reporting what the network computed at
    its pixel: the hypercolumn, the pooled bottleneck and the position log-probability."""

    def act(obs):
        batch = ObsBatch.from_observations([obs], next(policy.parameters()).device)
        with torch.no_grad():
            dist, enc = policy.distribution(batch)
            action = dist.mode()
            column = torch.cat(policy.net.hypercolumns(enc, action.pixel), dim=1)[0]
            pooled = enc["bottleneck"].mean(dim=(-2, -1))[0]
            lp_pos = dist.pos_log_probs.gather(1, action.pixel[:, None])[0, 0]
        extra = {"column": column.cpu().numpy(), "pooled": pooled.cpu().numpy(), "lp_pos": float(lp_pos)}
        return action.to("cpu"), extra

    return act


def grasp_features(result: ZoomResult) -> np.ndarray:
    """The selector's input for one zoom loop run with ``feature_actor``: hypercolumn and pooled
    bottleneck at the grasp step, then the sum / last / min of the position log-probabilities,
    the zoom count, sin and cos of roll, pitch, yaw, and the hand joints.

    The orientation is the one in the image the loop saw: the selector judges the grasp as the
    network made it."""
    last = result.steps[-1].extra
    lps = [step.extra["lp_pos"] for step in result.steps]
    rpy = np.asarray(result.grasp_rpy, dtype=np.float64)
    scores = [sum(lps), lps[-1], min(lps), result.n_zooms, *np.sin(rpy), *np.cos(rpy), *result.hand_joints]
    return np.concatenate([last["column"], last["pooled"], np.asarray(scores, dtype=np.float32)]).astype(np.float32)


# ---------------------------------------------------------------------------- the selector


def weights_sha256(policy: Policy) -> str:
    """A fingerprint of the policy's weights (what a selector's features depend on)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(policy.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


INPUTS = ("features", "features+geometry")


@dataclass
class GraspSelector:
    """A score for each grasp from its standardised inputs: a small ReLU network, or with one
    layer a logistic regression (score = w · (x - mean) / std + b).

    ``inputs``: "features" (grasp_features: what the network computed at its grasp step) or
    "features+geometry" (those, then object_geometry.GEOMETRY_NAMES measured in the depth image)."""

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weight (out, in), bias (out,)); ReLU between
    weights_sha256: str
    inputs: str = "features"
    provenance: dict = field(default_factory=dict)

    @classmethod
    def linear(
        cls, mean, std, weights, bias: float, weights_sha: str, provenance: dict | None = None, inputs: str = "features"
    ):
        """A logistic regression: score = weights · (x - mean) / std + bias."""
        w = np.asarray(weights, dtype=np.float64)
        return cls(
            np.asarray(mean, np.float64),
            np.asarray(std, np.float64),
            [(w[None], np.array([bias]))],
            weights_sha,
            inputs,
            dict(provenance or {}),
        )

    @property
    def reads_geometry(self) -> bool:
        return self.inputs == "features+geometry"

    @property
    def input_size(self) -> int:
        return self.layers[0][0].shape[1]

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
        if x.shape[1] != self.input_size:
            raise SelectorError(f"the selector reads {self.input_size} inputs ({self.inputs}), got {x.shape[1]}")
        h = (x - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def check_policy(self, policy: Policy) -> None:
        sha = weights_sha256(policy)
        if sha != self.weights_sha256:
            raise SelectorError(
                f"this selector was fitted for policy weights {self.weights_sha256[:12]}…, not these"
                f" ({sha[:12]}…): its features would mean something else. Fit one (pa-grasp-selector)."
            )

    def to_dict(self) -> dict:
        return {
            "format": SELECTOR_FORMAT,
            "kind": "pa_grasp_turn_selector",
            "weights_sha256": self.weights_sha256,
            "inputs": self.inputs,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "layers": [{"weight": w.tolist(), "bias": b.tolist()} for w, b in self.layers],
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "selector") -> GraspSelector:
        if not isinstance(d, dict) or d.get("kind") != "pa_grasp_turn_selector":
            raise SelectorError(f"{where} is not a pa_grasp turn selector")
        if d.get("format") not in (1, SELECTOR_FORMAT):
            raise SelectorError(
                f"{where} has selector format {d.get('format')!r}; this code reads 1 and {SELECTOR_FORMAT}"
            )
        try:
            mean, std = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "std"))
            sha = str(d["weights_sha256"])
            if d["format"] == 1:  # a logistic regression, before networks and geometry
                layers = [(np.asarray(d["weights"], dtype=np.float64)[None], np.array([float(d["bias"])]))]
                inputs = "features"
            else:
                layers = [
                    (np.asarray(layer["weight"], dtype=np.float64), np.asarray(layer["bias"], dtype=np.float64))
                    for layer in d["layers"]
                ]
                inputs = str(d["inputs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SelectorError(f"{where} is incomplete or malformed: {exc}") from None
        if inputs not in INPUTS:
            raise SelectorError(f"{where} reads inputs {inputs!r}; this code knows {', '.join(INPUTS)}")
        if not (mean.ndim == 1 and mean.shape == std.shape) or not np.all(std > 0):
            raise SelectorError(f"{where}: mean and std must be equal-length vectors, std > 0")
        if not layers:
            raise SelectorError(f"{where} has no layers")
        width = len(mean)
        for i, (w, b) in enumerate(layers):
            if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
                raise SelectorError(f"{where}: layer {i} has weight {w.shape} and bias {b.shape} after {width} values")
            width = w.shape[0]
        if width != 1:
            raise SelectorError(f"{where}: the last layer must give one score, it gives {width}")
        numbers = [mean, std, *(a for layer in layers for a in layer)]
        if not all(np.all(np.isfinite(a)) for a in numbers):
            raise SelectorError(f"{where} holds non-finite numbers")
        return cls(mean, std, layers, sha, inputs, dict(d.get("provenance", {})))

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (a killed write never leaves a half file)."""
        return write_atomically(path, lambda f: f.write(json.dumps(self.to_dict()).encode()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> GraspSelector:
        path = Path(path)
        if not path.is_file():
            raise SelectorError(f"selector not found: {path}")
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SelectorError(f"{path} is not a readable selector (truncated or corrupt?): {exc}") from None
        return cls.from_dict(d, str(path))


def _checked(features: np.ndarray, targets: np.ndarray, input_kind: str) -> tuple[np.ndarray, np.ndarray]:
    if input_kind not in INPUTS:
        raise ValueError(f"input_kind must be one of {INPUTS}, got {input_kind!r}")
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"inputs must be (n, d) and targets (n,), got {x.shape} and {y.shape}")
    if y.min() == y.max():
        raise ValueError("the outcomes are all the same: nothing to learn which grasp lifts")
    return x, y


def fit_selector(
    features: np.ndarray,
    lifted: np.ndarray,
    weights_sha: str,
    l2: float = 1e-2,
    provenance: dict | None = None,
    input_kind: str = "features",
) -> GraspSelector:
    """L2-regularised logistic regression (L-BFGS) of `lifted` (n,) in [0, 1] on `features` (n, d)."""
    x, y = _checked(features, lifted, input_kind)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt, yt = torch.from_numpy((x - mean) / std), torch.from_numpy(y)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weights, bias = w.detach().numpy(), float(b.detach()[0])
    return GraspSelector.linear(mean, std, weights, bias, weights_sha, provenance, input_kind)


@dataclass(frozen=True)
class MlpFitConfig:
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 40
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0


def fit_mlp_selector(
    inputs: np.ndarray,
    targets: np.ndarray,
    weights_sha: str,
    input_kind: str = "features+geometry",
    config: MlpFitConfig = MlpFitConfig(),
    provenance: dict | None = None,
) -> GraspSelector:
    """A ReLU network fitted to `targets` (n,) in [0, 1] (binary cross-entropy, AdamW, seeded)."""
    x, y = _checked(inputs, targets, input_kind)
    torch.manual_seed(config.seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy(((x - mean) / std).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32))
    sizes = (x.shape[1], *config.hidden, 1)
    modules: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        modules += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.ReLU()]
    net = torch.nn.Sequential(*modules[:-1])
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.epochs):
        for idx in torch.randperm(len(yt)).split(config.batch):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(xt[idx]).squeeze(1), yt[idx]).backward()
            opt.step()
    layers = [
        (m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
        for m in net
        if isinstance(m, torch.nn.Linear)
    ]
    info = {"model": f"mlp {'-'.join(map(str, config.hidden))}", "epochs": config.epochs, "seed": config.seed}
    return GraspSelector(mean, std, layers, weights_sha, input_kind, {**info, **(provenance or {})})


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


def run_geometry(run: TurnedRun, depth: np.ndarray, pixel_scale: float = 1.0) -> np.ndarray:
    """The object measured around the run's grasp (in the original image) in `depth`."""
    r = run.result
    return object_geometry(depth, r.grasp_uv, r.grasp_rpy, r.hand_joints, pixel_scale)


def selector_inputs(selector: GraspSelector, run: TurnedRun, depth: np.ndarray, pixel_scale: float = 1.0) -> np.ndarray:
    """What `selector` reads for one run: its features, then (if it reads geometry) the object
    measured around its grasp in `depth`, the image the grasp's pixel belongs to."""
    if not selector.reads_geometry:
        return run.features
    return np.concatenate([run.features, run_geometry(run, depth, pixel_scale)])


class RankedTurns:
    """The turned runs, best first, ranked lazily: by the selector (ties keep the earlier view, so
    turn 0 first), or, with a twin ranking, by the twin's score first and the selector's order
    among equal scores. The ranking is asked for the next run only when one is wanted: the twin
    tries a grasp only as far as the ranking needs (pa_grasp_sim.depth_twin.TwinRanking)."""

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
    twin scores (pa_grasp_sim.depth_twin.DepthTwin.ranking); the selector then only breaks its
    ties. `mirrored`: also the same turns of the image flipped left-right (after the unflipped
    ones; see mirror_grasp)."""
    act = feature_actor(policy)
    views = [(k, False) for k in turns] + ([(k, True) for k in turns] if mirrored else [])
    runs = [run_turned(depth, policy, zoom_config, k, start_box, act, flip) for k, flip in views]
    scores = selector.scores(np.stack([selector_inputs(selector, r, depth, pixel_scale) for r in runs]))
    return RankedTurns(runs, scores, twin_ranking)
