"""Lesson 03's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import pytest
import redis

from streamlab import exercises


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(3, r, prefix=prefix), start=1))


@pytest.mark.parametrize("number", [1, 2, 3])
def test_untouched_exercise_is_not_attempted(ex, number):
    assert ex[number].evaluate(...).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_function_left_as_a_stub_is_not_attempted(ex):
    def read_and_ack(r, stream, group, consumer, count):
        return ...  # as the notebook hands it out

    assert ex[1].evaluate(read_and_ack).status == "not-attempted"


def test_ex1_reading_without_ack_is_wrong(ex):
    def read_and_ack(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count)
        return [entry_id for _, entries in reply for entry_id, _ in entries]

    outcome = ex[1].evaluate(read_and_ack)
    assert outcome.status == "wrong"
    assert "3 pending entries" in outcome.message and "XACK" in outcome.message


def test_ex1_reading_history_instead_of_new_entries_is_wrong(ex):
    def read_and_ack(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: "0"}, count=count)
        return [entry_id for _, entries in reply for entry_id, _ in entries]

    outcome = ex[1].evaluate(read_and_ack)
    assert outcome.status == "wrong"
    assert "`>`" in outcome.message


def test_ex1_ignoring_count_is_wrong(ex):
    def read_and_ack(r, stream, group, consumer, count):
        done = []
        for _, entries in r.xreadgroup(group, consumer, {stream: ">"}):
            for entry_id, _ in entries:
                r.xack(stream, group, entry_id)
                done.append(entry_id)
        return done

    outcome = ex[1].evaluate(read_and_ack)
    assert outcome.status == "wrong"
    assert "at most `count`" in outcome.message


def test_ex2_total_instead_of_per_consumer_is_wrong(ex):
    outcome = ex[2].evaluate(lambda r, stream, group: r.xpending(stream, group)["pending"])
    assert outcome.status == "wrong"
    assert "the group's total" in outcome.message


def test_ex2_counting_deliveries_instead_of_pending_is_wrong(ex):
    def pending_by_consumer(r, stream, group):
        return {c["name"]: c["pending"] + c["name"].count("1") * 2 + c["name"].count("3") * 5
                for c in r.xinfo_consumers(stream, group)}

    outcome = ex[2].evaluate(pending_by_consumer)
    assert outcome.status == "wrong"
    assert "given (read)" in outcome.message


def test_ex2_xinfo_consumers_gives_the_same_answer(ex):
    def pending_by_consumer(r, stream, group):
        return {c["name"]: c["pending"] for c in r.xinfo_consumers(stream, group)}

    assert ex[2].evaluate(pending_by_consumer).correct


def test_ex3_the_articles_start_up_rewinds_the_group(ex):
    def start_group(r, stream, group):
        try:
            r.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError:
            pass
        r.xgroup_setid(stream, group, "0")

    outcome = ex[3].evaluate(start_group)
    assert outcome.status == "wrong"
    assert "rewound the group" in outcome.message and "set_id('0')" in outcome.message


def test_ex3_not_handling_busygroup_is_wrong(ex):
    outcome = ex[3].evaluate(lambda r, stream, group: r.xgroup_create(stream, group, id="0", mkstream=True))
    assert outcome.status == "wrong"
    assert "BUSYGROUP" in outcome.message


def test_ex3_creating_at_dollar_is_wrong(ex):
    def start_group(r, stream, group):
        try:
            r.xgroup_create(stream, group, id="$", mkstream=True)
        except redis.ResponseError:
            pass

    outcome = ex[3].evaluate(start_group)
    assert outcome.status == "wrong"
    assert "at `$`" in outcome.message


def test_ex3_without_mkstream_is_wrong(ex):
    def start_group(r, stream, group):
        try:
            r.xgroup_create(stream, group, id="0")
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    outcome = ex[3].evaluate(start_group)
    assert outcome.status == "wrong"
    assert "mkstream=True" in outcome.message


def test_ex3_walrus_create_with_start_ids_passes(ex):
    def start_group(r, stream, group):
        r.walrus.consumer_group(group, {stream: "0"}).create()

    assert ex[3].evaluate(start_group).correct


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, answer, status="wrong"):
    outcome = exercise.evaluate(answer)
    assert outcome.status == status, outcome
    return outcome.message


def _read_and_ack(r, stream, group, consumer, count):
    done = []
    for _, entries in r.xreadgroup(group, consumer, {stream: ">"}, count=count):
        for entry_id, _ in entries:
            r.xack(stream, group, entry_id)
            done.append(entry_id)
    return done


def _start_group(r, stream, group):
    try:
        r.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if not str(exc).startswith("BUSYGROUP"):
            raise


def test_ex1_exact_feedback(ex, r, prefix):
    key = prefix + "ex1"

    def call(consumer="alice", count=3):
        return f"`read_and_ack(r, '{key}', 'reporting', '{consumer}', {count})`"

    assert _said(ex[1], lambda *args: len(_read_and_ack(*args))) == (
        f"{call()} returned int 3; return the list of entry IDs you read and acked.")
    assert _said(ex[1], lambda *args: "x" * 100) == (
        f"{call()} returned str {'x' * 100!r:.80}; return the list of entry IDs you read and acked.")
    assert _said(ex[1], lambda *args: []) == (
        f"{call()} returned no IDs, but the group still had 3 entries for it. New entries come with "
        "the ID `>`; `0` only re-reads the consumer's own pending entries.")
    said = _said(ex[1], lambda r, stream, group, consumer, count: _read_and_ack(r, stream, group, consumer, 10))
    assert said == (f"{call()} returned 7 IDs: read at most `count` entries (the `count=` argument "
                    "of XREADGROUP).")
    said = _said(ex[1], lambda *args: _read_and_ack(*args)[::-1])
    ids = [i for i, _ in r.xrange(key)]
    assert said == (f"{call()} returned {ids[:3][::-1]}, expected {ids[:3]}: each call should get the "
                    "next entries the group has not handed to anyone yet.")
    said = _said(ex[1], lambda *args: _read_and_ack(*args)[:1])
    ids = [i for i, _ in r.xrange(key)]
    assert said == (f"{call()} returned {ids[:1]}, expected {ids[:3]}: each call should get the next "
                    "entries the group has not handed to anyone yet.")

    def without_ack(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count)
        return [entry_id for _, entries in reply for entry_id, _ in entries]

    assert _said(ex[1], without_ack) == (
        f"after {call()} the group still has 3 pending entries: XACK each entry once it is handled, "
        "or it stays pending for ever.")

    def with_noack(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count, noack=True)
        return [entry_id for _, entries in reply for entry_id, _ in entries]

    assert _said(ex[1], with_noack) == (
        "your function reads with NOACK (noack=True): the entries never enter the pending entries "
        "list, so a consumer that dies mid-work loses them (at most once). Read without it and XACK "
        "each entry after handling it.")

    def no_empty_check(r, stream, group, consumer, count):
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count)
        entries = reply[0][1]
        for entry_id, _ in entries:
            r.xack(stream, group, entry_id)
        return [entry_id for entry_id, _ in entries]

    assert _said(ex[1], no_empty_check) == (
        f"{call('alice', 5)} raised IndexError when the group had nothing new for it. Then XREADGROUP "
        "replies with an empty list `[]` (`(nil)` in redis-cli), so `reply[0][1]` fails: check "
        "`if not reply: return []` before taking the entries out.")


def test_ex1_the_right_answer_as_pairs_or_bytes_and_its_scene(ex, r, prefix):
    def as_pairs(*args):
        return tuple((entry_id.encode(), {}) for entry_id in _read_and_ack(*args))

    for _ in range(2):  # a second check builds its stream again
        assert _said(ex[1], as_pairs, "correct") == (
            "alice got the first 3 entries, bob the other 4, and nothing is pending: the group "
            "shared the work and every entry was acked once.")
    rows = [f for _, f in r.xrange(prefix + "ex1")]
    assert [f["sensor_id"] for f in rows[:4]] == ["sensor1", "sensor2", "sensor3", "sensor1"]
    assert [f["temp"] for f in rows[:3]] == ["20.0", "20.5", "21.0"]


def test_ex1_a_learner_error_that_is_not_about_the_empty_reply_is_an_error(ex):
    def broken(r, stream, group, consumer, count):
        raise KeyError("temp")

    assert ex[1].evaluate(broken).status == "error"

    def broken_when_empty(r, stream, group, consumer, count):
        if consumer == "alice" and count == 5:
            raise ValueError("nothing")
        return _read_and_ack(r, stream, group, consumer, count)

    assert ex[1].evaluate(broken_when_empty).status == "error"


def test_ex2_exact_feedback(ex, prefix):
    call = f"`pending_by_consumer(r, '{prefix}ex2', 'alerts')`"
    assert _said(ex[2], lambda r, stream, group: 5) == (
        f"{call} returned 5, the group's total. The exercise asks for each consumer's share: a dict "
        "such as {'a1': 2, ...}.")
    assert _said(ex[2], lambda r, stream, group: [["a1", 2]]) == (
        f"{call} returned list; return a dict {{consumer name: pending count}}.")
    assert _said(ex[2], lambda r, stream, group: {"a1": "two"}) == (
        f"{call} returned {{'a1': 'two'}}; the values should be counts.")
    assert _said(ex[2], lambda r, stream, group: {"a1": None}) == (
        f"{call} returned {{'a1': None}}; the values should be counts.")
    assert _said(ex[2], lambda r, stream, group: {"a1": 4, "a2": 3, "a3": 5}) == (
        f"{call} counted every entry each consumer was given (read); pending means given and not yet "
        "acked. XPENDING knows the difference.")
    assert _said(ex[2], lambda r, stream, group: {"a1": 1, "a2": 3, "a3": 0}) == (
        f"{call} returned {{'a1': 1, 'a2': 3}}, but XPENDING says {{'a1': 2, 'a2': 3}}.")
    right = ("a1 holds 2 and a2 holds 3 unacknowledged entries; a3 acked all it read, so XPENDING "
             "does not list it.")
    assert _said(ex[2], lambda r, stream, group: {b"a1": "2", "a2": 3.0, "a3": 0}, "correct") == right
    assert _said(ex[2], lambda r, stream, group: {"a1": 2, "a2": 3}, "correct") == right


def test_ex2_a_second_check_builds_the_same_scene(ex, r, prefix):
    def from_xpending(r, stream, group):
        return {c["name"]: c["pending"] for c in r.xpending(stream, group)["consumers"]}

    for _ in range(2):
        assert ex[2].evaluate(from_xpending).correct
    assert r.xlen(prefix + "ex2") == 12


def test_ex3_exact_feedback(ex, prefix):
    fresh, key = prefix + "ex3:new", prefix + "ex3"
    first = f"`start_group(r, '{fresh}', 'ingest')`"
    second = f"`start_group(r, '{key}', 'ingest')`"

    def swallowed(r, stream, group, **options):
        try:
            r.xgroup_create(stream, group, **options)
        except redis.ResponseError:
            pass

    assert _said(ex[3], lambda r, stream, group: swallowed(r, stream, group, id="0")) == (
        f"after {first} on a stream that did not exist yet there is no group 'ingest' on it. "
        "MKSTREAM lets XGROUP CREATE make the stream.")
    assert _said(ex[3], lambda r, stream, group: r.xgroup_create(stream, group, id="0")) == (
        f"{first} failed because the stream does not exist yet: add `mkstream=True` (MKSTREAM) to "
        "XGROUP CREATE.")

    def only_when_missing(r, stream, group):
        if not r.exists(stream):
            r.xgroup_create(stream, group, id="0", mkstream=True)

    assert _said(ex[3], only_when_missing) == f"after {second} there is no group 'ingest' on {key}."
    said = _said(ex[3], lambda r, stream, group: swallowed(r, stream, group, id="$", mkstream=True))
    last = ex[3].r.xrevrange(key, count=1)[0][0]
    assert said == (f"{second} created the group at `$` (its last-delivered-id is {last}), so the 3 "
                    "entries already in the stream will never reach it. Create it from `0`.")
    again = f"{second} a second time (a restart)"
    assert _said(ex[3], lambda r, stream, group: r.xgroup_create(stream, group, id="0", mkstream=True)) == (
        f"{again} raised BUSYGROUP: the group already exists, which on a restart is expected. Catch "
        "that error and carry on.")

    def drops_the_group(r, stream, group):
        try:
            r.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError:
            r.xgroup_destroy(stream, group)

    assert _said(ex[3], drops_the_group) == (
        f"after {again} the group is gone: a restart must keep it, with its position and its pending "
        "entries.")

    def rewinds(r, stream, group):
        _start_group(r, stream, group)
        r.xgroup_setid(stream, group, "0")

    said = _said(ex[3], rewinds)
    last = ex[3].r.xrevrange(key, count=1)[0][0]
    assert said == (f"{again} rewound the group: its last-delivered-id went back from {last} to 0-0, "
                    "so all 3 entries would be processed again. This is the article's `set_id('0')` bug.")
    assert _said(ex[3], _start_group, "correct") == (
        "The first start creates the group from the beginning (and the stream if needed); a restart "
        "leaves it exactly where it was.")


def test_ex3_a_learner_error_that_is_not_busygroup_nor_a_missing_key_is_an_error(ex):
    def broken(r, stream, group):
        raise redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    assert ex[3].evaluate(broken).status == "error"


def test_ex3_a_group_of_another_name_is_no_group(ex, prefix):
    def other_name(r, stream, group):
        _start_group(r, stream, group + "-2")

    assert _said(ex[3], other_name).startswith(f"after `start_group(r, '{prefix}ex3:new', 'ingest')` on a "
                                               "stream that did not exist yet there is no group")


def test_ex1_a_failure_on_bobs_call_names_bob_and_his_count(ex, prefix):
    def not_for_bob(r, stream, group, consumer, count):
        return [] if consumer == "bob" else _read_and_ack(r, stream, group, consumer, count)

    assert _said(ex[1], not_for_bob) == (
        f"`read_and_ack(r, '{prefix}ex1', 'reporting', 'bob', 10)` returned no IDs, but the group still "
        "had 4 entries for it. New entries come with the ID `>`; `0` only re-reads the consumer's own "
        "pending entries.")


def test_ex3_busygroup_on_the_existing_stream_names_that_call(ex, prefix):
    def creates_twice(r, stream, group):
        r.xgroup_create(stream, group, id="0", mkstream=True)
        if not stream.endswith(":new"):
            r.xgroup_create(stream, group, id="0")

    assert _said(ex[3], creates_twice) == (
        f"`start_group(r, '{prefix}ex3', 'ingest')` raised BUSYGROUP: the group already exists, which on "
        "a restart is expected. Catch that error and carry on.")


def test_ex3_a_no_such_key_error_on_the_new_stream_is_the_missing_mkstream(ex, prefix):
    def renames_first(r, stream, group):
        r.rename(stream, stream + ":old")  # "ERR no such key" for a stream that does not exist yet
        _start_group(r, stream, group)

    assert _said(ex[3], renames_first) == (
        f"`start_group(r, '{prefix}ex3:new', 'ingest')` failed because the stream does not exist yet: "
        "add `mkstream=True` (MKSTREAM) to XGROUP CREATE.")
