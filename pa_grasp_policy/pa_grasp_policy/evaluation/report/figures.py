"""The report's figures (matplotlib, Agg backend):

1. ``zoom_sequence``: one policy episode like the paper's Fig. 1: every view the network saw
   (its input, as heights above the view's far reference) with the next view box, the final
   grasp pixel and the hand pose, then an RGB render of the executed grasp.
2. ``grasp_grid``: several scenes (rows = methods, columns = scenes, the same scenes for every
   method): RGB render at the moment the hand starts closing, with the outcome.
3. ``table_chart``: Table I as grouped bars (± std over seeds), the paper's values as markers.
4. ``clutter_chart``: grasp success and declutter rate of the clutter-clearing protocol.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import patches  # noqa: E402

OK_COLOR = "#1a9850"
FAIL_COLOR = "#d73027"
BOX_COLOR = "#ff3030"


# -- simulator helpers ----------------------------------------------------------------------
def execute_and_capture(world, command, depth, size=(400, 320)):
    """Execute a grasp; return (outcome, RGB at the moment closing starts, RGB after the lift).
    The oblique view looks at the grasp point."""
    from pa_grasp_sim.render import execute_with_snapshot

    target = np.array([0.0, 0.0, 0.05])
    try:
        d = float(depth[int(round(command.v)), int(round(command.u))])
        if np.isfinite(d) and d > 0:
            target = world.camera.pixel_to_world(command.u, command.v, d)
    except (IndexError, ValueError):
        pass
    view = {"eye": tuple(target + np.array([0.32, -0.32, 0.30])), "target": tuple(target), "size": size}
    outcome, at_grasp, after = execute_with_snapshot(world, command, depth, view)
    if at_grasp is None and outcome.T_world_palm is not None and world.config.mode == "floating":
        # Closing never started (e.g. the pre-grasp pose collides): show the hand at the grasp pose.
        at_grasp = _render_floating_hand_at(world, outcome.T_world_palm, command, view)
    return outcome, at_grasp if at_grasp is not None else after, after


def _render_floating_hand_at(world, T_world_palm, command, view):
    """Put the (parked) floating hand at a palm pose with the command's pre-shape, render, park
    it again. Only the robot body is moved, no simulation step: the scene is untouched."""
    from scipy.spatial.transform import Rotation

    from pa_grasp_sim.render import render_rgb

    c = world.client
    spread = 0.0 if world.config.execution.parallel_hand else command.spread
    world.hand.reset_preshape(spread, command.fingers)
    T_base = np.asarray(T_world_palm) @ world.T_palm_base
    c.resetBasePositionAndOrientation(
        world.robot, T_base[:3, 3].tolist(), Rotation.from_matrix(T_base[:3, :3]).as_quat().tolist()
    )
    rgb = render_rgb(c, **view)
    world.park_robot()
    return rgb


def _project(world, point_world: np.ndarray) -> tuple[float, float] | None:
    T_cw = np.linalg.inv(world.camera.T_world_camera)
    p = T_cw[:3, :3] @ np.asarray(point_world, dtype=float) + T_cw[:3, 3]
    if p[2] <= 1e-6:
        return None
    return world.camera.intrinsics.point_to_pixel(p)


def hand_marker_pixels(world, command, depth) -> dict | None:
    """Image points to draw the hand pose: the grasp point, the approach start (8 cm back along
    the approach axis), the closing axis ends (fingers 1/2 side, finger 3 side, ±4.5 cm)."""
    from pa_grasp_perception.grasp_geometry import palm_rotation

    d = float(depth[int(round(command.v)), int(round(command.u))])
    if not (np.isfinite(d) and d > 0):
        return None
    p = world.camera.pixel_to_world(command.u, command.v, d)
    R = palm_rotation(command.roll, command.pitch, command.yaw).as_matrix()
    approach, closing = R[:, 2], R[:, 1]
    pts = {
        "grasp": p,
        "approach_start": p - 0.08 * approach,
        "finger3": p + 0.045 * closing,
        "fingers12": p - 0.045 * closing,
    }
    out = {k: _project(world, v) for k, v in pts.items()}
    return None if any(v is None for v in out.values()) else out


# -- drawing helpers -----------------------------------------------------------------------
def _show_view(ax, depth, box, input_size):
    """The network's input for this view box, drawn in original-image pixel coordinates."""
    from pa_grasp_policy.model.network import preprocess_depth
    from pa_grasp_policy.model.zoom import crop_and_resize

    x0, y0, w, h = box
    view = preprocess_depth(crop_and_resize(depth, box, input_size))
    hi = max(1.0, float(np.percentile(view, 99.5)))
    ax.imshow(view, cmap="viridis", vmin=-0.2, vmax=hi, extent=(x0, x0 + w, y0 + h, y0), interpolation="nearest")
    ax.set_xlim(x0, x0 + w)
    ax.set_ylim(y0 + h, y0)
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_hand(ax, marks, view_size: float, color="#ff3030"):
    """Grasp pixel, closing axis and approach arrow; to scale, but shortened to fit the view."""
    g = np.asarray(marks["grasp"], dtype=float)
    app = np.asarray(marks["approach_start"], dtype=float) - g
    f3 = np.asarray(marks["finger3"], dtype=float) - g
    f12 = np.asarray(marks["fingers12"], dtype=float) - g
    half = max(np.linalg.norm(f3), np.linalg.norm(f12), 1e-6)
    k = min(1.0, 0.35 * view_size / max(half, np.linalg.norm(app), 1e-6))
    g = g + 0.5  # pixel centres at integers -> pixel-edge coordinates of the view
    a, b, c = g + k * f3, g + k * f12, g + k * app
    ax.plot([b[0], a[0]], [b[1], a[1]], "-", color="white", lw=4, solid_capstyle="round")
    ax.plot([b[0], a[0]], [b[1], a[1]], "-", color=color, lw=2, solid_capstyle="round")
    ax.plot([a[0]], [a[1]], "o", ms=8, mfc=color, mec="white", mew=1.5)
    ax.plot([b[0]], [b[1]], "s", ms=8, mfc="white", mec=color, mew=1.5)
    # The approach start is 8 cm back, the closing axis 4.5 cm each side: compare like with like.
    if np.linalg.norm(app) > 0.15 * half * 8 / 4.5:
        ax.annotate(
            "",
            xy=tuple(g),
            xytext=tuple(c),
            arrowprops={"arrowstyle": "-|>", "color": "orange", "lw": 2.5, "mutation_scale": 16},
        )
    ax.plot([g[0]], [g[1]], "x", ms=11, mew=3, color="orange")


