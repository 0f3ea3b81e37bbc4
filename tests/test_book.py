"""The book (``make book``): it builds, every lesson page has its outputs and plots, links work.

The build is the one ``make book`` runs (Sphinx + MyST-NB, book/conf.py), on
fakeredis, into test-output/book/, sharing make book's execution cache
(build/book/cache-fake: only lessons whose code changed execute again). ``-E`` re-reads every page,
so every warning is raised again, and ``-W`` turns any warning into a failure:
an error in a lesson cell, a link to a page that does not exist, a bad include.
Two small books (a copy of book/ with one bad lesson) show that those failures
are caught. The browser test opens the built site in headless Chromium,
screenshots the landing page and lesson 03's dashboard, and follows the launch
and download links of every lesson.

Marked ``book`` (and ``slow``): ``-m "not book"`` skips them.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import html.parser
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import nbformat
import pytest

import browser_support as bs

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "test-output" / "book"
SITE = OUT / "html"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
REPO = "streamlab-course/streamlab"
# Source that draws a plot (as in tests/test_browser.py): such a lesson must show pictures.
PLOTTING = re.compile(r"\bplt\.|\bplots\.|\.plot\(|dashboard|_figure\(|\.show\(")
REQUIRE_BROWSER = os.environ.get("STREAMLAB_REQUIRE_BROWSER") == "1"

pytestmark = [pytest.mark.book, pytest.mark.slow, pytest.mark.timeout(900)]


def sphinx_build(src: Path, out: Path, *, cache: Path | None = None, fresh: bool = True,
                 hub: str | None = None) -> subprocess.CompletedProcess:
    """What ``make book`` runs (on fakeredis), for the project in ``src``, into ``out``."""
    env = dict(os.environ, STREAMLAB_BOOK_BACKEND="fake",
               STREAMLAB_BOOK_CACHE=str(cache or out / "cache-fake"))
    env.pop("STREAMLAB_BOOK_HUB", None)
    env.pop("STREAMLAB_BOOK_REPO", None)
    if hub:
        env["STREAMLAB_BOOK_HUB"] = hub
    args = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-j", "6", "-c", "book",
            "-d", str(out / "doctrees"), "-b", "html", ".", str(out / "html")]
    if fresh:
        args.insert(3, "-E")
    return subprocess.run(args, cwd=src, env=env, capture_output=True, text=True, timeout=840)


@pytest.fixture(scope="module")
def site() -> Path:
    shutil.rmtree(SITE, ignore_errors=True)
    # The execution cache is make book's own: lessons unchanged since the last build are not
    # run again (a failed lesson is never cached, so it fails here too).
    run = sphinx_build(ROOT, OUT, cache=ROOT / "build" / "book" / "cache-fake")
    (OUT / "build.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, f"the book did not build:\n{run.stderr[-6000:]}"
    return SITE


class _Page(html.parser.HTMLParser):
    """The links, images and element ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            (self.images if tag == "img" else self.links).append(a["src"])
        if tag == "link" and a.get("href"):
            self.links.append(a["href"])


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def page_of(lesson: Path) -> Path:
    return SITE / "notebooks" / f"{lesson.stem}.html"


def test_every_lesson_has_a_page_with_its_outputs_and_plots(site):
    assert LESSONS, "no lessons under notebooks/"
    for lesson in LESSONS:
        page = page_of(lesson)
        assert page.exists(), f"no page for {lesson.name}"
        text = page.read_text(encoding="utf-8")
        # The first cell prints the backend banner: proof that the lesson ran.
        assert "fakeredis" in text, f"{page.name}: no backend banner, did the lesson run?"
        assert "Traceback (most recent call last)" not in text, f"{page.name} shows a traceback"
        assert "application/vnd.jupyter.widget-view+json" not in text
        assert "Loading widget" not in text and "Error displaying widget" not in text
        source = nbformat.read(lesson, as_version=4)
        plotting = [c for c in source.cells if c.cell_type == "code" and PLOTTING.search(c.source)]
        images = [src for src in parse(page).images if "_images/" in src]
        for src in images:
            target = (page.parent / urllib.parse.unquote(src)).resolve()
            assert target.is_file() and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", \
                f"{page.name}: image {src} is missing or not a PNG"
            assert target.stat().st_size > 5000, f"{page.name}: image {src} is nearly empty"
        inline = re.findall(r"data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)", text)
        for data in inline:  # panel pictures: each holds a real image
            assert len(base64.b64decode(data)) > 5000, f"{page.name}: a panel picture is empty"
        if plotting:
            assert len(images) + len(inline) >= 1, \
                f"{page.name}: the lesson plots ({len(plotting)} cells) but the page has no picture"


