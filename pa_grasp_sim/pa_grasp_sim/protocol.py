"""Grasp-success evaluation over seeded scenes, for any grasp chooser (a baseline, the policy).

Protocol: `attempts` grasp attempts in all, split evenly over `seeds` evaluation seeds; every
attempt is a fresh scene (one object, or a uniformly random 2-30 for "cluttered") drawn from
that seed's generator. Reported: the success rate over all attempts and its standard deviation
across seeds (the paper's "mean ± std").

Every attempt is fixed before anything runs (`attempt_specs`: scene seed and object count; its own
camera-noise and chooser streams), and any world builds its scene bit for bit whatever it built
before, so the attempts can be spread over worker processes or machines in any order and give
the outcomes one process gives (`evaluate` runs them in order in one world). The camera-noise and
chooser streams are per attempt since 2026-12-07 (per seed before: only runs with camera noise
or the random baseline draw differently; the scenes are those of every run since the protocol
was fixed).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.execution import GraspOutcome
from pa_grasp_sim.world import GraspWorld, SceneSnapshot, WorldConfig

# Evaluation scenes draw from seeds far from anything training uses.
EVAL_SEED_BASE = 1_000_000

GraspChooser = Callable[[np.ndarray, GraspWorld, np.random.Generator], GraspCommand]
NO_CHOICE = "no grasp chosen"  # the failure reason of an attempt whose chooser raised NoChoiceError


@dataclass(frozen=True)
class Choice:
    """A chooser's grasp and what it knows of how it chose it: `zoom_steps`, the zoom steps of the
    policy's loop before the grasp (None: the chooser has no zoom loop, e.g. a baseline)."""

    command: GraspCommand
    zoom_steps: int | None = None


def choice_of(choose: GraspChooser, depth: np.ndarray, world: GraspWorld, rng: np.random.Generator) -> Choice:
    """Ask `choose` for its grasp: through its `choice(depth, world, rng) -> Choice` method if it
    has one (the planner's chooser: the command and its zoom steps), else a plain call (a chooser
    is still any callable returning a GraspCommand)."""
    detailed = getattr(choose, "choice", None)
    return detailed(depth, world, rng) if callable(detailed) else Choice(choose(depth, world, rng))


class NoChoiceError(RuntimeError):
    """A chooser could not choose a grasp for this scene (e.g. the planner's twin worker died
    twice): the attempt fails with reason NO_CHOICE, nothing is executed, and the run goes on."""


@dataclass
class EvalConfig:
    scene: str = "single"  # "single" or "cluttered"
    objects: str = "seen"
    attempts: int = 200
    seeds: int = 5
    # Seeds first_seed .. first_seed + seeds - 1. 0 is the reported protocol; choose checkpoints
    # on other seeds (e.g. 100) so the reported scenes never take part in the choice.
    first_seed: int = 0
    min_objects: int = 2
    max_objects: int = 30
    world: WorldConfig = field(default_factory=WorldConfig)

    def __post_init__(self):
        if self.scene not in ("single", "cluttered"):
            raise ValueError(f"scene must be 'single' or 'cluttered', got '{self.scene}'")
        if self.attempts < 1 or self.seeds < 1:
            raise ValueError("attempts and seeds must be at least 1")
        if self.first_seed < 0:
            raise ValueError(f"the first evaluation seed must be 0 or more, got {self.first_seed}")
        if self.seeds > self.attempts:
            raise ValueError(f"{self.seeds} seeds need at least as many attempts, got {self.attempts}")


@dataclass
class EvalResult:
    success_rate: float
    std: float
    attempts: int
    per_seed: list[float]
    failure_reasons: dict[str, int]
    seconds: float
    # Single-object scenes only, to see what fails: name or family -> [successes, attempts].
    per_object: dict[str, list[int]] = field(default_factory=dict)
    per_family: dict[str, list[int]] = field(default_factory=dict)
    # Every attempt's outcome (1 lifted, 0 not), per seed in order: two choosers evaluated on the
    # same scenes can be compared attempt by attempt.
    per_attempt: list[list[int]] = field(default_factory=list)
    # Median ms the chooser took to decide (the policy: its zoom loop), and what it chose, per
    # attempt in the order above: [pitch (deg), spread (deg), mean finger pre-shape (rad)]
    # (attempts without a chosen grasp left out).
    decision_ms: float = float("nan")
    grasps: list[list[float]] = field(default_factory=list)
    # Every attempt, in the order of per_attempt (since 2026-12-08; older JSONs lack the key):
    # {"object", "family" (single scenes, else None), "success", "pitch_deg" (90 = top-down),
    # "spread_deg", "fingers" ([f1, f2, f3] rad), "zoom_steps" (None: a baseline, or no grasp chosen)}.
    grasp_details: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "success_rate": self.success_rate,
            "std": self.std,
            "attempts": self.attempts,
            "per_seed": self.per_seed,
            "failure_reasons": self.failure_reasons,
            "seconds": self.seconds,
            "per_family": self.per_family,
            "per_object": self.per_object,
            "per_attempt": self.per_attempt,
            "decision_ms": self.decision_ms,
            "grasps": self.grasps,
            "grasp_details": self.grasp_details,
        }

    def families_by_success(self) -> list[tuple[str, int, int]]:
        """(family, successes, attempts), lowest success rate first."""
        rows = [(k, s, a) for k, (s, a) in self.per_family.items()]
        return sorted(rows, key=lambda t: (t[1] / t[2], -t[2], t[0]))


