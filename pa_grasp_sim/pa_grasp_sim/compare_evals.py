"""Compare two evaluations of the same scenes attempt by attempt (a paired sign test).

    python -m pa_grasp_sim.compare_evals baseline.json candidate.json [--json out.json]

Both files are `pa-grasp-eval --json` outputs of the same protocol (scene, objects, seeds,
first seed, attempts), so attempt i is the same scene in both. Two cells of 600 scenes that
differ by 1-2 points cannot be told apart by their totals (each carries ~±1.6 points), but
most scenes come out the same for both choosers; the test looks only at the scenes where they
differ: how many the candidate gained and lost, and the exact two-sided sign test p of that
split under "neither is better".
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# What makes two evaluations' attempt i the same scene.
SAME_SCENES_KEYS = ("scene", "objects", "seeds", "first_seed", "attempts")


class IncomparableEvalsError(ValueError):
    """The two evaluations are not of the same scenes, or lack per-attempt outcomes."""


@dataclass
class PairedComparison:
    attempts: int
    baseline_lifted: int
    candidate_lifted: int
    gained: int  # scenes the candidate lifted and the baseline did not
    lost: int  # ... and the other way round
    sign_test_p: float

    def summary(self) -> str:
        return (
            f"{self.candidate_lifted} against {self.baseline_lifted} of {self.attempts} "
            f"({self.gained} gained, {self.lost} lost, two-sided sign test p = {self.sign_test_p:.3g})"
        )


def sign_test_p(gained: int, lost: int) -> float:
    """Exact two-sided binomial sign test over the discordant pairs (p = 1 when there are none)."""
    if gained < 0 or lost < 0:
        raise ValueError("counts must be 0 or more")
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, j) for j in range(min(gained, lost) + 1))
    return min(1.0, 2 * tail / 2**n)


def compare(baseline: dict, candidate: dict) -> PairedComparison:
    """Pair two `pa-grasp-eval` results (their JSON dicts) by attempt."""
    for key in SAME_SCENES_KEYS:
        if baseline.get(key) != candidate.get(key):
            raise IncomparableEvalsError(
                f"not the same scenes: {key} is {baseline.get(key)!r} in the baseline "
                f"and {candidate.get(key)!r} in the candidate"
            )
    outcomes = []
    for name, result in (("baseline", baseline), ("candidate", candidate)):
        per_attempt = result.get("per_attempt")
        if not per_attempt:
            raise IncomparableEvalsError(
                f"the {name} has no per-attempt outcomes (written by pa-grasp-eval since 2026-12-07): re-run it"
            )
        outcomes.append([bool(o) for seed in per_attempt for o in seed])
    base, cand = outcomes
    if len(base) != len(cand) or len(base) != baseline["attempts"]:
        raise IncomparableEvalsError(f"{len(base)} and {len(cand)} outcomes for {baseline['attempts']} attempts")
    gained = sum(c and not b for b, c in zip(base, cand))
    lost = sum(b and not c for b, c in zip(base, cand))
    return PairedComparison(len(base), sum(base), sum(cand), gained, lost, sign_test_p(gained, lost))


def load_eval(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"compare_evals: no such file: {path}") from None
    except json.JSONDecodeError as e:
        raise SystemExit(f"compare_evals: {path} is not JSON ({e})") from None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("baseline", type=Path, help="pa-grasp-eval --json output")
    p.add_argument("candidate", type=Path, help="pa-grasp-eval --json output of the same scenes")
    p.add_argument("--json", type=Path, help="write the comparison to this JSON file")
    args = p.parse_args(argv)
    try:
        result = compare(load_eval(args.baseline), load_eval(args.candidate))
    except IncomparableEvalsError as e:
        print(f"compare_evals: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(result.summary())
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
