"""`pa-grasp-bringup sim|real`: the whole stack in one process, where `ros2 launch` is not installed.

    pa-grasp-bringup sim
    pa-grasp-bringup sim -p policy_node.checkpoint=runs/main/best.pt -p sim_bridge_node.scene=single
    pa-grasp-bringup real --params-file my_robot.yaml
    pa-grasp-bringup sim --namespace robot1        # every name under /robot1 (/robot1/grasp, ...)

Starts the nodes of :data:`pa_grasp_bringup.stack.STACK` for the mode, in its order, with the
parameters of the mode's params file (``config/<mode>.yaml``: the ``/**`` section, then the
node's own section, then ``-p node.param=value`` overrides, values parsed as YAML), on one
MultiThreadedExecutor. A parameter a node does not declare is an error (a typo must not be
ignored silently). Ctrl-C / SIGTERM shut everything down cleanly (exit status 0); a node that
cannot start is reported and gives exit status 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import rclpy
import yaml
from rclpy.parameter import Parameter, parameter_dict_from_yaml_file
from rclpy.signals import SignalHandlerOptions

from pa_grasp_bringup.stack import MODES, STACK, NodeSpec, params_file
from pa_grasp_perception.process_setup import prepare_node_process
from pa_grasp_perception.spinning import BackgroundSpinner, MultiThreadedExecutor


class StackError(RuntimeError):
    """The stack cannot start: bad params file, unknown parameter, a node that failed."""


def node_parameters(path: str | Path, section: str) -> tuple[list[Parameter], set[str]]:
    """(the node's parameters: the ``/**`` section, then its own section, which wins; the names
    set in its own section). A missing own section is fine (only ``/**`` applies)."""
    path = Path(path)
    if not path.is_file():
        raise StackError(f"params file not found: {path}")
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise StackError(f"{path} is not a ROS 2 params file (no mapping of node sections)")
        own_key = next((k for k in (section, f"/{section}") if k in data), None)
        merged, own = {}, set()
        for key in [k for k in ("/**", own_key) if k is not None and k in data]:
            values = parameter_dict_from_yaml_file(str(path), False, [key])
            merged.update(values)
            if key == own_key:
                own = set(values)
    except (OSError, yaml.YAMLError, RuntimeError) as exc:
        raise StackError(f"{path}: {exc}") from None
    return [Parameter.from_parameter_msg(msg) for msg in merged.values()], own


def parse_overrides(items: list[str]) -> dict[str, dict[str, object]]:
    """["node.param=value", ...] -> {node: {param: value}} (values parsed as YAML)."""
    out: dict[str, dict[str, object]] = {}
    for item in items or []:
        target, sep, text = item.partition("=")
        node, dot, name = target.partition(".")
        if not sep or not dot or not node or not name:
            raise StackError(f"override {item!r} must look like node.param=value")
        out.setdefault(node, {})[name] = yaml.safe_load(text) if text else ""
    return out


class StackRunner:
    """The nodes of one mode in one process. ``start()`` builds and spins them (background
    thread), ``stop()`` tears them down; usable as a context manager (tests, the demo)."""

    def __init__(
        self,
        mode: str,
        params_path: str | Path | None = None,
        overrides: dict[str, dict[str, object]] | None = None,
        num_threads: int = 8,
        context: rclpy.Context | None = None,
        namespace: str = "",
    ):
        if mode not in MODES:
            raise StackError(f"unknown mode {mode!r}: use one of {MODES}")
        self.mode = mode
        self.params_path = Path(params_path) if params_path else params_file(mode)
        self.overrides = overrides or {}
        self.num_threads = num_threads
        self.namespace = namespace  # the nodes' names are relative: two robots run side by side
        self.context = context
        self._own_context = context is None
        self.nodes: dict[str, object] = {}
        self.executor: MultiThreadedExecutor | None = None
        self._spinner: BackgroundSpinner | None = None
        unknown = set(self.overrides) - {spec.name for spec in STACK[mode]}
        if unknown:
            raise StackError(f"overrides for nodes that are not in the {mode} stack: {sorted(unknown)}")

    def parameters_for(self, spec: NodeSpec) -> tuple[list[Parameter], set[str]]:
        params, strict = node_parameters(self.params_path, spec.section)
        extra = self.overrides.get(spec.name, {})
        by_name = {p.name: p for p in params}
        for name, value in extra.items():
            by_name[name] = Parameter(name, value=value)
        return list(by_name.values()), strict | set(extra)

    def build(self) -> None:
        """Initialise the context and construct every node (in the stack's order)."""
        if self._own_context:
            self.context = rclpy.Context()
            rclpy.init(context=self.context)
        try:
            for spec in STACK[self.mode]:
                params, strict = self.parameters_for(spec)
                try:
                    node = spec.load_class()(context=self.context, parameter_overrides=params, namespace=self.namespace)
                except Exception as exc:
                    raise StackError(f"{spec.name} cannot start: {type(exc).__name__}: {exc}") from exc
                self.nodes[spec.name] = node
                if node.get_name() != spec.name:
                    raise StackError(f"{spec.node_class} is named '{node.get_name()}', the stack says '{spec.name}'")
                unknown = sorted(name for name in strict if not node.has_parameter(name))
                if unknown:
                    raise StackError(
                        f"{spec.name} has no parameter(s) {unknown} (set in {self.params_path} or by -p)"
                        f" (declared: {sorted(node._parameters)})"
                    )
        except BaseException:
            self.stop()
            raise
        self.executor = MultiThreadedExecutor(num_threads=self.num_threads, context=self.context)
        for node in self.nodes.values():
            self.executor.add_node(node)

    def start(self) -> StackRunner:
        self.build()
        self._spinner = BackgroundSpinner(self.executor, name=f"pa_grasp_{self.mode}_stack").start()
        return self

    @property
    def running(self) -> bool:
        return self._spinner is not None and self._spinner.running

    def node(self, name: str):
        return self.nodes[name]

    def stop(self) -> None:
        if self._spinner is not None:  # no callback may run while the nodes are destroyed
            if not self._spinner.stop(timeout_s=5.0):
                print("pa-grasp-bringup: callbacks still running after 5 s; destroying the nodes", file=sys.stderr)
            self._spinner = None
        elif self.executor is not None:
            self.executor.shutdown(timeout_sec=0)
        for node in reversed(list(self.nodes.values())):
            try:
                node.destroy_node()
            except Exception as exc:  # keep tearing down the rest
                print(f"pa-grasp-bringup: error destroying {node.get_name()}: {exc}", file=sys.stderr)
        self.nodes.clear()
        if self._own_context and self.context is not None:
            rclpy.try_shutdown(context=self.context)
        self.executor = None

    def __enter__(self) -> StackRunner:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="pa-grasp-bringup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--params-file", help="params file (default: config/<mode>.yaml of pa_grasp_bringup)")
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="NODE.PARAM=VALUE", help="override one parameter"
    )
    parser.add_argument("--threads", type=int, default=8, help="executor threads (default 8)")
    parser.add_argument("--namespace", default="", help="put every node (and so every name) in this namespace")
    args = parser.parse_args(argv)

    prepare_node_process()  # before the nodes' threads start (pa_grasp_perception.process_setup)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    # Our own signal handlers: stop the nodes in order instead of rclpy's context-wide shutdown.
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        runner = StackRunner(
            args.mode, args.params_file, parse_overrides(args.param), args.threads, context, args.namespace
        )
        runner.start()
    except StackError as exc:
        print(f"pa-grasp-bringup: {exc}", file=sys.stderr)
        rclpy.try_shutdown(context=context)
        return 1
    names = ", ".join(runner.nodes)
    print(f"pa-grasp-bringup: {args.mode} stack running ({names}); Ctrl-C to stop", flush=True)
    try:
        while not stop.wait(0.2):
            if not runner.running:
                print("pa-grasp-bringup: the executor stopped", file=sys.stderr)
                break
    finally:
        runner.stop()
        rclpy.try_shutdown(context=context)
    print(f"pa-grasp-bringup: {args.mode} stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
