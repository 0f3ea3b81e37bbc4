"""``%redis`` and ``%%redis``: Redis commands in a notebook cell, typed and printed as in redis-cli.

::

    %%redis
    XADD lesson01:events MAXLEN 10000 * user_id 1001 action login
    XRANGE lesson01:events - +

A cell runs on a ``streamlab.redis_cli.Session``, which types, refuses and prints as
redis-cli does (quoting, reply formatting, what is refused on shared servers: see that
module). What this module adds is the notebook's side:

- IPython's ``$name`` and ``{expr}`` expansion is switched off: ``$`` belongs to
  Redis (``XREAD ... $``).
- A cell's printout shows once, as HTML with a plain-text fallback (``Printout``):
  ``(error)`` lines and ``hint:`` lines are styled apart from replies, and a reply
  longer than ``FOLD_OVER`` lines shows its first entries and "… N more items"
  (click it to open the rest, or start the cell with ``%%redis --all`` to print
  every line).
- One session per shell: ``sl.connect()`` calls ``register(shell, client)``
  (through ``streamlab.ui.notebook.attach``); calling it again rebinds the magics
  to the newest client.
"""

from __future__ import annotations

import contextlib
import html
import io
import weakref

from IPython.core.magic import no_var_expand
from IPython.display import display

from ..redis_cli import Session
from .style import MUTED, STATUS_COLOURS


# --- what a notebook shows: long replies folded, errors and hints styled apart ---------

#: A reply longer than this many lines is folded (a lesson cell shows at most 25) ...
FOLD_OVER = 24
#: ... to its first top-level items that fit in this many lines.
FOLD_TO = 12
ALL_FLAG = "--all"
_SEE_ALL = f"%%redis {ALL_FLAG} shows every line"

# Errors and hints in the panels' status colours (streamlab.ui.style.STATUS_COLOURS: "error" a dark
# vermillion, "ok" a dark blue), apart from the replies and from each other for colour-blind
# readers too; the "(error)"/"hint:" words stay as redis-cli prints them.
_STYLE = {
    "command": "color:{muted}",
    "reply": "",
    "error": "color:{error};font-weight:bold",
    "hint": "color:{ok};font-style:italic",
    "note": "color:{muted};font-style:italic",
}


def _css(kind: str) -> str:
    return _STYLE[kind].format(muted=MUTED, error=STATUS_COLOURS["error"], ok=STATUS_COLOURS["ok"])


def parse_printout(text: str) -> list[tuple[str, list[str]]]:
    """Split a cell's printout into blocks ``(kind, lines)``.

    kind is "command" (``> XADD ...``), "error" (``(error) ...``), "hint" (``hint: ...``
    and the lines after it up to the next command), "note" (streamlab's own messages:
    refusals, ``(interrupted)``) or "reply".
    """
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("> "):
            kind = "command"
        elif line.startswith("(error) "):
            kind = "error"
        elif line.startswith("hint: "):
            kind = "hint"
        elif line.startswith(("streamlab: ", "(interrupted) ")):
            kind = "note"
        elif blocks and blocks[-1][0] in ("hint", "note"):
            kind = blocks[-1][0]  # a hint or a note may run over several lines
        else:
            kind = "reply"
        if blocks and blocks[-1][0] == kind and kind != "command":
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    return blocks


def fold(lines: list[str]) -> tuple[list[str], list[str]]:
    """``(shown, hidden)``: a long reply cut after whole top-level items.

    A reply of at most ``FOLD_OVER`` lines is shown whole. A longer one keeps its first
    top-level items (``1) ...``, ``2) ...`` with their nested lines) that fit in
    ``FOLD_TO`` lines, so an entry is never cut in half; if the first item alone is
    longer, it is shown whole up to ``FOLD_OVER`` lines, and cut by lines beyond that.
    """
    if len(lines) <= FOLD_OVER:
        return lines, []
    starts = [i for i in _top_level_starts(lines) if i > 0] + [len(lines)]
    cut = max((i for i in starts if i <= FOLD_TO), default=None)
    if cut is None:
        cut = starts[0] if starts[0] <= FOLD_OVER else FOLD_TO
    return lines[:cut], lines[cut:]