def test_panels_show_their_last_state_as_a_picture(site):
    """Every panel a lesson displays is a static picture (STREAMLAB_STATIC), at its final state."""
    panel_lessons = [lesson for lesson in LESSONS if any(
        re.search(r"(^|\n)(panel|\w+\.dashboard\(\))\s*$", cell.source)
        for cell in nbformat.read(lesson, as_version=4).cells if cell.cell_type == "code")]
    assert panel_lessons, "no lesson displays a panel: the check below would check nothing"
    for lesson in panel_lessons:
        text = page_of(lesson).read_text(encoding="utf-8")
        pictures = re.findall(r"<div class=.streamlab-static.*?</div>\s*</div>", text, re.S)
        assert pictures, f"{lesson.name}: a panel is displayed but the page has no picture of it"
        for picture in pictures:
            assert "<button" not in picture and "<input" not in picture
            assert "ready: press Start" not in picture, \
                f"{lesson.name}: a panel shows its first state, not its last"
    # A panel that a later cell bursts N entries into shows at least N sent in every picture
    # of it (lesson 01 does: a 2-second run, then panel.burst(2000)): the last state, not the first.
    checked = 0
    for lesson in panel_lessons:
        code = "\n".join(c.source for c in nbformat.read(lesson, as_version=4).cells
                         if c.cell_type == "code")
        bursts = [int(n) for n in re.findall(r"^panel\.burst\((\d+)\)", code, re.M)]
        if not bursts:
            continue
        text = page_of(lesson).read_text(encoding="utf-8")
        sent = [int(n.replace(",", "")) for n in re.findall(r"<b>sent</b> ([\d,]+)", text)]
        assert sent and min(sent) >= max(bursts), \
            f"{lesson.name}: panel pictures show sent={sent}, before the burst of {max(bursts)}"
        checked += 1
    assert checked, "no lesson bursts into a panel any more: find another last-state check"


def test_no_internal_link_is_broken(site):
    checked = 0
    for page_path in sorted(site.rglob("*.html")):
        if "_static" in page_path.relative_to(site).parts:
            continue  # the theme's template fragments, not pages
        page = parse(page_path)
        for ref in page.links + page.images:
            parts = urllib.parse.urlsplit(ref)
            if parts.scheme or parts.netloc or ref.startswith(("mailto:", "javascript:")):
                continue
            target = page_path if not parts.path else \
                (page_path.parent / urllib.parse.unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page_path.relative_to(site)}: broken link {ref!r}"
            if parts.fragment and target.suffix == ".html" and parts.fragment != "":
                assert parts.fragment in parse(target).ids, \
                    f"{page_path.relative_to(site)}: {ref!r} points at a missing anchor"
            checked += 1
    assert checked > 100, f"only {checked} links found: is the site empty?"


def test_landing_page_maps_every_lesson_and_the_other_pages(site):
    landing = site / "book" / "index.html"
    links = parse(landing).links
    text = landing.read_text(encoding="utf-8")
    for lesson in LESSONS:
        assert any(link.endswith(f"notebooks/{lesson.stem}.html") for link in links), \
            f"the landing page does not link {lesson.stem}"
    for page in ("solutions", "instructors", "troubleshooting"):
        assert f"{page}.html" in " ".join(links)
    assert any(link.startswith(f"https://mybinder.org/v2/gh/{REPO}/") for link in links)
    assert "search.html" in " ".join(links) and "{{" not in text
    assert "book/index.html" in (site / "index.html").read_text()
    assert (site / "searchindex.js").stat().st_size > 10_000
    # The solutions page holds every solutions file; troubleshooting holds README's table.
    solutions = (site / "book" / "solutions.html").read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]-*.py")):
        sections = re.findall(r"^# %% .+$", path.read_text(encoding="utf-8"), re.M)
        assert sections, f"{path.name} has no '# %% exN' sections"
        for line in sections:  # a comment is one highlighted span, so it appears whole
            assert html.escape(line, quote=False) in solutions, \
                f"{path.name}: {line!r} is missing on the solutions page"
    trouble = (site / "book" / "troubleshooting.html").read_text(encoding="utf-8")
    words = re.sub(r"<[^>]+>", "", trouble)  # Sphinx wraps each word of inline code in a span
    assert "REDIS_URL: nothing answered" in " ".join(words.split())


