"""`streamlab produce` / `consume` / `reap` as separate OS processes on a real server, under real trouble.

Each test starts the programs the way a terminal would (``python -m streamlab.cli``)
and judges the outcome from the server's state: what is pending, what was
dead-lettered, which alerts exist. Private servers are started here when a test
has to kill or limit one; nothing touches the machine's shared 6379.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
import redis

from helpers import wait_until
from streamlab import programs, server
from test_programs import PROCESSED, finish
from test_programs import streamlab as _streamlab

SENT = re.compile(r"sent (\d+-\d+) ")
_started: list[subprocess.Popen] = []


def streamlab(url, *args):
    """``python -m streamlab.cli ARGS`` against ``url``; killed after the test if still running."""
    proc = _streamlab(url, *args)
    _started.append(proc)
    return proc


@pytest.fixture(autouse=True)
def no_program_left_running():
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:  # a failed assertion left it running: no process outlives its test
            proc.kill()
        proc.communicate()


def consume(url, stream, *args, group="g", name="c1"):
    return streamlab(url, "consume", group, name, "--stream", stream, *args)


def consumer_names(r, stream, group="g"):
    """Names ``XINFO CONSUMERS`` lists (none while the group does not exist yet)."""
    try:
        return [c["name"] for c in r.xinfo_consumers(stream, group)]
    except redis.ResponseError:
        return []


def pending_rows(r, stream, group="g"):
    return r.xpending_range(stream, group, min="-", max="+", count=1000)


def stop(proc, sig=signal.SIGINT, timeout=30):
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return out


def read_until(proc, pattern, limit=200):
    """Lines of ``proc``'s stdout up to the first that matches ``pattern`` (which must come)."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if re.search(pattern, line):
            return lines
        assert len(lines) < limit, "".join(lines)
    raise AssertionError(f"{pattern!r} never came: {''.join(lines)}")


# --- entries that cannot be processed ---------------------------------------------------


