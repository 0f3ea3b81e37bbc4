"""Numbers and facts the lessons' prose quotes, checked against what the cells print.

Each claim names a code cell by a snippet of its source (unique in that lesson) and a
regular expression its output must match. ``tests/test_notebooks.py`` checks them on
every backend, top to bottom and as a learner runs the lesson (every cell twice, with
a pause after setup): a number the prose quotes must hold in all of those runs.

When you write "XLEN says 2" in a lesson, add the claim here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    cell: str      # a snippet of the cell's source, unique within the lesson
    expect: str    # a regular expression the cell's output must match
    why: str = ""  # the sentence of prose that quotes it


CLAIMS: dict[str, list[Claim]] = {
    "01-xadd-and-ids": [
        Claim("XADD lesson01:demo * sensor_id sensor1", r"\(integer\) 2\b", "XLEN counts two entries"),
    ],
    # Lesson 08: live on a real server, the recorded run on fakeredis. Only outcomes that hold
    # in every run are claimed (timings and RDB's loss vary with where the kill lands).
    "08-durability-and-operations": [
        Claim("for setting, row in crash.iterrows()",
              r"no persistence: lost (\d+) of \1 acknowledged; the group is gone",
              "no persistence: every acknowledged write is gone, and so is the group"),
        Claim("for setting, row in crash.iterrows()",
              r"AOF, appendfsync always: lost 0 of \d+ acknowledged; .*; 0 acked entries",
              "AOF always: nothing lost, no acknowledged work handed out again"),
        Claim("for setting, row in crash.iterrows()", r"everysec lost at most a second of writes: True",
              "everysec loses at most about a second"),
        Claim("for name, df in writes.items()",
              r"XADD only: acknowledged \d+, missing on the new primary: [1-9]\d*; "
              r"sent after the cut, missing: (\d+) of \1",
              "without WAIT every acknowledged write sent after the cut is missing"),
        Claim("for name, df in writes.items()",
              r"XADD \+ WAIT 1: acknowledged \d+, missing on the new primary: 0;",
              "with WAIT 1 no acknowledged write is missing"),
        Claim("situations = {name: dur.scenario(r, name)", r"A: alerts .*-> add consumers",
              "A: add consumers"),
        Claim("situations = {name: dur.scenario(r, name)", r"B: alerts .*-> consumers not acking",
              "B: the consumer never acks"),
        Claim("situations = {name: dur.scenario(r, name)", r"C: alerts .*-> dead consumer c3",
              "C: c3 is dead"),
        Claim('situations["C"].iloc[[0, -1]]', r"C, last tick: pending 3, least active consumer c3",
              "c3 goes quiet holding 3 entries"),
        Claim("bp = dur.backpressure(", r"'trimmed before the group read them': 150",
              "150 entries were trimmed before the group read them"),
        Claim("bp = dur.backpressure(", r"room left before the cap removes unread entries: 0",
              "no room left"),
        Claim("def dead_consumer_group(key)", r"DELCONSUMER first: it returned 3; pending now: 0",
              "DELCONSUMER drops the 3 pending entries"),
        Claim("def dead_consumer_group(key)",
              r"'claimed': 3, 'pending dropped by DELCONSUMER': 0",
              "claim first, then DELCONSUMER returns 0"),
        Claim('row = panel.run("aof-always")',
              r"AOF, appendfsync always: acknowledged \d+, lost 0, present after restart \d+",
              "the panel's AOF always run loses nothing"),
    ],
}


def output_text(cell) -> str:
    """Everything a cell showed, as text (stream output, plain text, HTML)."""
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        data = out.get("data", {})
        parts.append(data.get("text/plain", ""))
        parts.append(data.get("text/html", ""))
    return "\n".join(parts)


def broken_claims(lesson: str, nb) -> list[str]:
    """Each claim of ``lesson`` that the executed notebook ``nb`` does not bear out."""
    problems = []
    for claim in CLAIMS.get(lesson, []):
        cells = [c for c in nb.cells if c.cell_type == "code" and claim.cell in c.source]
        if len(cells) != 1:
            problems.append(f"claim {claim.cell!r}: {len(cells)} cells match (want exactly 1)")
            continue
        text = output_text(cells[0])
        if not re.search(claim.expect, text):
            problems.append(f"claim {claim.cell!r} ({claim.why}): output does not match "
                            f"{claim.expect!r}; it was: {text[:300]!r}")
    return problems