def test_each_lesson_has_launch_and_download_buttons(site):
    for lesson in LESSONS:
        text = page_of(lesson).read_text(encoding="utf-8")
        binder = (f"https://mybinder.org/v2/gh/{REPO}/main?urlpath=lab/tree/"
                  f"notebooks/{lesson.name}")
        assert binder in text, f"{lesson.stem}: no Binder button to {binder}"
        download = f"../_sources/notebooks/{lesson.name}"
        assert download in text, f"{lesson.stem}: no download link"
        copy = nbformat.read(SITE / "_sources" / "notebooks" / lesson.name, as_version=4)
        assert [c.source for c in copy.cells] == \
            [c.source for c in nbformat.read(lesson, as_version=4).cells]


def test_a_jupyterhub_url_adds_a_hub_launch_button(site, tmp_path):
    """BOOK_HUB=URL: each lesson also opens on that hub, through an nbgitpuller link."""
    hub = "https://hub.example.org"
    run = sphinx_build(ROOT, tmp_path / "hub", cache=ROOT / "build" / "book" / "cache-fake", hub=hub)
    assert run.returncode == 0, run.stderr[-3000:]
    for lesson in LESSONS:
        links = parse(tmp_path / "hub" / "html" / "notebooks" / f"{lesson.stem}.html").links
        pulls = [urllib.parse.urlsplit(link) for link in links
                 if link.startswith(f"{hub}/hub/user-redirect/git-pull?")]
        assert pulls, f"{lesson.stem}: no JupyterHub launch button"
        query = urllib.parse.parse_qs(pulls[0].query)
        assert query["repo"] == [f"https://github.com/{REPO}"]
        assert query["urlpath"] == [f"lab/tree/streamlab/notebooks/{lesson.name}"]
    # Without the setting there is none.
    assert not any("git-pull" in link for link in parse(page_of(LESSONS[0])).links)


def _write_broken_book(tmp_path: Path, lesson_source: str) -> Path:
    """A copy of book/ with README.md and one lesson, ``lesson_source`` (MyST-NB reads .ipynb)."""
    src = tmp_path / "project"
    shutil.copytree(ROOT / "book", src / "book")
    shutil.copy(ROOT / "README.md", src / "README.md")
    (src / "notebooks" / "solutions").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    title, code = lesson_source.split("\n", 1)
    nb.cells = [nbformat.v4.new_markdown_cell(title), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, src / "notebooks" / "00-broken.ipynb")
    return src


def test_an_error_in_a_lesson_cell_fails_the_build(tmp_path):
    src = _write_broken_book(tmp_path, "# 00 · Broken\nraise RuntimeError('a lesson cell failed')")
    run = sphinx_build(src, tmp_path / "out")
    assert run.returncode != 0, "the build passed although a cell raised"
    assert "a lesson cell failed" in run.stdout + run.stderr


def test_a_broken_internal_link_fails_the_build(tmp_path):
    src = _write_broken_book(tmp_path, "# 00 · Broken\nprint('fine')")
    page = src / "notebooks" / "00-broken.ipynb"
    nb = nbformat.read(page, as_version=4)
    nb.cells[0].source += "\n\nNext: [lesson 01](01-no-such-lesson.ipynb)."
    nbformat.write(nb, page)
    run = sphinx_build(src, tmp_path / "out")
    assert run.returncode != 0, "the build passed with a link to a page that does not exist"
    assert "01-no-such-lesson" in run.stdout + run.stderr


