"""Rollouts: what the learner asks its workers for, and what they send back.

The learner fixes every scene before anything runs: a `SceneTask` is one scene (object count,
scene seed), the episodes played on it and the seed of their sampled actions, so the rollout of an
update is the same whatever the number of workers and whichever worker played which task
(`training_tasks`; the workers are in workers.py). `play` runs one task in a worker's world.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from pa_grasp_policy.model.distribution import Action
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.model.zoom import Observation
from pa_grasp_policy.training.zoom_env import ZoomEnvConfig, ZoomGraspEnv

# The per-step arrays of a Rollout, in field order.
STEP_FIELDS = ("depth", "scale", "must_grasp", "pixel", "zoom", "scale_raw", "dofs_raw", "log_prob", "reward", "done")


@dataclass
class Rollout:
    """Steps of complete episodes, flattened (depth (N,1,S,S) float16 to halve the pipe load),
    with the actions taken, their log-probabilities and rewards, and per-episode records."""

    depth: np.ndarray
    scale: np.ndarray
    must_grasp: np.ndarray
    pixel: np.ndarray
    zoom: np.ndarray
    scale_raw: np.ndarray
    dofs_raw: np.ndarray
    log_prob: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    episode_success: list[bool] = field(default_factory=list)
    episode_zooms: list[int] = field(default_factory=list)
    episode_objects: list[int] = field(default_factory=list)
    episode_scene: list[tuple[int, int]] = field(default_factory=list)  # (update, task index): the scene
    episode_family: list[str] = field(default_factory=list)  # single-object scenes: the object's family, else ""
    failure_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.reward)

    def obs_batch(self) -> ObsBatch:
        return ObsBatch(
            torch.from_numpy(self.depth.astype(np.float32)),
            torch.from_numpy(self.scale),
            torch.from_numpy(self.must_grasp),
        )

    def actions(self, width: int) -> Action:
        return Action(
            torch.from_numpy(self.pixel),
            torch.from_numpy(self.zoom),
            torch.from_numpy(self.scale_raw),
            torch.from_numpy(self.dofs_raw),
            width,
        )

    @staticmethod
    def concat(parts: list[Rollout]) -> Rollout:
        arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in STEP_FIELDS}
        reasons: dict[str, int] = {}
        for p in parts:
            for k, v in p.failure_reasons.items():
                reasons[k] = reasons.get(k, 0) + v
        return Rollout(
            **arrays,
            episode_success=sum((p.episode_success for p in parts), []),
            episode_zooms=sum((p.episode_zooms for p in parts), []),
            episode_objects=sum((p.episode_objects for p in parts), []),
            episode_scene=sum((p.episode_scene for p in parts), []),
            episode_family=sum((p.episode_family for p in parts), []),
            failure_reasons=reasons,
            seconds=max(p.seconds for p in parts),
        )

    def success_by_family(self) -> dict[str, tuple[int, int]]:
        """Single-object episodes: family -> (successes, episodes)."""
        out: dict[str, tuple[int, int]] = {}
        for family, success in zip(self.episode_family, self.episode_success):
            if family:
                s, n = out.get(family, (0, 0))
                out[family] = (s + int(success), n + 1)
        return out


@dataclass(frozen=True)
class SceneTask:
    """Episodes on one scene, fixed by the learner: the update (weights version) and place in its
    sequence, the scene (object count, scene seed), how many episodes are played on it (the first
    on the new scene, the others on restored untouched copies), the seed of the sampled actions
    (and camera noise), and whether the actions are the policy's modes (held-out evaluation)."""

    version: int
    index: int
    object_count: int
    scene_seed: int
    episodes: int
    sample_seed: int
    deterministic: bool = False


