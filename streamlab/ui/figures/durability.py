"""Figures for lesson 08, drawn from the frames ``streamlab.durability`` returns.

The UI side of the durability engine: matplotlib only here (through ``style``, no
pyplot), and the engine never imports this module. Each figure's headline states
what the runs found; the caller's title (the setup, "RECORDED run") goes under it.
"""

from __future__ import annotations

import textwrap

import pandas as pd

from .. import style
from ...durability import THRESHOLDS
from ..style import HATCH, INK, ROLE, SIZE


def _short(setting: str) -> str:
    """"AOF, appendfsync everysec" -> "AOF everysec": a setting's name for an axis or a title."""
    return setting.replace("appendfsync ", "").replace("no persistence", "none").replace(", ", " ")


def crash_headline(table: pd.DataFrame) -> str:
    """Which settings lost acknowledged writes, in one line."""
    lost = {_short(s): int(n) for s, n in table["lost"].items()}
    kept = [s for s, n in lost.items() if n == 0]
    losers = [f"{s} lost {n:,}" for s, n in lost.items() if n]
    if not losers:
        return f"No setting lost an acknowledged write ({len(kept)} of {len(lost)} kept them all)"
    return "; ".join(losers) + (f"; {' and '.join(kept)} lost none" if kept else "")


def plot_crash(table: pd.DataFrame, title: str = "SIGKILL, then restart from the files"):
    """Three panels per setting: acknowledged vs present after restart; the group's pending
    list before and after, with acked work handed out again; XADD throughput."""
    labels = [_short(s).replace(" ", "\n", 1) for s in table.index]
    x = range(len(table))
    fig = style.figure(12.5, 5.2)
    axes = fig.subplots(1, 3, gridspec_kw=dict(wspace=0.3))
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.4, top=style.headline_space(fig) - 0.07)
    ax = axes[0]
    ax.bar([i - 0.2 for i in x], table["acknowledged"], 0.4, color=ROLE["sent"],
           label="acknowledged (XADD replied)")
    ax.bar([i + 0.2 for i in x], table["present after restart"], 0.4, color=ROLE["kept"],
           label="present after restart")
    for i, lost in zip(x, table["lost"]):
        ax.annotate(f"lost {lost}", (i, max(table["acknowledged"]) * 1.02), ha="center",
                    color=ROLE["lost"] if lost else INK, fontsize=SIZE["annotation"],
                    weight="bold" if lost else "normal")
    ax.set_ylim(0, max(table["acknowledged"]) * 1.15)
    style.axes_style(ax, "Writes kept", "entries")
    style.legend(ax, outside="below", ncol=1)

    ax = axes[1]
    ax.bar([i - 0.27 for i in x], table["pending at the kill"], 0.27, color=ROLE["pending"],
           alpha=0.45, label="pending at the kill")
    ax.bar(list(x), table["pending after"], 0.27, color=ROLE["pending"], label="pending after restart")
    ax.bar([i + 0.27 for i in x], table["acked work handed out again"], 0.27, color=ROLE["lost"],
           hatch=HATCH["lost"], edgecolor="white", label="acked, handed out again")
    for i, exists in zip(x, table["group exists after"]):
        if not exists:
            ax.annotate("group gone", (i, 0.5), ha="center", color=ROLE["lost"], fontsize=SIZE["annotation"],
                        rotation=90, va="bottom", weight="bold")
    style.axes_style(ax, "The consumer group", "entries")
    style.legend(ax, outside="below", ncol=1)

    ax = axes[2]
    ax.bar(list(x), table["XADD/s"], 0.5, color=ROLE["producer"])
    for i, v in zip(x, table["XADD/s"]):
        ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=SIZE["annotation"])
    ax.set_ylim(0, max(table["XADD/s"]) * 1.2)
    style.axes_style(ax, "Cost: XADD/s, one client", "XADD/s")
    for ax in axes:
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=SIZE["tick"])
        ax.grid(False, axis="x")
    style.headline(fig, crash_headline(table), title)
    return fig


