"""%redis / %%redis: redis-cli syntax in, redis-cli's printout out, on both backends.

Most tests drive a real IPython InteractiveShell (``shell.run_cell('%%redis ...')``)
and read what the cell printed. Where ``redis-cli`` is installed, the printout is
compared byte for byte with what redis-cli prints for the same commands on the
real server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import fakeredis
import pytest
from IPython.core.interactiveshell import InteractiveShell

from streamlab import backend as sl_backend
import streamlab as sl
from streamlab.redis_cli import Status, format_reply, split_args
from streamlab.ui.magics import FOLD_OVER, FOLD_TO, Printout, fold, register

from helpers import is_blocked, wait_until


@pytest.fixture
def real(real_server_url):
    """A Client on the real test server only (for what only a real server can show)."""
    client = sl_backend.connect(real_server_url, quiet=True)
    yield client
    client.close()


@pytest.fixture
def cell(shell, r, capsys):
    """``cell(text)`` runs ``%%redis`` + text in the shell on ``r`` and returns what it printed."""
    register(shell, r)
    capsys.readouterr()

    def run(text: str, magic: str = "%%redis\n") -> str:
        result = shell.run_cell(magic + text)
        out = capsys.readouterr().out
        assert result.success, f"the cell raised: {result.error_in_exec!r}\n{out}"
        assert "Traceback" not in out
        return out

    return run


# --- formatting, without a server ------------------------------------------------

def test_strings_are_quoted_with_redis_cli_escapes():
    assert format_reply(b"hello") == '"hello"'
    assert format_reply(b'a "b"\\c') == r'"a \"b\"\\c"'
    assert format_reply(b"tab\there\nnew\r\a\b") == r'"tab\there\nnew\r\a\b"'
    assert format_reply("é".encode()) == r'"\xc3\xa9"'
    assert format_reply(b"\x00\x7f") == r'"\x00\x7f"'
    assert format_reply(b"") == '""'


def test_scalars_print_as_redis_cli_does():
    assert format_reply(3) == "(integer) 3"
    assert format_reply(-1) == "(integer) -1"
    assert format_reply(None) == "(nil)"
    assert format_reply([]) == "(empty array)"
    assert format_reply(Status(b"OK")) == "OK"


def test_nested_arrays_are_numbered_and_indented():
    reply = [[b"1-1", [b"a", b"1", b"b", b"2"]], [b"2-0", [b"a", b"3"]]]
    assert format_reply(reply) == "\n".join([
        '1) 1) "1-1"',
        '   2) 1) "a"',
        '      2) "1"',
        '      3) "b"',
        '      4) "2"',
        '2) 1) "2-0"',
        '   2) 1) "a"',
        '      2) "3"',
    ])


def test_ten_or_more_items_right_align_their_numbers():
    reply = [b"k", list(range(10))]
    lines = format_reply(reply).splitlines()
    assert lines[1] == "2)  1) (integer) 0"
    assert lines[2] == "    2) (integer) 1"
    assert lines[-1] == "   10) (integer) 9"


def test_errors_inside_an_array_print_as_errors():
    from redis import ResponseError

    reply = [Status(b"OK"), ResponseError("WRONGTYPE Operation against a key holding the wrong "
                                          "kind of value")]
    assert format_reply(reply).splitlines()[1] == ("2) (error) WRONGTYPE Operation against a key "
                                                    "holding the wrong kind of value")


# --- quoting, without a server ---------------------------------------------------

@pytest.mark.parametrize("line, args", [
    ("XADD s * a 1", [b"XADD", b"s", b"*", b"a", b"1"]),
    ("  XLEN   s  ", [b"XLEN", b"s"]),
    ('SET k "hello world"', [b"SET", b"k", b"hello world"]),
    (r'SET k "line\nnext\ttab\\ \"q\""', [b"SET", b"k", b'line\nnext\ttab\\ "q"']),
    (r'SET k "\x41\x42\xff"', [b"SET", b"k", b"AB\xff"]),
    (r'SET k "\xZZ"', [b"SET", b"k", b"xZZ"]),
    (r"SET k 'it\'s $ \n raw'", [b"SET", b"k", b"it's $ \\n raw"]),
    ("SET k ''", [b"SET", b"k", b""]),
    ('SET k pre"fix mid"', [b"SET", b"k", b"prefix mid"]),
    ("XADD s * json '{\"a\": [1, 2]}'", [b"XADD", b"s", b"*", b"json", b'{"a": [1, 2]}']),
    ("SET k é", [b"SET", b"k", "é".encode()]),
])
def test_split_args_quotes_like_redis_cli(line, args):
    assert split_args(line) == args


@pytest.mark.parametrize("line", ['SET k "open', "SET k 'open", 'SET k "a"b', "SET k 'a'b"])
def test_split_args_rejects_what_redis_cli_rejects(line):
    with pytest.raises(ValueError, match="Invalid argument"):
        split_args(line)


# --- one command, on both backends -------------------------------------------------

def test_single_command_prints_only_the_reply(cell, prefix):
    assert cell(f"XADD {prefix}s 5-1 temp 21.5") == '"5-1"\n'
    assert cell(f"XLEN {prefix}s") == "(integer) 1\n"
    assert cell(f"TYPE {prefix}s") == "stream\n"
    assert cell(f"GET {prefix}missing") == "(nil)\n"
    assert cell(f"XRANGE {prefix}nothing - +") == "(empty array)\n"


def test_line_magic_prints_and_returns_nothing(cell, prefix, shell):
    assert cell(f"XADD {prefix}s 1-1 a 1", magic="%redis ") == '"1-1"\n'
    assert cell(f"reply = %redis XLEN {prefix}s", magic="") == "(integer) 1\n"
    assert shell.user_ns["reply"] is None


def test_xrange_prints_entries_as_nested_arrays(cell, prefix):
    cell(f"XADD {prefix}s 1-1 name \"Ada L\" tab 'a\tb'")
    cell(f"XADD {prefix}s 2-0 n 2")
    assert cell(f"XRANGE {prefix}s - +") == "\n".join([
        '1) 1) "1-1"',
        '   2) 1) "name"',
        '      2) "Ada L"',
        '      3) "tab"',
        '      4) "a\\tb"',
        '2) 1) "2-0"',
        '   2) 1) "n"',
        '      2) "2"',
    ]) + "\n"


def test_dollar_and_braces_reach_redis_untouched(cell, prefix, shell, r):
    """IPython would expand $name and {expr} in a line magic; %redis leaves them to Redis."""
    shell.user_ns["name"] = "python-variable"
    cell(f"SET {prefix}k $name{{name}}", magic="%redis ")
    assert cell(f"GET {prefix}k", magic="%redis ") == '"$name{name}"\n'
    cell(f"XADD {prefix}s 1-1 j '{{\"k\": 1}}'")
    assert cell(f"XREAD COUNT 1 STREAMS {prefix}s 0") == "\n".join([
        f'1) 1) "{prefix}s"',
        '   2) 1) 1) "1-1"',
        '         2) 1) "j"',
        '            2) "{\\"k\\": 1}"',
    ]) + "\n"
    # Nothing new: Redis answers a nil array, fakeredis an empty one (raw replies show it).
    nothing = "(empty array)\n" if r.backend.is_fake else "(nil)\n"
    assert cell(f"XREAD STREAMS {prefix}s $", magic="%redis ") == nothing


# --- several commands ----------------------------------------------------------------

def test_several_commands_echo_each_command_and_skip_comments(cell, prefix):
    out = cell(f"""
