"""The training run's configuration (`pa-grasp-train`'s flags), saved in every checkpoint.

Importing it needs no simulator: a robot loads a checkpoint's zoom settings and camera size from
it; `env_config()` builds the simulated training environment and imports pybullet then.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pa_grasp_policy.model.distribution import DofConstraints
from pa_grasp_policy.model.zoom import ZoomConfig
from pa_grasp_policy.training.ppo import PPOConfig

if TYPE_CHECKING:
    from pa_grasp_policy.training.zoom_env import ZoomEnvConfig

ABLATIONS = ("full", "no_attention", "top_down", "parallel", "camera60")
BASELINES = ("batch", "scene")


@dataclasses.dataclass
class TrainConfig:
    out: str = "runs/pa_grasp"
    ablation: str = "full"
    objects: str = "seen"
    input_size: int = 96
    max_zoom_steps: int = 4
    min_crop_px: float = 16.0
    workers: int = 2
    ray: str = ""  # rollout workers as Ray actors: local | auto | a head's address ("": processes)
    total_steps: int = 200_000
    hours: float = 0.0  # stop after this wall time (0 = no limit)
    eval_every: int = 10
    eval_attempts: int = 40
    # Keep snapshots/update_NNNN.pt (weights and counters, no optimizer state) every this many
    # updates, for choosing among checkpoints on other scenes afterwards (0 = off).
    snapshot_every: int = 0
    seed: int = 0
    clutter_reuse: int = 8
    # "batch": the paper's (return-to-go, normalised per batch); "scene": minus the mean outcome
    # of the other episodes on the same scene (needs scene_repeats > 1; not in the paper).
    baseline: str = "batch"
    scene_repeats: int = 1
    single_probability: float = 0.5
    max_objects: int = 30
    camera_noise: bool = False
    # Side of the simulated depth image in pixels (square). The zoom crops the camera's pixels,
    # so a finer camera gives the zoomed views real detail; min_crop_px is in these pixels.
    camera_px: int = 160
    # How the simulated hand's joints answer contact (pa_grasp_sim.hand, HandConfig.drive):
    # "geared" (the BH-280's gears and stops) or "compliant" (the simulator before 2026-12-07; a
    # checkpoint saved without this field is evaluated with the default).
    finger_drive: str = "geared"
    init_std: float = 0.2
    init_std_rpy: float = 0.05
    threads: int = 2
    init: str = ""  # start from this checkpoint's weights (pa-grasp-imitate's warm start)
    # With `init`: set the σ's to init_std / init_std_rpy instead of keeping the checkpoint's
    # (imitation freezes them at their initial values, which may explore too wildly for PPO).
    init_reset_std: bool = False
    ppo: dict = dataclasses.field(default_factory=dict)  # PPOConfig overrides

    def ppo_config(self) -> PPOConfig:
        return PPOConfig(**self.ppo)

    def constraints(self) -> DofConstraints:
        return DofConstraints.ablation("full" if self.ablation == "camera60" else self.ablation)

    def zoom_config(self) -> ZoomConfig:
        """The zoom loop the policy was trained with (no simulator needed)."""
        return ZoomConfig(
            input_size=self.input_size, max_zoom_steps=self.max_zoom_steps, min_crop_px=self.min_crop_px
        ).constrained(self.constraints())

    def env_config(self) -> ZoomEnvConfig:
        """The training environment: imports the simulator (pybullet)."""
        from pa_grasp_policy.training.zoom_env import ZoomEnvConfig
        from pa_grasp_sim.camera import CameraConfig
        from pa_grasp_sim.env import SceneSampler
        from pa_grasp_sim.world import WorldConfig

        world = WorldConfig(
            camera=CameraConfig(
                width=self.camera_px,
                height=self.camera_px,
                view_angle_deg=60.0 if self.ablation == "camera60" else 90.0,
                noise=self.camera_noise,
            )
        )
        world.execution.parallel_hand = self.ablation == "parallel"
        world.hand = dataclasses.replace(world.hand, drive=self.finger_drive)  # refuses an unknown drive
        return ZoomEnvConfig(
            world=world,
            objects=self.objects,
            zoom=self.zoom_config(),
            scenes=SceneSampler(self.single_probability, 2, self.max_objects),
            clutter_reuse=self.clutter_reuse,
            scene_repeats=self.scene_repeats,
        )
