"""Matplotlib figures of a stream, its consumer group and its consumers, from the frames of ``observe``.

Every function builds its figure with ``style.figure`` (a ``Figure`` without
pyplot), so figures can be drawn on a background thread and never pile up in
pyplot's list of open figures; colours, sizes and titles come from ``style``
(docs/VISUAL.md). ``to_png(fig)`` turns one into bytes for an image widget; the
figures returned here display themselves as PNG in a notebook.

- ``PoolFigure``: the dashboard (group lag, stream length and group pending,
  pending per consumer as one small strip per consumer, throughput per
  consumer, and, unless left out, the ordering plot). It keeps its lines and
  only moves their data on ``update()``, which is what lets the live dashboard
  redraw several times a second.
- ``ordering_figure``: the ordering plot alone, larger, with out-of-order
  completions circled.

One colour per consumer everywhere: ``c1`` is always blue, ``c2`` orange, ...
and, in the throughput plot where their lines share one axes, one dash pattern
and width per consumer too (``consumer_style``): consumers doing the same work
draw the same line, and without it the last one drawn would hide the others.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pandas as pd
import PIL.Image
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .. import style
from ..style import SIZE, consumer_colour, consumer_style, to_png

GROUP_COLOUR = style.ROLE["group"]
PENDING_COLOUR = style.ROLE["pending"]
STREAM_COLOUR = style.ROLE["stream"]
LAG_SOURCE_TEXT = {"server": "from XINFO GROUPS lag", "counters": "entries-added − entries-read",
                   "xrange": "counted with XRANGE", "none": "no group yet"}
#: Live mode changes axis limits (which means drawing the whole figure, text and all,
#: several times the cost of a normal frame) at most this often, in seconds.
FULL_DRAW_EVERY = 2.0
#: Completions the ordering panel shows (the newest); reordering is local, so a
#: short window shows it and a long one only draws a thick diagonal.
ORDERING_WINDOW = 150
#: The live dashboard's width on the page in CSS pixels; its picture is drawn at twice
#: that (``LIVE_SCALE``), so it stays sharp on a projector and on a high-density screen.
LIVE_DISPLAY_PX = 980
LIVE_SCALE = 2
#: A static dashboard's height in inches (100 px each on the page): it fits a 720-px screen.
STATIC_HEIGHT = 5.0
#: The x axis of the live plots grows through these spans (seconds) until it reaches the
#: window: six seconds of data fill most of the axis instead of a fifth of it.
LIVE_SPANS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)


def _style(ax, title: str, ylabel: str, xlabel: str = "seconds") -> None:
    style.axes_style(ax, title, ylabel, xlabel)


def ordering_window(ordering: pd.DataFrame, limit: int = ORDERING_WINDOW) -> pd.DataFrame:
    """The newest ``limit`` completions, renumbered from 0 on both axes (completion and position)."""
    df = ordering.tail(limit).copy()
    if df.empty:
        return df
    df["completion"] = df["completion"] - df["completion"].min()
    df["position"] = df["position"].rank(method="first").astype(int) - 1
    return df


class PoolFigure:
    """The consumer-pool dashboard as one figure whose artists are updated in place.

    ``update(stream_frame, consumer_frame, ordering_frame)`` takes the frames
    of ``Sampler.stream_frame()``, ``Sampler.consumer_frame()`` and
    ``ConsumerPool.ordering_frame()``; ``png()`` renders it.

    With ``live=True`` (the dashboard) the x axis is "seconds ago", as long as
    the data so far (stepping through ``LIVE_SPANS`` up to ``window``), and the
    y limits only move when the data outgrows them (or shrinks well below
    them), so axes, ticks and labels are drawn once per change and each frame
    only repaints the lines and points over a saved background (blitting):
    text is what costs most to draw. Numbers that change every frame belong in
    the panel's counters, not in the figure's titles. The live picture is drawn
    at ``LIVE_SCALE`` times ``LIVE_DISPLAY_PX`` wide (``display_px``).
    """

    def __init__(self, width: float = 10.2, height: float = 6.6, dpi: int | None = None, window: float = 30,
                 live: bool = True, title: str = "", ordering: bool = True):
        self.window = window
        self.live = live
        self.ordering = ordering
        if not ordering:
            width = width * 0.8  # two columns instead of three
        #: Width on the page in CSS pixels; the picture has LIVE_SCALE times as many.
        self.display_px = round(LIVE_DISPLAY_PX * (1 if ordering else 0.8))
        if dpi is None:
            dpi = round(self.display_px * LIVE_SCALE / width) if live else style.DPI
        self.fig = style.figure(width, height, dpi=dpi)
        # A static figure has a headline (and the title under it); a live one only the title.
        top = (style.headline_space(self.fig, details=bool(title)) - 0.06 if not live
               else 1 - 2 * SIZE["subtitle"] / 72 / height - 0.06)
        if ordering:
            grid = self.fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.05], left=0.075, right=0.985,
                                         bottom=0.15, top=top, wspace=0.5, hspace=0.55)
        else:
            grid = self.fig.add_gridspec(2, 2, left=0.1, right=0.9,
                                         bottom=0.15, top=top, wspace=0.55, hspace=0.55)
        self.ax_lag = self.fig.add_subplot(grid[0, 0])
        self.ax_len = self.fig.add_subplot(grid[0, 1], sharex=self.ax_lag)
        self.ax_pel = self.ax_len.twinx()  # the group's pending, on a scale of its own
        # Pending per consumer: one strip per consumer, on one shared scale (small
        # multiples), made in _rebuild_consumer_lines. Lines drawn over one another in
        # one panel hide each other, and "one consumer's count only grows" must show.
        self._pending_cell = grid[1, 0]
        self._xlabel = "seconds ago" if live else "seconds"
        self.pending_axes: dict[str, object] = {}
        self.ax_pending = None
        self._make_pending_axes([])
        self.ax_rate = self.fig.add_subplot(grid[1, 1], sharex=self.ax_lag)
        self.ax_order = self.fig.add_subplot(grid[:, 2]) if ordering else None
        _style(self.ax_lag, "Group lag", "entries", "")
        _style(self.ax_len, "XLEN and pending", "XLEN (entries)", "")
        _style(self.ax_rate, "Throughput", "acked / s", self._xlabel)
        if ordering:
            _style(self.ax_order, "Ordering", "position in the stream", "completion order")
        (self.lag_line,) = self.ax_lag.plot([], [], color=GROUP_COLOUR, lw=2)
        # Where the lag comes from is the lag plot's x label: matplotlib keeps a label clear of
        # the tick labels, where a free text under them crowded the numbers.
        self.lag_source = self.ax_lag.xaxis.label
        self.lag_source.set_color(style.MUTED)
        (self.len_line,) = self.ax_len.plot([], [], color=STREAM_COLOUR, lw=2.4, label="XLEN")
        # Each scale is labelled in its line's colour: no legend to sit on the lines.
        self.ax_len.set_ylabel("XLEN (entries)", color=STREAM_COLOUR, fontsize=SIZE["label"])
        # Pending is a few entries per consumer while XLEN runs into thousands: on one
        # axis it would lie flat on zero. It gets its own scale, on the right, in its colour.
        self.ax_pel.tick_params(labelsize=SIZE["tick"], colors=PENDING_COLOUR)
        self.ax_pel.set_ylabel("pending (group)", fontsize=SIZE["label"], color=PENDING_COLOUR)
        self.ax_pel.spines["top"].set_visible(False)
        self.ax_pel.spines["right"].set_color(PENDING_COLOUR)
        self.ax_pel.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        (self.pel_line,) = self.ax_pel.plot([], [], color=PENDING_COLOUR, lw=1.3,
                                            drawstyle="steps-post", label="pending")
        self.pending_lines: dict[str, Line2D] = {}
        self.rate_lines: dict[str, Line2D] = {}
        # Without the ordering panel, these live on a hidden axes and are never drawn.
        order_ax = self.ax_order if ordering else self.fig.add_axes((0, 0, 0, 0), visible=False)
        self.scatter = order_ax.scatter([], [], s=22, lw=1.1)
        (self.diagonal,) = order_ax.plot([], [], color=style.DARK_GREY, lw=0.9, ls=":", zorder=0)
        self.title = title
        if live and title:
            self.fig.text(0.01, 0.995, title, fontsize=SIZE["subtitle"], color=style.MUTED,
                          ha="left", va="top")
        self._order_names: list[str] = []
        self._consumer_legend = None
        self._layout_key = None
        self.full_draws = 0  # how often the whole figure had to be drawn (limits or legend changed)
        self._last_full_draw = float("-inf")
        self._background = None
        if live:
            if ordering:
                self.ax_order.set_title(f"Last {ORDERING_WINDOW} completions\n"
                                        "circled: out of order", fontsize=SIZE["title"], loc="left")
                self._set_ordering_limits(ORDERING_WINDOW)
            self.ax_lag.set_xlim(-LIVE_SPANS[0], 0)
            self.ax_lag.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            for artist in self._dynamic():
                artist.set_animated(True)

    # --- updating ------------------------------------------------------------
    def update(self, stream: pd.DataFrame, consumers: pd.DataFrame,
               ordering: pd.DataFrame | None = None) -> Figure:
        t_end = float(stream["t"].iloc[-1]) if not stream.empty else 0.0
        shift = t_end if self.live else 0.0
        if not stream.empty:
            t_first = float(stream["t"].iloc[0])
            if self.live:
                self._set_live_span(t_end - t_first)
            else:
                self.ax_lag.set_xlim(t_first, max(t_end, t_first + 1))
        self._update_stream(stream, shift)
        self._update_consumers(consumers, shift)
        if self.ordering:
            self._update_ordering(ordering if ordering is not None else pd.DataFrame())
        if not self.live:
            self._headline(stream, consumers, ordering)
        return self.fig

    def _set_live_span(self, seconds: float) -> None:
        """The x axis covers the data so far, rounded up to the next of ``LIVE_SPANS``, at most the window."""
        span = next((s for s in LIVE_SPANS if s >= seconds), LIVE_SPANS[-1])
        span = min(span, self.window) if self.window >= LIVE_SPANS[0] else self.window
        if self.ax_lag.get_xlim() != (-span, 0):
            self.ax_lag.set_xlim(-span, 0)

    def _headline(self, stream: pd.DataFrame, consumers: pd.DataFrame, ordering) -> None:
        """A static figure's title: what the run did, in numbers; the parameters under it."""
        for text in [t for t in self.fig.texts if t.get_gid() in ("headline", "subtitle")]:
            text.remove()
        if consumers.empty:
            result = "No consumer has read anything yet"
        else:
            last = consumers.sort_values("t").groupby("consumer").tail(1)
            done = int(last["processed"].sum())
            names = sorted(last["consumer"], key=_natural)
            result = f"{done:,} processed by {style.plural(len(names), 'consumer')}"
            if not stream.empty and stream["lag"].notna().any():
                lag = stream["lag"].astype(float)
                result += (f"; lag peaked at {int(lag.max()):,}, ended at {int(lag.iloc[-1]):,}"
                           if np.isfinite(lag.iloc[-1]) else "")
        style.headline(self.fig, result, self.title)

    def png(self) -> bytes:
        """The current picture as PNG (see ``picture``)."""
        return to_png(self.fig) if not self.live else self.picture("PNG")

    def picture(self, fmt: str = "JPEG") -> bytes:
        """The current picture as image bytes; only the changing artists are redrawn (live mode).

        The dashboard uses JPEG: encoding it takes a fifth of the time of a PNG.
        """
        canvas = self.fig.canvas
        key = self._current_layout_key()
        if self._background is None or key != self._layout_key:
            self.full_draws += 1
            self._last_full_draw = time.monotonic()
            canvas.draw()  # axes, ticks, labels, legends: everything not animated
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._layout_key = key
        else:
            canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for artist in self._dynamic():
            artist.draw(renderer)
        image = PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw",
                                     "RGBA", 0, 1)
        buf = io.BytesIO()
        if fmt.upper() == "PNG":
            image.save(buf, format="PNG", compress_level=1)
        else:
            image.convert("RGB").save(buf, format=fmt, quality=85)
        return buf.getvalue()

    def _dynamic(self) -> list:
        # Drawn in zorder, as a full draw would: c1 (widest) first, narrower lines over it.
        per_consumer = sorted([*self.pending_lines.values(), *self.rate_lines.values()],
                              key=lambda line: line.get_zorder())
        return [self.lag_line, self.len_line, self.pel_line, *per_consumer,
                *([self.scatter] if self.ordering else [])]

    def _current_layout_key(self) -> tuple:
        # Anything drawn into the saved background: when one changes, draw it all again.
        return (tuple(ax.get_ylim() for ax in self.fig.axes), self.ax_lag.get_xlim(),
                self.lag_source.get_text(), tuple(self.pending_lines), tuple(self._order_names))

    def _set_ylim(self, ax, values, floor: float = 1.0) -> None:
        """Live: keep the limit unless the data outgrows it or falls below a third of it,
        and change limits at most every ``FULL_DRAW_EVERY`` seconds."""
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        peak = max([floor, *finite])
        bottom, top = ax.get_ylim()
        if not self.live:
            ax.set_ylim(0, peak * 1.12)
        elif time.monotonic() - self._last_full_draw < FULL_DRAW_EVERY:
            return  # rescaled a moment ago: lines may touch the top for a moment, frames stay cheap
        elif peak > top or peak < top / 3 or bottom != 0:
            ax.set_ylim(0, _nice(peak * 1.2))

    def _set_ordering_limits(self, n: int) -> None:
        self.ax_order.set_xlim(-2, n + 1)
        self.ax_order.set_ylim(-2, n + 1)

    def _update_stream(self, stream: pd.DataFrame, shift: float) -> None:
        if stream.empty:
            return
        t = stream["t"] - shift
        lag = stream["lag"].astype(float)
        self.lag_line.set_data(t, lag)
        self._set_ylim(self.ax_lag, lag)
        self.lag_source.set_text(LAG_SOURCE_TEXT.get(stream["lag_source"].iloc[-1], ""))
        self.len_line.set_data(t, stream["xlen"])
        self.pel_line.set_data(t, stream["pending"])
        self._set_ylim(self.ax_len, stream["xlen"])
        self._set_ylim(self.ax_pel, stream["pending"].astype(float))

    def _update_consumers(self, consumers: pd.DataFrame, shift: float) -> None:
        names = sorted(consumers["consumer"].unique(), key=_natural) if not consumers.empty else []
        if names != list(self.pending_lines):
            self._rebuild_consumer_lines(names)
        if not names:
            return
        groups = dict(tuple(consumers.groupby("consumer", sort=False)))
        for name in names:
            rows = groups[name]
            self.pending_lines[name].set_data(rows["t"] - shift, rows["pending"])
            self.rate_lines[name].set_data(rows["t"] - shift, rows["throughput"])
        # The strips share one y axis, so setting it on the first sets it on all.
        self._set_ylim(self.ax_pending, consumers["pending"])
        self._set_ylim(self.ax_rate, consumers["throughput"], floor=5)

    def _make_pending_axes(self, names: list[str]) -> None:
        """One strip per consumer in the pending cell (a single empty one when there are none)."""
        ylim = self.ax_pending.get_ylim() if self.ax_pending is not None else None
        for ax in {id(a): a for a in [self.ax_pending, *self.pending_axes.values()] if a is not None}.values():
            ax.remove()
        rows = self._pending_cell.subgridspec(max(len(names), 1), 1, hspace=0.3)
        axes = []
        for i in range(max(len(names), 1)):
            ax = self.fig.add_subplot(rows[i, 0], sharex=self.ax_lag,
                                      sharey=axes[0] if axes else None)
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=SIZE["tick"])
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=2, integer=True))
            # Each strip writes only its top number (the strips share one scale): stacked
            # strips put one strip's 0 right against the top number of the strip below.
            ax.yaxis.set_major_formatter(_NO_ZERO)
            if i < max(len(names), 1) - 1:
                ax.tick_params(labelbottom=False)
            if i < len(names):
                ax.set_ylabel(names[i], fontsize=SIZE["label"], color=consumer_colour(names[i]),
                              rotation=0, ha="right", va="center", weight="bold")
            axes.append(ax)
        axes[0].set_title("Pending per consumer", fontsize=SIZE["title"], loc="left")
        axes[-1].set_xlabel(self._xlabel, fontsize=SIZE["label"])
        self.ax_pending = axes[0]
        self.pending_axes = dict(zip(names, axes))
        if ylim is not None:
            self.ax_pending.set_ylim(*ylim)

    def _rebuild_consumer_lines(self, names: list[str]) -> None:
        for line in self.rate_lines.values():
            line.remove()
        self._make_pending_axes(names)  # removes the old strips and their lines
        # Each strip holds one consumer, so a plain solid line in its colour is clearest.
        self.pending_lines = {n: self.pending_axes[n].plot([], [], color=consumer_colour(n), lw=2,
                                                           zorder=consumer_style(n)["zorder"],
                                                           drawstyle="steps-post", label=n,
                                                           animated=self.live)[0] for n in names}
        self.rate_lines = {n: self.ax_rate.plot([], [], **consumer_style(n), label=n,
                                                animated=self.live)[0] for n in names}
        if self._consumer_legend is not None:
            self._consumer_legend.remove()
            self._consumer_legend = None
        if names:
            # One legend for the figure, under the plots: every plot colours consumers
            # the same way, and a legend inside a plot would sit on its lines.
            handles = [Line2D([], [], label=n, **consumer_style(n)) for n in names]
            self._consumer_legend = self.fig.legend(
                handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(names), 8),
                fontsize=SIZE["legend"], frameon=False, handlelength=1.8, columnspacing=1.0)

    def _update_ordering(self, ordering: pd.DataFrame) -> None:
        df = ordering_window(ordering) if not ordering.empty else ordering
        if df.empty:
            self.scatter.set_offsets(np.empty((0, 2)))
            return
        self.scatter.set_offsets(np.column_stack([df["completion"], df["position"]]))
        self.scatter.set_facecolors([to_rgba(consumer_colour(c)) for c in df["consumer"]])
        self.scatter.set_edgecolors([(0, 0, 0, 1) if late else (0, 0, 0, 0) for late in df["out_of_order"]])
        top = len(df) - 1
        self.diagonal.set_data([0, max(top, ORDERING_WINDOW - 1)], [0, max(top, ORDERING_WINDOW - 1)])
        if not self.live:
            self._set_ordering_limits(max(top, 10))
            late = int(df["out_of_order"].sum())
            self.ax_order.set_title(f"{late} of the last {len(df)}\ncompletions out of order",
                                    fontsize=SIZE["title"], loc="left")
        names = sorted(df["consumer"].unique(), key=_natural)
        if names != self._order_names:
            self._order_names = names
            handles = [Line2D([], [], ls="", marker="o", ms=7, color=consumer_colour(n), label=n)
                       for n in names]
            handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec=style.INK,
                                  label="out of order"))
            # Upper left: the points run along the diagonal, so that corner stays empty.
            self.ax_order.legend(handles=handles, fontsize=SIZE["legend"], loc="upper left",
                                 frameon=False, handletextpad=0.2, borderaxespad=0.2)


