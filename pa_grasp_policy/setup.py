from setuptools import find_packages, setup

package_name = "pa_grasp_policy"

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
    description="Pixel-attentive policy: network, zoom loop, PPO training, evaluation; policy_node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "policy_node = pa_grasp_policy.ros.policy_node:main",
            "pa-grasp-train = pa_grasp_policy.training.train:main",
            "pa-grasp-imitate = pa_grasp_policy.training.imitation:main",
            "pa-grasp-eval = pa_grasp_policy.evaluation.eval_cli:main",
            "pa-grasp-selector = pa_grasp_policy.training.selector_fit:main",
            "pa-grasp-report = pa_grasp_policy.evaluation.report.cli:main",
        ],
    },
)
