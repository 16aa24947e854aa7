"""A lifecycle client as `ros2 lifecycle` and lifecycle managers are: the node's own ~/get_state and ~/change_state
services (lifecycle_msgs), called over DDS from another node."""

from __future__ import annotations

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.node import Node

from tests.conftest import spin_until


class LifecycleClient:
    def __init__(self, client_node: Node, executor: object, target: str) -> None:
        self.ex = executor
        self.get = client_node.create_client(GetState, f"{target}/get_state")
        self.change = client_node.create_client(ChangeState, f"{target}/change_state")

    def _call(self, client, request, timeout_s: float = 30.0):
        assert spin_until(self.ex, client.service_is_ready, 10), f"{client.srv_name} not available"
        future = client.call_async(request)
        assert spin_until(self.ex, future.done, timeout_s), f"{client.srv_name} did not answer"
        return future.result()

    def state(self) -> str:
        return self._call(self.get, GetState.Request()).current_state.label

    def set(self, label: str) -> bool:
        """A transition by label (configure, activate, deactivate, cleanup, shutdown), as `ros2 lifecycle set`."""
        return self._call(self.change, ChangeState.Request(transition=Transition(label=label))).success
