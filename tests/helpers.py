"""Small helpers shared by the tests."""

from __future__ import annotations

import time


def wait_until(condition, timeout: float = 10) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` passes; its last answer.

    For outcomes that arrive from another thread (an entry, a status); a test
    asserts the outcome, never how fast it came.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())
