"""Repair the ROS 2 Jazzy pip wheels so colcon can build interfaces against them.

The wheels were built under /opt/python/cp311-cp311 and their exported CMake files (and the
ament index's parent-prefix records) still point there: Python headers, numpy headers and
the install prefix. Rewrite them to this venv's real paths. Idempotent.
"""

import pathlib
import sys
import sysconfig

BUILD_PREFIX = "/opt/python/cp311-cp311"


def replacements(venv: pathlib.Path) -> list[tuple[str, str]]:
    import numpy

    py_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    site = pathlib.Path(numpy.__file__).parent.parent
    # Most specific first: header directories before the bare prefix.
    return [
        (f"{BUILD_PREFIX}/include/python3.11", py_include),
        (f"{BUILD_PREFIX}/lib/python3.11/site-packages/numpy/_core/include", numpy_include),
        (f"{BUILD_PREFIX}/lib/python3.11/site-packages", str(site)),
        (BUILD_PREFIX, str(venv)),
    ]


def main(venv_arg: str) -> int:
    venv = pathlib.Path(venv_arg).resolve()
    rules = replacements(venv)
    changed = 0
    for path in (venv / "share").rglob("*"):
        if not path.is_file() or path.suffix not in {"", ".cmake", ".sh", ".dsv", ".txt"}:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if BUILD_PREFIX not in text:
            continue
        for old, new in rules:
            text = text.replace(old, new)
        path.write_text(text)
        changed += 1
    print(f"setup:   rewrote {changed} file(s) under {venv / 'share'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
