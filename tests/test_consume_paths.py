"""`streamlab consume`'s loop run in this process: alert, ack, take back, dead-letter, fail, stop.

tests/test_terminal.py runs the programs as a learner does, as separate processes;
these run the same loop (``programs.consume``) in the test process on both
backends, so that each outcome is pinned where a planted mistake is seen
(mutation testing only sees code the test process runs, docs/TESTING.md).
Every run ends by itself (``idle_exit``), and each test checks the server's
state afterwards: what is pending, what was written, what the stats say.
"""

from __future__ import annotations

import threading
import time

import pytest

from streamlab import programs

IDLE = 0.3  # seconds with nothing to read before a run ends by itself


def run(r, stream, group="workers", consumer="w1", **options):
    """``programs.consume`` until idle; (stats, output lines)."""
    lines: list[str] = []
    settings = dict(stream=stream, block_ms=50, idle_exit=IDLE, stop=threading.Event(), out=lines.append)
    settings.update(options)
    stats = programs.consume(r, group, consumer, **settings)
    return stats, lines


def pending(r, stream, group="workers") -> int:
    return r.xpending(stream, group)["pending"]


def test_only_readings_above_the_threshold_alert_and_every_entry_is_acked(r, prefix):
    stream, alerts = prefix + "sensors", prefix + "alerts"
    temps = ["22.9", "23", "23.0", "23.1", "30", "warm"]  # "warm": not a number, never an alert
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": t}) for t in temps]
    stats, lines = run(r, stream, alert_above=23, alerts_stream=alerts)
    assert stats.ids == ids and stats.processed == 6
    assert stats.alerts == 2
    alerted = r.xrange(alerts)
    assert [f["source_id"] for _, f in alerted] == [ids[3], ids[4]], "23 is not above 23"
    assert [f["temp"] for _, f in alerted] == ["23.1", "30"]
    assert all(f["threshold"] == "23.0" and f["sensor_id"] == "s1" for _, f in alerted)
    assert [line for line in lines if "-> ALERT" in line] == [
        f"w1: processed {ids[3]} s1 temp=23.1 -> ALERT", f"w1: processed {ids[4]} s1 temp=30 -> ALERT"]
    assert pending(r, stream) == 0
    assert lines[0] == f"w1: created group workers on {stream}"
    assert lines[-1] == ("w1: stopped after 6 entries (2 alerts, 0 taken back from its pending list, "
                         "0 dead-lettered, 0 found deleted)")


def test_a_reading_without_a_temperature_is_processed_and_never_alerts(r, prefix):
    stream, alerts = prefix + "sensors", prefix + "alerts"
    entry = r.xadd(stream, {"sensor_id": "s1", "humidity": "40"})
    stats, _ = run(r, stream, alert_above=-100, alerts_stream=alerts)
    assert stats.ids == [entry] and stats.alerts == 0 and stats.failed == 0
    assert not r.exists(alerts)


def test_the_pretend_work_takes_its_time_for_each_entry(r, prefix):
    # A lower bound only: a busy machine makes it longer, never shorter.
    stream = prefix + "sensors"
    for _ in range(3):
        r.xadd(stream, {"sensor_id": "s1", "temp": "20"})
    began = time.monotonic()
    stats, _ = run(r, stream, work_seconds=0.2, max_entries=3, idle_exit=None)
    assert stats.processed == 3
    assert time.monotonic() - began >= 0.6


def test_without_a_threshold_nothing_alerts(r, prefix):
    stream = prefix + "sensors"
    r.xadd(stream, {"sensor_id": "s1", "temp": "99"})
    stats, _ = run(r, stream, alerts_stream=prefix + "alerts")
    assert stats.processed == 1 and stats.alerts == 0
    assert not r.exists(prefix + "alerts")


