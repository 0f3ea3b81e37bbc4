"""Lesson 04's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

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


def _set_nx_then_incrby(r, prefix, entry_id, amount):
    if not r.set(prefix + "processed:" + entry_id, 1, nx=True):
        return False
    r.incrby(prefix + "total", amount)
    return True


def _six_reads_then_set_nx_then_incrby(r, prefix, entry_id, amount):
    # The crash that splits SET NX from INCRBY comes at command 8, past any fixed number
    # of crash points.
    for _ in range(6):
        r.exists(prefix + "total")
    return _set_nx_then_incrby(r, prefix, entry_id, amount)


def _set_nx_then_pipelined_incrby(r, prefix, entry_id, amount):
    # A pipeline counts as one command (sent whole or not at all): the crash between the
    # SET NX and the pipeline still happens.
    if not r.set(prefix + "processed:" + entry_id, 1, nx=True):
        return False
    pipe = r.pipeline(transaction=False)
    pipe.incrby(prefix + "total", amount)
    pipe.execute()
    return True


@pytest.mark.parametrize("apply_once", [_set_nx_then_incrby, _six_reads_then_set_nx_then_incrby,
                                        _set_nx_then_pipelined_incrby],
                         ids=["two-round-trips", "after-six-reads", "incrby-in-a-pipeline"])
def test_ex4_set_nx_then_incrby_loses_an_order_in_a_crash(ex, apply_once):
    outcome = ex[4].evaluate(apply_once)
    assert outcome.status == "wrong"
    assert "loses the order" in outcome.message


def test_ex4_the_lua_answer_passes_when_its_script_must_be_loaded_first(ex):
    # redis-py runs EVALSHA, meets NOSCRIPT, sends SCRIPT LOAD, then EVALSHA again: the load is
    # not a step a crash can split from the script (it changes no data).
    # A script body no server has seen (a unique comment), so the first EVALSHA meets NOSCRIPT.
    fresh = f"-- {uuid.uuid4().hex}\n"

    def apply_once(r, prefix, entry_id, amount):
        script = r.register_script(
            fresh + "if redis.call('SET', KEYS[1], 1, 'NX') then redis.call('INCRBY', KEYS[2], ARGV[1]) "
            "return 1 end return 0")
        return bool(script(keys=[prefix + "processed:" + entry_id, prefix + "total"], args=[amount]))

    outcome = ex[4].evaluate(apply_once)
    assert outcome.status == "correct", outcome.message


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


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, answer, status="wrong"):
    outcome = exercise.evaluate(answer)
    assert outcome.status == status, outcome
    return outcome.message


def _stuck(r, stream, group, min_idle_ms):
    return [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 1000, idle=min_idle_ms)]


def _pending_of(r, stream, consumer):
    return [p["message_id"] for p in r.xpending_range(stream, "workers", "-", "+", 1000, consumername=consumer)]


def test_ex1_exact_feedback(ex, r, prefix):
    key = prefix + "ex1"
    call = f"`stuck_ids(r, '{key}', 'workers', 60000)`"
    for answer in (3, "1-0", b"1-0"):
        assert _said(ex[1], lambda r, stream, group, min_idle_ms, answer=answer: answer) == (
            f"{call} returned {answer!r}; return a list of entry IDs.")
    assert _said(ex[1], lambda *args: _stuck(*args)[::-1]) == (
        f"{call} found the right entries but not in ID order; XPENDING lists them in order.")
    every_pending = lambda r, stream, group, min_idle_ms: [  # noqa: E731
        p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 1000)]
    assert _said(ex[1], every_pending) == (
        f"{call} returned every pending entry, including the two 'busy' received a moment ago. Only "
        "entries idle for at least 60000 ms are stuck: use IDLE.")
    said = _said(ex[1], lambda r, stream, group, min_idle_ms: [i for i, _ in r.xrange(stream, count=1)])
    crashed, first = _pending_of(r, key, "crashed"), r.xrange(key, count=1)[0][0]
    assert said == (f"{call} returned [{first!r}], but the entries idle for 60000 ms or more are "
                    f"{crashed}.")
    said = _said(ex[1], lambda r, stream, group, min_idle_ms: r.xrange(stream)[6:])
    assert said == (f"{call} returned the entries nobody has read yet; stuck entries are the ones "
                    "delivered and never acked (XPENDING).")
    as_rows = lambda r, stream, group, min_idle_ms: tuple(  # noqa: E731
        r.xpending_range(stream, group, "-", "+", 1000, idle=min_idle_ms))
    as_pairs = lambda *args: [(i.encode(), {}) for i in _stuck(*args)]  # noqa: E731
    for answer in (as_rows, as_pairs, _stuck):
        assert _said(ex[1], answer, "correct") == (
            "The three entries 'crashed' has held for ten minutes are stuck; the two 'busy' holds "
            "were delivered just now, so they are not (yet).")
    rows = r.xrange(key)
    assert len(rows) == 8 and [f["order"] for _, f in rows[:3]] == ["0", "1", "2"]
    assert [f["amount"] for _, f in rows] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert r.exists(key + ":dead") == 0


def test_ex1_the_crashed_entries_are_ten_minutes_idle_and_still_crashed_s(ex, r, prefix):
    def look(r, stream, group, min_idle_ms):
        rows = r.xpending_range(stream, group, "-", "+", 1000)
        crashed = [p for p in rows if p["consumer"] == "crashed"]
        assert len(crashed) == 3 and all(p["time_since_delivered"] >= 600_000 for p in crashed)
        assert all(p["times_delivered"] == 1 for p in rows)
        assert [p["consumer"] for p in rows].count("busy") == 2
        return _stuck(r, stream, group, min_idle_ms)

    assert ex[1].evaluate(look).correct


def _autoclaim_all(r, stream, group, consumer, min_idle_ms, count=100):
    claimed, cursor = [], "0-0"
    while True:
        cursor, entries, _ = r.xautoclaim(stream, group, consumer, min_idle_ms, start_id=cursor, count=count)
        claimed += [entry_id for entry_id, _ in entries]
        if cursor == "0-0":
            return claimed


def test_ex2_exact_feedback(ex, r, prefix):
    key = prefix + "ex2"
    call = f"`rescue_all(r, '{key}', 'workers', 'rescuer', 60000)`"
    justid = (" You passed justid=True: redis-py then returns only the claimed IDs and drops the "
              "cursor, so there is no cursor to continue from. Leave it off and take the IDs from "
              "the claimed entries.")

    def one_page(count, justid=False):
        def rescue_all(r, stream, group, consumer, min_idle_ms):
            reply = r.xautoclaim(stream, group, consumer, min_idle_ms, count=count, justid=justid)
            return reply if justid else [entry_id for entry_id, _ in reply[1]]
        return rescue_all

    assert _said(ex[2], one_page(100)) == (
        f"{call} claimed 100 of the 250 stuck entries: one XAUTOCLAIM call looks at a page of the PEL "
        "at a time. Call it again from the cursor it returns until that cursor is '0-0'.")
    assert _said(ex[2], one_page(10)).startswith(f"{call} claimed 10 of the 250 stuck entries")
    assert _said(ex[2], one_page(50)) == (
        f"after {call} 'rescuer' holds 50 entries; all 250 entries 'crashed' left behind should be its now.")
    assert _said(ex[2], one_page(100, justid=True)) == (
        f"after {call} 'rescuer' holds 100 of the 250 stuck entries.{justid}")

    def justid_and_no_list(r, stream, group, consumer, min_idle_ms):
        r.xautoclaim(stream, group, consumer, min_idle_ms, justid=True)
        return 7

    assert _said(ex[2], justid_and_no_list) == f"{call} returned 7; return a list of entry IDs.{justid}"
    assert _said(ex[2], lambda r, stream, group, consumer, min_idle_ms: _autoclaim_all(
        r, stream, group, consumer, 0)) == (
        f"{call} took entries from 'busy', which received them a moment ago. Pass the minimum idle "
        "time to XAUTOCLAIM so that live work is left alone.")
    assert _said(ex[2], lambda *args: _autoclaim_all(*args)[:-1]) == (
        f"'rescuer' now holds the right entries, but {call} returned 249 IDs instead of the 250 it "
        "claimed; return the claimed IDs.")
    assert _said(ex[2], lambda *args: _autoclaim_all(*args, count=30), "correct") == (
        "All 250 stuck entries are 'rescuer''s now, found page by page; the 5 'busy' is working on "
        "were left alone.")


def test_ex2_justid_that_still_claims_everything_is_right(ex):
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        ids = _stuck(r, stream, group, min_idle_ms)
        r.xclaim(stream, group, consumer, min_idle_ms, ids, justid=True)
        r.execute_command("XAUTOCLAIM", stream, group, consumer, min_idle_ms, "0-0", "JUSTID")
        return ids

    assert ex[2].evaluate(rescue_all).correct


def _dead_letter_script(ex):
    hint = next(h for h in ex[3].hints if "XPENDING" in h and "register_script" in h)
    return next(part for part in hint.split("`") if part.startswith("if #redis.call('XPENDING'"))


def _with_script(source, copy=_copy, over=None, returns=None):
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        script = r.register_script(source)
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries if over is None else over):
            flat = [x for pair in copy(r, stream, p).items() for x in pair]
            if script(keys=[stream, dead_stream], args=[group, p["message_id"], *flat], client=r):
                moved.append(p["message_id"])
        return moved if returns is None else returns(moved)
    return dead_letter_poison


def test_ex3_exact_feedback(ex, r, prefix):
    key, dead = prefix + "ex3", prefix + "ex3:dead"
    call = f"`dead_letter_poison(r, '{key}', 'workers', '{dead}', 3)`"
    source = _dead_letter_script(ex)
    assert _said(ex[3], lambda *args: []) == (
        f"after {call} the dead-letter stream {dead} is empty; XADD a copy of each entry delivered "
        "more than 3 times to it.")
    no_original = lambda r, stream, p: {k: v for k, v in _copy(r, stream, p).items() if k != "original_id"}  # noqa: E731
    assert _said(ex[3], _with_script(source, copy=no_original)) == (
        f"the copies in {dead} need an `original_id` field holding the entry's ID in the source stream.")
    said = _said(ex[3], _with_script(source, over=2))
    limit = [i for i, _ in r.xrange(key)][2:4]  # read by 'b': delivered 3 times, the limit
    assert said == (f"{call} dead-lettered {limit}, delivered only 3, 3 time(s): only entries delivered "
                    "more than 3 times are poison (`>`, not `>=`: an entry delivered exactly "
                    "max_deliveries times still has its last try).")
    said = _said(ex[3], _with_script(source, over=0))
    healthy = [i for i, _ in r.xrange(key)][:4]
    assert said == (f"{call} dead-lettered {healthy}, delivered only 1, 1, 3, 3 time(s): only entries "
                    "delivered more than 3 times are poison (`>`, not `>=`: an entry delivered exactly "
                    "max_deliveries times still has its last try).")
    said = _said(ex[3], _with_script(source, over=4))
    ids = [i for i, _ in r.xrange(key)]
    assert said == f"{dead} holds copies of {ids[6:]}, but the entries delivered more than 3 times are {ids[4:]}."
    wrong_count = lambda r, stream, p: {**_copy(r, stream, p), "deliveries": 9}  # noqa: E731
    said = _said(ex[3], _with_script(source, copy=wrong_count))
    ids = [i for i, _ in r.xrange(key)]
    assert said == f"the copy of {ids[4]} says deliveries='9'; XPENDING said it was delivered 4 times."
    bare = lambda r, stream, p: {"original_id": p["message_id"], "deliveries": p["times_delivered"]}  # noqa: E731
    said = _said(ex[3], _with_script(source, copy=bare))
    ids = [i for i, _ in r.xrange(key)]
    assert said == (f"the copy of {ids[4]} lost the entry's own fields; copy them too (someone will want "
                    "to look at the poison later).")

    def without_ack(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            r.xadd(dead_stream, _copy(r, stream, p))
            moved.append(p["message_id"])
        return moved

    said = _said(ex[3], without_ack)
    ids = [i for i, _ in r.xrange(key)]
    assert said == (f"{ids[4:]} are in the dead-letter stream but still pending in 'workers': XACK them "
                    "after copying, or the reaper will find them again and again.")

    def acks_everything(r, stream, group, dead_stream, max_deliveries):
        moved = _with_script(source)(r, stream, group, dead_stream, max_deliveries)
        r.xack(stream, group, *[p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 100)])
        return moved

    assert _said(ex[3], acks_everything) == (
        "entries that were not poison left the PEL too: only ack what you dead-lettered.")
    said = _said(ex[3], _with_script(source, returns=lambda moved: moved[:1]))
    ids = [i for i, _ in r.xrange(key)]
    assert said == (f"the dead-letter stream is right, but {call} returned {ids[4:5]} rather than the "
                    f"moved IDs {ids[4:]}.")


def test_ex3_exact_feedback_after_a_crash(ex, r, prefix):
    key, dead = prefix + "ex3", prefix + "ex3:dead"
    step = ("one step: a Lua script that checks the entry is still pending, XADDs the copy, and XACKs "
            "last.")

    def xadd_then_xack(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            r.xadd(dead_stream, _copy(r, stream, p))
            r.xack(stream, group, p["message_id"])
            moved.append(p["message_id"])
        return moved

    said = _said(ex[3], xadd_then_xack)
    ids = [i for i, _ in r.xrange(key)]
    # Killed before its command number 3 (the first XACK): XPENDING, XRANGE, XADD ran.
    assert said == (f"{dead} holds {ids[4:5]} twice (after your function was killed before its command "
                    "number 4 and run again, as a restarted process would): the copy was made, the "
                    f"process died before its XACK, and the restart copied it again. XACK and XADD must be {step}")

    def xack_then_xadd(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            copy = _copy(r, stream, p)
            if r.xack(stream, group, p["message_id"]):
                r.xadd(dead_stream, copy)
                moved.append(p["message_id"])
        return moved

    said = _said(ex[3], xack_then_xadd)
    ids = [i for i, _ in r.xrange(key)]
    assert said == (f"{ids[4:5]} left the PEL but never reached {dead} (after your function was killed "
                    "before its command number 4 and run again, as a restarted process would): the "
                    "XACK ran, the process died before the XADD, and the entry is gone. XACK and XADD "
                    f"must be {step}")


def test_ex3_exact_feedback_when_a_rival_acks_first(ex, r, prefix):
    key, dead = prefix + "ex3", prefix + "ex3:dead"
    call = f"`dead_letter_poison(r, '{key}', 'workers', '{dead}', 3)`"
    source = _dead_letter_script(ex)

    def multi_exec(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            pipe = r.pipeline(transaction=True)
            pipe.xack(stream, group, p["message_id"])
            pipe.xadd(dead_stream, _copy(r, stream, p))
            acked, _ = pipe.execute()
            if acked:
                moved.append(p["message_id"])
        return moved

    said = _said(ex[3], multi_exec)
    first = r.xrange(key)[4][0]
    assert said == (f"another consumer acked {first} while {call} was running (it was no longer "
                    "pending: your XACK replied 0, if you sent one), yet the entry was copied to the "
                    "dead-letter stream: it was finished, not poison. Copy only an entry that is still "
                    "pending: one Lua script that checks XPENDING, then XADDs, then XACKs (MULTI/EXEC "
                    "runs the XADD whatever the entry's state).")
    def returns_every_candidate(r, stream, group, dead_stream, max_deliveries):
        candidates = [p["message_id"] for p in _pending_over(r, stream, group, max_deliveries)]
        _with_script(source)(r, stream, group, dead_stream, max_deliveries)
        return candidates

    said = _said(ex[3], returns_every_candidate)
    first = r.xrange(key)[4][0]
    assert said == (f"{call} returned {first}, which another consumer acked while it ran (your XACK "
                    "replied 0): return only the IDs you moved.")
    assert _said(ex[3], _with_script(source), "correct") == (
        "The four entries delivered 4 and 5 times are in the dead-letter stream with their original ID "
        "and delivery count, and acked; the ones delivered once and 3 times are still pending. A crash "
        "at any point neither lost nor doubled one, and an entry another consumer finished meanwhile "
        "was left alone.")


def test_ex3_the_scene_delivers_two_entries_once_3_4_and_5_times(ex, r, prefix):
    seen = {}

    def look(r, stream, group, dead_stream, max_deliveries):
        if not seen:  # the first run's scene
            for p in r.xpending_range(stream, group, "-", "+", 100):
                seen.setdefault(p["consumer"], []).append(p["times_delivered"])
            seen["dead stream exists"] = r.exists(dead_stream)
        return _with_script(_dead_letter_script(ex))(r, stream, group, dead_stream, max_deliveries)

    assert ex[3].evaluate(look).correct
    assert seen == {"a": [1, 1], "b": [3, 3], "c": [4, 4], "d": [5, 5], "dead stream exists": 0}


def _apply_once_script(r, prefix, entry_id, amount):
    script = r.register_script("if redis.call('SET', KEYS[1], 1, 'NX') then redis.call('INCRBY', KEYS[2], "
                               "ARGV[1]) return 1 end return 0")
    return bool(script(keys=[prefix + "processed:" + entry_id, prefix + "total"], args=[amount], client=r))


def test_ex4_exact_feedback(ex, r, prefix):
    key = prefix + "ex4:"

    def no_guard(r, prefix, entry_id, amount):
        r.incrby(prefix + "total", amount)
        return True

    assert _said(ex[4], no_guard) == (
        f"{key}total is 31: every delivery was applied, duplicates too. Remember which IDs were "
        "processed (SET ... NX) and skip the repeats.")

    def first_only(r, prefix, entry_id, amount):
        if entry_id == "1-0":
            return _apply_once_script(r, prefix, entry_id, amount)
        return False

    assert _said(ex[4], first_only) == (
        f"after deliveries of 1-0 (5), 2-0 (7), 1-0, 3-0 (2), 2-0, 1-0 the total should be 14, but "
        f"{key}total is 5.")
    assert _said(ex[4], lambda r, prefix, entry_id, amount: int(_apply_once_script(r, prefix, entry_id, amount)) - 1) == (
        f"the total is right, but `apply_once(r, '{key}', id, amount)` returned [0, 0, -1, 0, -1, -1]; "
        "return True when the amount was applied and False for a duplicate.")

    def marks_first(r, prefix, entry_id, amount):
        if not r.set(prefix + "processed:" + entry_id, 1, nx=True):
            return False
        r.incrby(prefix + "total", amount)
        return True

    assert _said(ex[4], marks_first) == (
        "duplicates are absorbed, but a crash between marking and applying loses the order: the mark "
        "says 'done', so the redelivery is skipped and the amount is never added. Mark and apply in "
        "one step (a Lua script, see the hints).")

    def applies_first(r, prefix, entry_id, amount):
        if r.exists(prefix + "processed:" + entry_id):
            return False
        r.incrby(prefix + "total", amount)
        r.set(prefix + "processed:" + entry_id, 1)
        return True

    assert _said(ex[4], applies_first) == (
        "duplicates are absorbed, but a crash after applying and before marking applies the order "
        "twice: the redelivery finds no mark. Mark and apply in one step (a Lua script, see the hints).")
    assert _said(ex[4], _apply_once_script, "correct") == (
        "Duplicates are absorbed, and a crash in the middle of apply_once neither loses nor doubles an "
        "order: marking and applying happen together.")
    assert list(r.scan_iter(match=key + "*")) == []


def test_ex4_starts_from_a_clean_slate_each_check(ex, r, prefix):
    r.set(prefix + "ex4:total", 100)
    r.set(prefix + "ex4:processed:1-0", 1)
    assert ex[4].evaluate(_apply_once_script).correct
    assert ex[4].evaluate(_apply_once_script).correct


def test_ex4_a_crash_that_is_not_ours_is_an_error(ex):
    def breaks_on_the_crashy_client(r, prefix, entry_id, amount):
        # The crash test hands the learner's function a copy of the client (`_crash_after`); its
        # own client is the exercise's. (Not by the copy's function names: mutmut renames them.)
        if entry_id == "9-0" and r is not ex[4].r:
            raise KeyError("boom")
        return _apply_once_script(r, prefix, entry_id, amount)

    outcome = ex[4].evaluate(breaks_on_the_crashy_client)
    assert outcome.status == "error" and "KeyError" in outcome.message


# --- checkers-04's survivors (tools/mutate.py checkers-04 --fake-only) ---------------------------

def test_ex4_the_deliveries_and_redeliveries_it_is_given(ex, r, prefix):
    # A right answer that looks for the mark first (one read before the script): the first crash
    # lands before the script, and the redelivery must add the same amount, 3.
    seen = []

    def looks_first(r, prefix, entry_id, amount):
        seen.append((entry_id, amount))
        if r.exists(prefix + "processed:" + entry_id):
            return False
        return _apply_once_script(r, prefix, entry_id, amount)

    assert _said(ex[4], looks_first, "correct").startswith("Duplicates are absorbed")
    assert seen[:6] == [("1-0", 5), ("2-0", 7), ("1-0", 5), ("3-0", 2), ("2-0", 7), ("1-0", 5)]
    assert seen[6:] == [("9-0", 3)] * 4  # crashed before the script, redelivered; then whole, again


def test_ex4_nothing_applied_is_a_total_of_0(ex, prefix):
    assert _said(ex[4], lambda r, prefix, entry_id, amount: True) == (
        "after deliveries of 1-0 (5), 2-0 (7), 1-0, 3-0 (2), 2-0, 1-0 the total should be 14, but "
        f"{prefix}ex4:total is 0.")


def test_ex4_clears_only_its_own_keys(ex, r, prefix):
    r.set(prefix + "ex4-not-mine", 1)
    r.set(prefix + "ex3:total", 2)
    assert ex[4].evaluate(_apply_once_script).correct
    assert r.get(prefix + "ex4-not-mine") == "1" and r.get(prefix + "ex3:total") == "2"


def test_ex4_the_simulated_crash_says_what_it_is(ex):
    # A function that turns the crash into its own error shows the crash's text to the learner.
    import redis

    def rewraps(r, prefix, entry_id, amount):
        try:
            if r.exists(prefix + "processed:" + entry_id):  # a read first: the crash hits the script
                return False
            return _apply_once_script(r, prefix, entry_id, amount)
        except redis.ConnectionError as exc:
            raise ValueError(f"gave up: {exc}") from None

    outcome = ex[4].evaluate(rewraps)
    assert outcome.status == "error", outcome
    assert "gave up: simulated crash: the process died before this command" in outcome.message, outcome


def test_ex3_an_entry_delivered_once_is_not_called_the_limit(ex, r, prefix):
    key, dead = prefix + "ex3", prefix + "ex3:dead"
    right = _with_script(_dead_letter_script(ex))

    def and_a_healthy_one(r, stream, group, dead_stream, max_deliveries):
        moved = right(r, stream, group, dead_stream, max_deliveries)
        first = _pending_over(r, stream, group, 0)[0]
        r.xadd(dead_stream, _copy(r, stream, first))
        return moved

    said = _said(ex[3], and_a_healthy_one)
    first = r.xrange(key, count=1)[0][0]
    assert said == (f"`dead_letter_poison(r, '{key}', 'workers', '{dead}', 3)` dead-lettered ['{first}'], "
                    "delivered only 1 time(s): only entries delivered more than 3 times are poison.")


def test_ex3_what_it_returns_is_named_with_the_call(ex, prefix):
    key, dead = prefix + "ex3", prefix + "ex3:dead"
    call = f"`dead_letter_poison(r, '{key}', 'workers', '{dead}', 3)`"
    right = _with_script(_dead_letter_script(ex))
    assert _said(ex[3], lambda *args: right(*args) and "done") == f"{call} returned 'done'; return a list of entry IDs."

    def says_done_to_a_copy(r, *args):  # the crash and rival runs hand it a copy of the client
        moved = right(r, *args)
        return moved if r is ex[3].r else "done"

    assert _said(ex[3], says_done_to_a_copy) == f"{call} returned 'done'; return a list of entry IDs."


def test_ex3_a_function_that_raises_after_a_crash_is_a_short_error(ex, prefix):
    right = _with_script(_dead_letter_script(ex))

    def breaks_on_a_copy(r, *args):
        if r is not ex[3].r:
            raise KeyError("boom")
        return right(r, *args)

    outcome = ex[3].evaluate(breaks_on_a_copy)
    assert outcome.status == "error", outcome
    assert outcome.message == (f"`dead_letter_poison(r, '{prefix}ex3', 'workers', '{prefix}ex3:dead', 3)` "
                               "raised KeyError: 'boom'"), outcome


ACK_ALL_FIRST = """
local out = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100)) do
  if p[4] > tonumber(ARGV[2]) then
    redis.call('XACK', KEYS[1], ARGV[1], p[1])
    table.insert(out, p[1])
    table.insert(out, p[4])
  end
