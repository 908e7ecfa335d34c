"""Loading a trained model and its turn selector (core: no ROS, no simulator).

A checkpoint carries the policy's weights and the training run's configuration; from that come
the zoom loop the policy was trained with and the camera it saw. The simulated world it was
trained in (`world_config()`) is built only when asked for: the depth twin and evaluation need
it, a robot serving the policy alone never imports pybullet.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pa_grasp_policy.model.checkpoint import CheckpointError, load_checkpoint
from pa_grasp_policy.model.distribution import DofConstraints
from pa_grasp_policy.model.policy import Policy
from pa_grasp_policy.model.zoom import ZoomConfig
from pa_grasp_policy.planner.selector import GraspSelector, SelectorError, weights_sha256
from pa_grasp_policy.planner.views import check_top_down
from pa_grasp_policy.training.config import TrainConfig

if TYPE_CHECKING:
    from pa_grasp_sim.world import WorldConfig

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS_DIR / "pa_grasp.pt"
SHIPPED_SELECTOR = MODELS_DIR / "pa_grasp_selector.json"
TEST_ABLATIONS = ("full", "top_down", "parallel", "no_attention")


def shown_path(path) -> str:
    """A model path as a card or report should name it: the source-tree file (colcon's build/
    copies are symlinks to it), relative to the working directory."""
    return os.path.relpath(Path(path).resolve())


@dataclasses.dataclass
class LoadedModel:
    """A policy ready to act (eval mode) and what it was trained with."""

    policy: Policy
    zoom_config: ZoomConfig  # as trained, with any test-time ablation applied
    train_config: TrainConfig
    path: Path
    test_ablation: str = "full"  # a constraint applied at test time only (labelled as such by callers)

    @property
    def trained_camera_px(self) -> int:
        """Side of the square depth image the policy was trained on (its zoom's min box counts these)."""
        return self.train_config.camera_px

    def world_config(self) -> WorldConfig:
        """The simulated world the policy was trained in (imports pybullet)."""
        world = self.train_config.env_config().world
        if self.test_ablation == "parallel":
            world.execution.parallel_hand = True
        return world


def load_model(path: str | Path | None = None, test_ablation: str = "full") -> LoadedModel:
    """The checkpoint at `path` (the shipped model when None); `test_ablation` constrains it at
    test time ("top_down", "parallel", "no_attention"; not the same as a model trained so)."""
    if test_ablation not in TEST_ABLATIONS:
        raise ValueError(f"test ablation must be one of {', '.join(TEST_ABLATIONS)}, got {test_ablation!r}")
    path = Path(path) if path else DEFAULT_MODEL
    if not path.exists() and path == DEFAULT_MODEL:
        raise CheckpointError(f"no shipped model at {path}: train one (pa-grasp-train) or pass a checkpoint")
    policy, payload = load_checkpoint(path)
    saved = payload.get("config", {}).get("train", {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    train_cfg = TrainConfig(**{k: v for k, v in saved.items() if k in known})
    zoom_cfg = dataclasses.replace(train_cfg.zoom_config(), input_size=policy.config.input_size)
    if test_ablation != "full":
        extra = DofConstraints.ablation(test_ablation)
        policy.constraints = DofConstraints(
            {**policy.constraints.fixed, **extra.fixed},
            extra.max_zoom_steps if extra.max_zoom_steps is not None else policy.constraints.max_zoom_steps,
        )
        zoom_cfg = zoom_cfg.constrained(policy.constraints)
    policy.eval()
    return LoadedModel(policy, zoom_cfg, train_cfg, path, test_ablation)


def load_selector(spec: str | None, model: LoadedModel, view_angle_deg: float = 90.0) -> GraspSelector | None:
    """The turn selector `spec` names for `model`, or None.

    'none' or empty: None. 'shipped': the shipped selector when `model` has the weights it was
    fitted for, the camera looks straight down and no test-time ablation is applied (it was
    validated on that setting only), else None. A path: that file, refused (SelectorError) if it
    was fitted for other weights, for a tilted camera or with a test-time ablation."""
    if spec in (None, "", "none"):
        return None
    ablated = model.test_ablation != "full"
    top_down = abs(view_angle_deg - 90.0) <= 1e-6
    if spec == "shipped":
        if not SHIPPED_SELECTOR.is_file() or ablated or not top_down:
            return None
        selector = GraspSelector.load(SHIPPED_SELECTOR)
        return selector if selector.weights_sha256 == weights_sha256(model.policy) else None
    selector = GraspSelector.load(spec)
    selector.check_policy(model.policy)
    check_top_down(view_angle_deg)
    if ablated:
        raise SelectorError(
            f"a turn selector ranks the model's own grasps; not with test ablation {model.test_ablation}"
        )
    return selector