def training_tasks(env_config: ZoomEnvConfig, seed: int, update: int) -> Iterator[SceneTask]:
    """Update `update`'s scenes, endless, from the run's `seed`: object counts from the scene
    sampler, episode by episode; with scene_repeats > 1 every scene is played that many times,
    else the cluttered draws are grouped into scenes of clutter_reuse episodes (settled once,
    restored for the others; the first draw's count is the scene's), so the episodes keep the
    sampler's mix of single and cluttered scenes."""
    rng = np.random.default_rng([seed, update])
    index, clutter_draws, clutter_count = 0, 0, 0
    while True:
        count = env_config.scenes.sample_count(rng)
        episodes = env_config.scene_repeats
        if episodes == 1 and count > 1:
            clutter_count = count if clutter_draws == 0 else clutter_count
            clutter_draws += 1
            if clutter_draws < env_config.clutter_reuse:
                continue
            count, episodes, clutter_draws = clutter_count, clutter_draws, 0
        yield SceneTask(update, index, count, int(rng.integers(2**31)), episodes, int(rng.integers(2**31)))
        index += 1


def evaluation_tasks(scene: str, attempts: int, seed: int) -> list[SceneTask]:
    """Held-out evaluation: `attempts` fresh scenes (one object, or 2-30), one deterministic
    episode each."""
    rng = np.random.default_rng(seed)
    tasks = []
    for index in range(attempts):
        count = 1 if scene == "single" else int(rng.integers(2, 31))
        tasks.append(SceneTask(-1, index, count, int(rng.integers(2**31)), 1, 0, deterministic=True))
    return tasks


def play(env: ZoomGraspEnv, policy: Policy, task: SceneTask) -> Rollout:
    """The task's episodes in `env`'s world: its scene built from its seed whatever the world
    built before, the actions drawn from its own stream."""
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(task.sample_seed)
    env.rng = np.random.default_rng(task.sample_seed)  # the camera noise's stream, if any
    taken: list[tuple[Observation, Action]] = []  # (observation, action as applied) per step
    log_probs, rewards, dones = [], [], []
    success, zooms, objects, families = [], [], [], []
    reasons: dict[str, int] = {}
    for episode in range(task.episodes):
        if episode == 0:
            obs = env.new_scene(task.object_count, task.scene_seed, keep=task.episodes > 1)
        else:
            obs = env.replay_scene()
        done = False
        while not done:
            action, log_prob = policy.act(
                ObsBatch.from_observations([obs]), deterministic=task.deterministic, generator=generator
            )
            next_obs, reward, done, info = env.step(action)
            taken.append((obs, env.state.last_action))  # a grasp's zoom flag as the env applied it
            log_probs.append(float(log_prob[0]))
            rewards.append(reward)
            dones.append(done)
            obs = next_obs
        success.append(bool(info["success"]))
        zooms.append(int(info["zoom_steps"]))
        objects.append(int(info["object_count"]))
        families.append(str(info["family"]))
        if not info["success"]:
            key = info["reason"].split(" with ")[0]
            reasons[key] = reasons.get(key, 0) + 1
    return Rollout(
        np.stack([np.asarray(o.depth, dtype=np.float16) for o, _ in taken]),
        np.asarray([o.scale for o, _ in taken], dtype=np.float32),
        np.asarray([o.must_grasp for o, _ in taken], dtype=bool),
        np.asarray([int(a.pixel[0]) for _, a in taken], dtype=np.int64),
        np.asarray([float(a.zoom[0]) for _, a in taken], dtype=np.float32),
        np.asarray([float(a.scale_raw[0]) for _, a in taken], dtype=np.float32),
        np.stack([a.dofs_raw[0].numpy() for _, a in taken]).astype(np.float32),
        np.asarray(log_probs, dtype=np.float32),
        np.asarray(rewards, dtype=np.float32),
        np.asarray(dones, dtype=bool),
        episode_success=success,
        episode_zooms=zooms,
        episode_objects=objects,
        episode_scene=[(task.version, task.index)] * task.episodes,
        episode_family=families,
        failure_reasons=reasons,
        seconds=time.perf_counter() - start,
    )


def evaluation_env_config(env_config: ZoomEnvConfig) -> ZoomEnvConfig:
    """The held-out evaluation's env: a fresh scene for every attempt (the protocol of
    pa-grasp-eval), whatever the training mix replays."""
    return dataclasses.replace(env_config, clutter_reuse=1, scene_repeats=1)
