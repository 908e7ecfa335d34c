"""Pixel-attentive policy: network, zoom loop, PPO training, evaluation; policy_node."""
