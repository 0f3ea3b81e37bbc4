"""The course's keys: every key a lesson creates starts with a course prefix.

That is what makes the course safe on a server other people use: ``reset()``
deletes only keys with those prefixes (found with ``SCAN MATCH``, removed with
``UNLINK``), and nothing in streamlab runs ``FLUSHDB`` or ``FLUSHALL``.
"""

from __future__ import annotations

import zlib

from . import workers
from .backend import close_emulations, connect

#: Glob patterns (as SCAN MATCH takes them) of every key the course may create.
COURSE_PATTERNS = ("lesson[0-9][0-9]:*", "streamlab:*")


def lesson_prefix(lesson: int | str) -> str:
    """``lesson_prefix(3)`` -> ``'lesson03:'``: the start of every key lesson 03 creates."""
    return f"lesson{int(lesson):02d}:"


def partition_key(base: str, p: int, kind: str | None = None) -> str:
    """The key of partition ``p``: ``base:{pN}`` for the stream, ``base:kind:{pN}`` for a companion
    key (``done``, ``alerts``, ``dead``) that must share its slot (the ``{pN}`` hash tag).

    Here, beside the other key names, because both ``partitions`` and ``cluster`` name them."""
    return f"{base}:{kind}:{{p{p}}}" if kind else f"{base}:{{p{p}}}"


def partition_of(key: str, partitions: int) -> int:
    """Which of ``partitions`` streams ``key`` belongs to: CRC32 of the key mod P (the same in every process).

    Beside ``partition_key`` because lesson 03's hand-made partitions and ``partitions`` both route with it."""
    if partitions < 1:
        raise ValueError(f"the number of partitions must be at least 1, got {partitions}.")
    return zlib.crc32(str(key).encode()) % partitions


def course_keys(r, lesson: int | str | None = None) -> list[str]:
    """The course's keys on this server (``SCAN MATCH``), optionally of one lesson only."""
    patterns = [lesson_prefix(lesson) + "*"] if lesson is not None else list(COURSE_PATTERNS)
    found: set[str] = set()
    for pattern in patterns:
        for key in r.scan_iter(match=pattern, count=500):
            found.add(key.decode() if isinstance(key, bytes) else key)
    return sorted(found)


def reset(r=None, lesson: int | str | None = None, quiet: bool = False) -> int:
    """Stop the course's running workers and delete the course's keys (all, or one lesson's).

    Only keys matching ``COURSE_PATTERNS`` are touched (``SCAN`` + ``UNLINK``),
    so this is safe on a shared server. Returns how many keys were deleted.
    """
    workers.stop_all()
    close_emulations()  # the side fakeredis servers of "new way" cells, and their data
    if r is None:
        r = connect(quiet=True)
    keys = course_keys(r, lesson)
    deleted = 0
    for start in range(0, len(keys), 500):
        deleted += r.unlink(*keys[start:start + 500])
    if not quiet:
        scope = f"lesson {int(lesson):02d}" if lesson is not None else "the course"
        print(f"streamlab: stopped running workers and deleted {deleted} key(s) of {scope}.")
    return deleted
