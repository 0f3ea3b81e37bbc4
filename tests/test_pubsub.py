"""Lesson 06's experiment: Pub/Sub forgets what an offline subscriber missed, a stream does not."""

from __future__ import annotations

import re

import pytest

from streamlab import pubsub
from streamlab.ui import PubSubPanel, figures, style
from streamlab import server as sl_server

from helpers import wait_until


def test_offline_subscriber_misses_events_31_to_70_and_the_stream_consumer_gets_all_100(r, prefix):
    result = pubsub.PubSubVsStreams(r, prefix=prefix).run(events=100, offline=(31, 70), rate=None)
    assert result.subscriber_received == 60
    assert result.subscriber_missed == list(range(31, 71))
    assert result.stream_received == 100
    assert result.stream_missed == []
    assert result.table().loc["Pub/Sub subscriber"].tolist() == [60, 40]
    assert result.table().loc["stream consumer group"].tolist() == [100, 0]


def test_with_nobody_offline_both_sides_get_everything(r, prefix):
    result = pubsub.PubSubVsStreams(r, prefix=prefix).run(events=50, offline=None, rate=None)
    assert (result.subscriber_received, result.stream_received) == (50, 50)


def test_stream_consumer_catches_up_in_order_after_coming_back(r, prefix):
    result = pubsub.PubSubVsStreams(r, prefix=prefix).run(events=40, offline=(5, 30), rate=500)
    assert result.stream_seqs == list(range(1, 41))
    assert result.subscriber_seqs == list(range(1, 5)) + list(range(31, 41))


def test_result_plot_has_bars_and_lines(r, prefix):
    result = pubsub.PubSubVsStreams(r, prefix=prefix).run(events=20, offline=(5, 10), rate=None)
    fig = figures.pubsub.result_figure(result)
    bars, lines = fig.axes
    assert len(bars.patches) == 4  # received + missed for each side
    assert {line.get_label() for line in lines.get_lines()} >= {"published", "Pub/Sub subscriber"}
    # The headline states the result the bars show; the run's size goes under it.
    result_line, details = style.headline_text(fig)
    assert result_line == "The Pub/Sub subscriber missed 6 of 20 events; the stream consumer missed 0"
    # The run's parameters as measured: the rate achieved and when the readers were really away.
    times = sorted(result.published_at)
    rate = 19 / (times[-1] - times[0])
    start, end = result.offline_at
    assert details == (f"20 events published at {rate:,.1f}/s · readers offline {start:.1f}–{end:.1f} s"
                       " · offline for events 5–10")


def test_run_rejects_an_offline_window_outside_the_events(r, prefix):
    exp = pubsub.PubSubVsStreams(r, prefix=prefix)
    with pytest.raises(ValueError, match="offline must be"):
        exp.run(events=10, offline=(5, 20))
    with pytest.raises(ValueError, match="at least 1"):
        exp.run(events=0)


def test_message_published_before_subscribe_is_lost(r, prefix):
    channel = prefix + "early"
    assert r.publish(channel, "too early") == 0
    sub = pubsub.Subscriber(r, channel).start()
    try:
        assert r.publish(channel, "on time") == 1
        assert wait_until(lambda: sub.count == 1)
        assert [m["data"] for m in sub.messages] == ["on time"]
    finally:
        sub.stop()


def test_psubscribe_receives_every_matching_channel(r, prefix):
    sub = pubsub.Subscriber(r, patterns=prefix + "sensor:*").start()
    try:
        r.publish(prefix + "sensor:1", "a")
        r.publish(prefix + "other", "b")
        r.publish(prefix + "sensor:2", "c")
        assert wait_until(lambda: sub.count == 2)
        assert [(m["channel"], m["pattern"]) for m in sub.messages] == [
            (prefix + "sensor:1", prefix + "sensor:*"), (prefix + "sensor:2", prefix + "sensor:*")]
    finally:
        sub.stop()


def test_pubsub_fans_out_to_every_subscriber_like_one_group_per_reader(r, prefix):
    channel, stream = prefix + "news", prefix + "news-stream"
    subs = [pubsub.Subscriber(r, channel, name=f"fan-{i}-{prefix}").start() for i in range(3)]
    readers = [pubsub.GroupReader(r, stream, f"group-{i}", name=f"fanr-{i}-{prefix}").start()
               for i in range(3)]
    try:
        for i in range(10):
            assert r.publish(channel, str(i)) == 3
            r.xadd(stream, {"i": i})
        assert wait_until(lambda: all(s.count == 10 for s in subs + readers))
    finally:
        for worker in subs + readers:
            worker.stop()
    assert len(r.xinfo_groups(stream)) == 3


def test_subscriber_stops_and_closes_its_connection(r, prefix):
    # How fast it stops is the benchmark's business; here: stop() returns with the thread ended.
    channel = prefix + "quiet"
    sub = pubsub.Subscriber(r, channel).start()
    assert dict(r.pubsub_numsub(channel))[channel] == 1
    sub.stop()
    assert not sub.running
    assert wait_until(lambda: dict(r.pubsub_numsub(channel))[channel] == 0)


def test_subscriber_needs_something_to_subscribe_to(r):
    with pytest.raises(ValueError, match="at least one channel"):
        pubsub.Subscriber(r)


def test_output_buffer_limit_is_read_with_config_get_on_a_real_server(r):
    limit = pubsub.output_buffer_limit(r)
    if r.backend.is_fake:
        assert limit is None
    else:
        assert limit.startswith("pubsub ") and len(limit.split()) == 4


