"""The QoS rules of the recorder and the player (bags/qos.py), without a graph."""

import pytest
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosbags.interfaces import QosDurability, QosReliability

from psi0.bags.qos import publisher_qos, subscription_qos, to_bag_qos

pytestmark = pytest.mark.unit
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@pytest.mark.parametrize("offered, reliability, durability", [
    ([LATCHED], ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL),
    ([RELIABLE], ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE),
    ([qos_profile_sensor_data], ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE),
    ([LATCHED, RELIABLE], ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE),  # one volatile publisher
    ([RELIABLE, qos_profile_sensor_data], ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE),
    ([], ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE),  # matches whatever publisher comes
])
def test_the_recorder_asks_for_no_more_than_every_publisher_offers(offered, reliability, durability):
    q = subscription_qos(offered)
    assert (q.reliability, q.durability, q.depth) == (reliability, durability, 100)


def test_offered_profiles_convert_to_rosbag2_and_back_to_what_they_were():
    prof = QoSProfile(depth=3, reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                      deadline=Duration(seconds=1, nanoseconds=5))
    bag = to_bag_qos(prof)
    assert (bag.depth, bag.reliability, bag.durability) == (3, QosReliability.BEST_EFFORT, QosDurability.TRANSIENT_LOCAL)
    assert (bag.deadline.sec, bag.deadline.nsec) == (1, 5)
    back = publisher_qos([bag])
    assert (back.reliability, back.durability, back.depth) == (prof.reliability, prof.durability, 3)


def test_the_player_latches_only_what_every_recorded_publisher_latched():
    assert publisher_qos([to_bag_qos(LATCHED)]).durability == DurabilityPolicy.TRANSIENT_LOCAL
    mixed = publisher_qos([to_bag_qos(LATCHED), to_bag_qos(RELIABLE)])
    assert (mixed.durability, mixed.reliability, mixed.depth) == (DurabilityPolicy.VOLATILE, ReliabilityPolicy.RELIABLE, 100)
    old = publisher_qos([])  # a bag without QoS metadata
    assert (old.durability, old.reliability) == (DurabilityPolicy.VOLATILE, ReliabilityPolicy.RELIABLE)
