"""Watching a stream and its consumer group over time: a sampler that fills bounded pandas frames.

Every ``interval`` seconds the ``Sampler`` sends one pipeline (one round trip)::

    XLEN <stream>
    XINFO STREAM <stream>          # entries-added (Redis 7.0+)
    XINFO GROUPS <stream>          # pending, last-delivered-id, entries-read, lag
    XPENDING <stream> <group>      # summary: pending entries per consumer

and keeps the last ``window`` seconds of samples (a deque), so it can run for
hours in the same memory.

Lag, the number of entries in the stream the group has not been given yet,
comes from one of three places, and every sample says which (``lag_source``):

- ``server``: ``XINFO GROUPS`` reports ``lag`` (Redis 7.0+) and it can be trusted
  (``server_lag_trusted``);
- ``counters``: ``entries-added`` minus ``entries-read`` when the server has
  both counters but gave no lag and nothing was ever deleted from the stream;
- ``xrange``: counting the entries after ``last-delivered-id`` with ``XRANGE``
  (capped at ``XRANGE_CAP``), which works on every server.

When is the server's lag wrong? Redis computes it as ``entries-added`` minus
``entries-read``, a subtraction that stops being exact once entries have been
deleted (``XDEL``) or trimmed (``XTRIM``, ``MAXLEN``/``MINID``). Measured on Redis
7.0.15: after an ``XDEL`` of an entry the group had not read, the group read
everything and ``lag`` still said 1 (fixed in Redis 7.4); 10 entries, 3 read,
``XTRIM MAXLEN 5``: ``lag`` 7 where 5 were unread, and 2 after reading them all
(redis #13473, 2024, and #13958, 2025, fixed trimming; the second may be missing from
early 8.0 releases, so we trust Redis 8.2 and newer). Valkey 8.1.8 and fakeredis also
report 7 after that trim; Valkey 9 was not measured. So the
sampler takes the server's number as it is only when the stream has never lost
an entry (``entries-added`` equals ``XLEN`` and ``max-deleted-entry-id`` is
``0-0``: the subtraction is exact on every server) or the server is Redis 8.2 or
newer; otherwise it counts with ``XRANGE``, and keeps what the server said in
the sample's ``server_lag`` column so the two can be compared.
"""

from __future__ import annotations

import time
from collections import deque

import pandas as pd
import redis

from . import ids
from .backend import Client, behaviour
from .workers import Worker

#: Most entries counted with XRANGE for one lag sample (keeps a sample cheap).
XRANGE_CAP = 10_000

STREAM_COLUMNS = ["t", "xlen", "lag", "lag_source", "server_lag", "pending", "entries_read",
                  "entries_added", "last_delivered_id", "consumers"]


def group_info(r: redis.Redis, stream: str, group: str) -> dict | None:
    """This group's row of ``XINFO GROUPS stream`` (a dict), or None if there is no such group."""
    for row in r.xinfo_groups(stream):
        if row["name"] == group:
            return row
    return None


def lost_entries(stream_info: dict, length: int | None = None) -> bool:
    """Whether the stream ever lost an entry (XDEL, XTRIM, MAXLEN/MINID), from ``XINFO STREAM``.

    ``max-deleted-entry-id`` shows an XDEL; Redis 7.0 does not move it on a trim, but
    then ``entries-added`` is larger than the length.
    """
    deleted = stream_info.get("max-deleted-entry-id")
    added = stream_info.get("entries-added")
    length = stream_info.get("length", length)
    if deleted not in (None, "0-0"):
        return True
    return added is not None and length is not None and int(added) != int(length)


def server_lag_trusted(backend, stream_info: dict | None) -> bool:
    """Whether ``XINFO GROUPS`` lag can be shown as it is (see the module docstring).

    ``backend`` is a streamlab ``Backend`` (``r.backend``) or None when unknown.
    """
    if stream_info and not lost_entries(stream_info):
        return True
    return backend is not None and behaviour(backend, "lag-after-deletions") == "exact"


