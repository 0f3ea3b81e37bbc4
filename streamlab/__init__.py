"""streamlab: the helper package of a Jupyter course on Redis Streams and Pub/Sub.

In a lesson::

    import streamlab as sl
    r = sl.connect()          # a redis-py client; prints which backend it is on

This module is the package's face, above the engine and the screens: importing it
loads no UI library; ``connect()`` reaches ``streamlab.ui`` only inside a notebook,
exercises' outcomes use IPython's display only there (``exercises.show``), and
``note``/``backend_note`` (callouts) load ``streamlab.ui.callout`` on first use.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from . import backend as _backend
from . import exercises
from .backend import BackendError, Client
from .explain import explain, friendly
from .keys import lesson_prefix, reset

if TYPE_CHECKING:
    from .cluster import ClusterClient

__version__ = "0.1.0"

__all__ = ["BackendError", "Client", "connect", "doctor", "exercises", "explain", "friendly", "lesson_prefix",
           "reset", "__version__", "backend_note", "note"]


def connect(url: str | None = None, *, backend: str | None = None, quiet: bool = False,
            cluster: bool = False, learner: str | None = None) -> Client | ClusterClient:
    """Connect to the course's Redis, print a one-line banner, and in a notebook load the
    ``%redis``/``%%redis`` magics on the new client (``streamlab.ui.notebook.attach``).

    ``url``, ``backend``, ``quiet`` and ``learner`` are ``streamlab.backend.connect``'s: the
    backend ladder, and ``learner="ana"`` keeping every key under ``ws:ana:``.
    ``cluster=True`` (lesson 09) gives a Redis Cluster client instead: a cluster URL, a
    ``REDIS_URL`` that is a cluster node, or a private cluster; where there is none
    (fakeredis), the fakeredis client (``streamlab.cluster.connect``).
    """
    if cluster:
        from .cluster import connect as connect_cluster

        return connect_cluster(url, backend=backend, quiet=quiet)
    client = _backend.connect(url, backend=backend, quiet=quiet, learner=learner)
    if _in_ipython():
        from .ui.notebook import attach

        attach(client)
    return client


def _in_ipython() -> bool:
    # Read from sys.modules rather than imported: a kernel has IPython loaded already, and a
    # script that never loaded it is not in a notebook (and should not pay for the import).
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _show_outcome(outcome) -> None:
    """How exercises show an outcome (``exercises.show``): IPython's display in a notebook,
    which renders its HTML; its text form, printed, anywhere else."""
    if _in_ipython():
        from IPython.display import display

        display(outcome)
    else:
        print(outcome)


exercises.show = _show_outcome


def doctor(url: str | None = None) -> None:
    """Print versions, the backend ``connect()`` would pick and why, and the fix for each problem."""
    from .diagnostics import run

    run(url=url)


def __getattr__(name: str):
    # sl.note and sl.backend_note are callouts, a screen: loaded when first asked for (PEP 562).
    if name in ("note", "backend_note"):
        from .ui import callout

        return getattr(callout, name)
    raise AttributeError(f"module 'streamlab' has no attribute {name!r}")
