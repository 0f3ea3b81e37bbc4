"""Lesson 04's figure: a chaos experiment's pending entries, deliveries and dead letters.

Drawn from ``streamlab.chaos.ChaosExperiment``'s numbers (``timeline()``,
``delivery_histogram()``); the live ``ChaosPanel`` shows the same figure, so an
executed notebook's picture matches the panel. Built with ``style`` (no pyplot).
"""

from __future__ import annotations

from .. import style
from ...chaos import ChaosExperiment
from ..style import INK, ROLE, SIZE, PictureFigure

#: How each order ended, as bars: colour by role, and a pattern for the two dead-letter
#: outcomes, so "healthy order dead-lettered" does not rest on colour alone.
OUTCOME_STYLE = {
    "acked": {"color": ROLE["acked"]},
    "dead-lettered: poison": {"color": ROLE["dead letter"], "hatch": style.HATCH["dead letter"]},
    "dead-lettered: healthy": {"color": ROLE["lost"], "hatch": style.HATCH["lost"]},
    "not finished": {"color": ROLE["not finished"]},
}


def chaos_headline(exp: ChaosExperiment) -> str:
    """What the run shows, from the same numbers as the delivery histogram."""
    hist = exp.delivery_histogram()
    totals = {k: int(hist[k].sum()) if k in hist else 0 for k in OUTCOME_STYLE}
    dead = totals["dead-lettered: poison"] + totals["dead-lettered: healthy"]
    text = f"{totals['acked']:,} of {exp.entries:,} orders acked, {dead:,} dead-lettered"
    if dead:
        text += (f" ({totals['dead-lettered: healthy']:,} of them healthy)"
                 if totals["dead-lettered: healthy"] else " (all poison)")
    if totals["not finished"]:
        text += f", {totals['not finished']:,} not finished"
    return text


def chaos_figure(exp: ChaosExperiment, width: float = 10.2, height: float = 4.8,
                 dpi: int = style.DPI) -> PictureFigure:
    """Three plots: pending entries over time, entries by number of deliveries, dead-letter
    length over time. The headline counts how the orders ended; the settings go under it."""
    fig = style.figure(width, height, dpi=dpi)
    ax_pending, ax_hist, ax_dead = fig.subplots(1, 3, gridspec_kw=dict(wspace=0.6))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.3, top=style.headline_space(fig) - 0.07)
    tl = exp.timeline()

    style.axes_style(ax_pending, "Pending (XPENDING)", "entries", "seconds")
    if not tl.empty:
        ax_pending.plot(tl["t"], tl["pending"], color=ROLE["pending"], lw=2, label="pending")
        ax_crash = ax_pending.twinx()
        ax_crash.step(tl["t"], tl["crashes"], where="post", color=style.DARK_GREY, lw=1.2, ls="--")
        ax_crash.set_ylabel("crashes so far (dashed)", fontsize=SIZE["label"], color=style.DARK_GREY)
        ax_crash.tick_params(labelsize=SIZE["tick"], colors=style.DARK_GREY)
        ax_crash.spines["top"].set_visible(False)
        ax_crash.set_ylim(bottom=0)
    ax_pending.set_ylim(bottom=0)
    end = max(float(tl["t"].max()) if not tl.empty else 0.0, 0.1)
    ax_pending.set_xlim(0, end * 1.03)
    _mark_reaper_switches(exp, ax_pending, labels=True)

    style.axes_style(ax_hist, "Orders by deliveries", "orders", "deliveries")
    hist = exp.delivery_histogram()
    if not hist.empty:
        tops = _outcome_bars(ax_hist, hist)
        ax_hist.set_xticks([int(i) for i in hist.index])
        ax_hist.set_ylim(0, max(tops) * 2.5)  # room for the labels on the log part of the axis
        # Linear from 0 to 1, logarithmic above: a single order is a bar one decade tall.
        ax_hist.set_yscale("symlog", linthresh=1)
        style.legend(ax_hist, outside="below", handlelength=1.2)  # under the plot, off the bars
    ax_hist.axvline(exp.max_deliveries + 0.5, color=ROLE["limit"], lw=1.2, ls="--")
    # Written along the top of the line, clear of the bars below it.
    ax_hist.annotate(f"limit {exp.max_deliveries}", (exp.max_deliveries + 0.5, 1.0),
                     xycoords=("data", "axes fraction"), xytext=(-3, -2), textcoords="offset points",
                     fontsize=SIZE["tick"], color=INK, rotation=90, ha="right", va="top")

    style.axes_style(ax_dead, "Dead letters (XLEN)", "entries", "seconds")
    if not tl.empty:
        # Start from (0, 0), so a stream that fills late still shows its flat start.
        ax_dead.step([0.0, *tl["t"]], [0, *tl["dead_lettered"]], where="post", color=ROLE["dead letter"],
                     lw=2.4)
        last = int(tl["dead_lettered"].iloc[-1])
        ax_dead.annotate(f"{last:,}", (float(tl["t"].iloc[-1]), last), xytext=(-4, 3),
                         textcoords="offset points", ha="right", va="bottom", fontsize=SIZE["annotation"],
                         color=INK)
        top = max(1, int(tl["dead_lettered"].max())) * 1.25
        ax_dead.set_ylim(-0.04 * top, top)  # a little below 0, so the flat start is not hidden by the axis
    ax_dead.set_xlim(0, end * 1.03)
    _mark_reaper_switches(exp, ax_dead, labels=False)

    style.headline(fig, chaos_headline(exp),
                   f"{exp.entries:,} orders · {len(exp.pool.consumers)} consumers · crash "
                   f"{exp.crash_probability:.0%} per delivery · poison {exp.poison_share:.0%} · "
                   f"{_reaper_text(exp)} · restart: {exp.restart}")
    return fig