# --- in a browser ---------------------------------------------------------------------
@contextlib.contextmanager
def serve(root: Path):
    """The site over HTTP on a free loopback port, as a static host would serve it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no line per request on the test's stderr
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.browser
def test_the_site_in_a_browser(site, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRE_BROWSER:
            pytest.fail("STREAMLAB_REQUIRE_BROWSER=1 but Playwright is not installed")
        pytest.skip("Playwright is not installed (pip install -e '.[dev]')")
    chromium = bs.find_chromium()
    if not chromium:
        if REQUIRE_BROWSER:
            pytest.fail("STREAMLAB_REQUIRE_BROWSER=1 but there is no Chromium (apt-get install chromium)")
        pytest.skip("no Chromium binary: apt-get install chromium, or set STREAMLAB_CHROMIUM")
    shots = ROOT / "test-output" / "book" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "chromium-home"
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    before = set(bs.descendants(os.getpid()))
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=bs.CHROMIUM_ARGS, env=env)
        started = [p for p in bs.descendants(os.getpid()) if p not in before]
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            failed: list[str] = []
            # A request the browser itself gave up on when the test moved to the next page
            # (net::ERR_ABORTED: the search page fetching result summaries, say) says nothing
            # about the site; it is fetched again at the end and counts if that fails.
            aborted: list[str] = []
            page.on("requestfailed", lambda req: (aborted if "ERR_ABORTED" in (req.failure or "")
                                                  else failed).append(req.url))
            page.on("response", lambda resp: failed.append(resp.url) if resp.status >= 400 else None)

            page.goto(f"{base}/index.html")  # the redirect to book/index.html
            page.wait_for_url("**/book/index.html")  # waits for its load event too
            page.screenshot(path=shots / "landing.png", full_page=True)
            assert "fakeredis" in page.locator(".bd-header-announcement").inner_text()
            for lesson in LESSONS:
                assert page.locator(f"a[href$='notebooks/{lesson.stem}.html']").count() >= 1

            # Search works offline: the search page finds a command the lessons teach.
            page.goto(f"{base}/search.html?q=XAUTOCLAIM")
            page.wait_for_selector("#search-results li", timeout=30_000)
            assert page.locator("#search-results li").count() >= 1
            # Sphinx fetches each result page for its summary; let those finish first.
            page.wait_for_function("""() => (document.querySelector('#search-results .search-summary')
                || {}).innerText?.startsWith('Search finished')""", timeout=30_000)
            page.wait_for_load_state("networkidle")

            for lesson in LESSONS:
                page.goto(f"{base}/notebooks/{lesson.stem}.html")  # returns after the load event
                # Every picture on the page loaded.
                broken = page.evaluate("""() => [...document.images]
                    .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80))""")
                assert not broken, f"{lesson.stem}: images that did not load: {broken}"
                launch = page.evaluate("""() => [...document.querySelectorAll('a')]
                    .map(a => a.href).filter(h => h.includes('mybinder.org'))""")
                assert launch == [f"https://mybinder.org/v2/gh/{REPO}/main?urlpath=lab/tree/"
                                  f"notebooks/{lesson.name}"], f"{lesson.stem}: launch links {launch}"
                download = page.evaluate("""() => [...document.querySelectorAll('a')]
                    .map(a => a.href).filter(h => h.endsWith('.ipynb') && h.includes('_sources'))""")
                assert download, f"{lesson.stem}: no download link"
                got = page.request.get(download[0])
                assert got.ok and nbformat.reads(got.text(), as_version=4).cells
                if lesson.name.startswith(("03-", "04-")):
                    page.screenshot(path=shots / f"{lesson.stem}.png", full_page=True)
                if lesson.name.startswith("03-"):
                    dashboard = page.locator(".streamlab-static").first
                    assert dashboard.locator("img").count() >= 1, "lesson 03's dashboard has no picture"
                    # The theme's sticky header would cover the top of an element screenshot.
                    page.add_style_tag(content=".bd-header, .bd-header-article, .skip-link "
                                               "{position: static !important}")
                    section = dashboard.locator("xpath=ancestor::section[1]")
                    section.screenshot(path=shots / "03-dashboard-section.png")
            failed += [url for url in dict.fromkeys(aborted) if not page.request.get(url).ok]
            assert not failed, f"requests that failed: {failed}"
        finally:
            browser.close()
    left = bs.outlived(started)
    assert not left, f"browser processes outlived the test (killed now): {left}"

