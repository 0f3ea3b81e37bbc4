"""The workshop's progress streams: one ``workshop:progress:<learner>`` stream per learner.

Both sides of the board use these names: ``streamlab.exercises`` appends a learner's
checks (``append_check``), ``streamlab.workshop`` makes the streams, grants each
learner ``XADD`` on its own, reads them for the board and deletes them.
"""

from __future__ import annotations

PROGRESS_PREFIX = "workshop:progress:"
#: Kept per learner: far more checks than a day's workshop makes.
PROGRESS_MAXLEN = 10_000


def progress_key(learner: str) -> str:
    """The progress stream of ``learner``: ``workshop:progress:<learner>``."""
    return PROGRESS_PREFIX + learner


def append_check(r, learner: str, lesson: int, exercise: int, outcome: str) -> bool:
    """Append one exercise check to ``learner``'s progress stream; True if it was written.

    ``XADD workshop:progress:<learner> NOMKSTREAM MAXLEN ~ 10000 * event check learner L
    lesson N exercise M outcome O`` on ``r``, a client without the learner's namespace (the
    stream is outside it). ``NOMKSTREAM``: where ``streamlab workshop setup`` made no
    stream, nothing is written.
    """
    return r.xadd(progress_key(learner),
                  {"event": "check", "learner": learner, "lesson": lesson,
                   "exercise": exercise, "outcome": outcome},
                  nomkstream=True, maxlen=PROGRESS_MAXLEN, approximate=True) is not None
