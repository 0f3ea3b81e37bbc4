"""Lesson 09's figures: partitioned throughput and lag per partition and per shard (matplotlib).

Kept apart from ``cluster`` and ``partitions`` so that those never import a drawing library.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from .consumers import parse_id

SHARD_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def partition_dashboard(frame, title: str = "partitioned streams"):
    """Three panels from ``PartitionSampler.frame()``: throughput per partition (coloured by
    shard), lag per partition, and total throughput per shard."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.6))
    styles = ("-", "--", ":", "-.")
    for p, rows in frame.groupby("partition"):
        shard = int(rows["shard"].iloc[-1])
        colour = SHARD_COLOURS[shard % len(SHARD_COLOURS)]
        style = styles[p % len(styles)]
        ax1.plot(rows["t"], rows["rate"].rolling(4, min_periods=1).mean(), style, color=colour,
                 label=f"p{p} (shard {shard})")
        ax2.plot(rows["t"], rows["lag"], style, color=colour, label=f"p{p}")
    ax1.set(title="processed per second, per partition", xlabel="seconds", ylabel="entries/s")
    ax2.set(title="lag (entries not yet read), per partition", xlabel="seconds", ylabel="entries")
    ax1.legend(fontsize=7, ncol=2)
    totals = frame.groupby(["shard"]).apply(
        lambda rows: rows.groupby("partition")["done"].max().sum(), include_groups=False)
    seconds = max(float(frame["t"].max() - frame["t"].min()), 1e-9)
    shards = list(totals.index)
    ax3.bar([f"shard {s}" for s in shards], [totals[s] / seconds for s in shards],
            color=[SHARD_COLOURS[s % len(SHARD_COLOURS)] for s in shards])
    ax3.set(title="processed per second, per shard (whole run)", ylabel="entries/s")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def key_order(ordering, title: str = "per-key order"):
    """Completion order against position in the partition, one colour per partition: every
    key's entries finish in the order they were sent (no red crosses)."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    colours = plt.get_cmap("tab10")
    for consumer, rows in ordering.groupby("consumer"):
        number = int(consumer.lstrip("c")) if consumer.lstrip("c").isdigit() else 0
        position = sorted(range(len(rows)), key=lambda i: parse_id(rows["entry_id"].iloc[i]))
        rank = [0] * len(rows)
        for place, i in enumerate(position):
            rank[i] = place
        ax.scatter(rows["completion"], rank, s=4, color=colours((number - 1) % 10),
                   label=f"p{number - 1} (read by {consumer})")
    late = ordering[ordering["key_out_of_order"]]
    if len(late):
        ax.scatter(late["completion"], [0] * len(late), marker="x", color="red", label="out of order per key")
    ax.set(title=f"{title}: {int(ordering['key_out_of_order'].sum())} out of order per key",
           xlabel="completion (1st, 2nd, ...)", ylabel="position in its partition")
    ax.legend(fontsize=7, ncol=3, markerscale=3)
    fig.tight_layout()
    return fig
