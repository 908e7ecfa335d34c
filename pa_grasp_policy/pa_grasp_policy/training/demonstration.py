"""Grasps as labels for the policy (the imitation warm start of `pa-grasp-imitate`): the
demonstrated zoom episode of a grasp, and its yaw label taken modulo a half turn.
"""

from __future__ import annotations

import numpy as np
import torch

from pa_grasp_perception.grasp_command import GraspCommand
from pa_grasp_policy.model.distribution import DOF_SCALES, Action
from pa_grasp_policy.model.zoom import Observation, ZoomConfig, ZoomState, original_to_view


def command_to_dofs_raw(command: GraspCommand) -> list[float]:
    """The grasp's 7 dofs in the distribution's raw (unscaled) units."""
    applied = (command.roll, command.pitch, command.yaw, command.spread, *command.fingers)
    return [a / s for a, s in zip(applied, DOF_SCALES)]


def demonstration_steps(
    depth: np.ndarray, command: GraspCommand, zoom: ZoomConfig, zoom_scale: float
) -> list[tuple[Observation, Action]]:
    """The demonstrated zoom episode for one grasp: (observation, action) per step."""
    S = zoom.input_size
    state = ZoomState(depth, zoom)
    zooms_left = 0 if zoom.max_zoom_steps == 0 else 1
    dofs = torch.tensor([command_to_dofs_raw(command)], dtype=torch.float32)
    steps = []
    while not state.done:
        obs = state.observation()
        row, col = original_to_view((command.u, command.v), state.box, S)
        row, col = (min(max(int(round(x)), 0), S - 1) for x in (row, col))
        zoom_flag = 0.0 if (obs.must_grasp or zooms_left == 0) else 1.0
        action = Action(
            torch.tensor([row * S + col]),
            torch.tensor([zoom_flag]),
            torch.tensor([zoom_scale], dtype=torch.float32),
            dofs.clone(),
            S,
        )
        steps.append((obs, action))
        state.apply(action)
        zooms_left -= 1
    return steps


def yaw_nearest_half_turn(dofs_raw: torch.Tensor, dof_mean: torch.Tensor) -> torch.Tensor:
    """Raw DOF labels with the yaw (raw, in [-0.5, 0.5)) replaced by whichever of its half-turn
    equivalents (raw yaw ± 1) within [-0.75, 0.75] is nearest the policy's mean yaw: a parallel
    grip turned by half a turn is the same grasp, and otherwise objects lying across the
    canonical range's edge (yaw near ±pi/2) would teach two opposite labels for one image. The
    bound keeps targets clear of the tanh mean's saturation at ±1."""
    mean_yaw = dof_mean[:, 2].detach()
    dofs = dofs_raw.clone()
    yaw = dofs[:, 2]
    other = yaw - torch.sign(yaw)
    use_other = (other.abs() <= 0.75) & ((other - mean_yaw).abs() < (yaw - mean_yaw).abs())
    dofs[:, 2] = torch.where(use_other, other, yaw)
    return dofs
