"""The guards that protect learners and their data, each pinned by a test of behaviour.

Every test here kills a mistake that the rest of the suite let through when it was
planted (docs/TESTING.md lists them): the consumer's delivery limit, the magics'
refusals of commands that never return and of FLUSH on servers others may share,
and the private server's death signal.

Tests that could destroy data if the guard were broken (FLUSH) run only on a
private server this test starts, so even a broken guard (a mutation-testing run)
wipes nothing but that throwaway server.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest
import redis

from streamlab import backend as sl_backend
from streamlab import server as sl_server
from streamlab.chaos import ChaosExperiment
from streamlab.ui.magics import register

from conftest import _no_real_server
from helpers import listening, wait_until


# --- the consumer's delivery limit (chaos.py) --------------------------------------------------------

def test_an_entry_delivered_exactly_max_deliveries_times_is_still_processed(r, prefix):
    """``max_deliveries=2``: the 2nd delivery is still worked on; only the 3rd is dead-lettered."""
    exp = ChaosExperiment(r, prefix, entries=3, max_deliveries=2, crash_probability=0,
                          poison_share=0, processing_ms=0)
    exp.pool.create_group()
    ids = [r.xadd(exp.stream, {"seq": n, "amount": 1}) for n in (1, 2, 3, 4)]
    r.xreadgroup(exp.group, "c1", {exp.stream: ">"})   # delivery 1 of each
    r.xreadgroup(exp.group, "c1", {exp.stream: "0"})   # delivery 2 of each
    r.xclaim(exp.stream, exp.group, "c1", 0, [ids[2]])  # delivery 3 of the third one only
    r.xack(exp.stream, exp.group, ids[3])  # the fourth was acked meanwhile: no count, not poison
    batch = [(exp.stream, [(i, {"seq": str(n), "amount": "1"}) for n, i in enumerate(ids, 1)])]

    kept = exp.dead_letter_over_limit("c1", r, batch)

    assert [i for _, entries in kept for i, _ in entries] == [ids[0], ids[1], ids[3]]
    [(_, copy)] = r.xrange(exp.dead_stream)
    assert copy["original_id"] == ids[2] and copy["deliveries"] == "3"
    assert "limit 2" in copy["reason"]
    pending = {p["message_id"] for p in r.xpending_range(exp.stream, exp.group, "-", "+", 10)}
    assert pending == set(ids[:2]), "the dead-lettered entry is acked, the others stay pending"


# --- the magics' refusals (redis_cli.py) --------------------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["SUBSCRIBE ch", "PSUBSCRIBE ch*", "SSUBSCRIBE ch", "MONITOR",
                                     "ssubscribe ch"],
                         ids=["subscribe", "psubscribe", "ssubscribe", "monitor", "lower-case"])
def test_commands_that_never_return_are_refused_and_the_session_still_works(r, prefix, shell, capsys,
                                                                          command):
    register(shell, r)
    capsys.readouterr()
    assert shell.run_cell(f"%%redis\n{command}\nSET {prefix}after 1").success
    out = capsys.readouterr().out
    name = command.split()[0].upper()
    # what happened, and what to do instead
    assert (f"streamlab: {name} listens until stopped, so it would never finish the cell. "
            "Use r.pubsub() in Python instead (lesson 06).") in out, out
    assert "Traceback" not in out
    assert r.get(prefix + "after") == "1", "the next line of the cell ran on a usable connection"


@pytest.fixture
def own_server():
    """A private server only this test uses (see the module docstring)."""
    if not sl_server.find_server_binary():
        _no_real_server("the FLUSH guard is tested on a throwaway server: no redis-server on PATH")
    with sl_server.PrivateServer() as srv:
        yield srv


def _flush_in_magic(shell, capsys, client, command):
    client.set("streamlab:test:someone-elses", "precious")
    register(shell, client)
    capsys.readouterr()
    assert shell.run_cell(f"%redis {command}").success
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["FLUSHDB", "flushall"])
@pytest.mark.parametrize("kind", ["env", "local"])
def test_flush_is_refused_on_the_redis_url_and_the_local_server(own_server, monkeypatch, shell, capsys,
                                                                 kind, command):
    """REDIS_URL and 127.0.0.1:6379 may be shared (a workshop server, a colleague's): no FLUSH there."""
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    if kind == "env":
        monkeypatch.setenv("REDIS_URL", own_server.url)
    else:  # the ladder's local rung, pointed at our throwaway server instead of 6379
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.setattr(sl_backend, "LOCAL_URL", own_server.url)
    client = sl_backend.connect(quiet=True)
    try:
        assert client.backend.kind == kind
        out = _flush_in_magic(shell, capsys, client, command)
        assert f"streamlab: {command.upper()} refused" in out and f"({kind} backend)" in out, out
        # why, and what to use instead
        assert "deletes every key" in out and "other people's too." in out, out
        assert "Instead: sl.reset() deletes only the course's keys (lessonNN:*, streamlab:*)." in out, out
        assert client.get("streamlab:test:someone-elses") == "precious"
    finally:
        client.close()


def test_flush_runs_on_the_kernels_own_private_server(own_server, monkeypatch, shell, capsys):
    monkeypatch.setattr(sl_backend, "_private", own_server)  # connect() reuses a running one
    client = sl_backend.connect(backend="private", quiet=True)
    try:
        assert client.backend.kind == "private" and client.backend.url == own_server.url
        out = _flush_in_magic(shell, capsys, client, "FLUSHDB")
        assert out == "OK\n"
        assert client.dbsize() == 0
    finally:
        client.close()


# --- the private server's death signal (server.py) -----------------------------------------------

def _pid_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_the_server_dies_even_when_its_supervisor_is_killed_outright():
    """SIGKILL gives the supervisor no chance to clean up: the kernel's death signal must end the server."""
    if not sl_server.find_server_binary():
        _no_real_server("no redis-server on PATH")
    srv = sl_server.PrivateServer().start()
    workdir = server_pid = None
    try:
        client = redis.Redis.from_url(srv.url, decode_responses=True)
        workdir = client.config_get("dir")["dir"]
        client.close()
        server_pid, port = srv.server_pid, srv.port
        os.kill(srv._supervisor.pid, signal.SIGKILL)
        assert wait_until(lambda: not _pid_running(server_pid) and not listening(port),
                          timeout=60), f"redis-server {server_pid} outlived its killed supervisor"
    finally:
        srv.stop()
        if server_pid is not None and _pid_running(server_pid):  # the guard failed: clean up
            os.kill(server_pid, signal.SIGKILL)
        if workdir:  # nobody was left to delete it
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("url, shown", [
    ("redis://:hunter2@host:6379/0", "redis://:***@host:6379/0"),          # password only
    ("rediss://default:hunter2@host:6380", "rediss://default:***@host:6380"),
    ("redis://u:hunter2@host/3?timeout=1#x", "redis://u:***@host/3?timeout=1#x"),  # no port
    ("redis://:hunter2@/0", "redis://:***@/0"),                             # no host (localhost)
    ("redis://host:6379/0", "redis://host:6379/0"),                         # nothing to hide
    ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock"),
    ("", ""),
    (None, ""),
], ids=["password-only", "user-and-password", "no-port", "no-host", "no-password", "unix-socket", "empty", "none"])
def test_url_redaction_hides_the_password_and_keeps_the_rest(url, shown):
    assert sl_backend.redact(url) == shown


# --- the private server's life cycle and error paths (server.py) -----------------------------------

def _needs_server_binary():
    if not sl_server.find_server_binary():
        _no_real_server("no redis-server on PATH")


def test_private_server_state_before_during_and_after(monkeypatch):
    _needs_server_binary()
    srv = sl_server.PrivateServer(port=sl_server.free_port(), extra_args=["--requirepass", "s3cret"])
    assert srv.port is None and srv.server_pid is None and not srv.running
    with pytest.raises(sl_server.ServerError, match="not running: call start"):
        srv.url
    wanted = srv.requested_port
    with srv:
        assert srv.running and srv.port == wanted and srv.url == f"redis://127.0.0.1:{wanted}/0"
        # Its own session: a Ctrl-C typed in our terminal reaches us, not the supervisor.
        assert os.getsid(srv._supervisor.pid) != os.getsid(0)
        # The extra arguments reach the server, after the safe defaults.
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=srv.port).ping()
        assert redis.Redis(port=srv.port, password="s3cret").ping()
        assert "running at" in repr(srv)
    assert not srv.running and srv.port is None
    with pytest.raises(sl_server.ServerError):
        srv.url
    assert "stopped" in repr(srv)
    srv.stop()  # a second stop is harmless
    assert not srv.running


