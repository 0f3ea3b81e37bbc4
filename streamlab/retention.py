"""Trimming and retention (lesson 05): cap a stream by length or by age, and size it.

A stream keeps every entry until something removes it. Three things do:

- ``XTRIM key MAXLEN n`` / ``XADD key MAXLEN n * ...`` keep the newest ``n``;
- ``XTRIM key MINID id`` / ``XADD key MINID id * ...`` drop entries older than ``id``
  (an ID starts with a millisecond time, so this is retention by age);
- ``XDEL key id ...`` deletes chosen entries (it does not shrink the stream's nodes).

With ``~`` ("about") Redis removes only whole nodes of the stream's radix tree
(``stream-node-max-entries``, 100 by default), which is cheaper, and keeps a
few more entries than asked. redis-py's ``xtrim()`` and ``xadd(maxlen=...)``
default to ``approximate=True``: the helpers here make you say which you want.

``trim_timing(r)`` times both ways of trimming on this server (lesson 05's figure,
``ui.figures.retention.trim_timing_figure``, draws it); on fakeredis it returns the
figures recorded on a real Redis, labelled (``RECORDED_TRIM_TIMING``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import redis

from . import ids
from .backend import Client
from .text import plural
from .workers import Worker

if TYPE_CHECKING:
    import pandas as pd

#: Entries per stream node when the server cannot tell us (Redis's default, and what fakeredis mimics).
DEFAULT_NODE_MAX_ENTRIES = 100

#: Bytes per entry measured with ``MEMORY USAGE key SAMPLES 0`` on Redis 7.0.15
#: (50,000 entries each): used when the backend cannot measure (fakeredis).
MEASURED_BYTES_PER_ENTRY = {
    "sensor reading {sensor_id, temp, humidity}": 45.5,
    "the article's login event {user_id, action}": 25.4,
}

SENSOR_FIELDS = {"sensor_id": "sensor1", "temp": "0.731204", "humidity": "0.412877"}


# --- age ---------------------------------------------------------------------
# An ID from a datetime and back: ids.from_datetime, ids.to_datetime.

def minid_for_age(max_age: timedelta | float, now: datetime | None = None) -> str:
    """The ``MINID`` that keeps only entries younger than ``max_age`` (a timedelta or seconds)."""
    if not isinstance(max_age, timedelta):
        max_age = timedelta(seconds=float(max_age))
    if max_age < timedelta(0):
        raise ValueError(f"max_age must not be negative, got {max_age}.")
    now = now or datetime.now(timezone.utc)
    return ids.from_datetime(now - max_age)


def trim_by_age(r: redis.Redis, key: str, max_age: timedelta | float, *, approximate: bool = False,
                limit: int | None = None, now: datetime | None = None) -> int:
    """``XTRIM key MINID [~] <now - max_age>``: drop entries older than ``max_age``; returns how many."""
    return r.xtrim(key, minid=minid_for_age(max_age, now), approximate=approximate, limit=limit)


# --- trimming, with what it did to the stream's nodes -----------------------

@dataclass
class TrimReport:
    """What one ``XTRIM`` did: entries and nodes (``XINFO STREAM`` radix-tree-keys) before and after."""

    command: str
    removed: int
    length_before: int
    length_after: int
    nodes_before: int
    nodes_after: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.command}: removed {self.removed:,} entries "
                f"({self.length_before:,} -> {self.length_after:,} entries, "
                f"{self.nodes_before:,} -> {self.nodes_after:,} nodes) in {self.seconds * 1000:.2f} ms")


def stream_nodes(r: Client, key: str) -> int:
    """How many nodes (listpacks) hold the stream: ``XINFO STREAM`` ``radix-tree-keys``; 0 if missing."""
    try:
        return int(r.xinfo_stream(key)["radix-tree-keys"])
    except redis.ResponseError:
        return 0  # no such key


def node_max_entries(r: Client) -> int:
    """``CONFIG GET stream-node-max-entries``: how many entries one node holds at most.

    fakeredis has no CONFIG and managed servers often forbid it: then Redis's default, 100.
    """
    if r.backend.is_fake:
        return DEFAULT_NODE_MAX_ENTRIES
    try:
        value = r.config_get("stream-node-max-entries").get("stream-node-max-entries")
        return int(value) if value else DEFAULT_NODE_MAX_ENTRIES
    except redis.ResponseError:
        return DEFAULT_NODE_MAX_ENTRIES


def trim(r: Client, key: str, *, maxlen: int | None = None, minid: str | None = None,
         approximate: bool = False, limit: int | None = None) -> TrimReport:
    """``XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]``, and a report of what changed.

    Exactly one of ``maxlen``/``minid``. ``approximate`` is ``False`` unless you
    ask (redis-py's own ``xtrim`` defaults to ``~``). ``LIMIT`` caps how many
    entries one call may remove and is only allowed with ``~``.
    """
    if (maxlen is None) == (minid is None):
        raise ValueError("trim() needs exactly one of maxlen=N or minid='ID'.")
    if maxlen is not None and (not isinstance(maxlen, int) or maxlen < 0):
        raise ValueError(f"maxlen must be a whole number >= 0, got {maxlen!r}.")
    if limit is not None and not approximate:
        raise ValueError("LIMIT only works with approximate trimming (~): pass approximate=True.")
    length_before, nodes_before = r.xlen(key), stream_nodes(r, key)
    started = time.perf_counter()
    removed = r.xtrim(key, maxlen=maxlen, minid=minid, approximate=approximate, limit=limit)
    seconds = time.perf_counter() - started
    how = "MAXLEN" if maxlen is not None else "MINID"
    words = ["XTRIM", key, how, "~" if approximate else "=", str(maxlen if maxlen is not None else minid)]
    if limit is not None:
        words += ["LIMIT", str(limit)]
    return TrimReport(" ".join(words), removed, length_before, r.xlen(key),
                      nodes_before, stream_nodes(r, key), seconds)


#: One EVAL that runs ``XADD`` ARGV[1] times inside the server (ARGV[2]: '' for no cap, else
#: '=' or '~' with MAXLEN ARGV[3]; ARGV[4..] the fields), so a timing measures Redis's work,
#: not the round trips.
_XADD_LOOP = """
local fields = {unpack(ARGV, 4)}
for i = 1, tonumber(ARGV[1]) do
  if ARGV[2] == '' then
    redis.call('XADD', KEYS[1], '*', unpack(fields))
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[3], '*', unpack(fields))
  end
