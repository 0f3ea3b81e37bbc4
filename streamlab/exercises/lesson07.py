"""Checkers for lesson 07, the capstone (notebooks/07-capstone.ipynb).

Solutions: notebooks/solutions/07-capstone.py. Each exercise asks for a
function; the checker builds a small scene of its own under ``lesson07:exN``
(readings, a group with a crashed worker, ...) and runs the function on it, so
the answer does not depend on what the pipeline happened to do in this run.
"""

from __future__ import annotations

from .. import ids as stream_ids
from . import ExerciseSet, Wrong

exercises = ExerciseSet(lesson=7, solutions="07-capstone.py")

GROUP = "workers"

# Readings chosen to catch the usual slips: one exactly at 25 (not above it),
# "9.50" (above "25" when compared as text), "100.00" (below "25" as text).
EX1_TEMPS = ["21.30", "25.00", "25.01", "9.50", "31.20", "18.00", "8.75", "100.00", "24.99", "22.75"]


def _number(value, call: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Wrong(f"{call} returned {value!r:.80}; return the number of readings (an int).")
    return value


def _ids(value, call: str) -> list[str]:
    """The learner's answer as a list of ID strings (IDs or (id, fields) pairs)."""
    if isinstance(value, (str, bytes, int)) or not hasattr(value, "__iter__"):
        raise Wrong(f"{call} returned {value!r:.80}; return a list of entry IDs.")
    out = []
    for item in value:
        if isinstance(item, (tuple, list)) and item:
            item = item[0]
        out.append(item.decode() if isinstance(item, bytes) else str(item))
    return out


# --- exercise 1 -----------------------------------------------------------------------

@exercises.add(1, "How many alerts for this threshold?", hints=[
    "`r.xrange(stream)` gives every `(id, fields)` pair; the temperature is `fields['temp']`, a string.",
    "Turn it into a number before comparing: `float(fields['temp']) > threshold`. "
    "Above means strictly above, as in `--alert-above`.",
])
def ex1(ex, count_hot):
    """``count_hot(r, stream, threshold)``: how many readings have ``temp`` above ``threshold``."""
    r, stream = ex.r, ex.key("ex1")
    r.delete(stream)
    for n, temp in enumerate(EX1_TEMPS):
        r.xadd(stream, {"sensor_id": f"sensor{n % 3 + 1}", "temp": temp, "humidity": "50.0"})
    for threshold in (25, 20):
        call = f"`count_hot(r, '{stream}', {threshold})`"
        got = _number(ex.call(count_hot, r, stream, threshold), call)
        right = sum(float(t) > threshold for t in EX1_TEMPS)
        if got == right:
            continue
        if got == sum(float(t) >= threshold for t in EX1_TEMPS):
            raise Wrong(f"{call} returned {got}: it counted the reading of exactly {threshold} °C. "
                        "The pipeline alerts only above the threshold (`>`), not at it.")
        if got == sum(t > str(threshold) for t in EX1_TEMPS):
            raise Wrong(f"{call} returned {got}: that is what comparing the temperatures as text "
                        "gives ('9.50' > '25'). Stream values are strings: convert with float() first.")
        raise Wrong(f"{call} returned {got}, but {right} of the {len(EX1_TEMPS)} readings in "
                    f"{stream} are above {threshold} °C.")
    return ("Right for both thresholds. This is the number the alert group must have written: "
            "the ledger compares the two.")


# --- exercise 2 -----------------------------------------------------------------------

@exercises.add(2, "Who holds the most pending work?", hints=[
    "`r.xpending(stream, group)` summarises the group; its `'consumers'` is a list of "
    "`{'name': ..., 'pending': ...}`, one per consumer holding something.",
    "Take the row with the largest `pending`: `max(rows, key=lambda c: c['pending'])`, "
    "and return `(row['name'], row['pending'])`.",
])
def ex2(ex, most_pending):
    """``most_pending(r, stream, group)``: ``(consumer, pending)`` for the consumer holding the most."""
    r, stream = ex.r, ex.key("ex2")
    r.delete(stream)
    for n in range(20):
        r.xadd(stream, {"sensor_id": f"sensor{n % 3 + 1}", "temp": "20.00"})
    r.xgroup_create(stream, GROUP, id="0")
    scene = {"w1": (2, 0), "w2": (5, 0), "w3": (9, 8)}  # consumer: (entries read, entries acked)
    for name, (read, acked) in scene.items():
        entries = r.xreadgroup(GROUP, name, {stream: ">"}, count=read)[0][1]
        for entry_id, _ in entries[:acked]:
            r.xack(stream, GROUP, entry_id)
    call = f"`most_pending(r, '{stream}', '{GROUP}')`"
    got = ex.call(most_pending, r, stream, GROUP)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"{call} returned {got!r:.80}; return a pair: (consumer name, pending count).")
    name, count = got
    name = name.decode() if isinstance(name, bytes) else str(name)
    if name == "w3":
        raise Wrong(f"{call} chose w3, which was given the most entries (9) but acked 8 of them. "
                    "Pending counts only what was delivered and not acked yet.")
    if name == "w1":
        raise Wrong(f"{call} chose w1, the first consumer listed. XPENDING lists consumers in "
                    "order of name (real Redis) or of creation (fakeredis), not by how much they hold.")
    if name != "w2":
        raise Wrong(f"{call} returned {name!r}; the consumers are w1 (2 pending), w2 (5) and w3 (1).")
    if str(count) != "5":
        raise Wrong(f"{call} named w2, rightly, but said it holds {count!r}; XPENDING says 5.")
    return ("w2 holds 5 unacknowledged entries: in the capstone, that is the worker whose death "
            "leaves most work behind, and what the reaper takes over.")


