"""connect() and the backend ladder: which Redis is chosen, and clear messages when none works."""

from __future__ import annotations

import os
import threading
import time

import pytest
import redis
import uuid

import streamlab as sl
from streamlab import backend, server

from conftest import _no_real_server
from helpers import is_blocked, wait_until


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    return monkeypatch


def closed_port_url() -> str:
    return f"redis://:hunter2@127.0.0.1:{server.free_port()}/0"


def test_explicit_url_wins_over_everything(clean_env, real_server_url):
    clean_env.setenv("REDIS_URL", closed_port_url())  # would fail if it were tried
    clean_env.setenv("STREAMLAB_BACKEND", "fake")
    r = sl.connect(real_server_url, quiet=True)
    assert r.backend.kind == "url"
    assert r.ping()


def test_redis_url_is_used_when_set(clean_env, real_server_url):
    clean_env.setenv("REDIS_URL", real_server_url)
    r = sl.connect(quiet=True)
    assert r.backend.kind == "env"
    assert [s.name for s in r.backend.ladder] == ["url", "env"]


def test_unreachable_redis_url_names_it_without_password_and_says_what_to_do(clean_env):
    url = closed_port_url()
    clean_env.setenv("REDIS_URL", url)
    with pytest.raises(sl.BackendError) as err:
        sl.connect(quiet=True)
    message = str(err.value)
    assert "hunter2" not in message
    assert backend.redact(url) in message
    assert "nothing answered" in message and "unset REDIS_URL" in message


def test_wrong_password_is_reported_as_such(clean_env):
    if not server.find_server_binary():
        pytest.skip("needs a redis-server binary to start a server with a password")
    with server.PrivateServer(extra_args=["--requirepass", "right-one"]) as srv:
        wrong = f"redis://:wrong-one@127.0.0.1:{srv.port}/0"
        with pytest.raises(sl.BackendError) as err:
            sl.connect(wrong, quiet=True)
        assert "refused the password" in str(err.value)
        assert "wrong-one" not in str(err.value)
        good = sl.connect(f"redis://:right-one@127.0.0.1:{srv.port}/0", quiet=True)
        assert good.ping()
        assert "right-one" not in good.banner()
        good.close()


def test_malformed_url_says_what_a_url_looks_like(clean_env):
    with pytest.raises(sl.BackendError) as err:
        sl.connect("localhost:6379", quiet=True)
    assert "redis://host:6379/0" in str(err.value)


def test_unknown_backend_lists_the_valid_ones(clean_env):
    clean_env.setenv("STREAMLAB_BACKEND", "postgres")
    with pytest.raises(sl.BackendError) as err:
        sl.connect(quiet=True)
    for name in ("auto", "env", "local", "private", "fake"):
        assert name in str(err.value)


def test_forced_private_without_binary_says_how_to_install(clean_env):
    clean_env.setenv("STREAMLAB_BACKEND", "private")
    clean_env.setattr(server, "find_server_binary", lambda: None)
    with pytest.raises(sl.BackendError) as err:
        sl.connect(quiet=True)
    text = str(err.value)
    assert "apt-get install redis-server" in text and "brew install redis" in text
    assert "conda-forge" in text


def test_forced_env_without_redis_url_is_an_error_not_a_fallback(clean_env):
    clean_env.setenv("STREAMLAB_BACKEND", "env")
    with pytest.raises(sl.BackendError, match="REDIS_URL is not set"):
        sl.connect(quiet=True)


def test_ladder_falls_through_to_fake_when_nothing_else_exists(clean_env):
    clean_env.setattr(backend, "LOCAL_URL", closed_port_url())
    clean_env.setattr(server, "find_server_binary", lambda: None)
    r = sl.connect(quiet=True)
    assert r.backend.kind == "fake"
    outcomes = {s.name: s.outcome for s in r.backend.ladder}
    assert outcomes == {"url": "skipped", "env": "skipped", "local": "skipped",
                        "private": "skipped", "fake": "chosen"}


def test_forced_fake_banner_names_fakeredis(clean_env, capsys):
    clean_env.setenv("STREAMLAB_BACKEND", "fake")
    r = sl.connect()
    line = capsys.readouterr().out.strip()
    assert line == r.banner()
    assert "fakeredis" in line and "\n" not in line


def test_redact_hides_password_only():
    assert backend.redact("redis://user:secret@host:6380/2") == "redis://user:***@host:6380/2"
    assert backend.redact("redis://host:6379/0") == "redis://host:6379/0"


