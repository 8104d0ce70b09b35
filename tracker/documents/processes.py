"""Processes that must not outlive the one that started them (the parsing subprocess, and Tesseract in it)."""
from __future__ import annotations

import signal
import sys

# prctl(2) option: the signal the kernel sends a process when the thread that started it ends.
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to kill this process (SIGKILL) when its parent dies: a worker killed half-way (its
    lease then runs out and another worker extracts the document again) leaves no parse running on
    without anyone to read its result. Linux only; elsewhere a no-op. Safe in a ``preexec_fn``."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