def _outcome_text(outcome, width: int = 34) -> tuple[str, str]:
    if outcome.success:
        return "SUCCESS", OK_COLOR
    reason = outcome.reason or "failed"
    lines = textwrap.wrap("FAIL: " + reason, width)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 3] + "..."]
    return "\n".join(lines), FAIL_COLOR


# -- figure 1: zoom sequence ---------------------------------------------------------------
def run_zoom_episode(world, policy, zoom_cfg, n_objects: int, seeds: list[int]) -> dict:
    """Run the deterministic policy on a few scenes; keep the most telling episode (a success
    with zooms, else one with zooms, else the last). Returns the data ``zoom_sequence`` draws."""
    from pa_grasp_policy.model.zoom import run_zoom_loop
    from pa_grasp_policy.training.zoom_env import action_to_command

    actor = policy.actor(deterministic=True)
    best, best_score = None, -1
    for seed in seeds:
        world.reset(n_objects, seed=seed)
        world.park_robot()
        depth = world.render_depth()
        result = run_zoom_loop(depth, actor, zoom_cfg)
        command = action_to_command(result.final_action, result.grasp_uv)
        marks = hand_marker_pixels(world, command, depth)
        outcome, rgb_grasp, rgb_after = execute_and_capture(world, command, depth)
        score = 2 * int(outcome.success) + int(result.n_zooms > 0)
        if score > best_score:
            best, best_score = (
                {
                    "seed": seed,
                    "n_objects": n_objects,
                    "depth": depth,
                    "result": result,
                    "command": command,
                    "marks": marks,
                    "outcome": outcome,
                    "rgb_grasp": rgb_grasp,
                    "rgb_after": rgb_after,
                    "input_size": zoom_cfg.input_size,
                },
                score,
            )
        if score == 3:
            break
    return best


