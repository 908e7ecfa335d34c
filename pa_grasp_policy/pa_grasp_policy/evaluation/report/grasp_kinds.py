"""What kinds of grasps a chooser makes, from `pa-grasp-eval --json` files: one PNG with four
histograms (the policy's zoom steps; pitch in degrees, 90 = top-down; hand spread in degrees;
finger pre-shape in rad, the three fingers pooled) and success by object family (bars, with
successes/attempts), each evaluation a series of its own.

    python -m pa_grasp_policy.evaluation.report.grasp_kinds out/single_seen.json [...] --out kinds.png

Needs the per-attempt `grasp_details` pa-grasp-eval writes since 2026-12-08; an older JSON is
refused with a message (re-run pa-grasp-eval). Success by family is tallied on single-object
scenes only (a cluttered evaluation adds nothing to those bars). The model card
(training/ship.py) draws it and quotes `grasp_kind_summary`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pa_grasp_perception.grasp_geometry import FINGER_MAX  # noqa: E402

TOP_DOWN_DEG = 10.0  # a grasp within this of pitch 90 counts as top-down
WIDE_SPREAD_DEG = 15.0  # a spread above this counts as spread (the heuristic's parallel grip: 0)


class GraspKindsError(ValueError):
    """An evaluation JSON that cannot be drawn, with the reason."""


def load_eval(path: str | Path) -> dict:
    """A pa-grasp-eval JSON with its per-attempt data, or GraspKindsError saying what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise GraspKindsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraspKindsError(f"{path}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise GraspKindsError(f"{path}: not JSON ({exc})") from None
    check_details(data, str(path))
    return data


def has_details(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("grasp_details"), list)


def check_details(data, name: str) -> None:
    """GraspKindsError unless `data` is a pa-grasp-eval result with per-attempt grasp details."""
    if not (isinstance(data, dict) and "success_rate" in data and "per_attempt" in data):
        raise GraspKindsError(f"{name}: not a pa-grasp-eval JSON (no success_rate / per_attempt)")
    if not has_details(data):
        raise GraspKindsError(
            f"{name}: made before zoom steps and fingers were recorded per attempt (no 'grasp_details');"
            " re-run pa-grasp-eval with --json to draw its grasp kinds"
        )


def eval_label(data: dict) -> str:
    """'pa_grasp.pt single seen' (and the first seed when not the protocol's)."""
    label = f"{Path(str(data.get('who', '?'))).name} {data.get('scene', '?')} {data.get('objects', '?')}"
    return label + (f" (seeds from {data['first_seed']})" if data.get("first_seed") else "")


def grasp_kind_values(data: dict) -> dict[str, np.ndarray]:
    """The histograms' values over the attempts that chose a grasp: zoom_steps (only where the
    chooser has a zoom loop), pitch_deg, spread_deg, fingers (every finger of every grasp)."""
    chosen = [d for d in data["grasp_details"] if d.get("pitch_deg") is not None]
    return {
        "zoom_steps": np.array([d["zoom_steps"] for d in chosen if d.get("zoom_steps") is not None], dtype=float),
        "pitch_deg": np.array([d["pitch_deg"] for d in chosen], dtype=float),
        "spread_deg": np.array([d["spread_deg"] for d in chosen], dtype=float),
        "fingers": np.array([f for d in chosen for f in d.get("fingers") or ()], dtype=float),
    }


def grasp_kind_summary(data: dict) -> dict:
    """grasps (chosen), top_down (share within TOP_DOWN_DEG of pitch 90), wide_spread (share with a
    spread above WIDE_SPREAD_DEG), median_zoom_steps (None without a zoom loop)."""
    v = grasp_kind_values(data)
    n = len(v["pitch_deg"])
    share = (lambda mask: float(np.mean(mask))) if n else (lambda mask: float("nan"))
    return {
        "grasps": n,
        "top_down": share(np.abs(v["pitch_deg"] - 90.0) <= TOP_DOWN_DEG),
        "wide_spread": share(v["spread_deg"] > WIDE_SPREAD_DEG),
        "median_zoom_steps": float(np.median(v["zoom_steps"])) if len(v["zoom_steps"]) else None,
    }


def summary_text(summary: dict) -> str:
    """'162 grasps: 71% within 10° of top-down, 38% spread over 15°, median zoom steps 2'."""
    if not summary["grasps"]:
        return "no grasp chosen"
    zoom = summary["median_zoom_steps"]
    return (
        f"{summary['grasps']} grasps: {summary['top_down']:.0%} within {TOP_DOWN_DEG:g}° of top-down, "
        f"{summary['wide_spread']:.0%} spread over {WIDE_SPREAD_DEG:g}°, "
        + ("no zoom loop" if zoom is None else f"median zoom steps {zoom:g}")
    )


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _histogram(ax, series, bins, title: str, xlabel: str, empty: str) -> None:
    """series: (values, colour); each as % of its own count, side by side per bin."""
    shown = [(v, c) for v, c in series if len(v)]
    if not shown:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, fontsize=9, wrap=True)
    else:
        ax.hist(
            [v for v, _ in shown],
            bins=bins,
            weights=[np.full(len(v), 100.0 / len(v)) for v, _ in shown],
            color=[c for _, c in shown],
            rwidth=0.9,
        )
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("% of grasps")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _family_bars(ax, evals: list[dict], colors) -> None:
    """Success % by family, one bar per single-object evaluation, successes/attempts above each."""
    tallied = [(e["per_family"], c) for e, c in zip(evals, colors) if e.get("per_family")]
    families = sorted(set().union(*(tally for tally, _ in tallied)))
    ax.set_title("success by object family (single-object scenes)", fontsize=11)
    if not families:
        ax.text(0.5, 0.5, "no single-object evaluation given", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        return
    width = 0.8 / len(tallied)
    x = np.arange(len(families))
    small = 7 if len(families) * len(tallied) > 24 else 8
    for i, (tally, color) in enumerate(tallied):
        xs = x - 0.4 + width * (i + 0.5)
        for xv, family in zip(xs, families):
            if family not in tally:
                continue
            s, a = tally[family]
            ax.bar(xv, 100.0 * s / a, width * 0.92, color=color)
            ax.text(xv, 100.0 * s / a + 1.0, f"{s}/{a}", ha="center", va="bottom", fontsize=small, rotation=90)
    ax.set_xticks(x)
    ax.set_xticklabels(families, fontsize=9)
    ax.set_ylim(0, 118)
    ax.set_ylabel("grasp success (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def draw_grasp_kinds(path, evals: list[dict], labels: list[str] | None = None, title: str = ""):
    """Write the figure (PNG) of `evals` (pa-grasp-eval results with grasp_details) to `path`:
    four histograms and success by family, one series per evaluation. Returns the (closed)
    matplotlib Figure. GraspKindsError for an evaluation without per-attempt details."""
    if not evals:
        raise GraspKindsError("no evaluation to draw")
    labels = _unique(labels or [eval_label(e) for e in evals])
    for e, label in zip(evals, labels):
        check_details(e, label)
    colors = [plt.get_cmap("tab10")(i % 10) for i in range(len(evals))]
    values = [grasp_kind_values(e) for e in evals]

    fig = plt.figure(figsize=(17, 9.5))
    grid = fig.add_gridspec(2, 4, height_ratios=(1, 1.1), hspace=0.45, wspace=0.3)
    zoom_max = max([int(v["zoom_steps"].max()) for v in values if len(v["zoom_steps"])] + [1])
    pitches = np.concatenate([v["pitch_deg"] for v in values] + [np.array([90.0])])
    lo = max(0.0, 5 * np.floor((pitches.min() - 10) / 5))
    hi = min(180.0, 5 * np.ceil((pitches.max() + 10) / 5))
    panels = [
        ("zoom_steps", np.arange(-0.5, zoom_max + 1.0), "zoom steps before the grasp", "zoom steps", "no zoom loop"),
        ("pitch_deg", np.arange(lo - 2.5, hi + 5.0, 5.0), "pitch (90° = top-down)", "pitch (deg)", "no grasp"),
        ("spread_deg", np.arange(-2.5, 95.0, 5.0), "hand spread", "spread (deg)", "no grasp"),
        (
            "fingers",
            np.arange(-0.025, FINGER_MAX + 0.05, 0.05),
            "finger pre-shape (fingers 1-3)",
            "finger (rad)",
            "no grasp",
        ),
    ]
    for k, (key, bins, name, xlabel, empty) in enumerate(panels):
        ax = fig.add_subplot(grid[0, k])
        _histogram(ax, [(v[key], c) for v, c in zip(values, colors)], bins, name, xlabel, empty)
        if key == "zoom_steps":
            ax.set_xticks(range(zoom_max + 1))
        elif key == "pitch_deg":
            ax.axvspan(90 - TOP_DOWN_DEG, 90 + TOP_DOWN_DEG, color="#999999", alpha=0.15, lw=0)
            ax.axvline(90, color="#555555", ls="--", lw=1)
            ax.set_xlim(lo - 2.5, hi + 2.5)
        elif key == "spread_deg":
            ax.axvline(WIDE_SPREAD_DEG, color="#555555", ls="--", lw=1)
    _family_bars(fig.add_subplot(grid[1, :]), evals, colors)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    legend = [f"{label}: {summary_text(grasp_kind_summary(e))}" for label, e in zip(labels, evals)]
    rows = len(evals) if len(evals) > 2 else 1
    legend_top = 0.99 - (0.035 if title else 0.0)
    if title:
        fig.suptitle(title, fontsize=12, y=0.99, va="top")
    fig.legend(
        handles, legend, loc="upper center", bbox_to_anchor=(0.5, legend_top), ncol=len(evals) // rows, fontsize=9
    )
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.08, top=legend_top - 0.03 * rows - 0.05)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return fig


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pa_grasp_policy.evaluation.report.grasp_kinds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("evals", nargs="+", metavar="EVAL_JSON", help="pa-grasp-eval --json files")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--title", default="", help="a title above the figure")
    args = p.parse_args(argv)
    try:
        evals = [load_eval(f) for f in args.evals]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        draw_grasp_kinds(args.out, evals, title=args.title)
    except GraspKindsError as exc:
        print(f"grasp_kinds: {exc}", file=sys.stderr)
        return 2
    for label, e in zip(_unique([eval_label(e) for e in evals]), evals):
        print(f"{label}: {summary_text(grasp_kind_summary(e))}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
