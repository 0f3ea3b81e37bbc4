"""What an executed lesson shows, checked for a reader: each widget once, no wall of output.

``output_problems(nb)`` is called by tests/test_notebooks.py on every notebook it has
already executed (both backends, top to bottom and as a learner runs it), so these
checks cost no extra run.

- **One view per widget.** A cell that runs a step of a panel must print a line saying
  what happened (or show a fresh snapshot), not the live panel again: two views of one
  widget both show its final state, so the earlier step's text and the numbers under it
  disagree. A widget view carries its model's id (``application/vnd.jupyter.widget-view+json``).
- **At most ``MAX_LINES`` lines per code cell**, counted as the reader sees them: printed
  lines, a table's rows, a ``%%redis`` printout's (folded) lines. Images and widgets
  count as none; they are judged by eye (the browser screenshots).
"""

from __future__ import annotations

import re

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MAX_LINES = 25


def shown_lines(output) -> int:
    """How many lines of text ``output`` puts on the screen."""
    if "text" in output:  # a stream
        return len(output["text"].rstrip("\n").splitlines())
    data = output.get("data", {})
    if WIDGET_VIEW in data or "image/png" in data or "image/svg+xml" in data:
        return 0
    page = data.get("text/html", "")
    if "<table" in page:
        rows = len(re.findall(r"<tr\b", page))
        return rows + len(re.findall(r"<p\b", page))
    text = data.get("text/plain", "")
    return len(text.rstrip("\n").splitlines())


def cell_lines(cell) -> int:
    """Lines a code cell's outputs show; consecutive stream pieces glued as printed."""
    total, stream = 0, {}
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            stream[out.get("name")] = stream.get(out.get("name"), "") + out.get("text", "")
        else:
            total += shown_lines(out)
    return total + sum(shown_lines({"text": t}) for t in stream.values())


def widget_ids(cell) -> list[str]:
    return [out["data"][WIDGET_VIEW]["model_id"] for out in cell.get("outputs", [])
            if WIDGET_VIEW in out.get("data", {})]


def output_problems(nb) -> list[str]:
    """Each widget shown more than once, and each code cell over ``MAX_LINES`` lines."""
    problems = []
    first_seen: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        head = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        for model in widget_ids(cell):
            if model in first_seen:
                problems.append(f"cell {i} ({head!r}) shows widget {model} again "
                                f"(first shown by cell {first_seen[model]})")
            else:
                first_seen[model] = i
        lines = cell_lines(cell)
        if lines > MAX_LINES:
            problems.append(f"cell {i} ({head!r}) shows {lines} lines (at most {MAX_LINES})")
    return problems
