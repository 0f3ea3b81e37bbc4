"""The course's one look: colours by role, sizes for a projector, titles that state the result.

Every figure and panel in ``streamlab`` takes its colours, font sizes and title
layout from here, so a colour means the same thing in every lesson (docs/VISUAL.md
has the table and the rules).

- ``ROLE`` maps what a line or bar *is* (acked work, pending work, lost work,
  the stream's length, a group's lag, the producer, the reaper, ...) to one
  colour of the Okabe–Ito palette, which stays distinguishable with the common
  colour-vision deficiencies. ``HATCH`` adds a pattern where colour alone would
  carry the meaning (bars of lost or dead-lettered entries).
- ``consumer_colour(name)``: c1 is blue, c2 orange, c3 bluish green, ... in
  every lesson; ``consumer_style(name)`` adds a dash pattern and width for plots
  where several consumers share one axes.
- ``figure(width, height)``: a ``matplotlib.figure.Figure`` built without pyplot
  (safe on a background thread, never left in pyplot's list of open figures)
  that displays itself as a PNG in a notebook.
- ``axes_style(ax, title, ylabel, xlabel)`` and ``headline(fig, result, details)``:
  projector sizes (ticks 11 pt, labels 12 pt, titles 13 pt and more) and a title
  that says what the figure found, with the parameters in a smaller line under it.
- ``simulate(colour, kind)`` and ``delta_e(a, b)``: Machado et al. (2009)
  colour-vision simulation and the CIEDE2000 colour difference, so tests can check
  that the role colours stay apart for someone with deuteranopia or protanopia.
"""

from __future__ import annotations

import html
import io
import itertools
import re

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from ..palette import MUTED, STATUS_COLOURS
from ..text import plural  # noqa: F401 - re-exported: panels and figures say style.plural

# --- the palette -------------------------------------------------------------------

#: Okabe & Ito (2008), "Color Universal Design": eight colours that stay apart for
#: viewers with protanopia, deuteranopia or tritanopia (yellow is left out: too pale
#: for a line on white).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
#: Two greys beside them: a dark one for the stream itself and a pale one for
#: "nothing happened here" (entries not finished, readers offline).
DARK_GREY = "#5F5F5F"
PALE_GREY = "#CCCCCC"
#: Text, marks and outlines drawn on a figure that are no role (labels on bars, "out of order"
#: circles, reference lines): plain black, the palette's first colour.
INK = OKABE_ITO["black"]

#: One colour per role, the same in every lesson. Roles that name the same idea
#: ("acked", "processed", "received", "kept") share one colour on purpose.
ROLE = {
    # what happened to an entry
    "acked": OKABE_ITO["blue"],             # processed and acknowledged; received; kept
    "pending": OKABE_ITO["reddish purple"], # delivered, not acknowledged yet (the PEL)
    "lost": OKABE_ITO["vermillion"],        # acknowledged or published, then gone; past a limit
    "dead letter": OKABE_ITO["orange"],     # moved to the dead-letter stream
    "not finished": PALE_GREY,              # still waiting; a reader offline
    # who or what
    "group": OKABE_ITO["black"],            # a consumer group's lag; totals
    "stream": DARK_GREY,                    # XLEN: the entries in the stream
    "producer": OKABE_ITO["black"],         # what was sent / published (drawn dashed)
    "reaper": OKABE_ITO["sky blue"],        # XAUTOCLAIM / XCLAIM taking work over
    "alerts": OKABE_ITO["vermillion"],      # lesson 07's alerts: readings past the threshold
    "subscriber": OKABE_ITO["orange"],      # lesson 06's Pub/Sub subscriber
    "limit": DARK_GREY,                     # a threshold or cap (drawn dashed)
}
ROLE.update({"processed": ROLE["acked"], "received": ROLE["acked"], "kept": ROLE["acked"],
             "missed": ROLE["lost"], "missing": ROLE["lost"], "lag": ROLE["group"],
             "xlen": ROLE["stream"], "published": ROLE["producer"], "sent": ROLE["producer"]})