def success_stats(outcomes_per_seed: list[list[bool]]) -> tuple[float, float, list[float]]:
    """Overall success rate, std of the per-seed rates (population std), per-seed rates."""
    per_seed = [float(np.mean(o)) for o in outcomes_per_seed if len(o)]
    if not per_seed:
        raise ValueError("no outcomes")
    total = sum(sum(o) for o in outcomes_per_seed) / sum(len(o) for o in outcomes_per_seed)
    return float(total), float(np.std(per_seed)), per_seed


@dataclass(frozen=True)
class AttemptSpec:
    """One attempt of the protocol, fixed before any runs: its evaluation seed, its index among
    that seed's attempts, and its scene (object count and scene seed). Any world builds the same
    scene from it, whatever it built before, so attempts can run anywhere in any order."""

    seed: int
    index: int
    object_count: int
    scene_seed: int

    def sensor_rng(self) -> np.random.Generator:
        """The camera noise's stream (used only with CameraConfig.noise)."""
        return np.random.default_rng([EVAL_SEED_BASE + self.seed, 1, self.index])

    def choose_rng(self) -> np.random.Generator:
        """The chooser's stream (the random baseline, a sampling policy)."""
        return np.random.default_rng([EVAL_SEED_BASE + self.seed, 2, self.index])


def attempt_specs(config: EvalConfig) -> list[AttemptSpec]:
    """Every attempt of the protocol, in order: `attempts` split evenly over the seeds, each seed's
    scenes drawn from its own generator (the scenes of every run since the protocol was fixed)."""
    specs = []
    split = np.array_split(np.arange(config.attempts), config.seeds)
    for s, chunk in enumerate(split, start=config.first_seed):
        scene_rng = np.random.default_rng(EVAL_SEED_BASE + s)
        for index in range(len(chunk)):
            count = (
                1 if config.scene == "single" else int(scene_rng.integers(config.min_objects, config.max_objects + 1))
            )
            specs.append(AttemptSpec(s, index, count, int(scene_rng.integers(2**31))))
    return specs


@dataclass
class ProtocolAttempt:
    """An attempt's scene built in a world: its spec, the placed objects and the depth image."""

    spec: AttemptSpec
    placed: list
    depth: np.ndarray

    @property
    def seed(self) -> int:
        return self.spec.seed


def build_attempt(world: GraspWorld, spec: AttemptSpec) -> ProtocolAttempt:
    placed = world.reset(spec.object_count, seed=spec.scene_seed)
    return ProtocolAttempt(spec, placed, world.render_depth(spec.sensor_rng()))


def protocol_attempts(world: GraspWorld, config: EvalConfig) -> Iterator[ProtocolAttempt]:
    """The protocol's scenes in order, built in `world` one at a time (each is reset before the
    next attempt is yielded). Every consumer sees the same scenes and images."""
    for spec in attempt_specs(config):
        yield build_attempt(world, spec)


@dataclass(frozen=True)
class AttemptRecord:
    """What one attempt gave: its spec, success, the failure reason and, for a single-object
    scene, the object's name and family."""

    spec: AttemptSpec
    success: bool
    reason: str = ""
    object_name: str = ""
    family: str = ""
    decision_s: float = float("nan")  # time in the chooser
    grasp: tuple[float, float, float] | None = None  # pitch (deg), spread (deg), mean finger (rad)
    fingers: tuple[float, float, float] | None = None  # each finger's pre-shape (rad)
    zoom_steps: int | None = None  # the policy's zoom steps before the grasp (None: no zoom loop)

    def details(self) -> dict:
        """The attempt as one entry of EvalResult.grasp_details."""
        chosen = self.grasp is not None
        return {
            "object": self.object_name or None,
            "family": self.family or None,
            "success": self.success,
            "pitch_deg": round(self.grasp[0], 4) if chosen else None,
            "spread_deg": round(self.grasp[1], 4) if chosen else None,
            "fingers": [round(f, 4) for f in self.fingers] if self.fingers is not None else None,
            "zoom_steps": self.zoom_steps,
        }


