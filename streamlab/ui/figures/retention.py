"""Lesson 05's figures: a lesson cell calls one function.

The figures shared by several lessons (dashboard, ordering, ...) live in ``figures.pool``;
these are the pictures of lesson 05, kept here so the lesson's cell reads as one call and
the code can be tested and reused. The numbers behind them come from the engine
(``streamlab.retention``: ``trim_timing``, ``sample_memory``, ...).

- ``trim_timing_figure(timing)`` (``retention.trim_timing(r)``'s ``TrimTiming``): the capped
  ``XADD``s as two bars, the headline stating how many times faster ``~`` was.
- ``memory_figure(memory, r)``: ``MEMORY USAGE`` against stream length and per entry;
  on fakeredis (no ``MEMORY`` command) nodes against length and the bytes per entry
  measured on a real server, labelled.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

from ... import retention
from .. import style
from ..style import PictureFigure

# Two ways of trimming, neither of them an outcome: exact in the dark grey, ``~`` in blue, no
# hatch (orange and hatching mean dead letters and lost work in every lesson; the bars are
# labelled by name). Memory is one series (blue).
APPROX_COLOUR, EXACT_COLOUR = style.OKABE_ITO["blue"], style.DARK_GREY
#: Lesson 05's two streams over time: capped inline (blue, solid) and trimmed by a job
#: (XLEN's dark grey, dotted: not dashed, which is the producer's and the cap's line).
SCHEDULED_LINE = {"color": style.ROLE["xlen"], "ls": ":", "lw": 2.4}
FONT = {"title": style.SIZE["title"], "label": style.SIZE["label"], "tick": style.SIZE["tick"]}

_THOUSANDS = FuncFormatter(lambda x, _: f"{x:,.0f}")


def _headlined(width: float, height: float, result: str, details: str, left: float = 0.08,
               bottom: float = 0.22):
    """A one-axes figure under ``style.headline``: the result in bold, the source under it."""
    fig = style.figure(width, height)
    ax = fig.add_subplot()
    style.headline(fig, result, details)
    fig.subplots_adjust(left=left, right=0.97, bottom=bottom,
                        top=style.headline_space(fig, bool(details)) - 0.04)
    return fig, ax


def trim_timing_figure(timing: retention.TrimTiming) -> PictureFigure:
    """Two bars: seconds for the capped XADDs, exact and ``~``; the title states the result."""
    s = timing.speedup
    result = f"~ {s:.1f}× faster than exact" if s >= 1 else f"~ {1 / s:.1f}× slower than exact"
    fig, ax = _headlined(8, 3.0, f"{timing.adds:,} XADDs capped at 1,000: {result}", timing.source,
                         bottom=0.2)
    seconds = timing.table["capped_s"]
    bars = ax.barh(["exact", "~"], [seconds["exact"], seconds["~"]],
                   color=[EXACT_COLOUR, APPROX_COLOUR], edgecolor="white")
    for bar, value in zip(bars, (seconds["exact"], seconds["~"])):
        ax.annotate(f"{value:.3f} s", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=FONT["tick"])
    ax.set_xlim(0, seconds.max() * 1.25)
    ax.invert_yaxis()
    style.axes_style(ax, "", "", "seconds (lower is faster)")
    return fig


def memory_figure(memory: pd.DataFrame, r) -> PictureFigure:
    """``MEMORY USAGE`` by stream length (left) and per entry (right, log-log, each value written).

    Without ``MEMORY USAGE`` (fakeredis): nodes by length (left) and the bytes per entry of
    several entry shapes measured on a real server (``retention.MEASURED_BYTES_PER_ENTRY``).
    """
    from ..callout import server_label

    fig = style.figure(11, 4.0)
    left, right = fig.subplots(1, 2)
    left.xaxis.set_major_formatter(_THOUSANDS)
    if memory["bytes"].notna().any():
        per = memory["bytes_per_entry"]
        style.headline(fig, f"About {per.iloc[-1]:.0f} bytes per entry in a long stream; "
                       f"{per.iloc[0]:,.0f} in a stream of {memory['length'].iloc[0]:,}",
                       f"MEMORY USAGE key SAMPLES 0, measured now on {server_label(r)}")
        left.plot(memory["length"], memory["bytes"] / 1024, "o-", color=APPROX_COLOUR)
        style.axes_style(left, f"{memory['bytes'].iloc[-1] / 1024:,.0f} KiB for "
                         f"{memory['length'].iloc[-1]:,} entries", "MEMORY USAGE (KiB)", "entries")
        right.loglog(memory["length"], per, "o-", color=APPROX_COLOUR)
        for x, y in zip(memory["length"], per):  # each value written: a log axis needs no guessing
            right.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(0, 7),
                           ha="center", fontsize=FONT["tick"])
        right.set_yticks([t for t in (20, 50, 100, 200, 500, 1000, 2000)
                          if per.min() / 2 <= t <= per.max() * 2])
        right.set_ylim(per.min() / 1.5, per.max() * 2.5)
        right.yaxis.set_major_formatter(ScalarFormatter())
        right.yaxis.set_minor_formatter(NullFormatter())
        right.xaxis.set_major_formatter(_THOUSANDS)  # 1,000 rather than 10³: a reader counts entries
        right.xaxis.set_minor_formatter(NullFormatter())
        style.axes_style(right, "per entry: high for tiny streams, then flat",
                         "bytes per entry (log)", "entries (log)")
    else:
        shapes = list(retention.MEASURED_BYTES_PER_ENTRY.items())
        style.headline(fig, f"One node per {memory['length'].iloc[-1] // max(memory['nodes'].iloc[-1], 1):,} "
                       f"entries here; about {shapes[0][1]:.1f} bytes per sensor reading on Redis",
                       "fakeredis has no MEMORY USAGE: nodes counted here, bytes measured on Redis 7.0.15")
        left.plot(memory["length"], memory["nodes"], "o-", color=APPROX_COLOUR)
        style.axes_style(left, f"{memory['nodes'].iloc[-1]} nodes for {memory['length'].iloc[-1]:,} "
                         "entries", "nodes (radix-tree-keys)", "entries")
        right.barh([name.split(" {")[0] for name, _ in shapes], [value for _, value in shapes],
                   color=APPROX_COLOUR)
        right.invert_yaxis()
        style.axes_style(right, "bytes per entry, measured on Redis 7.0.15", "", "bytes per entry")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=style.headline_space(fig) - 0.08,
                        wspace=0.45)
    return fig


def inline_vs_scheduled_figure(compare: pd.DataFrame, cap: int) -> PictureFigure:
    """XLEN over time of a stream capped in every XADD and one trimmed by a job (lesson 05).

    ``compare`` is ``retention.compare_inline_and_scheduled``'s frame (t, inline, scheduled);
    the title states both peaks.
    """
    fig, ax = _headlined(9, 3.6, f"Inline cap: {compare['inline'].max():,} at most; "
                         f"scheduled trim: up to {compare['scheduled'].max():,}",
                         f"cap {cap:,}, the same writes to both streams")
    ax.axhline(cap, color=style.ROLE["limit"], **style.ROLE_LINE["limit"])
    ax.annotate(f"cap {cap:,}", (compare["t"].iloc[-1], cap), xytext=(0, -14),
                textcoords="offset points", ha="right", fontsize=FONT["tick"], color=style.ROLE["limit"])
    ax.plot(compare["t"], compare["inline"], linewidth=2.5, color=APPROX_COLOUR,
            label="XADD ... MAXLEN ~ 1000 (inline)")
    ax.plot(compare["t"], compare["scheduled"], **SCHEDULED_LINE,
            label="XADD, then XTRIM MAXLEN ~ 1000 every second")
    ax.set_ylim(0, max(compare["scheduled"].max(), compare["inline"].max()) * 1.3)
    style.axes_style(ax, "", "XLEN", "seconds")
    style.legend(ax, loc="upper left")
    return fig

