"""One description of the stack; launch files, configs and a pip-only runner."""
