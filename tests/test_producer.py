"""The sensor producer: pacing, bursts, trimming, entry fields, the registry, bad input, outages."""

from __future__ import annotations

import threading
import time

import pytest

import streamlab as sl
from streamlab import server as sl_server
from streamlab.producer import Producer
from helpers import wait_until

FIELDS = {"sensor_id", "temp", "humidity", "seq", "sent_at"}


def threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"streamlab-{name}" and t.is_alive()]


def test_rate_200_for_one_second_sends_about_200(r, prefix):
    p = Producer(r, prefix + "s", rate=200)
    p.run_for(1)
    assert 100 <= r.xlen(prefix + "s") <= 300
    assert p.sent == r.xlen(prefix + "s")
    assert 100 <= p.achieved_rate <= 300
    assert p.status == "stopped"


def test_rate_1_sends_the_first_entry_at_once(r, prefix):
    Producer(r, prefix + "s", rate=1).run_for(0.3)
    assert r.xlen(prefix + "s") == 1


def test_burst_adds_exactly_n(r, prefix):
    p = Producer(r, prefix + "s")
    p.burst(1234)
    assert r.xlen(prefix + "s") == 1234
    assert p.sent == 1234
    assert p.last_id == r.xrevrange(prefix + "s", count=1)[0][0]


def test_maxlen_caps_the_stream(r, prefix):
    p = Producer(r, prefix + "s", maxlen=50)
    p.burst(300)
    assert r.xlen(prefix + "s") == 50
    assert r.xrange(prefix + "s", count=1)[0][1]["seq"] == "251"  # the oldest were trimmed


def test_every_entry_has_the_documented_fields(r, prefix):
    before = time.time()
    Producer(r, prefix + "s", sensors=("a", "b")).burst(10)
    entries = r.xrange(prefix + "s")
    assert [set(fields) for _, fields in entries] == [FIELDS] * 10
    assert [int(f["seq"]) for _, f in entries] == list(range(1, 11))
    assert [f["sensor_id"] for _, f in entries] == ["a", "b"] * 5
    for _, f in entries:
        assert 18 <= float(f["temp"]) <= 26
        assert 30 <= float(f["humidity"]) <= 70
        assert before - 1 <= float(f["sent_at"]) <= time.time() + 1


