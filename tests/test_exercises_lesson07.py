"""Lesson 07's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import pytest

from streamlab import exercises


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
