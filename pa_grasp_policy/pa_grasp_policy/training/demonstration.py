"""Grasps as labels for the policy (the imitation warm start of `pa-grasp-imitate`): the
demonstrated zoom episode of a grasp, and its yaw label taken modulo a half turn (with the pitch
mirrored, so a tilted approach stays the same approach).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    depth: np.ndarray, command: GraspCommand, zoom: ZoomConfig, zoom_scales: Sequence[float]
) -> list[tuple[Observation, Action]]:
    """The demonstrated zoom episode for one grasp: (observation, action) per step. Each of
    `zoom_scales` is one zoom centred on the grasp pixel (as far as the zoom's budget allows),
    then the grasp at that pixel of the last view."""
    S = zoom.input_size
    state = ZoomState(depth, zoom)
    scales = list(zoom_scales)[: zoom.max_zoom_steps]
    dofs = torch.tensor([command_to_dofs_raw(command)], dtype=torch.float32)
    steps = []
    while not state.done:
        obs = state.observation()
        row, col = original_to_view((command.u, command.v), state.box, S)
        row, col = (min(max(int(round(x)), 0), S - 1) for x in (row, col))
        zooming = bool(scales) and not obs.must_grasp
        action = Action(
            torch.tensor([row * S + col]),
            torch.tensor([1.0 if zooming else 0.0]),
            torch.tensor([scales.pop(0) if zooming else 1.0], dtype=torch.float32),
            dofs.clone(),
            S,
        )
        steps.append((obs, action))
        state.apply(action)
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
    # The half-turned grasp keeps its approach direction with pitch -> pi - pitch (raw 1 - raw).
    dofs[:, 1] = torch.where(use_other, 1.0 - dofs[:, 1], dofs[:, 1])
    return dofs
