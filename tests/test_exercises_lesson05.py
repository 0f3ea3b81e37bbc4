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


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, *answer, status="wrong"):
    outcome = exercise.evaluate(*answer)
    assert outcome.status == status, outcome
    return outcome.message


def test_ex1_exact_feedback(ex, r, prefix):
    key = prefix + "ex1"
    assert _said(ex[1], 0, status="not-attempted") == (
        f"{key} does not exist yet: run the whole exercise cell, it fills the stream first.")
    r.xadd(key, {"x": 1})
    assert _said(ex[1], 0) == (
        f"{key} does not hold the entries the exercise cell adds: run the whole cell again, from "
        "`r.delete(...)` on.")
    r.delete(key)
    fill_ex1(r, prefix)
    assert _said(ex[1], 0) == f"{key} still has all 1234 entries: nothing was trimmed."
    r.xtrim(key, maxlen=501, approximate=False)
    assert _said(ex[1], 733) == (
        f"{key} has 501 entries, not 500: that is what `~` does (it only drops whole 100-entry "
        "nodes). redis-py's xtrim() is approximate by default: pass approximate=False.")
    removed = 733 + r.xtrim(key, maxlen=500, approximate=False)
    for wrong in ("734", True, 734.0):
        assert _said(ex[1], wrong) == (
            f"`removed` should be the number XTRIM returned, not {type(wrong).__name__}.")
    assert _said(ex[1], 1) == (
        "`removed` is 1, but trimming 1234 entries to 500 removes 734: keep the reply of the XTRIM "
        "that did the trim.")
    assert _said(ex[1], removed, status="correct") == f"{key} holds the newest 500 entries; XTRIM removed 734."
    r.xtrim(key, maxlen=499, approximate=False)
    assert _said(ex[1], removed) == f"{key} has only 499 entries: the newest 500 should stay."


def test_ex1_exact_feedback_for_entries_removed_the_wrong_way(ex, r, prefix):
    key = prefix + "ex1"
    fill_ex1(r, prefix)
    newest = [entry_id for entry_id, _ in r.xrevrange(key, count=734)]
    r.xdel(key, *newest[1:])
    r.xtrim(key, maxlen=500, approximate=False)
    assert _said(ex[1], 1) == (
        "the oldest entry left is number 1, but keeping the newest 500 of 1234 starts at 734: trim "
        "from the old end (XTRIM does), do not delete entries yourself.")
    r.delete(key)
    fill_ex1(r, prefix)
    oldest = [entry_id for entry_id, _ in r.xrange(key, count=734)]
    removed = r.xdel(key, *oldest)
    assert _said(ex[1], removed) == (
        f"{key} has the right 500 entries, but they were removed with XDEL (XINFO STREAM shows "
        f"max-deleted-entry-id {oldest[-1]}; XTRIM leaves it at 0-0). XDEL only marks entries deleted "
        "inside their nodes, frees no memory until a whole node is empty, and takes one ID per "
        f"entry. Use one `XTRIM {key} MAXLEN 500` (exact: approximate=False).")


