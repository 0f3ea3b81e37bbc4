"""Callouts: a short note rendered as a styled box in a notebook, as plain text elsewhere.

A lesson says how the backends differ with one callout instead of an
``if r.backend.is_fake:`` branch the learner has to read::

    sl.backend_note(r, fake="fakeredis keeps idle times running on a re-read.",
                    real="{server} resets idle times to 0 on a re-read.")

The box looks like a MyST admonition (a coloured bar, a bold title, the text);
where HTML is not rendered (a terminal, ``print``), the same words come out as
``[title] text``. Nothing here talks to Redis: ``backend_note`` only reads
``r.backend`` (which backend ``connect()`` chose and its ``INFO server`` version).
"""

from __future__ import annotations

import html
import textwrap

from ..palette import BACKGROUNDS, STATUS_COLOURS, TEXT

# One look per kind of note: a bar in the panels' status colours (streamlab.palette.STATUS_COLOURS,
# never a red/green pair) on a pale background; the title's words carry the meaning anyway.
KINDS = {
    "note": (STATUS_COLOURS["ok"], BACKGROUNDS["ok"]),
    "server": (STATUS_COLOURS["ok"], BACKGROUNDS["ok"]),
    "caution": (STATUS_COLOURS["error"], BACKGROUNDS["error"]),
}


class Callout:
    """A titled note: HTML in a notebook (``_repr_html_``), ``[title] text`` as plain text."""

    def __init__(self, text: str, title: str = "Note", kind: str = "note"):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
        self.text = " ".join(text.split())  # source line breaks are not the reader's
        self.title = title
        self.kind = kind

    def _repr_html_(self) -> str:
        bar, background = KINDS[self.kind]
        return (f"<div class='streamlab-callout streamlab-callout-{self.kind}' "
                f"style='border-left:4px solid {bar};background:{background};"
                f"padding:6px 12px;margin:4px 0;font-size:14px;line-height:1.45;color:{TEXT}'>"
                f"<b>{html.escape(self.title)}</b><br>{html.escape(self.text)}</div>")

    def __repr__(self) -> str:
        return textwrap.fill(f"[{self.title}] {self.text}", width=100)

    __str__ = __repr__


def note(text: str, title: str = "Note", kind: str = "note") -> Callout:
    """A callout with ``text`` under ``title`` (``kind``: "note", "server" or "caution")."""
    return Callout(text, title, kind)


def server_label(r) -> str:
    """``fakeredis 2.x`` or ``Redis 7.4.1``: the backend's server name and version."""
    name = {"redis": "Redis", "valkey": "Valkey"}.get(r.backend.server_name, r.backend.server_name)
    return f"{name} {r.backend.version_text}"


def backend_note(r, *, fake: str, real: str | None = None, title: str | None = None) -> Callout | None:
    """One callout saying what this backend does: ``fake`` on fakeredis, ``real`` elsewhere.

    ``{server}`` in either text becomes the server's name and version (``server_label``).
    With ``real=None`` the note is for fakeredis only, and on a real server nothing is
    shown (the function returns None, which a notebook does not display).
    """
    text = fake if r.backend.is_fake else real
    if text is None:
        return None
    label = server_label(r)
    return Callout(text.replace("{server}", label), title or f"On {label}", "server")
