"""The object measurements around a grasp (object_geometry) on depth images whose answer is known."""

import math

import numpy as np
import pytest

from pa_grasp_policy.planner.object_geometry import GEOMETRY_NAMES, WINDOW_NAMES, measure_window, object_geometry

TABLE_M = 0.75


def box_scene(side: int = 160, box_px=(24, 10), height_m: float = 0.04, scale: int = 1) -> np.ndarray:
    """Depth of a table with a box centred at the image centre, long along image x."""
    depth = np.full((side * scale, side * scale), TABLE_M, np.float32)
    c, (w, h) = side * scale // 2, (box_px[0] * scale, box_px[1] * scale)
    depth[c - h // 2 : c + h // 2, c - w // 2 : c + w // 2] = TABLE_M - height_m
    return depth


def named(values: np.ndarray) -> dict:
    assert values.shape == (len(GEOMETRY_NAMES),) and np.all(np.isfinite(values))
    return dict(zip(GEOMETRY_NAMES, values))


def test_a_centred_grasp_on_a_box_measures_its_size_height_and_the_hand():
    m = named(object_geometry(box_scene(), (79.5, 79.5), (0.3, math.pi / 2, 0.0), (0.5, 1.0, 1.1, 1.2)))
    assert m["h_centre"] == pytest.approx(0.04, abs=1e-4) and m["on_object"] == 1.0
    assert m["width_x"] == pytest.approx(24, abs=1) and m["width_y"] == pytest.approx(10, abs=1)
    assert m["asym_x"] <= 1 and m["abs_cx"] < 0.6 and m["abs_cy"] < 0.6
    assert m["area"] == pytest.approx(24 * 10 / 64**2, rel=0.1)
    assert m["cos2theta"] == pytest.approx(1.0, abs=1e-3) and m["log_elongation"] > 1.0  # long along the hand's x
    assert m["h_x+18"] == pytest.approx(-0.04, abs=1e-3) and m["h_x+6"] == pytest.approx(0.0, abs=1e-3)
    assert m["touches_border"] == 0.0
    assert [
        m[k] for k in ("sin_roll", "cos_roll", "pitch", "spread", "finger1", "finger2", "finger3")
    ] == pytest.approx([math.sin(0.3), math.cos(0.3), math.pi / 2, 0.5, 1.0, 1.1, 1.2])


def test_the_window_turns_with_the_yaw_and_sees_an_off_centre_grasp():
    turned = named(object_geometry(box_scene(), (79.5, 79.5), (0, 0, math.pi / 2), (0, 0, 0, 0)))
    assert turned["width_x"] == pytest.approx(10, abs=1) and turned["width_y"] == pytest.approx(24, abs=1)
    assert turned["cos2theta"] == pytest.approx(-1.0, abs=1e-3)
    off = named(object_geometry(box_scene(), (87.5, 79.5), (0, 0, 0.0), (0, 0, 0, 0)))
    assert off["ext_left"] - off["ext_right"] == pytest.approx(16, abs=1) and off["cx"] == pytest.approx(-8, abs=0.6)
    beside = named(object_geometry(box_scene(), (79.5, 110.0), (0, 0, 0.0), (0, 0, 0, 0)))
    assert beside["on_object"] == 0.0 and beside["h_centre"] == pytest.approx(0.0, abs=1e-6)
    empty = named(object_geometry(box_scene(), (10.0, 10.0), (0, 0, 0.0), (0, 0, 0, 0)))
    assert empty["area"] == 0.0 and empty["width_x"] == 0


def test_a_finer_camera_with_pixel_scale_measures_the_same_object():
    coarse = object_geometry(box_scene(), (79.5, 79.5), (0, 0, 0.4), (0, 0, 0, 0))
    fine = object_geometry(box_scene(scale=2), (159.5, 159.5), (0, 0, 0.4), (0, 0, 0, 0), pixel_scale=2.0)
    sizes = [WINDOW_NAMES.index(k) for k in ("width_x", "width_y", "h_centre", "h_max")]
    np.testing.assert_allclose(fine[sizes], coarse[sizes], atol=1.0)


def test_invalid_depth_pixels_read_as_the_farthest_valid_depth():
    clean = measured_at_centre(box_scene())
    holes = box_scene()
    holes[::7, ::5] = np.nan
    holes[3, :] = np.inf
    measured = measured_at_centre(holes)
    assert (
        np.all(np.isfinite(measured))
        and measured[GEOMETRY_NAMES.index("width_x")] == clean[GEOMETRY_NAMES.index("width_x")]
    )


def measured_at_centre(depth):
    return object_geometry(depth, (79.5, 79.5), (0, 0, 0.0), (0, 0, 0, 0))


def test_degenerate_windows_measure_finite_values():
    """No depth at all, an empty table, a one-pixel object, a grasp far outside the image: finite
    measurements, never an exception (a one-cell object once raised 'math domain error')."""
    table = np.full((160, 160), 0.75, np.float32)
    speck = table.copy()
    speck[80, 80] = 0.70
    line = table.copy()
    line[80, 60:100] = 0.70
    for depth, uv in (
        (np.full((160, 160), np.nan, np.float32), (80, 80)),
        (table, (80, 80)),
        (speck, (80.0, 80.0)),
        (speck, (79.6, 80.4)),
        (line, (80, 80)),
        (speck, (-500.0, 900.0)),
    ):
        measured = object_geometry(depth, uv, (0.3, 1.5, 0.7), (0.2, 0.3, 0.3, 0.3))
        assert measured.shape == (len(GEOMETRY_NAMES),) and np.all(np.isfinite(measured))
    one_cell = np.zeros((64, 64))
    one_cell[10, 20] = 0.05
    assert np.all(np.isfinite(measure_window(one_cell)))


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="2-D image"):
        object_geometry(np.full((8, 8, 1), 0.7), (4, 4), (0, 0, 0), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="pixel_scale"):
        object_geometry(box_scene(), (80, 80), (0, 0, 0), (0, 0, 0, 0), pixel_scale=0.0)
    with pytest.raises(ValueError, match="spread, finger1"):
        object_geometry(box_scene(), (80, 80), (0, 0, 0), (0, 0))
