"""Planted wrong answers for the checkers' feedback that no other test reached.

Each ``raise Wrong(...)`` in ``streamlab/exercises/lessonNN.py`` is what a learner reads
after one particular mistake. The per-lesson test files cover the common ones; this file
plants one wrong answer for each of the others (as learntools' tests do) and asserts
the outcome is "wrong" and the message says what the mistake was.
``tools/checker_branches.py`` runs all the checker tests under coverage and lists any
``raise Wrong``/``raise NotAttempted`` still never reached.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from streamlab import exercises, retention
from streamlab.exercises import lesson05, lesson06


def load(lesson, r, prefix):
    return dict(enumerate(exercises.load(lesson, r, prefix=prefix), start=1))


def assert_wrong(exercise, *answers, says: str):
    outcome = exercise.evaluate(*answers)
    assert outcome.status == "wrong", outcome
    assert says in outcome.message, outcome.message
    assert "Traceback" not in outcome.message
    return outcome


# --- lesson 01 -------------------------------------------------------------------------------

@pytest.fixture
def ex01(r, prefix):
    return load(1, r, prefix)


def _kitchen(r, stream, temps=("20.5", "20.7", "21.0"), sensor="kitchen"):
    return [r.xadd(stream, {"sensor_id": sensor, "temp": t}) for t in temps]


def test_l01_ex1_a_number_instead_of_a_list(ex01):
    assert_wrong(ex01[1], 3, says="should be a list of the three IDs XADD returned, not int")


def test_l01_ex1_ids_but_nothing_in_the_stream(ex01):
    assert_wrong(ex01[1], ["1-0", "2-0", "3-0"], says="is empty (or does not exist)")


def test_l01_ex1_only_two_of_the_three_ids_kept(ex01, r, prefix):
    ids = _kitchen(r, prefix + "ex1")
    assert_wrong(ex01[1], ids[:2], says="`ids` holds 2 IDs")


def test_l01_ex1_ids_in_the_wrong_order(ex01, r, prefix):
    ids = _kitchen(r, prefix + "ex1")
    assert_wrong(ex01[1], ids[::-1], says="not in the order the entries were added")


def test_l01_ex1_a_temp_that_is_not_a_number(ex01, r, prefix):
    ids = _kitchen(r, prefix + "ex1", temps=("20.5", "warm", "21.0"))
    assert_wrong(ex01[1], ids, says="has temp 'warm', which is not a number")


def test_l01_ex2_a_string_instead_of_a_datetime(ex01):
    assert_wrong(ex01[2], lambda entry_id: entry_id.split("-")[0], says="return a datetime")


def test_l01_ex4_not_an_id(ex01):
    assert_wrong(ex01[4], "lab1", says="should be the ID XADD returned")


def _ex4_entry(r, prefix, **fields):
    base = {"sensor_id": "lab1", "temp": "21.5", "location": json.dumps({"room": "lab", "floor": 2})}
    base.update(fields)
    return r.xadd(prefix + "ex4", {k: v for k, v in base.items() if v is not None})


def test_l01_ex4_another_sensor(ex01, r, prefix):
    assert_wrong(ex01[4], _ex4_entry(r, prefix, sensor_id="lab2"), says="sensor_id is 'lab2'")


def test_l01_ex4_another_temperature(ex01, r, prefix):
    assert_wrong(ex01[4], _ex4_entry(r, prefix, temp="22"), says="the exercise asks for 21.5")


def test_l01_ex4_no_location(ex01, r, prefix):
    assert_wrong(ex01[4], _ex4_entry(r, prefix, location=None), says="has no location field")


def test_l01_ex4_location_that_is_not_json(ex01, r, prefix):
    assert_wrong(ex01[4], _ex4_entry(r, prefix, location="room=lab;floor=2"), says="which is not JSON")


# --- lesson 02 -------------------------------------------------------------------------------

@pytest.fixture
def ex02(r, prefix):
    return load(2, r, prefix)


def _window(r, stream, start, end):
    """Exercise 1's right answer, to build wrong ones from."""
    return r.xrange(stream, round(start.timestamp() * 1000), round(end.timestamp() * 1000) - 1)