end
return redis.call('XLEN', KEYS[1])
"""


def _server_side(r: Client) -> bool:
    # fakeredis runs Lua through lupa in Python: slower than a pipeline there. Some managed
    # servers refuse EVAL: then the pipeline too (remembered per client).
    if r.backend.is_fake:
        return False
    return not getattr(r, "_streamlab_no_eval", False)


def _eval_loop(r, key: str, count: int, cap: str, maxlen: int, fields: dict) -> bool:
    """Run ``_XADD_LOOP``; False (and remember it) if the server refuses scripts."""
    flat = [str(x) for pair in fields.items() for x in pair]
    try:
        r.eval(_XADD_LOOP, 1, key, count, cap, maxlen, *flat)
    except redis.ResponseError as exc:
        if "WRONGTYPE" in str(exc):
            raise
        r._streamlab_no_eval = True
        return False
    return True


def fill(r: redis.Redis, key: str, count: int, fields: dict | None = None, *,
         batch: int = 1000) -> int:
    """``XADD key * field value ...`` ``count`` times; returns XLEN afterwards.

    On a real server the XADDs run inside Redis (``EVAL`` of a loop, ``batch x 50``
    at a time so the server is never held for long); on fakeredis they are
    pipelined in batches.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}.")
    fields = fields or SENSOR_FIELDS
    done = 0
    if _server_side(r):
        while done < count and _eval_loop(r, key, min(batch * 50, count - done), "", 0, fields):
            done += min(batch * 50, count - done)
    pipe = r.pipeline(transaction=False)
    for i in range(count - done):
        pipe.xadd(key, fields)
        if (i + 1) % batch == 0:
            pipe.execute()
    pipe.execute()
    return r.xlen(key)


