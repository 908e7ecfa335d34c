"""The turn selector: a score for each of the policy's grasps on the turned views (test time, not
in the paper; core: no ROS).

It ranks the views' grasps (views.py) on what the network computed at each grasp step (the
hypercolumn at the grasp pixel, the pooled bottleneck, the position log-probabilities, the zoom
count, the grasp's orientation and hand) and, for the shipped one, on the object measured around
each grasp in the depth image (object_geometry).

A selector belongs to one set of policy weights (it reads their features), so it is stored with
the SHA-256 of the model's weights and refused for any other. ``fit_selector`` (logistic
regression) and ``fit_mlp_selector`` (a small network) learn it from executed outcomes
(``pa-grasp-selector``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from pa_grasp_policy.model.checkpoint import write_atomically
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.model.zoom import ZoomResult
from pa_grasp_policy.planner.object_geometry import object_geometry

if TYPE_CHECKING:
    from pa_grasp_policy.planner.views import TurnedRun

SELECTOR_FORMAT = 2


class SelectorError(ValueError):
    """A selector file that cannot be used: missing, corrupt, or fitted for other weights."""


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


# ---------------------------------------------------------------------------- inputs


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