def run_attempt(
    world: GraspWorld,
    spec: AttemptSpec,
    choose: GraspChooser,
    single_scene: bool,
    on_failure: Callable[[GraspWorld, np.ndarray, SceneSnapshot], None] | None = None,
) -> AttemptRecord:
    """Build the attempt's scene in `world`, let `choose` pick a grasp on its depth image and
    execute it. A NoChoiceError fails the attempt with nothing executed."""
    attempt = build_attempt(world, spec)
    placed, depth = attempt.placed, attempt.depth
    single = placed[0].spec if single_scene and len(placed) == 1 else None
    start = time.perf_counter()
    grasp = fingers = zoom_steps = None
    try:
        choice = choice_of(choose, depth, world, spec.choose_rng())
    except NoChoiceError:
        decision_s = time.perf_counter() - start
        outcome = GraspOutcome(False, NO_CHOICE, reachable=False)
    else:
        decision_s = time.perf_counter() - start
        command = choice.command
        zoom_steps = None if choice.zoom_steps is None else int(choice.zoom_steps)
        fingers = tuple(float(f) for f in command.fingers)
        grasp = (math.degrees(command.pitch), math.degrees(command.spread), float(np.mean(fingers)))
        before = world.snapshot() if on_failure is not None else None
        outcome = world.execute(command, depth)
        if before is not None and not outcome.success:
            on_failure(world, depth, before)
    return AttemptRecord(
        spec,
        bool(outcome.success),
        "" if outcome.success else outcome.reason.split(" with ")[0],
        single.name if single is not None else "",
        single.family if single is not None else "",
        decision_s,
        grasp,
        fingers,
        zoom_steps,
    )


def result_of(records: list[AttemptRecord], seconds: float) -> EvalResult:
    """The EvalResult of a run's records, in whatever order they came."""
    records = sorted(records, key=lambda r: (r.spec.seed, r.spec.index))
    outcomes: dict[int, list[bool]] = {}
    reasons: Counter = Counter()
    per_object: dict[str, list[int]] = {}
    per_family: dict[str, list[int]] = {}
    for r in records:
        outcomes.setdefault(r.spec.seed, []).append(r.success)
        if r.object_name:
            for tallies, key in ((per_object, r.object_name), (per_family, r.family)):
                tally = tallies.setdefault(key, [0, 0])
                tally[0] += int(r.success)
                tally[1] += 1
        if not r.success:
            reasons[r.reason] += 1
    rate, std, per_seed = success_stats(list(outcomes.values()))
    decisions = [r.decision_s for r in records if np.isfinite(r.decision_s)]
    return EvalResult(
        rate,
        std,
        len(records),
        per_seed,
        dict(reasons),
        seconds,
        dict(sorted(per_object.items())),
        dict(sorted(per_family.items())),
        [[int(o) for o in outcomes[s]] for s in sorted(outcomes)],
        float(1000 * np.median(decisions)) if decisions else float("nan"),
        [[round(x, 4) for x in r.grasp] for r in records if r.grasp is not None],
        [r.details() for r in records],
    )


def evaluate(
    choose: GraspChooser,
    config: EvalConfig,
    progress: Callable[[int, int, float], None] | None = None,
    world: GraspWorld | None = None,
    on_failure: Callable[[GraspWorld, np.ndarray, SceneSnapshot], None] | None = None,
) -> EvalResult:
    """Run the protocol in one world, attempt after attempt. `on_failure(world, depth, snapshot)`,
    if given, is called after every failed attempt with the scene as it was before the grasp (to
    ask what else would have lifted it); it may change the world, as the next attempt builds a new
    scene."""
    own_world = world is None
    world = world or GraspWorld(config.world, config.objects, seed=EVAL_SEED_BASE)
    start = time.perf_counter()
    records: list[AttemptRecord] = []
    try:
        for spec in attempt_specs(config):
            records.append(run_attempt(world, spec, choose, config.scene == "single", on_failure))
            if progress is not None:
                progress(len(records), config.attempts, float(np.mean([r.success for r in records])))
    finally:
        if own_world:
            world.close()
    return result_of(records, time.perf_counter() - start)