def _read_in_pages(r, stream, page_size):
    out, start = [], "-"
    while True:
        page = r.xrange(stream, min=start, max="+", count=page_size)
        out += page
        if len(page) < page_size:
            return out
        start = "(" + page[-1][0]


def test_l02_ex1_a_dict_instead_of_entries(ex02):
    assert_wrong(ex02[1], lambda r, stream, start, end: dict(_window(r, stream, start, end)),
                 says="should be a list of (id, fields) entries, not dict")


def test_l02_ex1_ids_instead_of_pairs(ex02):
    assert_wrong(ex02[1], lambda r, stream, start, end: [i for i, _ in _window(r, stream, start, end)],
                 says="should hold (id, fields) pairs")


def test_l02_ex2_only_the_first_page(ex02):
    assert_wrong(ex02[2], lambda r, stream, page_size: r.xrange(stream, count=page_size),
                 says="returned 100 of the 250 entries (150 missing)")


def test_l02_ex2_every_entry_but_newest_first(ex02):
    assert_wrong(ex02[2], lambda r, stream, page_size: _read_in_pages(r, stream, page_size)[::-1],
                 says="not in the stream's order")


def test_l02_ex2_something_read_from_a_missing_key(ex02):
    def read_in_pages(r, stream, page_size):
        return _read_in_pages(r, stream, page_size) or [("1-0", {"n": "0"})]

    assert_wrong(ex02[2], read_in_pages, says="on a key that does not exist it should return []")


def _read_new(r, positions):
    new = dict(positions)
    entries = []
    for stream, got in r.xread(positions):
        entries += got
        new[stream] = got[-1][0]
    return entries, new


def test_l02_ex3_entries_only_not_a_pair(ex02):
    assert_wrong(ex02[3], lambda r, positions: _read_new(r, positions)[0],
                 says="should return a pair (entries, new_positions)")


def test_l02_ex3_reading_every_stream_from_the_start(ex02):
    assert_wrong(ex02[3], lambda r, positions: _read_new(r, {k: "0" for k in positions}),
                 says="the very ID stored for it")


def test_l02_ex3_reading_only_the_last_stream(ex02):
    # (Only the last one: the streams' IDs can be equal strings, as they are made in the same
    # millisecond, so a wrong answer holding the first stream's entries may be diagnosed as
    # holding the third's stored ID.)
    def read_new(r, positions):
        last = list(positions)[-1]
        return _read_new(r, {last: positions[last]})[0], dict(positions)

    assert_wrong(ex02[3], read_new, says=" new entries in ")


def test_l02_ex3_a_second_call_that_finds_old_entries_again(ex02):
    calls = []

    def read_new(r, positions):
        calls.append(positions)
        if len(calls) == 1:
            return _read_new(r, positions)
        return _read_new(r, {k: "0" for k in positions})  # forgot the stored positions

    assert_wrong(ex02[3], read_new, says="called again with the new positions")


def _next_after(r, stream, timeout_ms):
    reply = r.xread({stream: "$"}, block=timeout_ms)
    return reply[0][1][0] if reply else None


def test_l02_ex4_none_though_entries_came(ex02):
    def wait_for_next(r, stream, timeout_ms):
        time.sleep(0.4)  # the learner's function waits, but never reads
        return None

    assert_wrong(ex02[4], wait_for_next, says="though entries were added every 0.3 s")


def test_l02_ex4_an_entry_it_added_itself(ex02):
    def wait_for_next(r, stream, timeout_ms):
        new_id = r.xadd(stream, {"n": "mine"})
        return (new_id, {"n": "mine"})

    assert_wrong(ex02[4], wait_for_next, says="which is not an entry added during the wait")


def test_l02_ex4_something_on_a_timeout(ex02):
    def wait_for_next(r, stream, timeout_ms):
        return _next_after(r, stream, timeout_ms) or ("0-1", {})

    assert_wrong(ex02[4], wait_for_next, says="though nothing was added")