def fill_history(r: redis.Redis, key: str, start: datetime, every: timedelta, count: int,
                 fields: dict | None = None) -> list[str]:
    """``XADD key <ms>-* ...`` with explicit times: ``count`` entries from ``start``, one per ``every``.

    For demonstrating retention by age without waiting for hours. The key must
    be new or end before ``start`` (IDs must increase).
    """
    fields = fields or SENSOR_FIELDS
    first_ms = int(start.timestamp() * 1000)
    step_ms = int(every.total_seconds() * 1000)
    if step_ms <= 0:
        raise ValueError(f"every must be at least 1 ms, got {every}.")
    pipe = r.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(key, fields, id=f"{first_ms + i * step_ms}-0")
    return pipe.execute()


# --- timing exact vs ~ -------------------------------------------------------

def time_xtrim(r: redis.Redis, key: str, *, entries: int, keep: int, approximate: bool) -> TrimReport:
    """Fill a fresh ``key`` with ``entries`` entries and time one ``XTRIM MAXLEN [~] keep`` (LIMIT 0 with ~).

    ``LIMIT 0`` lifts the default cap on ~ (100 x stream-node-max-entries per call),
    so both commands have the whole job to do.
    """
    r.delete(key)
    fill(r, key, entries)
    report = trim(r, key, maxlen=keep, approximate=approximate, limit=0 if approximate else None)
    r.delete(key)
    return report


def time_capped_adds(r: redis.Redis, key: str, *, adds: int, maxlen: int, approximate: bool) -> float:
    """Seconds to run ``XADD key MAXLEN [=|~] maxlen * ...`` ``adds`` times on a fresh key.

    Once the stream is full, every exact XADD also deletes one entry from the
    oldest node; with ``~`` Redis waits until a whole node can go. On a real
    server the loop runs inside Redis (one ``EVAL``), so the time is Redis's
    work alone; on fakeredis it is a pipeline, and the time is Python's.
    """
    r.delete(key)
    started = time.perf_counter()
    if not (_server_side(r) and _eval_loop(r, key, adds, "~" if approximate else "=", maxlen,
                                           SENSOR_FIELDS)):
        pipe = r.pipeline(transaction=False)
        for i in range(adds):
            pipe.xadd(key, SENSOR_FIELDS, maxlen=maxlen, approximate=approximate)
            if (i + 1) % 500 == 0:
                pipe.execute()
        pipe.execute()
    seconds = time.perf_counter() - started
    r.delete(key)
    return seconds


# --- memory ------------------------------------------------------------------

#: ``trim_timing`` on a real server (Redis 7.0.15, jemalloc, on the course's 2-core test machine
#: under load, 2026-11-30), each the fastest of 5 runs: 100,000 entries trimmed to 1,000 by one
#: XTRIM, and 20,000 XADDs capped at MAXLEN 1000 on a full stream, looped inside Redis (one EVAL).
RECORDED_TRIM_TIMING = {
    "server": "Redis 7.0.15",
    "entries": 100_000,
    "adds": 20_000,
    "rows": {"exact": {"xtrim_ms": 0.52, "removed": 99_000, "capped_s": 0.284},
             "~": {"xtrim_ms": 0.53, "removed": 99_000, "capped_s": 0.082}},
}
#: Live, the capped XADDs run this many times and the fastest counts: on a shared machine one
#: run can be slowed several times by someone else's work, and the fastest is the server's own cost.
CAPPED_RUNS = 3


