"""Lesson 09's Try-it panel under a notebook executor (nbclient, as tools/run_notebook.py and the
book use): ``panel.run(...)`` from a cell must not hang the executor.

A cell that wrote into the panel's ``Output`` widget sometimes left nbclient waiting for the
cell's whole timeout before the next cell started (116-120 s seen in lesson 09). Each cell here
has a timeout far above what it needs, and the stall ended *at* that timeout without an error,
so the test reads nbclient's own timestamps: a gap of more than ``STALL`` seconds between one
cell's reply and the next cell's start is the executor waiting for nothing (normally a few ms).
"""

from __future__ import annotations

import os
from datetime import datetime

import nbformat
import pytest
from nbclient import NotebookClient

STALL = 30  # seconds; the stall seen was the whole cell timeout, a normal gap is milliseconds


def stamp(cell, key):
    return datetime.fromisoformat(cell.metadata["execution"][key].replace("Z", "+00:00"))

CELLS = [
    "import streamlab as sl\nfrom streamlab.ui.cluster_panel import PartitionPanel\n"
    "r = sl.connect(backend='fake', quiet=True)\npanel = PartitionPanel(r, base='test:panel')\npanel",
    *["summary = panel.run(partitions=2, sensors=4, rate=100, seconds=1)\nsummary"] * 4,
    "print('after the panel:', int(summary['processed'].sum()) > 0, panel.out.outputs)",
]


@pytest.mark.parametrize("static", ["0", "1"])
def test_panel_runs_from_cells_never_stall_the_executor(static, monkeypatch):
    monkeypatch.setenv("STREAMLAB_STATIC", static)
    monkeypatch.setenv("STREAMLAB_BACKEND", "fake")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    NotebookClient(nb, timeout=90, kernel_name="python3",
                   resources={"metadata": {"path": os.getcwd()}}).execute()
    gaps = [(stamp(b, "iopub.execute_input") - stamp(a, "shell.execute_reply")).total_seconds()
            for a, b in zip(nb.cells, nb.cells[1:])]
    assert max(gaps) < STALL, f"the executor stalled between cells: gaps {gaps} s"
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "after the panel: True ()" in last  # results went to the cells, not into the widget
    for cell in nb.cells[1:5]:
        kinds = [o.output_type for o in cell.outputs]
        assert "display_data" in kinds and "execute_result" in kinds  # the dashboard and the table
