"""The lessons' sources are MyST Markdown notebooks in ``lessons/``; learners open the
``.ipynb`` files in ``notebooks/``, which this tool writes from them.

    python tools/lessons.py sync            # write every notebooks/NN-*.ipynb from lessons/NN-*.md
    python tools/lessons.py sync 03         # only lessons whose name starts with 03
    python tools/lessons.py check           # exit 1 and say why if a notebook differs from its source

Why both files: the ``.md`` is what an instructor edits and what git diffs well; the
``.ipynb`` is what Binder and a plain JupyterLab open without jupytext. ``sync`` keeps
each existing cell's id (jupytext matches cells by content), so a prose edit changes
one cell in the notebook, not all of them. Notebooks are written without outputs.

With jupytext installed (the dev extra), JupyterLab pairs the two through
``jupytext.toml``: saving ``notebooks/X.ipynb`` also rewrites ``lessons/X.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "lessons"
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def lesson_sources(prefix: str = "") -> list[Path]:
    """Every ``lessons/*.md`` whose name starts with ``prefix``, in lesson order."""
    return sorted(p for p in SOURCES.glob("*.md") if p.name.startswith(prefix))


def notebook_for(source: Path) -> Path:
    return NOTEBOOKS / (source.stem + ".ipynb")


def render(source: Path) -> nbformat.NotebookNode:
    """The notebook a learner opens, made from ``source``: no outputs, stable cell ids."""
    nb = jupytext.read(source)
    target = notebook_for(source)
    if target.exists():
        # Keeps the ids (and nothing else) of cells that did not change.
        nb = combine_inputs_with_outputs(nb, nbformat.read(target, as_version=4), fmt="md:myst")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def differences(source: Path) -> list[str]:
    """Why ``notebooks/<name>.ipynb`` is not what ``sync`` would write from ``source`` ([] if it is)."""
    target = notebook_for(source)
    if not target.exists():
        return [f"{target.relative_to(ROOT)} is missing: run `python tools/lessons.py sync`"]
    committed = nbformat.read(target, as_version=4)
    problems = []
    for i, cell in enumerate(committed.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{target.relative_to(ROOT)} cell {i} holds outputs: clear them before committing")
            break
    want, have = _cells(jupytext.read(source)), _cells(committed)
    if want != have:
        for i, (w, h) in enumerate(zip(want, have)):
            if w != h:
                problems.append(
                    f"{target.relative_to(ROOT)} cell {i} differs from {source.relative_to(ROOT)}: "
                    f"edit the .md (or save the notebook with jupytext pairing) and run "
                    f"`python tools/lessons.py sync`"
                )
                break
        else:
            problems.append(
                f"{target.relative_to(ROOT)} has {len(have)} cells, {source.relative_to(ROOT)} has {len(want)}"
            )
    return problems


def orphans() -> list[str]:
    """Notebooks (lessons and the instructor's) that have no source."""
    sources = {p.stem for p in lesson_sources()}
    return [
        f"{nb.relative_to(ROOT)} has no source in lessons/"
        for nb in sorted(NOTEBOOKS.glob("*.ipynb"))
        if nb.stem not in sources
    ]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("sync", "check"):
        print(__doc__)
        return 2
    prefix = argv[1] if len(argv) > 1 else ""
    sources = lesson_sources(prefix)
    if not sources:
        print(f"no lesson source in lessons/ starts with {prefix!r}")
        return 2
    if argv[0] == "sync":
        for source in sources:
            nbformat.write(render(source), notebook_for(source))
            print(f"wrote {notebook_for(source).relative_to(ROOT)}")
        return 0
    problems = [p for s in sources for p in differences(s)] + (orphans() if not prefix else [])
    print("\n".join(problems) if problems else f"{len(sources)} notebooks match their sources")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