def test_l02_ex4_no_wait_on_a_timeout(ex02):
    def wait_for_next(r, stream, timeout_ms):
        if timeout_ms < 1000:
            return None  # gives up at once instead of waiting timeout_ms
        return _next_after(r, stream, timeout_ms)

    assert_wrong(ex02[4], wait_for_next, says="it should wait about 0.3 s")


# --- lesson 03 -------------------------------------------------------------------------------

@pytest.fixture
def ex03(r, prefix):
    return load(3, r, prefix)


def _read_and_ack(r, stream, group, consumer, count):
    reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count)
    ids = [i for _, entries in reply for i, _ in entries]
    if ids:
        r.xack(stream, group, *ids)
    return ids


def test_l03_ex1_a_count_instead_of_ids(ex03):
    assert_wrong(ex03[1], lambda *args: len(_read_and_ack(*args)), says="return the list of entry IDs")


def test_l03_ex1_ids_in_another_order(ex03):
    assert_wrong(ex03[1], lambda *args: _read_and_ack(*args)[::-1],
                 says="each call should get the next entries")


def test_l03_ex2_a_list_instead_of_a_dict(ex03):
    def pending_by_consumer(r, stream, group):
        return [[c["name"], c["pending"]] for c in r.xpending(stream, group)["consumers"]]

    assert_wrong(ex03[2], pending_by_consumer, says="returned list; return a dict")


def test_l03_ex2_values_that_are_not_counts(ex03):
    assert_wrong(ex03[2], lambda r, stream, group: {"a1": "two", "a2": "three"},
                 says="the values should be counts")


def test_l03_ex2_counts_that_xpending_does_not_give(ex03):
    assert_wrong(ex03[2], lambda r, stream, group: {"a1": 1, "a2": 3}, says="but XPENDING says")


def test_l03_ex3_without_mkstream_the_error_swallowed(ex03):
    import redis

    def start_group(r, stream, group):
        try:
            r.xgroup_create(stream, group, id="0")
        except redis.ResponseError:
            pass

    assert_wrong(ex03[3], start_group, says="MKSTREAM lets XGROUP CREATE make the stream")


def test_l03_ex3_a_group_only_for_missing_streams(ex03):
    def start_group(r, stream, group):
        if not r.exists(stream):
            r.xgroup_create(stream, group, id="0", mkstream=True)

    assert_wrong(ex03[3], start_group, says="there is no group 'ingest'")


def test_l03_ex3_a_restart_that_drops_the_group(ex03):
    import redis

    def start_group(r, stream, group):
        try:
            r.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError:
            r.xgroup_destroy(stream, group)  # "start clean": loses position and pending entries

    assert_wrong(ex03[3], start_group, says="the group is gone")


# --- lesson 04 -------------------------------------------------------------------------------

@pytest.fixture
def ex04(r, prefix):
    return load(4, r, prefix)


def _stuck(r, stream, group, min_idle_ms):
    return [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 1000, idle=min_idle_ms)]


def test_l04_ex1_right_entries_newest_first(ex04):
    assert_wrong(ex04[1], lambda *args: _stuck(*args)[::-1], says="not in ID order")


def test_l04_ex1_nothing_found(ex04):
    assert_wrong(ex04[1], lambda *args: [], says="but the entries idle for 60000 ms or more are")


def _autoclaim_all(r, stream, group, consumer, min_idle_ms):
    cursor, ids = "0-0", []
    while True:
        cursor, claimed, *_ = r.xautoclaim(stream, group, consumer, min_idle_ms, start_id=cursor)
        ids += [i for i, _ in claimed]
        if cursor == "0-0":
            return ids


def test_l04_ex2_one_page_of_fifty(ex04):
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        return [i for i, _ in r.xautoclaim(stream, group, consumer, min_idle_ms, count=50)[1]]

    assert_wrong(ex04[2], rescue_all, says="'rescuer' holds 50 entries")


