"""Checkers for lesson 05, trimming and retention (notebooks/05-trimming-and-retention.ipynb).

Solutions: notebooks/solutions/05-trimming-and-retention.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .. import ids as stream_ids
from . import ExerciseSet, NotAttempted, Wrong

exercises = ExerciseSet(lesson=5, solutions="05-trimming-and-retention.py")

#: Exercise 1's stream starts with this many entries (the exercise cell fills it).
EX1_START = 1234
EX1_KEEP = 500

#: Exercise 2: one reading a minute from 09:00 to 11:59 UTC, "now" is 12:00.
EX2_NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
EX2_START = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
EX2_READINGS = 180
EX2_KEEP = timedelta(minutes=45)

#: Exercise 3: 200 sensors, one reading every 5 s each, kept for 7 days, 45.5 bytes per entry.
EX3_ENTRIES = 200 * 7 * 24 * 3600 // 5
EX3_BYTES_PER_ENTRY = 45.5


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@exercises.add(1, "Keep exactly the newest 500", hints=[
    "`XTRIM key MAXLEN 500` keeps the newest 500 entries and returns how many it removed.",
    "redis-py's `r.xtrim(key, maxlen=500)` means `MAXLEN ~ 500` unless you pass "
    "`approximate=False`.",
])
def ex1(ex, removed):
    """The cell fills lesson05:ex1 with 1,234 entries; trim it to exactly 500 and keep XTRIM's reply."""
    stream = ex.key("ex1")
    newest = ex.r.xrevrange(stream, count=1)
    if not newest:
        raise NotAttempted(f"{stream} does not exist yet: run the whole exercise cell, "
                           "it fills the stream first.")
    if "n" not in newest[0][1]:
        raise Wrong(f"{stream} does not hold the entries the exercise cell adds: run the whole "
                    "cell again, from `r.delete(...)` on.")
    added = int(newest[0][1]["n"]) + 1  # the setup numbers its entries 0, 1, 2, ...
    length = ex.r.xlen(stream)
    if length == added:
        raise Wrong(f"{stream} still has all {length} entries: nothing was trimmed.")
    if length > EX1_KEEP:
        raise Wrong(f"{stream} has {length} entries, not {EX1_KEEP}: that is what `~` does "
                    "(it only drops whole 100-entry nodes). redis-py's xtrim() is approximate "
                    "by default: pass approximate=False.")
    if length < EX1_KEEP:
        raise Wrong(f"{stream} has only {length} entries: the newest {EX1_KEEP} should stay.")
    oldest = int(ex.r.xrange(stream, count=1)[0][1]["n"])
    if oldest != added - EX1_KEEP:
        raise Wrong(f"the oldest entry left is number {oldest}, but keeping the newest {EX1_KEEP} "
                    f"of {added} starts at {added - EX1_KEEP}: trim from the old end (XTRIM does), "
                    "do not delete entries yourself.")
    deleted_mark = _text(ex.r.xinfo_stream(stream).get("max-deleted-entry-id") or "0-0")
    if deleted_mark != "0-0":
        raise Wrong(f"{stream} has the right {EX1_KEEP} entries, but they were removed with XDEL "
                    f"(XINFO STREAM shows max-deleted-entry-id {deleted_mark}; XTRIM leaves it at "
                    "0-0). XDEL only marks entries deleted inside their nodes, frees no memory "
                    "until a whole node is empty, and takes one ID per entry. Use one "
                    f"`XTRIM {stream} MAXLEN {EX1_KEEP}` (exact: approximate=False).")
    if not isinstance(removed, int) or isinstance(removed, bool):
        raise Wrong(f"`removed` should be the number XTRIM returned, not {type(removed).__name__}.")
    if removed != added - EX1_KEEP:
        raise Wrong(f"`removed` is {removed}, but trimming {added} entries to {EX1_KEEP} "
                    f"removes {added - EX1_KEEP}: keep the reply of the XTRIM that did the trim.")
    return f"{stream} holds the newest {EX1_KEEP} entries; XTRIM removed {removed}."


@exercises.add(2, "Keep the last 45 minutes", hints=[
    "A stream ID starts with milliseconds since 1970 (UTC). `MINID id` removes every entry "
    "with a smaller ID.",
    "Subtract 45 minutes from `now` with `timedelta(minutes=45)`, then "
    "`int(that.timestamp() * 1000)` gives milliseconds; the ID is f'{ms}-0'.",
    "Trim with `r.xtrim('lesson05:ex2', minid=minid, approximate=False)`.",
])
def ex2(ex, minid):
    """lesson05:ex2 holds a reading a minute, 09:00-11:59 UTC; keep those from 11:15 on with MINID."""
    stream = ex.key("ex2")
    if not ex.r.exists(stream):
        raise NotAttempted(f"{stream} does not exist yet: run the whole exercise cell.")
    text = minid.decode() if isinstance(minid, bytes) else str(minid)
    try:
        ms = stream_ids.ms(text)
    except ValueError:
        raise Wrong(f"{text!r} is not a stream ID: it should look like '1717239300000-0'.") from None
    want = int((EX2_NOW - EX2_KEEP).timestamp() * 1000)
    if ms != want:
        got_time = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        why = ""
        if abs(ms * 1000 - want) < 1_000_000:
            why = " It looks like seconds, not milliseconds: multiply the timestamp by 1000."
        elif abs(ms - want) % 3_600_000 == 0 and abs(ms - want) <= 14 * 3_600_000:
            why = (" That is a whole number of hours off: a naive datetime is taken as local "
                   "time; use one with tzinfo=timezone.utc.")
        raise Wrong(f"`minid` {text!r} is {got_time:%H:%M:%S} UTC on {got_time:%Y-%m-%d}, "
                    f"but 45 minutes before `now` is 11:15:00 UTC on 2024-06-01.{why}")
    length = ex.r.xlen(stream)
    if length == EX2_READINGS:
        raise Wrong(f"`minid` is right, but {stream} still has all {length} readings: "
                    "run XTRIM with it.")
    if length != 45:
        raise Wrong(f"{stream} has {length} readings; keeping 11:15 to 11:59 leaves 45. "
                    "Use exact trimming (approximate=False).")
    first = stream_ids.to_datetime(ex.r.xrange(stream, count=1)[0][0])
    return f"{stream} keeps the 45 readings from {first:%H:%M} UTC on."