def test_private_server_without_a_binary_says_how_to_install_one(monkeypatch):
    monkeypatch.setattr(sl_server, "find_server_binary", lambda: None)
    with pytest.raises(sl_server.ServerError) as caught:
        sl_server.PrivateServer().start()
    assert str(caught.value) == ("No redis-server or valkey-server binary on PATH. "
                                 + sl_server.INSTALL_HINT)


def _fake_binary(tmp_path, body: str) -> str:
    path = tmp_path / "redis-server"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_a_server_that_fails_to_start_is_reported_with_its_reason(tmp_path):
    binary = _fake_binary(tmp_path, "exit 1")
    with pytest.raises(sl_server.ServerError, match="Could not start a private redis-server:.*did not start"):
        sl_server.PrivateServer(binary=binary).start()


def test_a_server_that_never_answers_is_given_up_on_after_the_start_timeout(tmp_path):
    # exec: the sleeping process is the "server" itself, so the death signal reaches it.
    binary = _fake_binary(tmp_path, "exec sleep 120")
    srv = sl_server.PrivateServer(binary=binary)
    with pytest.raises(sl_server.ServerError, match="no answer within 2 s"):
        srv.start(timeout=2)
    assert not srv.running
    assert wait_until(lambda: not [p for p in _processes_running(binary)], timeout=60), \
        "the unanswering server outlived the supervisor that gave up on it"


