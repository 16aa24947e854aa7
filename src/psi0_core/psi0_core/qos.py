"""The stack's shared QoS profiles: latched topics, and images.

QoS of images: the publishers (camera node, simulator) after REP-2003 (sensor data and map QoS settings),
reliable, so every consumer can choose (a reliable publisher matches a reliable subscriber, RViz's default and
ros2 bag record's, and a best-effort one; a best-effort publisher matches best-effort subscribers only).

Our own consumers (the policy node, the episode harness) subscribe reliable, keep-last 1, by default, where
REP-2003 suggests best-effort: measured here (benchmarks/image_qos.py, 640×480 rgb8 at 30 Hz over localhost,
2 cores), a best-effort subscriber received 16–24 frames/s (a 921 kB frame travels as ~15 UDP fragments; one lost
fragment loses the frame) with inter-frame gaps p99 110–250 ms, beyond the policy's 100 ms image-age limit; a
reliable one 29–30 frames/s, gap p99 50–63 ms, and the simulator's 500 Hz LowState kept the same rhythm (p99 within
0.5 ms of the best-effort rows). Keep-last on both sides, volatile: a late frame is worth nothing, and a reliable
subscriber that falls behind costs repairs of at most the newest frames, never a growing queue or a blocked
publisher. Over a lossy link (Wi-Fi to a laptop) choose best_effort on the subscriber.
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

IMAGE_RELIABILITY = ("reliable", "best_effort")


def latched_qos(depth: int = 1) -> QoSProfile:
    """Reliable, transient-local: a late subscriber still gets the newest `depth` messages (status, descriptions)."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def image_publisher_qos(reliability: str = "reliable") -> QoSProfile:
    """Keep-last 2 (one frame in flight while the next is written)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2, durability=DurabilityPolicy.VOLATILE,
                      reliability=_reliability(reliability))


def image_subscriber_qos(reliability: str = "reliable") -> QoSProfile:
    """Keep-last 1: a consumer wants the newest frame only."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, durability=DurabilityPolicy.VOLATILE,
                      reliability=_reliability(reliability))


def _reliability(reliability: str) -> ReliabilityPolicy:
    if reliability not in IMAGE_RELIABILITY:
        raise ValueError(f"image reliability {reliability!r}: one of {IMAGE_RELIABILITY}")
    return ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
