from setuptools import find_packages, setup

package_name = "pa_grasp_execution"

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
    description="Grasp to motion: pre-grasp, approach, close, lift; executor_node (MoveIt).",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "executor_node = pa_grasp_execution.executor_node:main",
        ],
    },
)