@exercises.add(3, "Size a stream before you build it", hints=[
    "Entries kept = entries per second x seconds kept. 200 sensors, each every 5 s, "
    "is 200 / 5 = 40 entries per second.",
    "7 days is 7 * 24 * 3600 seconds. Memory is entries x bytes per entry; "
    "1 MiB is 1024 * 1024 bytes.",
])
def ex3(ex, maxlen, mib):
    """200 sensors, one reading every 5 s each, kept 7 days, 45.5 bytes each: MAXLEN and MiB."""
    try:
        maxlen_n, mib_n = float(maxlen), float(mib)
    except (TypeError, ValueError):
        raise Wrong("`maxlen` and `mib` should both be numbers.") from None
    if maxlen_n != EX3_ENTRIES:
        hint = ""
        if maxlen_n == EX3_ENTRIES * 5:
            hint = " Each sensor sends every 5 seconds, not every second."
        elif maxlen_n == EX3_ENTRIES / 200:
            hint = " That is one sensor; there are 200."
        elif maxlen_n == EX3_ENTRIES / 7:
            hint = " That is one day; the stream keeps 7."
        raise Wrong(f"`maxlen` is {maxlen_n:,.0f}; 40 entries per second for 7 days is a "
                    f"different number.{hint}")
    want_mib = EX3_ENTRIES * EX3_BYTES_PER_ENTRY / 1024 ** 2
    if abs(mib_n - want_mib) > 0.02 * want_mib:
        hint = " That is in megabytes of 1,000,000 bytes; use 1024 * 1024." if \
            abs(mib_n - want_mib * 1.048576) < 0.02 * want_mib else ""
        raise Wrong(f"`mib` is {mib_n:,.1f}; {maxlen_n:,.0f} entries x {EX3_BYTES_PER_ENTRY} bytes "
                    f"is about {want_mib:,.0f} MiB.{hint}")
    return (f"MAXLEN ~ {EX3_ENTRIES:,} and about {want_mib:,.0f} MiB: worth knowing before the "
            "server runs out of memory.")


@exercises.add(4, "Clear pending entries that were trimmed away", hints=[
    "XPENDING still lists the IDs, but XCLAIM cannot hand over entries that no longer exist.",
    "`XAUTOCLAIM key group consumer 0 0-0` returns three things: the next cursor, the entries "
    "it claimed, and the IDs it found deleted (and removed from the PEL).",
    "In redis-py, `r.xautoclaim(name, groupname, consumername, min_idle_time)` returns those three "
    "parts as one list. Which part is your answer? (Any consumer name will do; a minimum idle "
    "time of 0 lets it look at every pending entry.)",
])
def ex4(ex, deleted):
    """lesson05:ex4's group has 5 pending entries, 3 of them trimmed: remove those from the PEL."""
    stream = ex.key("ex4")
    try:
        pending = ex.r.xpending_range(stream, "workers", "-", "+", 100)
    except Exception:  # noqa: BLE001 - no stream or no group: the setup has not run
        raise NotAttempted(f"{stream} or its group 'workers' does not exist: run the whole "
                           "exercise cell.") from None
    existing = {e[0] for e in ex.r.xrange(stream)}
    gone = [p["message_id"] for p in pending if p["message_id"] not in existing]
    if gone:
        raise Wrong(f"the PEL still lists {len(gone)} entries that no longer exist "
                    f"({', '.join(gone)}): XAUTOCLAIM removes them and returns their IDs.")
    if not pending:
        raise Wrong("the PEL is empty: the two entries that still exist should stay pending "
                    "until a consumer processes and acknowledges them.")
    if isinstance(deleted, (str, bytes)) or not hasattr(deleted, "__iter__"):
        raise Wrong("`deleted` should be the list of IDs XAUTOCLAIM reported as deleted.")
    deleted = list(deleted)
    if len(deleted) == 3 and isinstance(deleted[1], (list, tuple)):
        raise Wrong("`deleted` is XAUTOCLAIM's whole reply: [next cursor, claimed entries, "
                    "deleted IDs]. Your answer is its third element: `reply[2]` (or unpack it: "
                    "`cursor, claimed, deleted = r.xautoclaim(...)`).")
    if any(not isinstance(d, (str, bytes)) or stream_ids.try_parse(d, full=True) is None for d in deleted):
        raise Wrong(f"`deleted` is {deleted!r:.200}; it should hold only entry IDs (strings "
                    "like '1717239300000-0'): the third element of XAUTOCLAIM's reply.")
    deleted = [_text(d) for d in deleted]
    first = min(existing, key=stream_ids.parse) if existing else None
    if len(deleted) != 3 or len(set(deleted)) != 3 or any(d in existing for d in deleted) \
            or (first and any(stream_ids.parse(d) >= stream_ids.parse(first) for d in deleted)):
        raise Wrong(f"`deleted` is {deleted}; it should be the 3 IDs of trimmed entries, the "
                    "third element of XAUTOCLAIM's reply.")
    return (f"the 3 trimmed IDs are out of the PEL; {len(pending)} real entries are still pending "
            "and can be claimed as usual.")
