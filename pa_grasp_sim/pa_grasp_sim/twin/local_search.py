"""Small changes of a grasp the depth twin is not sure of (test time, not in the paper).

The served choice ranks the policy's grasps on the four turned images by their depth-twin score
(pa_grasp_sim.twin.depth_twin, pa_grasp_policy.planner). Where the best of them lifts in at most 3 of its 5
twin executions, the real scene lifts it only about half the time, while most of those failures
have a small change that lifts robustly: a yaw 20° off, the pixel 1.5 px off, the other
pre-shape, another kind of grasp at the same pixel (docs/experiments.md at commit 0afafb4, "Where the failures go"
and "Small changes of the served grasp, tried in the twin"). This tries those changes (13 for a
top-down grasp) in the same twin and takes the best one if it scores more than the grasp plus
`margin`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_sim.grasp_probe import neighbours, other_kinds


@dataclass(frozen=True)
class LocalSearchConfig:
    # Search only when the grasp's twin score is below this: 0.8, at most 3 of 5 executions lift
    # (a grasp at 4/5 lifts ~80% of real scenes, more than a change chosen among 13 at 5/5: ~70%).
    below: float = 0.8
    margin: float = 0.0  # a change replaces the grasp only if it scores more than the grasp + margin
    other_kinds: bool = True  # also grasp_probe.other_kinds at the grasp's pixel, not only its neighbours

    def __post_init__(self):
        if not 0.0 < self.below <= 1.0:
            raise ValueError(f"LocalSearchConfig.below must be in (0, 1], got {self.below}")
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"LocalSearchConfig.margin must be in [0, 1), got {self.margin}")


@dataclass(frozen=True)
class LocalSearchResult:
    command: GraspCommand  # the grasp to execute: the given one or its best change
    score: float  # its twin score
    change: str  # the change's name (grasp_probe.neighbours / other_kinds), "" if the grasp is kept
    tried: int  # changes searched in the twin (0 when the grasp's own score needed no search)


# (commands, floor) -> (index, score) of the best command (the earlier on ties) if it scores above
# floor, else (None, None): DepthTwin.best_above on one image, or best_from_scores over full scores.
TwinBest = Callable[[list[GraspCommand], float], tuple[int | None, float | None]]


def local_changes(
    command: GraspCommand, width: int, height: int, with_kinds: bool = True
) -> list[tuple[str, GraspCommand]]:
    """The changes tried, nearest first: grasp_probe.neighbours, then other_kinds."""
    return [*neighbours(command, width, height), *(other_kinds(command) if with_kinds else [])]


def best_from_scores(scores, floor: float) -> tuple[int | None, float | None]:
    """What a TwinBest returns, from every command's score: the first argmax if above floor."""
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0 or scores.max() <= floor:
        return None, None
    best = int(np.argmax(scores))
    return best, float(scores[best])


def search_near(
    command: GraspCommand,
    score: float,
    twin_best: TwinBest,
    width: int,
    height: int,
    config: LocalSearchConfig | None = None,
) -> LocalSearchResult:
    """`command` (twin score `score`) or the best of its local_changes in the twin (the earlier,
    nearer change on ties) if that scores more than score + margin."""
    config = config or LocalSearchConfig()
    if score >= config.below - 1e-9:
        return LocalSearchResult(command, float(score), "", 0)
    named = local_changes(command, width, height, config.other_kinds)
    best, best_score = twin_best([c for _, c in named], score + config.margin + 1e-9)
    if best is None:
        return LocalSearchResult(command, float(score), "", len(named))
    if not 0 <= best < len(named):
        raise ValueError(f"the twin chose grasp {best} of {len(named)}")
    return LocalSearchResult(named[best][1], float(best_score), named[best][0], len(named))
