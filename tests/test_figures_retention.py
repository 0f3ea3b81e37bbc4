"""figures.retention: lesson 05's figures; each title states the result its data shows."""

from __future__ import annotations

import pandas as pd
import pytest

from streamlab.ui import figures
from streamlab import retention


def _texts(fig) -> list[str]:
    from streamlab.ui import style

    return [ax.get_title(loc="left") for ax in fig.axes] + list(style.headline_text(fig))


def test_the_timing_figure_title_states_the_result_and_the_source_is_under_it():
    table = pd.DataFrame({"xtrim_ms": [1.0, 1.0], "removed": [9, 9], "capped_s": [0.3, 0.1]},
                         index=["exact", "~"])
    fig = figures.retention.trim_timing_figure(retention.TrimTiming(table, 10, 2_000, "measured now on X", True))
    assert _texts(fig)[-2:] == ["2,000 XADDs capped at 1,000: ~ 3.0× faster than exact", "measured now on X"]
    slower = retention.TrimTiming(table.iloc[::-1].set_axis(["exact", "~"]), 10, 2_000, "s", True)
    assert _texts(figures.retention.trim_timing_figure(slower))[-2].endswith("~ 3.0× slower than exact")
    png, meta = fig._repr_png_()
    assert png.startswith(b"\x89PNG") and meta == {"width": 800}  # drawn at 2x, shown at 800 px


def test_memory_figure_measures_where_it_can_and_labels_the_borrowed_figures(backend_kind, r, prefix):
    memory = retention.sample_memory(r, prefix + "memory", [100, 1_000])
    titles = " | ".join(_texts(figures.retention.memory_figure(memory, r)))
    if r.supports("memory-usage"):
        assert "KiB for 1,000 entries" in titles and "bytes per entry in a long stream" in titles
        assert "measured now on" in titles
    else:
        assert "10 nodes for 1,000 entries" in titles and "One node per 100 entries here" in titles
        assert "measured on Redis 7.0.15" in titles and "fakeredis has no MEMORY USAGE" in titles


def test_inline_vs_scheduled_title_states_both_peaks():
    compare = pd.DataFrame({"t": [0, 1, 2], "inline": [500, 1_050, 1_080],
                            "scheduled": [600, 2_400, 1_300]})
    fig = figures.retention.inline_vs_scheduled_figure(compare, cap=1000)
    assert _texts(fig)[-2] == (
        "Inline cap: 1,080 at most; scheduled trim: up to 2,400")


def test_lesson_figures_pass_the_course_style_checks(r):
    """tests/test_style.py's checks (palette colours apart under colour-vision simulation,
    projector sizes, a result with a number, nothing off the figure), on these figures."""
    import test_style

    table = pd.DataFrame({"xtrim_ms": [1.0, 1.0], "removed": [9, 9], "capped_s": [0.3, 0.1]},
                         index=["exact", "~"])
    memory = pd.DataFrame({"length": [10, 1000, 50_000], "nodes": [1, 10, 500],
                           "bytes": [4752, 46_152, 2_272_824], "bytes_per_entry": [475.2, 46.2, 45.5]})
    pictures = [
        ("timing", figures.retention.trim_timing_figure(retention.TrimTiming(
            table, 100_000, 20_000, "recorded on Redis 7.0.15: fakeredis would time Python, not Redis",
            False))),
        ("memory", figures.retention.memory_figure(memory, r)),
        ("memory on fakeredis",
         figures.retention.memory_figure(memory.assign(bytes=None, bytes_per_entry=None), r)),
        ("inline", figures.retention.inline_vs_scheduled_figure(
            pd.DataFrame({"t": [0, 1, 2], "inline": [1_000, 1_010, 1_004],
                          "scheduled": [1_000, 2_600, 3_100]}), cap=1000)),
    ]
    test_style.test_every_figure_draws_only_palette_colours_that_stay_apart(pictures)
    test_style.test_every_figure_is_readable_on_a_projector(pictures)
    test_style.test_every_figure_states_a_result_with_a_number(pictures)
    test_style.test_every_headline_and_legend_fits_inside_its_figure(pictures)


def test_trim_bars_and_lines_use_no_outcome_colour_or_pattern():
    """Orange is the dead letter and ``///`` means lost in every lesson (docs/VISUAL.md): exact
    vs ``~`` is neither, so no bar or line of lesson 05 is drawn in orange or hatched."""
    from matplotlib.colors import to_hex

    from streamlab.ui import style

    table = pd.DataFrame({"xtrim_ms": [1.0, 1.0], "removed": [9, 9], "capped_s": [0.3, 0.1]},
                         index=["exact", "~"])
    timing = figures.retention.trim_timing_figure(retention.TrimTiming(table, 10, 2_000, "x", True))
    bars = timing.axes[0].patches
    assert [to_hex(b.get_facecolor()).upper() for b in bars] == [style.DARK_GREY, style.OKABE_ITO["blue"]]
    assert not any(b.get_hatch() for b in bars)
    inline = figures.retention.inline_vs_scheduled_figure(
        pd.DataFrame({"t": [0, 1, 2], "inline": [500, 1_050, 1_080], "scheduled": [600, 2_400, 1_300]}),
        cap=1000)
    lines = {line.get_label(): line for line in inline.axes[0].get_lines()}
    scheduled = lines["XADD, then XTRIM MAXLEN ~ 1000 every second"]
    assert to_hex(scheduled.get_color()).upper() == style.ROLE["xlen"]
    assert scheduled.get_linestyle() != "--"  # dashed is the producer's and the cap's
    colours = {to_hex(line.get_color()).upper() for line in inline.axes[0].get_lines()}
    assert style.ROLE["dead letter"].upper() not in colours
