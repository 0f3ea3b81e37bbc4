"""lessonplots: a lesson's one-off figures; each title states the result its data shows."""

from __future__ import annotations

import pandas as pd
import pytest

from streamlab import lessonplots, retention


def test_on_fakeredis_the_timing_is_the_recorded_real_server_one_and_says_so(backend_kind, r, prefix):
    if backend_kind != "fake":
        pytest.skip("fakeredis only")
    timing = lessonplots.trim_timing(r, key=prefix + "timing")
    assert not timing.measured_here and not r.exists(prefix + "timing")
    assert timing.source.startswith("recorded on Redis 7.0.15")
    assert timing.speedup > 1  # the lesson's "capping in every XADD is where ~ pays"
    assert timing.verdict().startswith("20,000 capped XADDs: `~` was 3.5× faster than exact")


def test_on_a_real_server_the_timing_is_measured_now_and_labelled(backend_kind, r, prefix):
    if backend_kind != "real":
        pytest.skip("real server only")
    timing = lessonplots.trim_timing(r, key=prefix + "timing", entries=5_000, adds=2_000)
    assert timing.measured_here and timing.source.startswith("measured now on ")
    assert list(timing.table["removed"]) == [4_000, 4_000]
    assert (timing.table["capped_s"] > 0).all()
    word = "faster" if timing.speedup >= 1 else "slower"  # which one depends on the machine's load
    assert f"× {word} than exact" in timing.verdict()


def _texts(fig) -> list[str]:
    return [ax.get_title(loc="left") for ax in fig.axes] + [t.get_text() for t in fig.texts]


def test_the_timing_figure_title_states_the_result_and_the_source_is_under_it():
    table = pd.DataFrame({"xtrim_ms": [1.0, 1.0], "removed": [9, 9], "capped_s": [0.3, 0.1]},
                         index=["exact", "~"])
    fig = lessonplots.trim_timing_figure(lessonplots.TrimTiming(table, 10, 2_000, "measured now on X", True))
    assert "2,000 XADDs capped at 1,000: ~ 3.0× faster than exact" in _texts(fig)
    assert "measured now on X" in [t.get_text() for t in fig.axes[0].texts]
    slower = lessonplots.TrimTiming(table.iloc[::-1].set_axis(["exact", "~"]), 10, 2_000, "s", True)
    assert "~ 3.0× slower than exact" in lessonplots.trim_timing_figure(slower).axes[0].get_title(loc="left")
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_memory_figure_measures_where_it_can_and_labels_the_borrowed_figures(backend_kind, r, prefix):
    memory = retention.sample_memory(r, prefix + "memory", [100, 1_000])
    titles = " | ".join(_texts(lessonplots.memory_figure(memory, r)))
    if r.supports("memory-usage"):
        assert f"for 1,000 entries" in titles and "per entry:" in titles
    else:
        assert "10 nodes for 1,000 entries" in titles
        assert "measured on Redis 7.0.15" in titles and "fakeredis has no MEMORY USAGE" in titles


def test_inline_vs_scheduled_title_states_both_peaks():
    compare = pd.DataFrame({"t": [0, 1, 2], "inline": [500, 1_050, 1_080],
                            "scheduled": [600, 2_400, 1_300]})
    fig = lessonplots.inline_vs_scheduled_figure(compare, cap=1000)
    assert fig.axes[0].get_title(loc="left") == (
        "inline cap peaks at 1,080; the scheduled job lets it reach 2,400")