@dataclass
class TrimTiming:
    """Exact vs ``~``: one XTRIM of ``entries`` and ``adds`` capped XADDs, and where they come from."""

    table: pd.DataFrame  # index "exact"/"~"; columns xtrim_ms, removed, capped_s
    entries: int
    adds: int
    source: str          # "measured on Redis 7.4.1" or "recorded on Redis 7.0.15 ..."
    measured_here: bool

    @property
    def speedup(self) -> float:
        """How many times faster the ``~`` capped XADDs ran than the exact ones."""
        return self.table.loc["exact", "capped_s"] / self.table.loc["~", "capped_s"]

    def verdict(self) -> str:
        """One line: which cap was faster in every XADD, by how much, and where it was measured."""
        s = self.speedup
        which = (f"`~` was {s:.1f}× faster than exact" if s >= 1
                 else f"`~` was {1 / s:.1f}× slower than exact")
        return f"{self.adds:,} capped XADDs: {which} ({self.source})"

    def _repr_html_(self) -> str:
        return self.pretty().to_html() + f"<p><i>{self.source}</i></p>"

    def __repr__(self) -> str:
        return f"{self.pretty().to_string()}\n{self.source}"

    def pretty(self) -> pd.DataFrame:
        """The table with the column names a reader wants."""
        table = self.table.assign(removed=[f"{n:,}" for n in self.table["removed"]])  # 99,000
        return table.rename(columns={
            "xtrim_ms": f"one XTRIM of {self.entries:,} entries (ms)",
            "removed": "entries removed",
            "capped_s": f"{self.adds:,} capped XADDs (s)"}).rename_axis("trim")


def trim_timing(r: Client, key: str = "lesson05:timing", entries: int = 100_000,
                adds: int = 20_000) -> TrimTiming:
    """Time ``XTRIM MAXLEN [~] 1000`` on ``entries`` and ``adds`` capped ``XADD``s, exact and ``~``.

    On fakeredis nothing is timed: the recorded real-server figures come back, labelled.
    On a real server the capped XADDs count the fastest of ``CAPPED_RUNS`` runs.
    """
    import pandas as pd

    if r.backend.is_fake:
        rec = RECORDED_TRIM_TIMING
        table = pd.DataFrame(rec["rows"]).T[["xtrim_ms", "removed", "capped_s"]]
        table["removed"] = table["removed"].astype(int)
        return TrimTiming(table, rec["entries"], rec["adds"],
                          f"recorded on {rec['server']}: fakeredis would time Python, not Redis",
                          measured_here=False)
    rows = {}
    for approximate in (False, True):
        report = time_xtrim(r, key, entries=entries, keep=1000, approximate=approximate)
        capped = min(time_capped_adds(r, key, adds=adds, maxlen=1000,
                                      approximate=approximate)
                     for _ in range(CAPPED_RUNS))
        rows["~" if approximate else "exact"] = {"xtrim_ms": round(report.seconds * 1000, 2),
                                                 "removed": report.removed,
                                                 "capped_s": round(capped, 4)}
    return TrimTiming(pd.DataFrame(rows).T[["xtrim_ms", "removed", "capped_s"]].astype(
        {"removed": int}), entries, adds, f"measured now on {r.backend.server}", measured_here=True)


def memory_usage(r: Client, key: str) -> int | None:
    """``MEMORY USAGE key SAMPLES 0`` (every node counted) in bytes; None where the backend has no
    MEMORY command (fakeredis) or the key does not exist."""
    if not r.supports("memory-usage"):
        return None
    try:
        return r.memory_usage(key, samples=0)
    except redis.ResponseError:
        return None


