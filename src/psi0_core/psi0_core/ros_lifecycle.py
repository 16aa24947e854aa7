"""A managed (rclpy.lifecycle) node whose cleanup, shutdown and error transitions all give back what configure took.

The camera (its source) and the policy (its model) release in one place, `_release`, whatever the way out of
the configured states: `ros2 lifecycle set … cleanup`, a shutdown, or an error in a transition (then the node
returns to unconfigured).
"""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn


class ReleasingLifecycleNode(LifecycleNode):
    def _release(self) -> None:
        """Undo on_configure (idempotent: it may run when nothing is held)."""
        raise NotImplementedError

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS  # back to unconfigured
