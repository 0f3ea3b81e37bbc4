"""Where a group consumer reads next: its own pending entries first, then new ones.

``XREADGROUP GROUP g c ... STREAMS s <id>`` with an ID returns this consumer's own
pending entries after that ID (its history: read, never acked, e.g. before a crash
or a lost connection), without blocking; with ``>`` it returns entries never
delivered to anyone. A consumer that restarts must finish its history before it
takes new work, or that work waits until someone claims it. ``ConsumerPool``'s
consumers and ``streamlab consume`` both read through one ``PendingFirst``.
"""

from __future__ import annotations

NEW = ">"


class PendingFirst:
    """The ID the next ``XREADGROUP`` reads from: ``0`` (the whole history), then after the
    last history entry read, then ``>`` once a history read comes back empty.

    Moving on after the last entry read, rather than reading from ``0`` again, means an
    entry that fails is not handed back for ever within one pass over the history.
    """

    def __init__(self) -> None:
        self.position = "0"

    @property
    def replaying(self) -> bool:
        """True while reading the consumer's own pending entries (no ``BLOCK``: they are there or not)."""
        return self.position != NEW

    def rewind(self) -> None:
        """Read the history from its start again: at a (re)start, after a lost connection (an
        ``XACK`` may have been lost with it), or to retry entries that failed."""
        self.position = "0"

    def advance(self, last_id: str | None) -> None:
        """After a read: a history read goes on after its last entry, or to new entries when it
        returned none; a read of new entries changes nothing."""
        if self.replaying:
            self.position = last_id or NEW
