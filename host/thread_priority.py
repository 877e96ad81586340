"""Real-time scheduling for the threads of `isovox live` (Linux SCHED_FIFO, as JACK gives its clients).

The audio callback runs in JACK's real-time thread, but it needs the GIL. If a normal-priority
thread of ours holds the GIL when a competing process preempts it, the callback waits for that
process: a priority inversion that drops blocks on a busy machine. So every thread of ours that
takes the GIL while the stream runs (the worker, the UI loop) runs under SCHED_FIFO, below JACK's.
"""
from __future__ import annotations

import os

WORKER_PRIORITY = 5          # under JACK's own threads (10 and up)
UI_PRIORITY = 1              # the status loop: the lowest real-time priority


def raise_thread_priority(priority: int) -> tuple[int, int] | None:
    """Put the calling thread under SCHED_FIFO at `priority`; its previous (policy, priority) to
    restore, or None where the system does not allow it (no rtprio limit, not Linux)."""
    try:
        saved = os.sched_getscheduler(0), os.sched_getparam(0).sched_priority
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return saved
    except (AttributeError, OSError):
        return None


def restore_thread_priority(saved: tuple[int, int] | None) -> None:
    """Undo `raise_thread_priority` (a no-op for None)."""
    if saved is not None:
        os.sched_setscheduler(0, saved[0], os.sched_param(saved[1]))
