"""Execute a lesson notebook on one backend, report errors, save its plots as PNGs.

    python tools/run_notebook.py notebooks/01-xadd-and-ids.ipynb --backend fake
    python tools/run_notebook.py notebooks/01-xadd-and-ids.ipynb --backend real --url redis://127.0.0.1:6390/0
    python tools/run_notebook.py notebooks/02-reading-and-blocking.ipynb --rerun --pause 60

``--rerun`` runs every code cell twice in a row and ``--pause N`` waits N seconds after
the setup cell (the first that calls ``sl.connect``): what a learner does who re-runs
cells and takes their time. Checks then apply to what the learner sees last.

The executed copy goes to ``--out`` (default: test-output/<name>.<backend>.ipynb),
never over the committed notebook; images go beside it as PNG files.
Used by tests/test_notebooks.py and by anyone checking a lesson by hand.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


SETUP_MARK = "sl.connect("
RERUN_TAG = "streamlab-rerun"   # metadata flag on the first of two copies of a cell
PAUSE_TAG = "streamlab-pause"   # metadata flag on an injected pause cell


def as_learner_would(nb: nbformat.NotebookNode, rerun: bool, pause: float) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every code cell doubled (``rerun``) and a ``pause`` after setup."""
    cells = []
    paused = not pause
    for cell in nb.cells:
        if cell.cell_type == "code" and rerun:
            first = nbformat.from_dict(dict(cell))
            first.id = cell.id + "-a"
            first.metadata = dict(cell.metadata, **{RERUN_TAG: True})
            cells.append(first)
        cells.append(cell)
        if not paused and cell.cell_type == "code" and SETUP_MARK in cell.source:
            wait = nbformat.v4.new_code_cell(f"import time as _t; _t.sleep({pause})")
            wait.metadata[PAUSE_TAG] = True
            cells.append(wait)
            paused = True
    copy = nbformat.from_dict(dict(nb))
    copy.cells = cells
    return copy


def learner_view(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without the injected cells: the cells a learner sees, with their last outputs."""
    view = nbformat.from_dict(dict(nb))
    view.cells = [c for c in nb.cells
                  if not c.metadata.get(RERUN_TAG) and not c.metadata.get(PAUSE_TAG)]
    return view


def execute(path: Path, backend: str, url: str | None = None, timeout: int = 120,
            out: Path | None = None, rerun: bool = False,
            pause: float = 0) -> tuple[nbformat.NotebookNode, float, list[str]]:
    """Run ``path`` top to bottom; return (executed notebook, seconds, problems found).

    The notebook returned is what the learner sees (injected cells removed); problems
    include errors raised by any copy of a cell.
    """
    nb = nbformat.read(path, as_version=4)
    if rerun or pause:
        nb = as_learner_would(nb, rerun, pause)
        timeout = max(timeout, int(pause) + 60)
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    if backend == "fake":
        env["STREAMLAB_BACKEND"] = "fake"
    else:
        if not url:
            raise SystemExit("--backend real needs --url")
        env["STREAMLAB_BACKEND"] = "env"
        env["REDIS_URL"] = url
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    problems: list[str] = []
    # The kernel inherits this process's environment: set it for the run only.
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as exc:
        problems.append(f"cell raised: {str(exc)[:3000]}")
    finally:
        elapsed = time.monotonic() - start
        os.environ.clear()
        os.environ.update(saved)
    problems += find_error_outputs(nb)
    nb = learner_view(nb)
    if out is None:
        mode = (".rerun" if rerun else "") + (f".pause{int(pause)}" if pause else "")
        out = ROOT / "test-output" / f"{path.stem}.{backend}{mode}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    save_images(nb, out.with_suffix(""))
    return nb, elapsed, problems


def find_error_outputs(nb) -> list[str]:
    """Every error output, and every traceback printed to stderr, cell by cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {i}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("name") == "stderr" and "Traceback" in output.get("text", ""):
                found.append(f"cell {i}: traceback on stderr: {output['text'][:500]}")
    return found


def save_images(nb, stem: Path) -> list[Path]:
    paths = []
    for i, cell in enumerate(nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {})
            if "image/png" in data:
                p = Path(f"{stem}.cell{i:02d}.{j}.png")
                p.write_bytes(base64.b64decode(data["image/png"]))
                paths.append(p)
    return paths


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--backend", choices=["fake", "real"], default="fake")
    ap.add_argument("--url")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--rerun", action="store_true", help="run every code cell twice in a row")
    ap.add_argument("--pause", type=float, default=0, help="seconds to wait after the setup cell")
    ap.add_argument("--problems", type=Path, help="also write the problems found to this JSON file")
    args = ap.parse_args()
    _, elapsed, problems = execute(args.notebook, args.backend, args.url, args.timeout, args.out,
                                   rerun=args.rerun, pause=args.pause)
    if args.problems:
        args.problems.write_text(json.dumps({"seconds": round(elapsed, 1), "problems": problems}))
    print(f"{args.notebook} on {args.backend}: {elapsed:.1f} s, {len(problems)} problem(s)")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
