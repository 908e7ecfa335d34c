"""docs/finger_drive.png: one grasp of the shipped weights on one flat box, at the end of closing,
with the compliant and with the geared drive (docs/experiments.md, "The fingers folded backward").

    python docs/evals/geared_drive/finger_drive_picture.py   # ~20 s

The scene is the 6th flat box of the single seen scenes of seeds 2660-2664 (40 each): the
compliant drive fails it, the geared one lifts it.
"""

import numpy as np
from PIL import Image, ImageDraw

from pa_grasp_policy.evaluate import chooser_for
from pa_grasp_sim.evaluation import EVAL_SEED_BASE, EvalConfig, protocol_attempts
from pa_grasp_sim.world import GraspWorld

FLAT_BOX_INDEX = 5
LABELS = {
    "compliant": "compliant drive (the simulator before 2026-12-07): the proximals turned on, the distals folded back;",
    "geared": "geared drive: the proximals held where they stopped, the fingertips pinch the box;",
}


def views_at_end_of_closing(drive: str) -> tuple[np.ndarray, bool]:
    choose, world_cfg, _ = chooser_for(None, None, selector="none", finger_drive=drive)
    cfg = EvalConfig(scene="single", objects="seen", attempts=200, seeds=5, first_seed=2660, world=world_cfg)
    world = GraspWorld(cfg.world, cfg.objects, seed=EVAL_SEED_BASE)
    c = world.client
    flat_boxes = (a for a in protocol_attempts(world, cfg) if a.placed[0].spec.family == "flat_box")
    attempt = next(a for i, a in enumerate(flat_boxes) if i == FLAT_BOX_INDEX)
    target = np.array(c.getBasePositionAndOrientation(attempt.placed[0].body)[0])
    command = choose(attempt.depth, world, attempt.choose_rng)
    hand, closing_steps, shots = world.hand, world._steps(world.config.execution.close_time_s), []
    close_step = hand.close_step

    def close_step_and_look():
        close_step()
        close_step_and_look.calls += 1
        if close_step_and_look.calls == closing_steps:
            for yaw in (0, 90):
                view = c.computeViewMatrixFromYawPitchRoll(target.tolist(), 0.28, yaw, -10, 0, 2)
                projection = c.computeProjectionMatrixFOV(50, 1.0, 0.01, 2)
                w, h, rgb, *_ = c.getCameraImage(400, 400, view, projection, renderer=c.ER_TINY_RENDERER)
                shots.append(np.asarray(rgb, dtype=np.uint8).reshape(h, w, 4)[:, :, :3])

    close_step_and_look.calls = 0
    hand.close_step = close_step_and_look
    outcome = world.execute(command, attempt.depth)
    world.close()
    return np.concatenate(shots, 1), outcome.success


def main() -> None:
    rows = []
    for drive in ("compliant", "geared"):
        views, lifted = views_at_end_of_closing(drive)
        im = Image.fromarray(views)
        row = Image.new("RGB", (im.width, im.height + 28), "white")
        row.paste(im, (0, 28))
        ImageDraw.Draw(row).text((8, 8), f"{LABELS[drive]} {'lifted' if lifted else 'nothing held'}", fill="black")
        rows.append(row)
    head = Image.new("RGB", (rows[0].width, 24), "white")
    title = "The same grasp of the shipped weights on the same flat box, end of closing, two side views"
    ImageDraw.Draw(head).text((8, 6), title, fill="black")
    out = Image.new("RGB", (head.width, head.height + sum(r.height for r in rows)), "white")
    y = 0
    for part in (head, *rows):
        out.paste(part, (0, y))
        y += part.height
    out.save("docs/finger_drive.png", optimize=True)


if __name__ == "__main__":
    main()
