"""The rule of docs/experiments.md, "Eight views and local search together": the served choice
against --views 8 --local-search on, paired by attempt on the single seen and novel scenes of
seeds 2640-2654, and pooled over both (the decision).

    python docs/evals/views8_local/decide.py [--json docs/evals/views8_local/decision.json]
"""

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pa_grasp_sim.compare_evals import compare, sign_test_p

HERE = Path(__file__).parent
ALPHA = 0.05


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cells = {}
    for objects in ("seen", "novel"):
        served = json.loads((HERE / f"served_single_{objects}_s2640x15.json").read_text())
        candidate = json.loads((HERE / f"views8_local_single_{objects}_s2640x15.json").read_text())
        cells[objects] = compare(served, candidate)
        print(f"single {objects}: {cells[objects].summary()}")
    gained = sum(c.gained for c in cells.values())
    lost = sum(c.lost for c in cells.values())
    served = sum(c.baseline_lifted for c in cells.values())
    candidate = sum(c.candidate_lifted for c in cells.values())
    p_value = sign_test_p(gained, lost)
    behind = [o for o, c in cells.items() if c.candidate_lifted < c.baseline_lifted]
    serve = candidate > served and p_value < ALPHA and not behind
    print(
        f"both: {candidate} against {served} of 1,200 ({gained} gained, {lost} lost, p = {p_value:.3g}); "
        f"behind in: {', '.join(behind) or 'neither'} -> {'SERVE' if serve else 'do not serve'}"
    )
    if args.json:
        out = {
            "cells": {o: asdict(c) for o, c in cells.items()},
            "served_lifted": served,
            "candidate_lifted": candidate,
            "gained": gained,
            "lost": lost,
            "sign_test_p": p_value,
            "behind_in": behind,
            "serve": serve,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
