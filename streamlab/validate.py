"""Checking a learner's settings before anything touches Redis: whole numbers and numbers in a range.

Each caller keeps its own wording (the CLI talks about ``--count``, ``Producer`` about
``rate``), so the message is a ``str.format`` template the check fills in with
``{what}``, ``{value!r}`` (as given), ``{low}`` and ``{high}`` (and ``number``'s
``outside`` also ``{number!r}``, the value as a float): ``"{what} must be a whole number
from {low} to {high:,}; got {value!r}."``. A failed check raises ``ValueError`` with it.
"""

from __future__ import annotations

import math


def is_whole(value, low: int | None = None, high: int | None = None) -> bool:
    """True for an ``int`` from ``low`` to ``high`` (either may be left open); a bool is not one."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and (low is None or value >= low) and (high is None or value <= high))


def whole(value, message: str, what: str = "", low: int | None = None, high: int | None = None) -> int:
    """``value`` if it is a whole number from ``low`` to ``high``, else ``ValueError(message)``."""
    if not is_whole(value, low, high):
        raise ValueError(message.format(what=what, value=value, low=low, high=high))
    return value


def number(value, message: str, what: str = "", low: float = -math.inf, high: float = math.inf,
           outside: str | None = None) -> float:
    """``float(value)`` if it is a finite number from ``low`` to ``high``.

    ``ValueError(message)`` if it is not a number at all; ``ValueError(outside)`` (default:
    ``message``) if it is, but infinite, NaN or out of the range; ``outside`` may show the
    converted value as ``{number!r}``."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(message.format(what=what, value=value, low=low, high=high)) from None
    if not (math.isfinite(result) and low <= result <= high):
        raise ValueError((outside or message).format(what=what, value=value, number=result,
                                                     low=low, high=high))
    return result
