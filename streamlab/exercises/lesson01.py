"""Checkers for lesson 01, XADD and IDs (notebooks/01-xadd-and-ids.ipynb).

Solutions: notebooks/solutions/01-xadd-and-ids.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import redis

from .. import ids as stream_ids
from . import ExerciseSet, Wrong

exercises = ExerciseSet(lesson=1, solutions="01-xadd-and-ids.py")

def _text(value) -> str:
    """IDs and fields as str: walrus (bytes replies) and redis-py (decoded) both count."""
    return value.decode() if isinstance(value, bytes) else str(value)


@exercises.add(1, "Three readings, three IDs", hints=[
    "`r.xadd(stream, fields)` adds one entry and returns its ID; call it three times.",
    "Collect the return values: `ids = [r.xadd('lesson01:ex1', {'sensor_id': 'kitchen', "
    "'temp': t}) for t in (20.5, 20.7, 21.0)]`. Start the cell with "
    "`r.delete('lesson01:ex1')` so that running it twice still leaves three entries.",
])
def ex1(ex, ids):
    """XADD three entries to lesson01:ex1 and keep the IDs XADD returned."""
    stream = ex.key("ex1")
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
        raise Wrong(f"`ids` should be a list of the three IDs XADD returned, not {type(ids).__name__}.")
    ids = [_text(i) for i in ids]
    length = ex.r.xlen(stream)
    if length == 0:
        raise Wrong(f"{stream} is empty (or does not exist): add the entries to that key.")
    if length != 3:
        extra = (f" Running the cell again adds three more: start it with `r.delete('{stream}')`."
                 if length > 3 else "")
        raise Wrong(f"the stream {stream} has {length} entries but the exercise asks for 3.{extra}")
    if len(ids) != 3:
        raise Wrong(f"`ids` holds {len(ids)} IDs but the exercise asks you to keep all 3.")
    entries = ex.r.xrange(stream)
    in_stream = [_text(e[0]) for e in entries]
    for entry_id in ids:
        if entry_id not in in_stream:
            raise Wrong(f"{entry_id!r} is not the ID of an entry in {stream} "
                        f"(it holds {', '.join(in_stream)}). Keep what XADD returns.")
    if ids != in_stream:
        raise Wrong("those are the right IDs but not in the order the entries were added; "
                    "XADD's IDs always increase, so keep them in the order you got them.")
    for entry_id, fields in entries:
        fields = {_text(k): _text(v) for k, v in fields.items()}
        if fields.get("sensor_id") != "kitchen":
            raise Wrong(f"entry {entry_id} has sensor_id {fields.get('sensor_id')!r}; "
                        "the exercise asks for 'kitchen'.")
        try:
            float(fields.get("temp", ""))
        except ValueError:
            raise Wrong(f"entry {entry_id} has temp {fields.get('temp')!r}, which is not a number.") from None
    return f"{stream} holds your three readings, {ids[0]} to {ids[-1]}."


_EX2_CASES = ["1700000000000-0", "1700000000123-7", "0-1", "1735689599999-0"]


@exercises.add(2, "From an ID to the time it was added", hints=[
    "Split the ID at the dash: the part before it is milliseconds since 1970-01-01 UTC; "
    "the part after it is a sequence number, not time.",
    "`datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)` turns milliseconds into an "
    "aware UTC datetime (`from datetime import datetime, timezone`).",
])
def ex2(ex, id_to_datetime):
    """A function: stream ID -> the UTC datetime of its millisecond part."""
    for entry_id in _EX2_CASES:
        got = ex.call(id_to_datetime, entry_id)
        ms = stream_ids.ms(entry_id)
        expected = stream_ids.to_datetime(entry_id)
        if not isinstance(got, datetime):
            raise Wrong(f"`id_to_datetime({entry_id!r})` returned {type(got).__name__} {got!r:.60}; "
                        "return a datetime.")
        if got.tzinfo is None:
            raise Wrong(f"`id_to_datetime({entry_id!r})` returned a datetime without a time zone "
                        f"({got}). IDs count from 1970-01-01 UTC: pass `tz=timezone.utc`.")
        if got != expected:
            why = ""
            # Compare in whole microseconds: datetimes are exact there, floats are not.
            off_us = round((got - expected).total_seconds() * 1_000_000)
            if got == datetime.fromtimestamp(ms // 1000, tz=timezone.utc) and ms % 1000:
                why = (" The milliseconds are gone: `// 1000` (or int()) rounds down to whole "
                       "seconds. Divide with `/ 1000` to keep them.")
            elif 0 < abs(off_us) < 1_000_000:
                why = " The sequence number (after the dash) is not part of the time."
            elif off_us and off_us % 3_600_000_000 == 0:
                why = (" That is a whole number of hours off: the time was read in the local "
                       "time zone. Pass `tz=timezone.utc`.")
            raise Wrong(f"`id_to_datetime({entry_id!r})` returned {got.isoformat()}, expected "
                        f"{expected.isoformat()}.{why}")
    return (f"e.g. {_EX2_CASES[1]} was added at "
            f"{datetime.fromtimestamp(1700000000.123, tz=timezone.utc).isoformat()}.")


EX3_TOP = "1700000000000-7"


@exercises.add(3, "The smallest ID XADD accepts next", hints=[
    "An explicit ID must be greater than the stream's last-generated-id (XINFO STREAM shows "
    "it; deleting entries never lowers it). IDs compare by milliseconds first, then by the "
    "sequence number.",
    "Within the same millisecond, the sequence number can go up by one.",
])
def ex3(ex, next_id):
    """The smallest explicit ID accepted after a last-generated-id of 1700000000000-7, tried on the server."""
    answer = _text(next_id).strip()
    if "*" in answer:
        raise Wrong(f"{answer!r} lets the server choose the sequence number; the exercise asks "
                    "you to write out the full ID the server would pick.")
    parsed = stream_ids.try_parse(answer, full=True)
    if parsed is None:
        raise Wrong(f"{answer!r} is not a full stream ID: write it as <milliseconds>-<sequence>, "
                    "like the last-generated-id 1700000000000-7.")
    probe = ex.key("ex3:probe")
    ex.r.delete(probe)
    try:
        ex.r.xadd(probe, {"probe": "top"}, id=EX3_TOP)
        try:
            ex.r.xadd(probe, {"probe": "yours"}, id=answer)
        except redis.ResponseError as exc:
            raise Wrong(f"XADD refuses {answer}: \"{exc}\". The new ID must be greater than "
                        f"the last-generated-id, {EX3_TOP}.") from None
    finally:
        ex.r.delete(probe)
    if parsed != (1700000000000, 8):
        raise Wrong(f"XADD accepts {answer}, but a smaller ID works too: within millisecond "
                    "1700000000000 the sequence number can still go up.")
    return (f"{answer}: same millisecond, next sequence number. `*` also stays above the "
            "last-generated-id, but it starts from the server's clock: it picks the current "
            "millisecond with sequence 0, and the next sequence number only when the clock has "
            "not passed the last-generated-id's millisecond.")


EX4_LOCATION = {"room": "lab", "floor": 2}


@exercises.add(4, "A nested field, stored as JSON", hints=[
    "A stream field holds a flat string: a dict cannot go in as it is. `json.dumps` turns it "
    "into a string that `json.loads` turns back.",
    "`r.xadd('lesson01:ex4', {'sensor_id': 'lab1', 'temp': 21.5, "
    "'location': json.dumps({'room': 'lab', 'floor': 2})})` returns the ID to keep.",
])
def ex4(ex, entry_id):
    """XADD a reading whose location is a dict, as a JSON string field, to lesson01:ex4."""
    stream = ex.key("ex4")
    entry_id = _text(entry_id)
    if stream_ids.try_parse(entry_id, full=True) is None:
        raise Wrong(f"`entry_id` should be the ID XADD returned (like 1700000000000-0), not {entry_id!r}.")
    found = ex.r.xrange(stream, entry_id, entry_id)
    if not found:
        raise Wrong(f"there is no entry {entry_id} in {stream}: add the reading to that key "
                    "and keep the ID XADD returns.")
    fields = {_text(k): _text(v) for k, v in found[0][1].items()}
    if fields.get("sensor_id") != "lab1":
        raise Wrong(f"the entry's sensor_id is {fields.get('sensor_id')!r}; the exercise asks for 'lab1'.")
    try:
        temp = float(fields.get("temp", ""))
    except ValueError:
        temp = None
    if temp != 21.5:
        raise Wrong(f"the entry's temp is {fields.get('temp')!r}; the exercise asks for 21.5.")
    if "location" not in fields:
        raise Wrong(f"the entry has no location field (it has {', '.join(fields)}).")
    raw = fields["location"]
    try:
        location = json.loads(raw)
    except ValueError:
        if raw.startswith("{'"):
            raise Wrong(f"location holds {raw!r}: that is Python's str() of the dict, which "
                        "json.loads cannot read. Store `json.dumps(location)`.") from None
        raise Wrong(f"location holds {raw!r}, which is not JSON: store `json.dumps(location)`.") from None
    if location != EX4_LOCATION:
        raise Wrong(f"json.loads of location gives {location!r}, expected {EX4_LOCATION!r}.")
    return (f"location went in as the string {raw!r}, and json.loads gives the dict back. "
            "Every field is a string: the reader decides what it means.")