def _top_level_starts(lines: list[str]) -> list[int]:
    """Indexes of the lines that start a top-level item (``NN) `` at the smallest indent)."""
    marks = {}
    for i, line in enumerate(lines):
        digits = line.lstrip(" ")
        number = digits.split(")", 1)[0]
        if number.isdigit() and digits[len(number):].startswith(") "):
            marks[i] = len(line) - len(digits) + len(number)  # where ")" sits
    if not marks:
        return []
    top = min(marks.values())
    return [i for i, at in marks.items() if at == top]


def _more_line(hidden: list[str]) -> str:
    items = len(_top_level_starts(hidden))
    what = f"{items} more item{'s' * (items != 1)}, {len(hidden)} lines" if items else \
        f"{len(hidden)} more lines"
    return f"… {what} ({_SEE_ALL})"


class Printout:
    """What a ``%%redis`` cell shows: styled HTML in a notebook, redis-cli's text elsewhere.

    Long replies are folded (``fold``) unless ``show_all``; in HTML the rest of a folded
    reply sits in a closed ``<details>`` the learner can open.
    """

    def __init__(self, text: str, show_all: bool = False):
        self.blocks = parse_printout(text)
        self.show_all = show_all

    def text(self) -> str:
        out = []
        for kind, lines in self.blocks:
            shown, hidden = (lines, []) if self.show_all or kind != "reply" else fold(lines)
            out += shown
            if hidden:
                out.append(_more_line(hidden))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        parts = []
        for kind, lines in self.blocks:
            shown, hidden = (lines, []) if self.show_all or kind != "reply" else fold(lines)
            style = _css(kind)
            body = html.escape("\n".join(shown))
            parts.append(f"<span class='redis-{kind}' style='{style}'>{body}</span>" if style
                         else body)
            if hidden:
                rest = html.escape("\n".join(hidden))
                parts.append(f"<details style='margin:0'><summary style='{_css('note')};"
                             f"cursor:pointer'>{html.escape(_more_line(hidden))}</summary>"
                             f"{rest}</details>")
        # <details> is a block: no newline of our own before or after it
        joined = ""
        for i, part in enumerate(parts):
            if i and not part.startswith("<details") and not parts[i - 1].startswith("<details"):
                joined += "\n"
            joined += part
        # JupyterLab's own <pre> style breaks anywhere ("entri / es"): wrap at spaces first.
        return ("<pre class='streamlab-redis' style='margin:0;font-size:13px;line-height:1.35;"
                f"white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere'>{joined}</pre>")

    def __repr__(self) -> str:
        return self.text()


# --- IPython --------------------------------------------------------------------------

_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register(shell, client) -> Session:
    """Give ``shell`` the ``%redis``/``%%redis`` magics, running on ``client``'s server.

    Called again (each ``sl.connect()`` does), it closes the previous session and
    rebinds the magics to the new client.
    """
    previous = _sessions.pop(shell, None)
    if previous is not None:
        previous.close()
    session = _sessions[shell] = Session(client)

    @no_var_expand
    def redis_magic(line: str, cell: str | None = None) -> None:
        """Redis commands as in redis-cli: ``%redis XLEN key``, or one a line under ``%%redis``."""
        show_all = line.strip().startswith(ALL_FLAG)
        if show_all:
            line = line.strip()[len(ALL_FLAG):]
        show(session, line if cell is None else f"{line}\n{cell}", show_all)

    shell.register_magic_function(redis_magic, magic_kind="line_cell", magic_name="redis")
    return session


def show(session: Session, text: str, show_all: bool = False) -> None:
    """Run ``text`` on ``session`` and show its printout once, as a ``Printout``.

    The printout is collected first, so a cell shows one block (styled, long replies
    folded); it is shown even if a command raised (a streamlab bug), before the error.
    """
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            session.run(text)
    finally:
        if buffer.getvalue():
            display(Printout(buffer.getvalue(), show_all))
