"""Rollout collection: worker processes, each with its own PyBullet world and a CPU copy of
the policy, collect whole episodes of the zoom MDP with the current weights.

Workers talk to the trainer over pipes: ("collect", weights, min_steps, corrections, max_probes) ->
Rollout;
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

from pa_grasp_policy.demonstration import correction_steps
from pa_grasp_policy.distribution import Action, DofConstraints
from pa_grasp_policy.network import NetworkConfig
from pa_grasp_policy.policy import ObsBatch, Policy
from pa_grasp_policy.zoom import Observation, run_zoom_loop
from pa_grasp_policy.zoom_env import ZoomEnvConfig, ZoomGraspEnv, action_to_command
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.grasp_probe import lifting_grasps, lifting_grid_grasps, neighbours, other_kinds, robust_lifting_grasp

# The per-step arrays of LabelledSteps and of a Rollout, in field order.
LABEL_FIELDS = ("depth", "scale", "must_grasp", "pixel", "zoom", "scale_raw", "dofs_raw")
STEP_FIELDS = (*LABEL_FIELDS, "log_prob", "reward", "done")
# None, or where `collect` looks for a lifting grasp; "local+mode" also checks the deterministic
# policy (the one evaluated and served) on every new single-object scene and corrects it the same way;
# "local+far" tries grasps of another kind at the same pixel when no small change lifts the object;
# "local+robust" takes only a small change that also lifts with small execution errors.
CORRECTIONS = ("", "grid", "local", "local+mode", "local+far", "local+robust", "local+mode+robust")


@dataclass
class LabelledSteps:
    """Observations and the actions taken (or to take) in them, flattened: depth (N,1,S,S)
    float16 to halve the pipe load."""

    depth: np.ndarray
    scale: np.ndarray
    must_grasp: np.ndarray
    pixel: np.ndarray
    zoom: np.ndarray
    scale_raw: np.ndarray
    dofs_raw: np.ndarray

    def __len__(self) -> int:
        return len(self.pixel)

    @staticmethod
    def from_steps(steps: list[tuple[Observation, Action]]) -> LabelledSteps:
        return LabelledSteps(
            np.stack([np.asarray(o.depth, dtype=np.float16) for o, _ in steps]),
            np.asarray([o.scale for o, _ in steps], dtype=np.float32),
            np.asarray([o.must_grasp for o, _ in steps], dtype=bool),
            np.asarray([int(a.pixel[0]) for _, a in steps], dtype=np.int64),
            np.asarray([float(a.zoom[0]) for _, a in steps], dtype=np.float32),
            np.asarray([float(a.scale_raw[0]) for _, a in steps], dtype=np.float32),
            np.stack([a.dofs_raw[0].numpy() for _, a in steps]).astype(np.float32),
        )

    @staticmethod
    def concat(parts: list[LabelledSteps]) -> LabelledSteps | None:
        parts = [p for p in parts if p is not None and len(p)]
        if not parts:
            return None
        return LabelledSteps(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in LABEL_FIELDS})

    def index(self, idx) -> LabelledSteps:
        return LabelledSteps(**{k: getattr(self, k)[idx] for k in LABEL_FIELDS})

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


@dataclass
class Rollout(LabelledSteps):
    """Steps of complete episodes with their log-probabilities and rewards, plus (optionally)
    corrections of its failed single-object episodes (`collect`)."""

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
    corrections: LabelledSteps | None = None  # failed episodes relabelled with a lifting grasp
    failures_probed: int = 0  # failed single-object episodes searched for a lifting grasp
    failures_corrected: int = 0  # ... and where some candidate lifted the object
    mode_checked: int = 0  # new single-object scenes where the deterministic policy was tried ("local+mode")
    mode_failed: int = 0  # ... where its grasp did not lift the object
    mode_corrected: int = 0  # ... and where a small change of that grasp did

    def __len__(self) -> int:
        return len(self.reward)

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
            corrections=LabelledSteps.concat([p.corrections for p in parts]),
            failures_probed=sum(p.failures_probed for p in parts),
            failures_corrected=sum(p.failures_corrected for p in parts),
            mode_checked=sum(p.mode_checked for p in parts),
            mode_failed=sum(p.mode_failed for p in parts),
            mode_corrected=sum(p.mode_corrected for p in parts),
        )

    def success_by_family(self) -> dict[str, tuple[int, int]]:
        """Single-object episodes: family -> (successes, episodes)."""
        out: dict[str, tuple[int, int]] = {}
        for family, success in zip(self.episode_family, self.episode_success):
            if family:
                s, n = out.get(family, (0, 0))
                out[family] = (s + int(success), n + 1)
        return out


def collect(
    env: ZoomGraspEnv,
    policy: Policy,
    min_steps: int,
    generator: torch.Generator,
    worker: int = 0,
    corrections: str = "",
    max_probes: int | None = None,
) -> Rollout:
    """Complete episodes until at least `min_steps` steps; `worker` tags their scenes.

    With `corrections`, every failed single-object episode is relabelled with a grasp that lifts
    the object on that scene, tried on the scene as built (`demonstration.correction_steps`,
    gathered in `Rollout.corrections`), when there is one among the candidates: "grid" = the
    grasp probe's 16 grasps at the object's top (tried once per scene), "local" = small changes
    of the policy's own failed grasp (`grasp_probe.neighbours`, tried per failed episode),
    "local+far" = those, then grasps of another kind at its pixel (`grasp_probe.other_kinds`);
    "local+robust" = the first small change that lifts the object also with at least 3 of 4 small
    execution errors (`grasp_probe.robust_lifting_grasp`), so that a lucky lift is no label. Each
    probe costs up to a dozen simulated grasps (more with robust): `max_probes` bounds them per call. "local+mode"
    adds, on every new single-object scene, the deterministic policy's episode on the same image:
    when its grasp fails, it is corrected like a failed sample (outside the `max_probes` budget:
    these failures are the ones evaluation counts); "local+mode+robust" both, every label robust."""
    if corrections not in CORRECTIONS:
        raise ValueError(f"corrections must be one of {CORRECTIONS}, got '{corrections}'")
    start = time.perf_counter()
    out = Rollout(*[np.zeros(0)] * 10)
    taken: list[tuple[Observation, Action]] = []  # (observation, action as applied) per step
    log_probs, rewards, dones = [], [], []
    reasons: dict[str, int] = {}
    lifting: dict[int, GraspCommand | None] = {}  # scene id -> its correction grasp
    corrected: list[tuple[Observation, Action]] = []
    while len(taken) < min_steps:
        obs = env.reset()
        episode = []
        done = False
        while not done:
            action, log_prob = policy.act(ObsBatch.from_observations([obs]), generator=generator)
            next_obs, reward, done, info = env.step(action)
            episode.append((obs, env.state.last_action))  # a grasp's zoom flag as the env applied it
            log_probs.append(float(log_prob[0]))
            rewards.append(reward)
            dones.append(done)
            obs = next_obs
        taken += episode
        out.episode_success.append(bool(info["success"]))
        out.episode_zooms.append(int(info["zoom_steps"]))
        out.episode_objects.append(int(info["object_count"]))
        out.episode_scene.append((worker, int(info["scene_id"])))
        out.episode_family.append(str(info["family"]))
        if not info["success"]:
            key = info["reason"].split(" with ")[0]
            reasons[key] = reasons.get(key, 0) + 1
            if corrections and info["object_count"] == 1:
                scene = int(info["scene_id"])
                budget_left = max_probes is None or out.failures_probed < max_probes
                if budget_left and (corrections != "grid" or scene not in lifting):
                    lifting[scene] = _lifting_correction(env, corrections)
                    out.failures_probed += 1
                    out.failures_corrected += lifting[scene] is not None
                if lifting.get(scene) is not None:
                    corrected += correction_steps(episode, env.depth, lifting[scene], env.config.zoom)
        if corrections.startswith("local+mode") and info["object_count"] == 1 and env.scene_is_new:
            lifted, steps = _mode_correction(env, policy, robust=corrections.endswith("+robust"))
            out.mode_checked += 1
            out.mode_failed += not lifted
            out.mode_corrected += steps is not None
            corrected += steps or []
    labels = LabelledSteps.from_steps(taken)
    for k in LABEL_FIELDS:
        setattr(out, k, getattr(labels, k))
    out.log_prob = np.asarray(log_probs, dtype=np.float32)
    out.reward = np.asarray(rewards, dtype=np.float32)
    out.done = np.asarray(dones, dtype=bool)
    out.failure_reasons = reasons
    out.corrections = LabelledSteps.from_steps(corrected) if corrected else None
    out.seconds = time.perf_counter() - start
    return out


def _lifting_correction(env: ZoomGraspEnv, mode: str) -> GraspCommand | None:
    """The first grasp among `mode`'s candidates that lifts the object of the episode just
    failed, tried on its scene as built (restored after); None when none does."""
    if mode != "grid":
        failed = action_to_command(env.state.last_action, env.state.grasp_uv)
        return _lifting_neighbour(env, failed, far=mode == "local+far", robust=mode.endswith("+robust"))
    found = lifting_grid_grasps(env.world, env.depth, env.scene_snapshot, first_only=True)
    return found[0][1] if found else None


def _lifting_neighbour(
    env: ZoomGraspEnv, failed: GraspCommand, far: bool = False, robust: bool = False
) -> GraspCommand | None:
    """The first small change of `failed` (`grasp_probe.neighbours`), then with `far` the first
    grasp of another kind at its pixel (`grasp_probe.other_kinds`), that lifts the object on the
    current scene as built (restored after), with `robust` also under small errors; None when
    none does."""
    candidates = neighbours(failed, env.depth.shape[1], env.depth.shape[0])
    if far:
        candidates += other_kinds(failed)
    if robust:
        found = robust_lifting_grasp(env.world, env.depth, env.scene_snapshot, candidates)
        return found[1] if found else None
    found = lifting_grasps(env.world, env.depth, env.scene_snapshot, candidates, first_only=True)
    return found[0][1] if found else None


def _mode_correction(
    env: ZoomGraspEnv, policy: Policy, robust: bool = False
) -> tuple[bool, list[tuple[Observation, Action]] | None]:
    """The deterministic policy's episode on the current scene's image, its grasp tried on the
    scene as built: (lifted, None) or (False, its steps relabelled with the first small change of
    its grasp that lifts the object, with `robust` also under small errors, or None when none
    does). The world is left as built."""
    with torch.no_grad():
        result = run_zoom_loop(env.depth, policy.actor(deterministic=True), env.config.zoom)
    command = action_to_command(result.final_action, result.grasp_uv)
    if lifting_grasps(env.world, env.depth, env.scene_snapshot, [(0, command)]):
        return True, None
    lifting = _lifting_neighbour(env, command, robust=robust)
    if lifting is None:
        return False, None
    episode = [(step.observation, step.action) for step in result.steps]
    return False, correction_steps(episode, env.depth, lifting, env.config.zoom)


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
    """The held-out evaluation's env: a fresh scene for every attempt, objects drawn uniformly
    (the protocol of pa-grasp-eval), whatever the training mix replays, favours or re-tries."""
    uniform = dataclasses.replace(env_config.scenes, family_weights={})
    return dataclasses.replace(env_config, clutter_reuse=1, scene_repeats=1, reward_trials=1, scenes=uniform)


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
                _, weights, min_steps, corrections, max_probes = msg
                policy.load_state_dict(weights)
                conn.send(("ok", collect(env, policy, min_steps, generator, index, corrections, max_probes)))
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

    def collect(
        self, policy: Policy, total_steps: int, corrections: str = "", max_probes: int | None = None
    ) -> Rollout:
        weights = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
        per_worker = -(-total_steps // len(self.conns))
        probes = None if max_probes is None else -(-max_probes // len(self.conns))
        for conn in self.conns:
            conn.send(("collect", weights, per_worker, corrections, probes))
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
