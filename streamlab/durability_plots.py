"""Figures for lesson 08, drawn from the frames ``streamlab.durability`` returns.

The UI side of the durability engine: matplotlib only here, and the engine never
imports this module.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .durability import THRESHOLDS

GREEN, RED, ORANGE, GREY, BLUE = "#2e7d32", "#c62828", "#ef6c00", "#9e9e9e", "#1565c0"


def plot_crash(table: pd.DataFrame, title: str = "SIGKILL, then restart from the files"):
    """Three panels per setting: acknowledged vs present after restart; the group's pending
    list before and after, with acked work handed out again; XADD throughput."""
    labels = [s.replace("appendfsync ", "").replace("no persistence", "none").replace(", ", "\n")
              for s in table.index]
    x = range(len(table))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    ax = axes[0]
    ax.bar([i - 0.2 for i in x], table["acknowledged"], 0.4, color=GREY, label="acknowledged (XADD replied)")
    ax.bar([i + 0.2 for i in x], table["present after restart"], 0.4, color=GREEN,
           label="present after restart")
    for i, lost in zip(x, table["lost"]):
        ax.annotate(f"lost {lost}", (i, max(table["acknowledged"]) * 1.02), ha="center",
                    color=RED if lost else GREEN, fontsize=9)
    ax.set_ylim(0, max(table["acknowledged"]) * 1.15)
    ax.set_title("writes: acknowledged vs still there")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)

    ax = axes[1]
    ax.bar([i - 0.27 for i in x], table["pending at the kill"], 0.27, color=GREY, label="pending at the kill")
    ax.bar(list(x), table["pending after"], 0.27, color=BLUE, label="pending after restart")
    ax.bar([i + 0.27 for i in x], table["acked work handed out again"], 0.27, color=ORANGE,
           label="acked, handed out again")
    for i, exists in zip(x, table["group exists after"]):
        if not exists:
            ax.annotate("group gone", (i, 0.5), ha="center", color=RED, fontsize=9, rotation=90,
                        va="bottom")
    ax.set_title("the consumer group")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)

    ax = axes[2]
    ax.bar(list(x), table["XADD/s"], 0.5, color=BLUE)
    for i, v in zip(x, table["XADD/s"]):
        ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max(table["XADD/s"]) * 1.2)
    ax.set_title("cost: XADD/s, one client, one at a time")
    for ax in axes:
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_failover(writes: dict[str, pd.DataFrame], title: str = "failover: what the promoted replica has"):
    """One row per run: each write at the time XADD answered, green if the new primary has
    it, red if it was acknowledged and is missing, orange if WAIT said no replica had it."""
    fig, axes = plt.subplots(len(writes), 1, figsize=(11, 1.9 * len(writes) + 0.6), sharex=True,
                             squeeze=False)
    for ax, (name, df) in zip(axes[:, 0], writes.items()):
        kept = df[~df["missing"]]
        lost = df[df["missing"] & df["acknowledged"]]
        risk = df[~df["acknowledged"]]
        ax.scatter(kept["t"], kept["n"], s=4, color=GREEN, label=f"on the new primary ({len(kept)})")
        ax.scatter(lost["t"], lost["n"], s=6, color=RED,
                   label=f"acknowledged, missing ({len(lost)})")
        if len(risk):
            ax.scatter(risk["t"], risk["n"], s=18, color=ORANGE, marker="x",
                       label=f"no replica confirmed: known at risk ({len(risk)})")
        cut = float(df["cut_at"].iloc[0])
        ax.axvline(cut, color=GREY, ls="--")
        ax.annotate(" link cut", (cut, df["n"].max() * 0.05), color=GREY, fontsize=9)
        ax.axvline(df["t"].max(), color=RED, ls=":")
        ax.annotate(" primary\n killed", (df["t"].max(), df["n"].max() * 0.05), color=RED, fontsize=9)
        ax.set_ylabel("write n")
        ax.set_title(name, fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="upper left")
    axes[-1, 0].set_xlabel("seconds since the producer started")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


METRICS = ["lag", "oldest pending idle ms", "max consumer inactive ms", "dead letters",
           "XLEN / trim limit"]


def plot_health(frames: dict[str, pd.DataFrame], thresholds: dict = THRESHOLDS,
                diagnoses: dict[str, str] | None = None):
    """One row per scripted situation, one column per metric, the alert threshold dashed."""
    fig, axes = plt.subplots(len(frames), len(METRICS), figsize=(14, 2.2 * len(frames) + 0.5),
                             squeeze=False)
    for row, (name, df) in enumerate(frames.items()):
        for col, metric in enumerate(METRICS):
            ax = axes[row, col]
            limit = thresholds[metric]
            past = df[metric] > limit
            ax.plot(df.index, df[metric], color=BLUE, marker=".")
            ax.scatter(df.index[past], df[metric][past], color=RED, zorder=3, s=14)
            ax.axhline(limit, color=RED, ls="--", lw=1)
            top = max(float(df[metric].max()), float(limit)) * 1.15 or 1
            ax.set_ylim(0, top)
            if row == 0:
                ax.set_title(metric + ("\n(alert on growth)" if metric == "dead letters" else ""),
                             fontsize=9)
            if col == 0:
                label = f"situation {name}"
                if diagnoses:
                    label += "\n" + diagnoses[name].split(":")[0]
                ax.set_ylabel(label, fontsize=9)
            if row == len(frames) - 1:
                ax.set_xlabel("tick", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("what to alert on: values (blue), threshold (dashed), past it (red)")
    fig.tight_layout()
    return fig