def test_course_never_reconfigures_a_server_it_did_not_start(r):
    assert not pubsub.may_reconfigure(r)  # the test server is passed by URL


@pytest.mark.skipif(sl_server.find_server_binary() is None, reason="needs redis-server on PATH")
def test_slow_subscriber_is_disconnected_by_the_output_buffer_limit(r):
    before = pubsub.output_buffer_limit(r)
    demo = pubsub.slow_subscriber_demo(r, messages=3000, payload_bytes=4096, hard_limit="256kb")
    assert demo.disconnected
    assert demo.delivered_by_publish < demo.published
    assert demo.subscriber_read <= demo.delivered_by_publish
    assert pubsub.output_buffer_limit(r) == before  # r's own server was never touched
    if r.backend.is_fake:
        assert "no output buffer limit" in demo.note


def test_buffer_limit_report_accounts_for_every_published_message():
    demo = pubsub.BufferLimitDemo("a scratch server", "pubsub 256kb 0 0", published=4000,
                                  delivered_by_publish=1008, subscriber_read=944, disconnected=True)
    text = str(demo)
    # read + dropped from the output buffer + sent to nobody = published
    assert "read nothing" in text
    assert "first 1,008" in text and "read 944" in text
    assert "other 64 (counted by PUBLISH, never read: the server does not say which)" in text
    assert "must still have been in its output buffer" in text  # inferred by subtraction, said so
    assert "last 2,992 went to nobody" in text
    # The chart says the same: one bar whose three parts add up to what was published.
    assert demo.parts() == {"read by the subscriber": 944, "dropped with its connection": 64,
                            "published to nobody": 2992}
    fig = figures.pubsub.buffer_limit_figure(demo)
    widths = [bar.get_width() for bar in fig.axes[0].patches]
    assert widths == [944, 64, 2992]
    assert style.headline_text(fig)[0] == (
        "The slow subscriber read 944 of 4,000; 64 dropped with its connection")
    assert figures.pubsub.buffer_limit_figure(
        pubsub.BufferLimitDemo("not run", "unknown", 0, 0, 0, False, "no limit")) is None


def test_panel_shows_the_subscriber_missing_what_the_stream_reader_catches_up_on(r, prefix):
    panel = PubSubPanel(r, prefix=prefix, rate=100)
    try:
        panel.start()
        assert wait_until(lambda: panel.experiment.published >= 20)
        panel.take_offline()
        offline_at = panel.experiment.published
        assert wait_until(lambda: panel.experiment.published >= offline_at + 20)
        back_at = panel.experiment.published  # before bring_back: the publisher keeps going
        panel.bring_back()
        assert wait_until(lambda: panel.experiment.published >= back_at + 10)
        panel.stop()
        result = panel.result()
        # The band starts when the readers are gone (after they read what was sent to them),
        # not at the click: the subscriber received nothing inside it.
        start, end = result.offline_at
        assert not [t for t in result.subscriber_at if start < t < end]
        assert f"readers offline {start:.1f}–{end:.1f} s" in style.headline_text(figures.pubsub.result_figure(result))[1]
        assert result.stream_received == result.events       # caught up
        assert len(result.subscriber_missed) >= 20             # all sent while away
        assert set(range(offline_at + 1, back_at + 1)) <= set(result.subscriber_missed)
        assert "subscriber missed" in panel.summary()
    finally:
        panel.close()


def test_publisher_rejects_a_silly_rate(r, prefix):
    with pytest.raises(ValueError, match="rate"):
        pubsub.Publisher(pubsub.PubSubVsStreams(r, prefix=prefix), rate=0)


@pytest.mark.skipif(sl_server.find_server_binary() is None, reason="needs redis-server on PATH")
def test_on_a_private_server_the_demo_uses_it_and_restores_its_limit():
    from streamlab import backend as sl_backend

    srv = sl_server.PrivateServer().start()
    try:
        private = sl_backend.Backend(kind="private", url=srv.url, server_name="redis",
                                     version=(7, 0), version_text="7.0", private_server=srv)
        client = sl_backend._make_client(private)
        try:
            assert pubsub.may_reconfigure(client)
            before = pubsub.output_buffer_limit(client)
            demo = pubsub.slow_subscriber_demo(client, messages=3000)
            assert re.match(r"This kernel's private server: (Redis|Valkey) \d+\.\d+", demo.where), demo.where
            assert demo.disconnected and demo.delivered_by_publish < 3000
            assert pubsub.output_buffer_limit(client) == before
        finally:
            client.close()
    finally:
        srv.stop()


@pytest.mark.skipif(sl_server.find_server_binary() is None, reason="needs redis-server on PATH")
def test_the_scratch_server_is_the_binary_the_package_finds_and_the_demo_says_which(r, tmp_path, monkeypatch):
    import os

    chosen = tmp_path / "redis-server-found-by-streamlab"
    os.symlink(sl_server.find_server_binary(), chosen)
    monkeypatch.setattr(sl_server, "find_server_binary", lambda: str(chosen))
    demo = pubsub.slow_subscriber_demo(r, messages=3000, payload_bytes=4096, hard_limit="256kb")
    import re

    assert str(chosen) in demo.where
    assert re.search(r": (Redis|Valkey) \d+\.\d+", demo.where), demo.where  # as HELLO names it
    assert str(chosen) in str(demo)
    if r.backend.server not in demo.where:  # the learner is told the demo ran elsewhere
        assert f"Your own server is {r.backend.server}" in str(demo)
