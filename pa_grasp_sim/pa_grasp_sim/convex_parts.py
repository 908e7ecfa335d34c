"""Convex decomposition of mesh objects (pybullet's VHACD), cached by file content.

PyBullet gives a mesh one convex hull as its collision shape: a mug loses its hole, an L its
inside corner, and fingers close on air where the object has none. The decomposition (several
convex parts in one .obj, which PyBullet loads as a compound) keeps those shapes. It takes about
0.5 s per mesh, so it is done once and kept in ``$PA_GRASP_CACHE/vhacd`` (default
``~/.cache/pa_grasp/vhacd``) under the hash of the file and of the settings; a changed file gets a
new entry. VHACD runs in a child process: it is native code that crashes on some meshes (a
vertex 1e9 from the origin), and a crash there must be an error about the file, not the end of
the process holding the world.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

VHACD_SETTINGS = {"resolution": 100000, "concavity": 0.0025, "maxNumVerticesPerCH": 64}


def cache_dir() -> Path:
    root = os.environ.get("PA_GRASP_CACHE") or Path.home() / ".cache" / "pa_grasp"
    return Path(root) / "vhacd"


def convex_parts(mesh: str | os.PathLike) -> Path:
    """The cached decomposition of ``mesh`` (an .obj), made now if there is none. Where VHACD
    fails (it crashes on some meshes, e.g. pybullet_data's duck_vhacd.obj, already made of
    convex parts) the mesh itself is returned, with a warning the first time: PyBullet then uses
    its own parts, or one convex hull."""
    mesh = Path(mesh)
    key = hashlib.sha256(mesh.read_bytes() + repr(sorted(VHACD_SETTINGS.items())).encode()).hexdigest()[:20]
    out = cache_dir() / f"{mesh.stem}.{key}.obj"
    failed = out.with_suffix(".failed")
    if out.is_file():
        return out
    if failed.is_file():
        return mesh
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        _decompose_in_a_child(mesh, out)
    except RuntimeError as exc:
        failed.write_text(f"{mesh}: {exc}\n")
        warnings.warn(f"{mesh}: {exc}; its collision shape is the mesh as it is", stacklevel=2)
        return mesh
    return out


def _decompose_in_a_child(mesh: Path, out: Path) -> None:
    # Written beside its final name and renamed: a reader never sees half a file, and two
    # processes decomposing the same mesh at once both end with a whole one.
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.obj", dir=out.parent)
    os.close(fd)
    try:
        try:
            done = subprocess.run(
                [sys.executable, "-m", __name__, str(mesh), tmp], capture_output=True, text=True, timeout=300
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError("convex decomposition (VHACD) took longer than 300 s") from None
        if done.returncode != 0 or os.path.getsize(tmp) == 0:
            why = f"crashed (signal {-done.returncode})" if done.returncode < 0 else f"exit status {done.returncode}"
            raise RuntimeError(f"convex decomposition (VHACD) failed: {why}")
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, tmp + ".log"):
            if os.path.exists(leftover):
                os.remove(leftover)


def _decompose(mesh: str, out: str) -> None:
    import pybullet

    pybullet.vhacd(mesh, out, out + ".log", **VHACD_SETTINGS)


if __name__ == "__main__":
    _decompose(*sys.argv[1:3])
