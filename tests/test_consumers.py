"""ConsumerPool: work is shared, acked once, ordered (or not) as the lesson says, on both backends."""

from __future__ import annotations

import threading

import pytest
import redis

from streamlab import consumers as C
from streamlab import ids as stream_ids
from streamlab.keys import partition_of

from helpers import wait_until


def add_entries(r, stream, n, sensors=("s1", "s2", "s3")):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(stream, {"sensor_id": sensors[i % len(sensors)], "seq": i + 1})
    return pipe.execute()


def run_until_done(pool, n, timeout=20):
    pool.start()
    try:
        assert wait_until(lambda: pool.total_processed >= n, timeout), \
            f"only {pool.total_processed} of {n} processed"
    finally:
        pool.stop()


def test_three_consumers_process_every_entry_exactly_once(r, prefix):
    stream = prefix + "s"
    ids = add_entries(r, stream, 300)
    pool = C.ConsumerPool(r, stream, "g", consumers=3, seconds=0.001, start_id="0", name=prefix + "p")
    run_until_done(pool, 300)
    frame = pool.ordering_frame()
    assert sorted(frame["entry_id"], key=stream_ids.parse) == ids
    assert frame["entry_id"].is_unique
    assert pool.total_processed == 300 == sum(pool.processed.values())
    assert all(pool.processed[name] > 0 for name in ("c1", "c2", "c3"))
    assert r.xpending(stream, "g")["pending"] == 0


def test_one_consumer_completes_in_stream_order(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 100)
    pool = C.ConsumerPool(r, stream, "g", consumers=1, seconds=0, start_id="0", name=prefix + "p")
    run_until_done(pool, 100)
    frame = pool.ordering_frame()
    assert pool.out_of_order == 0
    assert not frame["out_of_order"].any()
    assert list(frame["position"]) == list(frame["completion"] - 1)


def test_uneven_consumers_complete_out_of_order(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 120)
    pool = C.ConsumerPool(r, stream, "g", consumers=3, processing="one-slow", seconds=0.002,
                          start_id="0", name=prefix + "p")
    run_until_done(pool, 120)
    frame = pool.ordering_frame()
    assert pool.out_of_order > 0
    assert int(frame["out_of_order"].sum()) == pool.out_of_order
    # Every flagged completion really has a larger ID completed before it.
    ids = [stream_ids.parse(i) for i in frame["entry_id"]]
    for row, late in enumerate(frame["out_of_order"]):
        assert late == any(earlier > ids[row] for earlier in ids[:row])


def test_group_from_dollar_skips_existing_entries(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 5)
    pool = C.ConsumerPool(r, stream, "g", consumers=1, seconds=0, start_id="$", name=prefix + "p")
    pool.start()
    try:
        # No "wait and see that nothing came": the entries added next come after the old ones,
        # so a group that started at 0 would hand out the old ones first, and the first three
        # completions would not be the new entries.
        new = add_entries(r, stream, 3)
        assert wait_until(lambda: pool.total_processed >= 3, 15)
    finally:
        pool.stop()
    assert list(pool.ordering_frame()["entry_id"]) == new
    assert pool.total_processed == 3


def test_creating_an_existing_group_does_not_rewind_it(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 10)
    pool = C.ConsumerPool(r, stream, "g", consumers=1, seconds=0, start_id="0", name=prefix + "p")
    run_until_done(pool, 10)
    again = C.ConsumerPool(r, stream, "g", consumers=1, seconds=0, start_id="0", name=prefix + "p")
    assert again.create_group() is False  # BUSYGROUP: left where it was
    again.start()
    try:
        # Positive signal first: a new entry arrives. Had the group been rewound, the ten old
        # entries (earlier in the stream) would be delivered before it.
        [new] = add_entries(r, stream, 1)
        assert wait_until(lambda: again.total_processed >= 1, 15)
    finally:
        again.stop()
    assert list(again.ordering_frame()["entry_id"]) == [new]


def test_pool_creates_a_missing_stream(r, prefix):
    pool = C.ConsumerPool(r, prefix + "new", "g", consumers=1, name=prefix + "p")
    assert pool.create_group() is True
    assert r.exists(prefix + "new") == 1
    assert r.xinfo_groups(prefix + "new")[0]["name"] == "g"