# --- exercise 3 -----------------------------------------------------------------------

@exercises.add(3, "What is still unfinished?", hints=[
    "Two kinds of entries are unfinished for a group: delivered but not acked (the PEL, "
    "`r.xpending_range(stream, group, '-', '+', 10000)`), and never delivered at all "
    "(after the group's `last-delivered-id`, from `r.xinfo_groups(stream)`).",
    "The never-delivered ones are `r.xrange(stream, '(' + last_delivered_id, '+')`. Pending "
    "IDs all come before them, so `pending + never_delivered` is already in ID order.",
])
def ex3(ex, unfinished):
    """``unfinished(r, stream, group)``: every ID the group has not acked, delivered or not, in ID order."""
    r, stream = ex.r, ex.key("ex3")
    r.delete(stream)
    ids = [r.xadd(stream, {"sensor_id": f"sensor{n % 3 + 1}", "temp": "20.00"}) for n in range(12)]
    r.xgroup_create(stream, GROUP, id="0")
    first = [i for i, _ in r.xreadgroup(GROUP, "w1", {stream: ">"}, count=5)[0][1]]
    second = [i for i, _ in r.xreadgroup(GROUP, "w2", {stream: ">"}, count=3)[0][1]]
    r.xack(stream, GROUP, *first[:3], *second)
    pending, never = first[3:], ids[8:]
    call = f"`unfinished(r, '{stream}', '{GROUP}')`"
    got = _ids(ex.call(unfinished, r, stream, GROUP), call)
    want = pending + never
    if got == want:
        return ("2 pending (w1 read them and never acked) and 4 never delivered (the lag): the "
                "pipeline is finished when both are zero, which is what the ledger checks.")
    if sorted(got, key=stream_ids.parse) == want:
        raise Wrong(f"{call} found the right 6 entries but not in ID order.")
    if sorted(got) == sorted(pending):
        raise Wrong(f"{call} returned only the 2 pending entries; the 4 entries nobody has been "
                    "given yet (the group's lag) are unfinished too.")
    if sorted(got) == sorted(never):
        raise Wrong(f"{call} returned only the 4 entries never delivered; the 2 that w1 read "
                    "and never acked (XPENDING) are unfinished too.")
    done = sorted(set(got) - set(want))
    if done:
        raise Wrong(f"{call} includes {len(done)} entries that were acked, so finished "
                    f"(for example {done[0]}).")
    raise Wrong(f"{call} returned {len(got)} IDs; the unfinished ones are {want}.")
