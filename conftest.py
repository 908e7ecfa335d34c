"""Test-wide isolation: every pytest run gets its own ROS domain, discovery stays on
localhost, and nothing opens a window."""

import os
import random

# Set before any test module imports rclpy: DDS reads these when a context is created.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 101)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("MPLBACKEND", "Agg")
# Every message the tests and the nodes they run build is type-checked field by field (as env.sh
# sets it for users): a numpy number in a message fails the test that made it.
os.environ["ROS_PYTHON_CHECK_FIELDS"] = "1"
