import os

from setuptools import find_packages, setup


def share_tree(source_dir, share_subdir):
    """data_files entries installing source_dir under share/<package>/share_subdir, tree kept."""
    entries = []
    for root, _, files in os.walk(source_dir):
        if files:
            target = os.path.join("share", "pa_grasp_bringup", share_subdir, os.path.relpath(root, source_dir))
            entries.append((os.path.normpath(target), [os.path.join(root, f) for f in files]))
    return entries


package_name = "pa_grasp_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        *share_tree("launch", "launch"),
        *share_tree("config", "config"),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="pa_grasp developers",
    maintainer_email="pa-grasp@example.org",
    description="One description of the stack: launch files, configs and a pip-only runner.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "pa-grasp-bringup = pa_grasp_bringup.runner:main",
            "pa-grasp-client = pa_grasp_bringup.client:main",
            "pa-grasp-demo = pa_grasp_bringup.demo:main",
            "camera_mount_node = pa_grasp_bringup.camera_mount:main",
        ],
    },
)