def zoom_sequence(path, episode: dict, title: str) -> None:
    result, depth, command = episode["result"], episode["depth"], episode["command"]
    boxes, S = result.boxes, episode["input_size"]
    n_steps = len(result.steps)
    n_panels = n_steps + 1
    ncols = n_panels if n_panels <= 4 else math.ceil(n_panels / 2)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 4.1 * nrows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    full_w = float(depth.shape[1])
    for k in range(n_steps):
        ax = axes.flat[k]
        ax.axis("on")
        box = boxes[k]
        _show_view(ax, depth, box, S)
        if k < n_steps - 1:
            nx0, ny0, nw, nh = boxes[k + 1]
            ax.add_patch(patches.Rectangle((nx0, ny0), nw, nh, fill=False, ec="white", lw=3.5))
            ax.add_patch(patches.Rectangle((nx0, ny0), nw, nh, fill=False, ec=BOX_COLOR, lw=2, ls="--"))
            ax.set_title(f"step {k + 1}: zoom ×{nw / box[2]:.2f}\nview scale {box[2] / full_w:.2f}", fontsize=11)
        else:
            if episode["marks"] is not None:
                _draw_hand(ax, episode["marks"], min(box[2], box[3]))
            ax.set_title(
                f"step {k + 1}: grasp at ({command.u:.0f}, {command.v:.0f}), view scale {box[2] / full_w:.2f}\n"
                f"rpy {math.degrees(command.roll):.0f}/{math.degrees(command.pitch):.0f}/"
                f"{math.degrees(command.yaw):.0f}°, spread {math.degrees(command.spread):.0f}°\nfingers "
                + "/".join(f"{math.degrees(f):.0f}" for f in command.fingers)
                + "°",
                fontsize=10,
            )
    ax = axes.flat[n_steps]
    ax.axis("on")
    ax.imshow(episode["rgb_grasp"])
    ax.set_xticks([])
    ax.set_yticks([])
    text, color = _outcome_text(episode["outcome"])
    ax.set_title(f"executed grasp\n{text}", fontsize=10, color=color)
    fig.suptitle(title, fontsize=12)
    note = (
        "Views: the network input (height above the view's far depth); dashed red box: the next view. "
        "Last view: × grasp pixel, orange arrow: approach (none when straight down the camera axis), "
        "red line: the hand's closing axis (● finger 3, ■ fingers 1/2); shortened to fit the view."
    )
    fig.text(0.5, 0.01, "\n".join(textwrap.wrap(note, 40 * ncols)), ha="center", va="bottom", fontsize=9)
    fig.tight_layout(rect=(0, 0.11 / nrows if ncols > 2 else 0.16, 1, 0.94))
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- figure 2: grasp grid ------------------------------------------------------------------
def grasp_grid(path, methods: list[tuple[str, object, object]], scenes: list[tuple[str, str, int, int]], title: str):
    """methods: (label, choose, world_config); scenes: (objects_label, objects, count, seed).
    Returns the outcomes [(method, scene index, success, reason)]."""
    from pa_grasp_sim.world import GraspWorld

    nrows, ncols = len(methods), len(scenes)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.4 * nrows + 0.6), squeeze=False)
    outcomes = []
    for i, (label, choose, world_cfg) in enumerate(methods):
        worlds = {}
        try:
            for j, (obj_label, objects, count, seed) in enumerate(scenes):
                if objects not in worlds:
                    worlds[objects] = GraspWorld(world_cfg, objects, seed=seed)
                world = worlds[objects]
                world.reset(count, seed=seed)
                world.park_robot()
                rng = np.random.default_rng(seed)
                depth = world.render_depth(rng)
                command = choose(depth, world, rng)
                outcome, rgb, _ = execute_and_capture(world, command, depth, size=(360, 300))
                outcomes.append({"method": label, "scene": j, "success": outcome.success, "reason": outcome.reason})
                ax = axes[i, j]
                ax.imshow(rgb)
                ax.set_xticks([])
                ax.set_yticks([])
                text, color = _outcome_text(outcome)
                for side in ax.spines.values():
                    side.set_edgecolor(color)
                    side.set_linewidth(4)
                ax.set_title(
                    f"{obj_label}, {count} object{'s' if count > 1 else ''}\n{text}", fontsize=9.5, color=color
                )
                if j == 0:
                    ax.set_ylabel(label, fontsize=10)
        finally:
            for w in worlds.values():
                w.close()
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return outcomes