def test_ex2_exact_feedback(ex, r, prefix):
    key = prefix + "ex2"
    assert _said(ex[2], "0-0", status="not-attempted") == (
        f"{key} does not exist yet: run the whole exercise cell.")
    fill_ex2(r, prefix)
    assert _said(ex[2], "abc") == "'abc' is not a stream ID: it should look like '1717239300000-0'."
    want = 1717240500000
    tail = "but 45 minutes before `now` is 11:15:00 UTC on 2024-06-01."
    seconds = " It looks like seconds, not milliseconds: multiply the timestamp by 1000."
    hours = (" That is a whole number of hours off: a naive datetime is taken as local time; use one "
             "with tzinfo=timezone.utc.")
    for ms, when, why in ((want // 1000, "21:00:40 UTC on 1970-01-20", seconds),
                          (want // 1000 + 999, "21:00:41 UTC on 1970-01-20", seconds),
                          (want // 1000 + 1000, "21:00:41 UTC on 1970-01-20", ""),
                          (want + 3_600_000, "12:15:00 UTC on 2024-06-01", hours),
                          (want - 14 * 3_600_000, "21:15:00 UTC on 2024-05-31", hours),
                          (want + 15 * 3_600_000, "02:15:00 UTC on 2024-06-02", ""),
                          (want + 1000, "11:15:01 UTC on 2024-06-01", "")):
        assert _said(ex[2], f"{ms}-0") == f"`minid` '{ms}-0' is {when}, {tail}{why}"
    assert _said(ex[2], b"1717240500000-0") == (
        f"`minid` is right, but {key} still has all 180 readings: run XTRIM with it.")
    r.xtrim(key, minid="1717240440000-0", approximate=False)
    assert _said(ex[2], "1717240500000-0") == (
        f"{key} has 46 readings; keeping 11:15 to 11:59 leaves 45. Use exact trimming "
        "(approximate=False).")
    r.xtrim(key, minid="1717240500000-0", approximate=False)
    assert _said(ex[2], "1717240500000-5", status="correct") == f"{key} keeps the 45 readings from 11:15 UTC on."


def test_ex3_exact_feedback(ex):
    entries = lesson05.EX3_ENTRIES
    mib = entries * 45.5 / 1024 ** 2
    assert _said(ex[3], "many", 1) == "`maxlen` and `mib` should both be numbers."
    assert _said(ex[3], 1, [1]) == "`maxlen` and `mib` should both be numbers."
    different = "40 entries per second for 7 days is a different number."
    for maxlen, shown, hint in ((entries * 5, "120,960,000", " Each sensor sends every 5 seconds, not every second."),
                                (entries / 200, "120,960", " That is one sensor; there are 200."),
                                (entries / 7, "3,456,000", " That is one day; the stream keeps 7."),
                                (entries + 1, "24,192,001", "")):
        assert _said(ex[3], maxlen, mib) == f"`maxlen` is {shown}; {different}{hint}"
    assert _said(ex[3], entries, mib * 1.048576) == (
        "`mib` is 1,100.7; 24,192,000 entries x 45.5 bytes is about 1,050 MiB. That is in megabytes "
        "of 1,000,000 bytes; use 1024 * 1024.")
    assert _said(ex[3], entries, mib * 1.07) == (  # just too far from megabytes for that hint
        "`mib` is 1,123.2; 24,192,000 entries x 45.5 bytes is about 1,050 MiB.")
    assert _said(ex[3], entries, mib * 0.97) == (
        "`mib` is 1,018.3; 24,192,000 entries x 45.5 bytes is about 1,050 MiB.")
    right = "MAXLEN ~ 24,192,000 and about 1,050 MiB: worth knowing before the server runs out of memory."
    assert _said(ex[3], str(entries), str(round(mib * 1.019)), status="correct") == right
    assert _said(ex[3], entries, mib * 0.981, status="correct") == right


def test_ex4_exact_feedback(ex, r, prefix):
    key = prefix + "ex4"
    assert _said(ex[4], [], status="not-attempted") == (
        f"{key} or its group 'workers' does not exist: run the whole exercise cell.")
    setup_ex4(r, prefix)
    pending = [p["message_id"] for p in r.xpending_range(key, "workers", "-", "+", 10)]
    assert _said(ex[4], []) == (
        f"the PEL still lists 3 entries that no longer exist ({', '.join(pending[:3])}): XAUTOCLAIM "
        "removes them and returns their IDs.")
    reply = r.xautoclaim(key, "workers", "cleaner", 0)
    deleted = reply[2]
    assert _said(ex[4], reply) == (
        "`deleted` is XAUTOCLAIM's whole reply: [next cursor, claimed entries, deleted IDs]. Your "
        "answer is its third element: `reply[2]` (or unpack it: `cursor, claimed, deleted = "
        "r.xautoclaim(...)`).")
    for wrong in (",".join(deleted), b"1-0", 3):
        assert _said(ex[4], wrong) == "`deleted` should be the list of IDs XAUTOCLAIM reported as deleted."
    for wrong in ([1, 2, 3], ["1-0", "x", "2-0"], [deleted]):
        assert _said(ex[4], wrong) == (
            f"`deleted` is {wrong!r:.200}; it should hold only entry IDs (strings like "
            "'1717239300000-0'): the third element of XAUTOCLAIM's reply.")
    existing = [entry_id for entry_id, _ in r.xrange(key)]
    later = f"{int(existing[-1].split('-')[0]) + 1}-0"
    for wrong in (deleted[:2], deleted + deleted[:1], deleted[:2] * 2 + deleted[:0],
                  deleted[:2] + existing[:1], deleted[:2] + [later], deleted[:2] + [existing[0].replace("-0", "-9")]):
        assert _said(ex[4], wrong) == (
            f"`deleted` is {[str(d) for d in wrong]}; it should be the 3 IDs of trimmed entries, the "
            "third element of XAUTOCLAIM's reply.")
    right = ("the 3 trimmed IDs are out of the PEL; 2 real entries are still pending and can be "
             "claimed as usual.")
    assert _said(ex[4], [d.encode() for d in deleted], status="correct") == right
    assert _said(ex[4], tuple(deleted), status="correct") == right
    r.xack(key, "workers", *existing)
    assert _said(ex[4], deleted) == (
        "the PEL is empty: the two entries that still exist should stay pending until a consumer "
        "processes and acknowledges them.")


def test_ex2_the_time_shown_is_utc_whatever_the_machines_zone(ex, r, prefix, monkeypatch):
    import time

    fill_ex2(r, prefix)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        said = _said(ex[2], "1717244100000-0")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert said.startswith("`minid` '1717244100000-0' is 12:15:00 UTC on 2024-06-01, but")


def test_ex3_the_edges_of_the_tolerance(ex):
    entries = lesson05.EX3_ENTRIES
    mib = entries * 45.5 / 1024 ** 2
    assert ex[3].evaluate(entries, mib * 1.02).correct  # exactly 2 % off still passes
    megabytes = mib * 1.048576
    # Just inside 2 % of the megabyte figure: named; exactly 2 % away: not.
    assert _said(ex[3], entries, megabytes * 1.001).endswith(
        " That is in megabytes of 1,000,000 bytes; use 1024 * 1024.")
    assert _said(ex[3], entries, megabytes + 0.02 * mib).endswith("is about 1,050 MiB.")


def test_ex4_ids_judged_as_ids(ex, r, prefix):
    key = prefix + "ex4"
    for n, entry_id in enumerate(("3-0", "4-0", "5-0", "9-0", "10-0")):
        r.xadd(key, {"job": n}, id=entry_id)
    r.xgroup_create(key, "workers", id="0")
    r.xreadgroup("workers", "crashed", {key: ">"})
    r.xtrim(key, maxlen=2, approximate=False)
    assert r.xautoclaim(key, "workers", "cleaner", 0)[2] == ["3-0", "4-0", "5-0"]
    trimmed = "; it should be the 3 IDs of trimmed entries, the third element of XAUTOCLAIM's reply."
    # 9-5 is after the oldest entry left (9-0), though before 10-0, which is first as text.
    assert _said(ex[4], ["3-0", "4-0", "9-5"]) == "`deleted` is ['3-0', '4-0', '9-5']" + trimmed
    assert _said(ex[4], ["3-0", "3-0", "4-0"]) == "`deleted` is ['3-0', '3-0', '4-0']" + trimmed
    assert _said(ex[4], ["3-0", "4-0", "5"]) == (
        "`deleted` is ['3-0', '4-0', '5']; it should hold only entry IDs (strings like "
        "'1717239300000-0'): the third element of XAUTOCLAIM's reply.")
    assert ex[4].evaluate(["3-0", "4-0", "5-0"]).correct
