"""The streamlab book's own Sphinx pieces: the execution environment, the banner,
the lesson map and the solutions page.

Both directives read the repository's ``notebooks/`` folder, so a new lesson
``NN-*.ipynb`` (with its ``solutions/NN-*.py``) appears in the map, the table of
contents and the solutions page without editing the book.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
LESSON_GLOB = "[0-9][0-9]-*.ipynb"
BACKENDS = ("fake", "private", "env")


# --- the environment every lesson's kernel inherits -----------------------------------
def prepare_environment(backend: str) -> None:
    """Set what the kernels inherit: the backend, static panels, the inline plot backend."""
    if backend not in BACKENDS:
        raise ConfigError(f"STREAMLAB_BOOK_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}: "
                          "use fake (fakeredis), private (a redis-server per lesson) or env "
                          "(the server in REDIS_URL).")
    if backend == "env" and not os.environ.get("REDIS_URL"):
        raise ConfigError("STREAMLAB_BOOK_BACKEND=env needs REDIS_URL, e.g. "
                          "REDIS_URL=redis://127.0.0.1:6390/0 make book BOOK_BACKEND=env")
    if backend == "private" and not (shutil.which("redis-server") or shutil.which("valkey-server")):
        raise ConfigError("STREAMLAB_BOOK_BACKEND=private needs redis-server or valkey-server on PATH; "
                          "install one (apt-get install redis-server) or build on fakeredis.")
    if backend != "env":
        os.environ.pop("REDIS_URL", None)
    os.environ["STREAMLAB_BACKEND"] = backend
    os.environ["STREAMLAB_STATIC"] = "1"  # panels display as pictures (streamlab.ui.panel)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"


def _server_version(backend: str) -> str:
    try:
        if backend == "private":
            binary = shutil.which("redis-server") or shutil.which("valkey-server")
            out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout
            match = re.search(r"v=(\S+)", out)
            return f"{Path(binary).name} {match.group(1) if match else '?'}"
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
        try:
            info = client.info("server")
        finally:
            client.close()
        name = "Valkey" if "valkey_version" in info else "Redis"
        return f"{name} {info.get('valkey_version') or info.get('redis_version', '?')}"
    except Exception as exc:  # noqa: BLE001 - the banner says so; the lessons will fail loudly
        return f"a server whose version could not be read ({type(exc).__name__})"


def backend_banner(backend: str) -> str:
    """The line at the top of every page: which Redis ran the lessons."""
    if backend == "fake":
        where = ("<b>fakeredis</b>, the Redis emulation in Python (no server): a few numbers differ "
                 "on a real server, and the lessons say where")
    elif backend == "private":
        where = f"a private Redis server (<b>{_server_version(backend)}</b>) started for each lesson"
    else:
        where = f"<b>{_server_version(backend)}</b> (REDIS_URL)"
    return (f"The outputs and plots on these pages come from running every lesson on {where}. "
            f"Panels show their last state as a picture: launch a lesson to use them.")


# --- lessons --------------------------------------------------------------------------
def lessons() -> list[dict]:
    """Every lesson notebook, in order: number, docname, title, one-line summary, time."""
    found = []
    for path in sorted(NOTEBOOKS.glob(LESSON_GLOB)):
        nb = nbformat.read(path, as_version=4)
        first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        lines = first.splitlines()
        title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), path.stem)
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", first)]
        summary = next((p for p in paragraphs if p and not p.startswith("#")
                        and not p.startswith("**")), "")
        time = re.search(r"\*\*Time\*\*:\s*(.+?)\.?\s*$", first, re.M)
        found.append({"number": path.name[:2], "docname": f"notebooks/{path.stem}",
                      "path": path, "title": title, "summary": " ".join(summary.split()),
                      "time": time.group(1) if time else ""})
    return found


def _doc_link(target: str, text: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget="/" + target,
                                refexplicit=True, refwarn=True)
    ref += nodes.inline(text, text)
    return ref


def _inline_markdown(text: str) -> list[nodes.Node]:
    """Text with `code` spans as literals (all the summaries use)."""
    out: list[nodes.Node] = []
    for i, part in enumerate(re.split(r"`([^`]+)`", text)):
        if part:
            out.append(nodes.literal(part, part) if i % 2 else nodes.Text(part))
    return out


class LessonMap(SphinxDirective):
    """``{lesson-map}``: a table of every lesson: number, title (a link), what it is about, time."""

    def run(self):
        table = nodes.table(classes=["streamlab-lesson-map"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (28, 62, 10):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row([nodes.Text("lesson")], [nodes.Text("what you do in it")],
                          [nodes.Text("time")])
        body = nodes.tbody()
        group += body
        for lesson in lessons():
            self.env.note_dependency(str(lesson["path"]))
            body += self._row([_doc_link(lesson["docname"], lesson["title"])],
                              _inline_markdown(lesson["summary"]),
                              [nodes.Text(lesson["time"])])
        return [table]

    @staticmethod
    def _row(*cells) -> nodes.row:
        row = nodes.row()
        for content in cells:
            entry = nodes.entry()
            para = nodes.paragraph()
            para.extend(content)
            entry += para
            row += entry
        return row


class LessonSolutions(SphinxDirective):
    """``{lesson-solutions}``: each lesson's solutions file (``notebooks/solutions/NN-*.py``)."""

    def run(self):
        out: list[nodes.Node] = []
        by_number = {lesson["number"]: lesson for lesson in lessons()}
        for path in sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]-*.py")):
            self.env.note_dependency(str(path))
            lesson = by_number.get(path.name[:2])
            title = lesson["title"] if lesson else path.stem
            section = nodes.section(ids=[f"solutions-{path.stem}"], names=[f"solutions {path.stem}"])
            section += nodes.title(title, title)
            para = nodes.paragraph()
            if lesson:
                para += nodes.Text("The lesson: ")
                para += _doc_link(lesson["docname"], lesson["title"])
                para += nodes.Text(f". The file: notebooks/solutions/{path.name}.")
            section += para
            code = path.read_text(encoding="utf-8")
            block = nodes.literal_block(code, code, language="python")
            section += block
            out.append(section)
        return out


def _always_reread(app, env, added, changed, removed):
    # The map and the solutions page list files, not documents: re-read them every build
    # (they execute nothing, so it costs milliseconds) so a new lesson appears at once.
    return [doc for doc in ("book/index", "book/solutions", "book/instructors")
            if doc in env.found_docs]


def _create_cache(app, config):
    # The execution cache is an SQLite database that each parallel reader would otherwise
    # create on first use, racing ("table nbproject already exists"): create it here, once,
    # in the main process, before the readers start.
    if config.nb_execution_mode == "cache":
        from jupyter_cache.cache.main import JupyterCacheBase

        path = Path(config.nb_execution_cache_path)
        if not path.is_absolute():
            path = Path(app.srcdir) / path
        JupyterCacheBase(str(path)).db  # noqa: B018 - the property creates the tables


def setup(app):
    app.connect("config-inited", _create_cache)
    app.add_directive("lesson-map", LessonMap)
    app.add_directive("lesson-solutions", LessonSolutions)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