def test_seq_carries_on_after_a_restart(r, prefix):
    p = Producer(r, prefix + "s", rate=100)
    p.burst(3)
    p.run_for(0.2)
    seqs = [int(f["seq"]) for _, f in r.xrange(prefix + "s")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_custom_payload_keeps_seq_and_sent_at(r, prefix):
    p = Producer(r, prefix + "s", payload=lambda sensor, seq: {"device": sensor, "n": seq * 2})
    p.burst(2)
    _, fields = r.xrange(prefix + "s")[1]
    assert fields["device"] == "sensor2" and fields["n"] == "4" and fields["seq"] == "2"
    assert "sent_at" in fields


def test_second_producer_with_the_same_name_stops_the_first(r, prefix):
    first = Producer(r, prefix + "s", rate=50, name="test-producer").start()
    second = Producer(r, prefix + "s", rate=50, name="test-producer").start()
    try:
        assert not first.running
        assert second.running
        assert len(threads_named("test-producer")) == 1
    finally:
        second.stop()


def test_rerunning_ten_times_leaves_one_live_thread(r, prefix):
    producers = [Producer(r, prefix + "s", rate=20).start() for _ in range(10)]
    try:
        assert len(threads_named(producers[0].name)) == 1
        assert [p.running for p in producers] == [False] * 9 + [True]
    finally:
        producers[-1].stop()


def test_stop_leaves_no_thread(r, prefix):
    p = Producer(r, prefix + "s", rate=500, name="test-stop").start()
    assert wait_until(lambda: p.sent > 0)
    p.stop()
    assert not p.running
    # The thread is gone (checked next), so nothing can be sent after this point.
    assert threads_named("test-stop") == []
    assert p.sent == r.xlen(prefix + "s") > 0


def test_rate_can_change_while_running(r, prefix):
    p = Producer(r, prefix + "s", rate=1).start()
    try:
        p.rate = 500
        assert wait_until(lambda: p.sent >= 50, timeout=5)
    finally:
        p.stop()


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=0), "between 1 and 10,000"),
    (dict(rate=20_000), "between 1 and 10,000"),
    (dict(rate="fast"), "number of messages per second"),
    (dict(sensors=()), "sensors must be one or more"),
    (dict(sensors=("a", "")), "sensors must be one or more"),
    (dict(maxlen=0), "maxlen must be"),
    (dict(payload="json"), "payload must be a function"),
])
def test_bad_settings_are_refused_with_a_clear_message(r, prefix, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Producer(r, prefix + "s", **kwargs)


@pytest.mark.parametrize("stream", ["", "   ", None])
def test_empty_stream_name_is_refused(r, stream):
    with pytest.raises(ValueError, match="non-empty key name"):
        Producer(r, stream)


def test_bad_rate_change_leaves_the_rate_as_it_was(r, prefix):
    p = Producer(r, prefix + "s", rate=10)
    with pytest.raises(ValueError, match="between 1 and 10,000"):
        p.rate = 0.5
    assert p.rate == 10


def test_bad_burst_size_is_refused(r, prefix):
    with pytest.raises(ValueError, match="whole number"):
        Producer(r, prefix + "s").burst(-1)
    assert r.exists(prefix + "s") == 0


def test_key_of_another_type_gives_the_wrongtype_explanation(r, prefix):
    r.set(prefix + "s", "not a stream")
    p = Producer(r, prefix + "s", name="test-wrongtype")
    with pytest.raises(ValueError, match=r"WRONGTYPE: the key .* holds a string, not a stream"):
        p.start()
    with pytest.raises(ValueError, match="WRONGTYPE"):
        p.burst(5)
    assert not p.running
    assert r.get(prefix + "s") == "not a stream"  # nothing lost


def test_key_changing_type_mid_run_fails_with_the_error_kept(r, prefix):
    p = Producer(r, prefix + "s", rate=50).start()
    try:
        assert wait_until(lambda: p.sent >= 1)
        r.delete(prefix + "s")
        r.set(prefix + "s", "x")
        assert wait_until(lambda: p.status == "failed", timeout=5)
        assert "WRONGTYPE" in str(p.error)
        assert p.errors == 1
        assert not p.running
    finally:
        p.stop()


def test_retarget_checks_before_changing(r, prefix):
    p = Producer(r, prefix + "s")
    with pytest.raises(ValueError, match="non-empty key name"):
        p.retarget("", "x, y")
    assert p.stream == prefix + "s" and p.sensors == ("sensor1", "sensor2", "sensor3")
    p.retarget(prefix + "t", "x, y")
    p.burst(2)
    assert [f["sensor_id"] for _, f in r.xrange(prefix + "t")] == ["x", "y"]


@pytest.mark.timeout(90)
def test_producer_survives_the_server_going_away(tmp_path):
    if sl_server.find_server_binary() is None:
        pytest.skip("no redis-server or valkey-server on PATH to restart")
    first = sl_server.PrivateServer().start()
    second = None
    client = sl.connect(first.url, quiet=True)
    p = Producer(client, "streamlab:test:outage", rate=100, name="test-outage")
    try:
        p.start()
        assert wait_until(lambda: p.sent >= 10)
        port = first.port
        first.stop()
        assert wait_until(lambda: p.status == "reconnecting", timeout=10)
        sent_during_outage = p.sent
        second = sl_server.PrivateServer(port=port).start()
        assert wait_until(lambda: p.status == "running" and p.sent > sent_during_outage + 10,
                          timeout=15)
        assert client.xlen("streamlab:test:outage") >= 10  # the new, empty server got entries
        assert p.reconnects >= 1
    finally:
        p.stop()
        client.close()
        first.stop()
        if second is not None:
            second.stop()


def test_approximate_maxlen_trims_whole_nodes_only(r, prefix):
    p = Producer(r, prefix + "s", maxlen=50, approximate=True)
    p.burst(1000)
    assert 50 <= r.xlen(prefix + "s") < 1000


def test_payload_that_is_not_a_dict_is_explained(r, prefix):
    p = Producer(r, prefix + "s", payload=lambda sensor, seq: [sensor, seq])
    with pytest.raises(ValueError, match="payload must return a dict"):
        p.burst(1)
    assert r.exists(prefix + "s") == 0


def test_a_burst_counts_as_sent_but_not_in_the_paced_rate(r, prefix):
    """The panel shows "achieved (paced)" next to the rate slider: a burst of 2,000 sent as
    fast as the server takes them must not make a 20-a-second producer read 1,400 msgs/s."""
    p = Producer(r, prefix + "s", rate=20)
    p.burst(2_000)
    assert p.sent == 2_000 and p.achieved_rate == 0.0  # no paced run yet
    p.run_for(1)
    assert p.sent > 2_000
    assert 5 <= p.achieved_rate <= 40
