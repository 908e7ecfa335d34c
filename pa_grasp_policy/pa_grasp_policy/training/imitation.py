"""`pa-grasp-imitate`: warm-start the policy from a privileged teacher before PPO.

Not in the paper. On this machine PPO from scratch plateaued at ~40% deterministic success
after 8k grasp attempts (two cores, ~1 h): the paper's 14 actors and many hours are out of
reach. So the policy first imitates demonstrations from `pa_grasp_sim.teacher` (several kinds
of grasp tried in the simulator, the one that lifted most robustly under small pose errors), then
PPO fine-tunes it (`pa-grasp-train --init`).

Imitation maximises the policy's own eq. 9 log-probability of the demonstrated zoom episode
(the yaw label taken modulo a half turn, see `imitation_loss`): the teacher's zooms onto the
grasped object (`zoom_scales`: one step when it stands alone, more among neighbours; a file
without them zooms once by `demo_zoom_scale`), then the grasp at the same point of the last view
with the demonstrated orientation and pre-shape (the no-attention ablation: one grasp step on
the full view). The learned σ's are frozen (they are PPO's exploration noise and
would collapse on deterministic targets); only the means and the position map are fitted.

Read top to bottom: collect (worker processes, one PyBullet world each) -> steps -> fit
(Adam, minibatches, a held-out split scored by running the deterministic zoom loop) ->
checkpoint every epoch (atomic, with config and counters).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_policy.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, write_atomically
from pa_grasp_policy.model.distribution import Action
from pa_grasp_policy.model.network import NetworkConfig
from pa_grasp_policy.model.policy import ObsBatch, Policy
from pa_grasp_policy.model.zoom import ZoomConfig, run_zoom_loop
from pa_grasp_policy.parallel.jobs import map_jobs
from pa_grasp_policy.training.config import ABLATIONS, TrainConfig
from pa_grasp_policy.training.demonstration import demonstration_steps, yaw_nearest_half_turn
from pa_grasp_sim.teacher import canonical, wrap_half_turn

DEMO_FILE = "demos.npz"
MAX_DEMO_ZOOMS = 4  # columns of a demonstration file's zoom_scales
DEMO_ARRAYS = ("depth", "command", "object_count", "zoom_scales", "kind", "robustness")


@dataclasses.dataclass
class ImitationConfig:
    out: str = "runs/imitation"
    demos: int = 6000
    demos_file: str = ""  # reuse demonstrations collected before, comma-separated files (skips collection)
    ablation: str = "full"
    input_size: int = 96
    max_zoom_steps: int = 4
    min_crop_px: float = 16.0
    max_objects: int = 30
    single_probability: float = 0.5  # of a demonstration scene holding one object (else 2..max_objects)
    demo_zoom_scale: float = 0.4  # zoom of demonstration files without the teacher's zooms (before issue 51)
    epochs: int = 4
    batch_size: int = 96
    lr: float = 1e-3
    validation_fraction: float = 0.05
    augment: bool = True  # random quarter turns / mirrorings per epoch (top-down camera only)
    init: str = ""  # start from this checkpoint's weights (default: a fresh network)
    workers: int = 2
    ray: str = ""  # collect demonstrations on Ray: local | auto | a head's address ("": processes)
    threads: int = 2
    seed: int = 0

    def train_config(self) -> TrainConfig:
        """The PPO run this warm-starts: same ablation, input, zoom and scene distribution."""
        return TrainConfig(
            ablation=self.ablation,
            input_size=self.input_size,
            max_zoom_steps=self.max_zoom_steps,
            min_crop_px=self.min_crop_px,
            max_objects=self.max_objects,
            single_probability=self.single_probability,
            seed=self.seed,
        )


# -- collection -------------------------------------------------------------------------------


def _collect_chunk(cfg_dict: dict, count: int, seed: int) -> dict:
    """One worker: its own world, `count` demonstrations from seed `seed`."""
    torch.set_num_threads(1)
    from pa_grasp_sim.teacher import GRASP_KINDS, collect_demonstrations
    from pa_grasp_sim.world import GraspWorld

    cfg = ImitationConfig(**cfg_dict)
    env_cfg = cfg.train_config().env_config()
    rng = np.random.default_rng(seed)
    with GraspWorld(env_cfg.world, env_cfg.objects, seed=seed) as world:
        demos, decisions = collect_demonstrations(world, count, env_cfg.scenes, rng)
    zooms = np.full((len(demos), MAX_DEMO_ZOOMS), np.nan, dtype=np.float32)  # NaN: no further zoom
    for row, d in zip(zooms, demos):
        row[: len(d.zoom_scales)] = d.zoom_scales
    return {
        "zoom_scales": zooms,
        "kind": np.array([GRASP_KINDS.index(d.kind) for d in demos], dtype=np.int8),
        "robustness": np.array([d.robustness for d in demos], dtype=np.float32),
        "depth": np.stack([d.depth for d in demos]).astype(np.float16),
        "command": np.array(
            [[c.u, c.v, c.roll, c.pitch, c.yaw, c.spread, *c.fingers] for c in (d.command for d in demos)],
            dtype=np.float32,
        ),
        "object_count": np.array([d.object_count for d in demos], dtype=np.int32),
        "decisions": decisions,
    }


def collect(cfg: ImitationConfig, path: Path, chunk: int = 50) -> dict:
    """Demonstrations in chunks of `chunk`, each from its own seed, on `cfg.workers` processes (or
    Ray with `cfg.ray`), saved to path in chunk order: the same file whatever ran where."""
    from tqdm import tqdm

    jobs = [
        (dataclasses.asdict(cfg), min(chunk, cfg.demos - i), cfg.seed * 1_000_003 + 7919 * k)
        for k, i in enumerate(range(0, cfg.demos, chunk))
    ]
    start = time.perf_counter()
    with tqdm(total=cfg.demos, unit="demo", dynamic_ncols=True) as bar:

        def progress(index, part):
            bar.update(len(part["command"]))
            sys.stdout.flush()

        parts = map_jobs(_collect_chunk, jobs, cfg.workers, cfg.ray or None, progress)
    data = {k: np.concatenate([p[k] for p in parts]) for k in DEMO_ARRAYS}
    decisions = int(sum(p["decisions"] for p in parts))
    data["teacher_success"] = np.array(len(data["command"]) / max(decisions, 1))
    data["collect_seconds"] = np.array(time.perf_counter() - start)
    write_atomically(path, lambda f: np.savez_compressed(f, **data))
    print(
        f"{len(data['command'])} demonstrations in {float(data['collect_seconds']):.0f} s "
        f"(teacher found a lifting grasp in {float(data['teacher_success']):.1%} of {decisions} decisions) -> {path}",
        flush=True,
    )
    return data


def load_demos(paths: str | Path) -> dict:
    """One or more demonstration files (comma-separated), concatenated."""
    parts = []
    for path in [Path(p) for p in str(paths).split(",") if p.strip()]:
        if not path.is_file():
            raise FileNotFoundError(f"demonstration file not found: {path}")
        try:
            with np.load(path) as f:
                data = {k: f[k] for k in f.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a readable demonstration file: {exc}") from exc
        missing = {"depth", "command", "object_count"} - set(data)
        if missing:
            raise ValueError(f"{path} is not a demonstration file (missing {sorted(missing)})")
        parts.append(data)
    if not parts:
        raise ValueError("no demonstration file given")
    # The teacher's zooms, kinds and robustness only where every file has them (older files zoom once).
    keys = [k for k in DEMO_ARRAYS if all(k in p for p in parts)]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    n = [len(p["command"]) for p in parts]
    for key in ("teacher_success", "collect_seconds"):  # demo-weighted / summed over the files
        if all(key in p for p in parts):
            values = [float(p[key]) for p in parts]
            merged[key] = np.array(
                sum(v * k for v, k in zip(values, n)) / sum(n) if key == "teacher_success" else sum(values)
            )
    return merged


def demo_zooms(data: dict, default_scale: float) -> list[tuple[float, ...]]:
    """Each demonstration's zoom scales; a file collected before the teacher chose them zooms
    once by `default_scale`."""
    if "zoom_scales" not in data:
        return [(default_scale,)] * len(data["command"])
    return [tuple(float(x) for x in row if np.isfinite(x)) for row in data["zoom_scales"]]


def commands_from(data: dict) -> list[GraspCommand]:
    return [GraspCommand(*map(float, c[:5]), float(c[5]), tuple(float(x) for x in c[6:9])) for c in data["command"]]


# -- fitting ----------------------------------------------------------------------------------


def dihedral(depth: np.ndarray, command: GraspCommand, k: int) -> tuple[np.ndarray, GraspCommand]:
    """The k-th (0..7) of the 8 quarter-turn rotations / mirrorings of a top-down demonstration.

    With the camera looking straight down through the image centre, rotating the image by a
    quarter turn is the scene turned by a quarter turn about the vertical axis (the grasp yaw
    turns with it), and mirroring the image is the mirrored scene (yaw -> -yaw; the BH-280 is
    mirror-symmetric with fingers 1 and 2 swapped). Yaw is kept modulo a half turn, like the
    teacher's (a tilted approach keeps its direction: `canonical`). Verified against the
    heuristic's yaw on rotated and mirrored renders."""
    h, w = depth.shape
    if h != w:
        raise ValueError(f"dihedral augmentation needs a square image, got {depth.shape}")
    u, v, yaw = command.u, command.v, command.yaw
    if k >= 4:  # mirror left-right first
        depth, u, yaw = depth[:, ::-1], w - 1 - u, -yaw
    for _ in range(k % 4):  # np.rot90: new[i, j] = old[j, w - 1 - i]
        depth, u, v, yaw = np.rot90(depth), v, w - 1 - u, yaw + math.pi / 2
    turned = dataclasses.replace(command, u=float(u), v=float(v), yaw=float(yaw))
    return np.ascontiguousarray(depth), canonical(turned)


