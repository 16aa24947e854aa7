"""Seconds ⇄ builtin_interfaces/Time and Duration, exactly (integer nanoseconds; a fraction never rounds up to a
nanosec field of 1e9)."""

from __future__ import annotations

from builtin_interfaces.msg import Duration, Time


def _split(t: float) -> tuple[int, int]:
    return divmod(round(t * 1e9), 1_000_000_000)


def to_time_msg(t: float) -> Time:
    sec, nsec = _split(t)
    return Time(sec=sec, nanosec=nsec)


def to_duration_msg(t: float) -> Duration:
    sec, nsec = _split(t)
    return Duration(sec=sec, nanosec=nsec)


def to_sec(stamp: Time | Duration) -> float:
    return stamp.sec + stamp.nanosec * 1e-9