def lag_of(r: Client, stream: str, group_row: dict, stream_info: dict | None = None,
           backend=None) -> tuple[int | None, str]:
    """(lag, source) for one ``XINFO GROUPS`` row: see the module docstring for the three sources.

    ``stream_info`` is ``XINFO STREAM``'s reply (fetched when not given);
    ``backend`` defaults to ``r.backend``.
    """
    if stream_info is None:
        try:
            stream_info = r.xinfo_stream(stream)
        except redis.ResponseError:
            stream_info = {}
    if backend is None:
        backend = r.backend
    lag = group_row.get("lag")
    if lag is not None and server_lag_trusted(backend, stream_info):
        return int(lag), "server"
    added = stream_info.get("entries-added")
    read = group_row.get("entries-read")
    if added is not None and read is not None and stream_info and not lost_entries(stream_info):
        return int(added) - int(read), "counters"
    position = group_row.get("last-delivered-id") or "0-0"
    settled = _count_cheaply(stream_info, position)
    return (settled if settled is not None else count_after(r, stream, position)), "xrange"


def _count_cheaply(stream_info: dict, position: str) -> int | None:
    """The entries after ``position`` without an XRANGE, when ``XINFO STREAM`` settles it:
    0 for a group at or past the last entry (caught up, the usual case), the whole length
    for a group before the first entry; None when only counting can tell."""
    first, last, length = (stream_info.get("first-entry"), stream_info.get("last-entry"),
                           stream_info.get("length"))
    if length is None:
        return None
    if not length:
        return 0
    if last and ids.parse(position) >= ids.parse(last[0]):
        return 0
    if first and ids.parse(position) < ids.parse(first[0]):
        return int(length)
    return None


def count_after(r: redis.Redis, stream: str, after_id: str, cap: int = XRANGE_CAP) -> int:
    """How many entries have an ID greater than ``after_id``: ``XRANGE stream <next ID> + COUNT cap``.

    ``ids.following`` gives the next possible ID, which every server accepts
    (``(after_id`` needs Redis 6.2).
    """
    if after_id in ("0-0", "0"):
        return min(r.xlen(stream), cap)
    return len(r.xrange(stream, ids.following(after_id), "+", count=cap))


def _means_missing(exc: Exception) -> bool:
    text = str(exc)
    return "no such key" in text.lower() or text.startswith("NOGROUP")