def sample_memory(r: Client, key: str, lengths: list[int], fields: dict | None = None):
    """Grow a fresh ``key`` to each of ``lengths`` and record XLEN, nodes and ``MEMORY USAGE``.

    Returns a pandas DataFrame with columns ``length``, ``nodes``, ``bytes``
    (``None`` where the backend cannot measure) and ``bytes_per_entry``.
    """
    import pandas as pd

    if list(lengths) != sorted(lengths) or (lengths and lengths[0] < 0):
        raise ValueError(f"lengths must be increasing and >= 0, got {lengths}.")
    r.delete(key)
    rows = []
    have = 0
    for target in lengths:
        fill(r, key, target - have, fields)
        have = target
        used = memory_usage(r, key) if target else None
        rows.append({"length": target, "nodes": stream_nodes(r, key), "bytes": used,
                     "bytes_per_entry": (used / target) if used and target else None})
    r.delete(key)
    return pd.DataFrame(rows)


def bytes_per_entry(r: Client, key: str, fields: dict | None = None,
                    sample: int = 5000) -> tuple[float, str]:
    """Bytes one entry of this shape costs, and where the number comes from.

    On a server with ``MEMORY USAGE``: measured live on ``sample`` entries in a
    scratch ``key`` (deleted afterwards). Elsewhere: ``estimate_entry_bytes``.
    """
    fields = fields or SENSOR_FIELDS
    if not r.supports("memory-usage"):
        return estimate_entry_bytes(fields), "estimate: no MEMORY USAGE here"
    r.delete(key)
    try:
        fill(r, key, sample, fields)
        used = memory_usage(r, key)
    finally:
        r.delete(key)
    version = ".".join(map(str, r.backend.version)) or "?"
    return used / sample, f"measured with MEMORY USAGE on {sample} entries (server {version})"


def estimate_entry_bytes(fields: dict) -> float:
    """A rough size of one entry (±30%) when nothing can be measured.

    Entries with the same field names as the first of their node store only
    the values, each with a byte or two of header, plus about 16 bytes for the
    ID delta and flags. Checked against Redis 7.0.15: sensor readings 45.5 B
    (estimate 42), the article's login events 25.4 B (estimate 27).
    """
    return 16 + sum(len(str(v)) + 1 for v in fields.values())


# --- the retention calculator ------------------------------------------------

@dataclass
class RetentionPlan:
    """How big a stream gets when entries arrive at ``rate`` per second and are kept for ``retention``."""

    rate: float
    retention: timedelta
    entries: int
    bytes_per_entry: float
    source: str

    @property
    def total_bytes(self) -> float:
        return self.entries * self.bytes_per_entry

    def as_table(self):
        """The plan as a two-column pandas DataFrame, for a notebook."""
        import pandas as pd

        rows = [
            ("rate", f"{self.rate:g} entries/s"),
            ("retention", human_duration(self.retention)),
            ("entries kept (MAXLEN)", f"{self.entries:,}"),
            ("bytes per entry", f"{self.bytes_per_entry:,.0f} B ({self.source})"),
            ("approximate memory", human_bytes(self.total_bytes)),
            ("XADD to use", f"XADD key MAXLEN ~ {self.entries} * <field> <value> ..."),  # as typed: no commas
        ]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")

    def __str__(self) -> str:
        return (f"{self.rate:g}/s kept for {human_duration(self.retention)} -> {self.entries:,} entries "
                f"x {self.bytes_per_entry:,.0f} B = {human_bytes(self.total_bytes)} ({self.source})")


def human_duration(span: timedelta) -> str:
    """``timedelta(days=1)`` as "1 day", 90 minutes as "1 hour 30 minutes": the largest two units."""
    seconds = round(span.total_seconds())
    parts = []
    for name, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(plural(count, name))
    return " ".join(parts[:2]) or "0 seconds"


def retention_entries(rate: float, retention: timedelta | float) -> int:
    """Entries a stream holds at steady state: rate (per second) x retention, rounded up."""
    seconds = retention.total_seconds() if isinstance(retention, timedelta) else float(retention)
    if rate < 0 or seconds < 0:
        raise ValueError(f"rate and retention must not be negative (got {rate}, {seconds} s).")
    return math.ceil(rate * seconds)


