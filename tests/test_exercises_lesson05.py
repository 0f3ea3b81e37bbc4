"""Lesson 05's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streamlab import exercises, ids, retention
from streamlab.exercises import lesson05


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(5, r, prefix=prefix), start=1))


def fill_ex1(r, prefix):
    pipe = r.pipeline(transaction=False)
    for n in range(lesson05.EX1_START):
        pipe.xadd(prefix + "ex1", {"n": n})
    pipe.execute()


def fill_ex2(r, prefix):
    retention.fill_history(r, prefix + "ex2", lesson05.EX2_START, timedelta(minutes=1),
                           lesson05.EX2_READINGS)


def setup_ex4(r, prefix):
    key = prefix + "ex4"
    for n in range(8):
        r.xadd(key, {"job": n})
    r.xgroup_create(key, "workers", id="0")
    r.xreadgroup("workers", "crashed", {key: ">"}, count=5)
    r.xtrim(key, maxlen=5, approximate=False)
    return key


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_untouched_exercise_is_not_attempted(ex, number):
    answers = (...,) * len(ex[number].answer_names)
    assert ex[number].evaluate(*answers).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 4])
def test_answer_without_running_the_setup_is_not_attempted(ex, number):
    assert ex[number].evaluate(0).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_approximate_trim_is_wrong_and_names_the_redis_py_default(ex, r, prefix):
    fill_ex1(r, prefix)
    removed = r.xtrim(prefix + "ex1", maxlen=500)  # redis-py: ~ unless told otherwise
    assert r.xlen(prefix + "ex1") > 500
    outcome = ex[1].evaluate(removed)
    assert outcome.status == "wrong"
    assert "approximate=False" in outcome.message


def test_ex1_untrimmed_stream_is_wrong(ex, r, prefix):
    fill_ex1(r, prefix)
    outcome = ex[1].evaluate(0)
    assert outcome.status == "wrong" and "nothing was trimmed" in outcome.message


def test_ex1_reply_of_a_second_xtrim_is_wrong(ex, r, prefix):
    fill_ex1(r, prefix)
    r.xtrim(prefix + "ex1", maxlen=500, approximate=False)
    again = r.xtrim(prefix + "ex1", maxlen=500, approximate=False)
    outcome = ex[1].evaluate(again)
    assert outcome.status == "wrong" and "removes 734" in outcome.message


def test_ex2_seconds_instead_of_milliseconds_is_wrong(ex, r, prefix):
    fill_ex2(r, prefix)
    cutoff = lesson05.EX2_NOW - timedelta(minutes=45)
    outcome = ex[2].evaluate(f"{int(cutoff.timestamp())}-0")
    assert outcome.status == "wrong" and "milliseconds" in outcome.message


def test_ex2_an_hour_off_points_at_time_zones(ex, r, prefix):
    fill_ex2(r, prefix)
    cutoff = lesson05.EX2_NOW - timedelta(minutes=45) + timedelta(hours=2)
    outcome = ex[2].evaluate(f"{int(cutoff.timestamp() * 1000)}-0")
    assert outcome.status == "wrong" and "timezone.utc" in outcome.message


def test_ex2_right_minid_but_no_trim_is_wrong(ex, r, prefix):
    fill_ex2(r, prefix)
    minid = ids.from_datetime(lesson05.EX2_NOW - timedelta(minutes=45))
    outcome = ex[2].evaluate(minid)
    assert outcome.status == "wrong" and "run XTRIM" in outcome.message


def test_ex2_approximate_minid_trim_is_wrong(ex, r, prefix):
    fill_ex2(r, prefix)
    minid = ids.from_datetime(lesson05.EX2_NOW - timedelta(minutes=45))
    r.xtrim(prefix + "ex2", minid=minid, approximate=True)
    outcome = ex[2].evaluate(minid)
    assert outcome.status == "wrong" and "approximate=False" in outcome.message


@pytest.mark.parametrize("maxlen, says", [
    (200 * 7 * 24 * 3600, "every 5 seconds"),
    (7 * 24 * 3600 // 5, "one sensor"),
    (200 * 24 * 3600 // 5, "one day"),
])
def test_ex3_common_slips_are_named(ex, maxlen, says):
    outcome = ex[3].evaluate(maxlen, 1000)
    assert outcome.status == "wrong" and says in outcome.message


def test_ex3_megabytes_instead_of_mebibytes_is_wrong(ex):
    entries = lesson05.EX3_ENTRIES
    outcome = ex[3].evaluate(entries, entries * 45.5 / 1_000_000)
    assert outcome.status == "wrong" and "1024 * 1024" in outcome.message


def test_ex4_untouched_pel_is_wrong(ex, r, prefix):
    setup_ex4(r, prefix)
    outcome = ex[4].evaluate([])
    assert outcome.status == "wrong" and "no longer exist" in outcome.message


def test_ex4_acking_everything_is_wrong(ex, r, prefix):
    key = setup_ex4(r, prefix)
    ids = [p["message_id"] for p in r.xpending_range(key, "workers", "-", "+", 10)]
    r.xack(key, "workers", *ids)
    outcome = ex[4].evaluate(ids[:3])
    assert outcome.status == "wrong" and "should stay pending" in outcome.message


def test_ex4_wrong_list_of_deleted_ids_is_wrong(ex, r, prefix):
    key = setup_ex4(r, prefix)
    r.xautoclaim(key, "workers", "cleaner", 0)
    outcome = ex[4].evaluate([e[0] for e in r.xrange(key)][:3])
    assert outcome.status == "wrong" and "third element" in outcome.message


def test_ex1_deleting_the_newest_entries_instead_is_wrong(ex, r, prefix):
    fill_ex1(r, prefix)
    newest = [entry_id for entry_id, _ in r.xrevrange(prefix + "ex1", count=734)]
    r.xdel(prefix + "ex1", *newest[1:])  # keep the very newest, drop 733 others from the new end
    r.xtrim(prefix + "ex1", maxlen=500, approximate=False)
    outcome = ex[1].evaluate(1)
    assert outcome.status == "wrong" and "trim from the old end" in outcome.message


def test_ex1_xdel_of_the_oldest_entries_is_not_trimming(ex, r, prefix):
    fill_ex1(r, prefix)
    oldest = [entry_id for entry_id, _ in r.xrange(prefix + "ex1", count=734)]
    removed = r.xdel(prefix + "ex1", *oldest)  # right length, right oldest entry, right count
    outcome = ex[1].evaluate(removed)
    assert outcome.status == "wrong"
    assert "removed with XDEL" in outcome.message and "max-deleted-entry-id" in outcome.message


def test_ex1_one_exact_xtrim_passes(ex, r, prefix):
    fill_ex1(r, prefix)
    outcome = ex[1].evaluate(r.xtrim(prefix + "ex1", maxlen=500, approximate=False))
    assert outcome.correct, outcome


def test_ex4_the_whole_xautoclaim_reply_is_not_the_deleted_ids(ex, r, prefix):
    key = setup_ex4(r, prefix)
    reply = r.xautoclaim(key, "workers", "cleaner", 0)
    outcome = ex[4].evaluate(reply)
    assert outcome.status == "wrong"
    assert "whole reply" in outcome.message and "third element" in outcome.message


def test_ex4_the_third_element_of_the_reply_passes(ex, r, prefix):
    key = setup_ex4(r, prefix)
    outcome = ex[4].evaluate(r.xautoclaim(key, "workers", "cleaner", 0)[2])
    assert outcome.correct, outcome