def test_fake_clients_in_one_process_share_one_server(clean_env):
    a = sl.connect(backend="fake", quiet=True)
    b = sl.connect(backend="fake", quiet=True)
    key = "streamlab:test:shared"
    try:
        a.set(key, "1")
        assert b.get(key) == "1"
        assert a.walrus.get(key) == b"1"
    finally:
        a.delete(key)


def test_blocked_reader_wakes_on_xadd(r, prefix):
    stream = prefix + "s"
    reader = r.new_client()
    got = []
    name = "streamlab-test-reader-" + uuid.uuid4().hex[:8]
    reader.client_setname(name)
    t = threading.Thread(target=lambda: got.append(reader.xread({stream: "$"}, block=30000)))
    t.start()
    # Add only once the read is blocked: "$" means "after the last entry when the read starts",
    # so an entry added earlier would not wake it.
    assert wait_until(lambda: is_blocked(r, name), timeout=30), "the reader never blocked"
    entry_id = r.xadd(stream, {"k": "v"})
    t.join(35)
    assert not t.is_alive()
    assert got and got[0][0][0] == stream and got[0][0][1][0][0] == entry_id
    reader.close()


@pytest.mark.slow
def test_block_6000_on_empty_stream_returns_empty_without_error(r, prefix, backend_kind):
    if backend_kind == "fake":
        pytest.skip("the socket-timeout pitfall is about real connections")
    start = time.monotonic()
    assert r.xread({prefix + "empty": "$"}, block=6000) == []
    assert time.monotonic() - start >= 5.5  # it really waited, rather than failing early


def test_replies_have_resp2_shapes_on_every_backend(r, prefix):
    stream = prefix + "s"
    first = r.xadd(stream, {"a": "1"})
    reply = r.xread({stream: "0"})
    assert reply == [[stream, [(first, {"a": "1"})]]]


def test_supports_rejects_unknown_feature_names(r):
    with pytest.raises(ValueError, match="Known features"):
        r.supports("time-travel")


def test_supports_answers_for_every_feature(r, backend_kind):
    features = r.features()
    assert set(features) == set(backend.FEATURES)
    assert features["xautoclaim"] and features["lag"] and features["partial-ids"]
    if backend_kind == "fake":
        # measured, not assumed: fakeredis has no XSETID and no MEMORY USAGE
        assert features["xsetid"] is False
        assert features["memory-usage"] is False
    else:
        assert features["xsetid"] is True


def test_walrus_database_is_on_the_same_server(r, prefix):
    stream = prefix + "walrus"
    entry_id = r.walrus.Stream(stream).add({"sensor_id": "sensor1"})
    assert r.xrange(stream) == [(entry_id.decode(), {"sensor_id": "sensor1"})]


@pytest.fixture
def own_r(backend_kind):
    """A client on a server only this test uses: ``reset()`` deletes every course key on its server,
    so on a shared one it would take other tests' (or other people's) keys with it."""
    if backend_kind == "fake":
        import fakeredis

        b = backend.Backend(kind="fake", url=None, server_name="fakeredis",
                            version=backend.FAKE_EMULATES, version_text="test",
                            fake_server=fakeredis.FakeServer(version=backend.FAKE_EMULATES))
        client = backend._make_client(b)
        yield client
        client.close()
        return
    if not server.find_server_binary():
        _no_real_server("a test of reset() needs a server of its own: no redis-server on PATH")
    with server.PrivateServer() as srv:
        client = sl.connect(srv.url, quiet=True)
        yield client
        client.close()


def test_reset_deletes_only_that_lessons_keys(own_r):
    r = own_r
    r.set("lesson99:a", "x")
    r.xadd("lesson99:s", {"f": "1"})
    r.set("lesson98:keep", "x")
    r.set("streamlab_outside_course", "x")
    assert sl.reset(r, lesson=99, quiet=True) == 2
    assert r.exists("lesson99:a", "lesson99:s") == 0
    assert r.get("lesson98:keep") == "x"
    assert r.get("streamlab_outside_course") == "x"


def test_reset_never_touches_keys_outside_the_course(own_r):
    r = own_r
    r.set("someone-elses:key", "precious")
    r.set("lesson97:mine", "x")
    r.set("streamlab:mine", "x")
    assert sl.reset(r, quiet=True) == 2
    assert r.get("someone-elses:key") == "precious"
    assert not r.exists("lesson97:mine", "streamlab:mine")


# --- server identity, probed features, behaviour by server --------------------------

