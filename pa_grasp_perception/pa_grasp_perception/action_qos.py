"""The goal-request QoS of the stack's action servers (node layer: imports rclpy).

rclpy's default for the goal service keeps the last 10 requests: a burst of more than 10 goals
that arrives before the executor takes them loses the rest, and their clients never hear back
(50 goals from 5 clients in 26 ms: 12 answered). Every request is answered at once, accepted or
rejected, so a deep queue holds only what a burst leaves for a few milliseconds.
"""

from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy

GOAL_SERVICE_QOS = QoSProfile(
    history=QoSHistoryPolicy.KEEP_LAST,
    depth=1000,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.VOLATILE,
)
