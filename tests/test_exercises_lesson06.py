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


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, answer, status="wrong"):
    outcome = exercise.evaluate(answer)
    assert outcome.status == status, outcome
    return outcome.message


def test_ex1_exact_feedback(ex, prefix):
    assert _said(ex[1], "") == "`pattern` should be a string such as 'lesson06:something:*'."
    assert _said(ex[1], b"sensor:*:temp") == (
        f"'sensor:*:temp' matched none of the temperature channels, e.g. '{prefix}sensor:1:temp'. "
        f"Channel names start with '{prefix}'.")
    assert _said(ex[1], prefix + "sensor:1:temp") == (
        f"'{prefix}sensor:1:temp' missed {prefix}sensor:42:temp.")
    assert _said(ex[1], prefix + "sensor:*") == (
        f"'{prefix}sensor:*' also received {prefix}sensor:1:humidity: make it match temperature "
        "channels only.")
    assert _said(ex[1], prefix.encode() + b"sensor:*:temp", "correct") == (
        f"'{prefix}sensor:*:temp' received both temperature channels and nothing else.")


def test_ex2_exact_feedback(ex, r, prefix):
    assert _said(ex[2], [], "not-attempted") == (
        f"{prefix}ex2 or its group 'billing' does not exist yet: run the whole exercise cell.")
    key = setup_ex2(r, prefix)
    last = r.xrevrange(key, count=1)[0][0]
    assert _said(ex[2], ["first"]) == "`seen` should be the list of `seq` values you processed, as numbers."
    assert _said(ex[2], []) == (
        f"the group 'billing' has not been given every entry yet (it is at 0-0, the stream ends at "
        f"{last}). Read with XREADGROUP and `>`; XREAD with `$` only waits for new entries.")
    reply = r.xreadgroup("billing", "me", {key: ">"})
    ids = [entry_id for entry_id, _ in reply[0][1]]
    seen = [int(f["seq"]) for _, f in reply[0][1]]
    r.xack(key, "billing", *ids[:-3])
    assert _said(ex[2], seen) == (
        "you read the events but 3 are still pending: XACK each one after processing it.")
    r.xack(key, "billing", *ids[-3:])
    assert _said(ex[2], seen[:-1]) == "`seen` holds 24 values; it should be seq 1 to 25, each once."
    assert _said(ex[2], seen[::-1]) == "you have every event, but not in stream order: append them as you read them."
    assert _said(ex[2], [str(s) for s in seen], "correct") == (
        "all 25 events read and acknowledged: nothing was lost while you were away.")


def test_ex2_a_group_moved_to_the_end_says_what_entries_read_is(ex, r, prefix):
    key = setup_ex2(r, prefix)
    r.xgroup_setid(key, "billing", "$")
    group = r.xinfo_groups(key)[0]
    told = "nil (unknown)" if group["entries-read"] is None else group["entries-read"]
    assert _said(ex[2], list(range(1, 26))) == (
        f"the group 'billing' is at the end of the stream, but XINFO GROUPS says entries-read is "
        f"{told}, not 25: it was moved there (XGROUP SETID?) instead of reading. Skipping events "
        "is what the exercise is about not doing: read them with XREADGROUP and `>`.")


def test_ex3_exact_feedback(ex):
    jobs = list(lesson06.EX3_ANSWERS)
    assert _said(ex[3], ["pubsub"]) == (
        "`choices` should be the dict from the exercise cell, each value 'pubsub' or 'streams'.")
    assert _said(ex[3], {job: "" for job in jobs}, "not-attempted") == (
        "every job still has `...`: put 'pubsub' or 'streams' for each.")
    assert _said(ex[3], {jobs[0]: "pubsub", jobs[1]: "", jobs[2]: None}) == (
        "still to answer: " + ", ".join(repr(j) for j in jobs[1:]) + ".")
    assert _said(ex[3], dict(lesson06.EX3_ANSWERS, **{jobs[0]: "kafka"})) == (
        "use 'pubsub' or 'streams' only (got {'typing indicator in a chat': 'kafka'}).")
    assert _said(ex[3], dict(lesson06.EX3_ANSWERS, **{jobs[0]: "streams", jobs[1]: "pubsub"})) == (
        f"2 of 5 are not the best fit: {jobs[0]!r}, {jobs[1]!r}. Would losing a message there hurt?")


def test_ex3_the_words_may_be_written_in_any_case(ex):
    choices = {job: want.upper() if n % 2 else want.title()
               for n, (job, want) in enumerate(lesson06.EX3_ANSWERS.items())}
    outcome = ex[3].evaluate(choices)
    assert outcome.correct, outcome
    assert outcome.message == (
        "each job has the right tool: Pub/Sub where a missed message does no harm (the next "
        "keystroke, the next refresh), Streams where every message must be processed, shared "
        "or replayed. A stream alone does not charge an order exactly once, though: it "
        "delivers at least once, so the charge must be idempotent too (keyed on the order's "
        "own ID, lesson 04); and the stream must survive a restart (persistence, see the "
        "lesson's last table).")


def test_ex2_a_group_moved_to_the_end_with_a_count_says_that_count(ex, r, prefix):
    key = setup_ex2(r, prefix)
    r.xgroup_setid(key, "billing", "$", entries_read=10)
    assert _said(ex[2], list(range(1, 26))) == (
        "the group 'billing' is at the end of the stream, but XINFO GROUPS says entries-read is "
        "10, not 25: it was moved there (XGROUP SETID?) instead of reading. Skipping events "
        "is what the exercise is about not doing: read them with XREADGROUP and `>`.")


def test_ex1_checking_leaves_the_learners_own_subscriber_on_that_pattern_running(ex, r, prefix):
    from streamlab.pubsub import Subscriber

    pattern = prefix + "sensor:*:temp"
    mine = Subscriber(r, patterns=pattern).start()  # the lesson's cell: a default name
    try:
        assert ex[1].evaluate(pattern).correct
        assert mine.running
    finally:
        mine.stop()


def test_ex1_every_unwanted_channel_is_named(ex, prefix):
    assert _said(ex[1], prefix + "*") == (
        f"'{prefix}*' also received {prefix}sensor:1:humidity, {prefix}alerts:temp: make it match "
        "temperature channels only.")