# a comment line is skipped, and so is the blank line below

XADD {prefix}s 1-1 a 1
XLEN {prefix}s
""")
    assert out == f'> XADD {prefix}s 1-1 a 1\n"1-1"\n> XLEN {prefix}s\n(integer) 1\n'


def test_an_error_prints_error_and_hint_and_the_cell_carries_on(cell, prefix):
    out = cell(f"XADD {prefix}s 5-1 a 1\nXADD {prefix}s 5-1 a 1\nXLEN {prefix}s")
    lines = out.splitlines()
    assert lines[3] == ("(error) ERR The ID specified in XADD is equal or smaller than the "
                        "target stream top item")
    assert lines[4].startswith("hint: ") and "*" in lines[4]
    assert lines[-1] == "(integer) 1"


def test_a_hint_repeated_in_one_cell_is_printed_once(cell, prefix):
    # Two errors of the same kind in one cell: both errors shown, their hint only once.
    out = cell(f"XADD {prefix}s 5-1 a 1\nXADD {prefix}s 5-1 a 1\nXADD {prefix}s 4-1 a 1")
    assert out.count("(error) ERR The ID specified in XADD") == 2
    assert sum(line.startswith("hint: ") for line in out.splitlines()) == 1
    # The next cell prints it again.
    assert "hint: " in cell(f"XADD {prefix}s 3-1 a 1")


def test_multi_exec_prints_queued_and_each_result(cell, prefix):
    out = cell(f"MULTI\nXADD {prefix}s 1-1 a 1\nSET {prefix}k v\nXLEN {prefix}s\nEXEC")
    replies = [line for line in out.splitlines() if not line.startswith("> ")]
    assert replies == ["OK", "QUEUED", "QUEUED", "QUEUED",
                       '1) "1-1"', "2) OK", "3) (integer) 1"]


# --- every error kind: (error) + hint, never a traceback ------------------------------

ERROR_CASES = {
    "id not greater": ("XADD {p}s 5-1 a 1", "equal or smaller"),
    "0-0": ("XADD {p}s 0-0 a 1", "greater than 0-0"),
    "malformed abc": ("XADD {p}s abc a 1", "Invalid stream ID"),
    "malformed 1-x": ("XRANGE {p}s 1-x +", "Invalid stream ID"),
    "malformed -1": ("XADD {p}s -1 a 1", "Invalid stream ID"),
    "wrongtype": ("XADD {p}str * a 1", "WRONGTYPE"),
    "wrongtype xread": ("XREAD STREAMS {p}str 0", "WRONGTYPE"),
    "nogroup": ("XREADGROUP GROUP nogroup c STREAMS {p}s >", "NOGROUP"),
    "busygroup": ("XGROUP CREATE {p}s g $", "BUSYGROUP"),
    "missing stream": ("XGROUP CREATE {p}nokey g $", "requires the key to exist"),
    "wrong arity": ("XADD {p}s * lonely", "wrong number of arguments"),
    "syntax": ("XRANGE {p}s - + COUNT", "syntax error"),
    "not integer": ("XADD {p}s MAXLEN many * a 1", "not an integer"),
    "unknown command": ("XADDD {p}s * a 1", "unknown command"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_every_error_kind_prints_error_and_hint(cell, prefix, r, case):
    command, text = ERROR_CASES[case]
    r.xadd(prefix + "s", {"a": 1}, id="5-1")
    r.xgroup_create(prefix + "s", "g", "$")
    r.set(prefix + "str", "x")
    lines = cell(command.format(p=prefix)).splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("(error) ") and text in lines[0]
    assert lines[1].startswith("hint: ")


def test_missing_newer_command_names_the_version(cell, prefix, r):
    if r.supports("xsetid"):
        command, version = f"XDELEX {prefix}s IDS 1 1-1", "8.2"
        if r.supports("xdelex"):
            pytest.skip("this backend has both XSETID and XDELEX")
    else:
        command, version = f"XSETID {prefix}s 9-9", "5.0"
    lines = cell(command).splitlines()
    assert lines[0].startswith("(error) ERR unknown command")
    assert version in lines[1]


def test_unbalanced_quotes_say_invalid_arguments(cell):
    lines = cell('SET k "never closed').splitlines()
    assert lines[0] == "Invalid argument(s)"
    assert lines[1].startswith("hint: ") and "quote" in lines[1]


def test_a_line_with_a_quote_left_open_says_how_to_quote_and_the_cell_carries_on(cell, r, prefix):
    lines = cell(f'SET {prefix}k "never closed\nSET {prefix}after 1').splitlines()
    assert lines[1:3] == ["Invalid argument(s)",
                          "hint: A quote is not closed, or a closing quote is followed by something other "
                          "than a space. Quote the whole argument: 'like this' or \"like this\"."]
    assert lines[-1] == "OK" and r.get(prefix + "after") == "1"
    assert not r.exists(prefix + "k")


def test_a_syntax_error_hint_shows_the_shape_of_that_command(cell, prefix):
    lines = cell(f"XRANGE {prefix}s - + COUNT").splitlines()
    assert lines[0].startswith("(error) ") and "syntax error" in lines[0]
    assert "Its shape is: XRANGE key start end [COUNT n]" in lines[1]


def test_a_command_name_that_is_not_utf8_is_an_unknown_command_not_a_traceback(cell):
    lines = cell('"\\xff\\xfe" a').splitlines()
    assert lines[0].startswith("(error) ERR unknown command")


def test_an_error_inside_multi_that_does_not_abort_it_keeps_the_queued_replies(cell, prefix):
    # WATCH inside MULTI is refused, but the transaction goes on: EXEC still runs the SET.
    out = cell(f"MULTI\nSET {prefix}k v\nWATCH {prefix}k\nEXEC")
    replies = [line for line in out.splitlines() if not line.startswith(("> ", "hint: "))]
    assert replies[:2] == ["OK", "QUEUED"] and replies[2].startswith("(error) ")
    assert replies[3:] == ["1) OK"]


def test_after_a_transaction_that_failed_replies_are_shown_as_they_are(cell, prefix):
    # EXECABORT ends the transaction: a later reply that happens to read QUEUED is a
    # string like any other, not a queued command.
    out = cell(f"MULTI\nINCR\nEXEC\nSET {prefix}k QUEUED\nGET {prefix}k")
    replies = [line for line in out.splitlines() if not line.startswith(("> ", "hint: "))]
    assert replies[0] == "OK" and replies[1].startswith("(error) ") and "EXECABORT" in replies[2]
    assert replies[-2:] == ["OK", '"QUEUED"']


def test_subscribe_is_refused_with_a_pointer_to_pubsub(cell):
    out = cell("SUBSCRIBE news")
    assert "r.pubsub()" in out


# --- the article's commands, on a key of our own ----------------------------------------

def test_articles_xadd_with_maxlen_and_xtrim_run_as_written(cell, prefix):
    key = prefix + "app:events"
    out = cell(f"XADD {key} MAXLEN 10000 * user_id 1001 action login\n"
               f"XTRIM {key} MAXLEN 10000\nXLEN {key}")
    lines = out.splitlines()
    assert lines[0] == f"> XADD {key} MAXLEN 10000 * user_id 1001 action login"
    assert lines[1].startswith('"') and lines[1].endswith('-0"')
    assert lines[2:] == [f"> XTRIM {key} MAXLEN 10000", "(integer) 0",
                         f"> XLEN {key}", "(integer) 1"]


# --- consumer-group replies: raw RESP2 shapes, not redis-py's -----------------------------

def test_group_replies_keep_their_raw_shapes(cell, prefix, r):
    s = prefix + "s"
    cell(f"XADD {s} 1-1 a 1\nXADD {s} 2-1 a 2\nXGROUP CREATE {s} g 0")
    assert cell(f"XREADGROUP GROUP g c COUNT 1 STREAMS {s} >") == "\n".join([
        f'1) 1) "{s}"',
        '   2) 1) 1) "1-1"',
        '         2) 1) "a"',
        '            2) "1"',
    ]) + "\n"
    cell(f"XREADGROUP GROUP g c2 STREAMS {s} >")
    # Redis sends each consumer's count as a string, fakeredis as an integer.
    count = "(integer) 1" if r.backend.is_fake else '"1"'
    assert cell(f"XPENDING {s} g") == "\n".join([
        "1) (integer) 2", '2) "1-1"', '3) "2-1"',
        '4) 1) 1) "c"', f'      2) {count}', '   2) 1) "c2"', f'      2) {count}',
    ]) + "\n"
    extended = cell(f"XPENDING {s} g - + 10 c").splitlines()
    assert extended[:2] == ['1) 1) "1-1"', '   2) "c"']
    assert extended[2].startswith("   3) (integer) ") and extended[3] == "   4) (integer) 1"
    assert cell(f"XAUTOCLAIM {s} g c3 0 0 COUNT 1") == "\n".join([
        '1) "2-1"', '2) 1) 1) "1-1"', '      2) 1) "a"', '         2) "1"',
        "3) (empty array)",
    ]) + "\n"
    groups = cell(f"XINFO GROUPS {s}").splitlines()
    assert groups[:4] == ['1)  1) "name"', '    2) "g"', '    3) "consumers"', "    4) (integer) 3"]


def test_replies_match_redis_cli_byte_for_byte(real, real_server_url, shell, capsys):
    """The printout of a whole session equals redis-cli's on the same real server."""
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")
    r = real
    prefix = f"streamlab:test:{uuid.uuid4().hex[:12]}:"
    s = prefix + "cli"
    commands = [
        f"XADD {s} 1-1 name \"é\\\"x\" tab 'a\tb'", f"XADD {s} 2-1 a 2",
        *[f"XADD {s} {n}-0 n {n}" for n in range(3, 13)],
        f"XRANGE {s} - + COUNT 2", f"XREVRANGE {s} + - COUNT 1", f"XGROUP CREATE {s} g 0",
        f"XREADGROUP GROUP g c COUNT 11 STREAMS {s} >", f"XPENDING {s} g",
        f"XAUTOCLAIM {s} g c2 0 0 COUNT 1", f"XINFO GROUPS {s}", f"XINFO STREAM {s}",
        f"XREAD COUNT 1 STREAMS {s} 999", f"XADD {s} 1-1 a b", f"XGROUP CREATE {s} g 0",
        f"XREADGROUP GROUP nog c STREAMS {s} >", "PING", f"TYPE {s}",
        "MULTI", f"XLEN {s}", f"SET {s}:k v", "EXEC", f"XINFO HELP",
    ]
    expected = subprocess.run(
        ["redis-cli", "-u", real_server_url, "--no-raw"],
        input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=30,
    ).stdout
    r.delete(s, s + ":k")
    register(shell, r)
    capsys.readouterr()
    # --all: every line, as redis-cli prints it (a notebook folds long replies otherwise)
    assert shell.run_cell("%%redis --all\n" + "\n".join(commands)).success
    got = [line for line in capsys.readouterr().out.splitlines()
           if not line.startswith(("> ", "hint: "))]
    r.delete(s, s + ":k")
    assert got == expected.splitlines()


