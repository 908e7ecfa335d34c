"""PyBullet world: BH-280 hand, objects, depth camera, grasp execution; sim_bridge_node."""