def test_l04_ex2_claims_everything_returns_nothing(ex04):
    def rescue_all(*args):
        _autoclaim_all(*args)
        return []

    assert_wrong(ex04[2], rescue_all, says="return the claimed IDs")


def _poison(r, stream, group, max_deliveries, over=None):
    over = max_deliveries if over is None else over
    return [(p["message_id"], p["times_delivered"])
            for p in r.xpending_range(stream, group, "-", "+", 1000) if p["times_delivered"] > over]


# XACK and the copy's XADD in one step, as the lesson teaches (the checker may crash the answer
# between the two to check that).
_MOVE = ("if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then "
         "return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) end")


def _dead_letter(r, stream, group, dead, max_deliveries, over=None, copy=None, ack_all=False):
    move = r.register_script(_MOVE)
    moved = []
    for entry_id, n in _poison(r, stream, group, max_deliveries, over):
        fields = r.xrange(stream, entry_id, entry_id)[0][1]
        body = copy(fields, entry_id, n) if copy else {**fields, "original_id": entry_id, "deliveries": n}
        if move(keys=[stream, dead], args=[group, entry_id, *[x for kv in body.items() for x in kv]]):
            moved.append(entry_id)
    if ack_all:
        everything = [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 1000)]
        if everything:
            r.xack(stream, group, *everything)
    return moved


def test_l04_ex3_nothing_dead_lettered(ex04):
    assert_wrong(ex04[3], lambda r, stream, group, dead, max_deliveries: [],
                 says="is empty; XADD a copy of each entry delivered more than 3 times")


def test_l04_ex3_only_the_worst_entries(ex04):
    assert_wrong(ex04[3], lambda r, s, g, d, m: _dead_letter(r, s, g, d, m, over=m + 1),
                 says="but the entries delivered more than 3 times are")


def test_l04_ex3_a_delivery_count_that_is_not_xpendings(ex04):
    """The dead-letter copy must carry the delivery count XPENDING gave (here: one too few)."""
    assert_wrong(ex04[3], lambda r, s, g, d, m: _dead_letter(
        r, s, g, d, m, copy=lambda f, i, n: {**f, "original_id": i, "deliveries": n - 1}),
        says="XPENDING said it was delivered")


def test_l04_ex3_a_copy_without_the_entrys_fields(ex04):
    assert_wrong(ex04[3], lambda r, s, g, d, m: _dead_letter(
        r, s, g, d, m, copy=lambda f, i, n: {"original_id": i, "deliveries": n}),
        says="lost the entry's own fields")


def test_l04_ex3_acking_the_healthy_entries_too(ex04):
    assert_wrong(ex04[3], lambda r, s, g, d, m: _dead_letter(r, s, g, d, m, ack_all=True),
                 says="entries that were not poison left the PEL too")


def test_l04_ex3_right_moves_wrong_return(ex04):
    def dead_letter_poison(*args):
        _dead_letter(*args)
        return []

    assert_wrong(ex04[3], dead_letter_poison, says="rather than the moved IDs")


def test_l04_ex4_marks_but_never_adds(ex04):
    def apply_once(r, prefix, entry_id, amount):
        return bool(r.set(prefix + "processed:" + entry_id, 1, nx=True))

    assert_wrong(ex04[4], apply_once, says="the total should be 14")


def test_l04_ex4_right_total_but_no_answer(ex04):
    def apply_once(r, prefix, entry_id, amount):
        if r.set(prefix + "processed:" + entry_id, 1, nx=True):
            r.incrby(prefix + "total", amount)

    assert_wrong(ex04[4], apply_once, says="return True when the amount was applied")


# --- lesson 05 -------------------------------------------------------------------------------

@pytest.fixture
def ex05(r, prefix):
    return load(5, r, prefix)


def _fill_ex1(r, prefix, fields=lambda n: {"n": n}):
    pipe = r.pipeline(transaction=False)
    for n in range(lesson05.EX1_START):
        pipe.xadd(prefix + "ex1", fields(n))
    pipe.execute()


