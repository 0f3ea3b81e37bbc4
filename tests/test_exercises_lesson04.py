"""Lesson 04's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import time

import pytest

from streamlab import exercises


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(4, r, prefix=prefix), start=1))


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_untouched_exercise_is_not_attempted(ex, number):
    assert ex[number].evaluate(...).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_function_still_returning_ellipsis_is_not_attempted(ex, number):
    def blank(*args):
        return ...

    assert ex[number].evaluate(blank).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


@pytest.mark.parametrize("number", [1, 2])
def test_a_right_answer_that_runs_late_is_still_right(ex, number):
    # A full Binder can take a second to reach the learner's code; the entries 'busy' received
    # just before must still count as live work, not as stuck (the check once waited 0.25 s
    # and asked for 200 ms of idle time, so a late right answer was called wrong).
    solution, = exercises.run_solution(ex[number])

    def late(*args):
        time.sleep(1)
        return solution(*args)

    outcome = ex[number].evaluate(late)
    assert outcome.correct, outcome


def test_ex1_every_pending_entry_is_not_the_same_as_stuck(ex):
    def stuck_ids(r, stream, group, min_idle_ms):
        return [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 100)]

    outcome = ex[1].evaluate(stuck_ids)
    assert outcome.status == "wrong"
    assert "use IDLE" in outcome.message


def test_ex1_unread_entries_are_not_stuck(ex):
    def stuck_ids(r, stream, group, min_idle_ms):
        info = r.xinfo_groups(stream)[0]
        return [i for i, _ in r.xrange(stream, "(" + info["last-delivered-id"], "+")]

    outcome = ex[1].evaluate(stuck_ids)
    assert outcome.status == "wrong"
    assert "nobody has read yet" in outcome.message


def test_ex1_a_count_instead_of_ids_is_wrong(ex):
    outcome = ex[1].evaluate(lambda r, stream, group, min_idle_ms: 3)
    assert outcome.status == "wrong"
    assert "list of entry IDs" in outcome.message


def test_ex2_one_xautoclaim_call_is_not_enough(ex):
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        return [i for i, _ in r.xautoclaim(stream, group, consumer, min_idle_ms)[1]]

    outcome = ex[2].evaluate(rescue_all)
    assert outcome.status == "wrong"
    assert "until that cursor is '0-0'" in outcome.message


def test_ex2_claiming_without_min_idle_steals_live_work(ex):
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        claimed, cursor = [], "0-0"
        while True:
            cursor, entries, *_ = r.xautoclaim(stream, group, consumer, 0, start_id=cursor)
            claimed += [i for i, _ in entries]
            if cursor == "0-0":
                return claimed

    outcome = ex[2].evaluate(rescue_all)
    assert outcome.status == "wrong"
    assert "took entries from 'busy'" in outcome.message


def test_ex3_dead_lettering_without_ack_is_wrong(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in r.xpending_range(stream, group, "-", "+", 100):
            if p["times_delivered"] > max_deliveries:
                fields = r.xrange(stream, p["message_id"], p["message_id"])[0][1]
                r.xadd(dead_stream, {**fields, "original_id": p["message_id"],
                                     "deliveries": p["times_delivered"]})
                moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "still pending" in outcome.message and "XACK" in outcome.message


def test_ex3_off_by_one_dead_letters_too_much(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in r.xpending_range(stream, group, "-", "+", 100):
            if p["times_delivered"] >= 1:
                r.xadd(dead_stream, {"order": "?", "original_id": p["message_id"],
                                     "deliveries": p["times_delivered"]})
                r.xack(stream, group, p["message_id"])
                moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "only entries delivered more than 3 times are poison" in outcome.message


def test_ex3_copy_without_original_id_is_wrong(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        for p in r.xpending_range(stream, group, "-", "+", 100):
            if p["times_delivered"] > max_deliveries:
                r.xadd(dead_stream, {"order": "?"})
                r.xack(stream, group, p["message_id"])
        return []

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "original_id" in outcome.message


def test_ex4_no_guard_applies_duplicates(ex):
    def apply_once(r, prefix, entry_id, amount):
        r.incrby(prefix + "total", amount)
        return True

    outcome = ex[4].evaluate(apply_once)
    assert outcome.status == "wrong"
    assert "duplicates too" in outcome.message


def test_ex4_set_nx_then_incrby_loses_an_order_in_a_crash(ex):
    def apply_once(r, prefix, entry_id, amount):
        if not r.set(prefix + "processed:" + entry_id, 1, nx=True):
            return False
        r.incrby(prefix + "total", amount)
        return True

    outcome = ex[4].evaluate(apply_once)
    assert outcome.status == "wrong"
    assert "loses the order" in outcome.message


def test_ex4_incrby_then_set_nx_doubles_an_order_in_a_crash(ex):
    def apply_once(r, prefix, entry_id, amount):
        if r.exists(prefix + "processed:" + entry_id):
            return False
        r.incrby(prefix + "total", amount)
        r.set(prefix + "processed:" + entry_id, 1)
        return True

    outcome = ex[4].evaluate(apply_once)
    assert outcome.status == "wrong"
    assert "applies the order twice" in outcome.message


def test_ex4_a_learner_function_that_raises_is_reported_not_raised(ex):
    def apply_once(r, prefix, entry_id, amount):
        raise KeyError(entry_id)

    outcome = ex[4].evaluate(apply_once)
    assert outcome.status == "error"
    assert "KeyError" in outcome.message


def _pending_over(r, stream, group, max_deliveries):
    return [p for p in r.xpending_range(stream, group, "-", "+", 100)
            if p["times_delivered"] > max_deliveries]


def _copy(r, stream, p):
    fields = r.xrange(stream, p["message_id"], p["message_id"])[0][1]
    return {**fields, "original_id": p["message_id"], "deliveries": p["times_delivered"]}


def test_ex3_at_least_the_limit_is_not_more_than_the_limit(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries - 1):  # >= instead of >
            r.xadd(dead_stream, _copy(r, stream, p))
            r.xack(stream, group, p["message_id"])
            moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "`>`, not `>=`" in outcome.message


def test_ex3_xadd_then_xack_as_two_commands_doubles_a_copy_in_a_crash(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            r.xadd(dead_stream, _copy(r, stream, p))
            r.xack(stream, group, p["message_id"])
            moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "twice" in outcome.message and "Lua script" in outcome.message
    assert "still pending, XADDs the copy, and XACKs last" in outcome.message  # the order lesson 04 teaches


def test_ex3_xack_then_xadd_as_two_commands_loses_an_entry_in_a_crash(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            copy = _copy(r, stream, p)
            if r.xack(stream, group, p["message_id"]):
                r.xadd(dead_stream, copy)
                moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "never reached" in outcome.message and "one step" in outcome.message
    assert "XACKs last" in outcome.message


def test_ex3_multi_exec_copies_an_entry_someone_else_acked(ex):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            pipe = r.pipeline(transaction=True)  # MULTI ... EXEC: atomic, but not conditional
            pipe.xack(stream, group, p["message_id"])
            pipe.xadd(dead_stream, _copy(r, stream, p))
            acked, _ = pipe.execute()
            if acked:
                moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.status == "wrong"
    assert "XACK replied 0" in outcome.message and "MULTI/EXEC" in outcome.message
    assert "checks XPENDING, then XADDs, then XACKs" in outcome.message


def test_ex3_the_hinted_script_pending_check_copy_then_xack_is_right(ex):
    """The script the hint spells out (the order of recovery.dead_letter) passes every run."""
    hint = next(h for h in ex[3].hints if "XPENDING" in h and "register_script" in h)
    source = next(part for part in hint.split("`") if part.startswith("if #redis.call('XPENDING'"))

    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        script = r.register_script(source)
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            flat = [x for pair in _copy(r, stream, p).items() for x in pair]
            if script(keys=[stream, dead_stream], args=[group, p["message_id"], *flat], client=r):
                moved.append(p["message_id"])
        return moved

    outcome = ex[3].evaluate(dead_letter_poison)
    assert outcome.correct, outcome


def test_ex2_hint_says_justid_drops_the_cursor(ex):
    assert any("justid=True" in h and "cursor" in h for h in ex[2].hints)


def test_ex2_justid_is_named_when_it_breaks_the_loop(ex):
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        claimed, cursor = [], "0-0"
        while True:
            cursor, ids, _ = r.xautoclaim(stream, group, consumer, min_idle_ms,
                                          start_id=cursor, justid=True)
            claimed += ids
            if cursor == "0-0":
                return claimed

    outcome = ex[2].evaluate(rescue_all)
    assert outcome.status == "wrong"
    assert "justid=True" in outcome.message and "drops the cursor" in outcome.message
