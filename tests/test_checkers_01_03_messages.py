"""Lessons 01-03: the checkers' messages for mistakes learners make, and short call texts.

Each test gives a checker a wrong answer and asserts what it says; the right answers
pass in tests/test_exercises_lesson0N.py (the solutions) and below where a fix
changed what is accepted.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import redis

from streamlab import exercises
from streamlab.explain import hint


def _load(lesson, r, prefix):
    return dict(enumerate(exercises.load(lesson, r, prefix=prefix), start=1))


# --- lesson 01 --------------------------------------------------------------

def test_01_ex2_floor_division_is_named_as_losing_the_milliseconds(r, prefix):
    ex = _load(1, r, prefix)

    def id_to_datetime(entry_id):
        return datetime.fromtimestamp(int(entry_id.split("-")[0]) // 1000, tz=timezone.utc)

    outcome = ex[2].evaluate(id_to_datetime)
    assert outcome.status == "wrong"
    assert "`// 1000`" in outcome.message and "milliseconds are gone" in outcome.message
    assert "sequence number" not in outcome.message


def test_01_ex2_sequence_added_as_a_fraction_is_named(r, prefix):
    ex = _load(1, r, prefix)

    def id_to_datetime(entry_id):
        ms, seq = entry_id.split("-")
        return datetime.fromtimestamp((int(ms) + int(seq) / 1000) / 1000, tz=timezone.utc)

    outcome = ex[2].evaluate(id_to_datetime)
    assert outcome.status == "wrong"
    assert "The sequence number (after the dash) is not part of the time" in outcome.message


def test_01_ex3_speaks_of_last_generated_id_and_not_of_star_picking_the_same(r, prefix):
    ex = _load(1, r, prefix)
    refused = ex[3].evaluate("1700000000000-7")
    assert refused.status == "wrong" and "last-generated-id" in refused.message
    right = ex[3].evaluate("1700000000000-8")
    assert right.correct
    assert "picks IDs the same way" not in right.message
    assert "server's clock" in right.message


def test_01_xadd_refusal_hint_names_last_generated_id_not_xrevrange(r, prefix):
    key = prefix + "explicit"
    r.xadd(key, {"a": 1}, id="1-1")
    r.xadd(key, {"a": 1}, id="5-0")
    r.xdel(key, "5-0")
    with pytest.raises(redis.ResponseError) as caught:
        r.xadd(key, {"a": 1}, id="5-0")  # the newest entry left is 1-1, and still refused
    text = hint(caught.value, command="XADD")
    assert "last-generated-id" in text and "XINFO STREAM" in text
    assert "XREVRANGE" not in text
    assert r.xinfo_stream(key)["last-generated-id"] == "5-0"


# --- lesson 02 --------------------------------------------------------------

def _seconds(r, stream, start, end):
    return r.xrange(stream, min=int(start.timestamp()), max=int(end.timestamp()) - 1)


def _float_seconds(r, stream, start, end):
    return r.xrange(stream, min=start.timestamp(), max=end.timestamp())


def _datetimes(r, stream, start, end):
    return r.xrange(stream, min=start, max=end)


def _date_text(r, stream, start, end):
    return r.xrange(stream, min=str(start), max=str(end))


@pytest.mark.parametrize("window, expect", [
    (_seconds, "looks like seconds since 1970"),
    (_float_seconds, "looks like seconds since 1970"),
    (_datetimes, "was given the datetime"),
    (_date_text, "a date written as text"),
])
def test_02_ex1_units_and_types_of_the_range_ends_are_diagnosed(r, prefix, window, expect):
    outcome = _load(2, r, prefix)[1].evaluate(window)
    assert outcome.status == "wrong", outcome
    assert expect in outcome.message
    assert "round(moment.timestamp() * 1000)" in outcome.message
    assert "added exactly at `start`" not in outcome.message  # the old misdiagnosis


def test_02_ex3_max_over_id_strings_is_wrong_and_explained(r, prefix):
    def read_new(r, positions):
        entries, new = [], dict(positions)
        for stream, got in r.xread(positions):
            entries += got
            new[stream] = max(entry_id for entry_id, _ in got)
        return entries, new

    outcome = _load(2, r, prefix)[3].evaluate(read_new)
    assert outcome.status == "wrong"
    assert "'9-0' > '10-0'" in outcome.message and "largest as text" in outcome.message


def test_02_ex3_comparing_ids_as_number_pairs_is_right(r, prefix):
    def read_new(r, positions):
        entries, new = [], dict(positions)
        for stream, got in r.xread(positions):
            entries += got
            new[stream] = max((entry_id for entry_id, _ in got),
                              key=lambda i: tuple(map(int, i.split("-"))))
        return entries, new

    outcome = _load(2, r, prefix)[3].evaluate(read_new)
    assert outcome.correct, outcome


# --- lesson 03 --------------------------------------------------------------

def test_03_ex1_indexing_an_empty_xreadgroup_reply_gets_a_hint(r, prefix):
    def read_and_ack(r, stream, group, consumer, count):
        entries = r.xreadgroup(group, consumer, {stream: ">"}, count=count)[0][1]
        for entry_id, _ in entries:
            r.xack(stream, group, entry_id)
        return [entry_id for entry_id, _ in entries]

    outcome = _load(3, r, prefix)[1].evaluate(read_and_ack)
    assert outcome.status == "wrong"
    assert "nothing new" in outcome.message and "if not reply: return []" in outcome.message


# --- every lesson: the call text ---------------------------------------------

def test_messages_name_the_client_r_not_its_repr(r, prefix):
    def read_and_ack(r, stream, group, consumer, count):
        raise KeyError("oops")

    outcome = _load(3, r, prefix)[1].evaluate(read_and_ack)
    assert outcome.status == "error"
    assert f"`read_and_ack(r, '{prefix}ex1', 'reporting', 'alice', 3)`" in outcome.message
    assert "streamlab.Client" not in outcome.message and "connected to" not in outcome.message


def test_messages_show_datetimes_short(r, prefix):
    def window(r, stream, start, end):
        raise ValueError("nope")

    outcome = _load(2, r, prefix)[1].evaluate(window)
    assert outcome.status == "error"
    assert "<2023-11-14T22:13:25+00:00>" in outcome.message
    assert "datetime.datetime(" not in outcome.message


def test_03_ex1_reading_with_noack_is_wrong(r, prefix):
    def read_and_ack(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count, noack=True)
        return [entry_id for entry_id, _ in reply[0][1]] if reply else []

    outcome = _load(3, r, prefix)[1].evaluate(read_and_ack)
    assert outcome.status == "wrong"
    assert "NOACK" in outcome.message and "at most once" in outcome.message
