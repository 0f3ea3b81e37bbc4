"""The producer panel, headless: its Python API, its controls, re-running its cell, its display."""

from __future__ import annotations

import threading

import pytest

import streamlab as sl
from streamlab import server as sl_server
from streamlab.ui.producer_panel import ProducerPanel
from streamlab.ui.style import table_html
from helpers import wait_until


def streamlab_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate()
                  if t.name.startswith("streamlab-") and t.is_alive())


def test_run_for_leaves_the_final_numbers_on_show(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=200)
    panel.run_for(1)
    xlen = r.xlen(prefix + "s")
    assert 100 <= xlen <= 300
    assert panel.xlen == xlen == panel.producer.sent
    assert f"<b>XLEN</b> {xlen:,}" in panel.counters.value
    assert f"<b>sent</b> {xlen:,}" in panel.counters.value
    assert "stopped" in panel.status.value
    newest_id = r.xrevrange(prefix + "s", count=1)[0][0]
    assert newest_id in panel.tail_view.value
    bundle = panel._repr_mimebundle_()
    assert f"XLEN {xlen:,}" in bundle["text/plain"]
    assert newest_id in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert streamlab_threads() == []


def test_burst_adds_n_and_updates_the_counters(r, prefix):
    panel = ProducerPanel(r, prefix + "s")
    panel.burst(700)
    assert r.xlen(prefix + "s") == 700
    assert "<b>XLEN</b> 700" in panel.counters.value
    assert panel.burst_size.value == 700  # the Burst box says what burst() last sent
    assert panel.tail_view.value.count("<tr>") == 6  # header + the 5 newest


def test_buttons_start_stop_and_burst(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=100)
    panel.start_button.click()
    try:
        assert panel.producer.running
        assert wait_until(lambda: panel.producer.sent >= 5)
    finally:
        panel.stop_button.click()
    assert not panel.producer.running
    before = r.xlen(prefix + "s")
    panel.burst_size.value = 2000
    panel.burst_button.click()
    assert wait_until(lambda: not panel.busy())
    assert r.xlen(prefix + "s") == before + 2000
    assert wait_until(lambda: f"<b>XLEN</b> {before + 2000:,}" in panel.counters.value)
    assert wait_until(lambda: streamlab_threads() == [])


def test_stop_cuts_a_long_burst_short(r, prefix):
    panel = ProducerPanel(r, prefix + "s", burst_size=1_000_000)
    panel.burst_button.click()
    assert wait_until(lambda: panel.producer.sent >= 500)
    panel.stop_button.click()
    assert not panel.busy()
    assert r.xlen(prefix + "s") == panel.producer.sent < 1_000_000
    assert streamlab_threads() == []


def test_rate_slider_sets_the_producer_rate(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=10)
    panel.rate_slider.value = 1000
    assert panel.producer.rate == 1000
    panel.rate = 50
    assert panel.rate_slider.value == 50


def test_new_stream_key_in_the_box_restarts_on_it(r, prefix):
    panel = ProducerPanel(r, prefix + "a", rate=100).start()
    try:
        panel.stream_box.value = prefix + "b"
        assert panel.producer.running
        assert wait_until(lambda: r.xlen(prefix + "b") >= 3)
    finally:
        panel.stop()


def test_bad_input_in_a_box_is_explained_and_changes_nothing(r, prefix):
    panel = ProducerPanel(r, prefix + "s")
    panel.sensors_box.value = " , "
    assert "sensors must be one or more" in panel.status.value
    assert panel.producer.sensors == ("sensor1", "sensor2", "sensor3")


def test_key_of_another_type_is_explained_in_the_status_line(r, prefix):
    r.set(prefix + "s", "text")
    panel = ProducerPanel(r, prefix + "s")
    panel.start_button.click()
    assert "WRONGTYPE" in panel.status.value
    assert not panel.producer.running
    with pytest.raises(ValueError, match="WRONGTYPE"):
        panel.start()
    assert streamlab_threads() == []
    assert r.get(prefix + "s") == "text"


def test_rerunning_the_cell_ten_times_leaves_one_producer_and_one_refresher(r, prefix):
    panels = [ProducerPanel(r, prefix + "s", rate=20).start() for _ in range(10)]
    try:
        name = panels[-1].producer.name
        assert streamlab_threads() == [f"streamlab-panel:{name}:refresh", f"streamlab-{name}"]
        assert all(not p.producer.running for p in panels[:-1])
        assert "replaced by a newer panel" in panels[0].status.value
        with pytest.raises(RuntimeError, match="make a new one"):
            panels[0].start()
    finally:
        panels[-1].stop()
    assert streamlab_threads() == []


def test_refresher_stops_by_itself_when_the_producer_fails(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=50).start()
    try:
        assert wait_until(lambda: panel.producer.sent >= 1)
        r.delete(prefix + "s")
        r.set(prefix + "s", "x")
        assert wait_until(lambda: streamlab_threads() == [], timeout=5)
        assert "failed" in panel.status.value and "WRONGTYPE" in panel.status.value
    finally:
        panel.stop()


def test_close_frees_the_name_and_closes_the_widgets(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=50).start()
    panel.close()
    assert streamlab_threads() == []
    assert panel.widget.comm is None


def test_html_table_escapes_values():
    assert "&lt;b&gt;" in table_html([{"x": "<b>"}])


def test_panel_shows_reconnecting_then_carries_on():
    if sl_server.find_server_binary() is None:
        pytest.skip("no redis-server or valkey-server on PATH to restart")
    first = sl_server.PrivateServer().start()
    second = None
    client = sl.connect(first.url, quiet=True)
    panel = ProducerPanel(client, "streamlab:test:panel-outage", rate=100)
    try:
        panel.start()
        assert wait_until(lambda: panel.producer.sent >= 5)
        port = first.port
        first.stop()
        assert wait_until(lambda: "reconnecting" in panel.status.value, timeout=10)
        sent = panel.producer.sent
        second = sl_server.PrivateServer(port=port).start()
        assert wait_until(lambda: panel.producer.sent > sent + 5 and "running" in panel.status.value,
                          timeout=15)
    finally:
        panel.stop()
        client.close()
        first.stop()
        if second is not None:
            second.stop()


def test_panel_on_a_key_of_another_type_says_so_when_drawn(r, prefix):
    r.set(prefix + "s", "text")
    panel = ProducerPanel(r, prefix + "s")
    assert "WRONGTYPE" in panel.status.value
    assert "<b>XLEN</b> ?" in panel.counters.value


def test_counters_redraw_by_themselves_while_running(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=100).start()
    try:
        first = panel.counters.value
        assert wait_until(lambda: panel.counters.value != first and panel.xlen, timeout=5)
        assert "running" in panel.status.value
    finally:
        panel.stop()


def test_the_producer_panel_shows_sent_at_as_a_time_of_day():
    from datetime import datetime

    from streamlab.ui.producer_panel import tail_rows

    at = datetime(2026, 11, 30, 14, 3, 27, 412_000).timestamp()
    rows = tail_rows([("1-0", {"seq": "1", "sent_at": f"{at:.6f}"}), ("2-0", {"sent_at": "soon"})])
    assert rows[0] == {"id": "1-0", "seq": "1", "sent_at": "14:03:27.412"}
    assert rows[1]["sent_at"] == "soon"  # not a time: shown as it is
