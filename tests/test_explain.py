"""streamlab.explain: every mistake a learner can make gets "what happened, what to do".

Each error is caused for real on fakeredis and on a real server (the ``r``
fixture), so the texts the rules match are the texts the backends send.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import fakeredis
import pytest
import redis

from streamlab import backend as sl_backend
from streamlab.explain import explain, friendly, hint, server_text

from helpers import is_blocked, wait_until


def caught(fn, *args, **kwargs) -> BaseException:
    """The exception ``fn(*args, **kwargs)`` raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    return info.value


def assert_explained(exc, *words):
    """``exc`` is a known learner error whose hint and explanation mention every word."""
    one_line = hint(exc)
    assert one_line is not None, f"no hint for {exc!r}"
    assert "\n" not in one_line
    text = explain(exc)
    assert 1 <= len(text.splitlines()) <= 2
    for word in words:
        assert word.lower() in one_line.lower(), (word, one_line)
        assert word.lower() in text.lower(), (word, text)


# --- IDs ---------------------------------------------------------------------

def test_id_not_greater_than_top_item_says_use_star(r, prefix):
    r.xadd(prefix + "s", {"a": 1}, id="5-1")
    exc = caught(r.xadd, prefix + "s", {"a": 1}, id="5-1")
    assert server_text(exc) == ("ERR The ID specified in XADD is equal or smaller than "
                                "the target stream top item")
    assert_explained(exc, "*", "greater")


def test_zero_id_is_explained(r, prefix):
    exc = caught(r.xadd, prefix + "s", {"a": 1}, id="0-0")
    assert server_text(exc) == "ERR The ID specified in XADD must be greater than 0-0"
    assert_explained(exc, "0-1")


@pytest.mark.parametrize("bad_id", ["abc", "1-x", "-1"])
def test_malformed_id_shows_the_id_shape(r, prefix, bad_id):
    exc = caught(r.xadd, prefix + "s", {"a": 1}, id=bad_id)
    assert server_text(exc) == "ERR Invalid stream ID specified as stream command argument"
    assert_explained(exc, "<ms>-<seq>")


def test_dollar_in_xreadgroup_points_to_the_angle_bracket(r, prefix):
    r.xgroup_create(prefix + "s", "g", "$", mkstream=True)
    exc = caught(r.execute_command, "XREADGROUP", "GROUP", "g", "c", "STREAMS", prefix + "s", "$")
    # Real Redis names the mistake; fakeredis calls it an invalid ID. Both hints say '>'.
    assert "ERR" in server_text(exc)
    assert ">" in hint(exc, "XREADGROUP")


def test_angle_bracket_in_xread_points_to_dollar(r, prefix):
    r.xadd(prefix + "s", {"a": 1})
    exc = caught(r.execute_command, "XREAD", "STREAMS", prefix + "s", ">")
    assert "$" in hint(exc, "XREAD")


# --- keys, types and groups -----------------------------------------------------

def test_wrongtype_on_xadd_says_use_type(r, prefix):
    r.set(prefix + "k", "x")
    exc = caught(r.xadd, prefix + "k", {"a": 1})
    assert server_text(exc) == "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert_explained(exc, "TYPE")


@pytest.mark.parametrize("read", ["xread", "xreadgroup"])
def test_wrongtype_on_reads_is_wrongtype_on_both_backends(r, prefix, read):
    """fakeredis raises AttributeError here (real Redis answers WRONGTYPE); the learner sees WRONGTYPE either way."""
    r.set(prefix + "k", "x")
    if read == "xread":
        exc = caught(r.xread, {prefix + "k": "0"})
    else:
        exc = caught(r.xreadgroup, "g", "c", {prefix + "k": ">"})
    if r.backend.is_fake:
        assert isinstance(exc, AttributeError)
    assert server_text(exc).startswith("WRONGTYPE")
    assert_explained(exc, "TYPE")


def test_missing_group_says_create_it(r, prefix):
    r.xadd(prefix + "s", {"a": 1})
    exc = caught(r.xreadgroup, "nogroup", "c", {prefix + "s": ">"})
    assert server_text(exc).startswith("NOGROUP No such key")
    assert_explained(exc, "XGROUP CREATE")


