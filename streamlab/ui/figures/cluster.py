"""Lesson 09's figures: partitioned throughput and lag per partition and per shard.

Kept apart from ``cluster`` and ``partitions`` so that those never import a drawing
library; built with ``style`` (no pyplot), so a figure displays itself in a notebook.
"""

from __future__ import annotations

from .. import style
from ... import ids
from ..style import SIZE

#: One colour per shard (the consumers' sequence: shard 0 blue, 1 orange, 2 bluish green, ...).
SHARD_COLOURS = tuple(style.CONSUMER_COLOURS)
_STYLES = ("-", "--", ":", "-.")


def partition_dashboard(frame, title: str = "partitioned streams"):
    """Three panels from ``PartitionSampler.frame()``: throughput per partition (coloured by
    shard), lag per partition, and total throughput per shard. The headline gives the total
    rate and the largest lag; ``title`` (the setup) goes under it."""
    fig = style.figure(12.5, 4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw=dict(wspace=0.3))
    fig.subplots_adjust(left=0.06, right=0.86, bottom=0.15, top=style.headline_space(fig) - 0.08)
    for p, rows in frame.groupby("partition"):
        shard = int(rows["shard"].iloc[-1])
        colour = SHARD_COLOURS[shard % len(SHARD_COLOURS)]
        look = _STYLES[p % len(_STYLES)]
        ax1.plot(rows["t"], rows["rate"].rolling(4, min_periods=1).mean(), look, color=colour, lw=1.8,
                 label=f"p{p} (shard {shard})")
        ax2.plot(rows["t"], rows["lag"], look, color=colour, lw=1.8, label=f"p{p}")
    style.axes_style(ax1, "Processed/s per partition", "entries/s", "seconds")
    style.axes_style(ax2, "Lag per partition", "entries", "seconds")
    totals = frame.groupby(["shard"]).apply(
        lambda rows: rows.groupby("partition")["done"].max().sum(), include_groups=False)
    seconds = max(float(frame["t"].max() - frame["t"].min()), 1e-9)
    shards = list(totals.index)
    ax3.bar([f"shard {s}" for s in shards], [totals[s] / seconds for s in shards],
            color=[SHARD_COLOURS[s % len(SHARD_COLOURS)] for s in shards])
    style.axes_style(ax3, "Processed/s per shard", "entries/s")
    ax3.grid(False, axis="x")
    # Beside the last plot, off the data: one row per partition.
    fig.legend(*ax1.get_legend_handles_labels(), loc="upper left", frameon=False,
               bbox_to_anchor=(0.87, ax3.get_position().y1), fontsize=SIZE["legend"])
    rate = float(sum(totals)) / seconds
    lag = int(frame["lag"].max()) if len(frame) else 0
    style.headline(fig, f"{rate:,.0f} entries/s over {style.plural(len(shards), 'shard')}; "
                        f"lag at most {lag:,} entries", title)
    return fig


def key_order(ordering, title: str = "per-key order"):
    """Completion order against position in the partition, one colour per partition: every
    key's entries finish in the order they were sent (no circles). The headline counts the
    entries out of order per key; ``title`` goes under it."""
    fig = style.figure(9, 4.4)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.09, right=0.75, bottom=0.15, top=style.headline_space(fig) - 0.04)
    ranks = {}
    for consumer, rows in ordering.groupby("consumer"):
        number = int(consumer.lstrip("c")) if consumer.lstrip("c").isdigit() else 0
        position = sorted(range(len(rows)), key=lambda i: ids.parse(rows["entry_id"].iloc[i]))
        rank = [0] * len(rows)
        for place, i in enumerate(position):
            rank[i] = place
        ranks.update(zip(rows.index, rank))
        ax.scatter(rows["completion"], rank, s=6, color=style.consumer_colour(consumer),
                   label=f"p{number - 1} (read by {consumer})")
    late = ordering[ordering["key_out_of_order"]]
    if len(late):
        # Circled, as in every ordering plot of the course (lesson 03).
        ax.scatter(late["completion"], [ranks[i] for i in late.index], s=64, facecolors="none",
                   edgecolors=style.INK, lw=1.0, label="out of order per key")
    style.axes_style(ax, "", "position in its partition", "completion (1st, 2nd, ...)")
    style.legend(ax, outside="right", markerscale=2.5)
    late_n = int(ordering["key_out_of_order"].sum())
    style.headline(fig, f"{late_n:,} of {len(ordering):,} readings finished out of order for their key",
                   title)
    return fig