#: Patterns for bars whose meaning must not rest on colour alone.
HATCH = {"lost": "///", "missed": "///", "dead letter": "..", "not finished": ""}

#: Line styles that go with a role wherever it is drawn as a line.
ROLE_LINE = {"producer": {"ls": "--", "lw": 1.4}, "limit": {"ls": "--", "lw": 1.2},
             "pending": {"ls": "-", "lw": 2.0, "drawstyle": "steps-post"}}

#: Consumers c1, c2, ... in this order; from c6 on the colours repeat with another dash.
CONSUMER_COLOURS = [OKABE_ITO[c] for c in ("blue", "orange", "bluish green", "reddish purple",
                                           "sky blue")]
_DASHES = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)), (0, (3, 3))]

# STATUS_COLOURS (panels' status lines and verdicts) and MUTED (secondary text) are imported
# from streamlab.palette: the engine renders some HTML of its own with them.
RULE = "#d0d7de"  # thin rules: under a table's header, around a panel's static picture
#: The instructor's progress board (``ui.figures.board``): a cell with nothing yet, its outline,
#: the lines between lessons, and a dark shade of the pending colour that hatching reads on.
EMPTY = "#EEEEEE"
EMPTY_EDGE = "#999999"
DIVIDER = "#555555"
PENDING_SHADE = "#6b3a58"


def role(name: str) -> str:
    """The colour of role ``name`` (see ``ROLE``); a ``KeyError`` names the roles there are."""
    try:
        return ROLE[name]
    except KeyError:
        raise KeyError(f"no role {name!r}; roles: {', '.join(sorted(ROLE))}") from None


def _index(name: str) -> int:
    m = re.search(r"(\d+)$", str(name))
    return int(m.group(1)) - 1 if m else sum(map(ord, str(name)))


def consumer_colour(name: str) -> str:
    """The colour of consumer ``name``: from the number at its end (c1, w1, p0 -> ...).

    A consumer called ``reaper`` is drawn in the reaper's colour wherever it appears.
    """
    if str(name) in ("reaper",):
        return ROLE["reaper"]
    return CONSUMER_COLOURS[_index(name) % len(CONSUMER_COLOURS)]


def consumer_style(name: str) -> dict:
    """Line keywords for consumer ``name``: its colour, a dash pattern and a width that tell
    it apart when several consumers draw the same line; narrower lines are drawn on top."""
    index = _index(name)
    return {"color": consumer_colour(name), "ls": _DASHES[index % len(_DASHES)],
            "lw": max(1.2, 3.6 - 0.6 * (index % len(_DASHES))), "zorder": 3 + index / (1 + index)}


# --- sizes for a projector ---------------------------------------------------------------

#: Font sizes in points. At 1280×720 a figure shown 1000 px wide is read from the back
#: row only with ticks of 11 pt and titles of 13 pt or more.
SIZE = {"tick": 11, "label": 12, "legend": 11, "title": 13, "headline": 15, "subtitle": 11,
        "annotation": 11}
#: Resolution figures are drawn at: ``figure()`` sizes are in inches at this many dots.
DPI = 100


#: Static figures are drawn at this many times their size on the page (``PictureFigure``):
#: sharp on a projector and on a high-density screen.
SHARPNESS = 2


class PictureFigure(Figure):
    """A Figure that IPython shows as a PNG on its own (no pyplot, no inline backend needed).

    The PNG has ``SHARPNESS`` times the figure's pixels and says its display width
    (the figure's size at its own dpi), so the page shows it at that size, sharp.
    """

    def _repr_png_(self):
        width = round(self.get_figwidth() * self.dpi)
        return to_png(self, scale=SHARPNESS), {"width": width}


