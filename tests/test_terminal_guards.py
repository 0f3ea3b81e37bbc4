"""Guards of the terminal programs and of recovery, tested through what a user runs.

`streamlab produce` / `streamlab consume` run as separate OS processes (as in
lesson 07's terminals) against a real server; the recovery and pool guards go
through their public classes. Each test pins one behaviour that a planted
mistake got past before (docs/TESTING.md): the alert threshold is "above", an
entry deleted while pending is acked rather than re-read for ever, and the
error paths a learner meets when a URL is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streamlab import programs, recovery
from streamlab import server as sl_server
from streamlab.consumers import ConsumerPool

from helpers import wait_until

# A program that is working reaches its end well within this; it only turns a hang into a failure.
HANG = 120


def streamlab(*args: str, url: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STREAMLAB_BACKEND")}
    if url:
        env["REDIS_URL"] = url
    return subprocess.run([sys.executable, "-m", "streamlab.cli", *args], env=env,
                          capture_output=True, text=True, timeout=HANG)


def test_consume_alerts_only_above_the_threshold_never_at_it(real):
    r, url, prefix = real
    stream, alerts = prefix + "sensors", prefix + "alerts"
    temps = {"22.9": None, "23": None, "23.0": None, "23.1": None, "30": None}
    for t in temps:
        temps[t] = r.xadd(stream, {"sensor_id": "s1", "temp": t})
    done = streamlab("consume", "alerting", "a1", "--stream", stream, "--alert-above", "23",
                     "--alerts-stream", alerts, "--block", "100", "--idle-exit", "1", url=url)
    assert done.returncode == 0, done.stderr
    alerted = sorted(f["source_id"] for _, f in r.xrange(alerts))
    assert alerted == sorted([temps["23.1"], temps["30"]]), "23 is not above 23"
    assert r.xpending(stream, "alerting")["pending"] == 0


def _idle_ms(r, stream, group, consumer) -> int:
    """XINFO CONSUMERS ``idle`` of ``consumer``: ms since it last tried to read."""
    return next(int(c["idle"]) for c in r.xinfo_consumers(stream, group) if c["name"] == consumer)


def test_consume_acks_an_entry_deleted_while_pending_and_carries_on(real):
    """XREADGROUP ... 0 returns a deleted pending entry with no fields; unless it is acked, the
    consumer would be handed it again on every read and never reach the new entries."""
    r, url, prefix = real
    stream = prefix + "sensors"
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": str(20 + i)}) for i in range(3)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"}, count=2)  # w1 crashed holding two entries
    r.xdel(stream, ids[0])  # one of them is deleted (trimmed) while still pending
    # A consumer name that read moments ago may be refused as belonging to a live process
    # (programs.NAME_GUARD_MS, where the programs have that guard): wait until w1 counts as gone.
    guard_ms = getattr(programs, "NAME_GUARD_MS", 0)
    assert wait_until(lambda: _idle_ms(r, stream, "workers", "w1") >= guard_ms, timeout=guard_ms / 1000 + 60)

    done = streamlab("consume", "workers", "w1", "--stream", stream, "--block", "100",
                     "--idle-exit", "1", url=url)

    assert done.returncode == 0, done.stderr
    assert f"processed {ids[1]}" in done.stdout and f"processed {ids[2]}" in done.stdout
    assert f"processed {ids[0]}" not in done.stdout
    assert r.xpending(stream, "workers")["pending"] == 0, "the deleted entry left the PEL"


@pytest.mark.parametrize("command", [["produce", "sensor1", "--count", "3"],
                                     ["consume", "workers", "w1", "--idle-exit", "1"]])
def test_programs_explain_a_url_that_cannot_be_reached_and_exit_1(command):
    closed = f"redis://:hunter2@127.0.0.1:{sl_server.free_port()}/0"
    for how in (["--url", closed], []):  # given on the command line, or through REDIS_URL
        done = streamlab(*command, *how, url=None if how else closed)
        assert done.returncode == 1, (how, done.stdout, done.stderr)
        assert f"streamlab {command[0]}:" in done.stderr
        assert "127.0.0.1" in done.stderr and "Traceback" not in done.stderr
        assert "hunter2" not in done.stderr + done.stdout, "the password is never printed"


# --- recovery meets deleted entries; the pool will not drop pending work ----------------------------

def test_reaper_reports_entries_deleted_while_pending_and_handles_the_rest(r, prefix, backend_kind):
    stream = prefix + "orders"
    ids = [r.xadd(stream, {"order": i}) for i in range(4)]
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", "crashed", {stream: ">"})
    r.xdel(stream, ids[1])
    handled = []
    reaper = recovery.Reaper(r, stream, "g", min_idle_ms=0, max_deliveries=5,
                             handler=lambda entry_id, fields, n: handled.append(entry_id),
                             name=f"reaper-test:{prefix}")
    events = []
    reaper.listeners.append(events.append)
    reaper.reap_page()
    assert handled == [ids[0], ids[2], ids[3]]
    assert reaper.deleted == [ids[1]]
    assert [e.entry_id for e in events if e.kind == "deleted"] == [ids[1]]
    assert r.xpending(stream, "g")["pending"] == 0, "XAUTOCLAIM dropped the deleted one from the PEL"
    assert r.xlen(stream + ":dead") == 0


def test_pool_refuses_to_delete_a_consumer_that_still_has_pending_entries(r, prefix):
    stream = prefix + "s"
    pool = ConsumerPool(r, stream, "g", consumers=2, seconds=0, start_id="0", name=prefix + "p")
    pool.create_group()
    r.xadd(stream, {"i": 1})
    r.xreadgroup("g", "c2", {stream: ">"})  # c2 holds an entry it never acked
    with pytest.raises(ValueError, match="c2 still has 1 pending"):
        pool.remove_consumer("c2", delete=True)
    names = [c["name"] for c in r.xinfo_consumers(stream, "g")]
    assert "c2" in names, "the consumer and its pending entry are still in the group"
    assert r.xpending(stream, "g")["pending"] == 1
    assert pool.remove_consumer("c1", delete=True) == "c1"  # nothing pending: deleted
    assert "c1" not in [c["name"] for c in r.xinfo_consumers(stream, "g")]
    pool.stop()