def steps_dataset(
    depths, commands, zooms, zoom: ZoomConfig, rng: np.random.Generator | None = None
) -> tuple[ObsBatch, Action]:
    """Every demonstration's zoom episode (`zooms`: each one's zoom scales); with `rng`, each one
    turned/mirrored at random (`dihedral`) -- a fresh draw per epoch multiplies the data by up to 8."""
    observations, actions = [], []
    for depth, command, scales in zip(depths, commands, zooms):
        depth = np.asarray(depth, dtype=np.float32)
        if rng is not None:
            depth, command = dihedral(depth, command, int(rng.integers(8)))
        for obs, action in demonstration_steps(depth, command, zoom, scales):
            observations.append(obs)
            actions.append(action)
    return ObsBatch.from_observations(observations), Action.cat(actions)


def imitation_loss(policy: Policy, obs: ObsBatch, actions: Action) -> torch.Tensor:
    """Mean -log π(a|s) (eq. 9) of demonstrated steps. A parallel grip turned by half a turn is
    the same grasp, so the demonstrated yaw (raw, in [-0.5, 0.5)) is taken as whichever of its
    half-turn equivalents (raw yaw ± 1) within [-0.75, 0.75] is nearest the policy's current
    mean: otherwise objects lying across the canonical range's edge (yaw near ±pi/2) would teach
    two opposite labels for one image. The bound keeps targets clear of the tanh mean's
    saturation at ±1 (targets there drive the pre-activation to infinity)."""
    dist, _ = policy.distribution(obs)
    dofs = yaw_nearest_half_turn(actions.dofs_raw, dist.params_at(actions.pixel).dof_mean)
    return -dist.log_prob(dataclasses.replace(actions, dofs_raw=dofs)).mean()


