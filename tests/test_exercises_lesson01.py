"""Lesson 01's checkers: untouched, a wrong answer and the solution, on both backends."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
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


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

def _said(exercise, answer, status="wrong"):
    outcome = exercise.evaluate(answer)
    assert outcome.status == status, outcome
    return outcome.message


def _readings(r, stream, temps=("20.5", "20.7", "21.0"), sensor="kitchen"):
    return [r.xadd(stream, {"sensor_id": sensor, "temp": t}) for t in temps]


def test_ex1_exact_feedback(ex, r, prefix):
    key = prefix + "ex1"
    assert _said(ex[1], "1-0") == "`ids` should be a list of the three IDs XADD returned, not str."
    assert _said(ex[1], b"1-0") == "`ids` should be a list of the three IDs XADD returned, not bytes."
    assert _said(ex[1], 3) == "`ids` should be a list of the three IDs XADD returned, not int."
    assert _said(ex[1], ["1-0"]) == f"{key} is empty (or does not exist): add the entries to that key."
    ids = _readings(r, key, ("20.5", "20.7"))
    assert _said(ex[1], ids) == f"the stream {key} has 2 entries but the exercise asks for 3."
    ids += _readings(r, key, ("21.0", "21.1"))
    assert _said(ex[1], ids) == (
        f"the stream {key} has 4 entries but the exercise asks for 3. Running the cell again adds "
        f"three more: start it with `r.delete('{key}')`.")
    r.xdel(key, ids.pop())
    assert _said(ex[1], ids[:2]) == "`ids` holds 2 IDs but the exercise asks you to keep all 3."
    assert _said(ex[1], ids[:2] + ["9-9"]) == (
        f"'9-9' is not the ID of an entry in {key} (it holds {', '.join(ids)}). Keep what XADD returns.")
    assert _said(ex[1], ids[::-1]) == (
        "those are the right IDs but not in the order the entries were added; XADD's IDs always "
        "increase, so keep them in the order you got them.")
    assert _said(ex[1], tuple(i.encode() for i in ids), "correct") == (
        f"{key} holds your three readings, {ids[0]} to {ids[2]}.")


@pytest.mark.parametrize("fields, says", [
    ({"sensor_id": "hall", "temp": "20.5"}, "has sensor_id 'hall'; the exercise asks for 'kitchen'."),
    ({"temp": "20.5"}, "has sensor_id None; the exercise asks for 'kitchen'."),
    ({"sensor_id": "kitchen", "temp": "warm"}, "has temp 'warm', which is not a number."),
    ({"sensor_id": "kitchen"}, "has temp None, which is not a number."),
])
def test_ex1_exact_feedback_on_each_entrys_fields(ex, r, prefix, fields, says):
    key = prefix + "ex1"
    ids = _readings(r, key, ("20.5", "20.7"))
    ids.append(r.xadd(key, fields))
    assert _said(ex[1], ids) == f"entry {ids[2]} {says}"


def test_ex2_exact_feedback(ex):
    first = "`id_to_datetime('1700000000000-0')` returned"
    at = datetime.fromtimestamp(1700000000, tz=timezone.utc)
    assert _said(ex[2], lambda entry_id: "x") == f"{first} str 'x'; return a datetime."
    assert _said(ex[2], lambda entry_id: at.replace(tzinfo=None)) == (
        f"{first} a datetime without a time zone (2023-11-14 22:13:20). IDs count from 1970-01-01 "
        "UTC: pass `tz=timezone.utc`.")
    hours = (" That is a whole number of hours off: the time was read in the local time zone. "
             "Pass `tz=timezone.utc`.")
    for off, why in ((timedelta(hours=-1), hours), (timedelta(days=400), hours),
                     (timedelta(seconds=1), ""), (timedelta(seconds=90), ""),
                     (timedelta(microseconds=999_999), " The sequence number (after the dash) is "
                                                        "not part of the time."),
                     (timedelta(microseconds=-1000), " The sequence number (after the dash) is "
                                                     "not part of the time.")):
        assert _said(ex[2], lambda entry_id, off=off: at + off) == (
            f"{first} {(at + off).isoformat()}, expected {at.isoformat()}.{why}")
    assert _said(ex[2], lambda entry_id: datetime.fromtimestamp(
        int(entry_id.split("-")[0]) // 1000, tz=timezone.utc)) == (
        "`id_to_datetime('1700000000123-7')` returned 2023-11-14T22:13:20+00:00, expected "
        "2023-11-14T22:13:20.123000+00:00. The milliseconds are gone: `// 1000` (or int()) rounds "
        "down to whole seconds. Divide with `/ 1000` to keep them.")
    right = lambda entry_id: datetime.fromtimestamp(int(entry_id.split("-")[0]) / 1000, tz=timezone.utc)  # noqa: E731
    assert _said(ex[2], right, "correct") == "e.g. 1700000000123-7 was added at 2023-11-14T22:13:20.123000+00:00."


def test_ex2_the_last_case_is_checked_too(ex):
    def right_until_the_last(entry_id):
        ms = int(entry_id.split("-")[0])
        return datetime.fromtimestamp(ms / 1000 + (ms == 1735689599999), tz=timezone.utc)

    assert _said(ex[2], right_until_the_last).startswith("`id_to_datetime('1735689599999-0')` returned")


def test_ex3_exact_feedback(ex, r, prefix):
    assert _said(ex[3], "1700000000000-*") == (
        "'1700000000000-*' lets the server choose the sequence number; the exercise asks you to "
        "write out the full ID the server would pick.")
    for answer in ("abc", "1700000000000", "1700000000000-8-1", "-8"):
        assert _said(ex[3], answer) == (
            f"{answer!r} is not a full stream ID: write it as <milliseconds>-<sequence>, like the "
            "last-generated-id 1700000000000-7.")
    refused = _said(ex[3], "1700000000000-7")
    assert refused.startswith('XADD refuses 1700000000000-7: "') and refused.endswith(
        '". The new ID must be greater than the last-generated-id, 1700000000000-7.')
    for answer in ("1700000000001-0", "1700000000000-9"):
        assert _said(ex[3], answer) == (
            f"XADD accepts {answer}, but a smaller ID works too: within millisecond 1700000000000 the "
            "sequence number can still go up.")
    assert _said(ex[3], b" 1700000000000-8 ", "correct").startswith(
        "1700000000000-8: same millisecond, next sequence number.")
    assert r.exists(prefix + "ex3:probe") == 0


def test_ex3_a_probe_left_by_an_interrupted_check_does_not_change_the_verdict(ex, r, prefix):
    r.xadd(prefix + "ex3:probe", {"probe": "left"}, id="1800000000000-0")
    assert _said(ex[3], "1700000000000-8", "correct").startswith("1700000000000-8: same millisecond")
    assert r.exists(prefix + "ex3:probe") == 0


def test_ex4_exact_feedback(ex, r, prefix):
    key = prefix + "ex4"

    def added(**fields):
        return r.xadd(key, fields)

    assert _said(ex[4], "nope") == "`entry_id` should be the ID XADD returned (like 1700000000000-0), not 'nope'."
    assert _said(ex[4], "1-1") == (
        f"there is no entry 1-1 in {key}: add the reading to that key and keep the ID XADD returns.")
    assert _said(ex[4], added(sensor_id="x", temp=21.5)) == (
        "the entry's sensor_id is 'x'; the exercise asks for 'lab1'.")
    assert _said(ex[4], added(sensor_id="lab1", temp="hot")) == (
        "the entry's temp is 'hot'; the exercise asks for 21.5.")
    assert _said(ex[4], added(sensor_id="lab1")) == "the entry's temp is None; the exercise asks for 21.5."
    assert _said(ex[4], added(sensor_id="lab1", temp="21.5")) == (
        "the entry has no location field (it has sensor_id, temp).")
    assert _said(ex[4], added(sensor_id="lab1", temp="21.5", location=str({"room": "lab", "floor": 2}))) == (
        "location holds \"{'room': 'lab', 'floor': 2}\": that is Python's str() of the dict, which "
        "json.loads cannot read. Store `json.dumps(location)`.")
    assert _said(ex[4], added(sensor_id="lab1", temp="21.5", location="lab")) == (
        "location holds 'lab', which is not JSON: store `json.dumps(location)`.")
    assert _said(ex[4], added(sensor_id="lab1", temp="21.5", location='{"room": "lab"}')) == (
        "json.loads of location gives {'room': 'lab'}, expected {'room': 'lab', 'floor': 2}.")
    right = added(sensor_id="lab1", temp="21.50", location=json.dumps({"floor": 2, "room": "lab"}))
    assert _said(ex[4], right.encode(), "correct") == (
        "location went in as the string '{\"floor\": 2, \"room\": \"lab\"}', and json.loads gives the dict "
        "back. Every field is a string: the reader decides what it means.")


def test_ex2_one_microsecond_off_is_still_the_sequence_number(ex):
    at = datetime.fromtimestamp(1700000000, tz=timezone.utc)
    assert _said(ex[2], lambda entry_id: at + timedelta(microseconds=1)) == (
        "`id_to_datetime('1700000000000-0')` returned 2023-11-14T22:13:20.000001+00:00, expected "
        "2023-11-14T22:13:20+00:00. The sequence number (after the dash) is not part of the time.")


def test_ex3_right_answer_exact_message(ex):
    assert _said(ex[3], "1700000000000-8", "correct") == (
        "1700000000000-8: same millisecond, next sequence number. `*` also stays above the "
        "last-generated-id, but it starts from the server's clock: it picks the current "
        "millisecond with sequence 0, and the next sequence number only when the clock has "
        "not passed the last-generated-id's millisecond.")


def test_ex4_an_id_before_the_readings_is_not_one_of_them(ex, r, prefix):
    key = prefix + "ex4"
    r.xadd(key, {"sensor_id": "lab1", "temp": "21.5", "location": json.dumps({"room": "lab", "floor": 2})},
           id="5-0")
    assert _said(ex[4], "1-1") == (
        f"there is no entry 1-1 in {key}: add the reading to that key and keep the ID XADD returns.")

