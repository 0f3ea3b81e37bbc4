"""Lesson 08's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import pytest

from streamlab import exercises
from streamlab.exercises import lesson08


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(8, r, prefix=prefix), start=1))


def setup_ex1(r, prefix):
    key = prefix + "ex1"
    acked = [r.xadd(key, {"n": n}) for n in range(20)]
    r.xdel(key, *acked[12:])
    return acked


def setup_ex4(r, prefix):
    key = prefix + "ex4"
    for n in range(10):
        r.xadd(key, {"order": n})
    r.xgroup_create(key, "workers", id="0")
    r.xreadgroup("workers", "worker-old", {key: ">"}, count=4)
    r.xgroup_createconsumer(key, "workers", "worker-new")
    return key


@pytest.mark.parametrize("number", [1, 2, 3])
def test_untouched_exercise_is_not_attempted(ex, number):
    answers = (...,) * len(ex[number].answer_names)
    assert ex[number].evaluate(*answers).status == "not-attempted"


def test_ex4_without_its_setup_is_not_attempted(ex):
    assert ex[4].evaluate().status == "not-attempted"


def test_ex4_setup_alone_is_not_attempted(ex, r, prefix):
    setup_ex4(r, prefix)
    outcome = ex[4].evaluate()
    assert outcome.status == "not-attempted" and "retire it" in outcome.message


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_ids_still_present_are_wrong(ex, r, prefix):
    acked = setup_ex1(r, prefix)
    outcome = ex[1].evaluate(acked[:8])
    assert outcome.status == "wrong" and "still in" in outcome.message


def test_ex1_too_few_is_wrong(ex, r, prefix):
    acked = setup_ex1(r, prefix)
    outcome = ex[1].evaluate(acked[12:18])
    assert outcome.status == "wrong" and "8 are missing" in outcome.message


def test_ex1_a_count_instead_of_ids_is_wrong(ex, r, prefix):
    setup_ex1(r, prefix)
    outcome = ex[1].evaluate(8)
    assert outcome.status == "wrong" and "list of stream IDs" in outcome.message


def test_ex1_reversed_order_is_wrong(ex, r, prefix):
    acked = setup_ex1(r, prefix)
    outcome = ex[1].evaluate(list(reversed(acked[12:])))
    assert outcome.status == "wrong" and "oldest first" in outcome.message


def test_ex1_right_answer(ex, r, prefix):
    acked = setup_ex1(r, prefix)
    assert ex[1].evaluate(acked[12:]).correct


def test_ex2_rdb_for_payments_is_wrong_and_says_why(ex):
    outcome = ex[2].evaluate({"cache": "none", "payments": "rdb", "clicks": "aof-everysec"})
    assert outcome.status == "wrong" and "last snapshot" in outcome.message


def test_ex2_always_for_clicks_is_wrong(ex):
    outcome = ex[2].evaluate({"cache": "none", "payments": "aof-always", "clicks": "aof-always"})
    assert outcome.status == "wrong" and "throughput" in outcome.message


def test_ex2_unknown_setting_is_wrong(ex):
    outcome = ex[2].evaluate({"cache": "off", "payments": "aof-always", "clicks": "aof-everysec"})
    assert outcome.status == "wrong" and "'aof-always'" in outcome.message


def test_ex2_partly_filled_is_not_attempted(ex):
    outcome = ex[2].evaluate({"cache": "none", "payments": ..., "clicks": ...})
    assert outcome.status == "not-attempted"


def test_ex2_right_answer(ex):
    assert ex[2].evaluate(dict(lesson08.EX2_RIGHT)).correct


def test_ex3_adding_consumers_for_missing_acks_is_wrong(ex):
    outcome = ex[3].evaluate({"X": "add consumers", "Y": "retire the dead consumer",
                              "Z": "add consumers"})
    assert outcome.status == "wrong" and "acknowledge nothing" in outcome.message


def test_ex3_free_text_is_wrong(ex):
    outcome = ex[3].evaluate({"X": "fix the acks", "Y": "retire the dead consumer",
                              "Z": "add consumers"})
    assert outcome.status == "wrong" and "exactly" in outcome.message


def test_ex3_right_answer(ex):
    assert ex[3].evaluate(dict(lesson08.EX3_RIGHT)).correct


def test_ex3_answers_follow_the_lessons_rule_of_thumb():
    """The exercise's answers are what durability.diagnose() says of the same samples."""
    from streamlab import durability

    to_action = {"add consumers": "add consumers", "consumers not acking": "fix acking"}
    for name, frame in lesson08.EX3_SITUATIONS.items():
        full = frame.assign(**{"dead letters": 0, "XLEN / trim limit": 0.1})
        said = durability.diagnose(full)
        action = "retire the dead consumer" if said.startswith("dead consumer") else to_action[said]
        assert action == lesson08.EX3_RIGHT[name], (name, said)


def test_ex4_delconsumer_first_is_wrong_and_explains_the_loss(ex, r, prefix):
    key = setup_ex4(r, prefix)
    assert r.xgroup_delconsumer(key, "workers", "worker-old") == 4
    outcome = ex[4].evaluate()
    assert outcome.status == "wrong" and "dropped them" in outcome.message


def test_ex4_claim_without_delete_is_wrong(ex, r, prefix):
    key = setup_ex4(r, prefix)
    ids = [p["message_id"] for p in r.xpending_range(key, "workers", "-", "+", 10)]
    r.xclaim(key, "workers", "worker-new", 0, ids, justid=True)
    outcome = ex[4].evaluate()
    assert outcome.status == "wrong" and "DELCONSUMER" in outcome.message


def test_ex4_right_answer(ex, r, prefix):
    from streamlab import durability

    key = setup_ex4(r, prefix)
    assert durability.retire(r, key, "workers", dead="worker-old", heir="worker-new") == {
        "claimed": 4, "pending dropped by DELCONSUMER": 0}
    assert ex[4].evaluate().correct
