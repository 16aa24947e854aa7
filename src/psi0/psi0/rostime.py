"""Seconds ⇄ builtin_interfaces/Time, exactly (integer nanoseconds; no rounding into a 1 s error)."""

from __future__ import annotations

from builtin_interfaces.msg import Time


def to_time_msg(t: float) -> Time:
    sec, nsec = divmod(round(t * 1e9), 1_000_000_000)
    return Time(sec=sec, nanosec=nsec)


def to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9