def test_its_own_pending_entries_are_taken_back_first_then_new_ones(r, prefix):
    stream = prefix + "sensors"
    old = [r.xadd(stream, {"sensor_id": "s1", "temp": str(20 + i)}) for i in range(3)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"}, count=3)  # w1 crashed holding all three
    r.xreadgroup("workers", "w2", {stream: ">"})  # nothing left for w2
    new = r.xadd(stream, {"sensor_id": "s1", "temp": "25"})
    stats, lines = run(r, stream, count=2)  # own list read two at a time: the cursor must move on
    assert stats.ids == [*old, new]
    assert stats.recovered == 3 and stats.processed == 4
    assert pending(r, stream) == 0
    assert lines[0] == f"w1: joined group workers on {stream}"


def test_an_entry_deleted_while_pending_is_acked_reported_once_and_not_processed(r, prefix):
    stream = prefix + "sensors"
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": str(20 + i)}) for i in range(4)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"})
    r.xdel(stream, ids[1], ids[2])
    stats, lines = run(r, stream, count=10)  # one batch: the entries after a deleted one still count
    assert stats.ids == [ids[0], ids[3]]
    assert stats.deleted == 2 and stats.processed == 2
    said = [line for line in lines if "deleted from the stream" in line]
    assert said == [f"w1: {i} was deleted from the stream while pending: acked, nothing to process"
                    for i in ids[1:3]]
    assert pending(r, stream) == 0, "acked: not handed back on every read for ever"


def test_over_the_delivery_limit_is_dead_lettered_and_at_the_limit_is_processed(r, prefix):
    stream, dead = prefix + "sensors", prefix + "dead"
    poison, last_chance, fresh = (r.xadd(stream, {"sensor_id": "s1", "temp": t}) for t in ("20", "21", "22"))
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"}, count=2)  # both delivered once
    r.xreadgroup("workers", "w1", {stream: "0"}, count=1)  # poison: twice
    # consume's own read adds one: poison 3 (over a limit of 2), last_chance 2 (at it)
    stats, lines = run(r, stream, max_deliveries=2, dead_letter_stream=dead, count=10)
    assert stats.ids == [last_chance, fresh]
    assert stats.dead_lettered == 1 and stats.recovered == 1
    [(copy_id, copy)] = r.xrange(dead)
    assert copy["original_id"] == poison and copy["deliveries"] == "3" and copy["temp"] == "20"
    assert copy["reason"] == "delivered 3 times (limit 2)" and copy["last_consumer"] == "w1"
    assert f"w1: dead-lettered {poison}: delivered 3 times (limit 2) -> {dead} {copy_id}" in lines
    assert pending(r, stream) == 0