def plot_failover(writes: dict[str, pd.DataFrame], title: str = "failover: what the promoted replica has"):
    """One row per run: each write at the time XADD answered: kept (blue) if the new primary
    has it, lost (vermillion, crosses) if it was acknowledged and is missing, orange if WAIT
    said no replica had it."""
    fig = style.figure(11, 2.3 * len(writes) + 1.3)
    axes = fig.subplots(len(writes), 1, sharex=True, squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.72, bottom=0.6 / fig.get_figheight(),
                        top=style.headline_space(fig) - 0.35 / fig.get_figheight(), hspace=0.45)
    summary = []
    for ax, (name, df) in zip(axes[:, 0], writes.items()):
        kept = df[~df["missing"]]
        lost = df[df["missing"] & df["acknowledged"]]
        risk = df[~df["acknowledged"]]
        ax.scatter(kept["t"], kept["n"], s=6, color=ROLE["kept"], label=f"on the new primary ({len(kept)})")
        ax.scatter(lost["t"], lost["n"], s=16, color=ROLE["lost"], marker="x", lw=1,
                   label=f"acknowledged, missing ({len(lost)})")
        if len(risk):
            ax.scatter(risk["t"], risk["n"], s=24, color=ROLE["dead letter"], marker="^",
                       label=f"no replica confirmed:\nknown at risk ({len(risk)})")
        cut = float(df["cut_at"].iloc[0])
        ax.axvline(cut, color=ROLE["limit"], ls="--")
        ax.annotate(" link cut", (cut, 0.05), xycoords=("data", "axes fraction"), color=INK,
                    fontsize=SIZE["annotation"])
        ax.axvline(df["t"].max(), color=ROLE["lost"], ls=":", lw=1.5)
        ax.annotate(" primary\n killed", (df["t"].max(), 0.05), xycoords=("data", "axes fraction"),
                    color=INK, fontsize=SIZE["annotation"])
        style.axes_style(ax, f"{name}: {len(lost)} acknowledged writes lost", "write n")
        style.legend(ax, outside="right")
        summary.append(f"{name} lost {len(lost)}")
    axes[-1, 0].set_xlabel("seconds since the producer started", fontsize=SIZE["label"])
    style.headline(fig, "Acknowledged writes lost at failover: " + ", ".join(summary), title)
    return fig


METRICS = ["lag", "oldest pending idle ms", "max consumer inactive ms", "dead letters",
           "XLEN / trim limit"]


def plot_health(frames: dict[str, pd.DataFrame], thresholds: dict = THRESHOLDS,
                diagnoses: dict[str, str] | None = None):
    """One row per scripted situation, one column per metric, the alert threshold dashed;
    the headline names which metrics crossed their threshold in each situation."""
    fig = style.figure(14, 2.4 * len(frames) + 1.4)
    axes = fig.subplots(len(frames), len(METRICS), squeeze=False)
    fig.subplots_adjust(left=0.1, right=0.99, bottom=0.55 / fig.get_figheight(),
                        top=style.headline_space(fig) - 0.55 / fig.get_figheight(), hspace=0.35, wspace=0.32)
    alarms = []
    for row, (name, df) in enumerate(frames.items()):
        crossed = []
        for col, metric in enumerate(METRICS):
            ax = axes[row, col]
            limit = thresholds[metric]
            past = df[metric] > limit
            if past.any():
                crossed.append(metric)
            ax.plot(df.index, df[metric], color=ROLE["stream"], marker=".", lw=1.5)
            ax.scatter(df.index[past], df[metric][past], color=ROLE["lost"], zorder=3, s=30, marker="D")
            ax.axhline(limit, color=ROLE["lost"], ls="--", lw=1.2)
            top = max(float(df[metric].max()), float(limit)) * 1.15 or 1
            ax.set_ylim(0, top)
            style.axes_style(ax)
            if row == 0:
                # Two short lines: a long name on one would run into the next column's.
                ax.set_title(textwrap.fill(metric, 16) + ("\n(alert on growth)" if metric == "dead letters"
                                                         else ""), fontsize=SIZE["label"], loc="left")
            if col == 0:
                label = f"situation {name}"
                if diagnoses:
                    label += "\n" + diagnoses[name].split(":")[0]
                ax.set_ylabel(label, fontsize=SIZE["label"])
            if row == len(frames) - 1:
                ax.set_xlabel("tick", fontsize=SIZE["label"])
        alarms.append((name, len(crossed)))
    alarmed = sum(n > 0 for _, n in alarms)
    style.headline(fig, f"{alarmed} of {len(alarms)} situations cross a threshold; metrics past it: "
                        + ", ".join(f"{name} {n}" for name, n in alarms),
                   "value (grey line), threshold (dashed), past it (diamonds)")
    return fig
