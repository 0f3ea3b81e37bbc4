"""Consumer groups: create one if it is missing, never rewind one that exists."""

from __future__ import annotations

import redis


def ensure_group(r, stream: str, group: str, start_id: str = "$", mkstream: bool = True) -> bool:
    """``XGROUP CREATE stream group start_id [MKSTREAM]``; True if it made the group.

    An existing group answers ``BUSYGROUP`` (fakeredis: ``ERR BUSYGROUP``): it is
    left exactly where it is, since creating it again must never move its
    last-delivered ID. Every other error is raised.
    """
    try:
        r.xgroup_create(stream, group, id=start_id, mkstream=mkstream)
        return True
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