_NO_ZERO = FuncFormatter(lambda value, _: "" if value == 0 else f"{value:g}")


def _nice(value: float) -> float:
    """The next "round" number at or above ``value``: 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, ...
    (steps close enough that the data fills most of the axis)."""
    if value <= 1:
        return 1.0
    exponent = 10 ** np.floor(np.log10(value))
    for step in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if value <= step * exponent:
            return float(step * exponent)
    return float(10 * exponent)


def _natural(name: str):
    """Sort key putting c2 before c10."""
    m = re.search(r"(\d+)$", str(name))
    return (str(name)[: m.start()] if m else str(name), int(m.group(1)) if m else -1)


def dashboard_figure(stream: pd.DataFrame, consumers: pd.DataFrame,
                     ordering: pd.DataFrame | None = None, title: str = "",
                     show_ordering: bool = True) -> Figure:
    """The dashboard as a static figure (for an executed notebook): see ``PoolFigure``.

    Its headline says what the run did (entries processed, by how many consumers,
    the lag's peak and end); ``title`` (the parameters) goes under it.
    ``show_ordering=False`` leaves the ordering panel out (two columns instead of three).
    """
    # 5 in tall: headline and x axis on one 720-px screen at its display width.
    return PoolFigure(height=STATIC_HEIGHT, live=False, title=title,
                      ordering=show_ordering).update(stream, consumers, ordering)