def test_missing_group_in_xpending_says_create_it(r, prefix):
    r.xadd(prefix + "s", {"a": 1})
    exc = caught(r.xpending, prefix + "s", "nogroup")
    assert server_text(exc).startswith("NOGROUP")
    assert_explained(exc, "XGROUP CREATE")


def test_missing_stream_for_a_group_says_mkstream(r, prefix):
    exc = caught(r.xgroup_create, prefix + "nokey", "g", "$")
    assert server_text(exc).startswith("ERR The XGROUP subcommand requires the key to exist")
    assert_explained(exc, "MKSTREAM")


def test_xreadgroup_on_missing_stream_says_mkstream(r, prefix):
    # Real Redis answers NOGROUP, fakeredis "requires the key to exist": one hint for both.
    exc = caught(r.xreadgroup, "g", "c", {prefix + "nokey": ">"})
    assert_explained(exc, "MKSTREAM")


def test_group_that_exists_says_busygroup(r, prefix):
    r.xgroup_create(prefix + "s", "g", "$", mkstream=True)
    exc = caught(r.xgroup_create, prefix + "s", "g", "$")
    # Real Redis sends "BUSYGROUP ...", fakeredis "ERR BUSYGROUP ...".
    assert "BUSYGROUP Consumer Group name already exists" in server_text(exc)
    assert_explained(exc, "already exists")


def test_xinfo_on_missing_key_says_check_the_name(r, prefix):
    exc = caught(r.xinfo_stream, prefix + "nokey")
    assert server_text(exc) == "ERR no such key"
    assert_explained(exc, "EXISTS")


# --- command shape -------------------------------------------------------------

def test_wrong_number_of_arguments_shows_the_syntax(r, prefix):
    exc = caught(r.execute_command, "XADD", prefix + "s", "*", "lonely-field")
    assert server_text(exc) == "ERR wrong number of arguments for 'xadd' command"
    assert_explained(exc, "XADD key")


def test_syntax_error_shows_the_syntax_of_the_command_given(r, prefix):
    r.xadd(prefix + "s", {"a": 1})
    exc = caught(r.execute_command, "XRANGE", prefix + "s", "-", "+", "COUNT")
    assert server_text(exc) == "ERR syntax error"
    assert "XRANGE key start end" in hint(exc, "XRANGE")
    assert "XRANGE key start end" in explain(exc, "xrange")


def test_not_an_integer_names_the_numeric_options(r, prefix):
    exc = caught(r.execute_command, "XADD", prefix + "s", "MAXLEN", "many", "*", "a", "1")
    assert server_text(exc) == "ERR value is not an integer or out of range"
    assert_explained(exc, "COUNT")


def test_unbalanced_streams_says_one_id_per_stream(r, prefix):
    r.xadd(prefix + "s", {"a": 1})
    exc = caught(r.execute_command, "XREAD", "STREAMS", prefix + "s", prefix + "t", "0")
    # "Unbalanced XREAD list of streams" on Redis, "syntax error" on fakeredis.
    assert "one ID per stream" in hint(exc, "XREAD")


def test_unknown_command_says_check_the_spelling(r):
    exc = caught(r.execute_command, "XADDD", "k", "*", "a", "1")
    assert server_text(exc).lower().startswith("err unknown command 'xaddd'")
    assert_explained(exc, "XADDD", "spelling")


def test_unknown_subcommand_names_the_command_it_belongs_to(r, prefix):
    r.xadd(prefix + "s", {"a": 1})
    exc = caught(r.execute_command, "XINFO", "NOSUCH", prefix + "s")
    # Redis: "unknown subcommand 'NOSUCH'. Try XINFO HELP.";
    # fakeredis: "unknown command 'xinfo nosuch'".
    assert_explained(exc, "XINFO", "subcommand NOSUCH")


@pytest.mark.parametrize("feature, command, since", [
    ("xdelex", ["XDELEX", "{s}", "IDS", "1", "1-1"], "8.2"),
    ("xnack", ["XNACK", "{s}", "g", "SILENT", "IDS", "1", "1-1"], "8.8"),
])
def test_missing_newer_command_names_the_version(r, prefix, feature, command, since):
    if r.supports(feature):
        pytest.skip(f"this backend has {command[0]}")
    args = [a.format(s=prefix + "s") for a in command]
    if r.backend.is_fake and feature == "xdelex":
        # fakeredis takes XDELEX whatever version it emulates; supports() still says no
        assert r.execute_command(*args) == [-1]
        return
    exc = caught(r.execute_command, *args)
    assert_explained(exc, command[0], since)


