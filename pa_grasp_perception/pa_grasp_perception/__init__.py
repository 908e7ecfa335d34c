"""Depth conditioning and pinhole geometry; kinect_node."""
