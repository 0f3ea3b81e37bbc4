"""Partitioned streams on one server (fakeredis and real): routing, per-key order, exactly once, alerts."""

from __future__ import annotations

import threading

import pytest

from streamlab import groups, partitions
from streamlab.cli import build_parser
from streamlab.keys import partition_of


def test_produce_then_two_members_consume_everything_once_in_order(r, prefix):
    base, P = prefix + "sensors", 4
    sent = partitions.produce(r, "s", base, P, keys=8, rate=1e6, count=400, out=lambda _: None)
    assert sent == 400
    lines = []
    stats = [partitions.consume(r, "workers", f"w{i}", base, P, member=(i, 2), count=25, block_ms=50,
                                ledger=True, alert_above=25.5, idle_exit=0.3, out=lines.append)
             for i in (1, 2)]
    assert sum(s.total for s in stats) == 400 and all(s.key_out_of_order == 0 for s in stats)
    assert sorted(p for s in stats for p in s.processed) == [0, 1, 2, 3]
    check = partitions.ledger_check(r, base, P, {f"s.{k}": 50 for k in range(8)})
    assert check == {"processed": 400, "missing": 0, "duplicates": 0, "unexpected": 0,
                     "out_of_order": 0, "wrong_partition": 0}
    alerts = sum(r.xlen(partitions.partition_key(base, p, "alerts")) for p in range(P))
    hot = sum(float(f["temp"]) > 25.5 for p in range(P) for _, f in r.xrange(partitions.partition_key(base, p)))
    assert alerts == hot == sum(s.alerts for s in stats)
    assert any("0 out of order per key" in line for line in lines)


def test_a_consumer_restarted_takes_back_its_pending_entries_first(r, prefix):
    base = prefix + "sensors"
    partitions.produce(r, "s", base, 1, keys=2, rate=1e6, count=10, out=lambda _: None)
    stream = partitions.partition_key(base, 0)
    groups.ensure_group(r, stream, "workers", "0")
    r.xreadgroup("workers", "w1", {stream: ">"}, count=4)  # read, then "crashed" before acking
    stats = partitions.consume(r, "workers", "w1", base, 1, count=5, block_ms=50, idle_exit=0.2,
                               out=lambda _: None)
    assert stats.total == 10 and stats.recovered == 4 and stats.key_out_of_order == 0
    assert r.xpending(stream, "workers")["pending"] == 0


def test_stop_flag_ends_every_partition_thread(r, prefix):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    stats = partitions.consume(r, "workers", "w1", prefix + "s", 3, block_ms=50, stop=stop,
                               out=lambda _: None)
    assert stats.total == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("streamlab-partition-")]


def test_cli_options_parse_and_bad_values_are_explained():
    args = build_parser().parse_args(["consume", "workers", "w1", "--partitions", "6", "--member", "2/3",
                                      "--ledger"])
    assert args.partitions == 6 and partitions.parse_member(args.member) == (2, 3) and args.ledger
    args = build_parser().parse_args(["produce", "s1", "--partitions", "6", "--keys", "4"])
    assert args.partitions == 6 and args.keys == 4
    with pytest.raises(ValueError, match="between 1 and 3"):
        partitions.parse_member("4/3")
    with pytest.raises(ValueError, match="owns none"):
        partitions.consume(None, "g", "c", "base", 2, member=(3, 3))
    with pytest.raises(ValueError, match="at least 1"):
        partitions.sensor_names("s", 0)


def test_partition_of_is_crc32_mod_p_and_refuses_fewer_than_one_partition():
    import zlib

    assert [partition_of(f"sensor{i}", 3) for i in range(6)] == [
        zlib.crc32(f"sensor{i}".encode()) % 3 for i in range(6)]
    assert partition_of(7, 5) == partition_of("7", 5)  # a key is routed by its text
    with pytest.raises(ValueError, match="at least 1, got 0"):
        partition_of("sensor1", 0)

