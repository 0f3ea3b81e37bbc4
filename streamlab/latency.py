"""How long entries take to reach a blocked reader: a summary table (lesson 02).

Lesson 02 measures, for each entry, the time from the producer's ``XADD`` (its
``sent_at`` field) to the reader's ``XREAD ... BLOCK`` returning it. ``summary``
turns those measurements into numbers; their picture is
``streamlab.ui.figures.latency.strip_plot``.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd


def summary(latencies_ms: Sequence[float]) -> pd.DataFrame:
    """One row: how many entries, and the median (p50), p95 and largest latency in ms."""
    s = pd.Series(latencies_ms, dtype=float)
    return pd.DataFrame({"entries": [len(s)], "p50 (ms)": [s.quantile(0.5)],
                         "p95 (ms)": [s.quantile(0.95)], "max (ms)": [s.max()]}).round(2)
