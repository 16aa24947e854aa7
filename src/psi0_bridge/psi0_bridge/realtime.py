"""Scheduling of the bridge process: SCHED_FIFO per thread and CPU pinning of every thread (no rclpy).

On Linux, `os.sched_setscheduler(0, ...)` and `os.sched_setaffinity(tid, ...)` act on single threads
(tid = a kernel thread id from /proc/self/task). Threads created later inherit the creating thread's
affinity, so pinning once after start-up covers the DDS threads created during it and those they spawn.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable


def set_fifo(priority: int) -> str | None:
    """Give the calling thread SCHED_FIFO at `priority`; returns why it could not (no CAP_SYS_NICE/rtprio)."""
    if priority <= 0:
        return None
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as e:
        return str(e)
    return None


def set_fifo_threads(names: Iterable[str] | None, priority: int) -> tuple[list[int], str | None]:
    """SCHED_FIFO at `priority` for this process's threads named `names` (their /proc comm, e.g. Cyclone DDS's
    "recv"), or with None every thread (a small process whose every thread matters: the e-stop heartbeat's executor
    and DDS threads); returns the thread ids changed and why not all could be (None: all were)."""
    want, changed = None if names is None else set(names), []
    for tid in process_threads():
        try:
            if want is not None:
                with open(f"/proc/self/task/{tid}/comm") as f:
                    if f.read().strip() not in want:
                        continue
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
            changed.append(tid)
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
        except (PermissionError, OSError) as e:
            return changed, str(e)
    return changed, None


def sleep_until(deadline: float, spin_s: float = 0.0005) -> None:
    """Wait until time.monotonic() reaches `deadline`: sleep to `spin_s` before it, then spin (the kernel's timer
    slack and wake-up latency are larger than a 500 Hz loop tolerates; the spin holds the GIL only between the
    interpreter's switch-interval checks)."""
    remaining = deadline - time.monotonic()
    if remaining > spin_s + 0.0001:
        time.sleep(remaining - spin_s)
    while time.monotonic() < deadline:
        pass


def process_threads() -> list[int]:
    """Kernel thread ids of this process."""
    return sorted(int(t) for t in os.listdir("/proc/self/task"))


def pin_threads(cpus: Iterable[int]) -> list[int]:
    """Restrict every thread of this process to `cpus`; returns the thread ids pinned.

    Raises ValueError for CPUs this process may not use (offline, outside its cgroup's cpuset), naming them.
    """
    want = set(cpus)
    if not want:
        raise ValueError("cpu_affinity: no CPU given")
    allowed = _all_thread_cpus()
    missing = sorted(want - allowed)
    if missing:
        raise ValueError(f"cpu_affinity {sorted(want)}: CPUs {missing} are not available to this process "
                         f"(available: {sorted(allowed)})")
    pinned = []
    for tid in process_threads():
        try:
            os.sched_setaffinity(tid, want)
            pinned.append(tid)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    return pinned


def _all_thread_cpus() -> set[int]:
    cpus: set[int] = set()
    for tid in process_threads():
        try:
            cpus |= os.sched_getaffinity(tid)
        except ProcessLookupError:
            continue
    return cpus
