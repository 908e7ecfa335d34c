from setuptools import find_packages, setup

package_name = "pa_grasp_sim"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="pa_grasp developers",
    maintainer_email="pa-grasp@example.org",
    description="PyBullet world: BH-280 hand, objects, depth camera, grasp execution; sim_bridge_node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "pa-grasp-sim-bench = pa_grasp_sim.bench:main",
            "pa-grasp-sim-render = pa_grasp_sim.render_cli:main",
            "sim_bridge_node = pa_grasp_sim.sim_bridge_node:main",
        ],
    },
)