def test_l05_ex1_a_stream_the_cell_did_not_fill(ex05, r, prefix):
    _fill_ex1(r, prefix, fields=lambda n: {"reading": n})
    assert_wrong(ex05[1], 0, says="does not hold the entries the exercise cell adds")


def test_l05_ex1_trimmed_too_far(ex05, r, prefix):
    _fill_ex1(r, prefix)
    removed = r.xtrim(prefix + "ex1", maxlen=400, approximate=False)
    assert_wrong(ex05[1], removed, says="has only 400 entries")


def test_l05_ex1_the_reply_as_text(ex05, r, prefix):
    _fill_ex1(r, prefix)
    removed = r.xtrim(prefix + "ex1", maxlen=500, approximate=False)
    assert_wrong(ex05[1], str(removed), says="should be the number XTRIM returned, not str")


def test_l05_ex2_not_a_stream_id(ex05, r, prefix):
    retention.fill_history(r, prefix + "ex2", lesson05.EX2_START, timedelta(minutes=1),
                           lesson05.EX2_READINGS)
    assert_wrong(ex05[2], "11:15", says="is not a stream ID")


def test_l05_ex3_not_numbers(ex05):
    assert_wrong(ex05[3], "lots", "plenty", says="should both be numbers")


def test_l05_ex4_deleted_given_as_text(ex05, r, prefix):
    key = prefix + "ex4"
    for n in range(8):
        r.xadd(key, {"job": n})
    r.xgroup_create(key, "workers", id="0")
    r.xreadgroup("workers", "crashed", {key: ">"}, count=5)
    r.xtrim(key, maxlen=5, approximate=False)
    deleted = r.xautoclaim(key, "workers", "cleaner", 0)[2]
    assert len(deleted) == 3
    assert_wrong(ex05[4], ",".join(deleted), says="should be the list of IDs XAUTOCLAIM reported")


# --- lesson 06 -------------------------------------------------------------------------------

@pytest.fixture
def ex06(r, prefix):
    return load(6, r, prefix)


def _setup_l06_ex2(r, prefix):
    key = prefix + "ex2"
    r.xgroup_create(key, lesson06.EX2_GROUP, id="$", mkstream=True)
    for seq in range(1, lesson06.EX2_EVENTS + 1):
        r.xadd(key, {"seq": seq})
    return key


def _catch_up(r, key):
    seen = []
    while True:
        reply = r.xreadgroup(lesson06.EX2_GROUP, "me", {key: ">"}, count=10)
        if not reply:
            return seen
        for entry_id, fields in reply[0][1]:
            seen.append(int(fields["seq"]))
            r.xack(key, lesson06.EX2_GROUP, entry_id)


def test_l06_ex1_an_empty_pattern(ex06):
    assert_wrong(ex06[1], "", says="should be a string such as")


def test_l06_ex2_seen_that_is_not_numbers(ex06, r, prefix):
    _setup_l06_ex2(r, prefix)
    assert_wrong(ex06[2], ["first", "second"], says="as numbers")


def test_l06_ex2_every_event_but_out_of_order(ex06, r, prefix):
    seen = _catch_up(r, _setup_l06_ex2(r, prefix))
    assert_wrong(ex06[2], seen[::-1], says="not in stream order")


def test_l06_ex3_a_list_instead_of_the_dict(ex06):
    assert_wrong(ex06[3], ["pubsub", "streams"], says="should be the dict from the exercise cell")


def test_l06_ex3_some_jobs_left_unanswered(ex06):
    choices = {job: ... for job in lesson06.EX3_ANSWERS}
    first = next(iter(choices))
    choices[first] = lesson06.EX3_ANSWERS[first]
    assert_wrong(ex06[3], choices, says="still to answer")


# --- lesson 07 -------------------------------------------------------------------------------

@pytest.fixture
def ex07(r, prefix):
    return load(7, r, prefix)


def _unfinished(r, stream, group):
    pending = [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 10000)]
    last = next(g for g in r.xinfo_groups(stream) if g["name"] == group)["last-delivered-id"]
    return pending + [i for i, _ in r.xrange(stream, "(" + last, "+")]


