"""Lesson 09's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import pytest

from streamlab import exercises


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(9, r, prefix=prefix), start=1))


def test_untouched_exercises_are_not_attempted(ex):
    assert ex[1].evaluate({"stream": ..., "dead": ..., "total": ...}).status == "not-attempted"
    assert ex[2].evaluate([..., ..., ...]).status == "not-attempted"
    assert ex[3].evaluate(lambda stream: ...).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_keys_without_a_tag_are_in_different_slots(ex, prefix):
    outcome = ex[1].evaluate({"stream": prefix + "orders", "dead": prefix + "orders:dead",
                              "total": prefix + "total"})
    assert outcome.status == "wrong" and "CROSSSLOT" in outcome.message


def test_ex1_one_tag_for_the_whole_lesson_is_wrong(ex, prefix):
    outcome = ex[1].evaluate({"stream": "{lesson09}:a", "dead": "{lesson09}:b", "total": "{lesson09}:c"})
    assert outcome.status == "wrong" and "starts with" in outcome.message
    outcome = ex[1].evaluate({"stream": prefix + "{lesson09}:a", "dead": prefix + "{lesson09}:b",
                              "total": prefix + "{lesson09}:c"})
    assert outcome.status == "wrong" and "every key of the lesson" in outcome.message


def test_ex2_keys_on_the_same_shard_are_wrong(ex, prefix):
    outcome = ex[2].evaluate([prefix + "ex2:{p0}", prefix + "ex2:{p1}", prefix + "ex2:{p4}"])
    assert outcome.status == "wrong" and "not one per shard" in outcome.message and "shard 2" in outcome.message


def test_ex2_keys_without_tags_are_wrong(ex, prefix):
    outcome = ex[2].evaluate([prefix + "ex2:a", prefix + "ex2:b", prefix + "ex2:c"])
    assert outcome.status == "wrong" and "hash tag" in outcome.message


def test_ex3_one_alerts_key_for_every_partition_is_wrong(ex, prefix):
    outcome = ex[3].evaluate(lambda stream: prefix + "ex3:alerts")
    assert outcome.status == "wrong" and "CROSSSLOT" in outcome.message


def test_ex3_a_key_outside_the_lesson_is_wrong(ex):
    outcome = ex[3].evaluate(lambda stream: "alerts:" + stream)
    assert outcome.status == "wrong" and "starting with" in outcome.message
