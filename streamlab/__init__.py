"""streamlab: the helper package of a Jupyter course on Redis Streams and Pub/Sub.

In a lesson::

    import streamlab as sl
    r = sl.connect()          # a redis-py client; prints which backend it is on
"""

from .backend import BackendError, Client, connect
from .ui.callout import backend_note, note
from . import exercises
from .explain import explain, friendly
from .keys import lesson_prefix, reset

__version__ = "0.1.0"

__all__ = ["BackendError", "Client", "connect", "doctor", "exercises", "explain", "friendly", "lesson_prefix",
           "reset", "__version__", "backend_note", "note"]


def doctor(url: str | None = None) -> None:
    """Print versions, the backend ``connect()`` would pick and why, and the fix for each problem."""
    from .diagnostics import run

    run(url=url)
