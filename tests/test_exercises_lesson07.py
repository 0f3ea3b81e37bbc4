"""Lesson 07's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import copy

import pytest

from streamlab import exercises
from streamlab.exercises import lesson07


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(7, r, prefix=prefix), start=1))


@pytest.mark.parametrize("number", [1, 2, 3])
def test_untouched_exercise_is_not_attempted(ex, number):
    assert ex[number].evaluate(...).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_function_still_returning_ellipsis_is_not_attempted(ex, number):
    def blank(*args):
        return ...

    assert ex[number].evaluate(blank).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_counting_the_reading_at_the_threshold_is_wrong(ex):
    def count_hot(r, stream, threshold):
        return sum(float(f["temp"]) >= threshold for _, f in r.xrange(stream))

    outcome = ex[1].evaluate(count_hot)
    assert outcome.status == "wrong"
    assert "only above the threshold" in outcome.message


def test_ex1_comparing_temperatures_as_text_is_wrong(ex):
    def count_hot(r, stream, threshold):
        return sum(f["temp"] > str(threshold) for _, f in r.xrange(stream))

    outcome = ex[1].evaluate(count_hot)
    assert outcome.status == "wrong"
    assert "as text" in outcome.message


def test_ex1_a_hard_coded_count_fails_the_second_threshold(ex):
    outcome = ex[1].evaluate(lambda r, stream, threshold: 3)
    assert outcome.status == "wrong"
    assert "above 20" in outcome.message


def test_ex1_a_list_instead_of_a_count_is_wrong(ex):
    def count_hot(r, stream, threshold):
        return [i for i, f in r.xrange(stream) if float(f["temp"]) > threshold]

    outcome = ex[1].evaluate(count_hot)
    assert outcome.status == "wrong"
    assert "return the number" in outcome.message


def test_ex2_the_first_consumer_listed_is_not_the_busiest(ex):
    def most_pending(r, stream, group):
        first = r.xpending(stream, group)["consumers"][0]
        return first["name"], first["pending"]

    outcome = ex[2].evaluate(most_pending)
    assert outcome.status == "wrong"
    assert "first consumer listed" in outcome.message


def test_ex2_most_delivered_is_not_most_pending(ex):
    def most_pending(r, stream, group):
        return "w3", 9  # the consumer that was given the most entries, acked or not

    outcome = ex[2].evaluate(most_pending)
    assert outcome.status == "wrong"
    assert "acked 8 of them" in outcome.message


def test_ex2_the_name_alone_is_not_a_pair(ex):
    outcome = ex[2].evaluate(lambda r, stream, group: "w2")
    assert outcome.status == "wrong"
    assert "return a pair" in outcome.message


def test_ex2_right_consumer_wrong_count_is_wrong(ex):
    outcome = ex[2].evaluate(lambda r, stream, group: ("w2", 9))
    assert outcome.status == "wrong"
    assert "XPENDING says 5" in outcome.message


def test_ex3_pending_alone_misses_the_lag(ex):
    def unfinished(r, stream, group):
        return [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 100)]

    outcome = ex[3].evaluate(unfinished)
    assert outcome.status == "wrong"
    assert "lag" in outcome.message


def test_ex3_undelivered_alone_misses_the_pending(ex):
    def unfinished(r, stream, group):
        last = r.xinfo_groups(stream)[0]["last-delivered-id"]
        return [i for i, _ in r.xrange(stream, "(" + last, "+")]

    outcome = ex[3].evaluate(unfinished)
    assert outcome.status == "wrong"
    assert "XPENDING" in outcome.message


def test_ex3_the_whole_stream_includes_acked_entries(ex):
    outcome = ex[3].evaluate(lambda r, stream, group: [i for i, _ in r.xrange(stream)])
    assert outcome.status == "wrong"
    assert "were acked" in outcome.message


def test_ex3_right_entries_out_of_order_is_wrong(ex):
    def unfinished(r, stream, group):
        last = r.xinfo_groups(stream)[0]["last-delivered-id"]
        new = [i for i, _ in r.xrange(stream, "(" + last, "+")]
        return new + [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 100)]

    outcome = ex[3].evaluate(unfinished)
    assert outcome.status == "wrong"
    assert "ID order" in outcome.message


def test_ex3_a_learner_function_that_raises_is_reported_not_raised(ex):
    def unfinished(r, stream, group):
        return r.xinfo_groups(stream)[5]

    outcome = ex[3].evaluate(unfinished)
    assert outcome.status == "error"
    assert "IndexError" in outcome.message


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, answer, status="wrong"):
    outcome = exercise.evaluate(answer)
    assert outcome.status == status, outcome
    return outcome.message


def _count_hot(r, stream, threshold):
    return sum(float(f["temp"]) > threshold for _, f in r.xrange(stream))


def _most_pending(r, stream, group):
    row = max(r.xpending(stream, group)["consumers"], key=lambda c: c["pending"])
    return row["name"], row["pending"]


def _unfinished(r, stream, group):
    pending = [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 10000)]
    last = next(g for g in r.xinfo_groups(stream) if g["name"] == group)["last-delivered-id"]
    return pending + [i for i, _ in r.xrange(stream, "(" + last, "+")]


def test_ex1_exact_feedback(ex, prefix):
    call = f"`count_hot(r, '{prefix}ex1', 25)`"
    assert _said(ex[1], lambda r, stream, threshold: True) == (
        f"{call} returned True; return the number of readings (an int).")
    assert _said(ex[1], lambda r, stream, threshold: "4") == (
        f"{call} returned '4'; return the number of readings (an int).")
    at = lambda r, stream, threshold: sum(float(f["temp"]) >= threshold for _, f in r.xrange(stream))  # noqa: E731
    assert _said(ex[1], at) == (
        f"{call} returned 4: it counted the reading of exactly 25 °C. The pipeline alerts only "
        "above the threshold (`>`), not at it.")
    as_text = lambda r, stream, threshold: sum(f["temp"] > str(threshold) for _, f in r.xrange(stream))  # noqa: E731
    assert _said(ex[1], as_text) == (
        f"{call} returned 5: that is what comparing the temperatures as text gives ('9.50' > '25'). "
        "Stream values are strings: convert with float() first.")
    assert _said(ex[1], lambda r, stream, threshold: 3) == (
        f"`count_hot(r, '{prefix}ex1', 20)` returned 3, but 7 of the 10 readings in {prefix}ex1 "
        "are above 20 °C.")
    assert _said(ex[1], lambda r, stream, threshold: 0) == (
        f"{call} returned 0, but 3 of the 10 readings in {prefix}ex1 are above 25 °C.")


def test_ex1_the_scene_is_the_checkers_own_every_time(ex, r, prefix):
    for _ in range(2):  # a second check starts again from the ten readings
        assert _said(ex[1], lambda r, stream, threshold: float(_count_hot(r, stream, threshold)),
                     "correct") == ("Right for both thresholds. This is the number the alert group "
                                    "must have written: the ledger compares the two.")
    rows = [f for _, f in r.xrange(prefix + "ex1")]
    assert [f["temp"] for f in rows] == lesson07.EX1_TEMPS
    assert [f["sensor_id"] for f in rows[:4]] == ["sensor1", "sensor2", "sensor3", "sensor1"]
    assert {f["humidity"] for f in rows} == {"50.0"}


def test_ex2_exact_feedback(ex, prefix):
    call = f"`most_pending(r, '{prefix}ex2', 'workers')`"
    assert _said(ex[2], lambda r, stream, group: "w2") == (
        f"{call} returned 'w2'; return a pair: (consumer name, pending count).")
    assert _said(ex[2], lambda r, stream, group: ("w2", 5, 0)) == (
        f"{call} returned ('w2', 5, 0); return a pair: (consumer name, pending count).")
    assert _said(ex[2], lambda r, stream, group: ("w3", 1)) == (
        f"{call} chose w3, which was given the most entries (9) but acked 8 of them. Pending counts "
        "only what was delivered and not acked yet.")
    assert _said(ex[2], lambda r, stream, group: (b"w1", 2)) == (
        f"{call} chose w1, the first consumer listed. XPENDING lists consumers in order of name "
        "(real Redis) or of creation (fakeredis), not by how much they hold.")
    assert _said(ex[2], lambda r, stream, group: ("w9", 2)) == (
        f"{call} returned 'w9'; the consumers are w1 (2 pending), w2 (5) and w3 (1).")
    assert _said(ex[2], lambda r, stream, group: ("w2", 4)) == (
        f"{call} named w2, rightly, but said it holds 4; XPENDING says 5.")


def test_ex2_a_pair_as_a_list_with_bytes_and_text_is_right_every_time(ex, r, prefix):
    right = ("w2 holds 5 unacknowledged entries: in the capstone, that is the worker whose death "
             "leaves most work behind, and what the reaper takes over.")
    for _ in range(2):  # a second check builds its scene again
        assert _said(ex[2], lambda r, stream, group: [b"w2", "5"], "correct") == right
        assert _said(ex[2], _most_pending, "correct") == right
    rows = [f for _, f in r.xrange(prefix + "ex2")]
    assert len(rows) == 20 and {f["temp"] for f in rows} == {"20.00"}
    assert [f["sensor_id"] for f in rows[:4]] == ["sensor1", "sensor2", "sensor3", "sensor1"]


def test_ex3_exact_feedback(ex, r, prefix):
    call = f"`unfinished(r, '{prefix}ex3', 'workers')`"
    for answer in ("1-0,2-0", b"1-0", 7):
        assert _said(ex[3], lambda r, stream, group: answer) == (
            f"{call} returned {answer!r}; return a list of entry IDs.")
    assert _said(ex[3], lambda *args: _unfinished(*args)[::-1]) == (
        f"{call} found the right 6 entries but not in ID order.")
    assert _said(ex[3], lambda *args: _unfinished(*args)[:2]) == (
        f"{call} returned only the 2 pending entries; the 4 entries nobody has been given yet (the "
        "group's lag) are unfinished too.")
    assert _said(ex[3], lambda *args: _unfinished(*args)[2:]) == (
        f"{call} returned only the 4 entries never delivered; the 2 that w1 read and never acked "
        "(XPENDING) are unfinished too.")
    # Each check builds its scene again (new IDs): read them after it.
    said = _said(ex[3], lambda r, stream, group: [i for i, _ in r.xrange(stream)])
    first = r.xrange(prefix + "ex3", count=1)[0][0]
    assert said == f"{call} includes 6 entries that were acked, so finished (for example {first})."
    said = _said(ex[3], lambda *args: _unfinished(*args)[:-1])
    want = _unfinished(r, prefix + "ex3", "workers")
    assert said == f"{call} returned 5 IDs; the unfinished ones are {want}."


def test_ex3_pairs_and_bytes_are_ids_and_a_second_check_is_the_same(ex, r, prefix):
    right = ("2 pending (w1 read them and never acked) and 4 never delivered (the lag): the "
             "pipeline is finished when both are zero, which is what the ledger checks.")
    as_pairs = lambda *args: [(i.encode(), {}) for i in _unfinished(*args)]  # noqa: E731
    for _ in range(2):
        assert _said(ex[3], as_pairs, "correct") == right
    assert {f["temp"] for _, f in r.xrange(prefix + "ex3")} == {"20.00"}


def test_ex2_the_scene_is_what_the_messages_say(ex):
    seen = []

    def look(r, stream, group):
        seen.extend((c["name"], int(c["pending"])) for c in r.xpending(stream, group)["consumers"])
        info = {c["name"]: c for c in r.xinfo_consumers(stream, group)}
        seen.append(sorted(info))
        return _most_pending(r, stream, group)

    assert ex[2].evaluate(look).correct
    # "the consumers are w1 (2 pending), w2 (5) and w3 (1)"; w3 "was given the most entries (9)".
    assert sorted(seen[:3]) == [("w1", 2), ("w2", 5), ("w3", 1)] and seen[3] == ["w1", "w2", "w3"]


def test_ex3_the_scene_is_what_the_messages_say(ex, r, prefix):
    seen = {}

    def look(r, stream, group):
        seen["pending"] = r.xpending(stream, group)["consumers"]
        seen["consumers"] = sorted(c["name"] for c in r.xinfo_consumers(stream, group))
        return _unfinished(r, stream, group)

    assert ex[3].evaluate(look).correct
    # "2 pending (w1 read them and never acked)"; w2 read 3 and acked them.
    assert [(c["name"], int(c["pending"])) for c in seen["pending"]] == [("w1", 2)]
    assert seen["consumers"] == ["w1", "w2"]
    rows = [f for _, f in r.xrange(prefix + "ex3")]
    assert [f["sensor_id"] for f in rows] == ["sensor1", "sensor2", "sensor3"] * 4


def test_ex3_id_order_is_by_number_not_text(r, prefix):
    """With IDs 1-1 ... 1-12 (the scene's XADDs given explicit IDs), text order is not ID order."""
    numbered = copy.copy(r)
    seq = iter(range(1, 100))
    numbered.xadd = lambda name, fields, **kwargs: r.xadd(name, fields, id=f"1-{next(seq)}")
    ex3 = exercises.load(7, numbered, prefix=prefix)[2]
    outcome = ex3.evaluate(lambda *args: _unfinished(*args)[::-1])
    assert outcome.status == "wrong"
    assert outcome.message == (f"`unfinished(r, '{prefix}ex3', 'workers')` found the right 6 entries "
                               "but not in ID order.")
    assert ex3.evaluate(_unfinished).correct
