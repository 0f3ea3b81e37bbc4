"""Helpers for tests/test_browser.py: a throwaway Jupyter server and what a browser shows of it.

``LabServer`` runs ``jupyter lab`` (or Notebook 7) on loopback with a random
token, a free port and its own config, data, runtime, settings and workspace
folders, so a test never reads or writes the developer's Jupyter state.
``NotebookRun`` opens one notebook in a browser tab, runs JupyterLab's own
``notebook:run-all-cells`` command, and reports from the page what a learner
would see (``problems_in``): cells that did not run, error outputs and
tracebacks, widgets not drawn, images not loaded. ``run_notebooks`` keeps a few
such tabs going at once.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

# Chromium from the OS packages (apt-get install chromium): Playwright's browser download
# is not used. These flags keep it from reaching out to the network on its own.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# User settings written into the server's private settings folder. They only keep
# the run offline and quiet (no news or update check toasts); how notebooks render
# is left at JupyterLab's defaults, the way a learner gets it.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


# The application class of each front end, which holds its expose_app_in_browser option.
EXPOSE_APP = {"jupyterlab": "LabApp", "notebook": "JupyterNotebookApp"}


def find_chromium() -> str | None:
    """Path of a Chromium binary from the OS packages (or $STREAMLAB_CHROMIUM), else None."""
    override = os.environ.get("STREAMLAB_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[psutil.Process]:
    """Every live process below ``pid`` (kernels, chromium helpers...)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Processes whose command line contains ``text`` (e.g. a temporary folder of ours)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(text in arg for arg in p.info["cmdline"] or []):
            found.append(p)
    return found


def outlived(procs: list[psutil.Process], timeout: float = 10) -> list[str]:
    """Wait up to ``timeout`` for ``procs`` to end; kill and describe any that did not.

    Zombies count as ended: they hold no resources and wait only for their parent.
    """
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    left = []
    for p in alive:
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            left.append(f"pid {p.pid}: {' '.join(p.cmdline())[:150]}")
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return left


class LabServer:
    """``jupyter lab`` on 127.0.0.1 serving ``root``, with kernels started in ``env``.

    ``extra_env`` is added to the server's environment, which its kernels inherit
    (that is how a test picks the Redis backend the lessons connect to).
    """

    def __init__(self, root: Path, extra_env: dict[str, str], app: str = "jupyterlab",
                 backend: str = ""):
        self.root = root
        self.app = app
        self.backend = backend  # which Redis its kernels use, for test ids and reports
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._state = Path(tempfile.mkdtemp(prefix="streamlab-lab-"))
        self.log_path = self._state / "server.log"
        self._extra_env = extra_env
        self.proc: subprocess.Popen | None = None
        self._log = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        env.pop("STREAMLAB_BACKEND", None)
        for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")]:
            (self._state / sub).mkdir()
            env[var] = str(self._state / sub)
        # What a learner's kernel uses in JupyterLab, whatever this shell exported.
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.update(self._extra_env)
        return env

    def start(self, timeout: float = 60) -> "LabServer":
        env = self._env()
        for name, value in LAB_SETTINGS.items():
            path = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        cmd = [sys.executable, "-m", self.app, "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}",
               # window.jupyterapp lets the test call JupyterLab's own commands.
               f"--{EXPOSE_APP[self.app]}.expose_app_in_browser=True",
               "--ServerApp.terminals_enabled=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root; nothing here needs it
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.app} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def api(self, method: str, path: str):
        """One REST call to the server (Jupyter Server REST API); JSON reply or None."""
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernel_of(self, relpath: str) -> None:
        """Shut down the notebook's kernel (DELETE /api/sessions/<id>): its workers stop now."""
        for session in self.api("GET", "/api/sessions") or []:
            if session.get("path") == relpath:
                try:
                    self.api("DELETE", f"/api/sessions/{session['id']}")
                except urllib.error.HTTPError:
                    pass  # it ended by itself between the two calls

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> list[str]:
        """Stop the server and its kernels; return any process that outlived it."""
        if self.proc is None:
            return []
        children = descendants(self.proc.pid)
        try:
            self.api("POST", "/api/shutdown")  # shuts kernels down cleanly, then exits
        except (urllib.error.URLError, ConnectionError, OSError):
            self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        left = outlived(children)
        self.proc = None
        self._log.close()
        shutil.rmtree(self._state, ignore_errors=True)
        return left


# JavaScript run in the page. They use window.jupyterapp (the JupyterLab
# application, exposed by --LabApp.expose_app_in_browser) and the notebook's
# model, so they do not depend on CSS classes that change between releases,
# except where the check is about what is drawn on screen.

