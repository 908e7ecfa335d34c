"""pa-grasp-sim-render and the camera's own checks: bad input gets a clear error (exit 2) before
any simulation and writes nothing; a good run writes the picture. Real PyBullet."""

import cv2
import pytest

from pa_grasp_sim import render_cli
from pa_grasp_sim.camera import CameraConfig
from pa_grasp_sim.world import GraspWorld, WorldConfig


@pytest.mark.parametrize(
    "args, message",
    [
        (["--count", "0"], "--count must be at least 1"),
        (["--camera-angle", "0"], "view angle must be in (0, 90]"),
        (["--camera-angle", "120"], "view angle must be in (0, 90]"),
        (["--grasp", "nan", "10", "0", "1.57", "0", "0", "0", "0", "0"], "non-finite"),
        (["--grasp", "500", "10", "0", "1.57", "0", "0", "0", "0", "0"], "outside the 160x160 image"),
        (["--grasp", "80", "80", "0", "1.57", "0", "0", "2", "0", "0"], "finger pre-shape"),
        (["--objects", "/no/such/objects"], "does not exist"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_written(tmp_path, capsys, args, message):
    out = tmp_path / "grasp.png"
    assert render_cli.main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pa-grasp-sim-render: ") and message in err
    assert not out.exists()


def test_unwritable_output_is_refused_before_simulating(tmp_path, capsys):
    assert render_cli.main(["--out", str(tmp_path / "missing" / "grasp.png")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_a_good_run_writes_the_three_panels(tmp_path, capsys):
    out = tmp_path / "grasp.png"
    assert render_cli.main(["--seed", "3", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] == 3 * image.shape[0]  # three square panels side by side


@pytest.mark.parametrize(
    "change, message",
    [
        ({"view_angle_deg": -10.0}, "view angle"),
        ({"width": 0}, "at least 1x1"),
        ({"fov_y_deg": 180.0}, "field of view"),
        ({"near_m": 0.9}, "near"),
    ],
)
def test_a_camera_is_not_built_from_an_impossible_config(change, message):
    with pytest.raises(ValueError, match=message):
        GraspWorld(WorldConfig(camera=CameraConfig(**change)), "seen", seed=0)
