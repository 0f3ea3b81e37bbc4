"""Child processes that die with the process that started them (no orphan outlives the kernel)."""

from __future__ import annotations

import os
import signal
import sys


def die_with_parent():
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets SIGTERM when its parent dies.

    Linux's ``prctl(PR_SET_PDEATHSIG)`` fires when the parent exits, even by
    SIGKILL. A parent that dies between the fork and the ``prctl`` call would be
    missed, so the child then checks that its parent is still the one that forked
    it, and exits at once if not. Returns None off Linux, where callers rely on
    their own cleanup (``atexit``, ``stop()``).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return preexec