JS_NOTEBOOK_READY = """(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const w = app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path || !w.context.isReady) return false;
  const s = w.sessionContext;
  return !!(s && s.isReady && s.session && s.session.kernel
            && s.session.kernel.status === 'idle');
}"""

JS_RUN_ALL = """() => {
  const app = window.jupyterapp;
  window.__streamlabRun = {done: false, result: null, error: null};
  app.commands.execute('notebook:run-all-cells').then(
    (r) => { window.__streamlabRun.done = true; window.__streamlabRun.result = r; },
    (e) => { window.__streamlabRun.done = true; window.__streamlabRun.error = String(e); });
}"""

JS_RUN_FINISHED = """() => {
  const run = window.__streamlabRun;
  const w = window.jupyterapp.shell.currentWidget;
  const status = w.sessionContext.session?.kernel?.status;
  if (status === 'dead') return true;
  return !!(run && run.done && status === 'idle');
}"""

JS_DIALOGS = """() => Array.from(document.querySelectorAll('.jp-Dialog'))
  .map((e) => e.textContent.trim().slice(0, 300))"""

JS_INSPECT = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const WIDGET = 'application/vnd.jupyter.widget-view+json';
  const cells = [];
  const model = w.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const c = model.cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      // Images are checked on the page; the report keeps only their size.
      for (const mime of Object.keys(o.data || {})) {
        if (mime.startsWith('image/')) o.data[mime] = `<${o.data[mime].length} characters>`;
      }
      outputs.push(o);
    }
    // What is on screen for this cell: its own outputs (not those nested in a widget).
    const node = w.content.widgets[i].node;
    const shown = Array.from(node.querySelectorAll(
      '.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')).map((o) => {
        const text = o.textContent.trim();
        if (text.startsWith('Error displaying widget')) return {kind: 'widget-error', text};
        if (text.startsWith('Loading widget')) return {kind: 'widget-loading', text};
        if (o.querySelector(':scope > .jupyter-widgets')) return {kind: 'widget'};
        if (o.classList.contains('lm-mod-hidden')) return {kind: 'hidden'};
        return {kind: 'other'};
      });
    const images = Array.from(node.querySelectorAll('.jp-OutputArea-output img'))
      .map((e) => ({w: e.naturalWidth, h: e.naturalHeight,
                    inWidget: !!e.closest('.jupyter-widgets')}));
    cells.push({index: i, source: c.sharedModel.getSource(), count: c.executionCount,
                outputs, widgetOutputs: outputs.filter((o) => o.data && o.data[WIDGET]).length,
                shown, images});
  }
  return {
    cellsOnPage: w.content.widgets.filter((c) => c.node.isConnected).length,
    cellsInNotebook: model.cells.length,
    kernel: w.sessionContext.session?.kernel?.status ?? null,
    run: window.__streamlabRun,
    cells,
    stderrTracebacks: Array.from(w.content.node.querySelectorAll(
        '[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map((e) => e.textContent).filter((t) => t.includes('Traceback'))
        .map((t) => t.slice(0, 1500)),
    dialogs: (""" + JS_DIALOGS + """)(),
  };
}"""

# Scrolling the notebook, then measuring where its last cell ends relative to the visible
# area: offscreen cells are sized by estimate until painted, so this is re-measured each step.
JS_SCROLL_TO = """(y) => {
  const w = window.jupyterapp.shell.currentWidget;
  (w.node.querySelector('.jp-WindowedPanel-outer') || w.content.node).scrollTop = y;
}"""

JS_VIEW = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const el = w.node.querySelector('.jp-WindowedPanel-outer') || w.content.node;
  const r = el.getBoundingClientRect();
  const cells = w.content.widgets;
  const last = cells.length ? cells[cells.length - 1].node.getBoundingClientRect().bottom : r.top;
  const starting = [];  // cells whose top edge is in view: what this screenshot shows
  cells.forEach((c, i) => {
    const top = c.node.getBoundingClientRect().top - r.top;
    if (top >= 0 && top < el.clientHeight) starting.push(i);
  });
  return {top: el.scrollTop, view: el.clientHeight, lastBottom: last - r.top, cells: starting,
          clip: {x: r.x, y: r.y, width: r.width, height: r.height}};
}"""


# JupyterLab attaches offscreen cells to the page when the browser is idle: wait for all of
# them, and for every widget view to be past "Loading widget...".
JS_SETTLED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w.content.widgets.every((c) => c.node.isConnected)
    && !Array.from(w.content.node.querySelectorAll('.jp-OutputArea-output'))
         .some((e) => e.textContent.trim().startsWith('Loading widget'));
}"""


def notebook_url(server: LabServer, relpath: str) -> str:
    """The page a learner opens ``relpath`` on (JupyterLab: in a fresh workspace of its own)."""
    if server.app == "jupyterlab":
        return server.url(f"/lab/workspaces/t{secrets.token_hex(4)}/tree/{relpath}?reset")
    return server.url(f"/notebooks/{relpath}")


class NotebookRun:
    """One notebook in its own browser tab: open it, Run All Cells, inspect, screenshot, close.

    The steps do not block (except ``finish``), so ``run_notebooks`` can keep
    several tabs going at once; lessons spend much of their time waiting on
    workers and blocking reads, and each tab has its own kernel and keys.
    """

    def __init__(self, context, server: LabServer, relpath: str, stem: str, out_dir: Path,
                 makes_plots: bool, open_timeout: float = 60, run_timeout: float = 150,
                 widget_wait_ms: int = 15_000):
        self.context, self.server, self.relpath, self.stem = context, server, relpath, stem
        self.out_dir, self.makes_plots = out_dir, makes_plots
        self.open_timeout, self.run_timeout, self.widget_wait_ms = (
            open_timeout, run_timeout, widget_wait_ms)
        self.page = None
        self.state = "new"  # -> opening -> running -> done
        self.problems: list[str] = []
        self.console: list[str] = []
        self.report: dict = {"notebook": relpath, "server": server.app, "seconds": {}}
        self._clock = 0.0

    def _lap(self, name: str) -> None:
        now = time.monotonic()
        self.report["seconds"][name] = round(now - self._clock, 1)
        self._clock = now

    def open(self) -> None:
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text[:300]}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {str(e)[:300]}"))
        self._clock = time.monotonic()
        self.page.goto(notebook_url(self.server, self.relpath), wait_until="domcontentloaded")
        self.state = "opening"

    def poll(self) -> None:
        """Advance one step if the page is ready for it; give up on a step that takes too long."""
        waited = time.monotonic() - self._clock
        if self.state == "opening":
            if self.page.evaluate(JS_NOTEBOOK_READY, self.relpath):
                self._lap("open")
                # More width for the notebook, as a learner has after closing the file browser.
                self.page.evaluate("() => window.jupyterapp.shell.collapseLeft?.()")
                self.page.evaluate(JS_RUN_ALL)
                self.state = "running"
            elif waited > self.open_timeout:
                # A dialog (no such file, no kernel to pick...) usually says why.
                dialogs = self.page.evaluate(JS_DIALOGS)
                self.problems.append(f"the notebook did not open with an idle kernel within "
                                     f"{self.open_timeout:.0f} s" +
                                     "".join(f"; dialog: {d!r}" for d in dialogs))
                self.finish()
        elif self.state == "running":
            if self.page.evaluate(JS_RUN_FINISHED):
                self._lap("run_all")
                self.finish()
            elif waited > self.run_timeout:
                self.problems.append(
                    f"Run All Cells had not finished after {self.run_timeout:.0f} s")
                self.finish()

    def finish(self) -> None:
        """Inspect and screenshot the page whatever state it is in, then close it and its kernel."""
        self._clock = time.monotonic()
        try:
            self.page.bring_to_front()  # what a learner looks at is the tab in front
            if self.state == "running" and not self.problems:
                try:
                    self.page.wait_for_function(JS_SETTLED, timeout=self.widget_wait_ms,
                                                polling=250)
                except Exception:  # noqa: BLE001 - the inspection below reports what is left
                    pass
                self.report.update(self.page.evaluate(JS_INSPECT))
                self.problems += problems_in(self.report, self.makes_plots)
                self._lap("inspect")
            # Also after a failure or a timeout: the screenshots show what went wrong.
            self.report["screenshots"] = screenshot_notebook(self.page, self.out_dir, self.stem)
            self._lap("screenshots")
        except Exception as exc:  # noqa: BLE001 - e.g. the tab crashed: report it, still clean up
            self.problems.append(f"the browser step failed: {exc}")
        finally:
            self.state = "done"
            self._close()

    def _close(self) -> None:
        try:
            if self.page is not None:
                self.page.close()
        finally:
            self.server.shutdown_kernel_of(self.relpath)
            self._lap("close")
            self.report["console"] = self.console
            self.report["problems"] = self.problems
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / f"{self.stem}.json").write_text(
                json.dumps(self.report, indent=1, default=str))


def run_notebooks(runs: list[NotebookRun], parallel: int = 3) -> None:
    """Drive ``runs`` to the end, at most ``parallel`` tabs at a time, in list order."""
    waiting = list(runs)
    active: list[NotebookRun] = []
    while waiting or active:
        # One tab starting JupyterLab at a time: its start-up is the CPU-heavy part.
        while waiting and len(active) < parallel and all(r.state != "opening" for r in active):
            run = waiting.pop(0)
            active.append(run)
            try:
                run.open()
            except Exception as exc:  # noqa: BLE001 - reported with the run, the others go on
                run.problems.append(f"the page did not load: {exc}")
                run.finish()
        for run in list(active):
            if run.state != "done":
                try:
                    run.poll()
                except Exception as exc:  # noqa: BLE001 - one broken tab must not stop the others
                    run.problems.append(f"the browser step failed: {exc}")
                    run.finish()
            if run.state == "done":
                active.remove(run)
        time.sleep(0.25)


def screenshot_notebook(page, out_dir: Path, stem: str, max_parts: int = 30) -> dict[str, list]:
    """Screenshots of the whole notebook, one per screenful, top to bottom.

    Returns {file name: indices of the cells starting in it}, to find a cell's picture.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{stem}.*.png"):
        old.unlink()
    shots = {}
    y = 0
    for part in range(1, max_parts + 1):
        path = out_dir / f"{stem}.{part:02d}.png"
        try:
            page.evaluate(JS_SCROLL_TO, y)
        except Exception:  # noqa: BLE001 - no notebook on the page (it did not open): show the page
            page.screenshot(path=str(path))
            return {path.name: []}
        page.wait_for_timeout(100)  # a frame or two for the cells now on screen to paint
        at = page.evaluate(JS_VIEW)
        page.screenshot(path=str(path), clip=at["clip"])
        shots[path.name] = at["cells"]
        if at["lastBottom"] <= at["view"] + 5:
            break
        y = at["top"] + at["view"] - 40  # a little overlap so no line is cut in two
    return shots


