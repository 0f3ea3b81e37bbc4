"""Lesson 02's figure: how long each entry took from ``XADD`` to a blocked ``XREAD``.

The numbers come from the lesson's own measurements (``streamlab.latency.summary``
gives the table); built with ``style`` (no pyplot).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from .. import style
from ..style import PictureFigure

_ONE_TWO_FIVE = [m * 10.0 ** e for e in range(-3, 5) for m in (1, 2, 5)]


def strip_plot(sent_at: Sequence[float], latencies_ms: Sequence[float], title: str) -> PictureFigure:
    """One dot per entry: when it was sent (x, seconds from the first) and its latency (y, ms).

    The headline states the result (median and slowest latency); ``title`` (how
    many entries, where it ran) goes under it. When the slowest entry took
    over ten times as long as the fastest, the y axis is logarithmic: on a linear
    one the usual case would be a flat line at the bottom.
    """
    if len(sent_at) != len(latencies_ms):
        raise ValueError(f"sent_at and latencies_ms must be the same length; got "
                         f"{len(sent_at)} and {len(latencies_ms)}.")
    fig = style.figure(9, 3.8)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.16, top=style.headline_space(fig) - 0.03)
    if not len(latencies_ms):
        ax.text(0.5, 0.5, "no entries were received", ha="center", va="center",
                transform=ax.transAxes, fontsize=style.SIZE["label"])
        result = "No entries were received"
    else:
        first = min(sent_at)
        ax.scatter([t - first for t in sent_at], latencies_ms, s=22, color=style.ROLE["received"])
        median = pd.Series(latencies_ms, dtype=float).median()
        ax.axhline(median, color=style.INK, linewidth=1.4, ls="--", label=f"median {median:.2f} ms")
        low, high = min(latencies_ms), max(latencies_ms)
        if low > 0 and high / low > 10:
            ax.set_yscale("log")
            # A few plain numbers (0.5, 1, 20) rather than powers of ten: the reader thinks in ms.
            ticks = [t for t in _ONE_TWO_FIVE if low / 1.5 <= t <= high * 1.5]
            ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_ylim(bottom=0)
        style.legend(ax)
        result = f"XADD → XREAD: median {median:.2f} ms, slowest {high:.2f} ms"
    style.axes_style(ax, "", "XADD → XREAD (ms)", "when the entry was sent (s)")
    style.headline(fig, result, title)
    return fig