def test_paused_consumer_reads_nothing_while_others_work(r, prefix):
    stream = prefix + "s"
    pool = C.ConsumerPool(r, stream, "g", consumers=2, seconds=0, start_id="0", name=prefix + "p")
    pool.pause("c1")
    add_entries(r, stream, 50)
    run_until_done(pool, 50)
    assert pool.processed["c1"] == 0
    assert pool.processed["c2"] == 50


def test_consumers_can_be_added_and_removed_while_running(r, prefix):
    stream = prefix + "s"
    pool = C.ConsumerPool(r, stream, "g", consumers=1, seconds=0.001, start_id="0", name=prefix + "p")
    pool.start()
    try:
        name = pool.add_consumer()
        assert name == "c2" and pool.consumers[name].running
        add_entries(r, stream, 100)
        assert wait_until(lambda: pool.total_processed == 100, 15)
        assert pool.remove_consumer() == "c2"
        assert "c2" not in pool.consumers
        add_entries(r, stream, 20)
        assert wait_until(lambda: pool.total_processed == 120, 15)
    finally:
        pool.stop()
    assert pool.processed["c2"] > 0, "the added consumer took a share"
    assert pool.processed["c1"] + pool.processed["c2"] == 120, "every entry counted once, c2's too"


def test_removing_with_delete_runs_delconsumer(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 10)
    pool = C.ConsumerPool(r, stream, "g", consumers=2, seconds=0, start_id="0", name=prefix + "p")
    run_until_done(pool, 10)
    pool.remove_consumer("c2", delete=True)
    names = {c["name"] for c in r.xinfo_consumers(stream, "g")}
    assert "c2" not in names


def test_records_are_capped_but_totals_stay_exact(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 200)
    pool = C.ConsumerPool(r, stream, "g", consumers=2, seconds=0, start_id="0", record_cap=50,
                          name=prefix + "p")
    run_until_done(pool, 200)
    frame = pool.ordering_frame()
    assert len(frame) == 50
    assert pool.total_processed == 200
    assert list(frame["completion"]) == list(range(151, 201))


def test_restarted_consumer_finishes_its_own_pending_entries_first(r, prefix):
    stream = prefix + "s"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    ids = add_entries(r, stream, 5)
    r.xreadgroup("g", "c1", {stream: ">"}, count=3)  # read, never acked: pending for c1
    pool = C.ConsumerPool(r, stream, "g", consumers=1, seconds=0, name=prefix + "p")
    run_until_done(pool, 5)
    assert list(pool.ordering_frame()["entry_id"][:3]) == ids[:3]
    assert r.xpending(stream, "g")["pending"] == 0


class FailingConsumer(C.Consumer):
    """Fails entries whose seq is a multiple of 5; crashes on seq 13."""

    def process(self, entry_id, fields):
        if fields["seq"] == "13":
            raise C.ConsumerCrashed("killed")
        if int(fields["seq"]) % 5 == 0:
            raise ValueError("bad reading")


def test_failed_entries_stay_pending_and_a_crash_ends_the_consumer(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 20)
    events = []
    pool = C.ConsumerPool(r, stream, "g", consumers=1, start_id="0", name=prefix + "p",
                          consumer_class=FailingConsumer)
    pool.listeners.append(events.append)
    pool.start()
    worker = pool.consumers["c1"]
    assert wait_until(lambda: not worker.running, 15)
    pool.stop()
    assert worker.status == "crashed"
    assert pool.total_processed == 10  # seq 1..12 minus 5 and 10
    assert pool.failures["c1"] == 2
    kinds = [e.kind for e in events]
    assert kinds.count("read") == 13 and kinds.count("acked") == 10 and kinds[-1] == "crashed"
    assert r.xpending(stream, "g")["pending"] == 3  # 5, 10 and the crash on 13


def test_route_by_key_keeps_each_keys_order(r, prefix):
    partitions = [prefix + f"p{i}" for i in range(3)]
    sensors = [f"sensor{i}" for i in range(9)]
    pipe = r.pipeline(transaction=False)
    for i in range(180):
        sensor = sensors[i % len(sensors)]
        pipe.xadd(partitions[partition_of(sensor, 3)], {"sensor_id": sensor, "seq": i})
    pipe.execute()
    pool = C.ConsumerPool(r, partitions, "g", consumers=3, processing="one-slow", seconds=0.001,
                          start_id="0", route_by_key=True, name=prefix + "p")
    run_until_done(pool, 180)
    assert pool.key_out_of_order == 0
    frame = pool.ordering_frame()
    assert frame.groupby("key")["consumer"].nunique().max() == 1


