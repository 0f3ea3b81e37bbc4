"""Wait for a state, not for a time: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import time

INTERVAL = 0.02  # seconds between two looks: short next to any wait the course does


def wait_until(condition, timeout: float, interval: float = INTERVAL):
    """Call ``condition()`` until it returns something true or ``timeout`` seconds pass.

    Returns the last value it returned (so ``wait_until(lambda: r.xlen(k) >= 3, 5)``
    is True or False, and ``wait_until(find_entry, 5)`` is the entry or None).
    It looks once more at the deadline, so a state reached during the last sleep counts.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            return value
        time.sleep(min(interval, left))
