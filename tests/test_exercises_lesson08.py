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


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, *answer, status="wrong"):
    outcome = exercise.evaluate(*answer)
    assert outcome.status == status, outcome
    return outcome.message


def test_ex1_exact_feedback(ex, r, prefix):
    assert _said(ex[1], [], status="not-attempted") == (
        f"{prefix}ex1 is empty or missing: run the whole exercise cell.")
    acked = setup_ex1(r, prefix)
    for answer in (8, "1-0", b"1-0"):
        assert _said(ex[1], answer) == (
            "`lost` should be a list of stream IDs, such as ['1717000000000-0', ...].")
    assert _said(ex[1], acked[10:14]) == (
        f"2 of the IDs in `lost` are still in {prefix}ex1 (e.g. {acked[10]}): lost means acknowledged "
        "and not there any more.")
    assert _said(ex[1], acked[13:]) == (
        "`lost` has 7 IDs; 20 writes were acknowledged and 12 are left, so 8 are missing.")
    assert _said(ex[1], acked[12:] + acked[12:13]) == (
        "`lost` has 9 IDs, more than the 8 that are missing: list each one once, and only IDs from "
        "`acked`.")
    assert _said(ex[1], acked[12:][::-1]) == "the right IDs, but not oldest first: keep `acked`'s order."
    assert _said(ex[1], [i.encode() for i in acked[12:]], status="correct") == (
        f"8 acknowledged writes lost, from {acked[12]} on: a ledger like this is the only way to know, "
        "because the restarted server does not remember them.")


def test_ex1_oldest_first_compares_ids_as_numbers_not_text(ex, r, prefix):
    key = prefix + "ex1"
    acked = [r.xadd(key, {"n": n}, id=f"{n}-{n % 2}") for n in range(1, 21)]
    r.xdel(key, *acked[5:13])  # 6-0 ... 13-1: as text, "10-0" sorts before "6-0"
    outcome = ex[1].evaluate(acked[5:13])
    assert outcome.correct, outcome
    shuffled = acked[5:9] + acked[10:13] + acked[9:10]
    assert _said(ex[1], shuffled) == "the right IDs, but not oldest first: keep `acked`'s order."


def test_ex2_exact_feedback(ex):
    assert _said(ex[2], ["none"]) == "`choice` should be the dict of the exercise cell, one setting per stream."
    assert _said(ex[2], {"cache": "none", "payments": None}, status="not-attempted") == (
        "`choice['payments']` is still `...`: fill in all three.")
    assert _said(ex[2], {"cache": "none", "payments": "aof-always"}, status="not-attempted") == (
        "`choice['clicks']` is still `...`: fill in all three.")
    assert _said(ex[2], {"cache": "none", "payments": "always"}) == (
        "choice['payments'] is 'always'; use one of 'none', 'rdb', 'aof-everysec', 'aof-always'.")
    for (stream, setting), why in lesson08.EX2_WHY.items():
        choice = dict(lesson08.EX2_RIGHT, **{stream: setting})
        assert _said(ex[2], choice) == f"{stream!r}: {setting!r} is not the best fit: {why}"
    assert _said(ex[2], dict(lesson08.EX2_RIGHT), status="correct") == (
        "none for the cache, always for payments, everysec for clicks.")


def test_ex3_exact_feedback(ex):
    assert _said(ex[3], ["fix acking"]) == (
        "`actions` should be the dict of the exercise cell: {'X': ..., 'Y': ..., 'Z': ...}.")
    assert _said(ex[3], {"X": "fix acking", "Y": None}, status="not-attempted") == (
        "`actions['Y']` is still `...`: fill in all three.")
    assert _said(ex[3], {"X": "fix"}) == (
        "actions['X'] is 'fix'; copy one of the actions exactly: 'add consumers', 'fix acking', "
        "'retire the dead consumer', 'nothing: healthy'.")
    for name in lesson08.EX3_RIGHT:
        for action in lesson08.EX3_ACTIONS:
            if action != lesson08.EX3_RIGHT[name]:
                actions = dict(lesson08.EX3_RIGHT, **{name: action})
                assert _said(ex[3], actions) == (
                    f"situation {name}: not {action!r}. {lesson08.EX3_WHY[name]}")
    assert _said(ex[3], dict(lesson08.EX3_RIGHT), status="correct") == (
        "X: fix acking, Y: retire c4 (claim first), Z: add consumers.")


def test_ex3_situations_are_the_tables_the_lesson_shows():
    columns = ["lag", "pending", "oldest pending idle ms", "max consumer inactive ms",
               "least active consumer"]
    for frame in lesson08.EX3_SITUATIONS.values():
        assert list(frame.columns) == columns
        assert list(frame.index) == ["first", "last"] and frame.index.name == "sample"
    assert lesson08.EX3_SITUATIONS["Y"].loc["last", "least active consumer"] == "c4"


def test_ex4_exact_feedback(ex, r, prefix):
    key = prefix + "ex4"
    assert _said(ex[4], status="not-attempted") == (
        f"{key} or its group 'workers' does not exist: run the whole exercise cell.")
    setup_ex4(r, prefix)
    assert _said(ex[4], status="not-attempted") == (
        "worker-old is still there with its 4 pending orders: retire it.")
    ids = [p["message_id"] for p in r.xpending_range(key, "workers", "-", "+", 10)]
    r.xclaim(key, "workers", "worker-new", 0, ids[:1], justid=True)
    assert _said(ex[4]) == (
        "worker-old is still in the group (with 3 pending): after claiming its entries, XGROUP "
        "DELCONSUMER it.")
    r.xclaim(key, "workers", "someone", 0, ids[1:], justid=True)
    r.xgroup_delconsumer(key, "workers", "worker-old")
    assert _said(ex[4]) == (
        "the pending list has 4 entries owned by someone, worker-new; the 4 orders should be pending "
        "under worker-new.")
    r.xclaim(key, "workers", "worker-new", 0, ids[1:], justid=True)
    assert _said(ex[4], status="correct") == (
        "worker-old is retired and its 4 orders wait for worker-new: nothing was dropped.")
    r.xack(key, "workers", *ids)
    assert _said(ex[4]) == (
        "worker-old is gone, and so are its 4 orders from the pending list: XGROUP DELCONSUMER "
        "dropped them, and nobody will be given them again. Claim first (XCLAIM to worker-new), "
        "then delete. Run the cell again to retry.")


def test_ex4_a_group_that_was_never_read_has_nothing_pending_under_nobody(ex, r, prefix):
    key = prefix + "ex4"
    r.xadd(key, {"order": 0})
    r.xgroup_create(key, "workers", id="0")
    assert _said(ex[4]) == (
        "the pending list has 0 entries owned by nobody; the 4 orders should be pending under "
        "worker-new.")
