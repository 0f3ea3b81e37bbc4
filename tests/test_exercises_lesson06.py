"""Lesson 06's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import pytest

from streamlab import exercises
from streamlab.exercises import lesson06


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(6, r, prefix=prefix), start=1))


def setup_ex2(r, prefix):
    key = prefix + "ex2"
    r.xgroup_create(key, "billing", id="$", mkstream=True)
    for seq in range(1, lesson06.EX2_EVENTS + 1):
        r.xadd(key, {"seq": seq})
    return key


@pytest.mark.parametrize("number", [1, 2, 3])
def test_untouched_exercise_is_not_attempted(ex, number):
    assert ex[number].evaluate(...).status == "not-attempted"


def test_ex2_before_its_setup_runs_is_not_attempted(ex):
    assert ex[2].evaluate([]).status == "not-attempted"


def test_ex3_with_every_blank_left_is_not_attempted(ex):
    blank = {job: ... for job in lesson06.EX3_ANSWERS}
    assert ex[3].evaluate(blank).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_pattern_that_also_matches_humidity_is_wrong(ex, prefix):
    outcome = ex[1].evaluate(prefix + "sensor:*")
    assert outcome.status == "wrong"
    assert "also received" in outcome.message and "humidity" in outcome.message


def test_ex1_pattern_without_the_lesson_prefix_matches_nothing(ex):
    outcome = ex[1].evaluate("sensor:*:temp")
    assert outcome.status == "wrong" and "matched none" in outcome.message


def test_ex1_pattern_for_one_sensor_misses_the_other(ex, prefix):
    outcome = ex[1].evaluate(prefix + "sensor:1:temp")
    assert outcome.status == "wrong" and "missed" in outcome.message


def test_ex2_xread_from_dollar_gets_nothing_and_is_wrong(ex, r, prefix):
    key = setup_ex2(r, prefix)
    assert r.xread({key: "$"}, block=50) == []
    outcome = ex[2].evaluate([])
    assert outcome.status == "wrong" and "XREADGROUP" in outcome.message


def test_ex2_reading_without_ack_is_wrong(ex, r, prefix):
    key = setup_ex2(r, prefix)
    reply = r.xreadgroup("billing", "me", {key: ">"})
    seen = [int(f["seq"]) for _, f in reply[0][1]]
    outcome = ex[2].evaluate(seen)
    assert outcome.status == "wrong" and "XACK" in outcome.message


def test_ex2_missing_values_in_seen_is_wrong(ex, r, prefix):
    key = setup_ex2(r, prefix)
    reply = r.xreadgroup("billing", "me", {key: ">"})
    r.xack(key, "billing", *[e[0] for e in reply[0][1]])
    outcome = ex[2].evaluate([1, 2, 3])
    assert outcome.status == "wrong" and "seq 1 to 25" in outcome.message


def test_ex3_a_wrong_choice_is_named(ex):
    choices = dict(lesson06.EX3_ANSWERS)
    choices["orders that must each be charged exactly once"] = "pubsub"
    outcome = ex[3].evaluate(choices)
    assert outcome.status == "wrong" and "charged exactly once" in outcome.message


def test_ex3_an_unknown_word_is_wrong(ex):
    choices = dict(lesson06.EX3_ANSWERS)
    choices["typing indicator in a chat"] = "kafka"
    outcome = ex[3].evaluate(choices)
    assert outcome.status == "wrong" and "'pubsub' or 'streams' only" in outcome.message


def test_ex3_right_answers_are_told_that_exactly_once_needs_idempotency(ex):
    outcome = ex[3].evaluate(dict(lesson06.EX3_ANSWERS))
    assert outcome.correct, outcome
    assert "at least once" in outcome.message and "idempotent" in outcome.message


def test_ex3_pubsub_for_the_charged_orders_is_wrong(ex):
    choices = dict(lesson06.EX3_ANSWERS, **{"orders that must each be charged exactly once": "pubsub"})
    outcome = ex[3].evaluate(choices)
    assert outcome.status == "wrong" and "charged exactly once" in outcome.message


def test_ex2_moving_the_group_to_the_end_instead_of_reading_is_wrong(ex, r, prefix):
    key = setup_ex2(r, prefix)
    r.xgroup_setid(key, "billing", "$")           # skip every event, then claim to have seen them
    outcome = ex[2].evaluate(list(range(1, lesson06.EX2_EVENTS + 1)))
    assert outcome.status == "wrong" and "XGROUP SETID" in outcome.message


def test_ex2_reading_and_acking_everything_passes(ex, r, prefix):
    key = setup_ex2(r, prefix)
    seen = []
    while reply := r.xreadgroup("billing", "back", {key: ">"}, count=10):
        for entry_id, fields in reply[0][1]:
            seen.append(int(fields["seq"]))
            r.xack(key, "billing", entry_id)
    outcome = ex[2].evaluate(seen)
    assert outcome.correct, outcome
