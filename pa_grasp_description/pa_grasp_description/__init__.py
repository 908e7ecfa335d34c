"""URDF of the Barrett BH-280 hand and Staubli TX60 arm, MoveIt configuration."""
