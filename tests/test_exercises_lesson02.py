"""Lesson 02's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import nbformat
import pytest

from streamlab import exercises

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02-reading-and-blocking.ipynb"


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(2, r, prefix=prefix), start=1))


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_untouched_exercise_is_not_attempted(ex, number):
    assert ex[number].evaluate(...).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_function_still_returning_ellipsis_is_not_attempted(ex):
    def window(r, stream, start, end):
        return ...

    outcome = ex[1].evaluate(window)
    assert outcome.status == "not-attempted", outcome


def _ms(moment):
    return round(moment.timestamp() * 1000)


def test_ex1_whole_stream_is_wrong(ex):
    def window(r, stream, start, end):
        return r.xrange(stream)

    outcome = ex[1].evaluate(window)
    assert outcome.status == "wrong"
    assert "returned 21 entries; the window holds 5" in outcome.message


def test_ex1_end_included_is_explained(ex):
    def window(r, stream, start, end):
        return r.xrange(stream, min=_ms(start), max=_ms(end))

    outcome = ex[1].evaluate(window)
    assert outcome.status == "wrong"
    assert "added exactly at `end`" in outcome.message and "end_ms - 1" in outcome.message


def test_ex1_exclusive_ms_only_end_still_includes_that_millisecond(ex):
    def window(r, stream, start, end):
        return r.xrange(stream, min=_ms(start), max=f"({_ms(end)}")

    outcome = ex[1].evaluate(window)
    assert outcome.status == "wrong"
    assert "added exactly at `end`" in outcome.message


def test_ex1_start_left_out_is_explained(ex):
    def window(r, stream, start, end):
        return r.xrange(stream, min=f"({_ms(start)}-0", max=_ms(end) - 1)

    outcome = ex[1].evaluate(window)
    assert outcome.status == "wrong"
    assert "includes its start" in outcome.message


def test_ex1_newest_first_is_wrong(ex):
    def window(r, stream, start, end):
        return r.xrevrange(stream, max=_ms(end) - 1, min=_ms(start))

    outcome = ex[1].evaluate(window)
    assert outcome.status == "wrong"
    assert "newest first" in outcome.message


def test_ex1_datetimes_as_range_ends_are_explained(ex):
    def window(r, stream, start, end):
        return r.xrange(stream, min=start, max=end)

    outcome = ex[1].evaluate(window)
    assert outcome.status == "wrong"
    assert "was given the datetime" in outcome.message


def test_ex2_inclusive_page_start_reads_entries_twice(ex):
    def read_in_pages(r, stream, page_size):
        entries, start = [], "-"
        while True:
            page = r.xrange(stream, min=start, max="+", count=page_size)
            entries.extend(page)
            if len(page) < page_size:
                return entries
            start = page[-1][0]

    outcome = ex[2].evaluate(read_in_pages)
    assert outcome.status == "wrong"
    assert "twice" in outcome.message and "'(' + last_id" in outcome.message


def test_ex2_one_big_read_is_not_paging(ex):
    def read_in_pages(r, stream, page_size):
        return r.xrange(stream)

    outcome = ex[2].evaluate(read_in_pages)
    assert outcome.status == "wrong"
    assert "read the whole stream at once" in outcome.message


def test_ex2_endless_loop_is_stopped_and_explained(ex):
    def read_in_pages(r, stream, page_size):
        entries = []
        while True:  # never advances: the classic endless pager
            page = r.xrange(stream, count=page_size)
            if not page:
                return entries
            entries.extend(page)

    outcome = ex[2].evaluate(read_in_pages)
    assert outcome.status == "wrong"
    assert "the loop does not end" in outcome.message


def test_ex3_forgetting_a_stream_with_nothing_new_is_wrong(ex):
    def read_new(r, positions):
        new_positions, entries = {}, []
        for stream, stream_entries in r.xread(positions):
            entries.extend(stream_entries)
            new_positions[stream] = stream_entries[-1][0]
        return entries, new_positions

    outcome = ex[3].evaluate(read_new)
    assert outcome.status == "wrong"
    assert "keeps the ID it had" in outcome.message


def test_ex3_one_xread_per_stream_is_wrong(ex):
    def read_new(r, positions):
        new_positions, entries = dict(positions), []
        for stream, last_id in positions.items():
            for _, stream_entries in r.xread({stream: last_id}):
                entries.extend(stream_entries)
                new_positions[stream] = stream_entries[-1][0]
        return entries, new_positions

    outcome = ex[3].evaluate(read_new)
    assert outcome.status == "wrong"
    assert "made 3 XREAD calls" in outcome.message


def test_ex3_changing_the_callers_dict_is_wrong(ex):
    def read_new(r, positions):
        entries = []
        for stream, stream_entries in r.xread(positions):
            entries.extend(stream_entries)
            positions[stream] = stream_entries[-1][0]
        return entries, positions

    outcome = ex[3].evaluate(read_new)
    assert outcome.status == "wrong"
    assert "changed the dict it was given" in outcome.message


def test_ex3_raw_xread_reply_is_explained(ex):
    def read_new(r, positions):
        return r.xread(positions), dict(positions)

    outcome = ex[3].evaluate(read_new)
    assert outcome.status == "wrong"
    assert "XREAD's raw reply" in outcome.message


def test_ex4_reading_from_zero_returns_an_old_entry(ex):
    def wait_for_next(r, stream, timeout_ms):
        reply = r.xread({stream: "0"}, block=timeout_ms, count=1)
        return reply[0][1][0] if reply else None

    outcome = ex[4].evaluate(wait_for_next)
    assert outcome.status == "wrong"
    assert "read from '$'" in outcome.message


def test_ex4_not_blocking_returns_none_at_once(ex):
    def wait_for_next(r, stream, timeout_ms):
        reply = r.xread({stream: "$"}, count=1)
        return reply[0][1][0] if reply else None

    outcome = ex[4].evaluate(wait_for_next)
    assert outcome.status == "wrong"
    assert "returned None at once" in outcome.message


def test_ex4_block_forever_is_woken_and_explained(ex):
    def wait_for_next(r, stream, timeout_ms):
        reply = r.xread({stream: "$"}, block=0, count=1)
        return reply[0][1][0] if reply else None

    outcome = ex[4].evaluate(wait_for_next)
    assert outcome.status == "wrong"
    assert "BLOCK 0 waits forever" in outcome.message


def test_notebook_checks_each_exercise_with_the_checkers_answer_names(r):
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.name} not built yet")
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    for e in exercises.load(2, r):
        assert e.call_text() in source


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

BASE = 1_700_000_000_000  # lesson02.EX1_BASE_MS: one entry a second from here, two at +10 s


def _said(exercise, answer, status="wrong"):
    outcome = exercise.evaluate(answer)
    assert outcome.status == status, outcome
    return outcome.message


def _window(r, stream, start, end):
    return r.xrange(stream, min=_ms(start), max=_ms(end) - 1)


def _ids_in(r, stream, first_s, last_s):
    return [i for i, _ in r.xrange(stream, BASE + first_s * 1000, BASE + last_s * 1000)]


def test_ex1_exact_feedback(ex, r, prefix):
    key = prefix + "ex1"
    first = f"`window(r, '{key}', start, end)` from 22:13:25.000 to 22:13:30.000 UTC"
    second = f"`window(r, '{key}', start, end)` from 22:13:30.000 to 22:13:32.500 UTC"
    assert _said(ex[1], lambda r, stream, start, end: "x") == (
        f"{first} should be a list of (id, fields) entries, not str.")
    assert _said(ex[1], lambda r, stream, start, end: [("1-0", {}, 1)]) == (
        f"{first} should hold (id, fields) pairs as XRANGE returns them; found ('1-0', {{}}, 1).")
    assert _said(ex[1], lambda r, stream, start, end: ["1-0"]) == (
        f"{first} should hold (id, fields) pairs as XRANGE returns them; found '1-0'.")
    assert _said(ex[1], lambda r, stream, start, end: r.xread({stream: "0"})) == (
        f"{first} looks like XREAD's raw reply ([[stream, entries]]): return only the entries, "
        "the list inside it.")
    said = _said(ex[1], lambda *args: _window(*args)[::-1])
    assert said == (f"{first} returned the right entries, newest first; the exercise asks for "
                    "XRANGE's order, oldest first.")
    said = _said(ex[1], lambda r, stream, start, end: r.xrange(stream, min=_ms(start), max=_ms(end)))
    at_end = _ids_in(r, key, 10, 10)
    assert said == (f"{first} also returned {', '.join(at_end)}, added exactly at `end`; the window "
                    "leaves `end` out. A bare millisecond as the range end takes in every entry of "
                    "that millisecond: end the range at end_ms - 1.")
    said = _said(ex[1], lambda r, stream, start, end: r.xrange(stream, min=f"({_ms(start)}-0",
                                                                   max=_ms(end) - 1))
    assert said == (f"{first} leaves out {_ids_in(r, key, 5, 5)[0]}, added exactly at `start`; the "
                    "window includes its start.")
    said = _said(ex[1], lambda *args: [e for n, e in enumerate(_window(*args)) if n != 2])
    expected = _ids_in(r, key, 5, 9)
    assert said == (f"{first} returned 4 entries; the window holds 5 ({expected[0]} to {expected[-1]}). "
                    f"{key} has one entry a second, two at {BASE + 10_000}.")

    def second_window_short(r, stream, start, end):
        got = _window(r, stream, start, end)
        return got[1:] if _ms(start) == BASE + 10_000 else got

    said = _said(ex[1], second_window_short)
    expected = _ids_in(r, key, 10, 12)
    assert said == (f"{second} leaves out {expected[0]}, added exactly at `start`; the window includes "
                    "its start.")

    def second_window_first_alone(r, stream, start, end):
        got = _window(r, stream, start, end)
        return got[:1] if _ms(start) == BASE + 10_000 else got

    said = _said(ex[1], second_window_first_alone)
    assert said == (f"{second} returned 1 entries; the window holds 4 ({expected[0]} to {expected[-1]}). "
                    f"{key} has one entry a second, two at {BASE + 10_000}.")
    assert _said(ex[1], lambda *args: tuple(_window(*args)), "correct") == (
        f"both windows are right, including the two entries that share millisecond {BASE + 10_000}.")
    assert r.xlen(key) == 21  # a second check rebuilt the same stream


@pytest.mark.parametrize("ends, says", [
    (lambda start, end: (start, end),
     "XRANGE was given the datetime 2023-11-14 22:13:25+00:00 as a range end. Redis knows nothing of "
     "datetimes: a range end is an ID or a number of milliseconds since 1970, "
     "`round(moment.timestamp() * 1000)`."),
    (lambda start, end: (str(start), "+"),
     "XRANGE was given '2023-11-14 22:13:25+00:00' as a range end: that is a date written as text. A "
     "range end is an ID or a number of milliseconds since 1970, `round(moment.timestamp() * 1000)`."),
    (lambda start, end: ("(" + start.strftime("%H:%M"), "+"),
     "XRANGE was given '22:13' as a range end: that is a date written as text. A range end is an ID or "
     "a number of milliseconds since 1970, `round(moment.timestamp() * 1000)`."),
    (lambda start, end: (start.timestamp() * 1000 + 0.5, "+"),
     f"XRANGE was given {BASE + 5000.5!r} as a range end; an ID's milliseconds are a whole number. "
     "`moment.timestamp()` is a float: round(... * 1000)."),
    (lambda start, end: (b"%d" % int(start.timestamp()), "+"),
     "XRANGE was given b'1700000005' as a range end. That looks like seconds since 1970 (`timestamp()` "
     "counts seconds), but IDs count milliseconds: multiply by 1000, `round(moment.timestamp() * 1000)`."),
    (lambda start, end: ("-", 99_999_999_999),
     "XRANGE was given 99999999999 as a range end. That looks like seconds since 1970 (`timestamp()` "
     "counts seconds), but IDs count milliseconds: multiply by 1000, `round(moment.timestamp() * 1000)`."),
])
@pytest.mark.parametrize("reverse", [False, True])
def test_ex1_range_ends_that_are_not_milliseconds_are_named_exactly(ex, ends, says, reverse):
    def window(r, stream, start, end):
        low, high = ends(start, end)
        if reverse:
            return r.xrevrange(stream, max=high, min=low)[::-1]
        return r.xrange(stream, min=low, max=high)

    assert _said(ex[1], window) == says


def test_ex1_range_ends_the_spy_lets_through(ex):
    # A count, an exclusive ID, milliseconds from 1973 on and ID text: the server decides.
    def window(r, stream, start, end):
        whole = r.xrange(stream, min="(0-0", max="+", count=100)
        assert r.xrange(stream, min=100_000_000_000, max="99999999999999-0") == whole
        assert r.xrevrange(stream, max=b"+", min="-", count=100) == whole[::-1]
        return _window(r, stream, start, end)

    assert ex[1].evaluate(window).correct


def _read_in_pages(r, stream, page_size):
    out, start = [], "-"
    while True:
        page = r.xrange(stream, min=start, max="+", count=page_size)
        out += page
        if len(page) < page_size:
            return out
        start = "(" + page[-1][0]


def test_ex2_exact_feedback(ex, r, prefix):
    key = prefix + "ex2"
    call = f"`read_in_pages(r, '{key}', 100)`"
    assert _said(ex[2], lambda r, stream, page_size: {}) == (
        f"read_in_pages(r, '{key}', 100) should be a list of (id, fields) entries, not dict.")
    said = _said(ex[2], lambda *args: _read_in_pages(*args) + _read_in_pages(*args)[-1:])
    last = r.xrevrange(key, count=1)[0][0]
    assert said == (f"{call} returned entry {last} twice: a page that starts at the last ID of the "
                    "page before reads it again. Start at '(' + last_id.")
    assert _said(ex[2], lambda *args: _read_in_pages(*args)[:-2]) == (
        f"{call} returned 248 of the 250 entries (2 missing).")
    assert _said(ex[2], lambda *args: _read_in_pages(*args)[::-1]) == (
        f"{call} returned every entry, but not in the stream's order.")

    def one_read(r, stream, page_size):
        r.xrange(stream, count=page_size)
        return r.xrange(stream)

    assert _said(ex[2], one_read) == (
        f"{call} got every entry, but one XRANGE call read the whole stream at once; read at most "
        "page_size entries per call (count=page_size).")
    assert _said(ex[2], lambda r, stream, page_size: _read_in_pages(r, stream, 101)) == (
        f"{call} got every entry, but one XRANGE call read 101 at once; read at most page_size "
        "entries per call (count=page_size).")

    def endless(r, stream, page_size):
        while True:
            r.xrange(stream, count=page_size)

    assert _said(ex[2], endless) == (
        "more than 100 XRANGE calls for 250 entries: the loop does not end. Does each page start "
        "after the last ID of the page before, and does the loop stop on a short (or empty) page?")

    def not_for_a_missing_key(r, stream, page_size):
        return _read_in_pages(r, key, 100)

    assert _said(ex[2], not_for_a_missing_key).startswith(
        "on a key that does not exist it should return [], not [(")
    assert _said(ex[2], lambda r, stream, page_size: _read_in_pages(r, stream, 50), "correct") == (
        "all 250 entries, in order, none twice in 6 XRANGE calls.")
    assert _said(ex[2], lambda *args: tuple(_read_in_pages(*args)), "correct") == (
        "all 250 entries, in order, none twice in 3 XRANGE calls.")

    def by_xread(r, stream, page_size):
        out, last = [], "0"
        while reply := r.xread({stream: last}, count=page_size):
            out += reply[0][1]
            last = out[-1][0]
        return out

    assert _said(ex[2], by_xread, "correct") == "all 250 entries, in order, none twice."
    assert r.xlen(key) == 250


def test_ex2_the_loop_guard_allows_exactly_100_calls(ex):
    def pages_of_three(r, stream, page_size):
        out = _read_in_pages(r, stream, 3)  # 84 calls for 250 entries
        for _ in range(16):
            r.xrange(stream, count=1)
        return out

    assert ex[2].evaluate(pages_of_three).correct


def _read_new(r, positions):
    entries, new = [], dict(positions)
    for stream, got in r.xread(positions):
        entries += got
        new[stream] = got[-1][0]
    return entries, new


def test_ex3_exact_feedback(ex, r, prefix):
    a, b, c = (prefix + f"ex3:{s}" for s in "abc")
    call = "`read_new(r, positions)`"
    for reply in ("x", ([], {}, 1), ([], [])):
        assert _said(ex[3], lambda r, positions, reply=reply: reply) == (
            f"{call} should return a pair (entries, new_positions), with new_positions a dict; it "
            f"returned {reply!r:.80}.")

    def changes_the_dict(r, positions):
        entries, new = _read_new(r, positions)
        positions.update(new)
        return entries, new

    assert _said(ex[3], changes_the_dict) == (
        f"{call} changed the dict it was given; return a new one (copy it first), so the caller "
        "decides when to store it.")

    def two_reads(r, positions):
        entries, new = [], dict(positions)
        for stream, last in positions.items():
            for _, got in r.xread({stream: last}):
                entries += got
                new[stream] = got[-1][0]
        return entries, new

    assert _said(ex[3], two_reads) == f"{call} made 3 XREAD calls; one XREAD can read all three streams."

    def from_the_stored_id(r, positions):
        entries, new = _read_new(r, positions)
        return entries + r.xrange(c, "5-8", "5-8"), new

    assert _said(ex[3], from_the_stored_id) == (
        f"the entries include 5-8 of {c}, the very ID stored for it: XREAD returns only entries after "
        "the stored ID.")
    def one_short(r, positions):
        entries, new = _read_new(r, positions)
        return entries[1:], new

    assert _said(ex[3], one_short) == (
        f"there are 3 new entries in {a} and 2 in {c} ({b} is empty); {call} returned 4 entries.")

    def position(stream, value):
        def read_new(r, positions):
            entries, new = _read_new(r, positions)
            new[stream] = value
            return entries, new
        return read_new

    wrong = "new_positions[{!r}] is {!r}; it should be {}, the last ID read from it."
    assert _said(ex[3], position(a, "9-0")) == (
        wrong.format(a, "9-0", "10-0") + " '9-0' is the largest as text, but IDs are not text: as "
        "strings '9-0' > '10-0' and '5-9' > '5-10'. XREAD returns entries in ID order, so the last one "
        "read is the last in the reply; to compare two IDs, compare (milliseconds, sequence) as a pair "
        "of ints.")
    assert _said(ex[3], position(c, "5-9")).startswith(wrong.format(c, "5-9", "5-10") + " '5-9' is the largest")
    assert _said(ex[3], position(a, b"8-0")) == wrong.format(a, "8-0", "10-0")
    assert _said(ex[3], position(b, None)) == (
        wrong.format(b, None, "0") + " A stream with nothing new keeps the ID it had, or the next "
        "read would start somewhere else.")
    assert _said(ex[3], position(b, "0-0")).startswith(wrong.format(b, "0-0", "0") + " A stream with")

    def not_again(r, positions):
        entries, new = _read_new(r, positions)
        if positions[a] != "0":
            return r.xrange(a), new
        return entries, new

    assert _said(ex[3], not_again) == (
        f"called again with the new positions, {call} should find nothing new and return the "
        "positions unchanged.")

    def moves_on_again(r, positions):
        entries, new = _read_new(r, positions)
        if positions[a] != "0":
            new[b] = "1-0"
        return entries, new

    assert _said(ex[3], moves_on_again).startswith("called again with the new positions")
    assert _said(ex[3], lambda r, positions: tuple(_read_new(r, positions)), "correct") == (
        "one XREAD, 5 new entries, and each stream's position moved to the last ID read (10-0 comes "
        "after 9-0, though not as text).")
    assert [i for i, _ in r.xrange(a)] == ["8-0", "9-0", "10-0"]
    assert [i for i, _ in r.xrange(c)] == ["5-8", "5-9", "5-10"] and not r.exists(b)


def _wait_for_next(r, stream, timeout_ms):
    reply = r.xread({stream: "$"}, block=timeout_ms, count=1)
    return reply[0][1][0] if reply else None


def test_ex4_exact_feedback(ex, r, prefix):
    key = prefix + "ex4"
    first, second = (f"`wait_for_next(r, '{key}', {ms})`" for ms in (3000, 300))

    def from_zero(r, stream, timeout_ms):
        reply = r.xread({stream: "0"}, block=timeout_ms, count=1)
        return reply[0][1][0] if reply else None

    said = _said(ex[4], from_zero)
    old = r.xrange(key, count=1)[0][0]
    assert said == (f"{first} returned {old}, which was in the stream before the call: read from '$' "
                    "(entries added after the call), not '0'.")
    assert _said(ex[4], lambda r, stream, timeout_ms: r.xread({stream: "$"}, count=1) or None) == (
        f"{first} returned None at once; pass block=timeout_ms so XREAD waits.")
    assert _said(ex[4], lambda r, stream, timeout_ms: ("1-1", {})) == (
        f"{first} returned 1-1, which is not an entry added during the wait.")
    assert _said(ex[4], lambda r, stream, timeout_ms: "1-1") == (
        "the entry should hold (id, fields) pairs as XRANGE returns them; found '1-1'.")

    def block_forever(r, stream, timeout_ms):
        reply = r.xread({stream: "$"}, block=0, count=1)
        return reply[0][1][0] if reply else None

    assert _said(ex[4], block_forever) == (
        f"{second} was still waiting after 2 s with nothing added: pass block=timeout_ms (BLOCK 0 "
        "waits forever).")

    def answers_the_timeout_with_the_reply(r, stream, timeout_ms):
        reply = r.xread({stream: "$"}, block=timeout_ms, count=1)
        return reply[0][1][0] if reply else []

    assert _said(ex[4], answers_the_timeout_with_the_reply) == (
        f"{second} returned [] though nothing was added; on a timeout XREAD replies [] and the "
        "function should return None.")

    def gives_up_early(r, stream, timeout_ms):
        return _wait_for_next(r, stream, timeout_ms if timeout_ms > 1000 else 1)

    said = _said(ex[4], gives_up_early)
    assert said.startswith(f"{second} returned after 0.") and said.endswith(" s; it should wait about 0.3 s.")
    said = _said(ex[4], _wait_for_next, "correct")
    assert said.startswith("it woke up for the new entry and gave up after 0.") and said.endswith(" s when nothing came.")


# --- checkers-02's survivors (second pass, tools/mutate.py checkers-02 --fake-only) ------------

def test_ex1_the_stream_has_exactly_two_entries_at_10_s(ex, r, prefix):
    key = prefix + "ex1"
    ex[1].evaluate(_window)
    pairs = [(i, f) for i, f in r.xrange(key)]
    assert [i for i, _ in pairs] == (
        [f"{BASE + k * 1000}-0" for k in range(11)] + [f"{BASE + 10_000}-1"]
        + [f"{BASE + k * 1000}-0" for k in range(11, 20)])
    assert [f for _, f in pairs][9:13] == [{"k": "9"}, {"k": "10"}, {"k": "10b"}, {"k": "11"}]


@pytest.mark.parametrize("end, says", [
    (1, "XRANGE was given 1 as a range end. That looks like seconds since 1970 (`timestamp()` counts "
        "seconds), but IDs count milliseconds: multiply by 1000, `round(moment.timestamp() * 1000)`."),
    ("1", "XRANGE was given '1' as a range end. That looks like seconds since 1970 (`timestamp()` "
          "counts seconds), but IDs count milliseconds: multiply by 1000, "
          "`round(moment.timestamp() * 1000)`."),
])
def test_ex1_the_seconds_bound_starts_at_1(ex, end, says):
    def window(r, stream, start, end_):
        r.xrange(stream, min=0, max="+", count=1)  # 0 is the start of time, not seconds
        r.xrange(stream, min="0", max="+", count=1)
        r.xrange(stream, min=end, max="+", count=1)
        return _window(r, stream, start, end_)

    assert _said(ex[1], window) == says


def test_ex1_zero_as_a_range_end_is_let_through(ex):
    def window(r, stream, start, end):
        assert r.xrange(stream, min=0, max="+") == r.xrange(stream)
        assert r.xrevrange(stream, max="+", min=b"0") == r.xrevrange(stream)
        return _window(r, stream, start, end)

    assert ex[1].evaluate(window).correct


@pytest.mark.parametrize("counts, shown", [((200, None), "200"), ((None, 150), "the whole stream")])
def test_ex2_the_first_call_that_read_too_much_is_named(ex, prefix, counts, shown):
    def too_much_twice(r, stream, page_size):
        r.xrange(stream, count=counts[0])
        r.xrange(stream, count=counts[1])
        return r.xrange(stream)

    assert _said(ex[2], too_much_twice) == (
        f"`read_in_pages(r, '{prefix}ex2', 100)` got every entry, but one XRANGE call read {shown} "
        "at once; read at most page_size entries per call (count=page_size).")


def test_ex4_a_function_that_raises_is_a_short_error(ex, prefix):
    def raises(r, stream, timeout_ms):
        raise KeyError("boom")

    outcome = ex[4].evaluate(raises)
    assert outcome.status == "error", outcome
    assert outcome.message.startswith("`raises(") and "raised KeyError" in outcome.message, outcome

    def raises_on_the_timeout(r, stream, timeout_ms):
        if timeout_ms == 300:
            raise ValueError("no entry")
        return _wait_for_next(r, stream, timeout_ms)

    outcome = ex[4].evaluate(raises_on_the_timeout)
    assert outcome.status == "error", outcome
    assert "raised ValueError" in outcome.message and "300" in outcome.message, outcome


def test_ex1_range_ends_no_one_would_mistake_for_milliseconds(ex, prefix):
    # A date without a time: neither a number nor text, so the server's client refuses it (the
    # learner's own error); text with a space is a date written out; text that is not a number
    # after its "(" goes to the server too.
    outcome = ex[1].evaluate(lambda r, stream, start, end: r.xrange(stream, min=start.date(), max="+"))
    assert outcome.status == "error" and outcome.message.startswith("`<lambda>("), outcome
    assert "raised DataError: Invalid input of type: 'date'." in outcome.message, outcome
    outcome = ex[1].evaluate(lambda r, stream, start, end: r.xrange(stream, min="X5", max="+"))
    assert outcome.status == "error" and outcome.message.startswith("`<lambda>("), outcome
    assert "raised ResponseError: Invalid stream ID" in outcome.message, outcome
    assert _said(ex[1], lambda r, stream, start, end: r.xrange(stream, min="14 Nov 2023", max="+")) == (
        "XRANGE was given '14 Nov 2023' as a range end: that is a date written as text. A range end is "
        "an ID or a number of milliseconds since 1970, `round(moment.timestamp() * 1000)`.")


def test_ex1_the_spy_passes_count_and_default_ends_on(ex):
    def window(r, stream, start, end):
        whole = r.xrange(stream)
        assert r.xrange(stream, count=1) == whole[:1]
        assert r.xrange(stream, min="-", max="+", count=2) == whole[:2]
        assert r.xrevrange(stream) == whole[::-1]
        assert r.xrevrange(stream, count=1) == whole[-1:]
        assert r.xrevrange(stream, max="+", min="-", count=2) == whole[:-3:-1]
        return _window(r, stream, start, end)

    assert ex[1].evaluate(window).correct


def test_ex1_both_entries_left_out_at_the_start_are_named(ex, r, prefix):
    key = prefix + "ex1"

    def second_window_after_its_start(r, stream, start, end):
        if _ms(start) == BASE + 10_000:
            return r.xrange(stream, min=_ms(start) + 1, max=_ms(end) - 1)
        return _window(r, stream, start, end)

    said = _said(ex[1], second_window_after_its_start)
    assert said == (f"`window(r, '{key}', start, end)` from 22:13:30.000 to 22:13:32.500 UTC leaves out "
                    f"{BASE + 10_000}-0, {BASE + 10_000}-1, added exactly at `start`; the window "
                    "includes its start.")


def test_ex2_the_spy_passes_the_range_end_on(ex, prefix):
    assert _said(ex[2], lambda r, stream, page_size: r.xrange(stream, min="-", max="0-1")) == (
        f"`read_in_pages(r, '{prefix}ex2', 100)` returned 0 of the 250 entries (250 missing).")


def test_ex2_the_missing_key_and_its_page_size(ex, r, prefix):
    calls = []

    def recorded(r, stream, page_size):
        calls.append((stream, page_size))
        return _read_in_pages(r, stream, page_size)

    assert ex[2].evaluate(recorded).correct
    assert calls == [(prefix + "ex2", 100), (prefix + "ex2:empty", 10)]
    assert not r.exists(prefix + "ex2:empty")
    assert r.xrange(prefix + "ex2", count=2) and [f for _, f in r.xrange(prefix + "ex2", count=2)] == [
        {"n": "0"}, {"n": "1"}]

    def not_a_list_when_empty(r, stream, page_size):
        return _read_in_pages(r, stream, page_size) if stream == prefix + "ex2" else "none"

    assert _said(ex[2], not_a_list_when_empty) == (
        "read_in_pages on a missing key should be a list of (id, fields) entries, not str.")


def test_ex3_keyword_arguments_two_reads_and_the_entries_shape(ex, r, prefix):
    a, b, c = (prefix + f"ex3:{s}" for s in "abc")
    call = "`read_new(r, positions)`"

    def by_keyword(r, positions):
        entries, new = [], dict(positions)
        for stream, got in r.xread(streams=positions, count=10):
            entries += got
            new[stream] = got[-1][0]
        return entries, new

    assert ex[3].evaluate(by_keyword).correct
    assert [f for _, f in r.xrange(a)] == [{"n": "0"}, {"n": "1"}, {"n": "2"}]
    assert [f for _, f in r.xrange(c)] == [{"n": "0"}, {"n": "1"}, {"n": "2"}]

    def two_reads(r, positions):
        entries, new = [], dict(positions)
        for part in ({a: positions[a], b: positions[b]}, {c: positions[c]}):
            for stream, got in r.xread(part):
                entries += got
                new[stream] = got[-1][0]
        return entries, new

    assert _said(ex[3], two_reads) == f"{call} made 2 XREAD calls; one XREAD can read all three streams."
    assert _said(ex[3], lambda r, positions: ("x", dict(positions))) == (
        "the entries should be a list of (id, fields) entries, not str.")

    def not_a_list_the_second_time(r, positions):
        entries, new = _read_new(r, positions)
        return (entries if positions[a] == "0" else "x"), new

    assert _said(ex[3], not_a_list_the_second_time) == (
        "the entries should be a list of (id, fields) entries, not str.")


def test_ex3_a_leftover_entry_in_the_empty_stream_is_cleared(ex, r, prefix):
    def writes_to_b(r, positions):
        r.xadd(prefix + "ex3:b", {"n": "stray"})
        return _read_new(r, positions)

    assert not ex[3].evaluate(writes_to_b).correct
    assert ex[3].evaluate(_read_new).correct
    assert not r.exists(prefix + "ex3:b")


def test_ex4_the_calls_run_on_named_daemon_threads(ex, r, prefix):
    seen = []

    def recorded(r, stream, timeout_ms):
        me = threading.current_thread()
        producer = [t for t in threading.enumerate() if t.name == "streamlab-exercise-xadd"]
        seen.append((timeout_ms, me.name, me.daemon, [t.daemon for t in producer]))
        return _wait_for_next(r, stream, timeout_ms)

    assert ex[4].evaluate(recorded).correct
    assert seen == [(3000, "streamlab-exercise-call", True, [True]),
                    (300, "streamlab-exercise-call", True, [])]
    key = prefix + "ex4"
    assert [f for _, f in r.xrange(key)][:4] == [{"n": "0"}, {"n": "1"}, {"n": "2"}, {"n": "new0"}]


def test_ex4_entries_come_every_0_3_s(ex, prefix):
    # Blocking a third of the time: the first call still sees an entry (one comes at 0.3 s), the
    # second gives up too early.
    said = _said(ex[4], lambda r, stream, timeout_ms: _wait_for_next(r, stream, timeout_ms // 3))
    assert said.startswith(f"`wait_for_next(r, '{prefix}ex4', 300)` returned after 0."), said


def test_ex4_a_call_that_never_returns_is_given_up_on(ex, prefix):
    # Woken after 5 s, still running 5 s later: the check answers without it.
    release = threading.Event()

    def stuck(r, stream, timeout_ms):
        release.wait()

    try:
        assert _said(ex[4], stuck) == (
            f"`wait_for_next(r, '{prefix}ex4', 3000)` returned None, though entries were added every "
            "0.3 s while it waited.")
    finally:
        release.set()


def test_ex4_the_scene_is_three_entries_then_eight_added_while_it_waits(ex, prefix):
    # A learner's call that outwaits the checker's producer sees all it added: 3 + 8 entries.
    def after_the_producer(r, stream, timeout_ms):
        if timeout_ms == 300:
            return _wait_for_next(r, stream, timeout_ms)
        while any(t.name == "streamlab-exercise-xadd" for t in threading.enumerate()):
            time.sleep(0.02)
        entries = r.xrange(stream)
        return entries[-1] if len(entries) == 11 else None

    assert ex[4].evaluate(after_the_producer).correct


def test_ex4_closes_the_reader_connection_it_made(ex, monkeypatch):
    made, closed = [], []
    make = ex[4].r.new_client

    def recording(*args, **kwargs):
        client = make(*args, **kwargs)
        close = client.close
        client.close = lambda: (closed.append(client), close())[1]
        made.append(client)
        return client

    monkeypatch.setattr(ex[4].r, "new_client", recording)
    assert ex[4].evaluate(_wait_for_next).correct
    assert made and closed == made, "every connection the check opened is closed"
