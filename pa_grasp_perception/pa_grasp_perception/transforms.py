"""TF for the stack's nodes (node layer): publish a robot's frames, look the camera up.

Names are relative (``tf``, ``tf_static``), so a namespace keeps two robots' trees apart; where
tf2_ros' listener is used its absolute ``/tf`` and ``/tf_static`` are remapped to them (the
launch files do that for every node).

:func:`make_transform_lookup` uses tf2_ros when it is importable (Docker, a ROS install: time
interpolation, the full tf2 buffer). Without it (the pip-only setup has no tf2_ros wheel) a
:class:`TopicTransformLookup` keeps a :class:`~pa_grasp_perception.frame_tree.FrameTree` of
what ``tf_static`` and ``tf`` carry, the latest transform of each edge: right for a camera on a
fixed mount, which is what the stack supports without tf2_ros.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from pa_grasp_perception.frame_tree import FrameLookupError, FrameTree
from pa_grasp_perception.perception_msgs import from_transform_msg, to_transform_stamped_msg

TF_TOPIC, TF_STATIC_TOPIC = "tf", "tf_static"
# tf2_ros' own profiles: static transforms are latched, so a late listener still gets them.
STATIC_PUBLISHER_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
STATIC_LISTENER_QOS = QoSProfile(
    depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
DYNAMIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
TF_REMAPPINGS = (("/tf", TF_TOPIC), ("/tf_static", TF_STATIC_TOPIC))


def transforms_msg(edges, stamp) -> TFMessage:
    """TFMessage of [(parent, child, T_parent_child), ...]."""
    return TFMessage(transforms=[to_transform_stamped_msg(T, parent, child, stamp) for parent, child, T in edges])


def publish_static_transforms(node, edges) -> object:
    """Latch [(parent, child, T_parent_child), ...] on tf_static (all in one message, as tf2_ros'
    StaticTransformBroadcaster does: a latched topic keeps only a publisher's last message)."""
    publisher = node.create_publisher(TFMessage, TF_STATIC_TOPIC, STATIC_PUBLISHER_QOS)
    publisher.publish(transforms_msg(edges, node.get_clock().now().to_msg()))
    return publisher


class TopicTransformLookup:
    """tf_static and tf into a FrameTree; :meth:`lookup` waits up to a timeout for a connection."""

    def __init__(self, node, callback_group=None):
        self._tree = FrameTree()
        self._changed = threading.Condition()
        self._node = node
        self._subscriptions = [
            node.create_subscription(TFMessage, topic, self._on_transforms, qos, callback_group=callback_group)
            for topic, qos in ((TF_STATIC_TOPIC, STATIC_LISTENER_QOS), (TF_TOPIC, DYNAMIC_QOS))
        ]

    def _on_transforms(self, msg: TFMessage) -> None:
        with self._changed:
            for t in msg.transforms:
                try:
                    self._tree.set(t.header.frame_id, t.child_frame_id, from_transform_msg(t.transform))
                except ValueError as exc:  # a broken transform is dropped; the rest of the message counts
                    self._node.get_logger().warning(f"ignoring a transform: {exc}", throttle_duration_sec=5.0)
            self._changed.notify_all()

    def lookup(self, target: str, source: str, stamp=None, timeout_s: float = 0.0) -> np.ndarray:
        """T_target_source (the latest of each edge; `stamp` is not used: no time travel without tf2)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                try:
                    return self._tree.lookup(target, source)
                except FrameLookupError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    self._changed.wait(min(left, 0.1))

    def destroy(self) -> None:
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)


class Tf2TransformLookup:
    """tf2_ros' buffer and listener (interpolates in time; remap /tf and /tf_static, see above)."""

    def __init__(self, node, tf2_ros):
        from rclpy.duration import Duration
        from rclpy.time import Time

        self._tf2_ros, self._Duration, self._Time = tf2_ros, Duration, Time
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)

    def lookup(self, target: str, source: str, stamp=None, timeout_s: float = 0.0) -> np.ndarray:
        when = self._Time() if stamp is None else self._Time.from_msg(stamp)
        try:
            t = self._buffer.lookup_transform(target, source, when, timeout=self._Duration(seconds=timeout_s))
        except self._tf2_ros.TransformException as exc:
            raise FrameLookupError(f"no transform from '{target}' to '{source}': {exc}") from None
        return from_transform_msg(t.transform)

    def destroy(self) -> None:
        self._listener.unregister()


def make_transform_lookup(node, callback_group=None):
    """tf2_ros' lookup where it is installed, else the topic reader."""
    try:
        import tf2_ros
    except ImportError:
        return TopicTransformLookup(node, callback_group)
    return Tf2TransformLookup(node, tf2_ros)
