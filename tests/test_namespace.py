"""Learner namespaces: keys and channels renamed under ws:<learner>: and back, on both backends,
and learners fenced by ACL users on one real server cannot reach each other's keys."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import redis

from streamlab import backend as sl_backend
from streamlab import keys as sl_keys
from streamlab import namespace
from streamlab.explain import explain
from streamlab.server import PrivateServer

from helpers import wait_until


def positions(args: list[str]) -> set[int]:
    """Key positions as the shipped table (fakeredis's source) finds them."""
    return namespace.Namespace("t").key_positions(args)


@pytest.mark.parametrize("args, expected", [
    (["XADD", "lesson01:s", "MAXLEN", "~", "10", "*", "f", "v"], {1}),
    (["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "0", "$"], {6, 7}),
    (["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"], {5}),
    (["XREAD", "STREAMS", "streams", "0"], {2}),  # a key called "streams" is a key
    (["XINFO", "STREAM", "a", "FULL"], {2}),
    (["XINFO STREAM", "a"], {1}),  # redis-py sends "XINFO STREAM" as one argument
    (["XGROUP", "CREATE", "a", "g", "$", "MKSTREAM"], {2}),
    (["XAUTOCLAIM", "a", "g", "c", "0", "0-0"], {1}),
    (["EVAL", "return 1", "2", "k1", "k2", "argv1"], {3, 4}),
    (["EVALSHA", "abc", "0", "argv1"], set()),
    (["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"], {3, 7, 8}),
    (["DEL", "a", "b", "c"], {1, 2, 3}),
    (["MSET", "a", "1", "b", "2"], {1, 3}),
    (["PUBLISH", "ch", "hi"], {1}),
    (["SUBSCRIBE", "a", "b"], {1, 2}),
    (["PSUBSCRIBE", "news.*"], {1}),
    (["SPUBLISH", "ch", "hi"], {1}),
    (["PUBSUB", "NUMSUB", "a", "b"], {2, 3}),
    (["CLUSTER", "KEYSLOT", "k"], {2}),
    (["CLUSTER", "INFO"], set()),
    (["PING"], set()),
    (["NOSUCHCOMMAND", "x"], set()),
])
def test_key_positions_follow_the_key_specs(args, expected):
    assert positions(args) == expected


def test_scan_keys_and_pubsub_patterns_are_fenced_to_the_prefix():
    ns = namespace.Namespace("ana")
    assert ns.map_args(("SCAN", 0)) == ("SCAN", 0, "MATCH", "ws:ana:*")
    assert ns.map_args(("SCAN", 0, "MATCH", "lesson*", "COUNT", 10)) == \
        ("SCAN", 0, "MATCH", "ws:ana:lesson*", "COUNT", 10)
    assert ns.map_args(("KEYS", "lesson*")) == ("KEYS", "ws:ana:lesson*")
    assert ns.map_args(("PUBSUB CHANNELS",)) == ("PUBSUB CHANNELS", "ws:ana:*")
    assert ns.map_args(("PUBSUB", "CHANNELS", "l*")) == ("PUBSUB", "CHANNELS", "ws:ana:l*")
    assert ns.map_args((b"XLEN", b"k")) == (b"XLEN", b"ws:ana:k")  # bytes stay bytes


@pytest.mark.parametrize("bad", ["", "a b", "ana*", "x" * 65, "-ana", "ws:ana", "é"])
def test_a_learner_name_that_cannot_be_a_namespace_is_refused_with_the_rule(bad, monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    if bad == "":
        assert namespace.resolve("", None) is None  # "" means: no namespace
        return
    with pytest.raises(namespace.NamespaceError, match="letters, digits"):
        namespace.resolve(bad, None)
    monkeypatch.setenv(namespace.LEARNER_ENV, bad)
    with pytest.raises(sl_backend.BackendError, match="STREAMLAB_LEARNER: .*letters, digits"):
        sl_backend.connect(backend="fake", quiet=True)


def test_which_namespace_argument_then_environment_then_url_user(monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    assert namespace.resolve(None, None) is None
    assert namespace.resolve(None, "default") is None  # the default user: no namespace
    assert namespace.resolve(None, "ana") == "ana"
    monkeypatch.setenv(namespace.LEARNER_ENV, "bob")
    assert namespace.resolve(None, "ana") == "bob"
    assert namespace.resolve("cy", "ana") == "cy"
    assert namespace.resolve("", "ana") is None


@pytest.fixture
def learner(backend_kind, request, monkeypatch):
    """(client in a fresh namespace, client without one) on fakeredis or the real test server."""
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    name = f"t{uuid.uuid4().hex[:10]}"
    url = None if backend_kind == "fake" else request.getfixturevalue("real_server_url")
    kind = "fake" if backend_kind == "fake" else None
    r = sl_backend.connect(url, backend=kind, quiet=True, learner=name)
    plain = r.without_namespace()
    yield r, plain
    for key in plain.scan_iter(match=f"ws:{name}:*"):
        plain.delete(key)
    r.close()
    plain.close()


def test_keys_live_under_the_prefix_and_replies_use_the_lessons_names(learner):
    r, plain = learner
    prefix = r.namespace.prefix

    def outside():  # the same name outside the namespace (a lesson run may have made one)
        return plain.xlen("lesson03:sensors") if plain.type("lesson03:sensors") == "stream" else None

    before = outside()
    entry_id = r.xadd("lesson03:sensors", {"temp": "21"})
    assert plain.xlen(prefix + "lesson03:sensors") == 1
    assert outside() == before  # written inside the namespace, nowhere else
    assert r.xread({"lesson03:sensors": 0}) == [["lesson03:sensors", [(entry_id, {"temp": "21"})]]]
    r.xgroup_create("lesson03:sensors", "g", id="0")
    assert r.xreadgroup("g", "c1", {"lesson03:sensors": ">"})[0][0] == "lesson03:sensors"
    assert r.xinfo_stream("lesson03:sensors")["length"] == 1
    assert r.xpending("lesson03:sensors", "g")["pending"] == 1
    assert sorted(r.scan_iter(match="lesson03:*")) == ["lesson03:sensors"]
    assert r.scan(0, count=1000)[1] == ["lesson03:sensors"]  # SCAN without MATCH: still fenced
    pipe = r.pipeline()
    pipe.xlen("lesson03:sensors").xread({"lesson03:sensors": 0})
    assert pipe.execute() == [1, [["lesson03:sensors", [(entry_id, {"temp": "21"})]]]]
    assert r.eval("return redis.call('XLEN', KEYS[1])", 1, "lesson03:sensors") == 1
    assert r.walrus.xlen("lesson03:sensors") == 1
    assert r.new_client().xlen("lesson03:sensors") == 1


def test_pubsub_channels_are_renamed_both_ways(learner):
    r, plain = learner
    prefix = r.namespace.prefix
    ps = r.pubsub(ignore_subscribe_messages=True)
    got = []
    ps.subscribe(**{"lesson06:alerts": got.append})
    ps.psubscribe("lesson06:*")
    try:
        assert wait_until(lambda: plain.pubsub_numsub(prefix + "lesson06:alerts")[0][1] == 1)
        assert r.pubsub_channels() == ["lesson06:alerts"]
        assert r.publish("lesson06:alerts", "hot") == 2  # the channel and the pattern
        messages = []
        assert wait_until(lambda: messages.append(ps.get_message(timeout=0.1)) or
                          (got and any(messages)))
        assert got[0]["channel"] == "lesson06:alerts" and got[0]["data"] == "hot"
        pmessage = next(m for m in messages if m)
        assert (pmessage["pattern"], pmessage["channel"]) == ("lesson06:*", "lesson06:alerts")
    finally:
        ps.close()


def test_redis_cell_uses_the_namespace(learner, shell, capsys):
    from streamlab.ui.magics import register

    r, plain = learner
    register(shell, r)
    shell.run_cell("%%redis\nXADD lesson01:events * user 1\nXLEN lesson01:events\n"
                   "XREAD STREAMS lesson01:events 0\n")
    out = capsys.readouterr().out
    assert "(integer) 1" in out and '"lesson01:events"' in out
    assert plain.xlen(r.namespace.prefix + "lesson01:events") == 1


def test_reset_deletes_only_the_learners_own_course_keys(learner):
    r, plain = learner
    other = f"o{uuid.uuid4().hex[:10]}"
    neighbour = sl_backend.connect(backend="fake" if r.backend.is_fake else None,
                                   url=r.backend.url, quiet=True, learner=other)
    try:
        r.xadd("lesson03:sensors", {"t": "1"})
        r.xadd("lesson04:sensors", {"t": "1"})
        neighbour.xadd("lesson03:sensors", {"t": "1"})
        assert sl_keys.reset(r, lesson=3, quiet=True) == 1
        assert r.exists("lesson03:sensors", "lesson04:sensors") == 1
        assert sl_keys.reset(r, quiet=True) == 1
        assert neighbour.xlen("lesson03:sensors") == 1
    finally:
        for key in plain.scan_iter(match=f"ws:{other}:*"):
            plain.delete(key)
        neighbour.close()


def test_without_a_namespace_nothing_is_renamed(r, prefix):
    assert r.namespace is None
    r.xadd(prefix + "s", {"f": "v"})
    assert r.scan_iter(match=prefix + "*").__next__() == prefix + "s"


# --- the shipped table and the server's own -----------------------------------------------

def test_shipped_key_specs_agree_with_the_real_servers_command_table(real_server_url):
    raw = redis.Redis.from_url(real_server_url, protocol=2)
    raw.response_callbacks.clear()
    try:
        table = namespace.shipped_table()
        differ = []
        for name in ("XADD", "XREAD", "XREADGROUP", "XINFO", "XGROUP", "XACK", "XCLAIM",
                     "XAUTOCLAIM", "XPENDING", "XRANGE", "XTRIM", "XDEL", "EVAL", "EVALSHA",
                     "DEL", "UNLINK", "EXISTS", "SPUBLISH", "MIGRATE", "SORT", "BLMPOP"):
            live = namespace.parse_command_info(raw.execute_command("COMMAND", "INFO", name)[0])
            if live != table.get(name):
                differ.append(name)
    finally:
        raw.close()
    assert not differ, f"run tools/keyspecs.py: the shipped key specs differ for {differ}"


# --- fenced ACL users on one server --------------------------------------------------------

@pytest.fixture(scope="module")
def fenced_server():
    """A private server with learners ana and bob fenced in."""
    with PrivateServer() as srv:
        admin = redis.Redis.from_url(srv.url, decode_responses=True)
        for learner_name in ("ana", "bob"):
            admin.execute_command("ACL", "SETUSER",
                                  *namespace.acl_setuser_args(learner_name, f"pw-{learner_name}"))
        urls = {n: srv.url.replace("redis://", f"redis://{n}:pw-{n}@") for n in ("ana", "bob")}
        yield admin, urls
        admin.close()


def test_a_fenced_user_connects_and_its_url_user_names_the_namespace(fenced_server, monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    ana = sl_backend.connect(urls["ana"], quiet=True)
    try:
        assert ana.backend.learner == "ana"
        assert "pw-ana" not in ana.banner() and "learner ana" in ana.banner()
        ana.xadd("lesson02:s", {"f": "v"})
        assert admin.xlen("ws:ana:lesson02:s") == 1
    finally:
        ana.delete("lesson02:s")
        ana.close()


def test_learners_cannot_reach_each_others_keys_or_channels(fenced_server, monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    ana = sl_backend.connect(urls["ana"], quiet=True)
    bob = sl_backend.connect(urls["bob"], quiet=True)
    sneaky = ana.without_namespace()  # names sent as written: the ACL alone stands guard
    try:
        bob.xadd("lesson03:sensors", {"t": "1"})
        attempts = {
            "read": lambda: sneaky.xrange("ws:bob:lesson03:sensors"),
            "write": lambda: sneaky.xadd("ws:bob:lesson03:sensors", {"t": "9"}),
            "delete": lambda: sneaky.delete("ws:bob:lesson03:sensors"),
            "subscribe": lambda: _subscribe(sneaky, "ws:bob:lesson06:alerts"),
            "publish": lambda: sneaky.publish("ws:bob:lesson06:alerts", "x"),
            "script": lambda: ana.eval("return redis.call('DEL', 'ws:bob:lesson03:sensors')", 0),
            "info": lambda: ana.info(),
            "flushall": lambda: ana.flushall(),
        }
        for what, attempt in attempts.items():
            with pytest.raises(redis.ResponseError) as caught:
                attempt()
            text = explain(caught.value)
            assert text.startswith("What happened: "), (what, text)
            assert "What to do: " in text, (what, text)
        assert admin.xlen("ws:bob:lesson03:sensors") == 1
        # Through the namespace, "ws:bob:..." is just one more of ana's own names.
        assert ana.xlen("ws:bob:lesson03:sensors") == 0
        assert sl_keys.reset(ana, quiet=True) == 0
        assert admin.xlen("ws:bob:lesson03:sensors") == 1
    finally:
        sl_keys.reset(bob, quiet=True)
        for c in (ana, bob, sneaky):
            c.close()


def _subscribe(client, channel):
    ps = client.pubsub()
    try:
        ps.subscribe(channel)
        ps.get_message(timeout=2)  # the refusal arrives as the subscribe reply
        ps.get_message(timeout=2)
    finally:
        ps.close()


def test_streamlab_reset_cli_deletes_only_the_learners_keys(fenced_server, monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    admin.xadd("ws:ana:lesson05:s", {"f": "v"})
    admin.xadd("ws:bob:lesson05:s", {"f": "v"})
    env = {**os.environ, "REDIS_URL": urls["ana"]}
    env.pop(namespace.LEARNER_ENV, None)
    done = subprocess.run([sys.executable, "-m", "streamlab.cli", "reset", "--lesson", "5"],
                          env=env, capture_output=True, text=True, timeout=60)
    try:
        assert done.returncode == 0, done.stderr
        assert "deleted 1 key(s) of lesson 05" in done.stdout
        assert "pw-ana" not in done.stdout + done.stderr
        assert admin.exists("ws:ana:lesson05:s") == 0
        assert admin.exists("ws:bob:lesson05:s") == 1
    finally:
        admin.delete("ws:bob:lesson05:s")



def test_reset_refused_by_the_acl_is_explained(fenced_server):
    """A user fenced to its keys but working without a namespace (learner="") finds another
    learner's lesson keys with SCAN and may not delete them: the refusal is explained."""
    admin, urls = fenced_server
    admin.xadd("lesson05:someone-elses", {"f": "v"})
    plain_user = sl_backend.connect(urls["ana"], quiet=True, learner="")
    try:
        assert plain_user.backend.namespace is None
        with pytest.raises(redis.exceptions.NoPermissionError) as caught:
            sl_keys.reset(plain_user, lesson=5, quiet=True)
        assert "may only touch keys under its own prefix" in explain(caught.value)
        assert admin.exists("lesson05:someone-elses") == 1
    finally:
        admin.delete("lesson05:someone-elses")
        plain_user.close()


def test_doctor_works_for_a_fenced_user(fenced_server, capsys, monkeypatch):
    import streamlab as sl

    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    report = sl.doctor(urls["ana"])
    out = capsys.readouterr().out
    assert "learner ana" in out and "pw-ana" not in out
    assert "Traceback" not in out


def test_a_refusal_in_a_notebook_cell_is_explained_not_a_traceback(fenced_server, shell, capsys,
                                                                   monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    shell.user_ns["fenced_url"] = urls["ana"]
    shell.run_cell("import streamlab as sl\nr = sl.connect(fenced_url, quiet=True)")
    try:
        capsys.readouterr()
        shell.run_cell("%%redis\nINFO server\nXLEN lesson01:events\n")
        out = capsys.readouterr().out
        assert "(error) NOPERM" in out
        assert "hint: Your Redis user may not run INFO" in out and "ACL SETUSER <user> +info" in out
        assert "(integer) 0" in out  # the next command still ran
        result = shell.run_cell("r.info()")
        captured = capsys.readouterr()
        assert isinstance(result.error_in_exec, redis.exceptions.NoPermissionError)
        assert "What happened: Your Redis user may not run INFO" in captured.out
        assert "Traceback" not in captured.out + captured.err
    finally:
        shell.run_cell("r.close()")
        shell.set_custom_exc((), None)


def test_the_terminal_programs_work_in_the_learners_namespace(fenced_server):
    admin, urls = fenced_server
    stream = "lesson07:ns-programs"
    # The user comes from the URL and the namespace from STREAMLAB_LEARNER, as a terminal has them.
    env = {**os.environ, "REDIS_URL": urls["ana"], namespace.LEARNER_ENV: "ana"}
    try:
        produced = subprocess.run(
            [sys.executable, "-m", "streamlab.cli", "produce", "sensor1", "--stream", stream,
             "--rate", "200", "--count", "5"], env=env, capture_output=True, text=True, timeout=60)
        assert produced.returncode == 0, produced.stderr
        assert admin.xlen("ws:ana:" + stream) == 5
        consumed = subprocess.run(
            [sys.executable, "-m", "streamlab.cli", "consume", "workers", "c1", "--stream", stream,
             "--count", "10", "--idle-exit", "1", "--block", "200"],
            env=env, capture_output=True, text=True, timeout=60)
        assert consumed.returncode == 0, consumed.stderr
        assert admin.xpending("ws:ana:" + stream, "workers")["pending"] == 0
        assert admin.xinfo_groups("ws:ana:" + stream)[0]["entries-read"] == 5
        assert not admin.exists(stream)  # nothing outside the namespace
    finally:
        for key in admin.scan_iter(match="ws:ana:lesson07:*"):
            admin.delete(key)


@pytest.mark.parametrize("pattern, channel, matches", [
    ("a*", "abc", True), ("a?c", "abc", True), ("a?c", "ac", False),
    ("a[b-c]c", "acc", True), ("a[^b]c", "abc", False), ("a[^b]c", "axc", True),
    ("a\\*", "a*", True), ("a\\*", "ab", False), ("[z-a]", "m", True),
    ("lesson06:sensor:*:temp", "lesson06:sensor:12:temp", True),
    ("lesson06:sensor:*:temp", "lesson06:sensor:12:humidity", False),
])
def test_patterns_match_as_redis_globs(pattern, channel, matches):
    assert bool(namespace.glob_regex(pattern).match(channel)) is matches


def test_each_matching_pattern_gets_the_message_once_and_unsubscribing_stops_it(learner):
    """Patterns are matched in the client (an ACL allows only literal patterns): a message
    comes once per matching pattern, with that pattern, as the server would send it."""
    r, plain = learner
    ps = r.pubsub()
    try:
        ps.psubscribe("lesson06:sensor:*", "lesson06:*:temp")
        confirmations = [ps.get_message(timeout=1) for _ in range(2)]
        assert [(m["type"], m["channel"], m["data"]) for m in confirmations] == [
            ("psubscribe", "lesson06:sensor:*", 1), ("psubscribe", "lesson06:*:temp", 2)]
        assert wait_until(lambda: plain.pubsub_numpat() >= 1)
        r.publish("lesson06:sensor:1:temp", "21")
        r.publish("lesson06:other", "x")  # matches neither
        got = []
        assert wait_until(lambda: got.append(ps.get_message(timeout=0.1)) or
                          len([m for m in got if m]) >= 2)
        got = [m for m in got if m]
        assert sorted(m["pattern"] for m in got) == ["lesson06:*:temp", "lesson06:sensor:*"]
        assert {m["channel"] for m in got} == {"lesson06:sensor:1:temp"}
        ps.punsubscribe("lesson06:sensor:*")
        assert wait_until(lambda: (m := ps.get_message(timeout=0.1)) and
                          m["type"] == "punsubscribe")
        r.publish("lesson06:sensor:2:temp", "22")
        after = []
        assert wait_until(lambda: after.append(ps.get_message(timeout=0.1)) or any(after))
        assert [m["pattern"] for m in after if m] == ["lesson06:*:temp"]
        # Copies for every matching pattern come from one server message, together: none left.
        assert ps.get_message(timeout=0) is None
    finally:
        ps.close()


def test_the_usual_workshop_recipe_without_info_connects(fenced_server, monkeypatch):
    """`+@all -@dangerous` takes INFO away: connect() names the server from HELLO instead."""
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    admin.execute_command("ACL", "SETUSER", "wide", "on", ">pw-wide", "+@all", "-@dangerous",
                          "~*", "&*")
    url = urls["ana"].replace("ana:pw-ana", "wide:pw-wide")
    try:
        r = sl_backend.connect(url, quiet=True)
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.info()
        assert r.backend.version >= (6,) and r.backend.version_text in r.banner()
        assert r.backend.learner == "wide"
        r.close()
    finally:
        admin.execute_command("ACL", "DELUSER", "wide")


# --- names that must not leak (review: attack findings 3, 9, 10, 13) ----------------------

def test_every_scan_match_is_kept_in_the_namespace():
    """Redis uses the last MATCH: a second one must not walk the whole keyspace."""
    ns = namespace.Namespace("ana")
    assert ns.map_args(("SCAN", 0, "MATCH", "x", "MATCH", "*")) == \
        ("SCAN", 0, "MATCH", "ws:ana:x", "MATCH", "ws:ana:*")
    # Options go in pairs: a TYPE whose value reads "match" is no MATCH keyword.
    assert ns.map_args(("SCAN", 0, "TYPE", "match", "MATCH", "x")) == \
        ("SCAN", 0, "TYPE", "match", "MATCH", "ws:ana:x")
    assert ns.map_args(("SCAN", 0, "COUNT", "match")) == \
        ("SCAN", 0, "COUNT", "match", "MATCH", "ws:ana:*")


def test_randomkey_is_refused_in_a_namespace():
    with pytest.raises(namespace.NamespaceError, match="SCAN 0 lists your own keys"):
        namespace.Namespace("ana").map_args(("RANDOMKEY",))


def test_a_key_that_is_not_utf8_is_renamed_as_bytes():
    ns = namespace.Namespace("ana")
    assert ns.map_args((b"EXISTS", b"\xff")) == (b"EXISTS", b"ws:ana:\xff")
    assert ns.map_args((b"XADD", b"\xff\xfe", b"*", b"f", b"v"))[1] == b"ws:ana:\xff\xfe"


def test_sort_keys_are_renamed_without_the_servers_getkeys():
    """SORT's STORE key has an "unknown" spec: the first key is still found (fakeredis)."""
    ns = namespace.Namespace("ana")
    assert ns.map_args(("SORT", "l", "STORE", "d"))[1] == "ws:ana:l"
    assert ns.map_args(("SORT_RO", "k")) == ("SORT_RO", "ws:ana:k")


def test_a_fenced_learner_cannot_list_other_learners_names(fenced_server, monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    bob = sl_backend.connect(urls["bob"], quiet=True)
    raw_ana = redis.Redis.from_url(urls["ana"], decode_responses=True)
    ana = sl_backend.connect(urls["ana"], quiet=True)
    ps = bob.pubsub()
    try:
        bob.set("private-token", "x")
        ps.subscribe("lesson06:alerts")
        assert wait_until(lambda: admin.pubsub_numsub("ws:bob:lesson06:alerts")[0][1] == 1)
        for leak in (("RANDOMKEY",), ("DBSIZE",), ("PUBSUB", "CHANNELS"),
                     ("PUBSUB", "SHARDCHANNELS"), ("CLIENT", "TRACKING", "on", "BCAST")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                raw_ana.execute_command(*leak)
        # Through streamlab, even a second MATCH stays in ana's own keys.
        _, found = ana.execute_command("SCAN", 0, "MATCH", "x", "MATCH", "*", "COUNT", 1000)
        assert not [k for k in found if "bob" in k], found
        assert ana.pubsub_numsub("lesson06:alerts") == [("lesson06:alerts", 0)]  # still runs
    finally:
        ps.close()
        bob.delete("private-token")
        for c in (ana, bob, raw_ana):
            c.close()


def test_a_username_in_the_query_names_the_namespace_and_probes_are_per_user(fenced_server,
                                                                             monkeypatch):
    monkeypatch.delenv(namespace.LEARNER_ENV, raising=False)
    admin, urls = fenced_server
    base = urls["ana"].replace("ana:pw-ana@", "")
    r = sl_backend.connect(f"{base}?username=ana&password=pw-ana", quiet=True)
    try:
        assert r.backend.learner == "ana"
        assert r.supports("partial-ids") is True  # probed in ana's namespace, not refused
    finally:
        r.close()
    sl_backend.forget_probes()
    plain = sl_backend.connect(urls["ana"], quiet=True, learner="")  # no namespace: NOPERM
    try:
        with pytest.raises(sl_backend.BackendError, match="may not run the probe"):
            plain.supports("partial-ids")
    finally:
        plain.close()
    again = sl_backend.connect(urls["ana"], quiet=True)  # nothing "missing" was cached
    try:
        assert again.supports("partial-ids") is True
    finally:
        again.close()


def test_doctor_reports_a_user_that_may_not_write_its_keys(fenced_server, capsys, monkeypatch):
    import streamlab as sl

    monkeypatch.setenv(namespace.LEARNER_ENV, "not-ana")  # a namespace the ACL does not allow
    admin, urls = fenced_server
    sl_backend.forget_probes()
    sl.doctor(urls["ana"])
    out = capsys.readouterr().out
    assert "Everything the course needs is here" not in out
    assert "may not run the probe" in out and "pw-ana" not in out
