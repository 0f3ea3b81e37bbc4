"""Each notebook's source is lessons/<name>.md (MyST Markdown: the lessons NN-*.md and the
instructor's board); the committed notebook must match it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lessons  # noqa: E402


def test_every_committed_notebook_matches_its_markdown_source():
    problems = [p for s in lessons.lesson_sources() for p in lessons.differences(s)] + lessons.orphans()
    assert not problems, "\n".join(problems)


def test_every_notebook_has_a_markdown_source():
    assert [p.stem for p in lessons.lesson_sources()] == sorted(
        p.stem for p in (ROOT / "notebooks").glob("*.ipynb")
    )


def _copy_tree(tmp_path: Path) -> Path:
    for name in ("lessons", "notebooks"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_notebook_edited_by_hand_is_caught(tmp_path, monkeypatch):
    root = _copy_tree(tmp_path)
    monkeypatch.setattr(lessons, "ROOT", root)
    monkeypatch.setattr(lessons, "SOURCES", root / "lessons")
    monkeypatch.setattr(lessons, "NOTEBOOKS", root / "notebooks")
    source = lessons.lesson_sources("01")[0]
    assert lessons.differences(source) == []
    target = lessons.notebook_for(source)
    nb = nbformat.read(target, as_version=4)
    nb.cells[0].source += "\nAn edit made in the .ipynb only."
    nbformat.write(nb, target)
    problems = lessons.differences(source)
    assert problems and "cell 0 differs" in problems[0]


def test_a_notebook_with_outputs_is_caught(tmp_path, monkeypatch):
    root = _copy_tree(tmp_path)
    monkeypatch.setattr(lessons, "ROOT", root)
    monkeypatch.setattr(lessons, "NOTEBOOKS", root / "notebooks")
    monkeypatch.setattr(lessons, "SOURCES", root / "lessons")
    source = lessons.lesson_sources("00")[0]
    target = lessons.notebook_for(source)
    nb = nbformat.read(target, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nbformat.write(nb, target)
    assert any("holds outputs" in p for p in lessons.differences(source))


def test_sync_keeps_the_ids_of_unchanged_cells(tmp_path, monkeypatch):
    root = _copy_tree(tmp_path)
    monkeypatch.setattr(lessons, "ROOT", root)
    monkeypatch.setattr(lessons, "SOURCES", root / "lessons")
    monkeypatch.setattr(lessons, "NOTEBOOKS", root / "notebooks")
    source = lessons.lesson_sources("01")[0]
    before = [c.id for c in nbformat.read(lessons.notebook_for(source), as_version=4).cells]
    text = source.read_text()
    marker = "\n## 1."
    source.write_text(text.replace(marker, "\n```{code-cell}\nprint('a new cell')\n```\n" + marker, 1))
    nb = lessons.render(source)
    after = [c.id for c in nb.cells]
    assert len(after) == len(before) + 1
    assert set(before) <= set(after), "sync renamed cells that did not change"
