"""Record lesson 09's cluster-only outputs from a real run, for backends without a cluster.

    python tools/record_lesson09.py

Starts a private single server (run_notebook's "real" backend wants one), runs
notebooks/09-redis-cluster.ipynb on it (the lesson then starts its own private
3-primary cluster), and writes, for every cell that calls
``cluster.recorded("NAME")`` in its fakeredis branch, that cell's live output
on the cluster to streamlab/data/lesson09-recorded.json. ``cluster.recorded``
prints it, labelled as a recording, where there is no cluster.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

import run_notebook  # noqa: E402

from streamlab import server  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "09-redis-cluster.ipynb"
OUT = ROOT / "streamlab" / "data" / "lesson09-recorded.json"
NAME = re.compile(r'cluster\.recorded\("([^"]+)"\)')


def main() -> int:
    with server.PrivateServer() as single:
        nb, seconds, problems = run_notebook.execute(NOTEBOOK, "real", single.url)
    if problems:
        print("the lesson reported problems; nothing recorded:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    cells, banner = {}, ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        if "sl.connect(cluster=True)" in cell.source:
            banner = text
        for name in NAME.findall(cell.source):
            if "RECORDED" not in text:  # the live branch ran
                cells[name] = text.rstrip("\n")
    match = re.search(r"\((\w+) ([\d.]+)\)", banner)
    data = {"date": datetime.date.today().isoformat(),
            "server": f"{match.group(1)} {match.group(2)}" if match else "redis",
            "shards": 3, "source": "tools/record_lesson09.py", "cells": cells}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(f"recorded {len(cells)} cells ({', '.join(cells)}) from a {seconds:.0f} s run into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
