"""Would the policy's grasps on flat objects lift with the palm closer to the surface?
(probe, 2026-12-02, twenty-third session)

The grasp is executed with the palm `grasp_offset_m` (the paper's 5 cm) back from the surface
point along the approach axis. On thin flat objects (flat boxes, plates) the fingertips may
close above them. For every flat_box, plate and mug scene of a 1900 set this executes each of
the four saved turned grasps with offsets 5, 4, 3, 2 and 1 cm (with --farther: 5, 6, 7, 8 cm),
on the scene restored each time.

    python docs/evals/not_shipped/twin_search/offset_probe.py seen|novel [--farther]   # ~5 min
"""

import sys
from pathlib import Path

import numpy as np

from pa_grasp_policy.evaluate import load_policy
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.grasp import GraspCommand, grasp_palm_pose
from pa_grasp_sim.world import GraspWorld

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
FARTHER = "--farther" in sys.argv
OFFSETS = (0.05, 0.06, 0.07, 0.08) if FARTHER else (0.05, 0.04, 0.03, 0.02, 0.01)
FAMILIES = ("flat_box", "plate", "mug")

objects = sys.argv[1]
_, _, world_cfg = load_policy(None)
data = np.load(ROOT / f"docs/evals/heldout_1900/single_{objects}_s1900x15.npz")
family = np.load(HERE / f"FAMILIES_{objects}.npy")
cfg = EvalConfig("single", objects, len(data["seed"]), 15, 1900, world=world_cfg)
scenes, lifted = [], []
with GraspWorld(world_cfg, objects, seed=EVAL_SEED_BASE) as world:
    for i, attempt in enumerate(protocol_attempts(world, cfg)):
        if family[i] not in FAMILIES:
            continue
        snapshot = world.snapshot()
        outcomes = np.zeros((4, len(OFFSETS)), bool)
        for t, g in enumerate(data["grasp"][i]):
            command = GraspCommand(*map(float, g[:6]), tuple(map(float, g[6:9])))
            surface = world._surface_point(command, attempt.depth)
            for k, offset in enumerate(OFFSETS):
                world.restore(snapshot)
                T_world_palm = grasp_palm_pose(surface, command, offset)
                outcomes[t, k] = world.execute_pose(T_world_palm, command.spread, command.fingers).success
        scenes.append(i)
        lifted.append(outcomes)
scenes, lifted = np.array(scenes), np.array(lifted)
np.savez_compressed(
    HERE / f"offset_probe_{objects}{'_farther' if FARTHER else ''}.npz", scene=scenes, lifted=lifted, offsets=OFFSETS
)
for name in FAMILIES:
    m = family[scenes] == name
    if m.any():
        per_offset = lifted[m].mean(axis=(0, 1)).round(2).tolist()
        check = (lifted[m][:, :, 0] == data["lifted"][scenes[m]]).mean()
        print(
            f"{objects} {name}: {m.sum()} scenes, lift rate of the 4 grasps by offset {OFFSETS}: {per_offset};"
            f" 5 cm agrees with the collection's outcome in {check:.0%}"
        )
