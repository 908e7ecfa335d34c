"""Ship a trained checkpoint as the repository's model: a copy without the optimizer state
(small enough for git) and a model card built from the checkpoint and evaluation JSONs.

    python -m pa_grasp_policy.training.ship --checkpoint runs/main/best.pt --eval out/model_eval/*.json

With evaluations the card lists the command behind each, success by object family, and (from
JSONs pa-grasp-eval wrote with per-attempt grasp details) a figure of the grasp kinds written
beside it (`grasp_kinds.png`; report/grasp_kinds.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import sys
from pathlib import Path

from pa_grasp_policy.evaluation.report import grasp_kinds
from pa_grasp_policy.model.checkpoint import load_checkpoint, save_checkpoint
from pa_grasp_policy.model.network import count_parameters
from pa_grasp_policy.planner.loading import DEFAULT_MODEL, SHIPPED_SELECTOR, shown_path
from pa_grasp_policy.planner.selector import GraspSelector, SelectorError, weights_sha256


def _fmt_hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def _imitation_lines(counters: dict, imitation: dict, train: dict, machine: dict) -> list[str]:
    """The warm start (pa-grasp-imitate) the weights went through, if any."""
    if not counters.get("imitation_demos"):
        return []
    held_out = counters.get("held_out") if imitation else None
    return [
        f"- imitation warm start (not in the paper; `pa-grasp-imitate`): {counters['imitation_demos']:,} teacher "
        f"demonstrations ({counters.get('imitation_steps', 0):,} zoom steps), "
        f"{counters.get('imitation_epochs', 0)} epochs "
        f"(collection {_fmt_hours(counters.get('imitation_collect_s', 0.0))}, "
        f"fit {_fmt_hours(counters.get('imitation_fit_s', 0.0))})"
        + (
            f"; the teacher found a lifting grasp in {counters['teacher_success']:.1%} of its decisions"
            if math.isfinite(counters.get("teacher_success", math.nan))
            else ""
        )
        + (f"; held-out imitation metrics {json.dumps(held_out)}" if held_out else "")
        + f"; machine: {machine.get('cpus', '?')} CPU cores ({machine.get('platform', '?')}), no GPU",
        f"- PPO fine-tuning from `{train['init']}`" if train.get("init") else "- imitation only (no PPO after it)",
    ]


def _ppo_lines(counters: dict, machine: dict, kept_as: str) -> list[str]:
    """`kept_as`: the written file, which every clone has (the source checkpoint may not exist there)."""
    if not counters.get("updates"):
        return [f"- no PPO updates yet: fine-tune with `pa-grasp-train --init {kept_as} --out runs/finetune`"]
    return [
        f"- PPO updates: {counters.get('updates', 0)}, environment steps: {counters.get('env_steps', 0):,}, "
        f"grasp attempts: {counters.get('grasp_attempts', 0):,} "
        f"(training success {counters.get('successes', 0) / max(counters.get('grasp_attempts', 1), 1):.1%})",
        f"- PPO wall time: {_fmt_hours(counters.get('wall_time_s', 0.0))} on {machine.get('cpus', '?')} CPU cores "
        f"({machine.get('platform', platform.platform())}), no GPU"
        + (
            f"; at most {counters.get('wall_time_s', 0.0) * machine['cpus'] / 3600:.1f} CPU-hours (wall time x cores)"
            if isinstance(machine.get("cpus"), int)
            else ""
        ),
        f"- held-out evaluation during training (best): {counters.get('best_eval_success', 'n/a')}; "
        f"last: {json.dumps(counters.get('last_eval', {}))}",
        f"- continue training: `pa-grasp-train --resume {kept_as} --out runs/main` (weights, config and counters; "
        "Adam restarts: this copy has no optimizer state)",
    ]


def turn_selector_lines(selector_path: Path, policy) -> list[str]:
    """The card's turn-selector section for the weights being shipped. A selector fitted for
    other weights would be ignored by every caller, so it is removed (with a message): the
    repository then never holds a selector that silently does nothing. An unreadable one is left
    in place with a warning (every caller that loads it then fails with a clear error)."""
    if not selector_path.is_file():
        return []
    try:
        selector = GraspSelector.load(selector_path)
    except SelectorError as exc:  # left in place: loading it fails loudly wherever it is used
        print(f"ship: warning: the turn selector is unreadable, not described in the card: {exc}", file=sys.stderr)
        return []
    if selector.weights_sha256 != weights_sha256(policy):
        selector_path.unlink()
        print(
            f"ship: removed {shown_path(selector_path)}: it was fitted for other weights. Fit one for these with "
            "`pa-grasp-selector collect` and `pa-grasp-selector fit` (README, Shipped model).",
            file=sys.stderr,
        )
        return []
    provenance = selector.provenance
    if len(selector.layers) == 1:
        model = "a logistic regression"
    else:
        model = f"a small network ({' x '.join(str(w.shape[0]) for w, _ in selector.layers[:-1])} ReLU units)"
    reads = "this model's grasp-step features" + (
        " and the object measured around each grasp in the depth image (`object_geometry`)"
        if selector.reads_geometry
        else ""
    )
    fit_how = f"label {provenance.get('label', 'exact')}" + (
        f"; L2 {provenance['l2']}" if "l2" in provenance else f"; seed {provenance.get('seed', '?')}"
    )
    return [
        "",
        f"## Turn selector (`{selector_path.name}`; not in the paper)",
        "",
        "- A test-time extra of the grasp planner, off by default: with `--views 4` / `--views 8` (policy_node"
        " `views`) deterministic decisions run the zoom loop on the depth image turned by 0-3 quarter turns (and on"
        f" its mirror image's) and execute the grasp (mapped back) that {model} on {reads} rates best; only with a"
        " camera looking straight down.",
        f"- Fitted for these weights only (SHA-256 `{selector.weights_sha256[:8]}…` of the state dict; other weights "
        f"are refused) by `pa-grasp-selector fit` on {', '.join(provenance.get('collections', ['?']))} "
        f"({provenance.get('grasps', '?')} executed grasps, {provenance.get('lifted', '?')} lifted; "
        f"{fit_how}).",
        "- Evaluations made with it carry the planner's settings under `planner` in their JSON.",
        "- With the depth twin (`--twin on` / `depth_twin:=true`) the grasps are first tried on a physics twin of the"
        " depth image and the one that lifts most often there is executed; the selector only breaks ties. With the"
        " local search (`--local-search on` / `local_search:=true`) an unsure grasp's 13 small changes are tried"
        " there too. `--all-extras` switches all of them on.",
    ]


def eval_command(data: dict, path: str = "FILE") -> str:
    """The command that wrote an evaluation JSON: as recorded (pa-grasp-eval records it since
    2026-12-08), else rebuilt from its fields and marked so (test-time extras not shown)."""
    if data.get("command"):
        return f"`{data['command']}`"
    who = str(data.get("who", "?"))
    flags = ["--baseline", who.split(":", 1)[1]] if who.startswith("baseline:") else ["--checkpoint", who]
    flags += ["--scene", str(data.get("scene", "?")), "--objects", str(data.get("objects", "?"))]
    flags += ["--attempts", str(data.get("attempts", "?")), "--seeds", str(data.get("seeds", "?"))]
    flags += ["--first-seed", str(data["first_seed"])] if data.get("first_seed") else []
    rebuilt = shlex.join(["pa-grasp-eval", *flags, "--json", path])
    return f"`{rebuilt}` (rebuilt from the JSON, which predates recorded commands)"


def _percent_of(tally) -> str:
    s, a = tally
    return f"{100 * s / a:.1f} ({s}/{a})"


def grasp_kind_lines(evals: list[dict], paths: list[str], figure: Path | None) -> list[str]:
    """The card's section on the evaluations (numbered as the rows of its table; `paths`: their
    JSON files): the grasp-kind figure `figure` (a file beside the card; None: not drawn), one
    summary line per evaluation, success by object family, and the command behind each."""
    if not evals:
        return []
    labels = [f"({i}) {grasp_kinds.eval_label(e)}" for i, e in enumerate(evals, start=1)]
    lines = ["", "## Grasp kinds and success by family", ""]
    drawn = [(label, e, path) for label, e, path in zip(labels, evals, paths) if grasp_kinds.has_details(e)]
    if figure is not None and drawn:
        draw = shlex.join(
            ["python", "-m", "pa_grasp_policy.evaluation.report.grasp_kinds", *(p for _, _, p in drawn)]
            + ["--out", shown_path(figure)]
        )
        lines += [
            f"![Grasp kinds: zoom steps, pitch, spread, finger pre-shape; success by family]({figure.name})",
            "",
            "Every chosen grasp's zoom steps, pitch (90° = top-down), hand spread and finger pre-shape (the three"
            f" fingers pooled), and success by object family, of {', '.join(label for label, _, _ in drawn)}:"
            f" drawn by `{draw}`.",
            "",
        ]
    for label, e in zip(labels, evals):
        kinds = (
            grasp_kinds.summary_text(grasp_kinds.grasp_kind_summary(e))
            if grasp_kinds.has_details(e)
            else "no per-attempt grasp details (made before they were recorded; re-run pa-grasp-eval)"
        )
        lines.append(f"- {label}: {kinds}")
    tallied = [(label, e["per_family"]) for label, e in zip(labels, evals) if e.get("per_family")]
    if tallied:
        families = sorted(set().union(*(tally for _, tally in tallied)))
        lines += [
            "",
            "Success by object family, single-object scenes (% (successes/attempts)):",
            "",
            "| family | " + " | ".join(label for label, _ in tallied) + " |",
            "|---|" + "---:|" * len(tallied),
        ]
        for family in families:
            cells = [_percent_of(tally[family]) if family in tally else "–" for _, tally in tallied]
            lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines += ["", "Commands:", ""]
    lines += [f"{i}. {eval_command(e, path)}" for i, (e, path) in enumerate(zip(evals, paths), start=1)]
    return lines


def model_card(
    payload: dict,
    n_params: int,
    evals: list[dict],
    source: str,
    shipped: bool = True,
    kept_as: str = "",
    notes: tuple[str, ...] = (),
    selector_lines: list[str] | None = None,
    kind_lines: list[str] | None = None,
) -> str:
    """The card's text. `kind_lines`: the evaluations' section (grasp_kind_lines), after their table."""
    counters = payload.get("counters", {})
    cfg = payload.get("config", {})
    train, ppo = cfg.get("train", {}), cfg.get("ppo", {})
    machine = cfg.get("machine", {})
    what = (
        f"`{DEFAULT_MODEL.name}`: the pixel-attentive policy (paper §IV) loaded by default by `pa-grasp-eval` "
        "and `policy_node`."
        if shipped
        else "A checkpoint kept in the repository (a training state a later session can resume, or a trained "
        "ablation for the benchmark report); it is NOT the shipped model."
    )
    lines = [
        "# pa_grasp shipped model" if shipped else f"# pa_grasp checkpoint `{Path(kept_as or source).name}`",
        "",
        f"{what} Generated by `python -m pa_grasp_policy.training.ship` on {datetime.date.today().isoformat()}"
        f" from `{source}`.",
        "",
        "## Network and training configuration",
        "",
        f"- parameters: {n_params:,}; network: {json.dumps(payload.get('network_config', {}))}",
        f"- ablation / constraints: {train.get('ablation', 'full')} {json.dumps(payload.get('constraints', {}))}",
        f"- training config: {json.dumps(train)}",
        f"- PPO: {json.dumps(ppo)}",
        "",
        "## Training so far",
        "",
        *_imitation_lines(counters, cfg.get("imitation") or {}, train, machine),
        *_ppo_lines(counters, machine, kept_as or source),
        *(f"- {note}" for note in notes),
        "",
        "## Evaluation (deterministic policy, fresh seeded scenes, mean ± std over seeds)",
        "",
    ]
    if evals:
        lines += ["| who | scene | objects | success % | ± std | attempts | seeds |", "|---|---|---|---|---|---|---|"]
        for e in evals:
            who = Path(e.get("who", "?")).name
            # Other seeds than the protocol's 0.. are validation scenes: say which.
            seeds = f"{e.get('seeds', '?')}" + (f" from {e['first_seed']}" if e.get("first_seed") else "")
            lines.append(
                f"| {who} | {e['scene']} | {e['objects']} | {100 * e['success_rate']:.1f} | "
                f"{100 * e['std']:.1f} | {e['attempts']} | {seeds} |"
            )
        lines += [
            "",
            "Made with `pa-grasp-eval [--checkpoint PATH | --baseline NAME] --scene S --objects O "
            "--attempts N --seeds K [--first-seed S] --json FILE`"
            + (" (row by row: Commands below)." if kind_lines else "."),
        ]
    else:
        lines.append("(no evaluation given)")
    lines += kind_lines or []
    lines += selector_lines or []
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--eval", nargs="*", default=[], help="pa-grasp-eval JSON files for the card")
    p.add_argument("--out", default=str(DEFAULT_MODEL), help=f"model path (default {DEFAULT_MODEL})")
    p.add_argument(
        "--note", action="append", default=[], help="a provenance line for the card's training section (repeatable)"
    )
    args = p.parse_args(argv)
    policy, payload = load_checkpoint(args.checkpoint)
    out = Path(args.out)
    save_checkpoint(out, policy, None, payload.get("config", {}), payload.get("counters", {}))
    evals = [json.loads(Path(f).read_text()) for f in args.eval]
    shipped = out.resolve() == DEFAULT_MODEL.resolve()
    card_path = out.parent / "MODEL_CARD.md" if shipped else out.with_suffix(".md")
    figure = card_path.with_name("grasp_kinds.png" if shipped else f"{card_path.stem}_grasp_kinds.png")
    drawn = [e for e in evals if grasp_kinds.has_details(e)]
    if drawn:
        grasp_kinds.draw_grasp_kinds(figure, drawn)
    elif evals:
        print(
            "ship: no grasp-kind figure: the evaluations were made before pa-grasp-eval recorded per-attempt"
            " grasp details; re-run it for one",
            file=sys.stderr,
        )
    card = model_card(
        payload,
        count_parameters(policy),
        evals,
        os.path.relpath(args.checkpoint),
        shipped,
        shown_path(out),
        tuple(args.note),
        turn_selector_lines(out.parent / SHIPPED_SELECTOR.name, policy) if shipped else [],
        grasp_kind_lines(evals, args.eval, figure if drawn else None),
    )
    card_path.write_text(card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {card_path}" + (f" and {figure}" if drawn else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
