"""The checks tests/test_notebooks.py runs on every executed lesson catch what they are for."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from notebook_outputs import MAX_LINES, WIDGET_VIEW, cell_lines, output_problems


def _widget(model_id: str):
    return new_output("execute_result", data={WIDGET_VIEW: {"model_id": model_id, "version_major": 2},
                                              "text/plain": "ProducerPanel(...)"}, execution_count=1)


def _cell(source: str, *outputs):
    cell = new_code_cell(source)
    cell.outputs = list(outputs)
    return cell


def test_a_widget_shown_again_by_a_later_cell_is_reported():
    nb = new_notebook(cells=[_cell("panel", _widget("m1")), _cell("panel.run_for(2)", _widget("m1")),
                             _cell("other", _widget("m2"))])
    assert output_problems(nb) == [
        "cell 1 ('panel.run_for(2)') shows widget m1 again (first shown by cell 0)"]


def test_lines_are_counted_as_shown_and_a_long_cell_is_reported():
    printed = [new_output("stream", name="stdout", text="a\nb\n"), new_output("stream", name="stdout", text="c\n")]
    table = new_output("execute_result", execution_count=1, data={
        "text/html": "<table><tr><th>x</th></tr>" + "<tr><td>1</td></tr>" * 3 + "</table>",
        "text/plain": "x\n1\n1\n1"})
    image = new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
    assert cell_lines(_cell("x", *printed, table, image)) == 3 + 4
    long = _cell("%%redis", new_output("stream", name="stdout", text="x\n" * (MAX_LINES + 1)))
    nb = new_notebook(cells=[_cell("ok", *printed), long])
    assert output_problems(nb) == [f"cell 1 ('%%redis') shows {MAX_LINES + 1} lines (at most {MAX_LINES})"]
    assert output_problems(nbformat.from_dict(new_notebook(cells=[_cell("ok", *printed)]))) == []
