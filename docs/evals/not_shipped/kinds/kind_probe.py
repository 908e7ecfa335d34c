"""Which kinds of grasp lift the boxes of one family? (analysis only)

On --scenes settled single-object scenes of FAMILY (the seen set), tries 18 grasps at the
heuristic's pixel (`baselines.object_tops`): yaw as the heuristic's or turned 90°, pitch 90°
(top-down), 70° or 55°, spread 0, 45° or 90°, fingers straight, each on the scene restored.
Writes per scene the box's narrow horizontal side and height and the grasps that lifted it, and
prints the counts for boxes narrower and wider than --wide-m.

    python docs/evals/not_shipped/kinds/kind_probe.py --family wide_box --scenes 40 --json F
"""

import argparse
from collections import Counter

import numpy as np
from grasp_kinds import (  # this script's neighbour
    box_pose,
    kinds_at,
    lying_axes,
    write_json,
)

from pa_grasp_sim.baselines import object_tops
from pa_grasp_sim.grasp import GraspCommand
from pa_grasp_sim.grasp_probe import lifting_grasps
from pa_grasp_sim.objects import ObjectSet, load_object_set
from pa_grasp_sim.world import GraspWorld, WorldConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", default="wide_box")
    p.add_argument("--scenes", type=int, default=40)
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--wide-m", type=float, default=0.08, help="narrow side from which a box counts as wide")
    p.add_argument("--json", required=True)
    a = p.parse_args()
    members = [o for o in load_object_set("seen").objects if o.family == a.family]
    rows = []
    with GraspWorld(WorldConfig(), ObjectSet(a.family, members), seed=0) as world:
        for s in range(a.scenes):
            placed = world.reset(1, seed=a.first_seed + s)[0]
            depth = world.render_depth()
            tops = object_tops(depth, world.camera.intrinsics, world.camera.T_world_camera)
            if not tops:
                continue
            half = np.asarray(placed.spec.parts[0][1])
            narrow_axis, _, up = lying_axes(half, box_pose(world, placed)[1])
            top = GraspCommand(tops[0].u, tops[0].v, yaw=tops[0].yaw)
            candidates = kinds_at(top)
            lifted = [key for key, _ in lifting_grasps(world, depth, world.snapshot(), candidates)]
            height = 2 * float(half[up])
            narrow = 2 * float(half[narrow_axis])
            rows.append({"seed": a.first_seed + s, "narrow_m": narrow, "height_m": height, "lifts": lifted})
    write_json(a.json, {"family": a.family, "rows": rows})
    for name, cell in (
        (f"narrow side < {100 * a.wide_m:.0f} cm", [r for r in rows if r["narrow_m"] < a.wide_m]),
        (f"narrow side >= {100 * a.wide_m:.0f} cm", [r for r in rows if r["narrow_m"] >= a.wide_m]),
        ("lying flat (height < 3.5 cm)", [r for r in rows if r["height_m"] < 0.035]),
    ):
        if not cell:
            continue
        counts = Counter(tuple(k) for r in cell for k in r["lifts"])
        best = ", ".join(f"turn {t}° pitch {pi}° spread {sp}°: {n}" for (t, pi, sp), n in counts.most_common(4))
        print(f"{a.family} {name}: some grasp lifts {sum(bool(r['lifts']) for r in cell)}/{len(cell)}; {best}")


if __name__ == "__main__":
    main()
