"""Lesson 01's checkers: untouched, a wrong answer and the solution, on both backends."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from streamlab import exercises

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01-xadd-and-ids.ipynb"


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(1, r, prefix=prefix), start=1))


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_untouched_exercise_is_not_attempted(ex, number):
    outcome = ex[number].evaluate(...)
    assert outcome.status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_counts_the_entries_in_the_stream(ex, r, prefix):
    ids = [r.xadd(prefix + "ex1", {"sensor_id": "kitchen", "temp": "20"}) for _ in range(2)]
    outcome = ex[1].evaluate(ids)
    assert outcome.status == "wrong"
    assert f"{prefix}ex1 has 2 entries but the exercise asks for 3" in outcome.message


def test_ex1_running_the_cell_twice_suggests_deleting_first(ex, r, prefix):
    ids = []
    for _ in range(2):
        ids = [r.xadd(prefix + "ex1", {"sensor_id": "kitchen", "temp": "20"}) for _ in range(3)]
    outcome = ex[1].evaluate(ids)
    assert outcome.status == "wrong"
    assert "has 6 entries" in outcome.message and "r.delete(" in outcome.message


def test_ex1_ids_that_are_not_in_the_stream_are_wrong(ex, r, prefix):
    for _ in range(3):
        r.xadd(prefix + "ex1", {"sensor_id": "kitchen", "temp": "20"})
    outcome = ex[1].evaluate(["1-1", "1-2", "1-3"])
    assert outcome.status == "wrong"
    assert "'1-1' is not the ID of an entry" in outcome.message


def test_ex1_wrong_sensor_is_named(ex, r, prefix):
    ids = [r.xadd(prefix + "ex1", {"sensor_id": "garage", "temp": "20"}) for _ in range(3)]
    outcome = ex[1].evaluate(ids)
    assert outcome.status == "wrong"
    assert "'garage'" in outcome.message and "'kitchen'" in outcome.message


def test_ex1_accepts_bytes_ids_from_walrus(ex, r, prefix):
    stream = r.walrus.Stream(prefix + "ex1")
    ids = [stream.add({"sensor_id": "kitchen", "temp": 20.5}) for _ in range(3)]
    assert isinstance(ids[0], bytes)
    assert ex[1].evaluate(ids).correct


def test_ex2_naive_datetime_is_wrong(ex):
    def id_to_datetime(entry_id):
        return datetime.utcfromtimestamp(int(entry_id.split("-")[0]) / 1000)

    outcome = ex[2].evaluate(id_to_datetime)
    assert outcome.status == "wrong"
    assert "without a time zone" in outcome.message


def test_ex2_sequence_counted_as_time_is_wrong(ex):
    def id_to_datetime(entry_id):
        ms, seq = entry_id.split("-")
        return datetime.fromtimestamp((int(ms) + int(seq)) / 1000, tz=timezone.utc)

    outcome = ex[2].evaluate(id_to_datetime)
    assert outcome.status == "wrong"
    assert "sequence number" in outcome.message


def test_ex2_milliseconds_read_as_seconds_is_a_short_error(ex):
    def id_to_datetime(entry_id):
        return datetime.fromtimestamp(int(entry_id.split("-")[0]), tz=timezone.utc)

    outcome = ex[2].evaluate(id_to_datetime)
    assert outcome.status == "error"
    assert outcome.message.startswith("`id_to_datetime('1700000000000-0')` raised")


@pytest.mark.parametrize("answer, says", [
    ("1700000000000-7", "XADD refuses 1700000000000-7"),
    ("1699999999999-99", "XADD refuses"),
    ("1700000000001-0", "a smaller ID works too"),
    ("1700000000000-*", "lets the server choose"),
    ("tomorrow", "is not a full stream ID"),
])
def test_ex3_wrong_ids_are_explained(ex, r, prefix, answer, says):
    outcome = ex[3].evaluate(answer)
    assert outcome.status == "wrong"
    assert says in outcome.message
    assert r.exists(prefix + "ex3:probe") == 0


def test_ex4_python_repr_instead_of_json_is_explained(ex, r, prefix):
    entry_id = r.xadd(prefix + "ex4", {"sensor_id": "lab1", "temp": 21.5,
                                       "location": str({"room": "lab", "floor": 2})})
    outcome = ex[4].evaluate(entry_id)
    assert outcome.status == "wrong"
    assert "json.loads cannot read" in outcome.message


def test_ex4_missing_entry_is_wrong(ex, r, prefix):
    outcome = ex[4].evaluate("1-1")
    assert outcome.status == "wrong"
    assert "there is no entry 1-1" in outcome.message


def test_ex4_wrong_location_is_shown(ex, r, prefix):
    entry_id = r.xadd(prefix + "ex4", {"sensor_id": "lab1", "temp": 21.5,
                                       "location": json.dumps({"room": "lab"})})
    outcome = ex[4].evaluate(entry_id)
    assert outcome.status == "wrong"
    assert "expected {'room': 'lab', 'floor': 2}" in outcome.message


def test_notebook_checks_each_exercise_with_the_checkers_answer_names(r):
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.name} not built yet")
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    for e in exercises.load(1, r):
        assert e.call_text() in source
