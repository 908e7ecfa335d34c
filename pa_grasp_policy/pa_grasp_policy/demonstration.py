"""Grasps as labels for the policy: demonstrated zoom episodes (the imitation warm start) and
corrections of the policy's own failed episodes (DAgger-style, during PPO).

A correction relabels the states the policy itself visited with a grasp that lifted the object
on the same scene (`pa_grasp_sim.grasp_probe`'s grid): in every view the position label is
that grasp's pixel, and at the grasp step the 7 DOFs are its orientation and pre-shape. The
zoom flag and scale stay the policy's own (the grid grasp has no opinion on how to zoom), so
`correction_loss` trains only the position map and the DOF means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pa_grasp_policy.distribution import DOF_SCALES, Action
from pa_grasp_policy.policy import ObsBatch, Policy
from pa_grasp_policy.zoom import Observation, ZoomConfig, ZoomState, original_to_view
from pa_grasp_sim.grasp import GraspCommand


def command_to_dofs_raw(command: GraspCommand) -> list[float]:
    """The grasp's 7 dofs in the distribution's raw (unscaled) units."""
    applied = (command.roll, command.pitch, command.yaw, command.spread, *command.fingers)
    return [a / s for a, s in zip(applied, DOF_SCALES)]


def view_pixel(command: GraspCommand, box, input_size: int) -> int | None:
    """Flat index of the command's pixel in the view of `box`, or None when it lies outside."""
    row, col = (int(round(float(x))) for x in original_to_view((command.u, command.v), box, input_size))
    if not (0 <= row < input_size and 0 <= col < input_size):
        return None
    return row * input_size + col


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


def correction_steps(
    episode: Sequence[tuple[Observation, Action]],
    depth: np.ndarray,
    command: GraspCommand,
    zoom: ZoomConfig,
    fallback_zoom_scale: float = 0.4,
) -> list[tuple[Observation, Action]]:
    """The policy's episode (its (observation, action) steps on `depth`) relabelled with
    `command`: same states, same zoom flags and scales, the command's pixel in every view and
    its DOFs at the grasp step. When the policy zoomed away from the command's pixel (it lies
    outside a visited view), its states cannot carry the label: the demonstrated episode of the
    command (`demonstration_steps`) stands in."""
    S = zoom.input_size
    dofs = torch.tensor([command_to_dofs_raw(command)], dtype=torch.float32)
    out = []
    for obs, action in episode:
        pixel = view_pixel(command, obs.box, S)
        if pixel is None:
            return demonstration_steps(depth, command, zoom, fallback_zoom_scale)
        grasp = obs.must_grasp or not bool(action.is_zoom()[0])
        out.append(
            (
                obs,
                Action(
                    torch.tensor([pixel]),
                    torch.tensor([0.0 if grasp else 1.0]),
                    action.scale_raw[:1].clone(),
                    dofs.clone() if grasp else action.dofs_raw[:1].clone(),
                    S,
                ),
            )
        )
    return out


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


def quarter_turned(obs: ObsBatch, actions: Action, turns: torch.Tensor) -> tuple[ObsBatch, Action]:
    """Labelled steps as seen in their scene turned by turns[i] quarter turns about the camera's
    axis: each view turned by `torch.rot90` (as `numpy.rot90`), its pixel label moved with it,
    the yaw label + turns[i] x 90° (R = Rz(yaw) Ry(pitch) Rx(roll) in the world frame, so roll
    and pitch stay). Zoom flag, scale and the other DOFs stay. A valid label for a valid scene
    because the training camera looks straight down at the centre of the square workspace
    (checked on real scenes: docs/evals/not_shipped/turns/turn_check.py)."""
    if obs.depth.shape[-1] != obs.depth.shape[-2]:
        raise ValueError(f"quarter turns need square views, got {tuple(obs.depth.shape[-2:])}")
    S = actions.width
    depth, pixel, dofs = obs.depth.clone(), actions.pixel.clone(), actions.dofs_raw.clone()
    index = torch.arange(S * S).view(S, S)
    for k in (1, 2, 3):
        turned = torch.remainder(turns, 4) == k
        if not bool(turned.any()):
            continue
        depth[turned] = torch.rot90(obs.depth[turned], k, dims=(-2, -1))
        moved_to = torch.empty(S * S, dtype=torch.long)
        moved_to[torch.rot90(index, k).flatten()] = torch.arange(S * S)
        pixel[turned] = moved_to[actions.pixel[turned]]
        dofs[turned, 2] = torch.remainder(dofs[turned, 2] + k / 2 + 1, 2) - 1  # raw yaw x π, kept in [-1, 1)
    return (
        ObsBatch(depth, obs.scale.clone(), obs.must_grasp.clone()),
        Action(pixel, actions.zoom.clone(), actions.scale_raw.clone(), dofs, S),
    )


def correction_loss(policy: Policy, obs: ObsBatch, actions: Action) -> torch.Tensor:
    """Mean over corrected steps of -log π(position) plus, at grasp steps, the DOFs' Gaussian
    negative log-likelihood under the policy's current σ held fixed. The σ's are PPO's
    exploration noise: a far-off label would otherwise widen them; zoom flag and scale are left
    to PPO (see the module doc)."""
    dist, _ = policy.distribution(obs)
    position = dist.pos_log_probs.gather(1, actions.pixel[:, None])[:, 0]
    mean = dist.params_at(actions.pixel).dof_mean
    target = yaw_nearest_half_turn(actions.dofs_raw, mean)
    sq = (((target - mean) / dist.std[1:].detach()) ** 2 / 2 * dist.free).sum(dim=1)
    grasp = (~actions.is_zoom() | dist.must_grasp).to(sq.dtype)
    return (-position + grasp * sq).mean()
