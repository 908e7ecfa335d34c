"""report.md from the report's results dict (the same data as results.json)."""

from __future__ import annotations

from pa_grasp_policy.evaluation.report import rows as row_defs
from pa_grasp_policy.evaluation.report.metrics import STOP_CLEARED, STOP_FAILURES, STOP_LIMIT, percent

FIGURE_CAPTIONS = {
    "fig_zoom_sequence.png": "One episode of the policy, like the paper's Fig. 1: each panel is the view the network "
    "saw (its input: height above the view's far depth), the dashed box is where it zooms next; the last view "
    "shows the grasp pixel (×), the approach direction (orange arrow, absent when straight down the camera axis) "
    "and the closing axis of the hand (● finger 3, ■ fingers 1/2); then an RGB render of the executed grasp. "
    "The episode is picked among up to 4 scenes: the first success with at least one zoom (illustration, "
    "not a sample of typical behaviour).",
    "fig_grasp_grid.png": "Grasps on the same scenes by each method: RGB render when the hand starts closing, and "
    "the outcome.",
    "fig_table1.png": "Table I as bars (± std over seeds); ◆ = the paper's published value for that row "
    "(not measured here).",
    "fig_clutter.png": "Clutter clearing: grasp success (successful grasps / attempts) and declutter rate "
    "(objects removed / objects presented), ± std over seeds.",
}


def _cell(cell: dict | None) -> str:
    if cell is None:
        return "—"
    if "error" in cell:
        return "error"
    return percent(cell["success_rate"], cell["std"])


def _table(results: dict) -> list[str]:
    rows = results["rows"]
    header = "| Method | " + " | ".join(row_defs.CONDITION_LABELS[c] for c in row_defs.CONDITIONS) + " |"
    lines = [header, "|---|" + "---:|" * len(row_defs.CONDITIONS)]

    def measured(key):
        res = results["table"].get(key, {})
        cells = [_cell(res.get(f"{sc}_{ob}")) for sc, ob in row_defs.CONDITIONS]
        lines.append(f"| {rows[key]['label']} | " + " | ".join(cells) + " |")

    for key in ("model", "random", "heuristic"):
        if key in rows:
            measured(key)
    ablations = [k for k in row_defs.ABLATIONS if k in rows]
    if ablations:
        lines.append("| *Ablations (measured here)* |" + " |" * len(row_defs.CONDITIONS))
        for key in ablations:
            measured(key)
    if "published" in results["rows_selected"]:
        lines.append(f"| *Paper, Table I ({row_defs.PUBLISHED_NOTE})* |" + " |" * len(row_defs.CONDITIONS))
        for _key, (name, vals) in row_defs.PUBLISHED.items():
            cells = [f"{m:.1f} ± {s:.1f}" for m, s in vals]
            lines.append(f"| {name} — *{row_defs.PUBLISHED_NOTE}* | " + " | ".join(cells) + " |")
    return lines


def _failures(results: dict) -> list[str]:
    lines = []
    for key, row in results["rows"].items():
        counts: dict[str, int] = {}
        for cell in results["table"].get(key, {}).values():
            for reason, n in (cell.get("failure_reasons") or {}).items():
                counts[reason] = counts.get(reason, 0) + n
        if counts:
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
            lines.append(f"- {row['label']}: " + "; ".join(f"{r} ({n})" for r, n in top))
    return lines


