"""Mesh objects keep their concave shape: an L-shaped mesh collides as an L (its inside corner is
empty), not as the convex hull that fills it; the decomposition is made once per file content."""

import os
import warnings
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
import pytest
from pybullet_utils import bullet_client

from pa_grasp_sim import convex_parts as cp
from pa_grasp_sim.objects import ObjectSpec
from pa_grasp_sim.scene import create_body


def write_l_mesh(path, arm=0.10, thick=0.03, depth=0.04):
    """An L in the x-z plane (extruded along y): a foot along x and a post along z."""
    boxes = [((0, arm), (0, thick)), ((0, thick), (0, arm))]  # (x range, z range)
    lines, base = [], 0
    faces = [(1, 2, 3, 4), (5, 8, 7, 6), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 8, 4), (5, 1, 4, 8)]
    for (x0, x1), (z0, z1) in boxes:
        for x, y, z in [(x0, 0, z0), (x1, 0, z0), (x1, depth, z0), (x0, depth, z0)] + [
            (x0, 0, z1),
            (x1, 0, z1),
            (x1, depth, z1),
            (x0, depth, z1),
        ]:
            lines.append(f"v {x} {y} {z}")
        lines += ["f " + " ".join(str(base + i) for i in face) for face in faces]
        base += 8
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PA_GRASP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "vhacd"


def test_an_l_shaped_mesh_collides_as_an_l_not_as_its_hull(tmp_path, cache):
    mesh = write_l_mesh(tmp_path / "l.obj")
    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    try:
        spec = ObjectSpec("l", "mesh", path=str(mesh), mass=0.2, extent=0.1)
        body = create_body(client, spec, [0, 0, 0], [0, 0, 0, 1])
        # A ray down into the inside corner at x = 0.07: the L lets it through to the foot's top
        # (z = 0.03); a convex hull, which fills the corner, stops it higher.
        hit = client.rayTest([0.07, 0.02, 0.5], [0.07, 0.02, -0.5])[0]
        assert hit[0] == body and hit[3][2] == pytest.approx(0.03, abs=0.01), hit
        hull = client.createCollisionShape(client.GEOM_MESH, fileName=str(mesh))
        hull_body = client.createMultiBody(0.2, hull, -1, [1, 0, 0], [0, 0, 0, 1])
        hit = client.rayTest([1.07, 0.02, 0.5], [1.07, 0.02, -0.5])[0]
        assert hit[0] == hull_body and hit[3][2] > 0.05  # what one convex hull did: the corner is filled
    finally:
        client.disconnect()


def test_the_decomposition_is_made_once_per_file_content(tmp_path, cache):
    mesh = write_l_mesh(tmp_path / "l.obj")
    first = cp.convex_parts(mesh)
    made = first.stat().st_mtime_ns
    assert cp.convex_parts(mesh) == first and first.stat().st_mtime_ns == made  # cached
    assert [p.name for p in cache.iterdir()] == [first.name]  # no temporary files left
    write_l_mesh(mesh, arm=0.12)
    assert cp.convex_parts(mesh) != first  # another shape, another entry
    assert os.path.getsize(cp.convex_parts(mesh)) > 0
    np.testing.assert_equal(len(list(cache.iterdir())), 2)


def test_a_mesh_vhacd_crashes_on_is_used_as_it_is_with_one_warning(cache):
    """pybullet_data's duck_vhacd.obj (already convex parts) crashes VHACD: the crash stays in the
    child process, the mesh itself is used, and the failure is remembered (no second attempt)."""
    duck = os.path.join(pybullet_data.getDataPath(), "duck_vhacd.obj")
    with pytest.warns(UserWarning, match="VHACD"):
        assert cp.convex_parts(duck) == Path(duck)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cp.convex_parts(duck) == Path(duck)
    assert [p.suffix for p in cache.iterdir()] == [".failed"]
