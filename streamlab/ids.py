"""Stream entry IDs: ``<milliseconds>-<sequence>``, parsed, compared, stepped and dated.

IDs must be compared as numbers, not as text (``"9-0" > "10-0"`` as strings), so
everything in the course that orders, steps or dates an ID goes through here:
the engine and the exercise checkers alike.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

MAX_SEQ = 2**64 - 1  # the sequence part is an unsigned 64-bit number
_ID = re.compile(r"^(\d+)(?:-(\d+))?$")
_FULL_ID = re.compile(r"(\d+)-(\d+)")  # fullmatch: nothing around it, not even a newline


def _text(entry_id) -> str:
    return entry_id.decode() if isinstance(entry_id, (bytes, bytearray)) else str(entry_id)


def parse(entry_id) -> tuple[int, int]:
    """``'1700000000000-3'`` -> ``(1700000000000, 3)``; a bare ``'17'`` is ``(17, 0)``.

    Tuples compare in stream order. Raises ``ValueError`` (saying what a valid ID
    looks like) for anything else; ``try_parse`` answers None instead.
    """
    parsed = try_parse(entry_id)
    if parsed is None:
        raise ValueError(f"{_text(entry_id)!r} is not a stream entry ID: an ID is "
                         f"<milliseconds>-<sequence>, two whole numbers, e.g. 1700000000000-0.")
    return parsed


def try_parse(entry_id, full: bool = False) -> tuple[int, int] | None:
    """``parse``, or None when ``entry_id`` is not an ID (for checking a learner's answer).

    ``full=True`` takes only the whole form ``<milliseconds>-<sequence>`` exactly as
    written, as XADD returns it: no bare ``17``, no surrounding spaces.
    """
    if entry_id is None:
        return None
    text = _text(entry_id)
    m = _FULL_ID.fullmatch(text) if full else _ID.match(text.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


def ms(entry_id) -> int:
    """The milliseconds part: when the entry was added (the server's clock, Unix ms)."""
    return parse(entry_id)[0]


def following(entry_id) -> str:
    """The smallest ID greater than ``entry_id``: what ``(id`` means in XRANGE (Redis 6.2+),
    written so that every server accepts it."""
    t, seq = parse(entry_id)
    return f"{t + 1}-0" if seq >= MAX_SEQ else f"{t}-{seq + 1}"


def from_datetime(when: datetime) -> str:
    """The smallest ID at or after ``when`` (``<ms>-0``), e.g. for ``XTRIM ... MINID``.

    A naive datetime is taken as local time, as ``datetime.timestamp()`` does;
    pass an aware one (``datetime.now(timezone.utc)``) to be explicit.
    """
    if not isinstance(when, datetime):
        raise TypeError(f"needs a datetime, got {type(when).__name__}: {when!r}")
    t = int(when.timestamp() * 1000)
    if t < 0:
        raise ValueError(f"{when} is before 1970: stream IDs start at 0-0 (the Unix epoch).")
    return f"{t}-0"


def to_datetime(entry_id) -> datetime:
    """When an entry was added, from its ID's milliseconds (UTC)."""
    return datetime.fromtimestamp(ms(entry_id) / 1000, tz=timezone.utc)


def seconds(entry_id) -> float:
    """The ID's time as Unix seconds (a float), for arithmetic with ``time.time()``."""
    return ms(entry_id) / 1000
