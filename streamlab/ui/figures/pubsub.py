"""Lesson 06's figures: what a Pub/Sub subscriber and a stream consumer received, and what
became of a slow subscriber's messages.

Drawn from ``streamlab.pubsub``'s results (``Result``, ``BufferLimitDemo``), which
never import this module; built with ``style`` (no pyplot), so a figure displays
itself in a notebook. ``received_lines`` is also the live ``PubSubPanel``'s chart.
"""

from __future__ import annotations

from ...pubsub import BufferLimitDemo, Result
from ..style import (
    DPI,
    HATCH,
    INK,
    ROLE,
    SIZE,
    PictureFigure,
    axes_style,
    figure,
    headline,
    headline_space,
    legend,
)


def result_figure(result: Result) -> PictureFigure:
    """Two panels: received/missed bars per side, and cumulative counts over time.
    The headline says how many each side missed; the run's size goes under it."""
    fig = figure(10.2, 4.2)
    bars, lines = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6], "wspace": 0.3})
    fig.subplots_adjust(left=0.08, right=0.76, bottom=0.16, top=headline_space(fig) - 0.07)
    t = result.table()
    labels = ["Pub/Sub\nsubscriber", "stream\nconsumer group"]
    bars.bar(labels, t["received"], color=ROLE["received"], label="received")
    bars.bar(labels, t["missed"], bottom=t["received"], color=ROLE["missed"], hatch=HATCH["missed"],
             edgecolor="white", label="missed")
    for i, (got, lost) in enumerate(zip(t["received"], t["missed"])):
        bars.text(i, got / 2, str(got), ha="center", va="center", color="white", weight="bold",
                  fontsize=SIZE["annotation"] + 1)
        if lost:
            bars.text(i, got + lost / 2, str(lost), ha="center", va="center", color=INK,
                      weight="bold", fontsize=SIZE["annotation"] + 1,
                      bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none"))
    axes_style(bars, "Received and missed", "events")
    bars.grid(False, axis="x")
    received_lines(lines, result)
    legend(lines, outside="right")
    headline(fig, result.headline(), result.details())
    return fig


def received_lines(ax, result: Result, title: str = "Received over time") -> None:
    """On ``ax``: events published and received by each side so far, against time, with the
    time both readers were offline shaded (used by ``result_figure`` and the live panel)."""
    # Where the readers agree their lines coincide: the subscriber's is drawn wide and pale
    # underneath, the stream's narrow on top, so both stay visible.
    for label, times, look in (("published", result.published_at, dict(color=ROLE["published"], ls="--", lw=1.3)),
                               ("Pub/Sub subscriber", result.subscriber_at,
                                dict(color=ROLE["subscriber"], lw=6, alpha=0.55)),
                               ("stream consumer", result.stream_at,
                                dict(color=ROLE["received"], lw=2))):
        if times:
            xs = sorted(times)
            ax.step(xs, range(1, len(xs) + 1), where="post", label=label, **look)
    if result.offline_at:
        ax.axvspan(*result.offline_at, color=ROLE["not finished"], alpha=0.5, lw=0,
                   label="readers offline")
    axes_style(ax, title, "events so far", "seconds")
    ax.set_ylim(bottom=0)


def buffer_limit_figure(demo: BufferLimitDemo) -> PictureFigure | None:
    """One bar: what became of every published message (read, dropped, to nobody), its
    headline in words; ``None`` when nothing was published (``demo.note`` says why)."""
    if not demo.published:
        return None
    parts = demo.parts()
    looks = [{"color": ROLE["received"]}, {"color": ROLE["lost"], "hatch": HATCH["lost"]},
             {"color": ROLE["not finished"]}]
    fig = figure(10.2, 2.6)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.3, top=headline_space(fig) - 0.12)
    left = 0
    for (label, n), look in zip(parts.items(), looks):
        ax.barh([0], [n], left=left, height=0.6, edgecolor="white", label=f"{label}: {n:,}", **look)
        left += n
    ax.set_xlim(0, demo.published)
    ax.set_yticks([])
    axes_style(ax, "", "", "")  # the legend names the parts, the ticks count messages
    ax.grid(False, axis="y")
    legend(ax, outside="below", ncol=3, fontsize=SIZE["legend"])
    read, dropped = parts["read by the subscriber"], parts["dropped with its connection"]
    result = (f"The slow subscriber read {read:,} of {demo.published:,}; "
              + (f"{dropped:,} dropped with its connection" if demo.disconnected
                 else "it was never disconnected"))
    headline(fig, result, f"{demo.where}, limit {demo.limit!r}")
    return fig


def live_figure(result: Result, publishing: bool, width_px: int) -> PictureFigure:
    """The live panel's chart, ``width_px`` wide on the page: published and received so far,
    offline time shaded; once publishing stopped, its title counts what each side missed."""
    fig = figure(width_px / DPI, 2.9)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.1, right=0.66, bottom=0.2, top=0.86)
    # While it publishes, the newest event may still be on its way: count misses once stopped.
    title = ("Received so far" if publishing else
             f"{len(result.subscriber_missed):,} missed by the subscriber, "
             f"{len(result.stream_missed):,} by the stream")
    received_lines(ax, result, title)
    legend(ax, outside="right")
    return fig