# --- FLUSHDB / FLUSHALL ------------------------------------------------------------------

@pytest.mark.parametrize("command", ["FLUSHDB", "flushall"])
def test_flush_is_refused_on_a_server_others_may_share(real, shell, capsys, command):
    assert real.backend.kind == "url"
    real.set("streamlab:test:survivor", "1")
    register(shell, real)
    capsys.readouterr()
    assert shell.run_cell(f"%redis {command}").success
    out = capsys.readouterr().out
    assert "refused" in out and "sl.reset()" in out
    assert real.get("streamlab:test:survivor") == "1"
    real.delete("streamlab:test:survivor")


def test_flush_runs_on_fakeredis(shell, capsys):
    client = _fake_client_on_its_own_server()
    client.set("k", "v")
    register(shell, client)
    capsys.readouterr()
    assert shell.run_cell("%redis FLUSHDB").success
    assert capsys.readouterr().out == "OK\n"
    assert client.dbsize() == 0


def _fake_client_on_its_own_server() -> sl_backend.Client:
    """A Client on a fresh fake server, so flushing it touches no other test's keys."""
    backend = sl_backend.Backend(kind="fake", url=None, server_name="fakeredis", version=(7, 0),
                                 version_text="test", fake_server=fakeredis.FakeServer())
    return sl_backend._make_client(backend)


