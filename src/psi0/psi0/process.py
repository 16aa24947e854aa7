"""Child processes that do not outlive the process that started them (Linux PR_SET_PDEATHSIG).

A launcher killed with SIGKILL cannot stop its nodes; without this they would keep running, a bridge
among them still commanding the robot while nobody supervises it. With `preexec_fn=die_with_parent()`
the kernel sends the child `sig` (SIGINT: the nodes' own orderly shutdown — the bridge damps first)
as soon as the parent thread that started it exits. Elsewhere than Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: int = signal.SIGINT) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child receives `sig` when this process (thread) exits.

    Call it in the parent (it records the parent's pid); start the child from a long-lived thread.
    """
    parent = os.getpid()

    def _in_child() -> None:
        if _libc is None:
            return
        _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return _in_child
