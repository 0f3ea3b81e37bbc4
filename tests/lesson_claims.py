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