def _processes_running(text: str) -> list[int]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if text.encode() in fh.read() and _pid_running(int(pid)):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_server_command_is_loopback_only_and_keeps_nothing_on_disk():
    cmd = sl_server.server_command("/usr/bin/redis-server", 6390, "/tmp/w", ["--requirepass", "x"])
    assert cmd[0] == "/usr/bin/redis-server"
    options = dict(zip(cmd[1::2], cmd[2::2]))
    assert options == {"--port": "6390", "--bind": "127.0.0.1", "--protected-mode": "yes",
                       "--save": "", "--appendonly": "no", "--dir": "/tmp/w", "--daemonize": "no",
                       "--logfile": os.path.join("/tmp/w", "server.log"), "--requirepass": "x"}
    assert cmd[-2:] == ["--requirepass", "x"], "extra options come after the safe defaults"


def test_the_server_process_is_ours_and_a_taken_port_is_reported(tmp_path):
    """What the supervisor does, run here: start the binary, wait until *it* answers."""
    _needs_server_binary()
    binary = sl_server.find_server_binary()
    proc, port = sl_server._start_server_process(binary, str(tmp_path), None, timeout=60)
    try:
        assert listening(port) and sl_server._answered_by(port, proc)
        client = redis.Redis(port=port, decode_responses=True)
        assert client.config_get("dir")["dir"] == str(tmp_path)
        assert client.info("server")["process_id"] == proc.pid
        client.close()
        # Someone else's server on the port we ask for: not mistaken for ours, and reported.
        other = tmp_path / "other"
        other.mkdir()
        with pytest.raises(sl_server.ServerError, match="did not start on 127.0.0.1"):
            sl_server._start_server_process(binary, str(other), port, timeout=5)
        assert listening(port), "the server already there is untouched"
    finally:
        proc.kill()
        proc.wait()
    assert wait_until(lambda: not listening(port), timeout=30)
    assert sl_server._hello(port) == b""