# --- register() -------------------------------------------------------------------------

def test_register_again_rebinds_to_the_newest_client(shell, capsys):
    first, second = _fake_client_on_its_own_server(), _fake_client_on_its_own_server()
    first.set("where", "first")
    second.set("where", "second")
    register(shell, first)
    register(shell, second)
    capsys.readouterr()
    assert shell.run_cell("%redis GET where").success
    assert capsys.readouterr().out == '"second"\n'


def test_the_engines_connect_registers_no_magic(shell):
    # Notebooks are the package face's business (sl.connect), not the engine's.
    shell.magics_manager.magics["line"].pop("redis", None)
    client = sl_backend.connect(backend="fake", quiet=True)
    assert "redis" not in shell.magics_manager.magics["line"]
    client.close()


def test_connect_in_ipython_registers_the_magic(shell, capsys):
    from IPython.core import getipython

    assert getipython.get_ipython() is shell
    client = sl.connect(backend="fake", quiet=True)
    client.set("streamlab:test:connected", "yes")
    capsys.readouterr()
    assert shell.run_cell("%redis GET streamlab:test:connected").success
    assert capsys.readouterr().out == '"yes"\n'
    client.delete("streamlab:test:connected")


# --- blocking --------------------------------------------------------------------------

def test_block_with_a_time_returns_nil_after_waiting(cell, prefix):
    started = time.monotonic()
    out = cell(f"XREAD BLOCK 300 STREAMS {prefix}s $")
    assert out == "(nil)\n"
    assert time.monotonic() - started >= 0.29


