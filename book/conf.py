"""Sphinx configuration of the streamlab book (``make book``).

Sphinx + MyST-NB + sphinx-book-theme, everything from PyPI (docs/BOOK.md says
why). Run as ``sphinx-build -c book . build/book/html``: the source folder is the
repository (only ``book/`` and the lesson notebooks are read), so a lesson's page
is ``notebooks/NN-*.html`` and its launch and download buttons point at the very
notebook learners open. The site starts at ``book/index.html``; the top-level
``index.html`` sends the browser there.

Settings from the environment (the Makefile passes them on):

- ``STREAMLAB_BOOK_BACKEND``: ``fake`` (default: fakeredis), ``private`` (each
  lesson's kernel starts its own loopback ``redis-server``) or ``env`` (the server
  in ``REDIS_URL``). The banner on every page says which one ran the lessons.
- ``STREAMLAB_BOOK_REPO``: the GitHub repository (``owner/name``) of the launch
  buttons; ``STREAMLAB_BOOK_BRANCH``: its branch.
- ``STREAMLAB_BOOK_HUB``: a JupyterHub URL; when set, each lesson also gets a
  JupyterHub launch button (nbgitpuller link).
- ``STREAMLAB_BOOK_CACHE``: where executed notebooks are cached.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(ROOT))

import streamlab_book  # noqa: E402  (book/_ext)

BACKEND = os.environ.get("STREAMLAB_BOOK_BACKEND", "fake").strip() or "fake"
REPO = os.environ.get("STREAMLAB_BOOK_REPO", "streamlab-course/streamlab")
BRANCH = os.environ.get("STREAMLAB_BOOK_BRANCH", "main")
HUB = os.environ.get("STREAMLAB_BOOK_HUB", "").rstrip("/")

# What every lesson's kernel inherits: the backend, and panels as pictures, not live widgets.
streamlab_book.prepare_environment(BACKEND)
BANNER = streamlab_book.backend_banner(BACKEND)

project = "streamlab"
author = "the streamlab authors"
copyright = f"{datetime.date.today().year}, {author}"
root_doc = "book/index"

extensions = ["myst_nb", "streamlab_book"]
# Only the book's pages and the lessons (notebooks/NN-*.ipynb); a new lesson is picked up.
include_patterns = ["book/*.md", "notebooks/[0-9][0-9]-*.ipynb"]
exclude_patterns = [".venv", ".git", "build", "test-output", "node_modules", "**/.ipynb_checkpoints",
                    "book/_ext", "book/_static", "book/_root"]
suppress_warnings = []

# --- MyST ---------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
BINDER = f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/notebooks/00-start-here.ipynb"
myst_substitutions = {  # Markdown: links and code blocks need the whole construct here
    "binder_link": f"[open the course on Binder]({BINDER})",
    "clone": f"```bash\ngit clone https://github.com/{REPO}.git && cd {REPO.split('/')[-1]}\n"
             "make lab        # installs into .venv, opens notebooks/00-start-here.ipynb in JupyterLab\n```",
}
myst_heading_anchors = 3

# --- execution: every lesson, cached by its code (prose edits do not re-run it) ------
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get(
    "STREAMLAB_BOOK_CACHE", str(ROOT / "build" / "book" / f"cache-{BACKEND}"))
nb_execution_timeout = 300          # seconds per cell; a lesson runs in about a minute
nb_execution_raise_on_error = False  # an error is a warning (with its traceback), which -W fails
nb_execution_show_tb = True         # and the log shows its traceback
nb_execution_in_temp = False        # cwd = notebooks/, as in JupyterLab
nb_merge_streams = True
# Panels show as pictures (STREAMLAB_STATIC): no widget JavaScript, no "Loading widget...".
nb_ipywidgets_js = {}

# --- HTML ---------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "streamlab · Redis Streams in Python"
html_static_path = ["_static"]
html_css_files = ["streamlab.css"]
html_extra_path = ["_root"]  # index.html: a redirect to book/index.html
html_last_updated_fmt = "%Y-%m-%d"
html_theme_options = {
    "repository_url": f"https://github.com/{REPO}",
    "repository_branch": BRANCH,
    "path_to_docs": "",  # pages are notebooks/NN-*.html: the launch path is notebooks/NN-*.ipynb
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
        **({"jupyterhub_url": HUB} if HUB else {}),
    },
    "announcement": BANNER,
    "show_toc_level": 2,
}
html_context = {"streamlab_backend": BACKEND}