def test_l07_ex2_a_consumer_that_does_not_exist(ex07):
    assert_wrong(ex07[2], lambda r, stream, group: ("w9", 5), says="returned 'w9'")


def test_l07_ex3_one_id_as_text(ex07):
    assert_wrong(ex07[3], lambda *args: ",".join(_unfinished(*args)), says="return a list of entry IDs")


def test_l07_ex3_part_of_the_never_delivered(ex07):
    assert_wrong(ex07[3], lambda *args: _unfinished(*args)[:-2], says="the unfinished ones are")


def test_the_planted_answers_are_not_accidentally_right(r, prefix):
    """Guard for this file: each lesson's right answer built from the same helpers passes."""
    ex = load(2, r, prefix)
    assert ex[1].evaluate(_window).correct
    assert ex[2].evaluate(_read_in_pages).correct
    assert ex[3].evaluate(_read_new).correct
    assert load(3, r, prefix)[1].evaluate(_read_and_ack).correct
    ex = load(4, r, prefix)
    assert ex[1].evaluate(_stuck).correct
    assert ex[2].evaluate(_autoclaim_all).correct
    assert ex[3].evaluate(_dead_letter).correct
    assert load(7, r, prefix)[3].evaluate(_unfinished).correct


# --- feedback added with the checker changes merged from main (h2, h3) --------------------------

def test_l02_ex1_a_date_written_as_text_as_the_range_end(ex02):
    assert_wrong(ex02[1], lambda r, stream, start, end: r.xrange(stream, str(start), str(end)),
                 says="that is a date written as text")


def test_l02_ex1_a_fraction_of_a_millisecond(ex02):
    def window(r, stream, start, end):
        return r.xrange(stream, start.timestamp() * 1000 + 0.5, end.timestamp() * 1000 - 0.5)

    assert_wrong(ex02[1], window, says="an ID's milliseconds are a whole number")


def test_l02_ex1_seconds_instead_of_milliseconds(ex02):
    def window(r, stream, start, end):
        return r.xrange(stream, int(start.timestamp()), int(end.timestamp()) - 1)

    assert_wrong(ex02[1], window, says="That looks like seconds since 1970")


def test_l03_ex1_reading_with_noack(ex03):
    def read_and_ack(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count, noack=True)
        return [i for _, entries in reply for i, _ in entries]

    assert_wrong(ex03[1], read_and_ack, says="your function reads with NOACK")


def test_l05_ex4_the_whole_xautoclaim_reply(ex05, r, prefix):
    key = prefix + "ex4"
    for n in range(8):
        r.xadd(key, {"job": n})
    r.xgroup_create(key, "workers", id="0")
    r.xreadgroup("workers", "crashed", {key: ">"}, count=5)
    r.xtrim(key, maxlen=5, approximate=False)
    reply = r.xautoclaim(key, "workers", "cleaner", 0)
    assert_wrong(ex05[4], reply, says="is XAUTOCLAIM's whole reply")


def test_l05_ex4_deleted_that_are_not_ids(ex05, r, prefix):
    key = prefix + "ex4"
    for n in range(8):
        r.xadd(key, {"job": n})
    r.xgroup_create(key, "workers", id="0")
    r.xreadgroup("workers", "crashed", {key: ">"}, count=5)
    r.xtrim(key, maxlen=5, approximate=False)
    r.xautoclaim(key, "workers", "cleaner", 0)
    assert_wrong(ex05[4], [0, 1, 2], says="it should hold only entry IDs")


def test_l03_ex1_no_check_for_an_empty_reply(ex03):
    def read_and_ack(r, stream, group, consumer, count):
        entries = r.xreadgroup(group, consumer, {stream: ">"}, count=count)[0][1]  # [] -> IndexError
        for entry_id, _ in entries:
            r.xack(stream, group, entry_id)
        return [i for i, _ in entries]

    assert_wrong(ex03[1], read_and_ack, says="when the group had nothing new for it")
