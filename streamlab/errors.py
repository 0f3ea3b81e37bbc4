"""The errors streamlab raises for learners to read, and the one way they are shown.

A ``LearnerError``'s message is the whole story, what happened and what to do, so
in a notebook IPython shows ``Name: message`` instead of a traceback (IPython calls
``_render_traceback_`` when an exception has one). Errors from Redis and redis-py
are translated by ``streamlab.explain``, which also reads these.
"""

from __future__ import annotations


class LearnerError(RuntimeError):
    """Base of streamlab's own learner-facing errors: the message says what to do."""

    def _render_traceback_(self) -> list[str]:
        return f"{type(self).__name__}: {self}".splitlines()
