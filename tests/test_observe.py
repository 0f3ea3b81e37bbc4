"""Sampler and lag: the lag series means the same on every backend and the window stays bounded."""

from __future__ import annotations

import time

import pytest

from streamlab import observe
from streamlab.consumers import ConsumerPool
from streamlab.producer import Producer
from helpers import wait_until


def test_lag_series_reaches_zero_after_the_producer_stops(r, prefix):
    stream = prefix + "s"
    pool = ConsumerPool(r, stream, "g", consumers=3, seconds=0.001, start_id="0", name=prefix + "p")
    sampler = observe.Sampler(r, stream, "g", pool=pool, interval=0.05, name=prefix + "sampler")
    producer = Producer(r, stream, rate=300, name=prefix + "producer")
    producer.burst(200)  # a backlog before anyone reads: the lag starts high
    sampler.start()
    pool.start()
    producer.start()
    try:
        time.sleep(1.0)
        producer.stop()
        stopped_at = time.monotonic() - sampler.t0

        def drained_and_sampled_after_the_stop():
            # A sample from before the last XADD could say lag 0 too early; the pool
            # counts an entry just after its XACK, so wait for the count as well.
            frame = sampler.stream_frame()
            last = frame.iloc[-1] if len(frame) else None
            return (last is not None and last["t"] > stopped_at and last["lag"] == 0
                    and last["pending"] == 0 and pool.total_processed == producer.sent)

        assert wait_until(drained_and_sampled_after_the_stop, timeout=20)
    finally:
        producer.stop()
        pool.stop()
        sampler.stop()
    frame = sampler.stream_frame()
    assert frame["lag"].max() > 0
    assert frame["lag"].iloc[-1] == 0
    assert pool.total_processed == producer.sent
    assert set(frame["lag_source"]) <= {"server", "counters", "xrange", "none"}


def test_lag_from_xinfo_when_the_server_reports_it(r, prefix):
    stream = prefix + "s"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    for i in range(5):
        r.xadd(stream, {"i": i})
    r.xreadgroup("g", "c", {stream: ">"}, count=2)
    row = observe.group_info(r, stream, "g")
    assert observe.lag_of(r, stream, row, r.xinfo_stream(stream)) == (3, "server")


def test_lag_is_computed_the_same_when_the_server_gives_none(r, prefix):
    stream = prefix + "s"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    ids = [r.xadd(stream, {"i": i}) for i in range(6)]
    r.xreadgroup("g", "c", {stream: ">"}, count=2)
    row = dict(observe.group_info(r, stream, "g"), lag=None)  # as a server that cannot tell says it
    assert observe.lag_of(r, stream, row, r.xinfo_stream(stream)) == (4, "counters")
    r.xdel(stream, ids[4])  # a deletion makes the counters unreliable: count instead
    assert observe.lag_of(r, stream, row, r.xinfo_stream(stream)) == (3, "xrange")
    older = {k: v for k, v in row.items() if k != "entries-read"}  # Redis 6 has no counters
    assert observe.lag_of(r, stream, older, {}) == (3, "xrange")


def test_count_after_counts_entries_newer_than_an_id(r, prefix):
    stream = prefix + "s"
    ids = [r.xadd(stream, {"i": i}) for i in range(4)]
    assert observe.count_after(r, stream, "0-0") == 4
    assert observe.count_after(r, stream, ids[1]) == 2
    assert observe.count_after(r, stream, ids[-1]) == 0
    assert observe.count_after(r, stream, "0-0", cap=3) == 3


def test_sampling_before_the_stream_exists_gives_an_empty_row(r, prefix):
    sampler = observe.Sampler(r, prefix + "missing", "g", name=prefix + "sampler")
    row = sampler.sample()
    assert row["xlen"] == 0 and row["lag"] is None and row["lag_source"] == "none"


def test_sampler_window_stays_bounded(r, prefix):
    stream = prefix + "s"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    sampler = observe.Sampler(r, stream, "g", interval=0.01, window=0.1, name=prefix + "sampler")
    for _ in range(100):
        sampler.sample()
    assert sampler.samples == 100
    assert len(sampler.stream_frame()) == 11
    assert sampler.memory_rows == 22


def test_consumer_frame_has_pending_processed_and_throughput(r, prefix):
    stream = prefix + "s"
    pool = ConsumerPool(r, stream, "g", consumers=2, seconds=0, start_id="0", name=prefix + "p")
    pool.create_group()
    for i in range(6):
        r.xadd(stream, {"i": i})
    r.xreadgroup("g", "c1", {stream: ">"}, count=2)  # c1 holds two entries, unacked
    sampler = observe.Sampler(r, stream, "g", pool=pool, name=prefix + "sampler")
    sampler.sample()
    pool.pause("c1")  # so c2 does all the work: its count is known, c1's stays 0
    pool.start()
    try:
        for i in range(6, 12):
            r.xadd(stream, {"i": i})
        assert wait_until(lambda: pool.processed.get("c2", 0) == 10)  # the 4 left + 6 new
    finally:
        pool.stop()
    sampler.sample()
    frame = sampler.consumer_frame()
    first = frame[frame["t"] == frame["t"].min()].set_index("consumer")
    last = frame[frame["t"] == frame["t"].max()].set_index("consumer")
    assert first.loc["c1", "pending"] == 2 and first.loc["c1", "processed"] == 0
    assert last.loc["c1", "pending"] == 2
    assert last.loc["c1", "processed"] == 0
    assert last.loc["c2", "pending"] == 0
    assert last.loc["c2", "processed"] == 10
    assert last.loc["c2", "throughput"] > 0
    assert last.loc["c1", "throughput"] == 0
    assert list(sampler.wide("pending").columns) == ["c1", "c2"]


def test_bad_interval_is_refused(r, prefix):
    with pytest.raises(ValueError, match="positive number of seconds"):
        observe.Sampler(r, prefix + "s", "g", interval=0)