def problems_in(report: dict, makes_plots: bool) -> list[str]:
    """What a learner would see as broken, from ``inspect_notebook``'s report."""
    problems = []
    run = report.get("run") or {}
    if report.get("kernel") != "idle":
        problems.append(f"kernel is {report.get('kernel')!r} after Run All, not idle")
    if run.get("error"):
        problems.append(f"Run All Cells failed: {run['error']}")
    if report["cellsOnPage"] < report["cellsInNotebook"]:
        problems.append(f"only {report['cellsOnPage']} of {report['cellsInNotebook']} cells "
                        f"were put on the page")
    images = []
    not_run = []
    for cell in report["cells"]:
        first_line = (cell["source"].strip().splitlines() or [""])[0][:60]
        where = f"cell {cell['index']} ({first_line!r})"
        images += cell["images"]
        if cell["source"].strip() and cell["count"] is None:
            not_run.append(str(cell["index"]))
        for out in cell["outputs"]:
            if out.get("output_type") == "error":
                problems.append(f"{where} raised {out.get('ename')}: {out.get('evalue')}")
            elif out.get("name") == "stderr" and "Traceback" in "".join(out.get("text", "")):
                problems.append(f"{where} printed a traceback")
        kinds = [s["kind"] for s in cell["shown"]]
        for shown in cell["shown"]:
            if shown["kind"] == "widget-error":
                problems.append(f"{where} shows {shown['text']!r}")
            elif shown["kind"] == "widget-loading":
                problems.append(f"{where} still shows {shown['text']!r}")
        # A widget closed by the notebook hides its output; any other widget must be drawn.
        drawn = kinds.count("widget") + kinds.count("hidden")
        if drawn < cell["widgetOutputs"]:
            problems.append(f"{where} has {cell['widgetOutputs']} widget output(s) "
                            f"but {kinds.count('widget')} drawn")
        if any(not i["w"] for i in cell["images"]):
            problems.append(f"{where} has an image that did not load")
    if not_run:
        # Run All stops at the first cell that raises; the cells after it never run.
        problems.append(f"cells {', '.join(not_run)} did not run")
    for text in report["stderrTracebacks"]:
        problems.append(f"a traceback is shown on the page: {text[:300]}")
    if makes_plots and not any(i["w"] for i in images):
        problems.append("the notebook makes plots but no plot image is shown")
    for text in report["dialogs"]:
        problems.append(f"a dialog is open: {text!r}")
    return problems
