"""streamlab.latency: the table and the plot of lesson 02's wake-up latencies."""

import io

import PIL.Image
import pytest

from streamlab import latency
from streamlab.ui import figures
from streamlab.ui import style


def test_summary_gives_count_median_p95_and_max():
    table = latency.summary([1.0, 2.0, 3.0, 4.0, 100.0])
    row = table.iloc[0]
    assert row["entries"] == 5
    assert row["p50 (ms)"] == 3.0
    assert row["max (ms)"] == 100.0
    assert 4.0 < row["p95 (ms)"] < 100.0


def test_strip_plot_draws_one_dot_per_entry_and_a_log_axis_for_a_long_tail():
    fig = figures.latency.strip_plot([10.0, 10.1, 10.2], [0.5, 0.8, 40.0], "wake-ups")
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 3
    assert ax.collections[0].get_offsets()[0][0] == 0.0  # x counts from the first entry sent
    assert ax.get_yscale() == "log"
    png, meta = fig._repr_png_()
    assert png.startswith(b"\x89PNG")
    # Drawn at twice its page width, and the page told that width, so it shows sharp.
    assert PIL.Image.open(io.BytesIO(png)).width == 2 * meta["width"]
    result, details = style.headline_text(fig)
    assert result == "XADD → XREAD: median 0.80 ms, slowest 40.00 ms"
    assert details == "wake-ups"


def test_strip_plot_keeps_a_linear_axis_when_latencies_are_close():
    fig = figures.latency.strip_plot([0.0, 0.1], [0.7, 1.1], "close")
    assert fig.axes[0].get_yscale() == "linear"


def test_strip_plot_of_nothing_says_so():
    fig = figures.latency.strip_plot([], [], "none")
    assert "no entries" in fig.axes[0].texts[0].get_text()


def test_strip_plot_refuses_lists_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        figures.latency.strip_plot([1.0], [], "bad")