def test_the_dead_letter_stream_defaults_to_the_streams_name_and_dead(r, prefix):
    stream = prefix + "sensors"
    entries = [r.xadd(stream, {"sensor_id": "s1", "temp": "20"}) for _ in range(2)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"})
    stats, _ = run(r, stream, max_deliveries=1)
    assert stats.dead_lettered == 2 and stats.processed == 0
    assert [f["original_id"] for _, f in r.xrange(stream + ":dead")] == entries


def test_an_entry_that_fails_stays_pending_is_retried_then_dead_lettered(r, prefix):
    stream = prefix + "sensors"
    bad = r.xadd(stream, {"sensor_id": "s1", "temp": b"\xff\xfe"})  # not UTF-8: cannot be decoded
    good = r.xadd(stream, {"sensor_id": "s1", "temp": "21"})
    stats, lines = run(r, stream, max_deliveries=2, retry_after=0.05)
    assert stats.ids == [good]
    assert stats.failed == 2, "failed at its first and second delivery, dead-lettered at the third"
    assert stats.dead_lettered == 1
    failed = [line for line in lines if " failed " in line]
    assert failed[0].startswith(f"w1: failed {bad} (delivery 1, limit 2): cannot decode it (field 'temp' is not UTF-8")
    assert failed[0].endswith("; left pending, retried in 0.05 s")
    assert f"w1: failed {bad} (delivery 2, limit 2)" in failed[1]
    [(_, copy)] = programs._bytes_client(r).xrange(stream + ":dead")
    assert copy[b"temp"] == b"\xff\xfe", "the copy keeps the bytes as they were"
    assert pending(r, stream) == 0


def test_an_alert_that_cannot_be_written_leaves_the_entry_pending_until_it_can(r, prefix):
    stream, alerts = prefix + "sensors", prefix + "alerts"
    r.set(alerts, "not a stream")  # every XADD to it fails with WRONGTYPE
    hot = r.xadd(stream, {"sensor_id": "s1", "temp": "30"})
    lines: list[str] = []

    def out(line):
        lines.append(line)
        if " failed " in line:
            assert pending(r, stream) == 1, "not acked while its alert could not be written"
            r.delete(alerts)  # the operator fixes the key

    stats = programs.consume(r, "workers", "w1", stream=stream, block_ms=50, idle_exit=IDLE, alert_above=25,
                             alerts_stream=alerts, retry_after=0.05, stop=threading.Event(), out=out)
    assert stats.failed == 1 and stats.recovered == 1
    assert stats.ids == [hot] and stats.alerts == 1
    assert [f["source_id"] for _, f in r.xrange(alerts)] == [hot], "exactly one alert, none lost"
    assert "WRONGTYPE" in next(line for line in lines if " failed " in line)
    assert pending(r, stream) == 0


def test_max_entries_stops_after_that_many_and_leaves_the_rest_unread(r, prefix):
    stream = prefix + "sensors"
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": "20"}) for _ in range(5)]
    stats, _ = run(r, stream, count=1, max_entries=2, idle_exit=None)
    assert stats.ids == ids[:2]
    assert pending(r, stream) == 0
    assert r.xinfo_groups(stream)[0]["last-delivered-id"] == ids[1]


def test_a_stop_before_the_start_reads_nothing(r, prefix):
    stream = prefix + "sensors"
    r.xadd(stream, {"sensor_id": "s1", "temp": "20"})
    stop = threading.Event()
    stop.set()
    stats, lines = run(r, stream, stop=stop, idle_exit=None)
    assert stats.processed == 0
    assert r.xinfo_groups(stream)[0]["last-delivered-id"] == "0-0"
    assert lines[-1].startswith("w1: stopped after 0 entries")


# --- the options, checked before anything touches Redis ------------------------------------------

CONSUME_OK = dict(group="g", consumer="c", count=1, block_ms=0)


@pytest.mark.parametrize("change, message", [
    (dict(group=""), "GROUP must be a non-empty name, got ''"),
    (dict(group="  "), "GROUP must be a non-empty name"),
    (dict(consumer=None), "CONSUMER must be a non-empty name, got None"),
    (dict(count=0), "--count (entries per read) must be a whole number of 1 or more, got 0"),
    (dict(count=True), "--count (entries per read) must be a whole number"),
    (dict(count=2.5), "--count (entries per read) must be a whole number"),
    (dict(block_ms=-1), "--block (milliseconds; 0 waits for ever) must be a whole number of 0 or more, got -1"),
    (dict(max_deliveries=0), "--max-deliveries must be a whole number of 1 or more, got 0"),
    (dict(work_seconds=-0.1), "--work must be 0 or more seconds, got -0.1"),
    (dict(retry_after="soon"), "--retry-after must be a number, got 'soon'"),
    (dict(idle_exit=float("nan")), "--idle-exit must be a finite number"),
    (dict(name_guard=-1), "--name-guard must be 0 or more seconds, got -1"),
    (dict(alert_above="hot"), "--alert-above must be a number, got 'hot'"),
    (dict(alert_above=float("inf")), "--alert-above must be a finite number"),
])
def test_consume_options_that_cannot_work_are_refused_with_what_is_wrong(change, message):
    with pytest.raises(ValueError) as refused:
        programs.check_consume_options(**{**CONSUME_OK, **change})
    assert message in str(refused.value)


@pytest.mark.parametrize("edge", [dict(count=1), dict(block_ms=0), dict(max_deliveries=1),
                                  dict(work_seconds=0), dict(retry_after=0), dict(idle_exit=0),
                                  dict(name_guard=0), dict(alert_above=-40), dict(alert_above="23.5")])
def test_consume_options_at_their_limits_are_accepted(edge):
    programs.check_consume_options(**{**CONSUME_OK, **edge})  # raises if refused


@pytest.mark.parametrize("rate, count, message", [
    (0, None, "--rate must be above 0 and at most 10,000 readings per second, got 0"),
    (10_000.5, None, "--rate must be above 0 and at most 10,000"),
    ("fast", None, "--rate must be a number, got 'fast'"),
    (float("inf"), None, "--rate must be a finite number"),
    (1, 0, "--count (readings to send) must be a whole number of 1 or more, got 0"),
])
def test_produce_options_that_cannot_work_are_refused_with_what_is_wrong(rate, count, message):
    with pytest.raises(ValueError) as refused:
        programs.check_produce_options(rate, count)
    assert message in str(refused.value)


@pytest.mark.parametrize("rate, count", [(10_000, None), (0.01, 1), ("2.5", 3)])
def test_produce_options_at_their_limits_are_accepted(rate, count):
    programs.check_produce_options(rate, count)


REAP_OK = dict(min_idle_ms=60_000, max_deliveries=5)


@pytest.mark.parametrize("change, message", [
    (dict(min_idle_ms=-1), "--min-idle must be 0 or more milliseconds and --max-deliveries 1 or more; "
                           "got -1 and 5."),
    (dict(min_idle_ms=1.5), "got 1.5 and 5."),
    (dict(max_deliveries=0), "got 60000 and 0."),
    (dict(max_deliveries=True), "got 60000 and True."),
    (dict(every=0), "--every must be a number of seconds above 0, got 0."),
    (dict(every=float("inf")), "--every must be a number of seconds above 0, got inf."),
    (dict(every=float("nan")), "--every must be a number of seconds above 0, got nan."),
    (dict(alert_above="hot"), "--alert-above must be a number, got 'hot'"),
    (dict(alert_above=float("nan")), "--alert-above must be a finite number"),
])
def test_reap_options_that_cannot_work_are_refused_with_what_is_wrong(change, message):
    with pytest.raises(ValueError) as refused:
        programs.check_reap_options(**{**REAP_OK, **change})
    assert message in str(refused.value)


@pytest.mark.parametrize("edge", [dict(min_idle_ms=0), dict(max_deliveries=1), dict(every=0.001),
                                  dict(alert_above=-40), dict(alert_above="23.5")])
def test_reap_options_at_their_limits_are_accepted(edge):
    programs.check_reap_options(**{**REAP_OK, **edge})  # raises if refused


def test_a_consume_with_a_refused_option_touches_nothing(r, prefix):
    stream = prefix + "sensors"
    with pytest.raises(ValueError, match="--count"):
        programs.consume(r, "workers", "w1", stream=stream, count=0, stop=threading.Event(), out=print)
    assert not r.exists(stream), "no group created, no stream made"


# --- lesson 09's ledger: one record per processed entry ------------------------------------------

def test_each_processed_entry_leaves_one_ledger_record_naming_it(r, prefix):
    stream, ledger = prefix + "sensors", prefix + "done"
    full = r.xadd(stream, {"sensor_id": "s7", "seq": "12", "temp": "20"})
    bare = r.xadd(stream, {"temp": "20"})  # no sensor_id, no seq
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"})
    for entry_id, fields in r.xrange(stream):
        assert programs.process_entry(r, stream, "workers", entry_id, fields, None, prefix + "alerts", 0,
                                      ledger_stream=ledger) == "done"
    assert [f for _, f in r.xrange(ledger)] == [{"sensor_id": "s7", "seq": "12", "source_id": full},
                                                 {"sensor_id": "?", "seq": "0", "source_id": bare}]
    assert r.xpending(stream, "workers")["pending"] == 0
    assert not r.exists(prefix + "alerts")


def test_an_entry_another_consumer_finished_meanwhile_is_counted_as_a_duplicate_with_no_second_alert(
        r, prefix, monkeypatch):
    stream, alerts = prefix + "sensors", prefix + "alerts"
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": "30"}) for _ in range(2)]
    real = programs.process_entry

    def rival_finishes_first(r, stream, group, entry_id, *args, **kwargs):
        r.xack(stream, group, entry_id)  # another consumer (after a claim) acked it meanwhile
        return real(r, stream, group, entry_id, *args, **kwargs)

    monkeypatch.setattr(programs, "process_entry", rival_finishes_first)
    stats, lines = run(r, stream, alert_above=25, alerts_stream=alerts)
    assert stats.duplicates == 2 and stats.processed == 0 and stats.alerts == 0 and stats.ids == []
    assert not r.exists(alerts), "the once-per-entry script wrote no alert for an entry no longer pending"
    assert [line for line in lines if "finished by another consumer" in line] == [
        f"w1: {i} was finished by another consumer meanwhile: no second alert" for i in ids]


def test_each_processed_line_names_the_entry_its_sensor_and_its_temperature(r, prefix):
    stream = prefix + "sensors"
    plain = r.xadd(stream, {"sensor_id": "s7", "temp": "20"})
    nameless = r.xadd(stream, {"temp": "21"})
    no_temperature = r.xadd(stream, {"sensor_id": "s8"})
    _, lines = run(r, stream, alert_above=25, alerts_stream=prefix + "alerts")
    assert [line for line in lines if ": processed " in line] == [
        f"w1: processed {plain} s7 temp=20", f"w1: processed {nameless} ? temp=21",
        f"w1: processed {no_temperature} s8 temp=?"]


@pytest.mark.parametrize("batch, left", [(3, "2 entries"), (2, "1 entry")])
def test_a_second_stop_signal_mid_batch_leaves_the_rest_of_the_batch_pending(r, prefix, monkeypatch, batch, left):
    stream = prefix + "sensors"
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": "20"}) for _ in range(batch)]
    stop = programs.SignalStop()
    real = programs.process_entry

    def two_signals_during_the_first(*args, **kwargs):
        if stop.count == 0:
            stop.set()
            stop.set()  # Ctrl-C twice while the first entry of the batch is worked on
        return real(*args, **kwargs)

    monkeypatch.setattr(programs, "process_entry", two_signals_during_the_first)
    stats, lines = run(r, stream, count=batch, stop=stop)
    assert stats.ids == ids[:1] and pending(r, stream) == batch - 1
    assert (f"w1: second stop signal: {left} of this batch stay pending for this name, taken back "
            "first at its next start") in lines


def test_an_entry_with_nothing_to_write_is_acked_and_done(r, prefix):
    stream = prefix + "sensors"
    entry = r.xadd(stream, {"sensor_id": "s1", "temp": "20"})
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"})
    assert programs.process_entry(r, stream, "workers", entry, {"temp": "20"}, None, prefix + "alerts", 0) == "done"
    assert pending(r, stream) == 0 and not r.exists(prefix + "alerts")


def test_an_own_entry_acked_meanwhile_is_skipped_and_the_rest_of_the_batch_is_still_taken_back(
        r, prefix, monkeypatch):
    stream = prefix + "sensors"
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": "20"}) for _ in range(3)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"})  # w1's history: three entries it never acked
    real = programs.delivery_counts

    def rival_acks_the_first(r, stream, group, entry_ids):
        r.xack(stream, group, entry_ids[0])  # another consumer finished it between read and count
        return real(r, stream, group, entry_ids)

    monkeypatch.setattr(programs, "delivery_counts", rival_acks_the_first)
    stats, _ = run(r, stream, count=3)
    assert stats.ids == ids[1:] and stats.recovered == 2
    assert pending(r, stream) == 0