def plan_retention(rate: float, retention: timedelta | float, *, r: Client | None = None,
                   fields: dict | None = None, key: str = "streamlab:retention:probe") -> RetentionPlan:
    """Entries and approximate memory for ``rate`` x ``retention``.

    With a client on a server that has ``MEMORY USAGE``, bytes per entry are
    measured live on entries shaped like ``fields`` (in a scratch ``key``);
    otherwise they are estimated (``estimate_entry_bytes``).
    """
    if not isinstance(retention, timedelta):
        retention = timedelta(seconds=float(retention))
    fields = fields or SENSOR_FIELDS
    entries = retention_entries(rate, retention)
    if r is None:
        per_entry, source = estimate_entry_bytes(fields), "estimate"
    else:
        per_entry, source = bytes_per_entry(r, key, fields)
    return RetentionPlan(rate, retention, entries, per_entry, source)


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


# --- a scheduled trim job ----------------------------------------------------

class TrimJob(Worker):
    """``XTRIM key MAXLEN ~ n`` (or ``MINID`` for ``max_age``) every ``interval`` seconds.

    The alternative to capping in every ``XADD``: writes stay cheap, and the
    stream overshoots its cap between runs. ``runs`` and ``removed`` count the work.
    """

    def __init__(self, r: redis.Redis, key: str, *, maxlen: int | None = None,
                 max_age: timedelta | float | None = None, interval: float = 1.0,
                 approximate: bool = True, name: str | None = None):
        if (maxlen is None) == (max_age is None):
            raise ValueError("TrimJob needs exactly one of maxlen=N or max_age=seconds.")
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval}.")
        super().__init__(name or f"trim-{key}")
        self.r, self.key, self.maxlen, self.max_age = r, key, maxlen, max_age
        self.interval, self.approximate = interval, approximate
        self.runs = 0
        self.removed = 0

    def step(self) -> None:
        if self.sleep(self.interval):
            return
        if self.maxlen is not None:
            n = self.r.xtrim(self.key, maxlen=self.maxlen, approximate=self.approximate)
        else:
            n = trim_by_age(self.r, self.key, self.max_age, approximate=self.approximate)
        self.runs += 1
        self.removed += n


def compare_inline_and_scheduled(r: Client, inline_key: str, scheduled_key: str, *,
                                 cap: int = 1000, rate: int = 2000, seconds: float = 3.0,
                                 interval: float = 1.0, tick: float = 0.05):
    """Write the same entries to two streams for ``seconds``: one capped in every
    ``XADD ... MAXLEN ~ cap``, one uncapped and trimmed by a ``TrimJob`` every
    ``interval`` s. Returns a DataFrame of ``t``, ``inline`` and ``scheduled`` XLEN.
    """
    import pandas as pd

    r.delete(inline_key, scheduled_key)
    per_tick = max(1, round(rate * tick))
    job = TrimJob(r.new_client(), scheduled_key,
                  maxlen=cap, interval=interval, name=f"trim-compare-{scheduled_key}")
    rows = []
    job.start()
    try:
        started = time.monotonic()
        while (now := time.monotonic() - started) < seconds:
            pipe = r.pipeline(transaction=False)
            for _ in range(per_tick):
                pipe.xadd(inline_key, SENSOR_FIELDS, maxlen=cap, approximate=True)
                pipe.xadd(scheduled_key, SENSOR_FIELDS)
            pipe.xlen(inline_key)
            pipe.xlen(scheduled_key)
            *_, inline_len, scheduled_len = pipe.execute()
            rows.append({"t": round(now, 3), "inline": inline_len, "scheduled": scheduled_len})
            time.sleep(max(0.0, tick - (time.monotonic() - started - now)))
    finally:
        job.stop()
    return pd.DataFrame(rows)
