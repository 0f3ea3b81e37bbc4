"""Checkers for lesson 02, reading and blocking (notebooks/02-reading-and-blocking.ipynb).

Solutions: notebooks/solutions/02-reading-and-blocking.py.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from .. import ids as stream_ids
from . import ExerciseSet, Wrong

exercises = ExerciseSet(lesson=2, solutions="02-reading-and-blocking.py")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ids(entries, what: str) -> list[str]:
    """The IDs of a list of (id, fields) entries, or Wrong saying what the shape should be."""
    if not isinstance(entries, (list, tuple)):
        raise Wrong(f"{what} should be a list of (id, fields) entries, not {type(entries).__name__}.")
    ids = []
    for entry in entries:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise Wrong(f"{what} should hold (id, fields) pairs as XRANGE returns them; "
                        f"found {entry!r:.80}.")
        if isinstance(entry[1], list):
            raise Wrong(f"{what} looks like XREAD's raw reply ([[stream, entries]]): "
                        "return only the entries, the list inside it.")
        ids.append(_text(entry[0]))
    return ids


# --- exercise 1 -------------------------------------------------------------

EX1_BASE_MS = 1_700_000_000_000


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


class _RangeSpy:
    """The learner's client, looking at the range ends a window function sends to XRANGE.

    It stops the mistakes whose server reply would mislead: a datetime (redis-py
    refuses it as if it were a field value), seconds where IDs count milliseconds
    (the range is 1000 times too early and simply comes back empty) and a
    fractional number (the server's "Invalid stream ID").
    """

    def __init__(self, r):
        self._r = r

    def _check(self, end) -> None:
        if hasattr(end, "timestamp"):
            raise Wrong(f"XRANGE was given the datetime {end!s} as a range end. Redis knows "
                        "nothing of datetimes: a range end is an ID or a number of "
                        "milliseconds since 1970, `round(moment.timestamp() * 1000)`.")
        number = None
        if isinstance(end, (int, float)):
            number = end
        elif isinstance(end, (str, bytes)):
            text = _text(end).lstrip("(")
            if " " in text or ":" in text:
                raise Wrong(f"XRANGE was given {text!r} as a range end: that is a date written "
                            "as text. A range end is an ID or a number of milliseconds since "
                            "1970, `round(moment.timestamp() * 1000)`.")
            try:
                number = float(text)
            except ValueError:
                number = None
        if number is None:
            return
        if number != int(number):
            raise Wrong(f"XRANGE was given {end!r} as a range end; an ID's milliseconds are a "
                        "whole number. `moment.timestamp()` is a float: round(... * 1000).")
        if 0 < number < 100_000_000_000:  # before 1973 in ms, or any date since 1970 in seconds
            raise Wrong(f"XRANGE was given {end!r} as a range end. That looks like seconds since "
                        "1970 (`timestamp()` counts seconds), but IDs count milliseconds: "
                        "multiply by 1000, `round(moment.timestamp() * 1000)`.")

    def xrange(self, name, min="-", max="+", count=None):  # noqa: A002 - redis-py's names
        self._check(min)
        self._check(max)
        return self._r.xrange(name, min=min, max=max, count=count)

    def xrevrange(self, name, max="+", min="-", count=None):  # noqa: A002 - redis-py's names
        self._check(min)
        self._check(max)
        return self._r.xrevrange(name, max=max, min=min, count=count)

    def __getattr__(self, name):
        return getattr(self._r, name)


@exercises.add(1, "A time window", hints=[
    "XRANGE takes a bare millisecond number as a range end, so a window is a range of "
    "milliseconds: `round(moment.timestamp() * 1000)` turns a datetime into one.",
    "As a start, `ms` means `ms-0`; as an end it means the last entry of that millisecond. "
    "To leave `end` out, end the range at `end_ms - 1`.",
])
def ex1(ex, window):
    """A function: the entries added from ``start`` (included) to ``end`` (excluded), by XRANGE."""
    stream = ex.key("ex1")
    ex.r.delete(stream)
    pipe = ex.r.pipeline(transaction=False)
    for k in range(20):
        pipe.xadd(stream, {"k": k}, id=f"{EX1_BASE_MS + k * 1000}-0")
        if k == 10:  # a second entry in the same millisecond: a window edge must keep both together
            pipe.xadd(stream, {"k": "10b"}, id=f"{EX1_BASE_MS + k * 1000}-1")
    pipe.execute()
    everything = [_text(e[0]) for e in ex.r.xrange(stream)]

    for start_s, end_s in ((5, 10), (10, 12.5)):
        start_ms, end_ms = EX1_BASE_MS + int(start_s * 1000), EX1_BASE_MS + int(end_s * 1000)
        start, end = _at(start_ms), _at(end_ms)
        call = (f"`window(r, '{stream}', start, end)` from {_clock(start)} to {_clock(end)} UTC")
        got = _ids(ex.call(window, _RangeSpy(ex.r), stream, start, end), call)
        expected = [i for i in everything if start_ms <= stream_ids.ms(i) < end_ms]
        if got == expected:
            continue
        if got == expected[::-1]:
            raise Wrong(f"{call} returned the right entries, newest first; the exercise asks "
                        "for XRANGE's order, oldest first.")
        at_end = [i for i in got if stream_ids.ms(i) == end_ms]
        if at_end and [i for i in got if i not in at_end] == expected:
            raise Wrong(f"{call} also returned {', '.join(at_end)}, added exactly at `end`; the "
                        "window leaves `end` out. A bare millisecond as the range end takes in "
                        "every entry of that millisecond: end the range at end_ms - 1.")
        missing = [i for i in expected if i not in got]
        if missing and stream_ids.ms(missing[0]) == start_ms and got == expected[len(missing):]:
            raise Wrong(f"{call} leaves out {', '.join(missing)}, added exactly at `start`; "
                        "the window includes its start.")
        raise Wrong(f"{call} returned {len(got)} entries; the window holds {len(expected)} "
                    f"({expected[0]} to {expected[-1]}). {stream} has one entry a second, "
                    f"two at {EX1_BASE_MS + 10_000}.")
    return (f"both windows are right, including the two entries that share millisecond "
            f"{EX1_BASE_MS + 10_000}.")


# --- exercise 2 -------------------------------------------------------------

class _SpyClient:
    """The learner's client, recording XRANGE calls and stopping a loop that never ends."""

    MAX_CALLS = 100

    def __init__(self, r):
        self._r = r
        self.counts: list[int | None] = []

    def xrange(self, name, min="-", max="+", count=None):  # noqa: A002 - redis-py's names
        self.counts.append(count)
        if len(self.counts) > self.MAX_CALLS:
            raise Wrong(f"more than {self.MAX_CALLS} XRANGE calls for 250 entries: the loop does "
                        "not end. Does each page start after the last ID of the page before, "
                        "and does the loop stop on a short (or empty) page?")
        return self._r.xrange(name, min=min, max=max, count=count)

    def __getattr__(self, name):
        return getattr(self._r, name)


@exercises.add(2, "Page through a stream", hints=[
    "Read a page with `r.xrange(stream, min=start, max='+', count=page_size)`; the first "
    "page starts at '-'.",
    "The next page starts just after the last ID you got: `'(' + last_id` (an exclusive "
    "range). Stop when a page comes back shorter than page_size.",
])
def ex2(ex, read_in_pages):
    """A function: every entry of a stream, read page_size at a time with exclusive XRANGE starts."""
    stream = ex.key("ex2")
    ex.r.delete(stream)
    pipe = ex.r.pipeline(transaction=False)
    for n in range(250):
        pipe.xadd(stream, {"n": n})
    pipe.execute()
    everything = [_text(e[0]) for e in ex.r.xrange(stream)]
    spy = _SpyClient(ex.r)
    got = _ids(ex.call(read_in_pages, spy, stream, 100), f"read_in_pages(r, {stream!r}, 100)")
    call = f"`read_in_pages(r, '{stream}', 100)`"
    if got != everything:
        seen = set()
        for i in got:
            if i in seen:
                raise Wrong(f"{call} returned entry {i} twice: a page that starts at the last "
                            "ID of the page before reads it again. Start at '(' + last_id.")
            seen.add(i)
        missing = len(set(everything) - seen)
        if missing:
            raise Wrong(f"{call} returned {len(got)} of the 250 entries ({missing} missing).")
        raise Wrong(f"{call} returned every entry, but not in the stream's order.")
    too_big = [c for c in spy.counts if c is None or c > 100]
    if too_big:
        raise Wrong(f"{call} got every entry, but one XRANGE call read "
                    f"{'the whole stream' if too_big[0] is None else too_big[0]} at once; "
                    "read at most page_size entries per call (count=page_size).")
    empty = ex.call(read_in_pages, _SpyClient(ex.r), ex.key("ex2:empty"), 10)
    if _ids(empty, "read_in_pages on a missing key"):
        raise Wrong(f"on a key that does not exist it should return [], not {empty!r:.80}.")
    pages = f" in {len(spy.counts)} XRANGE calls" if spy.counts else ""
    return f"all 250 entries, in order, none twice{pages}."


# --- exercise 3 -------------------------------------------------------------

class _XreadSpy:
    """The learner's client, counting XREAD calls."""

    def __init__(self, r):
        self._r = r
        self.calls = 0

    def xread(self, *args, **kwargs):
        self.calls += 1
        return self._r.xread(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._r, name)


@exercises.add(3, "Several streams, one XREAD", hints=[
    "`r.xread(positions)` takes the whole dict {stream: last_id} and reads every stream in "
    "one call. Its reply lists only the streams that had something new.",
    "Copy the dict, then for each `[stream, entries]` in the reply set "
    "`new_positions[stream] = entries[-1][0]`; a stream with nothing new keeps its ID.",
])
def ex3(ex, read_new):
    """A function: one XREAD over several streams from stored IDs; (entries, new positions)."""
    a, b, c = ex.key("ex3:a"), ex.key("ex3:b"), ex.key("ex3:c")
    ex.r.delete(a, b, c)
    # IDs whose text sorts differently from their order ("9-0" > "10-0" as strings;
    # "5-9" > "5-10"): the last ID read is the reply's last, not max() of the strings.
    a_ids = [ex.r.xadd(a, {"n": n}, id=f"{ms}-0") for n, ms in enumerate((8, 9, 10))]
    c_ids = [ex.r.xadd(c, {"n": n}, id=f"5-{seq}") for n, seq in enumerate((8, 9, 10))]
    positions = {a: "0", b: "0", c: c_ids[0]}
    given = dict(positions)
    spy = _XreadSpy(ex.r)
    reply = ex.call(read_new, spy, positions)
    call = "`read_new(r, positions)`"
    if not isinstance(reply, (list, tuple)) or len(reply) != 2 or not isinstance(reply[1], dict):
        raise Wrong(f"{call} should return a pair (entries, new_positions), with "
                    f"new_positions a dict; it returned {reply!r:.80}.")
    entries, new_positions = reply
    if positions != given:
        raise Wrong(f"{call} changed the dict it was given; return a new one (copy it first), "
                    "so the caller decides when to store it.")
    if spy.calls > 1:
        raise Wrong(f"{call} made {spy.calls} XREAD calls; one XREAD can read all three streams.")
    got = _ids(entries, "the entries")
    expected = a_ids + c_ids[1:]
    if sorted(got) != sorted(expected):
        if c_ids[0] in got:
            raise Wrong(f"the entries include {c_ids[0]} of {c}, the very ID stored for it: "
                        "XREAD returns only entries after the stored ID.")
        raise Wrong(f"there are {len(a_ids)} new entries in {a} and {len(c_ids) - 1} in {c} "
                    f"({b} is empty); {call} returned {len(got)} entries.")
    want = {a: a_ids[-1], b: "0", c: c_ids[-1]}
    shown = {k: (_text(v) if v is not None else None) for k, v in new_positions.items()}
    for stream, last in want.items():
        if shown.get(stream) != last:
            why = (" A stream with nothing new keeps the ID it had, or the next read would "
                   "start somewhere else." if stream == b else "")
            read = {a: a_ids, c: c_ids[1:]}.get(stream, [])
            if read and shown.get(stream) == max(read):
                why = (f" {shown.get(stream)!r} is the largest as text, but IDs are not text: "
                       f"as strings '9-0' > '10-0' and '5-9' > '5-10'. XREAD returns entries "
                       "in ID order, so the last one read is the last in the reply; to compare "
                       "two IDs, compare (milliseconds, sequence) as a pair of ints.")
            raise Wrong(f"new_positions[{stream!r}] is {shown.get(stream)!r}; it should be "
                        f"{last}, the last ID read from it.{why}")
    entries, again = ex.call(read_new, ex.r, dict(new_positions))
    if _ids(entries, "the entries") or {k: _text(v) for k, v in again.items()} != want:
        raise Wrong(f"called again with the new positions, {call} should find nothing new and "
                    "return the positions unchanged.")
    return (f"one XREAD, {len(expected)} new entries, and each stream's position moved to the "
            "last ID read (10-0 comes after 9-0, though not as text).")


# --- exercise 4 -------------------------------------------------------------

def _call_with_deadline(ex, fn, args, wait: float, wake):
    """Run the learner's blocking call on a thread; after ``wait`` s, ``wake()`` it and say so.

    Returns (result, seconds it took, whether it had to be woken).
    """
    box: dict = {}

    def target():
        started = time.monotonic()
        try:
            box["result"] = ex.call(fn, *args)
        except Exception as exc:  # noqa: BLE001 - re-raised on the checker's thread
            box["error"] = exc
        box["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=target, name="streamlab-exercise-call", daemon=True)
    thread.start()
    thread.join(wait)
    woken = thread.is_alive()
    if woken:
        wake()
        thread.join(5)
    if "error" in box:
        raise box["error"]
    return box.get("result"), box.get("elapsed", wait), woken


@exercises.add(4, "Wait for the next entry", hints=[
    "`r.xread({stream: '$'}, block=timeout_ms)` waits up to timeout_ms for an entry added "
    "after the call, and returns `[]` if none comes. Pass the timeout through: `block=0` "
    "(BLOCK 0) waits forever.",
    "From the reply `[[stream, [(id, fields)]]]` return `reply[0][1][0]`; on `[]` return None.",
])
def ex4(ex, wait_for_next):
    """A function: the first entry added after the call (XREAD BLOCK from $), or None on timeout."""
    stream = ex.key("ex4")
    ex.r.delete(stream)
    old = [ex.r.xadd(stream, {"n": n}) for n in range(3)]
    reader = ex.r.new_client()
    try:
        # An entry every 0.3 s while the learner's call runs, so it finds one added after
        # it started, however late its XREAD reaches the server on a busy machine.
        added: list[str] = []
        returned = threading.Event()

        def add_while_waiting():
            for n in range(8):
                if returned.wait(0.3):
                    return
                added.append(ex.r.xadd(stream, {"n": f"new{n}"}))

        producer = threading.Thread(target=add_while_waiting, name="streamlab-exercise-xadd",
                                    daemon=True)
        producer.start()
        try:
            got, elapsed, woken = _call_with_deadline(
                ex, wait_for_next, (reader, stream, 3000), 5.0,
                lambda: ex.r.xadd(stream, {"n": "wake"}))
        finally:
            returned.set()
            producer.join()
        call = f"`wait_for_next(r, '{stream}', 3000)`"
        if got is None:
            if elapsed < 0.25:
                raise Wrong(f"{call} returned None at once; pass block=timeout_ms so XREAD waits.")
            raise Wrong(f"{call} returned None, though entries were added every 0.3 s while "
                        "it waited.")
        ids = _ids([got], "the entry")
        if ids[0] in old:
            raise Wrong(f"{call} returned {ids[0]}, which was in the stream before the call: "
                        "read from '$' (entries added after the call), not '0'.")
        if ids[0] not in added:
            raise Wrong(f"{call} returned {ids[0]}, which is not an entry added during the wait.")

        got, elapsed, woken = _call_with_deadline(
            ex, wait_for_next, (reader, stream, 300), 2.0,
            lambda: ex.r.xadd(stream, {"n": "wake"}))
        call = f"`wait_for_next(r, '{stream}', 300)`"
        if woken:
            raise Wrong(f"{call} was still waiting after 2 s with nothing added: pass "
                        "block=timeout_ms (BLOCK 0 waits forever).")
        if got is not None:
            raise Wrong(f"{call} returned {got!r:.80} though nothing was added; on a timeout "
                        "XREAD replies [] and the function should return None.")
        if elapsed < 0.25:
            raise Wrong(f"{call} returned after {elapsed:.2f} s; it should wait about 0.3 s.")
    finally:
        if reader is not ex.r:
            reader.close()
    return (f"it woke up for the new entry and gave up after {elapsed:.2f} s when nothing came.")
