"""Matplotlib figures of a stream, its consumer group and its consumers, from the frames of ``observe``.

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot), so
figures can be drawn on a background thread and never pile up in pyplot's list
of open figures. ``to_png(fig)`` turns one into bytes for an image widget; the figures
returned here display themselves as PNG in a notebook.

- ``PoolFigure``: the dashboard (group lag, stream length, pending per
  consumer as one small strip per consumer, throughput per consumer, and,
  unless left out, the ordering plot). It keeps its
  lines and only moves their data on ``update()``, which is what lets the
  live dashboard redraw several times a second.
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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
GROUP_COLOUR = "#333333"
PENDING_COLOUR = "#d62728"
LAG_SOURCE_TEXT = {"server": "from XINFO GROUPS lag", "counters": "entries-added − entries-read",
                   "xrange": "counted with XRANGE", "none": "no group yet"}
#: Live mode changes axis limits (which means drawing the whole figure, text and all,
#: several times the cost of a normal frame) at most this often, in seconds.
FULL_DRAW_EVERY = 2.0
#: Completions the ordering panel shows (the newest); reordering is local, so a
#: short window shows it and a long one only draws a thick diagonal.
ORDERING_WINDOW = 150


class PictureFigure(Figure):
    """A Figure that IPython shows as a PNG on its own (no pyplot, no inline backend needed)."""

    def _repr_png_(self) -> bytes:
        return to_png(self)


def consumer_colour(name: str) -> str:
    """The colour of consumer ``name``: from the number at its end (c1, c2, ...), else from its letters."""
    m = re.search(r"(\d+)$", str(name))
    index = int(m.group(1)) - 1 if m else sum(map(ord, str(name)))
    return PALETTE[index % len(PALETTE)]


#: Line styles by consumer number: c1 solid and widest at the bottom, c2 dashed and
#: narrower above it, ...: where lines coincide, each still shows (a band with dashes on it).
_DASHES = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)), (0, (3, 3))]


def consumer_style(name: str) -> dict:
    """Line keywords for consumer ``name``: its colour, a dash pattern and a width that tell
    it apart when several consumers draw the same line; narrower lines are drawn on top."""
    m = re.search(r"(\d+)$", str(name))
    index = int(m.group(1)) - 1 if m else sum(map(ord, str(name)))
    return {"color": consumer_colour(name), "ls": _DASHES[index % len(_DASHES)],
            "lw": max(1.0, 3.4 - 0.6 * (index % len(_DASHES))), "zorder": 3 + index / (1 + index)}


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (fast zlib level: these images live for a fraction of a second)."""
    buf = io.BytesIO()
    fig.canvas.print_png(buf, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _style(ax, title: str, ylabel: str, xlabel: str = "seconds") -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


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

    With ``live=True`` (the dashboard) the x axis is "seconds ago" over a fixed
    ``window`` and the y limits only move when the data outgrows them (or
    shrinks well below them), so axes, ticks and labels are drawn once and
    each frame only repaints the lines and points over a saved background
    (blitting): text is what costs most to draw. Numbers that change every
    frame belong in the panel's counters, not in the figure's titles.
    """

    def __init__(self, width: float = 12, height: float = 5.4, dpi: int = 72, window: float = 30,
                 live: bool = True, title: str = "", ordering: bool = True):
        self.window = window
        self.live = live
        self.ordering = ordering
        if not ordering:
            width = width * 0.7  # two columns instead of three
        self.fig = PictureFigure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.fig)
        if ordering:
            grid = self.fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.05], left=0.06, right=0.985,
                                         bottom=0.1, top=0.84, wspace=0.45, hspace=0.62)
        else:
            grid = self.fig.add_gridspec(2, 2, left=0.085, right=0.92,
                                         bottom=0.1, top=0.84, wspace=0.45, hspace=0.62)
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
        _style(self.ax_len, "Stream length (left) and group pending (right)", "entries (XLEN)", "")
        _style(self.ax_rate, "Throughput", "acked / s, per consumer", self._xlabel)
        if ordering:
            _style(self.ax_order, "Ordering", "position in the stream (ID order)", "completion order")
        (self.lag_line,) = self.ax_lag.plot([], [], color=GROUP_COLOUR, lw=1.8)
        self.lag_source = self.ax_lag.text(1.0, 1.03, "", transform=self.ax_lag.transAxes,
                                           ha="right", va="bottom", fontsize=7, color="#666666")
        (self.len_line,) = self.ax_len.plot([], [], color="#17becf", lw=1.8, label="XLEN")
        # Pending is a few entries per consumer while XLEN runs into thousands: on one
        # axis it would lie flat on zero. It gets its own scale, on the right, in its colour.
        self.ax_pel.tick_params(labelsize=8, colors=PENDING_COLOUR)
        self.ax_pel.set_ylabel("pending (group)", fontsize=9, color=PENDING_COLOUR)
        self.ax_pel.spines["top"].set_visible(False)
        self.ax_pel.spines["right"].set_color(PENDING_COLOUR)
        self.ax_pel.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        (self.pel_line,) = self.ax_pel.plot([], [], color=PENDING_COLOUR, lw=1.4, ls="--",
                                            drawstyle="steps-post", label="pending (group)")
        self.ax_len.legend(handles=[self.len_line, self.pel_line], fontsize=8, loc="upper left",
                           frameon=True, framealpha=0.85, edgecolor="none")
        self.pending_lines: dict[str, Line2D] = {}
        self.rate_lines: dict[str, Line2D] = {}
        # Without the ordering panel, these live on a hidden axes and are never drawn.
        order_ax = self.ax_order if ordering else self.fig.add_axes((0, 0, 0, 0), visible=False)
        self.scatter = order_ax.scatter([], [], s=16, lw=0.7)
        (self.diagonal,) = order_ax.plot([], [], color="#999999", lw=0.8, ls=":", zorder=0)
        self.fig.suptitle(title, fontsize=11, x=0.06, ha="left")
        self._order_names: list[str] = []
        self._consumer_legend = None
        self._layout_key = None
        self.full_draws = 0  # how often the whole figure had to be drawn (limits or legend changed)
        self._last_full_draw = float("-inf")
        self._background = None
        if live:
            if ordering:
                self.ax_order.set_title(f"Ordering of the last {ORDERING_WINDOW} completions\n"
                                        "(black outline: out of order)", fontsize=10, loc="left")
                self._set_ordering_limits(ORDERING_WINDOW)
            self.ax_lag.set_xlim(-window, 0)
            for artist in self._dynamic():
                artist.set_animated(True)

    # --- updating ------------------------------------------------------------
    def update(self, stream: pd.DataFrame, consumers: pd.DataFrame,
               ordering: pd.DataFrame | None = None) -> Figure:
        t_end = float(stream["t"].iloc[-1]) if not stream.empty else 0.0
        shift = t_end if self.live else 0.0
        if not self.live and not stream.empty:
            self.ax_lag.set_xlim(float(stream["t"].iloc[0]), max(t_end, float(stream["t"].iloc[0]) + 1))
        self._update_stream(stream, shift)
        self._update_consumers(consumers, shift)
        if self.ordering:
            self._update_ordering(ordering if ordering is not None else pd.DataFrame())
        return self.fig

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
        return (tuple(ax.get_ylim() for ax in self.fig.axes), self.lag_source.get_text(),
                tuple(self.pending_lines), tuple(self._order_names))

    def _set_ylim(self, ax, values, floor: float = 1.0) -> None:
        """Live: keep the limit unless the data outgrows it or falls below a quarter of it,
        and change limits at most every ``FULL_DRAW_EVERY`` seconds."""
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        peak = max([floor, *finite])
        bottom, top = ax.get_ylim()
        if not self.live:
            ax.set_ylim(0, peak * 1.12)
        elif time.monotonic() - self._last_full_draw < FULL_DRAW_EVERY:
            return  # rescaled a moment ago: lines may touch the top for a moment, frames stay cheap
        elif peak > top or peak < top / 4 or bottom != 0:
            ax.set_ylim(0, _nice(peak * 1.5))

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
        rows = self._pending_cell.subgridspec(max(len(names), 1), 1, hspace=0.12)
        axes = []
        for i in range(max(len(names), 1)):
            ax = self.fig.add_subplot(rows[i, 0], sharex=self.ax_lag,
                                      sharey=axes[0] if axes else None)
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=7)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=2, integer=True))
            if i < max(len(names), 1) - 1:
                ax.tick_params(labelbottom=False)
            if i < len(names):
                ax.set_ylabel(names[i], fontsize=8, color=consumer_colour(names[i]),
                              rotation=0, ha="right", va="center")
            axes.append(ax)
        axes[0].set_title("Pending per consumer (entries, one shared scale)", fontsize=10, loc="left")
        axes[-1].set_xlabel(self._xlabel, fontsize=9)
        self.ax_pending = axes[0]
        self.pending_axes = dict(zip(names, axes))
        if ylim is not None:
            self.ax_pending.set_ylim(*ylim)

    def _rebuild_consumer_lines(self, names: list[str]) -> None:
        for line in self.rate_lines.values():
            line.remove()
        self._make_pending_axes(names)  # removes the old strips and their lines
        # Each strip holds one consumer, so a plain solid line in its colour is clearest.
        self.pending_lines = {n: self.pending_axes[n].plot([], [], color=consumer_colour(n), lw=1.5,
                                                           zorder=consumer_style(n)["zorder"],
                                                           drawstyle="steps-post", label=n,
                                                           animated=self.live)[0] for n in names}
        self.rate_lines = {n: self.ax_rate.plot([], [], **consumer_style(n), label=n,
                                                animated=self.live)[0] for n in names}
        # The throughput panel's legend sits just above it, on the right of its title:
        # inside, it would hide lines; the pending strips are labelled on their left.
        if self._consumer_legend is not None:
            self._consumer_legend.remove()
            self._consumer_legend = None
        if names:
            handles = [Line2D([], [], label=n, **consumer_style(n)) for n in names]
            self._consumer_legend = self.ax_rate.legend(
                handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=min(len(names), 4),
                fontsize=7, frameon=False, handlelength=1.5, columnspacing=0.8, borderaxespad=0.2)

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
            self.ax_order.set_title(f"Ordering: {late} of the last {len(df)} completions\n"
                                    "out of order (black outline)", fontsize=10, loc="left")
        names = sorted(df["consumer"].unique(), key=_natural)
        if names != self._order_names:
            self._order_names = names
            handles = [Line2D([], [], ls="", marker="o", ms=5, color=consumer_colour(n), label=n)
                       for n in names]
            self.ax_order.legend(handles=handles, fontsize=8, loc="upper left", frameon=False)


def _nice(value: float) -> float:
    """The next "round" number at or above ``value``: 1, 2, 5, 10, 20, 50, ..."""
    if value <= 1:
        return 1.0
    exponent = 10 ** np.floor(np.log10(value))
    for step in (1, 2, 5, 10):
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

    ``show_ordering=False`` leaves the ordering panel out (two columns instead of three).
    """
    return PoolFigure(dpi=90, live=False, title=title,
                      ordering=show_ordering).update(stream, consumers, ordering)


def ordering_figure(ordering: pd.DataFrame, limit: int = ORDERING_WINDOW, title: str | None = None) -> Figure:
    """Stream position (ID order) against completion order, one colour per consumer.

    One consumer in order draws the diagonal. A point is circled when its
    entry completed after an entry with a larger ID (an out-of-order
    completion, counted over the pool's whole run in ``ordering_frame``).
    Shows the newest ``limit`` completions.
    """
    fig = PictureFigure(figsize=(6.4, 5), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    df = ordering_window(ordering, limit)
    _style(ax, "", "position in the stream (ID order)", "completion order")
    if df.empty:
        ax.text(0.5, 0.5, "no completions yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    top = len(df) - 1
    ax.plot([0, top], [0, top], color="#999999", lw=0.8, ls=":", zorder=0, label="in order")
    for name in sorted(df["consumer"].unique(), key=_natural):
        rows = df[df["consumer"] == name]
        ax.scatter(rows["completion"], rows["position"], s=18, color=consumer_colour(name), label=name, lw=0)
    late = df[df["out_of_order"]]
    if not late.empty:
        ax.scatter(late["completion"], late["position"], s=46, facecolors="none", edgecolors="black",
                   lw=0.7, label="out of order")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    ax.set_title(title or f"{len(late)} of {len(df)} completions out of order", fontsize=11, loc="left")
    return fig
