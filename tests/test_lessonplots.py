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
    png, meta = fig._repr_png_()
    assert png.startswith(b"\x89PNG") and meta == {"width": 750}  # drawn at 2x, shown at 750 px


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


def test_lesson_figures_pass_the_course_style_checks(r):
    """The colour-vision, palette and projector checks of tests/test_style.py, on these figures."""
    import itertools

    from test_style import KINDS, MIN_DELTA_E, _data_colours, _texts

    from streamlab import pubsub, style

    table = pd.DataFrame({"xtrim_ms": [1.0, 1.0], "removed": [9, 9], "capped_s": [0.3, 0.1]},
                         index=["exact", "~"])
    memory = pd.DataFrame({"length": [10, 1000], "nodes": [1, 10], "bytes": [4000, 50_000],
                           "bytes_per_entry": [400.0, 50.0]})
    figures = {
        "timing": lessonplots.trim_timing_figure(lessonplots.TrimTiming(table, 10, 2_000, "x", True)),
        "memory": lessonplots.memory_figure(memory, r),
        "memory on fakeredis": lessonplots.memory_figure(memory.assign(bytes=None, bytes_per_entry=None), r),
        "inline": lessonplots.inline_vs_scheduled_figure(
            pd.DataFrame({"t": [0, 1], "inline": [1, 2], "scheduled": [1, 3]}), cap=2),
        "slow subscriber": lessonplots.slow_subscriber_figure(
            pubsub.BufferLimitDemo("a scratch server", "pubsub 256kb 0 0", 4000, 1000, 900, True)),
    }
    palette = {c.upper() for c in [*style.ROLE.values(), *style.CONSUMER_COLOURS]}
    for name, fig in figures.items():
        fig.canvas.draw()
        used = _data_colours(fig)
        assert used and used <= palette, f"{name}: {sorted(used - palette)}"
        for kind in KINDS:
            for a, b in itertools.combinations(sorted(used), 2):
                assert style.delta_e(style.simulate(a, kind), style.simulate(b, kind)) >= MIN_DELTA_E, name
        for text in _texts(fig):
            assert text.get_fontsize() >= 11, f"{name}: {text.get_text()!r} at {text.get_fontsize()} pt"
        for ax in fig.axes:
            for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
                assert not label.get_text() or label.get_fontsize() >= 11, name
    lost = [p for p in figures["slow subscriber"].axes[0].patches
            if p.get_hatch() == style.HATCH["lost"]]
    assert len(lost) == 1 and lost[0].get_width() == 100  # 1,000 counted by PUBLISH, 900 read


def test_a_demo_that_did_not_run_is_a_callout_saying_why():
    from streamlab import pubsub

    shown = lessonplots.slow_subscriber_figure(
        pubsub.BufferLimitDemo("not run", "unknown", 0, 0, 0, False, "No redis-server on PATH."))
    assert repr(shown) == "[The demo did not run] No redis-server on PATH."
