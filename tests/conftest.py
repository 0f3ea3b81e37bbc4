"""Shared fixtures: every backend-dependent test runs on fakeredis and on a real server.

The real server is, in order: ``REDIS_URL`` if set, else a private server this
test session starts (so the machine's own 6379 is never touched), else
127.0.0.1:6379. With none of them the real cases skip, saying why; with
``STREAMLAB_REQUIRE_SERVER=1`` they fail instead.

Tests use keys under a unique ``streamlab:test:<hex>:`` prefix (the ``prefix``
fixture) and delete them afterwards, so they never touch keys they did not make.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import uuid

import pytest

from streamlab import backend as sl_backend
from streamlab import server as sl_server
from streamlab.waiting import wait_until

REQUIRE_SERVER = os.environ.get("STREAMLAB_REQUIRE_SERVER") == "1"

# A shell starts background jobs (`pytest ... &`, nohup) with SIGINT ignored, and Python then
# never installs its KeyboardInterrupt handler: the tests of Ctrl-C (the kernel's interrupt, the
# programs' clean exit) would hang. Give this process, and the programs it starts, the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Under mutation testing (tools/mutate.py) the mutated package is in a mutants/ folder first on
# sys.path; programs the tests start (streamlab consume, the server's supervisor) must import it too.
if "MUTANT_UNDER_TEST" in os.environ:
    _mutants = [p for p in sys.path if os.path.basename(p.rstrip(os.sep)) == "mutants"]
    if _mutants:
        os.environ["PYTHONPATH"] = os.pathsep.join([_mutants[0], os.environ.get("PYTHONPATH", "")])


def _no_real_server(reason: str):
    if REQUIRE_SERVER:
        pytest.fail(f"STREAMLAB_REQUIRE_SERVER=1 but no real Redis server: {reason}")
    pytest.skip(f"no real Redis server: {reason}")


@pytest.fixture(scope="session")
def real_server_url():
    """URL of a real Redis server for this test session, or skip (fail if required)."""
    env_url = os.environ.get("REDIS_URL")
    if env_url:
        yield env_url
        return
    if sl_server.find_server_binary():
        srv = sl_server.PrivateServer().start()
        try:
            yield srv.url
        finally:
            srv.stop()
        return
    try:
        sl_backend._probe(sl_backend.LOCAL_URL)
    except Exception as exc:  # noqa: BLE001
        _no_real_server(f"REDIS_URL is unset, no redis-server/valkey-server on PATH, "
                        f"and nothing answers on 127.0.0.1:6379 ({exc})")
    yield sl_backend.LOCAL_URL


@pytest.fixture
def own_server_url():
    """URL of a private server for this test alone (the default user is its admin): for tests
    that change server-wide state, such as ACL users. Skips without a server binary."""
    if sl_server.find_server_binary() is None:
        _no_real_server("this test needs its own server: no redis-server/valkey-server on PATH")
    srv = sl_server.PrivateServer().start()
    try:
        yield srv.url
    finally:
        srv.stop()


@pytest.fixture
def real(real_server_url):
    """(plain redis-py client, URL, key prefix) on the real test server, for tests of programs
    run as processes; every key under the prefix is deleted afterwards. A module may define
    its own ``real``."""
    import redis

    client = redis.Redis.from_url(real_server_url, decode_responses=True)
    prefix = f"streamlab:test:{uuid.uuid4().hex[:12]}:"
    yield client, real_server_url, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["fake", "real"])
def backend_kind(request):
    """'fake' or 'real': parametrizes a test over both backends."""
    return request.param


@pytest.fixture
def r(backend_kind, request):
    """A streamlab Client on fakeredis or on the real test server."""
    if backend_kind == "fake":
        client = sl_backend.connect(backend="fake", quiet=True)
    else:
        url = request.getfixturevalue("real_server_url")
        client = sl_backend.connect(url, quiet=True)
    yield client
    client.close()


@pytest.fixture
def prefix(r):
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    p = f"streamlab:test:{uuid.uuid4().hex[:12]}:"
    yield p
    keys = list(r.scan_iter(match=p + "*", count=1000))
    if keys:
        r.delete(*keys)


@pytest.fixture(scope="session")
def shell(tmp_path_factory):
    """One IPython shell for the whole run (history off, profile in a temp dir), as a notebook has."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config,
                                     ipython_dir=str(tmp_path_factory.mktemp("ipython")))


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """Fail a test that leaves a thread running that it started."""
    before = set(threading.enumerate())

    def started_here() -> list[threading.Thread]:
        return [t for t in threading.enumerate()
                if t not in before and t.is_alive() and not _is_library_thread(t)]

    yield
    wait_until(lambda: not started_here(), 5)
    extra = started_here()
    assert not extra, f"threads left running: {[t.name for t in extra]}"


@pytest.fixture(autouse=True)
def no_signal_handler_left_behind():
    """Fail a test that leaves SIGINT/SIGTERM handled differently: a later test that interrupts a
    blocking call (the kernel's Ctrl-C) would then hang, far from the cause."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    changed = {sig.name: signal.getsignal(sig) for sig, handler in before.items()
               if signal.getsignal(sig) is not handler}
    for sig, handler in before.items():
        signal.signal(sig, handler)  # put back, so one offender fails only itself
    assert not changed, f"signal handlers left changed: {changed}"


def _is_library_thread(t: threading.Thread) -> bool:
    # Threads owned by libraries we do not control: they end on their own, or (jupyter_core's
    # "<thread> - runner", behind jupyter_client's blocking calls) live once per process.
    return (t.name.startswith(("asyncio_", "ThreadPoolExecutor", "IPythonHistorySavingThread"))
            or t.name.endswith(" - runner"))


# --- the server matrix (docs/SERVERS.md) ----------------------------------------------
# Every server binary at hand ("Redis 7.0.15", "Valkey 8.1.8", "Valkey 9.1.2"): tests of what
# differs between servers (supports(), behaviour()) run on each. The rest of the suite runs on
# one real server, STREAMLAB_SERVER_BINARY's (tools/run_matrix.py and .ci/run pick it).
MATRIX_BINARIES = sl_server.server_binaries()


@pytest.fixture(scope="session", params=sorted(MATRIX_BINARIES) or ["none"])
def matrix_server(request):
    """(label, URL) of a private server of each binary at hand, one per session each."""
    if request.param == "none":
        _no_real_server("no redis-server or valkey-server binary at hand for the server matrix")
    with sl_server.PrivateServer(binary=MATRIX_BINARIES[request.param]) as srv:
        yield request.param, srv.url