class Sampler(Worker):
    """Samples one stream and one consumer group every ``interval`` seconds into bounded frames.

    ``pool`` (a ``ConsumerPool``, optional) adds each consumer's processed
    count. Frames: ``stream_frame()`` (one row per sample), ``consumer_frame()``
    (one row per sample and consumer: pending, processed, throughput).
    ``t`` is seconds since the sampler first started (or was first sampled).
    """

    def __init__(self, r: Client, stream: str, group: str, pool=None,
                 interval: float = 0.1, window: float = 60, name: str | None = None):
        if interval <= 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}.")
        super().__init__(name or f"sampler:{stream}:{group}")
        self.r = r
        self.stream = stream
        self.group = group
        self.pool = pool
        self.interval = float(interval)
        self.window = float(window)
        self.t0 = time.monotonic()
        self.samples = 0
        self.sample_seconds = 0.0
        maxlen = max(2, int(window / interval) + 1)
        self._rows: deque = deque(maxlen=maxlen)
        self._consumer_rows: deque = deque(maxlen=maxlen)
        self.client = None

    @property
    def cost(self) -> float:
        """Mean seconds one sample took (its pipeline round trip plus bookkeeping)."""
        return self.sample_seconds / self.samples if self.samples else 0.0

    def on_start(self) -> None:
        self.client = self.r.new_client()
        if not self.samples:
            self.t0 = time.monotonic()  # the clock starts with the first run, not at creation

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None  # sample() after stop() uses the caller's client

    def step(self) -> None:
        began = time.monotonic()
        self.sample()
        self.sample_seconds += time.monotonic() - began
        self.sleep(max(0.0, self.interval - (time.monotonic() - began)))

    def sample(self) -> dict:
        """Take one sample now (works without starting the thread); returns the stream row."""
        client = self.client or self.r
        if not self.samples and not self.running:
            self.t0 = time.monotonic()
        pipe = client.pipeline(transaction=False)
        pipe.xlen(self.stream)
        pipe.xinfo_stream(self.stream)
        pipe.xinfo_groups(self.stream)
        pipe.xpending(self.stream, self.group)
        # No stream or no group yet is an answer too (an empty sample keeps the plot's clock going).
        replies = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, redis.ResponseError) and not _means_missing(reply):
                raise reply
        xlen, stream_info, groups, pending = (
            default if isinstance(reply, Exception) else reply
            for reply, default in zip(replies, (0, {}, [], {})))
        t = time.monotonic() - self.t0
        row_group = next((g for g in groups if g["name"] == self.group), None)
        if row_group is None:
            lag, source = None, "none"
        else:
            lag, source = lag_of(client, self.stream, row_group, stream_info,
                                 backend=self.r.backend)
        row = {
            "t": t,
            "xlen": xlen,
            "lag": lag,
            "lag_source": source,
            "server_lag": (row_group or {}).get("lag"),
            "pending": (row_group or {}).get("pending", 0),
            "entries_read": (row_group or {}).get("entries-read"),
            "entries_added": stream_info.get("entries-added"),
            "last_delivered_id": (row_group or {}).get("last-delivered-id"),
            "consumers": (row_group or {}).get("consumers", 0),
        }
        per_consumer = {c["name"]: int(c["pending"]) for c in (pending or {}).get("consumers") or []}
        processed = dict(self.pool.processed) if self.pool is not None else {}
        names = list(dict.fromkeys([*processed, *per_consumer]))
        if self.pool is not None:
            names = list(dict.fromkeys([*self.pool.consumers, *names]))
        self._rows.append(row)
        self._consumer_rows.append((t, {n: (per_consumer.get(n, 0), processed.get(n, 0)) for n in names}))
        self.samples += 1
        return row

    # --- frames ------------------------------------------------------------------
    def stream_frame(self) -> pd.DataFrame:
        """One row per sample in the window: xlen, lag (+ lag_source), pending, entries-read/added."""
        return pd.DataFrame(list(self._rows), columns=STREAM_COLUMNS)

    def consumer_frame(self, smooth: float = 1.0) -> pd.DataFrame:
        """One row per (sample, consumer): pending, processed (total so far) and throughput (entries/s).

        Throughput is the change in processed over the last ``smooth`` seconds
        (or since the consumer's first sample), divided by the time it took.
        """
        rows = []
        history: dict[str, deque] = {}
        for t, consumers in list(self._consumer_rows):
            for name, (pending, processed) in consumers.items():
                past = history.setdefault(name, deque())
                past.append((t, processed))
                while len(past) > 2 and past[1][0] <= t - smooth:
                    past.popleft()
                t_old, p_old = past[0]
                rate = (processed - p_old) / (t - t_old) if t > t_old else float("nan")
                rows.append((t, name, pending, processed, rate))
        return pd.DataFrame(rows, columns=["t", "consumer", "pending", "processed", "throughput"])

    def wide(self, column: str) -> pd.DataFrame:
        """``consumer_frame()`` pivoted: index ``t``, one column per consumer, values of ``column``."""
        df = self.consumer_frame()
        if df.empty:
            return pd.DataFrame()
        return df.pivot_table(index="t", columns="consumer", values=column, aggfunc="last", sort=False)

    def clear(self) -> None:
        """Forget every sample (the window starts again)."""
        self._rows.clear()
        self._consumer_rows.clear()

    @property
    def memory_rows(self) -> int:
        """Rows held now; never more than ``window / interval + 1`` per frame."""
        return len(self._rows) + len(self._consumer_rows)
