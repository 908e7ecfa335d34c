"""A tree of coordinate frames (core: numpy only), what policy_node looks the camera up in.

tf's rule holds: a frame has one parent, and a newer transform of an edge replaces the older
one. :meth:`FrameTree.lookup` composes the edges between two frames through their closest
common ancestor. Transforms are 4x4 matrices ``T_parent_child`` (child expressed in parent).
"""

from __future__ import annotations

import numpy as np


class FrameLookupError(LookupError):
    """The two frames are not connected (or one was never heard of)."""


class FrameTree:
    def __init__(self):
        self._parent: dict[str, tuple[str, np.ndarray]] = {}  # child -> (parent, T_parent_child)

    def set(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        if not parent or not child or parent == child:
            raise ValueError(f"a transform needs two different frame names, got '{parent}' -> '{child}'")
        T = np.asarray(T_parent_child, dtype=float)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise ValueError(f"transform {parent} -> {child} must be a finite 4x4 matrix")
        if child in self._ancestors(parent):
            raise ValueError(f"transform {parent} -> {child} would close a loop in the frame tree")
        self._parent[child] = (parent, T)

    def frames(self) -> set[str]:
        return set(self._parent) | {parent for parent, _ in self._parent.values()}

    def _ancestors(self, frame: str) -> list[str]:
        """frame, its parent, ... up to its root."""
        chain = [frame]
        while chain[-1] in self._parent:
            chain.append(self._parent[chain[-1]][0])
        return chain

    def _T_ancestor_frame(self, frame: str, ancestor: str) -> np.ndarray:
        T = np.eye(4)
        while frame != ancestor:
            parent, T_parent_frame = self._parent[frame]
            T = T_parent_frame @ T
            frame = parent
        return T

    def lookup(self, target: str, source: str) -> np.ndarray:
        """T_target_source: the source frame expressed in the target frame."""
        if target == source:
            return np.eye(4)
        known = self.frames()
        for name in (target, source):
            if name not in known:
                raise FrameLookupError(
                    f"no transform from '{target}' to '{source}': frame '{name}' is unknown"
                    f" (known: {', '.join(sorted(known)) or 'none'})"
                )
        source_chain = self._ancestors(source)
        common = next((f for f in self._ancestors(target) if f in source_chain), None)
        if common is None:
            raise FrameLookupError(
                f"no transform from '{target}' to '{source}': they are in two unconnected trees"
                f" (roots '{self._ancestors(target)[-1]}' and '{source_chain[-1]}')"
            )
        T_common_target = self._T_ancestor_frame(target, common)
        return np.linalg.inv(T_common_target) @ self._T_ancestor_frame(source, common)
