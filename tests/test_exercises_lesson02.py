"""Lesson 02's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

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
