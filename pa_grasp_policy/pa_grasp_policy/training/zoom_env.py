"""The zoom MDP over the simulator's one-shot grasp (paper §IV): observation = current crop +
zoom scale, actions = the policy's, terminal reward 1 on a successful pick-up.

Each episode starts from one rendered depth image of a scene; zoom steps only crop it (no
physics), the grasp step runs the sim's grasp execution. Training scenes follow the paper:
one object or 2-30 objects with equal chance. A cluttered scene is settled once and restored
from its snapshot for `clutter_reuse` episodes (each episode still sees a fresh, untouched
copy), because settling 30 objects costs seconds and restoring milliseconds.

With `scene_repeats` > 1 every new scene, single or cluttered, is played that many episodes in
a row (not in the paper): the episodes of one scene differ only in the sampled actions, so their
mean outcome is a baseline for each of them (train.py's `--baseline scene`). `scene_id` names
the scene an episode was played on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_policy.model.distribution import Action
from pa_grasp_policy.model.zoom import Observation, ZoomConfig, ZoomState
from pa_grasp_sim.env import SceneSampler
from pa_grasp_sim.execution import GraspOutcome
from pa_grasp_sim.world import GraspWorld, SceneSnapshot, WorldConfig


@dataclass
class ZoomEnvConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    objects: str = "seen"
    zoom: ZoomConfig = field(default_factory=ZoomConfig)
    scenes: SceneSampler = field(default_factory=SceneSampler)
    clutter_reuse: int = 4
    scene_repeats: int = 1  # > 1: each scene is played this many times in a row (clutter_reuse unused)


def action_to_command(action: Action, grasp_uv: tuple[float, float]) -> GraspCommand:
    """The grasp step's action (batch of 1) as the simulator's grasp command."""
    roll, pitch, yaw = (float(x) for x in action.grasp_rpy()[0])
    spread, f1, f2, f3 = (float(x) for x in action.hand_joints()[0])
    return GraspCommand(float(grasp_uv[0]), float(grasp_uv[1]), roll, pitch, yaw, spread, (f1, f2, f3))


class ZoomGraspEnv:
    def __init__(self, config: ZoomEnvConfig | None = None, seed: int = 0, world: GraspWorld | None = None):
        self.config = config or ZoomEnvConfig()
        self.rng = np.random.default_rng(seed)
        self.world = world or GraspWorld(self.config.world, self.config.objects, seed=int(self.rng.integers(2**31)))
        self._snapshot: SceneSnapshot | None = None  # the scene replays restore, if any
        self._snapshot_uses = 0
        self.state: ZoomState | None = None
        self.depth: np.ndarray | None = None
        self.object_count = 0
        self.scene_id = -1  # counts the scenes this env has built; restored copies keep the id
        self.family = ""  # the object's family in a single-object scene, else ""

    def reset(self, object_count: int | None = None) -> Observation:
        """The next episode: a scene of `object_count` objects, or of the training mix (replays
        of the current scene as the module doc says)."""
        repeats = self.config.scene_repeats
        if object_count is None and repeats > 1 and self._snapshot is not None and self._snapshot_uses < repeats:
            return self.replay_scene()
        count = object_count or self.config.scenes.sample_count(self.rng)
        reuse = count > 1 and repeats == 1 and self._snapshot is not None
        if reuse and self._snapshot_uses < self.config.clutter_reuse:
            return self.replay_scene()
        return self.new_scene(count, int(self.rng.integers(2**31)), keep=count > 1 or repeats > 1)

    def new_scene(self, object_count: int, scene_seed: int, keep: bool = True) -> Observation:
        """The first episode on a new scene of `object_count` objects built from `scene_seed`;
        `keep` it for replay_scene."""
        self.world.reset(object_count, seed=scene_seed)
        self._snapshot = self.world.snapshot() if keep else None
        self._snapshot_uses = 1
        self.scene_id += 1
        return self._start_episode()

    def replay_scene(self) -> Observation:
        """Another episode on an untouched copy of the kept scene."""
        self.world.restore(self._snapshot)
        self._snapshot_uses += 1
        return self._start_episode()

    def _start_episode(self) -> Observation:
        self.object_count = len(self.world.objects)
        self.family = self.world.objects[0].spec.family if self.object_count == 1 else ""
        self.depth = self.world.render_depth(self.rng)
        self.state = ZoomState(self.depth, self.config.zoom)
        return self.state.observation()

    def step(self, action: Action) -> tuple[Observation | None, float, bool, dict]:
        """Zoom: the next crop, reward 0. Grasp: execute in the simulator, reward 1/0, done."""
        done = self.state.apply(action)
        if not done:
            return self.state.observation(), 0.0, False, {}
        command = action_to_command(self.state.last_action, self.state.grasp_uv)
        outcome: GraspOutcome = self.world.execute(command, self.depth)
        info = {
            "success": outcome.success,
            "reason": outcome.reason,
            "zoom_steps": self.state.step,
            "boxes": list(self.state.boxes),
            "object_count": self.object_count,
            "scene_id": self.scene_id,
            "family": self.family,
        }
        return None, outcome.reward, True, info

    def close(self) -> None:
        self.world.close()