def test_xsetid_missing_on_fakeredis_names_the_version(r, prefix):
    if r.supports("xsetid"):
        pytest.skip("this backend has XSETID")
    exc = caught(r.execute_command, "XSETID", prefix + "s", "9-9")
    assert_explained(exc, "XSETID", "5.0", "fakeredis")


# --- payloads ------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, {"nested": 1}, [1, 2]])
def test_none_or_nested_payload_says_json_encode(r, prefix, value):
    exc = caught(r.xadd, prefix + "s", {"reading": value})
    assert isinstance(exc, redis.DataError)
    assert_explained(exc, "str, bytes, int or float", "json")


def test_empty_payload_says_at_least_one_field(r, prefix):
    exc = caught(r.xadd, prefix + "s", {})
    assert_explained(exc, "field")


# --- connections -----------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_says_start_a_server(backend_kind):
    if backend_kind == "fake":
        server = fakeredis.FakeServer()
        server.connected = False
        client = fakeredis.FakeRedis(server=server)
    else:
        client = redis.Redis(port=_closed_port(), retry=None, socket_connect_timeout=2)
    exc = caught(client.ping)
    client.close()
    assert isinstance(exc, redis.ConnectionError)
    assert_explained(exc, "redis-server")


def test_wrong_password_is_explained_without_showing_it(backend_kind, request):
    if backend_kind == "fake":
        # A FakeRedis(password=...) is let in whatever the password: AUTH by hand.
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        client.config_set("requirepass", "right")
        url = "redis://:hunter2@fake:6379/0"
        exc = caught(client.auth, "hunter2")
    else:
        real = urlsplit(request.getfixturevalue("real_server_url"))
        url = f"redis://bob:hunter2@{real.hostname}:{real.port}/0"
        client = redis.Redis.from_url(url, retry=None)
        exc = caught(client.ping)
    client.close()
    assert isinstance(exc, redis.AuthenticationError)
    assert_explained(exc, "password")
    wrapped = redis.ConnectionError(f"could not log in to {url}: {exc}")
    assert "hunter2" not in explain(wrapped)
    assert "***" in explain(wrapped)


def test_socket_timeout_on_a_blocking_read_explains_the_pitfall(real_server_url):
    """Real Redis only: a fakeredis client has no socket, so it never times out."""
    client = redis.Redis.from_url(real_server_url, socket_timeout=0.2, retry=None)
    exc = caught(client.xread, {"streamlab:test:never-written": "$"}, block=2000)
    client.close()
    assert isinstance(exc, redis.TimeoutError)
    assert_explained(exc, "socket_timeout", "BLOCK")


def test_backend_error_is_passed_through():
    exc = sl_backend.BackendError("REDIS_URL: nothing answered at redis://h:1/0. Check it.")
    assert explain(exc) == str(exc)
    assert hint(exc) == str(exc)


# --- friendly() ------------------------------------------------------------------

def test_friendly_prints_the_explanation_instead_of_raising(r, prefix, capsys):
    r.xadd(prefix + "s", {"a": 1}, id="5-1")
    reached = []
    with friendly():
        r.xadd(prefix + "s", {"a": 1}, id="4-0")
        reached.append("after")  # never runs: the error ends the block
    out = capsys.readouterr().out
    assert reached == []
    assert "equal or smaller" in out and "*" in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) <= 2


def test_friendly_maps_fakeredis_attribute_error_to_wrongtype(r, prefix, capsys):
    r.set(prefix + "k", "x")
    with friendly():
        r.xread({prefix + "k": "0"})
    assert "WRONGTYPE" in capsys.readouterr().out


def test_friendly_lets_unexpected_errors_through(capsys):
    with pytest.raises(ZeroDivisionError):
        with friendly():
            1 / 0
    with pytest.raises(AttributeError):
        with friendly():
            None.xadd  # noqa: B018 - an AttributeError that is not fakeredis's
    assert capsys.readouterr().out == ""


def test_friendly_is_silent_when_nothing_fails(r, prefix, capsys):
    with friendly():
        r.xadd(prefix + "s", {"a": 1})
    assert capsys.readouterr().out == ""


