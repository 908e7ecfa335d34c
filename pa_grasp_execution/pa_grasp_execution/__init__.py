"""Grasp to motion: pre-grasp, approach, close, lift; executor_node (MoveIt)."""