def _families(results: dict) -> list[str]:
    """Single-object success by object family: one column per measured row and object set."""
    columns = []
    for key, row in results["rows"].items():
        for objects in ("seen", "novel"):
            per_family = (results["table"].get(key, {}).get(f"single_{objects}") or {}).get("per_family")
            if per_family:
                columns.append((f"{row['label']}, {objects}", per_family))
    if not columns:
        return []
    families = sorted({f for _, per_family in columns for f in per_family})
    lines = [
        "Successes / attempts in the single-object cells, by object family (which family a scene shows is "
        "random, so the counts differ between the seen and novel columns; a blank: none drawn):",
        "",
        "| Family | " + " | ".join(label for label, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for family in families:
        cells = [
            f"{per_family[family][0]}/{per_family[family][1]}" if family in per_family else ""
            for _, per_family in columns
        ]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return lines


def _layout(layout: str) -> str:
    """How a clutter-clearing scene is dropped (the simulator's default scene settings)."""
    from pa_grasp_sim.scene import PILE_WALL_HEIGHT_M, SceneConfig

    scene = SceneConfig()
    if layout == "pile":
        return (
            "**pile** layout, as in VGN's benchmark: the objects are dropped one after another into an open box "
            f"({100 * scene.pile_box_inner_m:.0f} cm inside, walls {PILE_WALL_HEIGHT_M:g} m high) at a random spot "
            "on the table, then the box is removed and they slump into a pile"
        )
    if layout == "scattered":
        return (
            "**scattered** layout: the objects are dropped at random over the "
            f"{200 * scene.clutter_half_extent_m:.0f} cm clutter square"
        )
    return f"**{layout}** layout"


def _clutter(results: dict) -> list[str]:
    s = results["settings"]
    layout = s.get("clutter_layout", "scattered")
    lines = [
        "Protocol (like the paper's real-world test of 10-object scenes, and VGN/GIGA's simulated clutter "
        f"removal): drop N objects ({_layout(layout)}), then grasp until the scene is "
        "**cleared**, after **two failures in a row**, "
        f"or after **{s['clutter_step_factor']:g} × N attempts** (step limit). After a success the lifted object "
        "is removed (dropped in a bin); after a failure the scene stays as it fell. Grasp success = successful "
        "grasps / attempts; declutter rate = objects removed / objects presented (objects that settled outside "
        f"the workspace at the drop are not presented). {s['clutter_rounds']} rounds per line, split over "
        f"{s['seeds']} seeds (± = std over seeds); every row sees the same scenes.",
        "",
        "| Method | Scene | Rounds | Attempts | Grasp success (%) | Declutter (%) | Cleared | Stops: cleared / "
        "2 failures / limit |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in results["clutter"]:
        label = results["rows"][c["row"]]["label"]
        scene = f"{c['n_objects']} objects, {c['objects']}"
        if "error" in c:
            lines.append(f"| {label} | {scene} | error: {c['error']} | | | | | |")
            continue
        stops = c.get("stop_reasons", {})
        lines.append(
            f"| {label} | {scene} | {c['rounds']} | {c['attempts']} | "
            f"{percent(c['grasp_success_rate'], c['grasp_success_std'])} | "
            f"{percent(c['declutter_rate'], c['declutter_std'])} | {c['cleared_rounds']}/{c['rounds']} | "
            f"{stops.get(STOP_CLEARED, 0)} / {stops.get(STOP_FAILURES, 0)} / {stops.get(STOP_LIMIT, 0)} |"
        )
    return lines


def _timing(timing: dict) -> list[str]:
    m = timing.get("machine_before", {})
    load = m.get("load_average")
    after = timing.get("machine_after", {}).get("load_average")
    p = timing["policy"]
    lines = [
        f"Machine: {m.get('cpu_count')} CPUs, {m.get('platform')}, Python {m.get('python')}, torch {m.get('torch')}; "
        f"load average (1/5/15 min) {load} before and {after} after the timing"
        + (" — **the machine was busy, numbers are pessimistic**" if load and load[0] > 0.5 else "")
        + ".",
        "",
        f"**Policy decision latency** at batch 1 ({p['who']}; input {p['input_size']}×{p['input_size']}, at most "
        f"{p['max_zoom_steps']} zooms; CPU; scenes of {', '.join(str(n) for n in p['scenes'])} objects). "
        "A decision is the whole zoom loop (crop + resize + network per step, until the grasp); a step is one "
        "network evaluation.",
        "",
        "| torch threads | decisions | median ms / decision | p90 ms | steps / decision | ms / step | "
        "network ms / step |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in p["results"]:
        lines.append(
            f"| {r['threads']} | {r['decisions']} | {r['decision_ms_median']:.1f} | {r['decision_ms_p90']:.1f} | "
            f"{r['steps_per_decision']:.2f} | {r['ms_per_step']:.1f} | {r['network_ms_per_step']:.1f} |"
        )
    lines += [
        "",
        "**Simulation speed** (`pa_grasp_sim.bench.run_case`, one process; an episode = scene reset + depth "
        "render + one heuristic grasp):",
        "",
        "| scene | mode | episodes | episodes / s | reset ms | grasp ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in timing["sim"]:
        lines.append(
            f"| {r['scene']} | {r['mode']} | {r['episodes']} | {r['episodes_per_s']:.2f} | {r['reset_ms']:.0f} | "
            f"{r['grasp_ms']:.0f} |"
        )
    return lines


def render_report(results: dict) -> str:
    s = results["settings"]
    rows = results["rows"]
    objects = s["objects"]
    novel = "the built-in novel set" if objects["novel"] == "novel" else f"the meshes in `{objects['novel']}`"
    lines = [
        "# pa_grasp benchmark report",
        "",
        f"Created {results['created']}"
        + (f" at commit `{results['git_commit']}`" if results.get("git_commit") else "")
        + f"; {results['seconds'] / 60:.1f} min in all ({s['workers']} worker process(es) for the cells"
        + (", `--quick` settings" if s.get("quick") else "")
        + f"). Produced in `{results.get('cwd', '.')}` by:",
        "",
        "```",
        results["command"],
        "```",
        "",
    ]
    if results.get("warnings"):
        lines += ["**Warnings:**", ""] + [f"- {w}" for w in results["warnings"]] + [""]
    if results.get("errors"):
        lines += ["**Errors (what failed is missing below):**", ""] + [f"- {e}" for e in results["errors"]] + [""]

    measured_table = s.get("table", True)
    if measured_table:
        lines += ["## Table I: grasp success in simulation (%)", ""] + _table(results)
    else:
        lines += ["## Rows", "", "Table I not measured (`--no-table`)."]
    notes = [
        "",
    ]
    if rows and measured_table:
        notes.append(
            f"- Measured cells: **{s['attempts']} grasp attempts per cell**, split evenly over **{s['seeds']} "
            f"evaluation seeds** (the paper: 500 attempts per experiment); mean = success over all attempts, ± = "
            "standard deviation of the per-seed success rates. Every attempt is a fresh seeded scene: one object "
            f"(single) or a uniformly random 2–{s['max_objects']} objects (cluttered), as in the paper. Policies act "
            "deterministically (the distribution's mode)."
        )
    notes += [
        f"- Objects: *seen* = the training set; *novel* = {novel}, never used in training. The paper's objects "
        "(ShapeNet: YCB/KIT seen, BigBIRD novel) and its simulator differ from ours, so measured and published "
        "numbers are not directly comparable.",
    ]
    reused = [
        (key, cond, cell["reused_from"])
        for key, row_cells in results["table"].items()
        for cond, cell in row_cells.items()
        if isinstance(cell, dict) and cell.get("reused_from")
    ]
    if reused:
        notes.append(
            "- Cells taken from earlier `pa-grasp-eval` runs with the same protocol (`--reuse-eval`), not "
            "re-measured by this command: "
            + "; ".join(f"{rows[k]['label'] if k in rows else k} {c.replace('_', ' ')} (`{p}`)" for k, c, p in reused)
            + "."
        )
    if rows and measured_table and s["attempts"] < 100:
        notes.append(
            f"- With {s['attempts']} attempts per cell a rate is uncertain by roughly ±"
            f"{100 * 0.5 / s['attempts'] ** 0.5:.0f} points (binomial std at 50 %): small settings."
        )
    lines += notes
    if rows or "published" in results["rows_selected"]:
        lines += ["", "What each row is:", ""]
        for row in rows.values():
            lines.append(f"- **{row['label']}**: {row['note']}.")
        if "published" in results["rows_selected"]:
            lines.append(
                f"- **Paper rows**: the numbers of the paper's Table I ({row_defs.PUBLISHED_NOTE}); its ablations "
                "are models trained with the ablation."
            )
    if any(r.get("test_constraint") or (r["key"] == "camera60" and "(test-time" in r["label"]) for r in rows.values()):
        lines.append(
            "- A *(test-time constraint)* row applies the ablation to the full model at test time; the paper "
            "trains a model per ablation (pass `--ablation-checkpoint NAME=PATH` for a *(trained)* row)."
        )
    fails = _failures(results)
    if fails:
        lines += ["", "Most frequent failure reasons (all four cells):", ""] + fails
    families = _families(results)
    if families:
        lines += ["", "### Single objects by family", ""] + families

    if results["clutter"]:
        lines += ["", "## Clutter clearing", ""] + _clutter(results)
    if results.get("timing"):
        lines += ["", "## Timing", ""] + _timing(results["timing"])
    if results.get("figures"):
        lines += ["", "## Figures", ""]
        for fig in results["figures"]:
            caption = FIGURE_CAPTIONS.get(fig["file"], fig["what"])
            lines += [f"![{fig['what']}]({fig['file']})", "", f"*{caption}*", ""]
        ep = results.get("figure_data", {}).get("zoom_episode")
        if ep:
            lines.append(
                f"Zoom episode: {ep['n_objects']}-object scene (seed {ep['scene_seed']}), {ep['zooms']} "
                f"zoom(s), {'success' if ep['success'] else 'failure: ' + ep['reason']}."
            )
            lines.append("")
    lines += [
        "## Reproduce",
        "",
        "```",
        "source env.sh",
        results["command"],
        "```",
        "",
        "All numbers are also in `results.json` (per-seed rates, failure reasons, every clutter round, timings).",
        "",
    ]
    return "\n".join(lines)
