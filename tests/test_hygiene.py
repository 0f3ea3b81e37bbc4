"""What the repository itself must hold: clean notebooks, consistent lesson files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_committed_notebook_holds_no_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs or execution counts; "
                       "clear them (jupyter nbconvert --clear-output --inplace) before committing")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_uses_the_python3_kernel(path):
    nb = json.loads(path.read_text())
    spec = nb["metadata"].get("kernelspec", {})
    # One kernel name and label everywhere: drifting kernel names break "Run all" for learners.
    assert spec.get("name") == "python3"
    assert spec.get("display_name") == "Python 3 (ipykernel)"


def test_lessons_open_with_title_goals_prerequisites_and_time():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        nb = json.loads(path.read_text())
        first = "".join(nb["cells"][0]["source"])
        assert first.startswith("# "), f"{path.name}: the first cell should be the '# ' title"
        head = "".join("".join(c["source"]) for c in nb["cells"][:3])
        for word in ("Learning goals", "Prerequisites", "Time"):
            assert word in head, f"{path.name}: the opening should say '{word}'"