# For each newer feature, the command that shows it, sent raw: a server without the feature
# refuses it (unknown command, syntax error, invalid ID) or answers something else.
RAW_CHECKS = {
    "xdelex": lambda r, k: r.execute_command("XDELEX", k, "IDS", 1, "1-1") == [-1],
    "trim-acked": lambda r, k: r.execute_command("XTRIM", k, "MAXLEN", 0, "ACKED") == 0,
    "xreadgroup-claim": lambda r, k: r.execute_command(
        "XREADGROUP", "GROUP", "g", "c", "CLAIM", 0, "STREAMS", k, ">") is not None,
    "idmp": lambda r, k: r.execute_command("XADD", k, "IDMP", "p", "i", "*", "f", "1")
    == r.execute_command("XADD", k, "IDMP", "p", "i", "*", "f", "1"),
    "xnack": lambda r, k: r.execute_command("XNACK", k, "g", "SILENT", "IDS", 1, "1-1") == 0,
    "xread-maxcount": lambda r, k: len(r.execute_command("XREAD", "MAXCOUNT", 1, "STREAMS", k, "0")[0][1]) == 1,
    "xread-plus": lambda r, k: r.xread({k: "+"})[0][1][0][0] == "2-1",
    "xinfo-inactive": lambda r, k: (r.xreadgroup("g", "c", {k: ">"}) is not None
                                    and "inactive" in r.xinfo_consumers(k, "g")[0]),
}


def server_does(r, feature: str) -> bool:
    key = f"streamlab:test:{uuid.uuid4().hex[:12]}:raw"
    r.xadd(key, {"f": "1"}, id="1-1")
    r.xadd(key, {"f": "2"}, id="2-1")
    r.xgroup_create(key, "g", id="0")
    try:
        return bool(RAW_CHECKS[feature](r, key))
    except redis.ResponseError:
        return False
    finally:
        r.delete(key)


def test_supports_agrees_with_each_matrix_server(matrix_server):
    """On every server binary at hand, supports() (COMMAND INFO/DOCS, tries) says what the
    command itself shows, and the banner names the server as its binary does."""
    label, url = matrix_server
    r = sl.connect(url, quiet=True)
    try:
        assert r.backend.server == label  # e.g. "Valkey 8.1.8", from HELLO, not INFO's 7.2.4
        assert label in r.banner()
        for feature in RAW_CHECKS:
            assert r.supports(feature) == server_does(r, feature), (label, feature)
    finally:
        r.close()


def test_valkey_is_named_by_hello_not_by_infos_compatibility_version(matrix_server):
    label, url = matrix_server
    if not label.startswith("Valkey"):
        pytest.skip(f"{label} is not Valkey")
    r = sl.connect(url, quiet=True)
    try:
        assert r.info("server")["redis_version"] == "7.2.4"  # what INFO says on every Valkey
        assert r.backend.server_name == "valkey" and r.backend.version >= (8,)
        assert not r.supports("xdelex")  # Valkey 8.1 and 9.1 have no XDELEX, whatever the number
    finally:
        r.close()


def test_a_fenced_user_without_info_gets_the_server_name_and_the_features():
    """A workshop user allowed only @connection @stream @pubsub @read @write: no INFO, no
    CONFIG, no CLIENT. HELLO names the server; COMMAND and the scratch-key tries still work."""
    if not server.find_server_binary():
        _no_real_server("needs a server binary to create an ACL user on")
    with server.PrivateServer() as srv:
        admin = redis.Redis.from_url(srv.url, decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "ana", "on", ">pw", "~*", "resetchannels",
                              "&*", "-@all", "+@connection", "+@stream", "+@pubsub", "+@read",
                              "+@write")
        fenced = sl.connect(f"redis://ana:pw@127.0.0.1:{srv.port}/0", quiet=True)
        try:
            with pytest.raises(redis.ResponseError, match="no permissions"):
                fenced.info("server")  # the fence holds
            owner = sl.connect(srv.url, quiet=True)
            assert fenced.backend.server == owner.backend.server
            backend.forget_probes()
            assert fenced.features() == owner.features()
            assert admin.dbsize() == 0  # the probes' scratch keys are gone
            owner.close()
        finally:
            fenced.close()
            admin.close()


def test_fakeredis_takes_xdelex_at_7_0_but_supports_follows_the_emulated_version(clean_env):
    clean_env.delenv("STREAMLAB_FAKE_VERSION", raising=False)
    r = sl.connect(backend="fake", quiet=True)
    key = f"streamlab:test:{uuid.uuid4().hex[:12]}"
    r.xadd(key, {"f": "1"}, id="1-1")
    try:
        assert r.backend.version == backend.FAKE_EMULATES == (7, 0)
        assert r.execute_command("XDELEX", key, "IDS", 1, "1-1") == [1]  # Redis 7.0 refuses it
        assert not r.supports("xdelex") and not r.supports("xinfo-inactive")
    finally:
        r.delete(key)


