"""Every package.xml declares what its code imports, so `rosdep install --from-paths .` gives a
colcon user everything (read from the code with ast: no import is run)."""

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.parent for p in ROOT.glob("pa_grasp_*/package.xml"))

# Python module -> rosdep key (ros/rosdistro rosdep/python.yaml; "-pip" keys install from PyPI).
# ROS packages are imported under their own names (rclpy, sensor_msgs, launch_ros, ...).
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "yaml": "python3-yaml",
    "cv2": "python3-opencv",
    "torch": "python3-torch",
    "torch.utils.tensorboard": "python3-tensorboard-pip",  # torch's writer needs the tensorboard package
    "matplotlib": "python3-matplotlib",
    "tqdm": "python3-tqdm",
    "pybullet": "python3-pybullet-pip",
    "pybullet_data": "python3-pybullet-pip",
    "pybullet_utils": "python3-pybullet-pip",
    "gymnasium": "python3-gymnasium-pip",
    "moveit": "moveit_py",
}
# Imported but with no rosdep key: installed by requirements/core.txt (scripts/setup.sh, the Docker
# image), and imported only inside the code path that needs it.
NO_ROSDEP_KEY = {"ray": "only with --ray (pa_grasp_policy.parallel, training/workers.py, evaluation/distributed.py)"}


def imported_modules(package: Path) -> set[str]:
    """Dotted names the package's own code (not its tests, not setup.py) imports, absolute only."""
    names = set()
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        if relative.parts[0] == "test" or relative.name == "setup.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return names


def declared(package: Path) -> set[str]:
    tags = ("depend", "exec_depend", "build_export_depend")
    return {e.text.strip() for e in ET.parse(package / "package.xml").getroot() if e.tag in tags}


def required_keys(package: Path) -> dict[str, str]:
    """rosdep key or ROS package -> a module that needs it."""
    keys = {}
    for name in sorted(imported_modules(package)):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__" or top == package.name or top in NO_ROSDEP_KEY:
            continue
        key = next((ROSDEP_KEYS[p] for p in (name, top) if p in ROSDEP_KEYS), top)
        keys.setdefault(key, name)
    for name in imported_modules(package):
        for prefix, key in ROSDEP_KEYS.items():
            if "." in prefix and name.startswith(prefix):
                keys.setdefault(key, name)
    return keys


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_xml_declares_every_import(package):
    missing = {key: module for key, module in required_keys(package).items() if key not in declared(package)}
    assert not missing, f"{package.name}/package.xml lacks <exec_depend> for (key: imported module) {missing}"


def test_the_mapping_names_real_modules():
    """Every module the table maps is imported somewhere (a stale entry would hide a rename)."""
    everything = set().union(*(imported_modules(p) for p in PACKAGES))
    tops = {n.split(".")[0] for n in everything}
    stale = [m for m in [*ROSDEP_KEYS, *NO_ROSDEP_KEY] if m not in everything and m not in tops]
    assert not stale, f"no package imports {stale}"
