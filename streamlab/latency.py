"""How long entries take to reach a blocked reader: a summary table and a plot (lesson 02).

Lesson 02 measures, for each entry, the time from the producer's ``XADD`` (its
``sent_at`` field) to the reader's ``XREAD ... BLOCK`` returning it. These two
functions turn those measurements into something to look at.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from .plots import PictureFigure

_ONE_TWO_FIVE = [m * 10.0 ** e for e in range(-3, 5) for m in (1, 2, 5)]


def summary(latencies_ms: Sequence[float]) -> pd.DataFrame:
    """One row: how many entries, and the median (p50), p95 and largest latency in ms."""
    s = pd.Series(latencies_ms, dtype=float)
    return pd.DataFrame({"entries": [len(s)], "p50 (ms)": [s.quantile(0.5)],
                         "p95 (ms)": [s.quantile(0.95)], "max (ms)": [s.max()]}).round(2)


def strip_plot(sent_at: Sequence[float], latencies_ms: Sequence[float], title: str) -> PictureFigure:
    """One dot per entry: when it was sent (x, seconds from the first) and its latency (y, ms).

    When the slowest entry took over ten times as long as the fastest, the y axis is
    logarithmic: on a linear one the usual case would be a flat line at the bottom.
    """
    if len(sent_at) != len(latencies_ms):
        raise ValueError(f"sent_at and latencies_ms must be the same length; got "
                         f"{len(sent_at)} and {len(latencies_ms)}.")
    fig = PictureFigure(figsize=(7, 3), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if not len(latencies_ms):
        ax.text(0.5, 0.5, "no entries were received", ha="center", va="center",
                transform=ax.transAxes)
    else:
        first = min(sent_at)
        ax.scatter([t - first for t in sent_at], latencies_ms, s=14, color="#1f77b4")
        median = pd.Series(latencies_ms, dtype=float).median()
        ax.axhline(median, color="#d62728", linewidth=1, label=f"median {median:.2f} ms")
        low, high = min(latencies_ms), max(latencies_ms)
        if low > 0 and high / low > 10:
            ax.set_yscale("log")
            # A few plain numbers (0.5, 1, 20) rather than powers of ten: the reader thinks in ms.
            ticks = [t for t in _ONE_TWO_FIVE if low / 1.5 <= t <= high * 1.5]
            ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_ylim(bottom=0)
        ax.legend(loc="best")
    ax.set_xlabel("when the entry was sent (s)")
    ax.set_ylabel("XADD → XREAD (ms)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    return fig