def test_an_entry_deleted_while_pending_is_acked_reported_once_and_not_counted(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    ids = [r.xadd(stream, {"sensor_id": "sensor1", "temp": "20"}) for _ in range(5)]
    r.xgroup_create(stream, "g", "0")
    r.xreadgroup("g", "c1", {stream: ">"})  # c1 read all five, then "crashed"
    r.xdel(stream, ids[1], ids[3])
    # --name-guard 0: c1 read a moment ago (here, in the test) and we know it is dead.
    out = finish(consume(url, stream, "--idle-exit", "0.5", "--block", "100", "--name-guard", "0"))
    assert sorted(PROCESSED.findall(out)) == sorted([ids[0], ids[2], ids[4]])
    for gone in (ids[1], ids[3]):
        assert out.count(f"{gone} was deleted from the stream while pending") == 1
        assert f"processed {gone}" not in out
    assert "stopped after 3 entries" in out
    assert r.xpending(stream, "g")["pending"] == 0


def test_a_non_utf8_entry_is_dead_lettered_after_the_limit_and_the_consumer_carries_on(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    raw = redis.Redis.from_url(url)  # bytes in, bytes out: the only way to write a non-UTF-8 value
    try:
        r.xgroup_create(stream, "g", "0", mkstream=True)
        good1 = r.xadd(stream, {"sensor_id": "sensor1", "temp": "20"})
        bad = raw.xadd(stream, {b"sensor_id": b"sensor9", b"temp": b"\xff\xfe21"}).decode()
        good2 = r.xadd(stream, {"sensor_id": "sensor1", "temp": "21"})
        out = finish(consume(url, stream, "--max-deliveries", "3", "--retry-after", "0.1",
                             "--block", "100", "--idle-exit", "1"))
        dead = raw.xrange(stream + ":dead")
    finally:
        raw.close()
    assert sorted(PROCESSED.findall(out)) == sorted([good1, good2]), out
    assert out.count(f"failed {bad}") == 3, "delivered three times, failed three times"
    assert f"dead-lettered {bad}: delivered 4 times (limit 3)" in out
    assert len(dead) == 1
    copy = dead[0][1]
    assert copy[b"original_id"] == bad.encode() and copy[b"temp"] == b"\xff\xfe21", \
        "the dead letter keeps the bytes as they were"
    assert copy[b"deliveries"] == b"4" and copy[b"group"] == b"g"
    assert r.xpending(stream, "g")["pending"] == 0


def test_a_poison_entry_in_its_own_pending_list_cannot_stop_a_consumer_on_restart(real):
    """The article's program re-reads its pending list first: one bad entry ended every restart."""
    r, url, prefix = real
    stream = prefix + "sensors"
    raw = redis.Redis.from_url(url)
    try:
        r.xgroup_create(stream, "g", "0", mkstream=True)
        bad = raw.xadd(stream, {b"sensor_id": b"sensor9", b"temp": b"\xc3("}).decode()
        raw.xreadgroup("g", "c1", {stream: ">"})
        for _ in range(5):  # five restarts that each re-read it and died
            raw.xreadgroup("g", "c1", {stream: "0"})
        good = r.xadd(stream, {"sensor_id": "sensor1", "temp": "20"})
        out = finish(consume(url, stream, "--max-deliveries", "5", "--block", "100",
                             "--idle-exit", "0.5", "--name-guard", "0"))
    finally:
        raw.close()
    assert f"dead-lettered {bad}: delivered 7 times (limit 5)" in out, out
    assert f"failed {bad}" not in out, "over the limit: dead-lettered before any attempt"
    assert PROCESSED.findall(out) == [good]
    assert r.xlen(stream + ":dead") == 1 and r.xpending(stream, "g")["pending"] == 0


def test_a_long_field_is_shortened_in_the_output(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    entry = r.xadd(stream, {"sensor_id": "sensor1", "temp": "9" * 100_000})
    out = finish(consume(url, stream, "--idle-exit", "0.5", "--block", "100"))
    line = next(line for line in out.splitlines() if f"processed {entry}" in line)
    assert "(100,000 chars)" in line and len(line) < 300


# --- alerts -----------------------------------------------------------------------------


def test_a_failing_alert_write_neither_loses_the_alert_nor_acks_the_entry(real):
    r, url, prefix = real
    stream, alerts = prefix + "sensors", prefix + "alerts"
    r.set(alerts, "not a stream")  # every XADD to it fails with WRONGTYPE
    r.xgroup_create(stream, "g", "0", mkstream=True)
    hot = r.xadd(stream, {"sensor_id": "sensor1", "temp": "30"})
    proc = consume(url, stream, "--alert-above", "25", "--alerts-stream", alerts,
                   "--max-deliveries", "1000", "--retry-after", "0.1", "--block", "100")
    try:
        assert wait_until(lambda: any(int(p["times_delivered"]) >= 3 for p in pending_rows(r, stream)),
                          timeout=60), "the entry is retried"
        assert [p["message_id"] for p in pending_rows(r, stream)] == [hot], "not acked while the alert fails"
        r.delete(alerts)  # the operator fixes the key
        assert wait_until(lambda: r.xpending(stream, "g")["pending"] == 0, timeout=60)
    finally:
        out = stop(proc)
    assert f"failed {hot}" in out and "WRONGTYPE" in out
    assert [f["source_id"] for _, f in r.xrange(alerts)] == [hot], "exactly one alert, none lost"


def test_a_reading_processed_by_two_consumers_after_a_claim_gives_one_alert(r, prefix):
    """MULTI/EXEC ran the alert XADD even when its XACK replied 0: two alerts."""
    stream, alerts = prefix + "sensors", prefix + "alerts"
    r.xgroup_create(stream, "g", "0", mkstream=True)
    hot = r.xadd(stream, {"sensor_id": "sensor1", "temp": "30"})
    r.xreadgroup("g", "slow", {stream: ">"})
    r.xclaim(stream, "g", "rescuer", 0, [hot])  # the rescuer takes it while "slow" still works
    fields = {"sensor_id": "sensor1", "temp": "30"}
    first = programs.process_entry(r, stream, "g", hot, fields, 25.0, alerts, 0)
    second = programs.process_entry(r, stream, "g", hot, fields, 25.0, alerts, 0)
    assert (first, second) == ("alert", "duplicate")
    assert [f["source_id"] for _, f in r.xrange(alerts)] == [hot]
    assert r.xpending(stream, "g")["pending"] == 0


def test_dead_letter_keeps_the_entry_pending_when_the_copy_cannot_be_written(r, prefix):
    from streamlab import recovery

    stream, dead = prefix + "s", prefix + "dead"
    r.xgroup_create(stream, "g", "0", mkstream=True)
    entry = r.xadd(stream, {"k": "v"})
    r.xreadgroup("g", "c", {stream: ">"})
    r.set(dead, "wrong type")
    with pytest.raises(redis.ResponseError):
        recovery.dead_letter(r, stream, "g", entry, {"k": "v"}, dead, 6)
    assert r.xpending(stream, "g")["pending"] == 1, "the XACK must not apply when the copy failed"
    r.delete(dead)
    assert recovery.dead_letter(r, stream, "g", entry, {"k": "v"}, dead, 6)
    assert r.xpending(stream, "g")["pending"] == 0 and r.xlen(dead) == 1


# --- stopping ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_block_0_stops_within_two_seconds_of_a_signal(real, sig):
    r, url, prefix = real
    stream = prefix + "sensors"
    proc = consume(url, stream, "--block", "0")
    read_until(proc, "group g")
    # Blocked in XREADGROUP: the consumer exists and has tried to read.
    assert wait_until(lambda: consumer_names(r, stream) == ["c1"])
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    took = time.monotonic() - sent
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert took < 2.0, f"took {took:.2f} s to stop (the article's BLOCK 0 waits for the next entry)"


def test_a_stop_mid_batch_finishes_the_whole_batch_and_leaves_nothing_pending(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    for n in range(20):
        r.xadd(stream, {"sensor_id": "sensor1", "temp": "20", "seq": str(n)})
    proc = consume(url, stream, "--count", "5", "--work", "0.5", "--block", "100")
    seen = PROCESSED.findall("".join(read_until(proc, r"processed \d")))
    out = stop(proc)  # SIGINT with 4 entries of the batch still in hand
    seen += PROCESSED.findall(out)
    assert r.xpending(stream, "g")["pending"] == 0, "nothing left half-done"
    assert len(seen) == r.xinfo_groups(stream)[0]["entries-read"]
    assert len(seen) % 5 == 0 and len(seen) < 20
    assert "name retired" in out, "a clean stop leaves nothing pending and frees its name"


def test_graceful_shutdown_signal_handler_takes_no_lock(monkeypatch):
    """A handler that stopped workers from inside itself deadlocked on locks the main thread held."""
    import threading

    from streamlab import recovery

    held = threading.Lock()

    class Stoppable:
        acquired = None

        def stop(self):  # like Worker.stop(): needs a lock the interrupted thread may hold
            self.acquired = held.acquire(timeout=0.5)
            if self.acquired:
                held.release()

    target = Stoppable()
    shutdown = recovery.GracefulShutdown(target)
    with shutdown.installed():
        with held:
            signal.raise_signal(signal.SIGTERM)  # the handler runs here, while `held` is held
            assert target.acquired is None, "the handler itself must not stop anything"
        assert shutdown.wait(1)
    assert target.acquired is True and shutdown.reason == "SIGTERM"
    assert not isinstance(shutdown.requested, threading.Event)


# --- names ------------------------------------------------------------------------------


def test_a_second_live_process_under_the_same_name_is_refused(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    first = consume(url, stream, "--block", "200")
    read_until(first, "group g")
    assert wait_until(lambda: consumer_names(r, stream) == ["c1"])
    second = consume(url, stream, "--block", "200", "--idle-exit", "2")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 2, out + err
    assert "'c1' is in use" in err and "another name" in err and "Traceback" not in err
    stop(first)
    # Stopped cleanly: the name is free again at once.
    again = finish(consume(url, stream, "--block", "100", "--idle-exit", "0.5"))
    assert "joined group g" in again


def test_two_processes_starting_together_under_one_name_one_is_refused(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    procs = [consume(url, stream, "--block", "100", "--idle-exit", "2") for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 2], results
    assert sum("is in use" in err or "starting as consumer" in err for _, err in results) == 1


# --- reap -------------------------------------------------------------------------------


def test_reap_claims_a_dead_consumers_work_processes_it_and_retires_it(real):
    r, url, prefix = real
    stream, alerts = prefix + "sensors", prefix + "alerts"
    r.xgroup_create(stream, "workers", "0", mkstream=True)
    ids = [r.xadd(stream, {"sensor_id": "sensor1", "temp": t}) for t in ("20", "30", "21", "22")]
    r.xreadgroup("workers", "w-dead", {stream: ">"}, count=3)  # read three, never came back
    live = consume(url, stream, "--block", "100", group="workers", name="w-live")
    try:
        assert wait_until(lambda: r.xpending(stream, "workers")["pending"] == 3
                          and r.xinfo_groups(stream)[0]["entries-read"] == 4, timeout=60)
        assert wait_until(lambda: all(int(p["time_since_delivered"]) >= 1000
                                      for p in pending_rows(r, stream, "workers")))

        dry = finish(streamlab(url, "reap", "workers", "--stream", stream, "--min-idle", "1000",
                               "--dry-run"))
        assert "would claim 3 entries" in dry
        assert "would retire (once their pending list is empty): w-dead\n" in dry
        assert r.xpending(stream, "workers")["pending"] == 3, "a dry run changes nothing"

        out = finish(streamlab(url, "reap", "workers", "--stream", stream, "--min-idle", "1000",
                               "--alert-above", "25", "--alerts-stream", alerts))
        names = [c["name"] for c in r.xinfo_consumers(stream, "workers")]
    finally:
        stop(live)
    assert "retired w-dead" in out and "claimed 3 (processed 3, 1 alerts" in out
    assert r.xpending(stream, "workers")["pending"] == 0
    assert names == ["w-live"], "the dead consumer and the reaper's own name are gone; the live one stays"
    assert [f["source_id"] for _, f in r.xrange(alerts)] == [ids[1]]


def test_reap_dead_letters_what_is_over_the_limit_and_keeps_a_consumer_with_work(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    r.xgroup_create(stream, "workers", "0", mkstream=True)
    poison = r.xadd(stream, {"sensor_id": "sensor1", "temp": "20"})
    r.xreadgroup("workers", "w-dead", {stream: ">"})
    for _ in range(3):
        r.xreadgroup("workers", "w-dead", {stream: "0"})  # delivered 4 times already
    assert wait_until(lambda: all(int(p["time_since_delivered"]) >= 200
                                  for p in pending_rows(r, stream, "workers")))
    out = finish(streamlab(url, "reap", "workers", "--stream", stream, "--min-idle", "200",
                           "--max-deliveries", "4"))
    assert f"dead-lettered {poison}: delivered 5 times (limit 4)" in out
    assert r.xlen(stream + ":dead") == 1 and r.xpending(stream, "workers")["pending"] == 0


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["produce", "sensor1", "--rate", "nan"], "--rate must be a finite number"),
    (["produce", "sensor1", "--rate", "inf"], "--rate must be a finite number"),
    (["produce", "sensor1", "--rate", "0"], "--rate must be above 0"),
    (["produce", "sensor1", "--rate", "-3"], "--rate must be above 0"),
    (["produce", "sensor1", "--count", "0"], "--count (readings to send) must be a whole number of 1 or more"),
    (["produce", "sensor1", "--count", "-1"], "--count (readings to send) must be a whole number of 1 or more"),
    (["consume", "g", "c1", "--count", "-1"], "--count (entries per read) must be a whole number of 1 or more"),
    (["consume", "g", "c1", "--count", "0"], "--count (entries per read) must be a whole number of 1 or more"),
    (["consume", "g", "c1", "--block", "-5"], "--block (milliseconds; 0 waits for ever) must be"),
    (["consume", "g", "c1", "--work", "-1"], "--work must be 0 or more seconds"),
    (["consume", "g", "c1", "--idle-exit", "nan"], "--idle-exit must be a finite number"),
    (["consume", "g", "c1", "--alert-above", "inf"], "--alert-above must be a finite number"),
    (["consume", "g", "c1", "--max-deliveries", "0"], "--max-deliveries must be a whole number of 1"),
    (["consume", "g", " ", "--max-deliveries", "1"], "CONSUMER must be a non-empty name"),
    (["reap", "g", "--min-idle", "-1"], "--min-idle must be 0 or more"),
    (["reap", "g", "--every", "0"], "--every must be a number of seconds above 0"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_options_exit_2_with_a_message_and_touch_nothing(real, args, message):
    r, url, prefix = real
    stream = prefix + "sensors"
    proc = streamlab(url, *args, "--stream", stream)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, out + err
    assert message in err and "Traceback" not in err and f"streamlab {args[0]}:" in err
    assert not r.exists(stream), "nothing was created before the options were checked"


# --- private servers: restart and maxmemory ----------------------------------------------


class OwnServer:
    """A redis-server process this test owns on a fixed port, which it may SIGKILL and start again."""

    def __init__(self, workdir, *extra):
        self.binary = server.find_server_binary()
        if self.binary is None:
            pytest.skip("no redis-server/valkey-server on PATH")
        self.port = server.free_port()
        self.workdir, self.extra = str(workdir), list(extra)
        self.proc = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        cmd = server.server_command(self.binary, self.port, self.workdir, self.extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = redis.Redis.from_url(self.url, socket_timeout=1)

        def up():
            try:
                return probe.ping()
            except redis.RedisError:
                return False

        try:
            assert wait_until(up, timeout=30), "the server did not start"
        finally:
            probe.close()
        return self

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def own_server(tmp_path):
    servers = []

    def make(*extra):
        s = OwnServer(tmp_path, *extra)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def test_a_server_killed_and_restarted_with_aof_under_one_producer_and_two_consumers(own_server):
    srv = own_server("--appendonly", "yes").start()
    url, stream, alerts = srv.url, "streamlab:test:aof:sensors", "streamlab:test:aof:alerts"
    r = redis.Redis.from_url(url, decode_responses=True)
    procs = []
    try:
        producer = streamlab(url, "produce", "sensor1", "--stream", stream, "--rate", "40",
                             "--count", "240")
        procs.append(producer)
        workers = [consume(url, stream, "--block", "200", "--count", "5", "--alert-above", "23",
                           "--alerts-stream", alerts, "--idle-exit", "4", group="workers", name=n)
                   for n in ("w1", "w2")]
        procs += workers
        assert wait_until(lambda: r.xlen(stream) >= 60, timeout=60)
        srv.kill()
        time.sleep(0.5)  # the programs meet a refused connection, not only a reset one
        srv.start()
        r.close()
        r = redis.Redis.from_url(url, decode_responses=True)
        produced = finish(producer, timeout=180)
        outs = [finish(w, timeout=180) for w in workers]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    entries = r.xrange(stream)
    stream_ids = [i for i, _ in entries]
    # Nothing lost: every reading the producer was told is in survived; none twice.
    assert set(SENT.findall(produced)) <= set(stream_ids)
    assert sorted(int(f["seq"]) for _, f in entries) == list(range(1, 241)), "each reading once"
    assert "Redis answers again" in produced
    assert all("Redis answers again" in o for o in outs), "both consumers carried on"
    # Every entry was processed and acked by the group.
    group = r.xinfo_groups(stream)[0]
    assert group["pending"] == 0 and group["last-delivered-id"] == stream_ids[-1]
    # No duplicate alerts, none missing.
    alerted = [f["source_id"] for _, f in r.xrange(alerts)]
    assert len(alerted) == len(set(alerted)), "no reading alerted twice"
    assert set(alerted) == {i for i, f in entries if float(f["temp"]) > 23}
    r.close()


def test_a_burst_into_a_full_server_raises_a_clear_error(own_server):
    from streamlab.producer import Producer, ServerFullError

    srv = own_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction").start()
    r = redis.Redis.from_url(srv.url, decode_responses=True)
    try:
        with pytest.raises(ServerFullError) as caught:
            Producer(r, "streamlab:test:oom:sensors", rate=10).burst(500_000)
    finally:
        r.close()
    message = str(caught.value)
    assert "out of memory" in message and "maxmemory" in message and "XTRIM" in message
    assert 0 < caught.value.sent < 500_000
    assert isinstance(caught.value, redis.ResponseError), "existing `except ResponseError` still works"


def test_produce_into_a_full_server_waits_and_says_why(own_server):
    srv = own_server("--maxmemory", "4mb", "--maxmemory-policy", "noeviction").start()
    filler = redis.Redis.from_url(srv.url)
    proc = None
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(100_000):
                filler.set(f"streamlab:test:fill:{n}", os.urandom(1000))
        proc = streamlab(srv.url, "produce", "sensor1", "--stream", "streamlab:test:oom:s",
                         "--count", "3", "--rate", "50")
        read_until(proc, "out of memory")
        filler.flushdb()  # this test's own server: make room
        out = finish(proc)
    finally:
        filler.close()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Redis answers again" in out and "sent 3 entries" in out


def test_a_pool_consumer_acks_an_entry_deleted_while_pending_and_does_not_process_it(r, prefix):
    """``ConsumerPool`` tested ``fields is None``; redis-py 8 gives ``{}``, so it was processed."""
    from streamlab.consumers import ConsumerPool

    stream = prefix + "orders"
    ids = [r.xadd(stream, {"order": n}) for n in range(3)]
    r.xgroup_create(stream, "g", "0")
    r.xreadgroup("g", "c1", {stream: ">"})  # c1 read all three, then "crashed"
    r.xdel(stream, ids[1])
    pool = ConsumerPool(r, stream, "g", consumers=1, seconds=0, start_id="0", count=5,
                        name=f"pool-deleted:{prefix}")
    done = []
    pool.listeners.append(lambda e: done.append(e.entry_id) if e.kind == "acked" else None)
    try:
        pool.start()
        assert wait_until(lambda: r.xpending(stream, "g")["pending"] == 0)
    finally:
        pool.stop()
    assert ids[1] not in done and sorted(done) == sorted([ids[0], ids[2]])