def test_starting_a_pool_again_stops_the_previous_one(r, prefix):
    stream = prefix + "s"
    first = C.ConsumerPool(r, stream, "g", consumers=2, name=prefix + "p").start()
    second = C.ConsumerPool(r, stream, "g", consumers=1, name=prefix + "p").start()
    try:
        assert not first.running
        assert second.running
    finally:
        second.stop()


def test_set_mode_gives_one_consumer_the_slow_time(r, prefix):
    pool = C.ConsumerPool(r, prefix + "s", "g", consumers=3, name=prefix + "p")
    pool.set_mode("one-slow", 0.002)
    assert [c.processing.mean for c in pool.consumers.values()] == pytest.approx([0.02, 0.002, 0.002])
    pool.set_processing(C.ProcessingTime.uniform(0.001, 0.003), consumer="c2")
    assert str(pool.consumers["c2"].processing) == "uniform 1-3 ms"


@pytest.mark.parametrize("make, message", [
    (lambda: C.processing_plan("sometimes", 0.1, 2), "not one of fixed, random, one-slow"),
    (lambda: C.ProcessingTime.fixed(-1), "cannot be negative"),
    (lambda: C.ProcessingTime.uniform(0.5, 0.1), "low <= high"),
])
def test_bad_processing_settings_say_what_is_wrong(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_consumer_names_the_ones_that_exist(r, prefix):
    pool = C.ConsumerPool(r, prefix + "s", "g", consumers=2, name=prefix + "p")
    with pytest.raises(ValueError, match="it has: c1, c2"):
        pool.pause("c9")


def test_stop_leaves_no_consumer_thread(r, prefix):
    pool = C.ConsumerPool(r, prefix + "s", "g", consumers=3, name=prefix + "p").start()
    pool.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith(f"streamlab-{prefix}p")]


class AlwaysFailsOnFirst(C.Consumer):
    """Fails the entry with seq 1 every time it is delivered."""

    def process(self, entry_id, fields):
        if fields["seq"] == "1":
            raise ValueError("poison")


def test_a_pending_entry_that_keeps_failing_does_not_block_new_work(r, prefix):
    stream = prefix + "s"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    add_entries(r, stream, 3)
    r.xreadgroup("g", "c1", {stream: ">"}, count=2)  # c1 holds seq 1 and 2 from an earlier run
    pool = C.ConsumerPool(r, stream, "g", consumers=1, start_id="0", name=prefix + "p",
                          consumer_class=AlwaysFailsOnFirst)
    run_until_done(pool, 2)  # seq 2 from its history, then seq 3 as new work
    assert pool.failures["c1"] == 1  # tried once while replaying, not in a loop
    assert r.xpending(stream, "g")["pending"] == 1


def test_several_streams_need_routing(r, prefix):
    with pytest.raises(ValueError, match="route_by_key=True"):
        C.ConsumerPool(r, [prefix + "a", prefix + "b"], "g", consumers=2)


class AckFailsOnceConsumer(C.Consumer):
    """Loses the server once, between processing seq 5 and acking it."""

    lost = False

    def ack(self, stream, entry_id):
        fields = self.client.xrange(stream, entry_id, entry_id)[0][1]
        if fields["seq"] == "5" and not AckFailsOnceConsumer.lost:
            AckFailsOnceConsumer.lost = True
            raise redis.ConnectionError("server went away (simulated)")
        return super().ack(stream, entry_id)


def test_after_a_lost_connection_a_consumer_takes_back_what_it_had_not_acked(r, prefix):
    stream = prefix + "s"
    add_entries(r, stream, 20)
    AckFailsOnceConsumer.lost = False
    pool = C.ConsumerPool(r, stream, "g", consumers=1, start_id="0", name=prefix + "p",
                          consumer_class=AckFailsOnceConsumer)
    run_until_done(pool, 20)
    worker = pool.consumers["c1"]
    assert AckFailsOnceConsumer.lost and worker.reconnects == 1
    assert r.xpending(stream, "g")["pending"] == 0, "the entry read before the outage was acked after it"
    assert pool.total_processed >= 20
