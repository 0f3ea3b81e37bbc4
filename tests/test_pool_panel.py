"""The consumer-pool panel and its figures: real data in, pictures out, nothing left running."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from streamlab.ui.figures import pool
from streamlab.ui import style
from streamlab.ui.pool_panel import ConsumerPoolPanel

PNG = b"\x89PNG"
JPEG = b"\xff\xd8"


@pytest.fixture
def panel(r, prefix):
    p = ConsumerPoolPanel(r, prefix + "s", "g", consumers=3, rate=200, ms=1, start_id="0",
                          hz=10, name=prefix + "panel")
    yield p
    p.close()


def test_run_for_processes_everything_and_drains_the_lag(panel):
    panel.run_for(1.0)
    frame = panel.sampler.stream_frame()
    assert panel.producer.sent > 0
    assert panel.pool.total_processed == panel.producer.sent
    assert frame["lag"].iloc[-1] == 0 and frame["pending"].iloc[-1] == 0
    assert panel.refreshes >= 2
    assert bytes(panel.image.value).startswith(JPEG)
    assert "processed" in panel.summary()
    assert not panel.busy()


def test_controls_add_remove_pause_and_set_processing(panel):
    panel.start()
    try:
        panel.add_button.click()
        assert list(panel.pool.consumers) == ["c1", "c2", "c3", "c4"]
        assert panel.pool.consumers["c4"].running
        assert list(panel.pause_choice.options) == ["c1", "c2", "c3", "c4"]
        panel.remove_button.click()
        assert list(panel.pool.consumers) == ["c1", "c2", "c3"]
        panel.pause_choice.value = "c2"
        panel.pause_button.value = True
        assert panel.pool.consumers["c2"].paused
        panel.pause_button.value = False
        assert not panel.pool.consumers["c2"].paused
        panel.mode.value = "one-slow"
        assert panel.pool.consumers["c1"].processing.mean == pytest.approx(0.01)
        panel.rate_slider.value = 50
        assert panel.producer.rate == 50
    finally:
        panel.stop()


def test_removing_the_last_consumer_is_refused_in_the_status_line(r, prefix):
    p = ConsumerPoolPanel(r, prefix + "s", "g", consumers=1, rate=None, name=prefix + "panel")
    try:
        p.remove_button.click()
        assert "at least one consumer" in p.status.value
        assert list(p.pool.consumers) == ["c1"]
    finally:
        p.close()


def test_rerunning_the_cell_stops_the_previous_panel(r, prefix):
    first = ConsumerPoolPanel(r, prefix + "s", "g", rate=50, name=prefix + "panel").start()
    second = ConsumerPoolPanel(r, prefix + "s", "g", rate=50, name=prefix + "panel")
    try:
        assert not first.busy()
        assert not first.pool.running and not first.sampler.running and not first.producer.running
    finally:
        second.close()
        first.close()


def test_memory_stays_bounded_by_the_window(r, prefix):
    p = ConsumerPoolPanel(r, prefix + "s", "g", rate=500, ms=0, window=0.5, start_id="0",
                          name=prefix + "panel", record_cap=100)
    try:
        p.run_for(1.5)
    finally:
        p.close()
    assert p.pool.total_processed > 100
    assert len(p.pool.ordering_frame()) == 100
    assert len(p.sampler.stream_frame()) <= 0.5 / p.sampler.interval + 1


def test_close_leaves_no_thread(r, prefix):
    p = ConsumerPoolPanel(r, prefix + "s", "g", rate=100, name=prefix + "panel").start()
    p.close()
    assert not [t for t in threading.enumerate() if prefix + "panel" in t.name]


def _frames():
    t = [i * 0.1 for i in range(50)]
    stream = pd.DataFrame({"t": t, "xlen": [i * 10 for i in range(50)], "lag": [i % 7 for i in range(50)],
                           "lag_source": "counters", "pending": 2})
    consumers = pd.concat([pd.DataFrame({"t": t, "consumer": c, "pending": 1, "processed": range(50),
                                         "throughput": 10.0}) for c in ("c1", "c2")])
    ordering = pd.DataFrame({"completion": range(1, 41), "consumer": ["c1", "c2"] * 20,
                             "position": [i ^ 1 for i in range(40)],
                             "out_of_order": [i % 2 == 1 for i in range(40)]})
    return stream, consumers, ordering


def test_live_figure_redraws_only_what_changes_and_gives_pictures():
    stream, consumers, ordering = _frames()
    fig = pool.PoolFigure()
    fig.update(stream, consumers, ordering)
    first = fig.png()
    background = fig._background
    fig.update(stream.iloc[:-1], consumers, ordering)
    assert fig.picture().startswith(JPEG)
    assert fig._background is background  # same limits: the saved background was reused
    assert first.startswith(PNG)


def test_static_figures_show_the_out_of_order_count():
    stream, consumers, ordering = _frames()
    fig = pool.ordering_figure(ordering)
    assert style.headline_text(fig)[0] == "20 of 40 completions out of order"
    dash = pool.dashboard_figure(stream, consumers, ordering, title="t")
    order_titles = [ax.get_title(loc="left") for ax in dash.axes
                    if "out of order" in ax.get_title(loc="left")]
    assert len(order_titles) == 1 and "20 of the last 40" in order_titles[0]
    assert pool.to_png(dash).startswith(PNG)


def test_consumer_colours_are_stable_by_number():
    palette = style.CONSUMER_COLOURS
    assert pool.consumer_colour("c1") == palette[0]
    assert pool.consumer_colour("c2") == palette[1] != palette[0]
    assert pool.consumer_colour(f"c{len(palette) + 2}") == palette[1]
    assert pool.consumer_colour("worker") in palette
    assert pool.consumer_colour("reaper") == style.ROLE["reaper"]


def test_the_static_figure_gives_the_settings_under_the_headline_not_the_results(r, prefix):
    p = ConsumerPoolPanel(r, prefix + "s", "g", consumers=3, rate=300, processing="one-slow", ms=3,
                          count=5, name=prefix + "panel")
    try:
        assert p._title() == f"{prefix}s · group g · 3 consumers, one slow · 300 msgs/s · 3 ms/entry · COUNT 5"
        p.mode.value = "fixed"
        assert "3 consumers (fixed time) · 300 msgs/s" in p._title()
    finally:
        p.close()
