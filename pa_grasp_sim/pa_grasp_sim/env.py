"""Gymnasium env for one grasp attempt (the zoom/attention MDP is the policy's, built on top).

Observation: the depth image as a driver delivers it in metres, invalid = 0 (like 16UC1).
Action: [u, v, roll, pitch, yaw, spread, finger1, finger2, finger3] in the paper's ranges.
Reward: 1 if an object is lifted and held, else 0; every episode is one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_perception.grasp_geometry import FINGER_MAX, SPREAD_MAX
from pa_grasp_sim.world import GraspWorld, WorldConfig


@dataclass
class SceneSampler:
    """The paper's training distribution: single object or 2-30 objects, equal chance."""

    single_probability: float = 0.5
    min_objects: int = 2
    max_objects: int = 30

    def sample_count(self, rng: np.random.Generator) -> int:
        if rng.random() < self.single_probability:
            return 1
        return int(rng.integers(self.min_objects, self.max_objects + 1))


@dataclass
class GraspEnvConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    object_set: str = "seen"
    scenes: SceneSampler = field(default_factory=SceneSampler)


class GraspEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, config: GraspEnvConfig | None = None, render_mode: str | None = None):
        self.config = config or GraspEnvConfig()
        self.render_mode = render_mode
        self.world: GraspWorld | None = None
        cam = self.config.world.camera
        self.observation_space = gym.spaces.Box(0.0, cam.far_m, shape=(cam.height, cam.width), dtype=np.float32)
        low = np.array([0, 0, -math.pi, 0, -math.pi, 0, 0, 0, 0], dtype=np.float32)
        high = np.array(
            [cam.width - 1, cam.height - 1, math.pi, math.pi, math.pi, SPREAD_MAX, FINGER_MAX, FINGER_MAX, FINGER_MAX],
            dtype=np.float32,
        )
        self.action_space = gym.spaces.Box(low, high, dtype=np.float32)
        self._depth: np.ndarray | None = None

    def _observation(self) -> np.ndarray:
        return np.nan_to_num(self._depth, nan=0.0).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.world is None:
            self.world = GraspWorld(self.config.world, self.config.object_set, seed=int(self.np_random.integers(2**31)))
        count = (options or {}).get("object_count") or self.config.scenes.sample_count(self.np_random)
        self.world.reset(count, seed=int(self.np_random.integers(2**31)))
        self._depth = self.world.render_depth(self.np_random)
        return self._observation(), {"object_count": len(self.world.objects), "scene_seed": self.world.scene_seed}

    def step(self, action):
        a = np.asarray(action, dtype=np.float64)
        command = GraspCommand(a[0], a[1], a[2], a[3], a[4], a[5], (a[6], a[7], a[8]))
        outcome = self.world.execute(command, self._depth)
        info = {
            "success": outcome.success,
            "reason": outcome.reason,
            "collisions": outcome.collisions,
            "lifted_objects": outcome.lifted_objects,
        }
        return self._observation(), outcome.reward, True, False, info

    def render(self):
        from pa_grasp_sim.render import render_rgb

        return render_rgb(self.world.client)

    def close(self):
        if self.world is not None:
            self.world.close()
            self.world = None
