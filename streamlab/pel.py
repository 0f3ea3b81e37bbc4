"""The pending entries list (PEL), without pandas: delivery counts, XAUTOCLAIM pages, dead letters.

The parts of lesson 04's toolkit that the terminal programs (``programs``)
need, in a module light enough for a command to start and exit quickly.
``recovery`` re-exports every name here; lessons use them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import redis


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


#: The fields a dead-letter copy adds to the entry's own fields.
DEAD_LETTER_FIELDS = ("original_id", "deliveries", "source_stream", "group", "last_consumer", "reason")


def delivery_counts(r: redis.Redis, stream: str, group: str, ids: list[str]) -> dict[str, int]:
    """How many times each of ``ids`` was delivered: ``XPENDING stream group id id 1`` per ID, pipelined.

    IDs that are no longer pending (acked, or deleted) are left out.
    """
    pipe = r.pipeline(transaction=False)
    for entry_id in ids:
        pipe.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    counts = {}
    for rows in pipe.execute():
        for p in rows:
            counts[p["message_id"]] = int(p["times_delivered"])
    return counts


@dataclass
class AutoclaimPage:
    """One ``XAUTOCLAIM`` reply: where it started, the cursor for the next call, what it claimed and found deleted."""

    cursor: str
    next_cursor: str
    claimed: list[tuple[str, dict]]
    deleted: list[str] = field(default_factory=list)


def autoclaim_pages(r: redis.Redis, stream: str, group: str, consumer: str, min_idle_ms: int,
                    count: int = 100, start: str = "0-0") -> Iterator[AutoclaimPage]:
    """``XAUTOCLAIM stream group consumer min-idle-time cursor COUNT n``, again and again, until the cursor is ``0-0``.

    Each page scans up to ``count`` pending entries from ``cursor`` on. The
    third element of the reply (Redis 7.0+) lists IDs that were pending but have
    been deleted or trimmed from the stream: Redis drops them from the PEL, and
    the page reports them in ``deleted``. On Redis 6.2 such entries come back
    with no fields instead (redis-py 8 gives ``{}``, older versions ``None``);
    they are moved to ``deleted`` too. IDs and the cursor are text even from a
    client that keeps replies as bytes; the fields are left as the client gave them.
    """
    cursor = start
    while True:
        reply = r.xautoclaim(stream, group, consumer, int(min_idle_ms), start_id=cursor, count=count)
        next_cursor, entries = _text(reply[0]), reply[1]
        deleted = [_text(i) for i in reply[2]] if len(reply) > 2 else []
        claimed = []
        for entry_id, fields in entries:
            if not fields:  # no fields: deleted (redis-py 8 gives {} on Redis 6.2, older None)
                deleted.append(_text(entry_id))
            else:
                claimed.append((_text(entry_id), fields))
        yield AutoclaimPage(cursor, next_cursor, claimed, deleted)
        if next_cursor == "0-0":
            return
        cursor = next_cursor


# --- dead letters ---------------------------------------------------------------------

# Copy first, then XACK, both only while the entry is still pending. If the XADD fails
# (the dead-letter key holds another type, the server is out of memory) the script stops
# before the XACK: the entry stays pending, never acked and lost. An entry someone acked
# meanwhile (XPENDING no longer lists it) is left alone: never both done and dead-lettered.
_DEAD_LETTER_LUA = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return false end
local copy = redis.call('XADD', KEYS[2], '*', (unpack or table.unpack)(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return copy
"""


def dead_letter(r: redis.Redis, stream: str, group: str, entry_id: str, fields: dict,
                dead_letter_stream: str, deliveries: int, consumer: str = "",
                reason: str = "") -> str | None:
    """Move one pending entry to ``dead_letter_stream``: ``XADD`` a copy and ``XACK`` it, atomically (a Lua script).

    The script checks ``XPENDING`` first and does nothing for an entry that is
    no longer pending; a copy that cannot be written leaves the entry pending
    (not acked), so a failing dead-letter stream loses nothing. The copy holds
    the entry's fields plus ``original_id``, ``deliveries``, ``source_stream``,
    ``group``, ``last_consumer`` and ``reason``; field values may be bytes (an
    entry that is not UTF-8 text is copied byte for byte). Returns the copy's
    ID, or None if the entry was no longer pending (then nothing is copied).
    """
    extra = {"original_id": entry_id, "deliveries": deliveries, "source_stream": stream,
             "group": group, "last_consumer": consumer, "reason": reason}
    flat: list = []
    for k, v in {**fields, **extra}.items():
        flat += [k, v]
    script = r.register_script(_DEAD_LETTER_LUA)  # EVALSHA, loading the script on first use
    copy = script(keys=[stream, dead_letter_stream], args=[group, entry_id, *flat])
    return _text(copy) if copy else None
