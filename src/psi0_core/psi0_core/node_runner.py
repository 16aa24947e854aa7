"""The `main()` of every psi0 node: init, build, spin until Ctrl-C/SIGINT/SIGTERM, then stop in a fixed order.

Stopping order (what an operator and the launcher rely on):

1. SIGINT or SIGTERM is turned into KeyboardInterrupt in the main thread, between two executor turns (the executor
   wakes at least every STOP_POLL_S, so a node stops within that even when nothing else happens).
2. The ROS context is still valid: `on_exit(node)` runs (the e-stop heartbeat publishes its explicit stop here),
   then `node.destroy_node()` (the bridge sends its damping frames here).
3. Only then is the context shut down.

rclpy's own signal handlers are not used: they shut the context down from a separate thread at the moment the
signal lands, so whatever a node does on its way out raced with the shutdown — the heartbeat's stop message was
never sent, and a publish that lost the race ended the process with a traceback and exit code 1 (seen in CI as
"beat_b exited with code 1 while stopping").

A second signal while stopping is ignored (SIGINT) so the damping frames are not cut short; SIGTERM during the
stop keeps its default action and the launcher's escalation (SIGTERM, then SIGKILL) still ends a stuck node.

Exit codes: 0 clean stop, 2 configuration error (one clear line, no traceback), 1 anything else.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from psi0_core.params import ConfigError

STOP_POLL_S = 0.1  # longest the executor waits before the interpreter looks at pending signals
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _while_stopping() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_node(factory: Callable[[], Node], on_exit: Callable[[Node], None] | None = None) -> int:
    """Run the node `factory()` builds until a stop signal; returns the process exit code."""
    for s in STOP_SIGNALS:
        signal.signal(s, _interrupt)
    rclpy.init(args=sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    executor = SingleThreadedExecutor()
    node: Node | None = None
    try:
        node = factory()
        executor.add_node(node)
        while True:
            executor.spin_once(timeout_sec=STOP_POLL_S)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr, flush=True)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        _while_stopping()
        try:
            if node is not None:
                if on_exit is not None and rclpy.ok():
                    on_exit(node)
                executor.remove_node(node)
                node.destroy_node()
        finally:
            executor.shutdown(timeout_sec=1.0)
            rclpy.try_shutdown()
    return 0