def test_friendly_works_as_a_decorator(r, prefix, capsys):
    @friendly()
    def add_twice():
        r.xadd(prefix + "s", {"a": 1}, id="7-0")
        r.xadd(prefix + "s", {"a": 1}, id="7-0")

    add_twice()
    assert "equal or smaller" in capsys.readouterr().out


def test_unknown_exception_gets_a_plain_one_liner():
    assert explain(ValueError("boom")) == "ValueError: boom"
    assert hint(ValueError("boom")) is None


def test_streamlabs_own_errors_are_shown_as_they_are_everywhere():
    from streamlab.cluster import ClusterError
    from streamlab.errors import LearnerError
    from streamlab.newway import NotOnThisServer

    for kind in (sl_backend.BackendError, ClusterError, NotOnThisServer):
        exc = kind("what failed.\nWhat to do.")
        assert isinstance(exc, LearnerError)
        assert explain(exc) == hint(exc) == "what failed.\nWhat to do."
        assert exc._render_traceback_() == [f"{kind.__name__}: what failed.", "What to do."]


def test_one_line_names_the_error_in_a_short_line_without_passwords():
    from streamlab.explain import one_line

    assert one_line(ValueError("first\nsecond")) == "ValueError: first"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("x" * 400)) == "RuntimeError: " + "x" * 299 + "…"
    assert one_line(OSError("no redis://u:secret@h:6379/0")) == "OSError: no redis://u:***@h:6379/0"


def test_xsetid_backwards_says_the_last_id_never_goes_back(r, prefix):
    if not r.supports("xsetid"):
        pytest.skip("this backend has no XSETID")
    r.xadd(prefix + "s", {"a": 1}, id="5-1")
    exc = caught(r.execute_command, "XSETID", prefix + "s", "1-1")
    assert server_text(exc) == ("ERR The ID specified in XSETID is smaller than the target "
                                "stream top item")
    assert_explained(exc, "never goes back", "last-generated-id")


def test_stream_deleted_under_a_blocked_group_read_is_explained(r, prefix):
    """What the blocked read gets depends on the server (backend.behaviour): UNBLOCKED on
    Redis 7.0, NOGROUP on 7.2+ and Valkey (the read is run again), nothing on fakeredis
    until BLOCK runs out. Either error is explained as the deletion it is."""
    key = prefix + "deleted-under-reader"
    expected = r.behaviour("deleted-stream-under-blocked-read")
    reader = r.new_client()
    name = "streamlab-test-deleted-" + uuid.uuid4().hex[:8]
    reader.client_setname(name)
    r.xgroup_create(key, "g", "$", mkstream=True)
    outcome = []

    def read():
        try:
            outcome.append(reader.xreadgroup("g", "c", {key: ">"},
                                             block=1000 if expected == "keeps-waiting" else 20000))
        except redis.ResponseError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    assert wait_until(lambda: is_blocked(r, name), timeout=10), "the read never blocked"
    r.delete(key)
    thread.join(30)
    reader.close()
    assert not thread.is_alive() and len(outcome) == 1
    if expected == "keeps-waiting":
        assert outcome == [[]]  # fakeredis waits the whole BLOCK and answers nothing
        return
    assert isinstance(outcome[0], redis.ResponseError), outcome
    assert server_text(outcome[0]).startswith(expected)
    assert_explained(outcome[0], "the stream was deleted while this read was waiting", "MKSTREAM")


def test_both_replies_to_a_deleted_stream_are_explained_as_the_deletion():
    """The two texts servers send (measured on Redis 7.0.15 and Valkey 8.1.8/9.1.2)."""
    for text in ("UNBLOCKED the stream key no longer exists",
                 "NOGROUP No such key 'k' or consumer group 'g' in XREADGROUP with GROUP option"):
        assert_explained(redis.ResponseError(text),
                         "the stream was deleted while this read was waiting", "MKSTREAM")


def test_is_out_of_memory_knows_the_oom_refusal_and_nothing_else():
    from streamlab.explain import is_out_of_memory

    assert is_out_of_memory(redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."))
    assert is_out_of_memory(redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'."))
    assert not is_out_of_memory(redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"))
    assert not is_out_of_memory(ValueError("OOM "))  # only the server's refusal counts

