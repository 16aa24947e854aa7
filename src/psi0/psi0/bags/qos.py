"""QoS in bags: what the publishers of a topic offered, as rosbag2 stores it (`offered_qos_profiles` in
metadata.yaml), and the profiles a recorder subscribes with and a player publishes with.

The rules are those of `ros2 bag record` / `ros2 bag play`:
- record: reliable only if every publisher is reliable, transient-local only if every publisher is (a
  subscription that asks for more than a publisher offers does not match it, and gets nothing from it);
- play: the recorded publishers' durability and reliability when they agree, so a latched topic
  (transient-local: `instruction`, the status topics) is latched again for late subscribers; a bag without
  QoS metadata plays reliable and volatile.
Pure conversions: rclpy's QoS and Duration types only, no node.
"""

from __future__ import annotations

from collections.abc import Sequence

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

DEPTH = 100  # the recorder's and the player's queue: a burst (a camera's frames during a stall) is kept, not dropped


def _bag_time(d: Duration) -> QosTime:
    sec, nsec = divmod(int(d.nanoseconds), 1_000_000_000)
    return QosTime(sec, nsec)


def to_bag_qos(profile: QoSProfile) -> Qos:
    """An rclpy profile (a publisher's offered QoS from the graph) as rosbag2 stores it."""
    return Qos(
        history=QosHistory(int(profile.history)),
        depth=int(profile.depth),
        reliability=QosReliability(int(profile.reliability)),
        durability=QosDurability(int(profile.durability)),
        deadline=_bag_time(profile.deadline),
        lifespan=_bag_time(profile.lifespan),
        liveliness=QosLiveliness(int(profile.liveliness)),
        liveliness_lease_duration=_bag_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def subscription_qos(offered: Sequence[QoSProfile], depth: int = DEPTH) -> QoSProfile:
    """The recorder's subscription for a topic whose publishers offer `offered` (none known: best-effort, volatile,
    which matches any publisher)."""
    reliable = bool(offered) and all(p.reliability == ReliabilityPolicy.RELIABLE for p in offered)
    latched = bool(offered) and all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in offered)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
                      liveliness=LivelinessPolicy.AUTOMATIC)


def publisher_qos(offered: Sequence[Qos], depth: int = DEPTH) -> QoSProfile:
    """The player's publisher for a connection recorded with `offered` (from metadata.yaml)."""
    best_effort = bool(offered) and all(q.reliability == QosReliability.BEST_EFFORT for q in offered)
    latched = bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered)
    # A latched topic keeps its last sample, not a hundred stale ones. The graph does not carry a publisher's history
    # depth (it reports 0, history unknown), so a recorded depth is used only where one was stored.
    keep = max(1, max((q.depth for q in offered), default=0)) if latched else depth
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=keep,
                      reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
