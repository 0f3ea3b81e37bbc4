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
