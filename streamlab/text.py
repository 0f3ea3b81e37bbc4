"""Words for numbers in what the course prints: ``"1 entry"``, ``"3 entries"``.

The engine's messages and the panels' titles say counts the same way; this module
imports nothing, so both layers can use it (``streamlab.ui.style`` re-exports it).
"""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 entry"``, ``"3 entries"``, ``"1,000 entries"``: a count and its noun.

    ``words`` is the plural when adding an "s" would be wrong (``plural(n, "entry", "entries")``).
    """
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