def test_fake_version_comes_from_the_environment(clean_env):
    clean_env.setenv("STREAMLAB_FAKE_VERSION", "8.10")
    r = sl.connect(backend="fake", quiet=True)
    assert r.backend.version == (8, 10)
    assert "fakeredis" in r.banner() and "emulating Redis 8.10" in r.banner()
    for feature in ("xreadgroup-claim", "idmp", "xnack", "xread-maxcount", "trim-acked", "xdelex"):
        assert r.supports(feature), feature
    clean_env.setenv("STREAMLAB_FAKE_VERSION", "eight")
    with pytest.raises(sl.BackendError, match="STREAMLAB_FAKE_VERSION='eight'.*7.0 or 8.10"):
        sl.connect(backend="fake", quiet=True)


def test_a_bad_server_binary_setting_is_an_error_not_a_fallback(clean_env):
    clean_env.setenv("STREAMLAB_SERVER_BINARY", "/nowhere/redis-server")
    clean_env.setattr(backend, "LOCAL_URL", closed_port_url())
    with pytest.raises(sl.BackendError, match="STREAMLAB_SERVER_BINARY='/nowhere/redis-server'"):
        sl.connect(backend="private", quiet=True)


def test_the_side_emulation_is_a_separate_labelled_server_closed_by_reset(clean_env):
    clean_env.delenv("STREAMLAB_FAKE_VERSION", raising=False)
    main = sl.connect(backend="fake", quiet=True)
    side = backend.emulated((8, 10))
    key = f"streamlab:test:{uuid.uuid4().hex[:12]}"
    try:
        assert backend.emulated((8, 10)) is side  # created once, then shared
        assert side.backend.kind == "emulation" and side.backend.is_fake
        assert "side emulation" in side.banner() and "emulating Redis 8.10" in side.banner()
        side.xadd(key, {"f": "1"})
        assert main.exists(key) == 0  # nothing reaches the learner's server
        assert side.supports("xnack") and not main.supports("xnack")
        sl.reset(main, lesson=99, quiet=True)
        assert backend.emulated((8, 10)) is not side
        assert backend.emulated((8, 10)).exists(key) == 0  # a fresh server
    finally:
        backend.close_emulations()
    with pytest.raises(ValueError, match="tuple of whole numbers"):
        backend.emulated("eight")


def test_probes_run_once_per_server(clean_env, monkeypatch):
    clean_env.delenv("STREAMLAB_FAKE_VERSION", raising=False)
    backend.forget_probes()
    calls = []
    real_probe_all = backend._probe_all
    monkeypatch.setattr(backend, "_probe_all", lambda c: calls.append(c) or real_probe_all(c))
    a = sl.connect(backend="fake", quiet=True)
    b = sl.connect(backend="fake", quiet=True)
    a.supports("lag"), b.features(), a.supports("xnack")
    assert len(calls) == 1
    backend.emulated((8, 4)).supports("xnack")
    assert len(calls) == 2  # another server, probed on its own
    backend.close_emulations()


@pytest.mark.parametrize("server_name, version, deleted, lag, trim", [
    ("redis", (7, 0, 15), "UNBLOCKED", "approximate", "counts-trimmed"),
    ("redis", (7, 2, 0), "NOGROUP", "approximate", "counts-trimmed"),
    ("redis", (7, 4, 2), "NOGROUP", "approximate", "exact"),
    ("redis", (8, 0, 2), "NOGROUP", "approximate", "exact"),
    ("redis", (8, 2, 0), "NOGROUP", "exact", "exact"),
    ("valkey", (8, 1, 8), "NOGROUP", "approximate", "counts-trimmed"),
    ("valkey", (9, 1, 2), "NOGROUP", "approximate", "counts-trimmed"),
    ("fakeredis", (7, 0), "keeps-waiting", "approximate", "counts-trimmed"),
    ("fakeredis", (8, 10), "keeps-waiting", "approximate", "exact"),
])
def test_behaviour_is_keyed_on_server_and_version(server_name, version, deleted, lag, trim):
    b = backend.Backend(kind="url", url="redis://x:1/0", server_name=server_name, version=version,
                        version_text=".".join(map(str, version)))
    assert backend.behaviour(b, "deleted-stream-under-blocked-read") == deleted
    assert backend.behaviour(b, "lag-after-deletions") == lag
    assert backend.behaviour(b, "lag-after-trim") == trim
    with pytest.raises(ValueError, match="Known"):
        backend.behaviour(b, "time-travel")
