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
    "09-redis-cluster": [
        Claim('for key in ["lesson09:{orders}:stream"', r"(?s)(stream.*slot=105\n.*dead.*slot=105\n.*total.*slot=105)",
              "the first three share slot 105"),
        Claim("a, b = \"lesson09:sensor:a\"", r"server says: CROSSSLOT", "the server answers CROSSSLOT"),
        Claim("ta, tb = ", r"slots: (\d+) \1\n", "the tagged streams share a slot"),
        Claim("placement.groupby", r"\[2, 2, 1, 0, 2, 2\]|0\s+\[3\]\n1\s+\[2\]\n2\s+\[0, 1, 4, 5\]",
              "p0 ... p5 hash to shards 2, 2, 1, 0, 2, 2"),
        Claim('print("processed:", int(summary', r"processed: (\d+) of \1 sent; pending: 0 ; out of order per key: 0",
              "every reading processed, nothing pending, none out of order per key"),
        Claim("moved = partitions.moved_keys", r"851 of 1000 sensors", "most sensors change partition"),
        Claim("def try_scripts", r"dead_letter\s+RedisClusterException.*\n.*IdempotencyGuard.apply\s+RedisClusterException",
              "both scripts fail with lesson 04's key names"),
        Claim('try_scripts("lesson09:{orders}:")', r"dead_letter\s+ok: .*\n.*IdempotencyGuard.apply\s+ok: True",
              "both work under one tag"),
        Claim("pipe.xack(stream, \"alerters\", entry)", r"MULTI/EXEC: \['[\d-]+', 1\]", "alert and ack in one EXEC"),
        Claim("cluster.pubsub_traffic", r"PUBLISH\s+100\s+100\s+200\n.*SPUBLISH\s+100\s+100\s+0\b",
              "classic 200 bus messages, sharded none"),
        Claim("cluster.shard_outage", r"\{p3\}\s+0 no answer", "only {p3}, on shard 0, stopped"),
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