def _outcome_bars(ax, hist) -> list[int]:
    """Orders by deliveries, one bar per outcome side by side in each slot, each with its count.

    Not stacked: on the log axis one healthy order on top of 17 poison ones would be a
    slice under 2 px; side by side it is a bar of its own with its own label.
    """
    tops, seen = [], set()
    for deliveries, row in hist.iterrows():
        present = [(outcome, int(row[outcome])) for outcome in OUTCOME_STYLE
                   if outcome in row and row[outcome]]
        width = 0.8 / max(1, len(present))
        for i, (outcome, count) in enumerate(present):
            x = int(deliveries) - 0.4 + width * (i + 0.5)
            ax.bar([x], [count], width=width, edgecolor="white", lw=0.5,
                   label=None if outcome in seen else outcome, **OUTCOME_STYLE[outcome])
            ax.annotate(f"{count:,}", (x, count), ha="center", va="bottom", fontsize=SIZE["tick"])
            seen.add(outcome)
            tops.append(count)
    return tops or [1]


def _reaper_text(exp: ChaosExperiment) -> str:
    """The reaper's story for the subtitle: on/off, and when it was switched."""
    if not exp.reaper_switches:
        return f"reaper on, min idle {exp.min_idle_ms} ms" if exp.reaper_on else "reaper off"
    first = "on" if not exp.reaper_switches[0][1] else "off"
    moves = ", ".join(f"{'on' if on else 'off'} at {t:.1f} s" for t, on in exp.reaper_switches)
    return f"reaper {first}, then {moves} (min idle {exp.min_idle_ms} ms)"


def _mark_reaper_switches(exp: ChaosExperiment, ax, labels: bool) -> None:
    """A dotted vertical line, in the reaper's colour, where ``set_reaper()`` switched it."""
    for t, on in exp.reaper_switches:
        ax.axvline(t, color=ROLE["reaper"], lw=1.6, ls=":")
        if labels:
            # Written up the line's left side, low down: while the reaper is off, pending runs high.
            ax.annotate(f"reaper {'on' if on else 'off'}", (t, 0.05), xycoords=("data", "axes fraction"),
                        xytext=(-2, 0), textcoords="offset points", ha="right", va="bottom", rotation=90,
                        fontsize=SIZE["annotation"], color=INK)