def figure(width: float, height: float, dpi: int = DPI, **kwargs) -> PictureFigure:
    """A new ``PictureFigure`` with an Agg canvas: the one way the course builds a figure."""
    fig = PictureFigure(figsize=(width, height), dpi=dpi, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure, scale: float = 1) -> bytes:
    """The figure as PNG bytes, ``scale`` times its pixels (fast zlib level: live images
    live for a fraction of a second)."""
    buf = io.BytesIO()
    if scale == 1:
        fig.canvas.print_png(buf, pil_kwargs={"compress_level": 1})
    else:
        fig.savefig(buf, format="png", dpi=fig.dpi * scale, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def axes_style(ax, title: str = "", ylabel: str = "", xlabel: str = "") -> None:
    """Projector sizes, a light grid and no top/right frame on ``ax``; its title on the left."""
    if title:
        ax.set_title(title, fontsize=SIZE["title"], loc="left")
    ax.set_ylabel(ylabel, fontsize=SIZE["label"])
    ax.set_xlabel(xlabel, fontsize=SIZE["label"])
    ax.tick_params(labelsize=SIZE["tick"])
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def legend(ax, *args, outside: str | None = None, **kwargs):
    """A legend at projector size, without a frame. ``outside="right"`` or ``"below"`` puts it
    beside the plot, off the data; otherwise matplotlib picks the emptiest corner."""
    kwargs.setdefault("fontsize", SIZE["legend"])
    kwargs.setdefault("frameon", False)
    if outside == "right":
        kwargs.update(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    elif outside == "below":
        kwargs.update(loc="upper center", bbox_to_anchor=(0.5, -0.24), borderaxespad=0)
    else:
        kwargs.setdefault("loc", "best")
    return ax.legend(*args, **kwargs)


def headline(fig: Figure, result: str, details: str = "", x: float = 0.01) -> None:
    """The figure's title: ``result`` (what it shows, in words and numbers) large, and the
    parameters it was run with (``details``) in a smaller grey line under it."""
    fig.text(x, 0.995, result, fontsize=SIZE["headline"], weight="bold", ha="left", va="top",
             gid="headline")
    if details:
        fig.text(x, 0.995 - _line_height(fig, SIZE["headline"]), details, fontsize=SIZE["subtitle"],
                 color=MUTED, ha="left", va="top", gid="subtitle")


def headline_space(fig: Figure, details: bool = True) -> float:
    """The fraction of ``fig``'s height a ``headline`` takes (for ``subplots_adjust(top=...)``)."""
    lines = _line_height(fig, SIZE["headline"]) + (_line_height(fig, SIZE["subtitle"]) if details else 0)
    return 1 - lines - 0.015


def headline_text(fig: Figure) -> tuple[str, str]:
    """(result, details) of ``fig``'s headline, ("", "") if it has none (tests use this)."""
    found = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid() in ("headline", "subtitle")}
    return found.get("headline", ""), found.get("subtitle", "")


def _line_height(fig: Figure, points: float) -> float:
    return points * 1.45 / 72 / fig.get_figheight()


# --- HTML for panels ----------------------------------------------------------------------

#: Tables in panels: no borders, monospace numbers, a thin rule under the header only.
TABLE_CSS = "font-family:monospace;font-size:95%;border-collapse:collapse;border:none"
CELL_CSS = "padding:1px 10px 1px 0;border:none;text-align:left"
HEAD_CSS = CELL_CSS + f";border-bottom:1px solid {RULE};font-weight:bold"


def status_html(text: str, level: str = "info") -> str:
    """A panel's status line: a coloured dot and the text, the same in every panel."""
    colour = STATUS_COLOURS.get(level, STATUS_COLOURS["info"])
    return (f"<span style='color:{colour};font-weight:bold'>●</span> "
            f"<span style='color:{colour}'>{html.escape(text)}</span>")


def counters_html(pairs) -> str:
    """Counters as ``name value · name value``, the same in every panel."""
    return " &nbsp;·&nbsp; ".join(f"<b>{html.escape(str(k))}</b> {html.escape(str(v))}" for k, v in pairs)


def table_html(rows: list[dict], columns: list[str] | None = None, styles: dict | None = None,
               nowrap: tuple = ()) -> str:
    """``rows`` (dicts) as a borderless HTML table, values escaped; ``styles`` maps a row's
    index to extra CSS for that row (a verdict line, for instance); the columns named in
    ``nowrap`` never break inside a cell ("0.023 s" stays on one line in a narrow box)."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
    css = {c: CELL_CSS + (";white-space:nowrap" if c in nowrap else "") for c in columns}
    head = "".join(f"<th style='{HEAD_CSS}'>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        (f"<tr style='{styles[i]}'>" if styles and i in styles else "<tr>")
        + "".join(f"<td style='{css[c]}'>{html.escape(str(row.get(c, '')))}</td>" for c in columns)
        + "</tr>"
        for i, row in enumerate(rows))
    return f"<table style='{TABLE_CSS}'><tr>{head}</tr>{body}</table>"


# --- colour vision ----------------------------------------------------------------------------

#: Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for Simulation of
#: Color Vision Deficiency", IEEE TVCG 15(6): the matrices for severity 1.0, applied to
#: linear-light sRGB.
MACHADO_2009 = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def _linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.abs(linear) ** (1 / 2.4) - 0.055)


def simulate(colour, kind: str = "deuteranopia") -> tuple[float, float, float]:
    """``colour`` (any matplotlib colour) as seen with ``kind`` (a key of ``MACHADO_2009``,
    or ``"normal"``), as sRGB floats in 0..1."""
    rgb = np.array(to_rgb(colour))
    if kind == "normal":
        return tuple(float(v) for v in rgb)
    if kind not in MACHADO_2009:
        raise ValueError(f"kind must be 'normal' or one of {sorted(MACHADO_2009)}, got {kind!r}.")
    seen = np.clip(MACHADO_2009[kind] @ _linear(rgb), 0, 1)
    return tuple(float(v) for v in _encode(seen))


def _lab(colour) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour."""
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                    [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ _linear(np.array(to_rgb(colour)))
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b) -> float:
    """The CIEDE2000 difference between colours ``a`` and ``b`` (Sharma, Wu & Dalal 2005).

    About 1 is a just-noticeable difference side by side; lines and bars in a
    legend need 10 or more to be told apart at a glance.
    """
    (L1, a1, b1), (L2, a2, b2) = _lab(a), _lab(b)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    dh = 0.0 if c1p * c2p == 0 else h2p - h1p
    if dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    d_l, d_c = L2 - L1, c2p - c1p
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (L1 + L2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + (360 if h1p + h2p < 360 else -360)) / 2
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    r_c = 2 * np.sqrt(cp_mean ** 7 / (cp_mean ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * r_c
    return float(np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2
                         + r_t * (d_c / s_c) * (d_h / s_h)))


def closest_pairs(colours: dict[str, str], kind: str = "deuteranopia") -> list[tuple[float, str, str]]:
    """Every pair of ``colours`` (name -> colour) with its CIEDE2000 difference as seen with
    ``kind``, closest first."""
    seen = {name: simulate(c, kind) for name, c in colours.items()}
    return sorted((delta_e(seen[a], seen[b]), a, b) for a, b in itertools.combinations(seen, 2))


def distinct_role_colours() -> dict[str, str]:
    """Each distinct colour the figures use, named by its roles (for the colour-vision check)."""
    named: dict[str, list[str]] = {}
    for name, colour in ROLE.items():
        named.setdefault(colour.upper(), []).append(name)
    for i, colour in enumerate(CONSUMER_COLOURS, 1):
        named.setdefault(colour.upper(), []).append(f"c{i}")
    return {" / ".join(names): colour for colour, names in named.items()}
