"""Node layer: schema-validated parameters on a real rclpy node."""

import pytest
from rclpy.parameter import Parameter

from psi0.estop_heartbeat import EstopHeartbeat
from psi0_core.params import ConfigError

pytestmark = pytest.mark.ros


def test_unknown_parameter_fails_before_the_node_runs(rclpy_context):
    with pytest.raises(ConfigError, match="did you mean 'rate_hz'"):
        EstopHeartbeat(context=rclpy_context, parameter_overrides=[Parameter("rate_hx", value=10.0)])


def test_overrides_are_validated_and_applied(rclpy_context):
    node = EstopHeartbeat(context=rclpy_context, parameter_overrides=[Parameter("rate_hz", value=50.0)])
    assert node.config.rate_hz == 50.0
    assert node.get_parameter("topic").value == "estop"
    result = node.set_parameters([Parameter("rate_hz", value=1000.0)])[0]
    assert not result.successful and "outside the allowed range" in result.reason
    node.destroy_node()