def _labelled_bars(ax, xs, values, width, **bar_kwargs) -> None:
    """Bars of (rate %, std %) pairs (None = not measured) with error bars and value labels."""
    vals = [v[0] if v else np.nan for v in values]
    errs = [v[1] if v else 0.0 for v in values]
    ax.bar(
        xs, vals, width * 0.92, yerr=errs, capsize=3, error_kw={"elinewidth": 1.2, "ecolor": "#444444"}, **bar_kwargs
    )
    for xv, v, e in zip(xs, vals, errs):
        if np.isfinite(v):
            ax.text(xv, min(v + e, 100) + 1.0, f"{v:.0f}", ha="center", va="bottom", fontsize=7.5)


# -- figure 3: Table I bar chart -----------------------------------------------------------
def table_chart(path, bars: list[dict], conditions: list[str], title: str) -> None:
    """bars: {"label", "values": [(rate %, std %) or None per condition], "published": [(mean, std)
    or None per condition] or None, "hatch": bool}."""
    n = max(len(bars), 1)
    width = 0.8 / n
    x = np.arange(len(conditions))
    fig, ax = plt.subplots(figsize=(max(9.0, 1.1 * len(conditions) * (1 + 0.35 * n)), 5.6))
    colors = plt.get_cmap("tab10")
    shown_published = False
    for i, bar in enumerate(bars):
        xs = x - 0.4 + width * (i + 0.5)
        _labelled_bars(
            ax,
            xs,
            bar["values"],
            width,
            color="#d9d9d9" if bar.get("hatch") else bar.get("color", colors(i % 10)),
            hatch="//" if bar.get("hatch") else None,
            edgecolor="white" if not bar.get("hatch") else "black",
            label=bar["label"],
        )
        if bar.get("published"):
            pv = [p[0] if p else np.nan for p in bar["published"]]
            ax.plot(
                xs,
                pv,
                "D",
                ms=7,
                mfc="black",
                mec="white",
                mew=1.2,
                label="paper, published (not measured here)" if not shown_published else None,
            )
            shown_published = True
    ax.set_xticks(x)
    ax.set_xticklabels(conditions, fontsize=11)
    ax.set_ylim(0, 110)
    ax.set_ylabel("grasp success (%)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title, fontsize=12)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=9, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- figure 4: clutter clearing ------------------------------------------------------------
def clutter_chart(path, series: list[dict], groups: list[str], title: str) -> None:
    """series: {"label", "success": [(rate %, std %) or None per group], "declutter": [...]}."""
    fig, axes = plt.subplots(1, 2, figsize=(max(10.0, 2.2 * len(groups) * 2), 4.8), sharey=True)
    colors = plt.get_cmap("tab10")
    n = max(len(series), 1)
    width = 0.8 / n
    x = np.arange(len(groups))
    for ax, key, name in ((axes[0], "success", "grasp success (%)"), (axes[1], "declutter", "declutter rate (%)")):
        for i, s in enumerate(series):
            xs = x - 0.4 + width * (i + 0.5)
            _labelled_bars(ax, xs, s[key], width, color=s.get("color", colors(i % 10)), label=s["label"])
        ax.set_xticks(x)
        ax.set_xticklabels(groups, fontsize=10)
        ax.set_ylim(0, 110)
        ax.set_title(name, fontsize=11)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_ylabel("%")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, n), fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(path, dpi=100)
    plt.close(fig)
