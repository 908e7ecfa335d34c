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
    fixed: bool


def robot_edges(client, body: int) -> list[RobotEdge]:
    root = client.getBodyInfo(body)[0].decode()
    names = {-1: root}
    edges = []
    for j in range(client.getNumJoints(body)):
        info = client.getJointInfo(body, j)
        names[j] = info[12].decode()
        edges.append(RobotEdge(names[info[16]], names[j], j, info[2] == client.JOINT_FIXED))
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
    parents = {edge.child: edge for edge in edges}
    out = []
    for edge in edges:
        parent_link = parents[edge.parent].joint if edge.parent in parents else -1
        T_world_parent = _T_world_link(client, body, parent_link, T_world_root)
        T_world_child = _T_world_link(client, body, edge.joint, T_world_root)
        out.append((edge.parent, edge.child, np.linalg.inv(T_world_parent) @ T_world_child))
    return out
