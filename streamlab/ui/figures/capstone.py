"""Lesson 07's figure: the capstone dashboard (lag, pending, processed, readings and alerts).

Drawn from the frames ``Capstone.frames()`` returns and its ``events``, without
pyplot (``style.figure``); ``streamlab.ui.CapstonePanel`` shows it live.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..style import (
    INK,
    ROLE,
    SIZE,
    PictureFigure,
    axes_style,
    consumer_colour,
    figure,
    headline,
    headline_space,
    legend,
)


def capstone_headline(frames: dict[str, pd.DataFrame]) -> str:
    """What the run shows so far, from the frames the figure draws."""
    consumers, alerts, workers_frame = frames["consumers"], frames["alerts"], frames["workers"]
    processed = (int(consumers.sort_values("t").groupby("consumer")["processed"].last().sum())
                 if not consumers.empty else 0)
    text = f"{processed:,} readings processed"
    if not alerts.empty:
        last = alerts.iloc[-1]
        text = f"{processed:,} of {int(last['readings']):,} readings processed, {int(last['alerts']):,} alerts"
    if not workers_frame.empty and workers_frame["lag"].notna().any():
        lag = workers_frame["lag"].dropna()
        text += f"; lag {int(lag.iloc[-1]):,} now, {int(lag.max()):,} at most"
    return text


def capstone_figure(frames: dict[str, pd.DataFrame], events: list[tuple[float, str]],
                    group: str = "workers", alert_group: str = "alerts",
                    threshold: float = 25.0) -> PictureFigure:
    """Four panels: lag per group, pending per consumer, processed per consumer, readings and alerts.

    ``frames`` as ``Capstone.frames()`` returns them; ``events`` ((seconds, label))
    are drawn as dotted vertical lines on every panel. Pending is one strip per
    consumer of ``group`` (and one for ``alert_group`` as a whole) on one shared
    scale, so a consumer that holds its entries stands out instead of hiding under
    the others' lines. The headline states the counts so far (``capstone_headline``).
    """
    fig = figure(10.2, 7.2)
    # Fixed margins: a constrained layout would cost more than the drawing itself.
    grid = fig.add_gridspec(2, 2, left=0.075, right=0.985, bottom=0.075,
                            top=headline_space(fig, details=True) - 0.05, wspace=0.32, hspace=0.3)
    ax_lag = fig.add_subplot(grid[0, 0])
    ax_done = fig.add_subplot(grid[1, 0], sharex=ax_lag)
    ax_alerts = fig.add_subplot(grid[1, 1], sharex=ax_lag)
    workers_frame, alerters_frame = frames["workers"], frames["alerters"]
    consumers = frames["consumers"]
    per_consumer = list(consumers.groupby("consumer", sort=False)) if not consumers.empty else []
    strips = [(name, rows["t"], rows["pending"], consumer_colour(name), "-") for name, rows in per_consumer]
    if not alerters_frame.empty:
        strips.append((alert_group, alerters_frame["t"], alerters_frame["pending"], ROLE["alerts"], "--"))
    cells = grid[0, 1].subgridspec(max(len(strips), 1), 1, hspace=0.15)
    pending_axes = []
    for i in range(max(len(strips), 1)):
        ax = fig.add_subplot(cells[i, 0], sharex=ax_lag, sharey=pending_axes[0] if pending_axes else None)
        axes_style(ax)
        ax.tick_params(labelbottom=False)
        if i < len(strips):
            name, t, pending, colour, look = strips[i]
            ax.plot(t, pending, color=colour, lw=2, ls=look, drawstyle="steps-post")
            ax.set_ylabel(name, color=colour, rotation=0, ha="right", va="center", weight="bold",
                          fontsize=SIZE["label"])
        pending_axes.append(ax)
    pending_axes[0].set_title("Pending per consumer (and group)", fontsize=SIZE["title"], loc="left")
    pending_axes[0].yaxis.set_major_locator(MaxNLocator(nbins=2, integer=True))
    top = max([1.0, *(float(np.nanmax(p)) for _, _, p, _, _ in strips if len(p))])
    pending_axes[0].set_ylim(0, top * 1.25)
    axes_style(ax_lag, "Lag per group", "entries")
    axes_style(ax_done, "Processed per consumer", "entries (total)", "seconds since start")
    axes_style(ax_alerts, "Readings and alerts", "entries (total)", "seconds since start")
    ax_lag.tick_params(labelbottom=False)
    if not workers_frame.empty:
        ax_lag.plot(workers_frame["t"], workers_frame["lag"].astype(float), color=ROLE["group"],
                    lw=2, label=group)
    if not alerters_frame.empty:
        ax_lag.plot(alerters_frame["t"], alerters_frame["lag"].astype(float), color=ROLE["alerts"], lw=2,
                    ls="--", label=alert_group)
    for name, rows in per_consumer:
        ax_done.plot(rows["t"], rows["processed"], color=consumer_colour(name), lw=2, label=name)
    alerts = frames["alerts"]
    if not alerts.empty:
        ax_alerts.plot(alerts["t"], alerts["readings"], color=ROLE["stream"], lw=2, label="readings (XLEN)")
        ax_alerts.plot(alerts["t"], alerts["alerts"], color=ROLE["alerts"], lw=2,
                       label=f"alerts: > {threshold:g} °C")
    for ax in (ax_lag, ax_done, ax_alerts):
        lines = ax.get_lines()
        top = max([1.0, *(float(np.nanmax(y)) for y in (ln.get_ydata() for ln in lines)
                          if len(y) and np.isfinite(np.asarray(y, float)).any())])
        ax.set_ylim(0, top * (1.7 if ax is ax_lag else 1.35))  # headroom for the legend and labels
        if lines:
            legend(ax, loc="upper right" if ax is ax_lag else "upper left",
                   ncol=1 if ax is ax_lag else min(len(lines), 4), handlelength=1.4, columnspacing=0.8)
    marks = [(t, label) for t, label in events if label != "start"]
    for k, (t, label) in enumerate(marks):
        for ax in (ax_lag, ax_done, ax_alerts, *pending_axes):
            ax.axvline(t, color=ROLE["limit"], lw=1, ls=":")
        # Stacked downwards, so that labels of events close in time do not overlap.
        ax_lag.annotate(f" {label}", (t, 0.97 - 0.1 * k), xycoords=("data", "axes fraction"),
                        fontsize=SIZE["annotation"], va="top", ha="left", color=INK)
    headline(fig, capstone_headline(frames), f"groups '{group}' and '{alert_group}' · alert above {threshold:g} °C")
    return fig
