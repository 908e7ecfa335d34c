"""`pa-grasp-report`: the benchmark report in one command.

    pa-grasp-report --out report/                       # paper settings: 500 attempts per cell, 5 seeds
    pa-grasp-report --out report/ --quick               # small settings, a few minutes
    pa-grasp-report --out report/ --checkpoint runs/main/best.pt --rows model,published,baselines
    pa-grasp-report --out report/ --ablation-checkpoint no_attention=runs/no_att/best.pt --novel ~/meshes/
    pa-grasp-report --out report/pile --rows model,heuristic --no-table --no-timing --grid-scenes 0 \
        --clutter-layout pile --clutter-sizes 5 --clutter-objects novel --clutter-rounds 40  # VGN-style piles

Writes DIR/report.md, DIR/results.json and PNG figures: the paper's Table I (single/cluttered x
seen/novel, mean ± std over seeds) for the model, the paper's published numbers, the random and
heuristic baselines and the four ablations; a clutter-clearing protocol (grasp until cleared,
two failures in a row or 2 x objects attempts; objects scattered, or dropped into a box that
is then removed: VGN's pile); the policy's decision latency and the
simulation speed. Every cell is independent and runs in one of --workers processes.

An ablation without --ablation-checkpoint is the model constrained at test time, labelled
"(test-time constraint)": not the experiment of the paper, which trains each ablation.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pa_grasp_policy.evaluation.report import rows
from pa_grasp_policy.evaluation.report.cells import Task, run_task, worker_init, worker_run
from pa_grasp_sim.scene import LAYOUTS

FULL = {
    "attempts": 500,
    "seeds": 5,
    "clutter_rounds": 20,
    "clutter_sizes": "10,5",
    "clutter_objects": "seen,novel",
    "grid_scenes": 6,
    "timing_repeats": 5,
    "bench_episodes": 20,
}
QUICK = {
    "attempts": 20,
    "seeds": 2,
    "clutter_rounds": 2,
    "clutter_sizes": "10,5",
    "clutter_objects": "novel",
    "grid_scenes": 4,
    "timing_repeats": 2,
    "bench_episodes": 4,
}
CLUTTER_DEFAULT_ROWS = ("model", "heuristic", "random")


def _int_list(text: str, option: str) -> list[int]:
    """Comma-separated positive integers, or ValueError naming `option` (reported like every
    other bad setting, exit 2)."""
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{option} expects comma-separated integers, got '{text}'") from None
    if not values or any(v < 1 for v in values):
        raise ValueError(f"{option} expects positive integers, got '{text}'")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pa-grasp-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True, help="report directory (created; report.md, results.json, PNGs)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small settings: " + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    p.add_argument(
        "--rows",
        default="all",
        help=f"comma list of rows: {', '.join(rows.ALL_ROWS)}; groups: baselines, ablations, all (default all)",
    )
    p.add_argument("--checkpoint", help="the model row's checkpoint (default: the shipped model)")
    p.add_argument(
        "--ablation-checkpoint",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"a model trained with an ablation ({', '.join(rows.ABLATIONS)}); repeatable. Without it the "
        "ablation row is the model constrained at test time",
    )
    p.add_argument("--attempts", type=int, help=f"grasp attempts per cell (default {FULL['attempts']}, the paper's)")
    p.add_argument("--seeds", type=int, help=f"evaluation seeds the attempts are split over (default {FULL['seeds']})")
    p.add_argument("--novel", help="directory of .urdf/.obj files to use as the novel object set (default: novel)")
    p.add_argument("--max-objects", type=int, default=30, help="cluttered cells: 2..N objects per scene (default 30)")
    p.add_argument(
        "--clutter-rounds",
        type=int,
        help=f"clutter-clearing rounds per row, scene size and object set (default {FULL['clutter_rounds']}; 0 = skip)",
    )
    p.add_argument("--clutter-sizes", help=f"objects per clutter-clearing scene (default {FULL['clutter_sizes']})")
    p.add_argument("--clutter-objects", help=f"object sets for clutter clearing (default {FULL['clutter_objects']})")
    p.add_argument(
        "--clutter-rows", help="rows that run the clutter protocol (default: model, heuristic, random if selected)"
    )
    p.add_argument("--clutter-step-factor", type=float, default=2.0, help="step limit = factor x objects (default 2)")
    p.add_argument(
        "--clutter-layout",
        choices=LAYOUTS,
        default="scattered",
        help="clutter-clearing scenes: 'scattered' over the clutter square (default), or a VGN-style 'pile' "
        "(dropped one after another into an open box at a random spot, the box then removed)",
    )
    p.add_argument(
        "--no-table",
        action="store_true",
        help="skip the Table I cells (e.g. only the clutter protocol of the rows selected)",
    )
    p.add_argument("--grid-scenes", type=int, help=f"scenes in the grasp grid figure (default {FULL['grid_scenes']})")
    p.add_argument("--timing-repeats", type=int, help="policy latency: passes over 3 scenes per thread count")
    p.add_argument("--bench-episodes", type=int, help="simulation speed: single-object episodes (fewer for the rest)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--no-timing", action="store_true", help="skip the timing section")
    p.add_argument("--workers", type=int, default=2, help="worker processes for the cells (default 2; 1 = in-process)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--reuse-eval",
        nargs="+",
        default=[],
        metavar="JSON",
        help="pa-grasp-eval JSON files whose cells are taken instead of re-measured when they match a row "
        "(same baseline or checkpoint file), cell, attempts and seeds, measured on the protocol's seeds "
        "(no --first-seed) (listed as reused in the report)",
    )
    return p


def reusable_cells(paths: list[str], max_objects: int) -> list[tuple[str, dict]]:
    """(path, result) of pa-grasp-eval JSON files; a clear error for a file that is not one."""
    cells = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"--reuse-eval {path}: not a readable JSON file ({exc})") from exc
        missing = {"who", "scene", "objects", "seeds", "attempts", "success_rate", "std"} - set(data)
        if missing:
            raise ValueError(f"--reuse-eval {path}: not a pa-grasp-eval result (missing {sorted(missing)})")
        if data.get("test_ablation") not in (None, "full") or max_objects != 30:  # eval scenes: 2-30 objects
            continue
        cells.append((path, data))
    return cells


def _reused_result(task: Task, cells: list[tuple[str, dict]]) -> dict | None:
    """The pa-grasp-eval result measuring exactly this task, or None."""
    row = task.row
    if task.kind != "eval" or task.objects != task.objects_label or row.test_constraint or row.camera_angle:
        return None
    for path, cell in cells:
        if cell.get("first_seed", 0) != 0:  # measured on other scenes than the protocol's
            continue
        if (cell["scene"], cell["objects"], cell["attempts"], cell["seeds"]) != (
            task.scene,
            task.objects,
            task.attempts,
            task.seeds,
        ):
            continue
        if cell.get("turn_selector") or (cell.get("planner") or {}).get("views", 1) > 1:
            continue  # the report's rows are the policy alone (the paper's method), no test-time extras
        who = str(cell["who"])
        if row.kind == "baseline":
            same = who == f"baseline:{row.baseline}"
        else:
            same = Path(who).exists() and Path(who).resolve() == Path(row.checkpoint).resolve()
        if same:
            fields = ("success_rate", "std", "attempts", "per_seed", "failure_reasons", "seconds", "per_family")
            return {
                "task": {"scene": task.scene},
                "row": row.key,
                **{k: cell.get(k) for k in fields},
                "reused_from": path,
            }
    return None


def resolve_settings(args) -> dict:
    profile = QUICK if args.quick else FULL
    s = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in profile.items()}
    s["clutter_sizes"] = _int_list(str(s["clutter_sizes"]), "--clutter-sizes")
    s["clutter_objects"] = [t.strip() for t in str(s["clutter_objects"]).split(",") if t.strip()]
    for name in ("attempts", "seeds"):
        if s[name] < 1:
            raise ValueError(f"--{name} must be at least 1")
    if s["seeds"] > s["attempts"] and not args.no_table:
        raise ValueError(f"{s['seeds']} seeds need at least as many attempts per cell, got {s['attempts']}")
    if s["clutter_rounds"] < 0 or s["grid_scenes"] < 0 or s["timing_repeats"] < 1 or s["bench_episodes"] < 1:
        raise ValueError("--clutter-rounds/--grid-scenes must be >= 0, --timing-repeats/--bench-episodes >= 1")
    for o in s["clutter_objects"]:
        if o not in ("seen", "novel"):
            raise ValueError(f"--clutter-objects takes seen and/or novel, got '{o}'")
    if args.max_objects < 2:
        raise ValueError("--max-objects must be at least 2")
    s["max_objects"] = args.max_objects
    s["clutter_step_factor"] = args.clutter_step_factor
    s["clutter_layout"] = args.clutter_layout
    s["table"] = not args.no_table
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1 (1 = in-process), got {args.workers}")
    s["workers"] = args.workers
    s["quick"] = bool(args.quick)
    return s


def _parse_trained(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise ValueError(f"--ablation-checkpoint takes NAME=PATH, got '{item}'")
        if name not in rows.ABLATIONS:
            raise ValueError(f"unknown ablation '{name}' in --ablation-checkpoint; known: {', '.join(rows.ABLATIONS)}")
        out[name] = path
    return out


def _check_checkpoint(path: str, expect_ablation: str | None) -> str:
    """Validate a checkpoint (CheckpointError if unreadable); a warning text if its training
    ablation is not the expected one."""
    from pa_grasp_policy.model.checkpoint import read_payload

    payload = read_payload(path)
    trained_as = payload.get("config", {}).get("train", {}).get("ablation")
    if expect_ablation is not None and trained_as not in (None, expect_ablation):
        return f"checkpoint {path} was trained with ablation '{trained_as}', not '{expect_ablation}'"
    if expect_ablation is None and trained_as not in (None, "full"):
        return f"the model checkpoint {path} was trained with ablation '{trained_as}'"
    return ""


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[4]
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=7"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


# -- running the tasks ---------------------------------------------------------------------
class _Bars:
    """One tqdm bar per running task (stderr), a line per finished task."""

    def __init__(self, tasks: list[Task], quiet: bool):
        self.tasks = {t.id: t for t in tasks}
        self.quiet = quiet
        self.bars = {}
        self.finished = 0
        self.closed: set[int] = set()

    def update(self, task_id, done, total, rate):
        if self.quiet or task_id in self.closed:  # a late message of a finished task
            return
        from tqdm import tqdm

        bar = self.bars.get(task_id)
        if bar is None:
            task = self.tasks[task_id]
            unit = "grasp" if task.kind == "eval" else "round"
            used = {b.pos_slot for b in self.bars.values()}
            slot = next(i for i in range(len(used) + 1) if i not in used)
            bar = self.bars[task_id] = tqdm(
                total=total,
                desc=task.label,
                unit=unit,
                leave=False,
                dynamic_ncols=True,
                file=sys.stderr,
                position=slot,
            )
            bar.pos_slot = slot
        bar.update(done - bar.n)
        if math.isfinite(rate):
            bar.set_postfix({"success" if self.tasks[task_id].kind == "eval" else "declutter": f"{rate:.2f}"})

    def done(self, task_id, result):
        self.finished += 1
        self.closed.add(task_id)
        bar = self.bars.pop(task_id, None)
        if bar is not None:
            bar.close()
        task = self.tasks[task_id]
        if "error" in result:
            line = f"ERROR {result['error']}"
        elif task.kind == "eval":
            line = (
                f"{100 * result['success_rate']:.1f} ± {100 * result['std']:.1f} % "
                f"({result['attempts']} attempts, {result['seconds']:.0f} s)"
            )
        else:
            line = (
                f"grasp success {100 * result['grasp_success_rate']:.1f} %, declutter "
                f"{100 * result['declutter_rate']:.1f} % ({result['rounds']} rounds, {result['seconds']:.0f} s)"
            )
        msg = f"[{self.finished}/{len(self.tasks)}] {task.label}: {line}"
        if self.quiet:
            print(msg, file=sys.stderr, flush=True)
        else:
            from tqdm import tqdm

            tqdm.write(msg, file=sys.stderr)


def run_tasks(tasks: list[Task], workers: int, quiet: bool) -> dict[int, dict]:
    bars = _Bars(tasks, quiet)
    results: dict[int, dict] = {}
    ordered = sorted(tasks, key=lambda t: -t.cost)
    if workers <= 1 or len(tasks) <= 1:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for task in ordered:
                try:
                    res = run_task(task, lambda d, n, r, i=task.id: bars.update(i, d, n, r))
                except Exception as exc:  # noqa: BLE001 - one bad cell must not lose the report
                    res = {"row": task.row.key, "error": f"{type(exc).__name__}: {exc}"}
                results[task.id] = res
                bars.done(task.id, res)
        finally:
            torch.set_num_threads(threads)
        return results

    import multiprocessing as mp
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    pool = ctx.Pool(min(workers, len(tasks)), initializer=worker_init, initargs=(q, 1))
    try:
        pending = {t.id: pool.apply_async(worker_run, (t,)) for t in ordered}
        while pending:
            # Finished tasks first, so a worker's next task never opens a bar before the last one closed.
            for task_id in [i for i, r in pending.items() if r.ready()]:
                res = pending.pop(task_id).get()
                results[task_id] = res
                bars.done(task_id, res)
            try:
                while True:
                    task_id, done, total, rate = q.get(timeout=0.2)
                    bars.update(task_id, done, total, rate)
            except queue_mod.Empty:
                pass
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return results


# -- the report ----------------------------------------------------------------------------
def _policy_for_figures(specs: dict[str, rows.RowSpec]):
    """(row spec, policy, zoom config, world config) of the first policy row (the model
    preferred), or None."""
    from pa_grasp_policy.planner.loading import load_model

    for key in ("model", *rows.ABLATIONS):
        spec = specs.get(key)
        if spec is not None and spec.kind == "policy":
            model = load_model(spec.checkpoint, spec.test_constraint or "full")
            policy, zoom_cfg, world_cfg = model.policy, model.zoom_config, model.world_config()
            if spec.camera_angle is not None:
                world_cfg.camera.view_angle_deg = spec.camera_angle
            return spec, policy, zoom_cfg, world_cfg
    return None


def make_figures(out: Path, specs, results: dict, settings: dict, objects: dict) -> tuple[list[dict], dict]:
    from pa_grasp_policy.evaluation.report import figures
    from pa_grasp_policy.evaluation.report.cells import make_chooser
    from pa_grasp_sim.world import GraspWorld

    made: list[dict] = []
    extra: dict = {}
    loaded = _policy_for_figures(specs)
    novel_set = objects["novel"]
    if loaded is not None:
        spec, policy, zoom_cfg, world_cfg = loaded
        n = min(10, settings["max_objects"])
        t = time.perf_counter()
        with GraspWorld(world_cfg, novel_set, seed=0) as world:
            episode = figures.run_zoom_episode(world, policy, zoom_cfg, n, [5_000_000 + i for i in range(4)])
        path = out / "fig_zoom_sequence.png"
        figures.zoom_sequence(
            path, episode, f"{spec.label}: one episode on a {n}-object novel scene (seed {episode['seed']})"
        )
        made.append({"file": path.name, "what": f"zoom sequence of {spec.label}", "seconds": time.perf_counter() - t})
        extra["zoom_episode"] = {
            "row": spec.key,
            "scene_seed": episode["seed"],
            "n_objects": n,
            "zooms": episode["result"].n_zooms,
            "boxes": [list(b) for b in episode["result"].boxes],
            "success": episode["outcome"].success,
            "reason": episode["outcome"].reason,
        }
    if settings["grid_scenes"] > 0 and specs:
        keys = [k for k in ("model", "heuristic", "random") if k in specs] or list(specs)[:1]
        methods = []
        for k in keys[:3]:
            choose, world_cfg = make_chooser(specs[k])
            methods.append((specs[k].label.replace(" (", "\n("), choose, world_cfg))
        counts = [1, 5, 10, 20]
        scenes = []
        for j in range(settings["grid_scenes"]):
            label = "novel" if j % 2 else "seen"
            count = min(counts[(j // 2) % len(counts)], settings["max_objects"])
            scenes.append((label, objects[label], count, 6_000_000 + j))
        t = time.perf_counter()
        path = out / "fig_grasp_grid.png"
        outcomes = figures.grasp_grid(
            path,
            methods,
            scenes,
            "Grasps when the hand starts closing (at the grasp pose if never reached); same scenes in every row",
        )
        made.append({"file": path.name, "what": "grasp grid", "seconds": time.perf_counter() - t})
        extra["grid"] = outcomes

    # Table I bars.
    bars = []
    for key, spec in specs.items():
        row_res = results["table"].get(key, {})
        values = []
        for scene, objs in rows.CONDITIONS:
            cell = row_res.get(f"{scene}_{objs}")
            values.append((100 * cell["success_rate"], 100 * cell["std"]) if cell and "error" not in cell else None)
        pub_key = rows.PUBLISHED_FOR.get(key) if "published" in results["rows_selected"] else None
        bars.append(
            {
                "label": spec.label,
                "values": values,
                "published": rows.PUBLISHED[pub_key][1] if pub_key else None,
                "color": rows.ROW_COLORS.get(key),
            }
        )
    if "published" in results["rows_selected"] and "model" not in specs:
        # No model measured: the paper's main result as a hatched reference bar.
        name, vals = rows.PUBLISHED["ours_sim"]
        bars.insert(0, {"label": f"Paper: {name} ({rows.PUBLISHED_NOTE})", "values": list(vals), "hatch": True})
    if bars and settings["table"]:
        path = out / "fig_table1.png"
        s = results["settings"]
        figures.table_chart(
            path,
            bars,
            [rows.CONDITION_LABELS[c] for c in rows.CONDITIONS],
            f"Table I, measured here: {s['attempts']} attempts per cell over {s['seeds']} seeds (± std over seeds)",
        )
        made.append({"file": path.name, "what": "Table I bar chart"})

    if results["clutter"]:
        groups = []
        for c in results["clutter"]:
            g = f"{c['n_objects']} objects, {c['objects']}"
            if g not in groups:
                groups.append(g)
        series = []
        for key in dict.fromkeys(c["row"] for c in results["clutter"]):
            succ, decl = [None] * len(groups), [None] * len(groups)
            for c in results["clutter"]:
                if c["row"] == key and "error" not in c:
                    i = groups.index(f"{c['n_objects']} objects, {c['objects']}")
                    succ[i] = (100 * c["grasp_success_rate"], 100 * c["grasp_success_std"])
                    decl[i] = (100 * c["declutter_rate"], 100 * c["declutter_std"])
            series.append(
                {"label": specs[key].label, "success": succ, "declutter": decl, "color": rows.ROW_COLORS.get(key)}
            )
        path = out / "fig_clutter.png"
        figures.clutter_chart(
            path,
            series,
            groups,
            f"Clutter clearing ({settings['clutter_layout']} scenes): {settings['clutter_rounds']} round(s) per bar,"
            " ± std over seeds",
        )
        made.append({"file": path.name, "what": "clutter-clearing bar chart"})
    return made, extra


def make_timing(specs, settings, objects) -> dict:
    from pa_grasp_policy.evaluation.report import timing as timing_mod

    timing: dict = {"machine_before": timing_mod.machine_info()}
    loaded = _policy_for_figures(specs)
    if loaded is not None:
        spec, policy, zoom_cfg, world_cfg = loaded
        who = f"{spec.label}"
    else:
        from pa_grasp_policy.model.policy import Policy
        from pa_grasp_policy.model.zoom import ZoomConfig
        from pa_grasp_sim.world import WorldConfig

        policy, zoom_cfg, world_cfg = Policy().eval(), ZoomConfig(), WorldConfig()
        who = "untrained network, default config (no policy row selected; latency does not depend on the weights)"
    counts = tuple(min(c, settings["max_objects"]) for c in (1, 5, 10))
    depths = timing_mod.timing_depths(world_cfg, objects["seen"], counts)
    timing["policy"] = {
        "who": who,
        "input_size": zoom_cfg.input_size,
        "max_zoom_steps": zoom_cfg.max_zoom_steps,
        "scenes": list(counts),
        "results": timing_mod.policy_latency(policy, zoom_cfg, depths, (1, 2), settings["timing_repeats"]),
    }
    timing["sim"] = timing_mod.sim_speed(settings["bench_episodes"])
    timing["machine_after"] = timing_mod.machine_info()
    return timing


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    command = "pa-grasp-report " + shlex.join(argv)
    started = time.perf_counter()
    from pa_grasp_policy.model.checkpoint import CheckpointError
    from pa_grasp_policy.planner.loading import DEFAULT_MODEL, shown_path
    from pa_grasp_sim.objects import ObjectSetError, load_object_set

    try:
        settings = resolve_settings(args)
        selected = rows.parse_rows(args.rows)
        trained = _parse_trained(args.ablation_checkpoint)
        objects = {"seen": "seen", "novel": args.novel or "novel"}
        for name in set(objects.values()):
            load_object_set(name)
        model_path = args.checkpoint or shown_path(DEFAULT_MODEL)
        model_name = Path(model_path).name
        measured = [k for k in selected if k in rows.MEASURED_ROWS]
        specs = {k: rows.build_row(k, model_path, model_name, trained) for k in measured}
        warnings = []
        needs_model = [k for k, s in specs.items() if s.kind == "policy" and s.checkpoint == model_path]
        if needs_model:
            if not args.checkpoint and not DEFAULT_MODEL.exists():
                raise CheckpointError(
                    f"no shipped model at {DEFAULT_MODEL} (needed by rows {', '.join(needs_model)}): train one "
                    "(pa-grasp-train), pass --checkpoint PATH, or choose rows without the model "
                    "(e.g. --rows published,baselines)"
                )
            if w := _check_checkpoint(model_path, None):
                warnings.append(w)
        for name, path in trained.items():
            if name in specs and (w := _check_checkpoint(path, name)):
                warnings.append(w)
                specs[name].note += f" WARNING: {w}"
        unused = [n for n in trained if n not in specs]
        if unused:
            warnings.append(f"--ablation-checkpoint given for rows not selected: {', '.join(unused)}")
        if args.clutter_rows:
            clutter_rows = [k for k in rows.parse_rows(args.clutter_rows) if k in specs]
            missing = [k for k in rows.parse_rows(args.clutter_rows) if k not in specs and k != "published"]
            if missing:
                raise ValueError(f"--clutter-rows {', '.join(missing)} not among the measured rows selected")
        else:
            clutter_rows = [k for k in CLUTTER_DEFAULT_ROWS if k in specs] or list(specs)
    except (CheckpointError, ObjectSetError, ValueError) as exc:
        print(f"pa-grasp-report: {exc}", file=sys.stderr)
        return 2

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for w in warnings:
        print(f"pa-grasp-report: warning: {w}", file=sys.stderr)

    tasks: list[Task] = []
    for spec in specs.values() if settings["table"] else ():
        for scene, objs in rows.CONDITIONS:
            tasks.append(
                Task(
                    len(tasks),
                    "eval",
                    spec,
                    objects[objs],
                    objs,
                    settings["seeds"],
                    scene=scene,
                    attempts=settings["attempts"],
                    max_objects=settings["max_objects"],
                )
            )
    if settings["clutter_rounds"] > 0:
        for key in clutter_rows:
            for n in settings["clutter_sizes"]:
                for objs in settings["clutter_objects"]:
                    tasks.append(
                        Task(
                            len(tasks),
                            "clutter",
                            specs[key],
                            objects[objs],
                            objs,
                            settings["seeds"],
                            n_objects=n,
                            rounds=settings["clutter_rounds"],
                            step_factor=settings["clutter_step_factor"],
                            layout=settings["clutter_layout"],
                        )
                    )
    table = "no Table I"
    if settings["table"]:
        table = f"{len(specs)} measured rows x 4 cells of {settings['attempts']} attempts"
    print(
        f"pa-grasp-report: {len(tasks)} tasks ({table}, {sum(t.kind == 'clutter' for t in tasks)} clutter series"
        f" of {settings['clutter_layout']} scenes) on {settings['workers']} worker(s) -> {out}",
        file=sys.stderr,
        flush=True,
    )
    try:
        cells = reusable_cells(args.reuse_eval, settings["max_objects"])
    except ValueError as exc:
        print(f"pa-grasp-report: {exc}", file=sys.stderr)
        return 2
    reused = {t.id: r for t in tasks if (r := _reused_result(t, cells)) is not None}
    for task_id, res in reused.items():
        print(f"pa-grasp-report: {tasks[task_id].label}: reused from {res['reused_from']}", file=sys.stderr)
    to_run = [t for t in tasks if t.id not in reused]
    task_results = {**reused, **(run_tasks(to_run, settings["workers"], args.quiet) if to_run else {})}
    cells_seconds = time.perf_counter() - started

    results: dict = {
        "command": command,
        "argv": argv,
        "cwd": os.getcwd(),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "settings": {**settings, "objects": objects, "clutter_rows": clutter_rows},
        "rows_selected": selected,
        "rows": {k: s.to_dict() for k, s in specs.items()},
        "published": {
            k: {
                "label": name,
                "note": rows.PUBLISHED_NOTE,
                "values": {f"{sc}_{ob}": {"mean": m, "std": sd} for (sc, ob), (m, sd) in zip(rows.CONDITIONS, vals)},
            }
            for k, (name, vals) in rows.PUBLISHED.items()
        },
        "table": {},
        "clutter": [],
        "warnings": warnings,
        "errors": [],
    }
    for task in tasks:
        res = task_results.get(task.id, {"error": "not run"})
        if "error" in res:
            results["errors"].append(f"{task.label}: {res['error']}")
        if task.kind == "eval":
            results["table"].setdefault(task.row.key, {})[f"{task.scene}_{task.objects_label}"] = res
        else:
            results["clutter"].append(
                {**res, "row": task.row.key, "objects": task.objects_label, "n_objects": task.n_objects}
            )
    results["cells_seconds"] = cells_seconds

    import torch

    torch.set_num_threads(1)
    results["figures"], results["figure_data"] = [], {}
    if not args.no_figures:
        print("pa-grasp-report: figures", file=sys.stderr, flush=True)
        try:
            results["figures"], results["figure_data"] = make_figures(out, specs, results, settings, objects)
        except Exception as exc:  # noqa: BLE001 - the tables are worth writing anyway
            results["errors"].append(f"figures: {type(exc).__name__}: {exc}")
            print(f"pa-grasp-report: figures failed: {exc}", file=sys.stderr)
    if not args.no_timing:
        print("pa-grasp-report: timing (policy latency, simulation speed)", file=sys.stderr, flush=True)
        results["timing"] = make_timing(specs, settings, objects)
    results["seconds"] = time.perf_counter() - started

    from pa_grasp_policy.evaluation.report.markdown import render_report

    (out / "results.json").write_text(json.dumps(_jsonable(results), indent=2))
    (out / "report.md").write_text(render_report(results))
    print(
        f"pa-grasp-report: wrote {out / 'report.md'}, {out / 'results.json'} and "
        f"{len(results['figures'])} figure(s) in {results['seconds']:.0f} s",
        file=sys.stderr,
    )
    for e in results["errors"]:
        print(f"pa-grasp-report: error in {e}", file=sys.stderr)
    return 1 if results["errors"] else 0


def _jsonable(obj):
    """NaN -> None, numpy scalars -> Python, tuples -> lists (strict JSON)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main())
