"""Lessons 08 and 09: every wrong-answer and not-attempted branch, with the message a learner reads."""

from __future__ import annotations

import pytest

from streamlab import exercises


@pytest.fixture
def ex8(r, prefix):
    return dict(enumerate(exercises.load(8, r, prefix=prefix), start=1))


@pytest.fixture
def ex9(r, prefix):
    return dict(enumerate(exercises.load(9, r, prefix=prefix), start=1))


def _ex1_scene(r, prefix):
    key = prefix + "ex1"
    acked = [r.xadd(key, {"n": n}) for n in range(20)]
    r.xdel(key, *acked[12:])
    return acked


def _ex4_scene(r, prefix):
    """Exercise 4's start: worker-old holds 4 of 10 orders, worker-new exists."""
    key = prefix + "ex4"
    for n in range(10):
        r.xadd(key, {"order": n})
    r.xgroup_create(key, "workers", id="0")
    taken = r.xreadgroup("workers", "worker-old", {key: ">"}, count=4)[0][1]
    r.xgroup_createconsumer(key, "workers", "worker-new")
    return key, taken


def test_08_ex1_an_answer_before_the_setup_ran_is_not_attempted(ex8):
    outcome = ex8[1].evaluate(["1-0"])
    assert outcome.status == "not-attempted" and "run the whole exercise cell" in outcome.message


def test_08_ex1_too_few_lost_ids_says_how_many_are_missing(ex8, r, prefix):
    acked = _ex1_scene(r, prefix)
    outcome = ex8[1].evaluate(acked[12:15])
    assert outcome.status == "wrong" and "8 are missing" in outcome.message


def test_08_ex2_a_choice_that_is_not_a_dict_is_wrong(ex8):
    outcome = ex8[2].evaluate("aof-always")
    assert outcome.status == "wrong" and "dict" in outcome.message


def test_08_ex3_actions_that_are_not_a_dict_are_wrong(ex8):
    outcome = ex8[3].evaluate(["fix acking"])
    assert outcome.status == "wrong" and "{'X': ..., 'Y': ..., 'Z': ...}" in outcome.message


def test_08_ex3_a_half_filled_answer_is_not_attempted(ex8):
    outcome = ex8[3].evaluate({"X": "fix acking", "Y": ..., "Z": ...})
    assert outcome.status == "not-attempted" and "actions['Y']" in outcome.message


def test_08_ex4_a_dead_consumer_still_in_the_group_after_a_partial_claim_is_wrong(ex8, r, prefix):
    key, taken = _ex4_scene(r, prefix)
    r.xclaim(key, "workers", "worker-new", 0, [entry_id for entry_id, _ in taken[:2]])
    outcome = ex8[4].evaluate()
    assert outcome.status == "wrong" and "still in the group (with 2" in outcome.message


def test_09_ex1_keys_that_are_not_the_three_roles_are_wrong(ex9, prefix):
    outcome = ex9[1].evaluate({"stream": prefix + "{o}:s", "dead": prefix + "{o}:d"})
    assert outcome.status == "wrong" and "exactly the keys stream, dead, total" in outcome.message


def test_09_ex1_one_key_three_times_is_wrong(ex9, prefix):
    key = prefix + "{orders}:stream"
    outcome = ex9[1].evaluate({"stream": key, "dead": key, "total": key})
    assert outcome.status == "wrong" and "must be different keys" in outcome.message


def test_09_ex2_a_single_key_instead_of_a_list_is_wrong(ex9, prefix):
    outcome = ex9[2].evaluate(prefix + "ex2:{a}")
    assert outcome.status == "wrong" and "list of 3 key names" in outcome.message


def test_09_ex2_keys_outside_the_exercise_prefix_are_wrong(ex9):
    outcome = ex9[2].evaluate(["ex2:{a}", "ex2:{b}", "ex2:{c}"])
    assert outcome.status == "wrong" and "should start with" in outcome.message


def test_08_ex1_an_id_listed_twice_is_more_than_are_missing(ex8, r, prefix):
    acked = _ex1_scene(r, prefix)
    outcome = ex8[1].evaluate(acked[12:] + acked[12:13])
    assert outcome.status == "wrong" and "more than the 8 that are missing" in outcome.message


def test_08_ex4_orders_claimed_to_the_wrong_consumer_are_wrong(ex8, r, prefix):
    key, taken = _ex4_scene(r, prefix)
    r.xclaim(key, "workers", "someone-else", 0, [entry_id for entry_id, _ in taken])
    r.xgroup_delconsumer(key, "workers", "worker-old")
    outcome = ex8[4].evaluate()
    assert outcome.status == "wrong" and "owned by someone-else" in outcome.message


@pytest.fixture
def ex4(r, prefix):
    return dict(enumerate(exercises.load(4, r, prefix=prefix), start=1))


def test_04_ex2_one_page_with_justid_leaves_the_stuck_entries_and_names_justid(ex4):
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        # one XAUTOCLAIM page, IDs only: no cursor to go on with
        return r.xautoclaim(stream, group, consumer, min_idle_ms, justid=True)

    outcome = ex4[2].evaluate(rescue_all)
    assert outcome.status == "wrong"
    assert "'rescuer' holds" in outcome.message and "drops the cursor" in outcome.message


def test_04_ex3_returning_an_entry_a_rival_finished_is_wrong(ex4):
    hint = next(h for h in ex4[3].hints if "XPENDING" in h and "register_script" in h)
    source = next(part for part in hint.split("`") if part.startswith("if #redis.call('XPENDING'"))

    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        script = r.register_script(source)
        candidates = [p for p in r.xpending_range(stream, group, "-", "+", 1000)
                      if p["times_delivered"] > max_deliveries]
        for p in candidates:
            found = r.xrange(stream, p["message_id"], p["message_id"])
            fields = {**(found[0][1] if found else {}), "original_id": p["message_id"],
                      "deliveries": p["times_delivered"]}
            script(keys=[stream, dead_stream],
                   args=[group, p["message_id"], *[x for kv in fields.items() for x in kv]], client=r)
        return [p["message_id"] for p in candidates]  # every candidate, moved or not

    outcome = ex4[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong" and "return only the IDs you moved" in outcome.message


def test_09_ex3_a_function_that_returns_nothing_is_not_attempted(ex9):
    def alerts_for(stream):
        pass

    outcome = ex9[3].evaluate(alerts_for)
    assert outcome.status == "not-attempted" and "returns nothing yet" in outcome.message


def test_09_ex3_the_stream_itself_as_its_alerts_key_is_wrong(ex9):
    outcome = ex9[3].evaluate(lambda stream: stream)
    assert outcome.status == "wrong" and "another key than the partition stream" in outcome.message


def test_09_ex3_one_alerts_key_for_every_partition_is_caught_by_its_slot(ex9, prefix):
    outcome = ex9[3].evaluate(lambda stream: prefix + "ex3:alerts:{p0}")
    assert outcome.status == "wrong" and "CROSSSLOT" in outcome.message and "{p1}" in outcome.message


def test_09_ex3_an_alert_script_that_did_nothing_is_reported(ex9, prefix, monkeypatch):
    from streamlab import programs

    monkeypatch.setattr(programs, "alert_and_ack", lambda *args, **kwargs: False)
    outcome = ex9[3].evaluate(lambda stream: prefix + "ex3:alerts:" + stream[stream.index("{"):])
    assert outcome.status == "wrong" and "did not leave one alert" in outcome.message
