"""Node layer: schema-validated parameters on a real rclpy node."""

from dataclasses import dataclass

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from psi0.estop_heartbeat import EstopHeartbeat
from psi0_core.params import ConfigError, NodeConfig, param
from psi0_core.ros_params import declare_config

pytestmark = pytest.mark.ros


def test_unknown_parameter_fails_before_the_node_runs(rclpy_context):
    with pytest.raises(ConfigError, match="did you mean 'rate_hz'"):
        EstopHeartbeat(context=rclpy_context, parameter_overrides=[Parameter("rate_hx", value=10.0)])


def test_overrides_are_validated_and_applied(rclpy_context):
    node = EstopHeartbeat(context=rclpy_context, parameter_overrides=[Parameter("rate_hz", value=50.0)])
    assert node.config.rate_hz == 50.0
    assert node.get_parameter("topic").value == "estop"
    result = node.set_parameters([Parameter("rate_hz", value=1000.0)])[0]
    assert not result.successful and "out of range" in result.reason  # the declared descriptor's range, in rclpy
    node.destroy_node()


@dataclass(frozen=True)
class _ProbeConfig(NodeConfig, node="param_probe"):
    gain: float = param(1.0, "a safety gain", range=(0.0, 2.0), read_only=True)
    rate_hz: float = param(10.0, "a rate", range=(1.0, 100.0))


@pytest.mark.parametrize("given", ["constructor", "command line"])
def test_given_parameters_are_declared_with_their_descriptors(rclpy_context, given):
    """What `ros2 param describe` shows for a parameter set from a file or the command line: its description, range
    and read-only flag (auto-declared overrides had an empty descriptor), and the validated type (an int given for
    a float is a double)."""
    if given == "constructor":
        node = Node("param_probe", context=rclpy_context,
                    parameter_overrides=[Parameter("gain", value=1.5), Parameter("rate_hz", value=20)])
    else:
        node = Node("param_probe", context=rclpy_context, cli_args=["--ros-args", "-p", "gain:=1.5", "-p", "rate_hz:=20"])
    try:
        config = declare_config(node, _ProbeConfig)
        assert (config.gain, config.rate_hz) == (1.5, 20.0)
        gain, rate = node.describe_parameters(["gain", "rate_hz"])
        assert gain.description == "a safety gain" and gain.read_only
        assert (gain.floating_point_range[0].from_value, gain.floating_point_range[0].to_value) == (0.0, 2.0)
        assert rate.description == "a rate" and not rate.read_only
        assert node.get_parameter("rate_hz").type_ == Parameter.Type.DOUBLE and node.get_parameter("rate_hz").value == 20.0
        assert not node.set_parameters([Parameter("gain", value=0.5)])[0].successful  # read-only: refused
        assert node.get_parameter("gain").value == 1.5
        assert node.set_parameters([Parameter("rate_hz", value=30.0)])[0].successful
    finally:
        node.destroy_node()
