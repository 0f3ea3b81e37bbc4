"""Tiny helpers to write a lesson notebook from a Python script (the maintained source).

    from notebook_builder import md, code, redis, write
    write("notebooks/01-xadd-and-ids.ipynb", [md("# Title"), code("r = sl.connect()")])

Cells are written without outputs or execution counts, with the ``python3``
kernel spec, as the course commits them. Text is dedented, so a script can
indent its cell sources to match its own code.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell."""
    return nbformat.v4.new_markdown_cell(_clean(text))


def code(text: str) -> nbformat.NotebookNode:
    """A code cell."""
    return nbformat.v4.new_code_cell(_clean(text))


def redis(text: str) -> nbformat.NotebookNode:
    """A ``%%redis`` cell: Redis commands as typed into redis-cli, one per line."""
    return nbformat.v4.new_code_cell("%%redis\n" + _clean(text))


def write(path: str | Path, cells: list) -> Path:
    """Write ``cells`` as a notebook at ``path`` (relative to the repository root)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    }
    nb.cells = cells
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding an unchanged lesson changes nothing
    out = ROOT / path
    nbformat.validate(nb)
    nbformat.write(nb, out)
    return out
