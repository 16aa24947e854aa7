"""Simulated time → the bridge's monotonic clock, at the simulator's actual rate.

The bridge's control loop and watchdogs run on the monotonic clock. On the robot ROS time is wall time and a
chunk stamp converts with a plain offset. Under `use_sim_time` the simulator may run slower (or faster) than
the wall clock — an overloaded machine — and a chunk played at wall rate would then run ahead of the policy
that scheduled it in simulated time (a synchronous-chunking policy would leave the bridge without a due step
for longer than it thinks). `ClockRate` estimates simulated seconds per monotonic second from pairs of
readings (smoothed, clamped to [0.05, 4]) and maps a stamp t and period dt to the monotonic clock:
    t_local = mono_now + (t − ros_now) / rate,   dt_local = dt / rate.
Safety timeouts (S2, S3, S9) stay in wall time whatever the rate: they protect a real robot in real time.

The mapping preserves order: a stamp not earlier than the previous one never maps before it. Without that a
simulator catching up after a stall (sim time running faster than the rate estimate between two arrivals) could
map a later chunk before its predecessor, which the bridge then rejects (S4) although the sender's stamps were
in order — seen once on a loaded machine, ending an episode in a protective stop. It clamps to the previous
mapping itself, not to that plus the stamps' spacing: a clamp that kept the spacing carried any lateness forward
for good (a chunk mapped late while the rate estimate dipped made every later one as late — measured: after a few
episodes on a loaded machine the bridge played walking commands 1–3 s after their stamps, and the robot turned
the wrong way for seconds at a time).
"""

from __future__ import annotations


class ClockRate:
    def __init__(self, enabled: bool, smoothing: float = 0.5, min_interval_s: float = 0.2) -> None:
        self.enabled = enabled
        self.rate = 1.0
        self.smoothing, self.min_interval = smoothing, min_interval_s
        self._ref: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None  # (stamp, local) of the previous conversion

    def update(self, mono: float, ros: float) -> float:
        """Feed a (monotonic, ROS) reading pair (at ≥ min_interval spacing to count); returns the rate."""
        if not self.enabled:
            return 1.0
        if self._ref is None or ros < self._ref[1]:  # first reading, or the simulation was reset (time went back)
            self._ref = (mono, ros)
            return self.rate
        d_mono = mono - self._ref[0]
        if d_mono < self.min_interval:
            return self.rate
        measured = (ros - self._ref[1]) / d_mono
        self.rate = min(4.0, max(0.05, self.smoothing * self.rate + (1 - self.smoothing) * measured))
        self._ref = (mono, ros)
        return self.rate

    def to_local(self, t: float, dt: float, mono_now: float, ros_now: float) -> tuple[float, float]:
        r = self.rate if self.enabled else 1.0
        local = mono_now + (t - ros_now) / r
        if self._last is not None and t >= self._last[0]:
            local = max(local, self._last[1])
        self._last = (t, local)
        return local, dt / r
