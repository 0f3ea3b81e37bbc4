"""The private server: loopback only, nothing on disk, and never outlives its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import redis

from streamlab import server

from helpers import listening, wait_until

pytestmark = pytest.mark.skipif(server.find_server_binary() is None,
                                reason="no redis-server or valkey-server on PATH")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def wait_gone(pid: int, port: int, seconds: float = 30) -> bool:
    return wait_until(lambda: not pid_alive(pid) and not listening(port), timeout=seconds)


def test_private_server_listens_on_loopback_and_keeps_nothing_on_disk():
    with server.PrivateServer() as srv:
        r = redis.Redis.from_url(srv.url, decode_responses=True)
        assert r.config_get("bind")["bind"] == "127.0.0.1"
        assert r.config_get("save")["save"] == ""
        assert r.config_get("appendonly")["appendonly"] == "no"
        workdir = r.config_get("dir")["dir"]
        assert os.path.isdir(workdir)
        r.close()
        pid, port = srv.server_pid, srv.port
    assert wait_gone(pid, port)
    assert not os.path.exists(workdir)


CHILD = textwrap.dedent("""
    import sys, time
    import streamlab as sl
    r = sl.connect(backend="private", quiet=True)
    srv = r.backend.private_server
    print(srv.port, srv.server_pid, r.config_get("dir")["dir"], flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
    time.sleep(600)
""")


@pytest.mark.parametrize("how", ["exit", "sigkill", "sigterm"])
def test_private_server_is_gone_after_its_process_ends(how):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, how], stdout=subprocess.PIPE, text=True)
    try:
        port, pid, workdir = proc.stdout.readline().split()
        port, pid = int(port), int(pid)
        assert pid_alive(pid) or how == "exit"
        if how == "sigkill":
            proc.send_signal(signal.SIGKILL)
        elif how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert wait_gone(pid, port), f"redis-server {pid} still running after the parent's {how}"
        assert wait_until(lambda: not os.path.exists(workdir), timeout=30), workdir
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_second_connect_reuses_the_private_server(monkeypatch):
    import streamlab as sl

    a = sl.connect(backend="private", quiet=True)
    b = sl.connect(backend="private", quiet=True)
    assert a.backend.private_server is b.backend.private_server
    assert a.backend.url == b.backend.url


def test_explicit_port_that_is_taken_is_reported():
    with server.PrivateServer() as first:
        with pytest.raises(server.ServerError, match="did not start"):
            server.PrivateServer(port=first.port).start()


def _waiting_in_futex(pid: int) -> bool:
    """True while the process's main thread sleeps in a futex wait (an Event/lock wait), per
    /proc/PID/wchan; where the kernel hides wchan ("0"), assume so."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read().strip()
    except OSError:
        return True
    return wchan in ("", "0") or "futex" in wchan


def test_cli_server_prints_redis_url_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "streamlab.cli", "server"],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert "redis://127.0.0.1:" in first
        url = first.split(" at ")[1].split()[0]
        for _ in range(2):
            line = proc.stdout.readline()
        assert f"export REDIS_URL={url}" in line
        assert proc.stdout.readline().startswith("Press Ctrl-C")
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert redis.Redis(port=port).ping()
        # Ctrl-C only once it waits in its loop (a futex wait), where it handles it: a SIGINT
        # sent between the printout and that loop would be an unhandled KeyboardInterrupt.
        assert wait_until(lambda: _waiting_in_futex(proc.pid), timeout=30)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert not listening(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
