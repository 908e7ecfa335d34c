"""The simulated robot's frames, as a robot driver stack puts them on TF (core: pybullet + numpy).

A real stack gets them from robot_state_publisher (the URDF + /joint_states); the simulator reads
them from the physics: every URDF joint is an edge parent link -> child link, fixed joints once
(``tf_static``), moving ones at every tick (``tf``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


@dataclass(frozen=True)
class RobotEdge:
    parent: str
    child: str
    joint: int  # pybullet joint index (= the child link's index)
    parent_link: int  # pybullet link index of the parent (-1: the root)
    fixed: bool


def robot_edges(client, body: int) -> list[RobotEdge]:
    root = client.getBodyInfo(body)[0].decode()
    names = {-1: root}
    edges = []
    for j in range(client.getNumJoints(body)):
        info = client.getJointInfo(body, j)
        names[j] = info[12].decode()
        edges.append(RobotEdge(names[info[16]], names[j], j, info[16], info[2] == client.JOINT_FIXED))
    return edges


def _T_world_link(client, body: int, link: int, T_world_root: np.ndarray) -> np.ndarray:
    if link < 0:
        return T_world_root
    state = client.getLinkState(body, link, computeForwardKinematics=True)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(state[5]).as_matrix()  # the URDF link frame, not the inertial one
    T[:3, 3] = state[4]
    return T


def edge_transforms(client, body: int, edges: list[RobotEdge], T_world_root: np.ndarray):
    """[(parent, child, T_parent_child)] of `edges` in the body's current configuration.
    ``T_world_root`` is where the body's root link is (the URDF frame of its root)."""
    poses: dict[int, np.ndarray] = {}  # link -> T_world_link, each computed once

    def pose(link: int) -> np.ndarray:
        if link not in poses:
            poses[link] = _T_world_link(client, body, link, T_world_root)
        return poses[link]

    out = []
    for edge in edges:
        out.append((edge.parent, edge.child, np.linalg.inv(pose(edge.parent_link)) @ pose(edge.joint)))
    return out
