"""Each lesson, run in JupyterLab in headless Chromium, shows its widgets and plots and no error.

nbclient (tests/test_notebooks.py) proves the Python runs; only a browser shows
whether the widgets render ("Error displaying widget", or a "Loading widget..."
that never ends, are front-end failures nbclient cannot see). This starts a
real Jupyter server on loopback (random token, free port, private Jupyter
folders, serving a temporary copy of notebooks/ so nothing is written into the
committed files), opens every lesson in its own tab (a few tabs at a time, each
with its own kernel), runs Run > Run All Cells and checks what is on the page:
every cell ran, no error output or traceback (also inside Output widgets), every
widget drawn, plot images loaded. Screenshots, one per screenful, go to
test-output/browser/<lesson>.<backend>.NN.png, with a JSON report beside them
(timings, problems, browser console, which cells each screenshot shows).

Needs Playwright's Python package and Chromium from the OS packages
(``apt-get install chromium``; Playwright's own browser download is not used).
Without them the tests skip, saying why; with STREAMLAB_REQUIRE_BROWSER=1 they
fail instead. Other settings, from the environment:

- STREAMLAB_BROWSER_BACKENDS: the backends the kernels use, "fake" (default)
  and/or "real" (comma separated; "real" is the test session's Redis server);
- STREAMLAB_BROWSER_PARALLEL: lessons running at once (default 3; 1 = one by one);
- STREAMLAB_CHROMIUM: the Chromium binary, if not /usr/bin/chromium;
- STREAMLAB_BROWSER_VIEWPORT: the window, WIDTHxHEIGHT (default 1280x1600, a few
  screenshots a lesson; 1280x720 shows what a projector shows, one screenful each).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

import browser_support as bs

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
OUT = ROOT / "test-output" / "browser"
REQUIRE_BROWSER = os.environ.get("STREAMLAB_REQUIRE_BROWSER") == "1"
BACKENDS = [b.strip() for b in os.environ.get("STREAMLAB_BROWSER_BACKENDS", "fake").split(",")
            if b.strip()]
# A lesson must run in under 60 s (README.md); the browser adds rendering on top.
RUN_TIMEOUT_S = 150
# Lessons run in this many tabs at once (each its own kernel): they spend most of their
# time waiting on workers and blocking reads, so this shortens the run a lot.
PARALLEL = int(os.environ.get("STREAMLAB_BROWSER_PARALLEL", "3"))
VIEWPORT = dict(zip(("width", "height"),
                    map(int, os.environ.get("STREAMLAB_BROWSER_VIEWPORT", "1280x1600").split("x"))))
TEST_LESSON = "test_lesson_shows_widgets_and_plots_without_errors_in_jupyterlab"
# Source that draws a plot: matplotlib directly or through streamlab.ui.figures.pool / a dashboard.
PLOTTING = re.compile(r"\bplt\.|\bplots\.|\.plot\(|dashboard|_figure\(")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _browser_unavailable(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"STREAMLAB_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """One headless Chromium (the OS package) for the session; each lesson gets its own tab."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("Playwright is not installed (pip install -e '.[dev]')")
    chromium = bs.find_chromium()
    if not chromium:
        _browser_unavailable("no Chromium binary: install the OS package "
                             "(apt-get install chromium) or set STREAMLAB_CHROMIUM")
    # Chromium's own files (profile extras, crash reports) go here, not into the home folder.
    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    before = set(bs.descendants(os.getpid()))
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=chromium, args=bs.CHROMIUM_ARGS, env=env)
    except Exception:
        pw.stop()
        raise
    # Chromium's crash handler detaches from its parent: find it by the folder it was given.
    started = ([p for p in bs.descendants(os.getpid()) if p not in before]
               + bs.processes_mentioning(str(home)))
    # Pages share one context, hence JupyterLab's assets are fetched once.
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()
    browser.close()
    pw.stop()
    left = bs.outlived(started + bs.processes_mentioning(str(home)))
    assert not left, f"browser processes outlived the test session (killed now): {left}"