def _when_blocked(r, name: str, action):
    """A thread that waits until the connection ``name`` is blocked, then runs ``action``.

    The cell's blocking read runs on this (the main) thread, so the other side must
    wait for the read to have started rather than sleep a guess: an entry added
    before ``$`` is resolved would not wake it, and a SIGINT before the read would
    interrupt something else."""
    def run():
        if wait_until(lambda: is_blocked(r, name), timeout=60):
            action()
        else:  # never blocked: wake the cell anyway so the test fails instead of hanging
            os.kill(os.getpid(), signal.SIGINT)
    thread = threading.Thread(target=run, name="test-when-blocked")
    thread.start()
    return thread


def test_block_wakes_when_another_client_adds(cell, prefix, r):
    name = "streamlab-test-" + uuid.uuid4().hex[:8]
    assert cell(f"CLIENT SETNAME {name}") == "OK\n"
    writer = r.new_client()
    thread = _when_blocked(r, name, lambda: writer.xadd(prefix + "s", {"a": "1"}, id="9-1"))
    try:
        out = cell(f"XREAD BLOCK 60000 STREAMS {prefix}s $")
    finally:
        thread.join()
        writer.close()
    assert '"9-1"' in out


@pytest.mark.timeout(30)
def test_interrupt_stops_a_block_forever_and_the_next_cell_works(cell, prefix, r):
    """The kernel's interrupt is SIGINT to the kernel process; the blocked read gives way."""
    name = "streamlab-test-" + uuid.uuid4().hex[:8]
    assert cell(f"CLIENT SETNAME {name}") == "OK\n"
    assert r.backend.is_fake or _named_clients(r, name)  # the session's connection is seen
    thread = _when_blocked(r, name, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        out = cell(f"XREAD BLOCK 0 STREAMS {prefix}s $\nXLEN {prefix}s")
    finally:
        thread.join()
    assert "interrupted" in out
    assert "(integer)" not in out  # the rest of the cell is skipped
    if not r.backend.is_fake:  # the connection was dropped, so the server forgot the read
        assert wait_until(lambda: _named_clients(r, name) == [], timeout=10), _named_clients(r, name)
    assert cell(f"XADD {prefix}s 1-1 a 1") == '"1-1"\n'
    # and no transaction is thought to be open: a reply that reads QUEUED is just a string
    r.set(prefix + "k", "QUEUED")
    assert cell(f"GET {prefix}k") == '"QUEUED"\n'


def _named_clients(r, name: str) -> list[dict]:
    return [c for c in r.client_list() if c.get("name") == name]


# --- what a notebook shows: folding and styling ---------------------------------------------

def _xrange_printout(n: int) -> str:
    reply = [[f"{i}-0".encode(), [b"n", str(i).encode()]] for i in range(1, n + 1)]
    return format_reply(reply)


def test_a_short_reply_is_shown_whole():
    text = _xrange_printout(3)
    assert Printout(text).text() == text
    assert "<details" not in Printout(text)._repr_html_()


def test_a_long_reply_folds_after_whole_entries_and_says_how_to_see_all():
    text = _xrange_printout(30)  # 3 lines an entry, 90 lines
    shown = Printout(text).text().splitlines()
    assert len(shown) <= FOLD_TO + 1
    assert shown[0] == ' 1) 1) "1-0"' and shown[-2] == '       2) "4"'  # entry 4 ends whole
    assert shown[-1] == "… 26 more items, 78 lines (%%redis --all shows every line)"
    assert Printout(text, show_all=True).text() == text


def test_fold_cuts_one_huge_item_by_lines_and_keeps_a_long_first_item_whole():
    huge = ["1) 1) x"] + [f"   {i}) y" for i in range(2, 40)] + ["2) z"]
    shown, hidden = fold(huge)
    assert len(shown) == FOLD_TO and shown + hidden == huge
    assert fold(huge[:FOLD_OVER]) == (huge[:FOLD_OVER], [])
    long_first = ["1) 1) x"] + [f"   {i}) y" for i in range(2, 20)] + ["2) 1) z"] * 10
    assert fold(long_first) == (long_first[:19], long_first[19:])


def test_html_keeps_every_line_behind_a_details_and_escapes():
    text = _xrange_printout(30).replace('"1-0"', '"<1-0>"')
    page = Printout(text)._repr_html_()
    assert "<details" in page and "&lt;1-0&gt;" in page and "<1-0>" not in page
    assert '30) 1) &quot;30-0&quot;' in page  # the hidden entries are there, folded
    # Long lines wrap at spaces, not mid-word as JupyterLab's default <pre> style would.
    assert "word-break:normal" in page and "overflow-wrap:anywhere" in page


def test_errors_and_hints_are_styled_apart_from_replies(cell, prefix, shell):
    printout = Printout('> XADD k 1-1 a b\n"1-1"\n> XADD k 1-1 a b\n(error) ERR The ID ...\n'
                        "hint: IDs must increase.\nsee lesson 01\n> XLEN k\n(integer) 1")
    assert [kind for kind, _ in printout.blocks] == [
        "command", "reply", "command", "error", "hint", "command", "reply"]
    assert printout.blocks[4][1] == ["hint: IDs must increase.", "see lesson 01"]
    page = printout._repr_html_()
    assert "class='redis-error'" in page and "class='redis-hint'" in page
    assert page.index("redis-error") < page.index("(error) ERR")


def test_a_notebook_cell_shows_one_styled_printout(cell, prefix, shell):
    from IPython.core.formatters import DisplayFormatter

    shown = []
    publish = shell.display_pub.publish
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    try:
        assert shell.run_cell(f"%%redis\nXADD {prefix}s 1-1 a b\nXADD {prefix}s 1-1 a b\n").success
    finally:
        shell.display_pub.publish = publish
    assert len(shown) == 1, "one display per cell"
    assert isinstance(shell.display_formatter, DisplayFormatter)
    assert "(error)" in shown[0]["text/plain"] and "redis-error" in shown[0]["text/html"]


def test_a_claim_can_quote_a_folded_reply_from_the_html():
    from lesson_claims import unfolded

    text = "> XLEN k\n(integer) 30\n> XRANGE k - +\n" + _xrange_printout(30) + "\n> XLEN k\n(integer) 30"
    assert unfolded(Printout(text)._repr_html_()).strip("\n") == text
