"""What executor_node asks of a motion backend (core: no ROS, no MoveIt).

The MoveIt backend (:mod:`pa_grasp_execution.moveit_backend`) is the real one; tests plug in
fakes. A backend gets a *checked* :class:`~pa_grasp_execution.plan.GraspPlan` and runs it:
IK for every pose and the joint-limit check first (nothing moves if one fails), then pre-shape,
pre-grasp, straight approach, close (each finger stops on contact), lift. The free motions
avoid the table and the plan's obstacle boxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pa_grasp_execution.plan import GraspPlan

# Stages reported while executing (the values of ExecuteGrasp.Feedback.STAGE_*).
STAGE_PRESHAPE, STAGE_APPROACH, STAGE_CLOSE, STAGE_LIFT = 0, 1, 2, 3


@dataclass
class ExecutionOutcome:
    success: bool
    reason: str = ""
    reachable: bool = True
    objects_lifted: int = 0
    canceled: bool = False


Feedback = Callable[[int, str], None]
Cancelled = Callable[[], bool]


class ExecutionBackend(Protocol):
    def execute(self, plan: GraspPlan, feedback: Feedback, cancelled: Cancelled) -> ExecutionOutcome: ...

    def shutdown(self) -> None: ...
