"""How often lesson 03's dashboard picture really changes in a browser.

Runs JupyterLab (``tests/browser_support.LabServer``: loopback, random token,
private Jupyter folders) and headless Chromium (the OS package), opens a scratch
notebook that starts a ``ConsumerPoolPanel`` (producer at ``--rate`` msgs/s,
3 consumers), and counts in the page, with a MutationObserver, every time the
dashboard's ``<img>`` gets a new picture. It also times a small JavaScript
round trip to the page while the dashboard runs.

    python bench/browser_refresh.py --backend real --url redis://127.0.0.1:6379/0 --seconds 20
    python bench/browser_refresh.py --backend fake

Needs Playwright's Python package and Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import browser_support as bs  # noqa: E402

JS_COUNT_FRAMES = """() => {
  const img = document.querySelector('.jupyter-widgets img');
  if (!img) return false;
  window.__frames = [];
  new MutationObserver(() => window.__frames.push(performance.now()))
    .observe(img, {attributes: true, attributeFilter: ['src']});
  return true;
}"""


def scratch_notebook(root: Path, stream: str, rate: float) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("import streamlab as sl\n"
                                  "from streamlab.ui.pool_panel import ConsumerPoolPanel\n"
                                  "r = sl.connect()"),
        nbformat.v4.new_code_cell(f"panel = ConsumerPoolPanel(r, {stream!r}, 'bench', consumers=3, "
                                  f"rate={rate}, ms=1, count=10, name='bench')\npanel"),
        nbformat.v4.new_code_cell("panel.start();"),
    ]
    nbformat.write(nb, root / "refresh.ipynb")
    return "refresh.ipynb"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["fake", "real"], default="fake")
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = bs.find_chromium()
    if not chromium:
        raise SystemExit("no Chromium: apt-get install chromium (or set STREAMLAB_CHROMIUM)")
    stream = f"streamlab:bench:{uuid.uuid4().hex[:8]}:sensors"
    env = ({"STREAMLAB_BACKEND": "fake"} if args.backend == "fake"
           else {"STREAMLAB_BACKEND": "env", "REDIS_URL": args.url})
    with tempfile.TemporaryDirectory() as tmp:
        relpath = scratch_notebook(Path(tmp), stream, args.rate)
        server = bs.LabServer(Path(tmp), env).start()
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=chromium, args=bs.CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
            page.goto(bs.notebook_url(server, relpath), wait_until="domcontentloaded")
            page.wait_for_function(bs.JS_NOTEBOOK_READY, arg=relpath, timeout=90_000, polling=250)
            page.evaluate(bs.JS_RUN_ALL)
            page.wait_for_function(bs.JS_RUN_FINISHED, timeout=90_000, polling=250)
            page.wait_for_function(JS_COUNT_FRAMES, timeout=30_000, polling=250)
            time.sleep(2)  # past the start-up, where every axis is being scaled
            page.evaluate("() => { window.__frames = []; }")
            began = time.monotonic()
            round_trips = []
            while time.monotonic() - began < args.seconds:
                t = time.monotonic()
                page.evaluate("() => document.title")
                round_trips.append(time.monotonic() - t)
                time.sleep(0.5)
            frames = page.evaluate("() => window.__frames")
            page.screenshot(path=str(ROOT / "test-output" / f"browser-refresh.{args.backend}.png"))
        finally:
            browser.close()
            pw.stop()
            left = server.stop()
    if args.backend == "real":
        import redis

        redis.Redis.from_url(args.url).delete(stream)
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    span = (frames[-1] - frames[0]) / 1000 if len(frames) > 1 else 0
    print(f"{args.backend}: {len(frames)} new pictures in the page in {args.seconds:.0f} s "
          f"= {(len(frames) - 1) / span if span else 0:.2f} per second; "
          f"longest gap {max(gaps, default=0):.0f} ms; page round trip "
          f"{1000 * max(round_trips):.0f} ms at worst; processes left: {left or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