def ordering_figure(ordering: pd.DataFrame, limit: int = ORDERING_WINDOW, title: str | None = None) -> Figure:
    """Stream position (ID order) against completion order, one colour per consumer.

    One consumer in order draws the diagonal. A point is circled when its
    entry completed after an entry with a larger ID (an out-of-order
    completion, counted over the pool's whole run in ``ordering_frame``).
    Shows the newest ``limit`` completions. The title counts the circles;
    ``title``, if given, goes under it.
    """
    fig = style.figure(9, 4.2)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.1, right=0.8, bottom=0.15, top=style.headline_space(fig, bool(title)) - 0.04)
    df = ordering_window(ordering, limit)
    _style(ax, "", "position in the stream\n(ID order)", "completion order")
    if df.empty:
        ax.text(0.5, 0.5, "no completions yet", ha="center", va="center", transform=ax.transAxes,
                fontsize=SIZE["label"])
        style.headline(fig, "No completions yet", title or "")
        return fig
    top = len(df) - 1
    ax.plot([0, top], [0, top], color=style.DARK_GREY, lw=0.9, ls=":", zorder=0, label="in order")
    for name in sorted(df["consumer"].unique(), key=_natural):
        rows = df[df["consumer"] == name]
        ax.scatter(rows["completion"], rows["position"], s=26, color=consumer_colour(name), label=name, lw=0)
    late = df[df["out_of_order"]]
    if not late.empty:
        ax.scatter(late["completion"], late["position"], s=64, facecolors="none", edgecolors=style.INK,
                   lw=1.0, label="out of order")
    # Beside the plot: wide and short, so the headline and the x axis fit one 720-px screen.
    style.legend(ax, outside="right", markerscale=1.3, handletextpad=0.2)
    style.headline(fig, f"{len(late)} of {len(df)} completions out of order", title or "")
    return fig
