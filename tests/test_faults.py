"""Faults a workshop meets: the server restarting mid-run, cells re-run over and over, a killed kernel."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import threading
import time

import fakeredis
import pytest
import redis

import streamlab as sl
from helpers import wait_until
from streamlab import backend as sl_backend
from streamlab import server as sl_server
from streamlab import ids
from streamlab.ui.pool_panel import ConsumerPoolPanel


# --- the server restarts under a running producer, pool and dashboard ------------------------------

class DurableServer:
    """A redis-server with ``appendonly yes`` and ``appendfsync always`` in ``workdir`` on a fixed port.

    Every write the server has acknowledged is on disk, so a server killed
    with SIGKILL and started again from the same directory holds every entry
    and every XACK a client got a reply for. (``PrivateServer`` keeps nothing
    on disk and deletes its directory on stop, so it cannot show that.)
    """

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.port = sl_server.free_port()
        self.binary = sl_server.find_server_binary()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "DurableServer":
        cmd = sl_server.server_command(self.binary, self.port, self.workdir,
                                       ["--appendonly", "yes", "--appendfsync", "always"])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        probe = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            assert wait_until(lambda: _pings(probe), timeout=10), "the durable server did not start"
            # Answering PING is not enough: wait until the AOF is loaded.
            assert wait_until(lambda: probe.info("persistence")["loading"] == 0, timeout=10)
        finally:
            probe.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; only what is already on disk survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


class FakeOutage:
    """The same outage on fakeredis: a fake server of its own that stops answering, then answers again.

    ``FakeServer.connected = False`` makes every command raise ``ConnectionError``;
    the data stays, as on a real server restarted with persistence.
    """

    def __init__(self):
        backend = sl_backend.choose_backend(backend="fake")
        self.backend = dataclasses.replace(backend, fake_server=fakeredis.FakeServer(
            version=sl_backend.FAKE_EMULATES))

    def client(self):
        return sl_backend._make_client(self.backend)

    def kill(self) -> None:
        self.backend.fake_server.connected = False

    def start(self) -> None:
        self.backend.fake_server.connected = True


@pytest.fixture
def outage(backend_kind, tmp_path):
    """(client, stop_server, start_server) on a server that can go away and come back with its data."""
    if backend_kind == "fake":
        fake = FakeOutage()
        client = fake.client()
        yield client, fake.kill, fake.start
        client.close()
        return
    if sl_server.find_server_binary() is None:
        pytest.skip("no redis-server or valkey-server on PATH to restart")
    server = DurableServer(str(tmp_path)).start()
    client = sl.connect(server.url, quiet=True)
    try:
        yield client, server.kill, server.start
    finally:
        client.close()
        server.kill()


def test_server_restart_mid_run_the_dashboard_reconnects_and_nothing_acknowledged_is_lost(outage):
    """The lesson 03 dashboard (producer, two consumers, sampler) through a server outage.

    The server is killed (SIGKILL on a real one) while everything runs, stays
    down for about 2 s, and comes back on the same port with its data (the
    real one from its append-only file, fsynced on every write). Asserted:

    - during the outage the workers and the panel say "reconnecting", and
      retry with backoff (a handful of attempts each, not a busy loop);
    - afterwards the producer sends, the consumers ack and the sampler samples again;
    - every XADD the producer got an ID for before the outage is in the stream,
      and no entry a consumer recorded as acked is pending again;
    - every entry in the stream ends up acked by the pool or still pending in
      the group, except at most one per consumer: an XACK that reached the
      server just as it died, whose reply (and so the pool's record) was lost.
      Nothing is silently dropped.
    """
    client, stop_server, start_server = outage
    stream = "streamlab:test:faults:dashboard"
    client.delete(stream)
    panel = ConsumerPoolPanel(client, stream, "g", consumers=2, rate=200, ms=0, count=1,
                              start_id="0", name="faults-dashboard")
    acked: set[str] = set()
    panel.pool.listeners.append(lambda e: acked.add(e.entry_id) if e.kind == "acked" else None)
    producer, sampler, pool = panel.producer, panel.sampler, panel.pool
    try:
        panel.start()
        assert wait_until(lambda: pool.total_processed >= 100, timeout=20)
        sent_before = producer.sent
        acked_before = set(acked)
        stop_server()
        workers_now = [producer, sampler, *pool.consumers.values()]
        assert wait_until(lambda: all(w.status == "reconnecting" for w in workers_now), timeout=10), \
            [(w.name, w.status) for w in workers_now]
        assert wait_until(lambda: "reconnecting" in panel.status.value, timeout=5), panel.status.value
        time.sleep(2)
        attempts = {w.name: w.reconnects for w in workers_now}
        # Backoff 0.1, 0.2, 0.4, 0.8, 1.6 s...: about 5 tries in 2-3 s; a busy loop would make thousands.
        assert all(1 <= n <= 12 for n in attempts.values()), attempts
        start_server()
        sent_at_restart, processed_at_restart, samples_at_restart = (
            producer.sent, pool.total_processed, sampler.samples)
        assert wait_until(lambda: producer.sent > sent_at_restart + 50
                          and pool.total_processed > processed_at_restart + 50
                          and sampler.samples > samples_at_restart + 5, timeout=20)
        assert wait_until(lambda: all(w.status == "running" for w in workers_now), timeout=10), \
            [(w.name, w.status) for w in workers_now]
        assert wait_until(lambda: panel.status_text() == "running", timeout=5), panel.status_text()
        producer.stop()
        last_id = client.xrevrange(stream, count=1)[0][0]
        assert wait_until(lambda: client.xinfo_groups(stream)[0]["last-delivered-id"] == last_id
                          and len(acked) + client.xpending(stream, "g")["pending"] >= client.xlen(stream) - 2,
                          timeout=20)
    finally:
        panel.close()

    entries = client.xrange(stream)
    seqs = {int(fields["seq"]) for _, fields in entries}
    assert set(range(1, sent_before + 1)) <= seqs, "an entry acknowledged by XADD before the outage is gone"
    pending = {row["message_id"] for row in
               client.xpending_range(stream, "g", min="-", max="+", count=100_000)}
    assert not (acked_before & pending), "an entry acked before the outage is pending again"
    unaccounted = {entry_id for entry_id, _ in entries} - acked - pending
    assert len(unaccounted) <= len(pool.consumers), sorted(unaccounted, key=ids.parse)
    assert all(w.status in ("stopped", "idle") for w in workers_now), [(w.name, w.status) for w in workers_now]
    client.delete(stream)


# --- re-running a widget cell -------------------------------------------------------------------------

PANEL_CELLS = {
    "producer panel": ("from streamlab.ui import ProducerPanel\n"
                       "panel = ProducerPanel(r, '{prefix}s', rate=50)\npanel.start()\npanel"),
    "consumer-pool dashboard": ("from streamlab.ui import ConsumerPoolPanel\n"
                                "panel = ConsumerPoolPanel(r, '{prefix}s', 'workers', consumers=3, "
                                "rate=100, ms=1)\npanel.start()\npanel"),
    "chaos panel": ("from streamlab.ui import ChaosPanel\n"
                    "panel = ChaosPanel(r, prefix='{prefix}', entries=5000, crash_probability=0.1)\n"
                    "panel.start()\npanel"),
    "pub/sub panel": ("from streamlab.ui import PubSubPanel\n"
                      "panel = PubSubPanel(r, prefix='{prefix}', rate=20)\npanel.start()\npanel"),
}


def _threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.is_alive())


@pytest.mark.slow
@pytest.mark.parametrize("which", list(PANEL_CELLS))
def test_rerunning_a_widget_cell_ten_times_leaves_no_more_threads_than_once(r, prefix, shell, which):
    """The cell as a lesson has it (build, start, display), run in IPython once and then 9 more times."""
    shell.user_ns["r"] = r
    code = PANEL_CELLS[which].format(prefix=prefix)
    assert shell.run_cell(code).success
    assert wait_until(lambda: shell.user_ns["panel"].busy(), timeout=30)
    once = _threads()
    for _ in range(9):
        assert shell.run_cell(code).success
    # The replaced panels' threads end within a step; what is left must be no more than once.
    assert wait_until(lambda: len(_threads()) <= len(once), timeout=10), \
        f"after 1 run: {once}\nafter 10 runs: {_threads()}"
    panel = shell.user_ns.pop("panel")
    assert panel.busy()
    panel.close()
    assert wait_until(lambda: not [n for n in _threads() if n.startswith("streamlab-")], timeout=10), \
        _threads()


# --- the private server dies with its kernel ---------------------------------------------------------

KERNEL_CELL = """
import streamlab as sl
r = sl.connect(backend="private", quiet=True)
srv = r.backend.private_server
print("SERVER", srv.port, srv.server_pid, srv._supervisor.pid)
"""


def _gone(pid: int) -> bool:
    psutil = pytest.importorskip("psutil")
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_private_server_is_gone_after_its_kernel_is_killed_with_sigkill():
    if sl_server.find_server_binary() is None:
        pytest.skip("no redis-server or valkey-server on PATH")
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "STREAMLAB_BACKEND": "private"})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out = []
        reply = kc.execute_interactive(KERNEL_CELL, timeout=60, output_hook=lambda msg: out.append(
            msg["content"].get("text", "")) if msg["header"]["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        port, server_pid, supervisor_pid = map(int, "".join(out).split("SERVER", 1)[1].split())
        assert _port_open(port) and not _gone(server_pid)
        os.kill(km.provisioner.pid, signal.SIGKILL)
        assert wait_until(lambda: _gone(server_pid) and _gone(supervisor_pid) and not _port_open(port),
                          timeout=10), f"server {server_pid} or supervisor {supervisor_pid} outlived the kernel"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