end
return out
"""


def test_ex3_the_first_crash_is_before_the_second_command(ex, prefix):
    # One script acks every poison entry (command 1), then each copy is read and added: killed
    # before command 2, nothing was copied.
    key, dead = prefix + "ex3", prefix + "ex3:dead"

    def acks_then_copies(r, stream, group, dead_stream, max_deliveries):
        flat = r.eval(ACK_ALL_FIRST, 1, stream, group, max_deliveries)
        moved = []
        for entry_id, times in zip(flat[::2], flat[1::2]):
            fields = r.xrange(stream, entry_id, entry_id)[0][1]
            r.xadd(dead_stream, {**fields, "original_id": entry_id, "deliveries": times})
            moved.append(entry_id)
        return moved

    assert _said(ex[3], acks_then_copies) == (
        f"after `dead_letter_poison(r, '{key}', 'workers', '{dead}', 3)` the dead-letter stream {dead} is "
        "empty (after your function was killed before its command number 2 and run again, as a "
        "restarted process would); XADD a copy of each entry delivered more than 3 times to it.")


def test_ex2_the_scene_is_250_stuck_5_busy_5_unread(ex, r, prefix):
    key = prefix + "ex2"
    assert ex[2].evaluate(lambda *args: _autoclaim_all(*args)).correct
    held = {c["name"]: int(c["pending"]) for c in r.xpending(key, "workers")["consumers"]}
    assert r.xlen(key) == 260 and held == {"rescuer": 250, "busy": 5}


def test_ex2_justid_that_claims_nothing_says_0(ex, prefix):
    def too_patient(r, stream, group, consumer, min_idle_ms):
        return r.xautoclaim(stream, group, consumer, min_idle_ms * 100, justid=True)

    assert _said(ex[2], too_patient) == (
        f"after `rescue_all(r, '{prefix}ex2', 'workers', 'rescuer', 60000)` 'rescuer' holds 0 of the 250 "
        "stuck entries. You passed justid=True: redis-py then returns only the claimed IDs and drops the "
        "cursor, so there is no cursor to continue from. Leave it off and take the IDs from the claimed "
        "entries.")


def test_ex2_what_rescuer_holds_decides_the_diagnosis(ex, prefix):
    call = f"`rescue_all(r, '{prefix}ex2', 'workers', 'rescuer', 60000)`"

    def one_page_returning_nothing(count):
        def rescue_all(r, stream, group, consumer, min_idle_ms):
            r.xautoclaim(stream, group, consumer, min_idle_ms, count=count)
            return []
        return rescue_all

    for count in (10, 100):
        assert _said(ex[2], one_page_returning_nothing(count)) == (
            f"{call} claimed {count} of the 250 stuck entries: one XAUTOCLAIM call looks at a page of the "
            "PEL at a time. Call it again from the cursor it returns until that cursor is '0-0'.")
    assert _said(ex[2], lambda r, stream, group, consumer, min_idle_ms: []) == (
        f"after {call} 'rescuer' holds 0 entries; all 250 entries 'crashed' left behind should be its now.")


@pytest.mark.parametrize("returned", [10, 100])
def test_ex2_a_page_of_ids_returned_and_none_claimed_says_0(ex, prefix, returned):
    assert _said(ex[2], lambda r, stream, group, consumer, min_idle_ms: ["1-0"] * returned) == (
        f"`rescue_all(r, '{prefix}ex2', 'workers', 'rescuer', 60000)` claimed 0 of the 250 stuck entries: "
        "one XAUTOCLAIM call looks at a page of the PEL at a time. Call it again from the cursor it "
        "returns until that cursor is '0-0'.")


def test_ex1_the_scene_and_answers_of_other_shapes(ex, r, prefix):
    key = prefix + "ex1"
    call = f"`stuck_ids(r, '{key}', 'workers', 60000)`"
    said = _said(ex[1], lambda r, stream, group, min_idle_ms: [{"id": "1-0"}])
    crashed = [i for i, _ in r.xrange(key, count=3)]
    assert said == (f"{call} returned [\"{{'id': '1-0'}}\"], but the entries idle for 60000 ms or more are "
                    f"{crashed}.")
    held = {c["name"]: int(c["pending"]) for c in r.xpending(key, "workers")["consumers"]}
    assert held == {"crashed": 3, "busy": 2}
    assert [f for _, f in r.xrange(key)][8:] == []  # 8 orders
    assert [f for _, f in r.xrange(key)][7] == {"order": "7", "amount": "8"}


def test_ex2_the_orders_amounts_go_1_to_9(ex, r, prefix):
    assert ex[2].evaluate(lambda *args: _autoclaim_all(*args)).correct
    assert [f for _, f in r.xrange(prefix + "ex2", count=11)][8:] == [
        {"order": "8", "amount": "9"}, {"order": "9", "amount": "1"}, {"order": "10", "amount": "2"}]


@pytest.mark.parametrize("execute", [lambda pipe: pipe.execute(raise_on_error=False),
                                     lambda pipe: pipe.execute(False)],
                         ids=["by-keyword", "positional"])
def test_ex3_a_pipeline_run_with_raise_on_error_false_keeps_its_arguments(ex, execute):
    # The checker wraps pipelines (to crash before them, or to let a rival ack first); an answer
    # that runs one with raise_on_error=False, keyword or positional, must get the error back as
    # a reply, as redis-py does, not raised.
    solution = _with_script(_dead_letter_script(ex))

    def checks_first_then_moves(r, stream, group, dead_stream, max_deliveries):
        pipe = r.pipeline(transaction=False)
        pipe.xlen(stream)
        pipe.incr(stream)  # WRONGTYPE: a stream is not a counter; nothing changes
        length, refused = execute(pipe)
        assert length > 0 and isinstance(refused, redis.ResponseError)
        return solution(r, stream, group, dead_stream, max_deliveries)

    outcome = ex[3].evaluate(checks_first_then_moves)
    assert outcome.status == "correct", outcome.message


def test_ex3_a_crash_message_counts_the_learners_commands_not_redis_pys_script_loads(ex, r, prefix):
    # A script body new on every call (here a unique comment): redis-py sends EVALSHA, meets
    # NOSCRIPT, sends SCRIPT LOAD and EVALSHA again. The learner sent one command; the crash
    # message's numbering must say so (XPENDING, XRANGE, the script's XADD, then the XACK: 4).
    key, dead = prefix + "ex3", prefix + "ex3:dead"

    def scripted_xadd_then_xack(r, stream, group, dead_stream, max_deliveries):
        moved = []
        for p in _pending_over(r, stream, group, max_deliveries):
            flat = [x for pair in _copy(r, stream, p).items() for x in pair]
            add = r.register_script(f"-- {uuid.uuid4().hex}\nreturn redis.call('XADD', KEYS[1], '*', unpack(ARGV))")
            add(keys=[dead_stream], args=flat)
            r.xack(stream, group, p["message_id"])
            moved.append(p["message_id"])
        return moved

    said = _said(ex[3], scripted_xadd_then_xack)
    ids = [i for i, _ in r.xrange(key)]
    assert said.startswith(f"{dead} holds {ids[4:5]} twice (after your function was killed before its "
                           "command number 4 and run again"), said
