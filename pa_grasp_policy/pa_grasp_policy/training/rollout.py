"""Rollout collection: worker processes, each with its own PyBullet world and a CPU copy of
the policy, collect whole episodes of the zoom MDP with the current weights.

Workers talk to the trainer over pipes: ("collect", weights, min_steps) -> Rollout;
("evaluate", weights, scene, attempts, seed) -> list of successes; ("close",).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import torch

from pa_grasp_policy.model.distribution import Action, DofConstraints
from pa_grasp_policy.model.network import NetworkConfig
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
    episode_scene: list[tuple[int, int]] = field(default_factory=list)  # (worker, scene id in that worker)
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


def collect(env: ZoomGraspEnv, policy: Policy, min_steps: int, generator: torch.Generator, worker: int = 0) -> Rollout:
    """Complete episodes until at least `min_steps` steps; `worker` tags their scenes."""
    start = time.perf_counter()
    taken: list[tuple[Observation, Action]] = []  # (observation, action as applied) per step
    log_probs, rewards, dones = [], [], []
    success, zooms, objects, scenes, families = [], [], [], [], []
    reasons: dict[str, int] = {}
    while len(taken) < min_steps:
        obs = env.reset()
        done = False
        while not done:
            action, log_prob = policy.act(ObsBatch.from_observations([obs]), generator=generator)
            next_obs, reward, done, info = env.step(action)
            taken.append((obs, env.state.last_action))  # a grasp's zoom flag as the env applied it
            log_probs.append(float(log_prob[0]))
            rewards.append(reward)
            dones.append(done)
            obs = next_obs
        success.append(bool(info["success"]))
        zooms.append(int(info["zoom_steps"]))
        objects.append(int(info["object_count"]))
        scenes.append((worker, int(info["scene_id"])))
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
        episode_scene=scenes,
        episode_family=families,
        failure_reasons=reasons,
        seconds=time.perf_counter() - start,
    )


def evaluate_episodes(env: ZoomGraspEnv, policy: Policy, object_count_fn, attempts: int) -> list[bool]:
    """Deterministic (mode) episodes; object_count_fn(rng) gives each scene's object count."""
    results = []
    for _ in range(attempts):
        obs = env.reset(object_count_fn(env.rng))
        done = False
        while not done:
            action, _ = policy.act(ObsBatch.from_observations([obs]), deterministic=True)
            obs, _, done, info = env.step(action)
        results.append(bool(info["success"]))
    return results


def evaluation_env_config(env_config: ZoomEnvConfig) -> ZoomEnvConfig:
    """The held-out evaluation's env: a fresh scene for every attempt (the protocol of
    pa-grasp-eval), whatever the training mix replays."""
    return dataclasses.replace(env_config, clutter_reuse=1, scene_repeats=1)


def _worker(conn, env_config: ZoomEnvConfig, net_config: dict, constraints: dict, seed: int, index: int) -> None:
    torch.set_num_threads(1)
    try:
        policy = Policy(NetworkConfig.from_dict(net_config), DofConstraints.from_dict(constraints))
        policy.eval()
        env = ZoomGraspEnv(env_config, seed=seed)
        generator = torch.Generator().manual_seed(seed)
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                break
            if msg[0] == "collect":
                _, weights, min_steps = msg
                policy.load_state_dict(weights)
                conn.send(("ok", collect(env, policy, min_steps, generator, index)))
            elif msg[0] == "evaluate":
                _, weights, scene, attempts, eval_seed = msg
                policy.load_state_dict(weights)
                eval_env = ZoomGraspEnv(evaluation_env_config(env_config), seed=eval_seed, world=env.world)
                count_fn = (lambda rng: 1) if scene == "single" else (lambda rng: int(rng.integers(2, 31)))
                conn.send(("ok", evaluate_episodes(eval_env, policy, count_fn, attempts)))
    except Exception:  # report, do not hang the trainer
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class WorkerPool:
    """N rollout workers (spawned processes), each with its own world and policy copy."""

    def __init__(self, n_workers: int, env_config: ZoomEnvConfig, policy: Policy, seed: int):
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for i in range(n_workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker,
                args=(child, env_config, policy.config.to_dict(), policy.constraints.to_dict(), seed * 1000 + i, i),
                daemon=True,
            )
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def _gather(self) -> list:
        results = []
        for conn in self.conns:
            status, payload = conn.recv()
            if status != "ok":
                raise RuntimeError(f"rollout worker failed:\n{payload}")
            results.append(payload)
        return results

    def collect(self, policy: Policy, total_steps: int) -> Rollout:
        weights = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
        per_worker = -(-total_steps // len(self.conns))
        for conn in self.conns:
            conn.send(("collect", weights, per_worker))
        return Rollout.concat(self._gather())

    def evaluate(self, policy: Policy, scene: str, attempts: int, seed: int) -> list[bool]:
        weights = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
        per_worker = -(-attempts // len(self.conns))
        for i, conn in enumerate(self.conns):
            conn.send(("evaluate", weights, scene, per_worker, seed + i))
        return sum(self._gather(), [])

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(("close",))
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
