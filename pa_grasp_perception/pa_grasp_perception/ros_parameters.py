"""ROS parameters <-> a component's config dataclass (node layer: imports rclpy).

Every node of the stack keeps its settings in one dataclass (core, no ROS) whose fields are the
node's parameters: same names, the field defaults are the parameter defaults (so their Python
types are the parameter types: write ``1.0`` for a float in a params file, not ``1``), and the
dataclass validates itself in ``__post_init__`` (ValueError names the parameter).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor


def config_defaults(config_cls) -> dict[str, Any]:
    """Field name -> default value (tuples as lists, the ROS array type)."""
    out = {}
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise TypeError(f"{config_cls.__name__}.{f.name} needs a default to be a ROS parameter")
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def declare_config(node, config_cls, descriptions: dict[str, str], read_only=frozenset()):
    """Declare one parameter per field of ``config_cls`` on ``node`` and build the config from
    their values (parameter overrides / params files applied). Raises ValueError from the
    dataclass's validation, or rclpy's InvalidParameterTypeException for a wrongly typed value."""
    values = {}
    for name, default in config_defaults(config_cls).items():
        descriptor = ParameterDescriptor(description=descriptions.get(name, ""), read_only=name in read_only)
        node.declare_parameter(name, default, descriptor)
        values[name] = node.get_parameter(name).value
    return config_cls(**values)


def config_with(config, parameters) -> Any:
    """A copy of ``config`` with rclpy Parameters applied (validated: ValueError on bad values)."""
    changes = {p.name: p.value for p in parameters if hasattr(config, p.name)}
    return dataclasses.replace(config, **changes)
