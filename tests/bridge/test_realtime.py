"""Bridge scheduling helpers: thread pinning across the whole process, clear errors for CPUs it cannot have."""

import json
import os
import subprocess
import sys

import pytest

from psi0_bridge.realtime import pin_threads, process_threads

pytestmark = pytest.mark.unit

_CHILD = """
import json, os, threading, time
from psi0_bridge.realtime import pin_threads
started = threading.Event()
def worker():
    started.set()
    time.sleep(5)
threading.Thread(target=worker, daemon=True).start()
started.wait()
pinned = pin_threads([{cpu}])
late = []
threading.Thread(target=lambda: late.append(os.sched_getaffinity(0))).start()  # created after: inherits
time.sleep(0.2)
tasks = sorted(int(t) for t in os.listdir("/proc/self/task"))
print(json.dumps({{"pinned": pinned, "tasks": tasks, "cpus": [sorted(os.sched_getaffinity(t)) for t in tasks],
                  "late": sorted(late[0])}}))
"""


def test_every_thread_is_pinned_and_new_threads_inherit():
    cpu = max(os.sched_getaffinity(0))
    out = subprocess.run([sys.executable, "-c", _CHILD.format(cpu=cpu)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(r["pinned"]) >= 2  # the main thread and the worker at least
    assert all(c == [cpu] for c in r["cpus"]) and r["late"] == [cpu]


def test_unavailable_cpu_is_a_clear_error_and_nothing_is_pinned():
    before = {t: os.sched_getaffinity(t) for t in process_threads()}
    with pytest.raises(ValueError, match=r"CPUs \[1023\] are not available"):
        pin_threads([1023])
    with pytest.raises(ValueError, match="no CPU given"):
        pin_threads([])
    assert {t: os.sched_getaffinity(t) for t in process_threads() if t in before} == before