def _served_copy(tmp_path_factory, name: str) -> Path:
    """A copy of notebooks/ for a server to run in, so executed outputs never reach the repo."""
    root = tmp_path_factory.mktemp(name) / "notebooks"
    shutil.copytree(ROOT / "notebooks", root,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@contextlib.contextmanager
def _jupyter(root: Path, env: dict[str, str], backend: str, app: str = "jupyterlab"):
    """A Jupyter server on ``root``; on exit, checks that it and its kernels are gone."""
    server = bs.LabServer(root, env, app=app, backend=backend).start()
    try:
        yield server
    finally:
        left = server.stop()
        assert not left, f"processes outlived the Jupyter server (killed now): {left}"


@pytest.fixture(scope="session", params=BACKENDS)
def lab(request, browser_context, tmp_path_factory):
    """JupyterLab whose kernels use fakeredis ("fake") or the session's real server ("real")."""
    backend = request.param
    if backend == "fake":
        env = {"STREAMLAB_BACKEND": "fake"}
    else:
        env = {"STREAMLAB_BACKEND": "env", "REDIS_URL": request.getfixturevalue("real_server_url")}
    with _jupyter(_served_copy(tmp_path_factory, f"lab-{backend}"), env, backend) as server:
        yield server


def _makes_plots(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    return any(PLOTTING.search(c.source) for c in nb.cells if c.cell_type == "code")


def _new_run(context, server, relpath: str, stem: str, makes_plots: bool,
             **options) -> bs.NotebookRun:
    return bs.NotebookRun(context, server, relpath, stem, OUT, makes_plots,
                          run_timeout=RUN_TIMEOUT_S, **options)


@pytest.fixture(scope="session")
def lesson_runs(request, lab, browser_context) -> dict[str, bs.NotebookRun]:
    """The selected lessons, each run in its own tab on ``lab``, PARALLEL at a time; by stem."""
    selected = {item.callspec.params["lesson"] for item in request.session.items
                if item.originalname == TEST_LESSON and item.module.__name__ == __name__}
    runs = {p.stem: _new_run(browser_context, lab, p.name, f"{p.stem}.{lab.backend}",
                             _makes_plots(p)) for p in LESSONS if p in selected}
    bs.run_notebooks(list(runs.values()), parallel=PARALLEL)
    return runs


def _banner_text(report: dict) -> str:
    texts = []
    for cell in report.get("cells", [])[:3]:
        for out in cell["outputs"]:
            texts.append("".join(out.get("text", "")))
            texts.append("".join((out.get("data") or {}).get("text/plain", "")))
    return "\n".join(texts)


# The first lesson's test waits for the whole batch (lesson_runs), hence the longer timeout.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_shows_widgets_and_plots_without_errors_in_jupyterlab(lesson, lab, lesson_runs):
    run = lesson_runs[lesson.stem]
    assert not run.problems, (f"{lesson.name} in JupyterLab ({lab.backend}), see "
                              f"test-output/browser/{run.stem}.*:\n  " + "\n  ".join(run.problems))
    assert ("fakeredis" in _banner_text(run.report)) == (lab.backend == "fake"), \
        f"{lesson.name} did not connect to the {lab.backend} backend"


def test_browser_check_catches_a_broken_widget_and_a_traceback(lab, browser_context):
    """The checks above are only worth something if they fail on a broken notebook."""
    if lab.backend != BACKENDS[0]:
        pytest.skip("the checks are checked once, with the first backend's server")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [
        nbformat.v4.new_code_cell("import ipywidgets as w\nw.IntSlider(value=1)"),
        # A view of a widget model the kernel never created: JupyterLab cannot draw it.
        nbformat.v4.new_code_cell(
            "from IPython.display import display\n"
            "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'no-such-model',"
            " 'version_major': 2, 'version_minor': 0}, 'text/plain': 'ghost'}, raw=True)"),
        # An exception inside an Output widget shows only in the browser, not in the cell outputs.
        nbformat.v4.new_code_cell("out = w.Output()\ndisplay(out)\nwith out:\n    {}['missing']"),
        nbformat.v4.new_code_cell("raise ValueError('planted')"),
    ]
    nbformat.write(nb, lab.root / "browser-selftest.ipynb")
    run = _new_run(browser_context, lab, "browser-selftest.ipynb", "selftest", makes_plots=True,
                   widget_wait_ms=3000)
    bs.run_notebooks([run])
    text = "\n".join(run.problems)
    assert "ValueError: planted" in text
    assert "traceback is shown on the page" in text and "KeyError" in text
    assert "Error displaying widget" in text or "Loading widget" in text
    assert "no plot image is shown" in text
    assert "cell 0" not in text, f"a working slider was reported as broken:\n{text}"


@pytest.fixture(scope="session")
def notebook7_installed():
    # Listed before browser_context in the test's arguments, so it skips before a browser starts.
    # In the dev extra, so CI has it; with STREAMLAB_REQUIRE_BROWSER=1 a missing one fails.
    try:
        import notebook  # noqa: F401
    except ImportError:
        _browser_unavailable("the `notebook` package (Notebook 7) is not installed: "
                             "pip install -e '.[dev]'")


def test_lesson_opens_in_notebook_7(notebook7_installed, browser_context, tmp_path_factory):
    """The classic-style Notebook 7 UI (/notebooks/...) renders a lesson's widgets and plots too."""
    if not LESSONS:
        pytest.skip("no lessons under notebooks/ yet")
    # The first lesson with both a widget panel and a plot; any lesson if none has both.
    lesson = next((p for p in LESSONS if _makes_plots(p) and "panel" in p.read_text().lower()),
                  LESSONS[0])
    with _jupyter(_served_copy(tmp_path_factory, "nb7"), {"STREAMLAB_BACKEND": "fake"}, "fake",
                  app="notebook") as server:
        run = _new_run(browser_context, server, lesson.name, f"{lesson.stem}.notebook7",
                       _makes_plots(lesson))
        bs.run_notebooks([run])
        assert not run.problems, f"{lesson.name} in Notebook 7:\n  " + "\n  ".join(run.problems)


@pytest.mark.timeout(600)
def test_the_instructor_board_renders_in_jupyterlab(lab, browser_context):
    """The instructor's notebook (its rehearsal class) in JupyterLab: the board's heat map, the
    stuck list and the keys are on the page, no error. Screenshots: instructor.<backend>.NN.png."""
    run = _new_run(browser_context, lab, "instructor.ipynb", f"instructor.{lab.backend}",
                   makes_plots=True)
    bs.run_notebooks([run], parallel=1)
    assert not run.problems, "\n  ".join(run.problems)
    shown = "\n".join("".join(out.get("text", "")) + "".join((out.get("data") or {}).get("text/plain", ""))
                      for cell in run.report["cells"] for out in cell["outputs"])
    assert "3 scripted learners" in shown and "ben: exercise 01.1" in shown
    assert run.report["screenshots"]
