"""The rows of the report's Table I: what each one is and how it is measured.

Measured rows: the model (shipped or ``--checkpoint``), the random and heuristic baselines, and
the paper's four ablations. An ablation row is a model trained with the ablation when its
checkpoint is given ("(trained)"), else the full model constrained at test time ("(test-time
constraint)", not the same experiment as the paper's). Published rows are the paper's Table I
numbers, never measured here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CONDITIONS = (("single", "seen"), ("single", "novel"), ("cluttered", "seen"), ("cluttered", "novel"))
CONDITION_LABELS = {
    ("single", "seen"): "Single, seen",
    ("single", "novel"): "Single, novel",
    ("cluttered", "seen"): "Cluttered, seen",
    ("cluttered", "novel"): "Cluttered, novel",
}

ABLATIONS = ("no_attention", "top_down", "parallel", "camera60")
MEASURED_ROWS = ("model", "random", "heuristic", *ABLATIONS)
ALL_ROWS = ("model", "published", "random", "heuristic", *ABLATIONS)
ROW_GROUPS = {
    "all": ALL_ROWS,
    "baselines": ("random", "heuristic"),
    "ablations": ABLATIONS,
}

ABLATION_NAMES = {
    "no_attention": "No attention",
    "top_down": "Top-down only",
    "parallel": "Parallel hand",
    "camera60": "60° camera",
}
ABLATION_WHAT = {
    "no_attention": "horizon 1: the grasp is chosen on the full image, no zoom",
    "top_down": "pitch fixed to π/2 (straight down)",
    "parallel": "spread fixed to 0 (fingers 1/2 parallel, opposite finger 3)",
    "camera60": "camera tilted to 60° from the table instead of top-down",
}

# Paper Table I, % success, (mean, std) per condition in CONDITIONS order.
PUBLISHED = {
    "ours_sim": ("Ours (Sim)", ((93.8, 2.6), (94.9, 1.4), (92.5, 1.8), (91.1, 3.7))),
    "ours_real": ("Ours (Real robot)", ((96.7, 6.2), (93.3, 8.1), (92.9, 5.8), (91.9, 6.7))),
    "no_attention": ("No Attention", ((86.9, 4.7), (85.2, 2.7), (70.9, 6.3), (72.2, 3.6))),
    "top_down": ("Top-Down", ((88.6, 2.1), (87.0, 2.7), (74.8, 2.9), (70.8, 5.9))),
    "parallel": ("Parallel", ((50.4, 6.7), (44.5, 5.4), (49.0, 2.4), (45.1, 4.4))),
    "camera60": ("60° Camera", ((92.3, 2.1), (91.9, 3.4), (91.8, 3.6), (91.6, 2.5))),
}
# Which published row a measured row is compared with.
PUBLISHED_FOR = {"model": "ours_sim", **{a: a for a in ABLATIONS}}
PUBLISHED_NOTE = "published, not measured here"
# One colour per row in every figure.
ROW_COLORS = {
    "model": "#1f77b4",
    "random": "#7f7f7f",
    "heuristic": "#ff7f0e",
    "no_attention": "#2ca02c",
    "top_down": "#d62728",
    "parallel": "#9467bd",
    "camera60": "#8c564b",
}


@dataclass
class RowSpec:
    """How to produce one measured row. kind: "policy" or "baseline".

    checkpoint: the policy checkpoint (None = the shipped model). test_constraint: an ablation
    applied at test time on the model (None for the model itself and for trained ablations).
    camera_angle: camera view angle override in degrees (None = the checkpoint's/default).
    """

    key: str
    label: str
    kind: str
    checkpoint: str | None = None
    test_constraint: str | None = None
    camera_angle: float | None = None
    baseline: str | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def parse_rows(text: str) -> list[str]:
    """'all', or a comma list of row keys / groups (baselines, ablations) -> ordered unique keys."""
    wanted: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        keys = ROW_GROUPS.get(item, (item,))
        for k in keys:
            if k not in ALL_ROWS:
                raise ValueError(f"unknown row '{k}'; known: {', '.join(ALL_ROWS)}, or groups {', '.join(ROW_GROUPS)}")
            if k not in wanted:
                wanted.append(k)
    if not wanted:
        raise ValueError("no rows selected")
    return [k for k in ALL_ROWS if k in wanted]


def build_row(key: str, model_checkpoint: str | None, model_name: str, trained: dict[str, str]) -> RowSpec:
    """The spec of a measured row (key in MEASURED_ROWS)."""
    if key == "model":
        return RowSpec(
            "model",
            f"Ours, this implementation ({model_name})",
            "policy",
            checkpoint=model_checkpoint,
            note=f"the policy checkpoint `{model_checkpoint}`, deterministic actions",
        )
    if key == "random":
        return RowSpec(
            "random",
            "Random grasp (baseline)",
            "baseline",
            baseline="random",
            note="a random pixel with valid depth, random orientation and pre-shape in the policy's ranges",
        )
    if key == "heuristic":
        return RowSpec(
            "heuristic",
            "Heuristic top-down grasp (baseline)",
            "baseline",
            baseline="heuristic",
            note="highest object by height above the table, top-down at the centre of its top, "
            "fingers across its narrow side",
        )
    if key not in ABLATIONS:
        raise ValueError(f"not a measured row: {key}")
    name = ABLATION_NAMES[key]
    angle = 60.0 if key == "camera60" else None
    if key in trained:
        return RowSpec(
            key,
            f"{name} (trained)",
            "policy",
            checkpoint=trained[key],
            camera_angle=angle,
            note=f"{ABLATION_WHAT[key]}; a model trained with this ablation (`{trained[key]}`)",
        )
    return RowSpec(
        key,
        f"{name} (test-time constraint)",
        "policy",
        checkpoint=model_checkpoint,
        test_constraint=None if key == "camera60" else key,
        camera_angle=angle,
        note=f"{ABLATION_WHAT[key]}; the model `{model_checkpoint}` constrained at test time, NOT trained with "
        "the ablation (the paper trains each ablation)",
    )
