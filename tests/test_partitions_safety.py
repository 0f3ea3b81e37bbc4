"""The partitioned consumer (``streamlab consume --partitions``) has the plain consumer's protections:
one alert per reading even after a claim, a failing alert write leaves the entry pending (then
dead-lettered), deleted-while-pending entries, stop with ``--block 0``, option checks before Redis.

Single server here (fakeredis and real); the same checks on a real cluster are in test_cluster.py.
"""

from __future__ import annotations

import threading

import pytest
import redis

from streamlab import groups, partitions, programs
from streamlab.cli import main

from helpers import wait_until


def hot_entry_held_by_w1(r, base: str, p: int = 0):
    """One reading above 25 in partition p, delivered to w1 (who then stalls), claimed by w2."""
    stream = partitions.partition_key(base, p)
    groups.ensure_group(r, stream, "workers", "0")
    entry = r.xadd(stream, {"sensor_id": "s.0", "temp": "31.5", "seq": "1"})
    r.xreadgroup("workers", "w1", {stream: ">"}, count=1)
    r.xclaim(stream, "workers", "w2", min_idle_time=0, message_ids=[entry])
    return stream, entry


def claim_race(r, base: str) -> tuple[partitions.PartitionStats, str]:
    """w2 (the claimer) runs the partitioned consumer; then w1 finishes the reading it was holding."""
    stream, entry = hot_entry_held_by_w1(r, base)
    stats = partitions.consume(r, "workers", "w2", base, 1, block_ms=50, count=5, alert_above=25,
                               ledger=True, idle_exit=0.2, out=lambda _: None)
    late = programs.process_entry(r, stream, "workers", entry, {"sensor_id": "s.0", "temp": "31.5",
                                                                 "seq": "1"},
                                  25.0, partitions.partition_key(base, 0, "alerts"), 0.0,
                                  partitions.partition_key(base, 0, "done"))
    return stats, late


def test_a_claimed_reading_gets_one_alert_and_one_ledger_record(r, prefix):
    base = prefix + "sensors"
    stats, late = claim_race(r, base)
    assert stats.total == 1 and stats.alerts == 1 and stats.recovered == 1
    assert late == "duplicate"  # w1's late finish found the entry acked: no second effect
    assert r.xlen(partitions.partition_key(base, 0, "alerts")) == 1
    assert r.xlen(partitions.partition_key(base, 0, "done")) == 1
    assert r.xpending(partitions.partition_key(base, 0), "workers")["pending"] == 0


def test_a_failing_alert_write_leaves_the_entry_pending_then_dead_letters_it(r, prefix):
    base = prefix + "sensors"
    stream = partitions.partition_key(base, 0)
    alerts, done = (partitions.partition_key(base, 0, kind) for kind in ("alerts", "done"))
    groups.ensure_group(r, stream, "workers", "0")
    entry = r.xadd(stream, {"sensor_id": "s.0", "temp": "31.5", "seq": "1"})
    r.set(alerts, "not a stream")  # the alert XADD fails with WRONGTYPE
    r.xreadgroup("workers", "w1", {stream: ">"}, count=1)
    # The script itself: an error, nothing written, the entry still pending.
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        programs.effects_and_ack(r, stream, "workers", entry,
                                 [(alerts, {"temp": "31.5"}), (done, {"seq": "1"})])
    assert r.xpending(stream, "workers")["pending"] == 1 and r.xlen(done) == 0
    # The consumer: fails it (left pending), retries, dead-letters it past the limit.
    lines = []
    stats = partitions.consume(r, "workers", "w1", base, 1, block_ms=50, alert_above=25, ledger=True,
                               max_deliveries=2, retry_after=0.05, idle_exit=0.2, out=lines.append)
    assert stats.failed >= 1 and stats.dead_lettered == 1 and stats.total == 0
    assert any("left pending" in line and "WRONGTYPE" in line for line in lines)
    dead = r.xrange(partitions.partition_key(base, 0, "dead"))
    assert [f["original_id"] for _, f in dead] == [entry]
    assert r.get(alerts) == "not a stream" and r.xlen(done) == 0  # nothing half-written
    assert r.xpending(stream, "workers")["pending"] == 0


def test_an_entry_deleted_while_pending_is_acked_not_processed(r, prefix):
    base = prefix + "sensors"
    stream = partitions.partition_key(base, 0)
    groups.ensure_group(r, stream, "workers", "0")
    gone = r.xadd(stream, {"sensor_id": "s.0", "temp": "20", "seq": "1"})
    r.xadd(stream, {"sensor_id": "s.0", "temp": "21", "seq": "2"})
    r.xreadgroup("workers", "w1", {stream: ">"}, count=2)
    r.xdel(stream, gone)
    lines = []
    stats = partitions.consume(r, "workers", "w1", base, 1, block_ms=50, count=5, ledger=True,
                               idle_exit=0.2, out=lines.append)
    assert stats.deleted == 1 and stats.total == 1 and stats.recovered == 1
    assert [f["seq"] for _, f in r.xrange(partitions.partition_key(base, 0, "done"))] == ["2"]
    assert any(gone in line and "deleted" in line for line in lines)


def test_block_0_still_stops_when_asked(r, prefix):
    stop = programs.SignalStop()
    finished = threading.Event()
    result = {}

    def run():
        result["stats"] = partitions.consume(r, "workers", "w1", prefix + "s", 2, block_ms=0,
                                             stop=stop, out=lambda _: None)
        finished.set()

    t = threading.Thread(target=run)
    t.start()
    stream = partitions.partition_key(prefix + "s", 1)
    wait_until(lambda: r.exists(stream) and r.xinfo_groups(stream), timeout=20)
    stop.set()
    assert finished.wait(30), "consume --block 0 did not stop after the stop signal"
    t.join()
    assert result["stats"].total == 0


def test_the_whole_batch_is_finished_on_a_graceful_stop(r, prefix):
    base = prefix + "sensors"
    partitions.produce(r, "s", base, 1, keys=1, rate=1e6, count=5, out=lambda _: None)
    stop = programs.SignalStop()
    lines = []

    def out(line):
        lines.append(line)
        if "processed" in line and not stop.is_set():
            stop.set()  # the first signal arrives while the first entry of a batch of 5 is done

    stats = partitions.consume(r, "workers", "w1", base, 1, block_ms=50, count=5, stop=stop,
                               report_each=True, out=out)
    assert stats.total == 5
    assert r.xpending(partitions.partition_key(base, 0), "workers")["pending"] == 0


@pytest.mark.parametrize("argv, message", [
    (["consume", "g", "c", "--partitions", "0"], "--partitions must be at least 1"),
    (["consume", "g", "c", "--partitions", "2", "--member", "3/3"], "owns none"),
    (["consume", "g", "c", "--partitions", "2", "--count", "0"], "--count"),
    (["consume", "g", "c", "--partitions", "2", "--stream", "a{x}"], "brace"),
    (["produce", "s1", "--partitions", "2", "--keys", "0"], "--keys"),
    (["produce", "s1", "--partitions", "-1"], "--partitions must be at least 1"),
])
def test_cli_partition_options_are_checked_before_redis(argv, message, capsys, monkeypatch):
    # An address where nothing listens: a check that ran after connecting would say so instead.
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(argv + ["--url", "redis://127.0.0.1:1/0"]) == 2
    assert message in capsys.readouterr().err
