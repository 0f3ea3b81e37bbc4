"""Execute a lesson notebook on one backend, report errors, save its plots as PNGs.

    python tools/run_notebook.py notebooks/01-xadd-and-ids.ipynb --backend fake
    python tools/run_notebook.py notebooks/01-xadd-and-ids.ipynb --backend real --url redis://127.0.0.1:6390/0

The executed copy goes to ``--out`` (default: test-output/<name>.<backend>.ipynb),
never over the committed notebook; images go beside it as PNG files.
Used by tests/test_notebooks.py and by anyone checking a lesson by hand.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, backend: str, url: str | None = None, timeout: int = 120,
            out: Path | None = None) -> tuple[nbformat.NotebookNode, float, list[str]]:
    """Run ``path`` top to bottom; return (executed notebook, seconds, problems found)."""
    nb = nbformat.read(path, as_version=4)
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
    if out is None:
        out = ROOT / "test-output" / f"{path.stem}.{backend}.ipynb"
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
    args = ap.parse_args()
    _, elapsed, problems = execute(args.notebook, args.backend, args.url, args.timeout, args.out)
    print(f"{args.notebook} on {args.backend}: {elapsed:.1f} s, {len(problems)} problem(s)")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