@torch.no_grad()
def score(policy: Policy, depths, commands, zoom: ZoomConfig) -> dict:
    """Deterministic zoom loop on held-out demonstrations: grasp-pixel and yaw error."""
    policy.eval()
    pixel_err, yaw_err, zooms = [], [], []
    act = policy.actor(deterministic=True)
    for depth, command in zip(depths, commands):
        result = run_zoom_loop(np.asarray(depth, dtype=np.float32), act, zoom)
        pixel_err.append(math.hypot(result.grasp_uv[0] - command.u, result.grasp_uv[1] - command.v))
        d = wrap_half_turn(result.grasp_rpy[2] - command.yaw)  # a half-turned grip is the same grasp
        yaw_err.append(abs(d))
        zooms.append(result.n_zooms)
    return {
        "pixel_error_median": float(np.median(pixel_err)),
        "pixel_within_3px": float(np.mean(np.array(pixel_err) <= 3)),
        "yaw_error_median_deg": float(np.degrees(np.median(yaw_err))),
        "zooms": float(np.mean(zooms)),
    }


def fit(cfg: ImitationConfig, data: dict) -> Path:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    train_cfg = cfg.train_config()
    zoom = train_cfg.env_config().zoom
    if cfg.init:
        policy, _ = load_checkpoint(cfg.init)
        if policy.config.input_size != cfg.input_size:  # fully convolutional: the weights fit any size
            print(f"{cfg.init}: input size {policy.config.input_size} -> {cfg.input_size} (same weights)")
            policy.net.set_input_size(cfg.input_size)
        policy.constraints = train_cfg.constraints()
    else:
        policy = Policy(NetworkConfig(input_size=cfg.input_size, init_std=train_cfg.init_std), train_cfg.constraints())
    policy.net.log_std.requires_grad_(False)
    commands = commands_from(data)
    n = len(commands)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(n)
    n_val = max(1, int(round(cfg.validation_fraction * n)))
    val_idx, train_idx = order[:n_val], order[n_val:]
    print(f"building zoom steps for {len(train_idx)} training / {n_val} held-out demonstrations", flush=True)
    augment = cfg.augment and train_cfg.ablation != "camera60"  # a tilted camera has no such symmetry
    zooms = demo_zooms(data, cfg.demo_zoom_scale)
    train_depths, train_commands = data["depth"][train_idx], [commands[i] for i in train_idx]
    train_zooms = [zooms[i] for i in train_idx]
    obs, actions = steps_dataset(train_depths, train_commands, train_zooms, zoom, rng if augment else None)
    val_depths, val_commands = data["depth"][val_idx], [commands[i] for i in val_idx]
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=cfg.epochs * math.ceil(len(obs) / cfg.batch_size)
    )
    counters = {
        "imitation_demos": n,
        "imitation_steps": len(obs),
        "imitation_epochs": 0,
        "wall_time_s": 0.0,
        "teacher_success": float(data.get("teacher_success", float("nan"))),
        "imitation_collect_s": float(data.get("collect_seconds", float("nan"))),
    }
    run_config = {
        "imitation": dataclasses.asdict(cfg),
        "train": dataclasses.asdict(train_cfg),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(f"before: {json.dumps(score(policy, val_depths, val_commands, zoom))}", flush=True)
    from tqdm import tqdm

    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        if augment and epoch > 0:
            obs, actions = steps_dataset(train_depths, train_commands, train_zooms, zoom, rng)
        policy.train()
        perm = torch.randperm(len(obs))
        losses = []
        bar = tqdm(range(0, len(obs), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}", dynamic_ncols=True)
        for i in bar:
            idx = perm[i : i + cfg.batch_size]
            loss = imitation_loss(policy, obs.index(idx), actions.index(idx))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 20.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(nll=f"{np.mean(losses[-20:]):.2f}")
        bar.close()
        counters["imitation_epochs"] = epoch + 1
        counters["wall_time_s"] = counters["imitation_fit_s"] = time.perf_counter() - start
        metrics = score(policy, val_depths, val_commands, zoom)
        counters["held_out"] = metrics
        print(f"epoch {epoch + 1} nll {np.mean(losses):.3f} held-out {json.dumps(metrics)}", flush=True)
        save_checkpoint(out / "latest.pt", policy, None, run_config, counters)
    return out / "latest.pt"


def parse_args(argv=None) -> ImitationConfig:
    d = ImitationConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=d.out, help="run directory: demos.npz and latest.pt")
    p.add_argument("--demos", type=int, default=d.demos, help="demonstrations to collect")
    p.add_argument("--demos-file", default=d.demos_file, help="reuse a demos.npz instead of collecting")
    p.add_argument("--ablation", choices=ABLATIONS, default=d.ablation)
    p.add_argument("--input-size", type=int, default=d.input_size)
    p.add_argument(
        "--max-objects", type=int, default=d.max_objects, help="demonstration clutter: 2..N objects per scene"
    )
    p.add_argument(
        "--single-probability",
        type=float,
        default=d.single_probability,
        help=f"chance that a demonstration scene holds one object (default {d.single_probability})",
    )
    p.add_argument("--demo-zoom-scale", type=float, default=d.demo_zoom_scale)
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random quarter turns / mirrorings")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--init", default=d.init, help="start from this checkpoint's weights")
    p.add_argument("--workers", type=int, default=d.workers, help="processes (or Ray actors) collecting demonstrations")
    p.add_argument(
        "--ray", default=d.ray, metavar="local|auto|ADDRESS", help="collect on Ray (README, Training on a cluster)"
    )
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--seed", type=int, default=d.seed)
    a = p.parse_args(argv)
    cfg = dataclasses.replace(d, **{k: v for k, v in vars(a).items()})
    if cfg.demos < 2 or cfg.epochs < 1 or cfg.workers < 1:
        p.error("--demos must be >= 2, --epochs and --workers >= 1")
    if not 0 < cfg.demo_zoom_scale <= 1:
        p.error("--demo-zoom-scale must be in (0, 1]")
    return cfg


def main(argv=None) -> int:
    cfg = parse_args(argv)
    try:
        data = load_demos(cfg.demos_file) if cfg.demos_file else collect(cfg, Path(cfg.out) / DEMO_FILE)
        ckpt = fit(cfg, data)
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"pa-grasp-imitate: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint: {ckpt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
