"""Pure metric code of the benchmark report (no simulator, no torch): tested on constructed
outcomes.

- Grasp success rate: successful attempts / attempts. Over several evaluation seeds: the rate
  over all attempts, and the (population) standard deviation of the per-seed rates, the
  paper's "mean ± std" (same definition as ``pa_grasp_sim.protocol.success_stats``).
- Clutter clearing (the paper's real-world test, VGN/GIGA's simulated benchmark): a scene of N
  objects is grasped until it is cleared, after ``max_consecutive_failures`` failures in a
  row, or after ``max_attempts`` attempts. A round is described by the objects removed by each
  attempt (0 = a failed attempt; a success usually removes 1, may remove more when the hand
  lifts two objects at once). Grasp success rate = successes / attempts; declutter rate =
  objects removed / objects presented.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

STOP_CLEARED = "cleared"
STOP_FAILURES = "consecutive_failures"
STOP_LIMIT = "step_limit"
STOP_REASONS = (STOP_CLEARED, STOP_FAILURES, STOP_LIMIT)


def success_rate(outcomes: Sequence[bool]) -> float:
    """Fraction of successful attempts; ValueError for no attempts."""
    if len(outcomes) == 0:
        raise ValueError("no outcomes")
    return float(np.mean([bool(o) for o in outcomes]))


def ratio_stats(numerators: Sequence[float], denominators: Sequence[float]) -> tuple[float, float, list[float]]:
    """Per-seed numerator/denominator pairs -> (pooled rate sum(n)/sum(d), population std of the
    per-seed rates, per-seed rates). Seeds with a zero denominator are left out of the std."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators vs {len(denominators)} denominators")
    total = float(sum(denominators))
    if total <= 0:
        raise ValueError("nothing to divide by (no attempts / no objects)")
    per_seed = [float(n) / float(d) for n, d in zip(numerators, denominators) if d > 0]
    return float(sum(numerators)) / total, float(np.std(per_seed)), per_seed


def seed_stats(outcomes_per_seed: Sequence[Sequence[bool]]) -> tuple[float, float, list[float]]:
    """Success over all attempts, std of the per-seed success rates, per-seed rates."""
    return ratio_stats([sum(bool(o) for o in s) for s in outcomes_per_seed], [len(s) for s in outcomes_per_seed])


def declutter_rate(removed: int | Sequence[int], presented: int | Sequence[int]) -> float:
    """Objects removed / objects presented (scalars, or one value per round)."""
    r = removed if isinstance(removed, int | float) else sum(removed)
    p = presented if isinstance(presented, int | float) else sum(presented)
    if p <= 0:
        raise ValueError("no objects presented")
    if r < 0 or r > p:
        raise ValueError(f"removed {r} objects out of {p} presented")
    return float(r) / float(p)


def max_attempts_for(n_objects: int, factor: float = 2.0) -> int:
    """The step limit of a clutter round: factor x objects attempts (at least 1)."""
    return max(1, int(math.ceil(factor * n_objects)))


def stop_reason(
    removed_per_attempt: Sequence[int],
    presented: int,
    max_attempts: int,
    max_consecutive_failures: int = 2,
) -> str | None:
    """Why a clutter round is over after these attempts, or None to keep grasping.

    Checked in this order: cleared (every presented object removed), ``max_consecutive_failures``
    failed attempts in a row, ``max_attempts`` attempts made.
    """
    if max_attempts < 1 or max_consecutive_failures < 1:
        raise ValueError("max_attempts and max_consecutive_failures must be at least 1")
    removed = [int(r) for r in removed_per_attempt]
    if any(r < 0 for r in removed):
        raise ValueError("an attempt cannot remove a negative number of objects")
    if sum(removed) >= presented:
        return STOP_CLEARED
    tail = removed[-max_consecutive_failures:]
    if len(tail) == max_consecutive_failures and not any(tail):
        return STOP_FAILURES
    if len(removed) >= max_attempts:
        return STOP_LIMIT
    return None


@dataclass
class ClutterRound:
    """One clutter-clearing round: objects presented, objects removed by each attempt, why it
    stopped (one of STOP_REASONS)."""

    presented: int
    removed_per_attempt: list[int]
    stop: str

    @property
    def attempts(self) -> int:
        return len(self.removed_per_attempt)

    @property
    def successes(self) -> int:
        return sum(1 for r in self.removed_per_attempt if r > 0)

    @property
    def removed(self) -> int:
        return min(sum(self.removed_per_attempt), self.presented)

    @property
    def cleared(self) -> bool:
        return self.stop == STOP_CLEARED

    def to_dict(self) -> dict:
        return {**asdict(self), "attempts": self.attempts, "successes": self.successes, "removed": self.removed}


def clutter_round(
    removed_per_attempt: Sequence[int],
    presented: int,
    max_attempts: int,
    max_consecutive_failures: int = 2,
) -> ClutterRound:
    """Apply the stopping rules to a sequence of attempt results (objects removed by each, True
    = 1, False = 0): the round is cut at the first attempt after which it is over. A sequence
    that ends before any rule fires raises ValueError (the round is not over yet)."""
    done: list[int] = []
    reason = stop_reason(done, presented, max_attempts, max_consecutive_failures)
    for r in removed_per_attempt:
        if reason is not None:
            break
        done.append(int(r))
        reason = stop_reason(done, presented, max_attempts, max_consecutive_failures)
    if reason is None:
        raise ValueError(f"the round is not over after {len(done)} attempts (no stopping rule fired)")
    return ClutterRound(int(presented), done, reason)


def summarize_clutter(rounds_per_seed: Sequence[Sequence[ClutterRound]]) -> dict:
    """Grasp success rate and declutter rate (pooled, ± std over seeds) of clutter rounds."""
    seeds = [list(s) for s in rounds_per_seed if len(s)]
    if not seeds:
        raise ValueError("no clutter rounds")
    all_rounds = [r for s in seeds for r in s]
    attempts = [sum(r.attempts for r in s) for s in seeds]
    successes = [sum(r.successes for r in s) for s in seeds]
    removed = [sum(r.removed for r in s) for s in seeds]
    presented = [sum(r.presented for r in s) for s in seeds]
    if sum(attempts) > 0:
        sr, sr_std, sr_seed = ratio_stats(successes, attempts)
    else:
        sr, sr_std, sr_seed = float("nan"), float("nan"), []
    dr, dr_std, dr_seed = ratio_stats(removed, presented)
    return {
        "rounds": len(all_rounds),
        "attempts": int(sum(attempts)),
        "successes": int(sum(successes)),
        "removed": int(sum(removed)),
        "presented": int(sum(presented)),
        "grasp_success_rate": sr,
        "grasp_success_std": sr_std,
        "grasp_success_per_seed": sr_seed,
        "declutter_rate": dr,
        "declutter_std": dr_std,
        "declutter_per_seed": dr_seed,
        "cleared_rounds": sum(r.cleared for r in all_rounds),
        "stop_reasons": dict(Counter(r.stop for r in all_rounds)),
    }


def percent(rate: float, std: float | None = None, digits: int = 1) -> str:
    """'93.8 ± 2.6' (rates in [0, 1] shown as percent); '—' for NaN."""
    if rate is None or not np.isfinite(rate):
        return "—"
    if std is None or not np.isfinite(std):
        return f"{100 * rate:.{digits}f}"
    return f"{100 * rate:.{digits}f} ± {100 * std:.{digits}f}"
