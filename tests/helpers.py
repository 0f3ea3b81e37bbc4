"""Small helpers shared by the tests."""

from __future__ import annotations

from streamlab.waiting import wait_until as _wait_until


def wait_until(condition, timeout: float = 10) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` passes (``streamlab.waiting``).

    For outcomes that arrive from another thread (an entry, a status); a test
    asserts the outcome, never how fast it came.
    """
    return bool(_wait_until(condition, timeout))


def is_blocked(r, name: str) -> bool:
    """True while the connection named ``name`` (CLIENT SETNAME) is blocked in a command.

    The signal a test waits for before it acts on a blocked read (adds the entry
    that wakes it, interrupts it), instead of sleeping and hoping the read has
    started. A real server says so in CLIENT LIST (flag ``b``); fakeredis's
    CLIENT LIST has no such flag, so there we ask its server object, which marks
    a connection blocked for exactly as long as it waits.
    """
    if r.backend.is_fake:
        return any(getattr(sock, "_blocked", False) and sock._client_info.get("name") == name
                   for sock in list(r.backend.fake_server.sockets))
    return any(c.get("name") == name and "b" in c.get("flags", "") for c in r.client_list())


def output_dir():
    """Where tests write files for people to look at: ``test-output/``, or ``$STREAMLAB_TEST_OUTPUT``
    (tools/parallel_quick.py gives each concurrent copy of the suite its own)."""
    import os
    from pathlib import Path

    return Path(os.environ.get("STREAMLAB_TEST_OUTPUT") or Path(__file__).resolve().parents[1] / "test-output")


def listening(port: int) -> bool:
    """True if a Redis server answers on ``port`` (a NOAUTH error counts)."""
    from streamlab import server
    return server._hello(port).startswith((b"$", b"-NOAUTH"))
