"""A redis-cli session in Python: command lines typed and replies printed as redis-cli does.

What ``%redis``/``%%redis`` (``streamlab.ui.magics``) and the lessons' ``Side.cli``
(``streamlab.newway``) run; nothing here knows notebooks. ``Session(client).run(text)``
prints each reply as text; how a notebook shows that text is ``streamlab.ui.magics``'.

How it behaves, and why:

- **Quoting** is redis-cli's (its ``sdssplitargs``): ``"double quotes"`` with
  ``\\n \\r \\t \\b \\a \\\\ \\"`` and ``\\xHH`` escapes, ``'single quotes'`` where
  only ``\\'`` is special, whitespace between arguments.
- **One command per line.** Blank lines and ``#`` lines are skipped. When the text
  holds several commands, each reply follows a ``> COMMAND`` line.
- **Replies print as redis-cli prints them** on a terminal: ``"quoted"`` strings
  with escapes, ``(integer) 3``, ``(nil)``, ``(empty array)``, numbered and
  indented nested arrays, status replies such as ``OK`` bare. Commands go through
  ``execute_command`` on a client with no response callbacks and no decoding, so
  what is printed is the RESP2 reply itself, not redis-py's Python reshaping of
  it. Once read, a status reply (``+OK``) and a string reply look the same (and
  fakeredis converts them before redis-py sees them), so the commands that reply
  with a status are listed in ``STATUS_COMMANDS``.
- **Errors** print ``(error) <text as Redis sent it>`` and a ``hint:`` line from
  ``streamlab.explain``; the session carries on with the next command, as redis-cli
  does when fed a file of commands. Nothing raises; only a bug in streamlab would.
- **One connection per session**, like a redis-cli session: a ``MULTI`` in one
  cell and ``EXEC`` in the next work.
- **Shared servers are safe.** On a server the course did not start (backend
  kinds ``url``, ``env``, ``local``) commands that can hurt other people are
  refused with one line, the reason and the alternative: ``SHARED_REFUSALS``,
  drawn from the server's ``@admin`` and ``@dangerous`` categories (shutdown,
  config, ACL, replication, flushes and swaps, ``SELECT``/``MOVE``, scripts and
  functions, ``CLIENT KILL/PAUSE``, ``DEBUG``, saves, modules,
  ``KEYS``, ``RESET``, ``MIGRATE``, cluster changes, slow log and latency
  resets) plus what writes outside the learner's keys without being in them
  (scripts). The read-only ones (``INFO``, ``CLIENT LIST``, ``SLOWLOG GET`` ...)
  run. On fakeredis and on a private server everything runs.
- **The user never changes silently.** ``AUTH``, ``HELLO ... AUTH`` and ``RESET``
  are refused on shared servers; elsewhere they run and a note says that
  Python's ``r`` kept its user. An echoed ``AUTH`` line shows ``***`` for the password.
- ``SUBSCRIBE``, ``PSUBSCRIBE``, ``SSUBSCRIBE`` and ``MONITOR`` are refused
  everywhere: they never return; so are ``SYNC``/``PSYNC`` and ``CLIENT REPLY``,
  which stop the connection answering commands.
- **Blocking.** ``XREAD``/``XREADGROUP ... BLOCK ms`` waits on the calling thread,
  as redis-cli waits. An interrupt (``KeyboardInterrupt``: the kernel's stop button)
  ends the wait: the connection is dropped, so the server forgets the blocked read,
  and the rest of the text is skipped. ``BLOCK 0`` waits until an entry arrives or
  the interrupt comes.
"""

from __future__ import annotations

import re

import redis

from .explain import hint, is_learner_error, server_text
from .namespace import scoped_class


class Status(bytes):
    """A status ("simple string") reply, such as ``OK``: redis-cli prints it without quotes."""


#: Commands whose RESP2 reply is a status rather than a string.
STATUS_COMMANDS = {
    "SET", "SETEX", "PSETEX", "MSET", "HMSET", "LSET", "LTRIM", "RENAME", "RESTORE", "SELECT",
    "SWAPDB", "FLUSHDB", "FLUSHALL", "AUTH", "MULTI", "DISCARD", "WATCH", "UNWATCH", "RESET",
    "TYPE", "XGROUP", "XSETID", "PFMERGE", "SAVE", "BGSAVE", "BGREWRITEAOF", "READONLY",
    "READWRITE", "REPLICAOF", "SLAVEOF", "MIGRATE",
}
#: Commands whose subcommands differ: only these subcommands reply with a status.
STATUS_SUBCOMMANDS = {
    "CONFIG": {"SET", "RESETSTAT", "REWRITE"},
    "CLIENT": {"SETNAME", "SETINFO", "PAUSE", "UNPAUSE", "REPLY", "KILL", "NO-EVICT", "NO-TOUCH"},
    "SCRIPT": {"FLUSH", "KILL"},
    "FUNCTION": {"DELETE", "FLUSH", "KILL", "RESTORE"},
    "SLOWLOG": {"RESET"},
    "MEMORY": {"PURGE"},
    "ACL": {"SETUSER", "SAVE", "LOAD"},
    "MODULE": {"LOAD", "UNLOAD"},
}
NEVER_RETURN = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"}
#: Commands that turn the cell's connection into something that is no longer a
#: command session (a replication link, a connection that stops replying): refused
#: on every backend, since the cell would wait for ever.
SESSION_BREAKERS = {
    "SYNC": "turns this connection into a replica's link and streams the whole dataset into "
            "the cell",
    "PSYNC": "turns this connection into a replica's link and streams the whole dataset into "
             "the cell",
    "CLIENT REPLY": "stops the server replying on this connection, so the cell would wait for "
                    "ever",
}
OWN_BACKENDS = {"fake", "private"}  # backends that belong to this kernel alone

_PRIVATE = "on a private server (unset REDIS_URL; sl.connect() starts one) it runs"
_SETTINGS = "lessons that change settings start their own private server"
#: Commands refused on a server the course did not start (backend kinds url, env and
#: local), where other people's keys and connections may live: name (or "NAME SUB")
#: -> (what it would do to everyone, what to do instead). Drawn from the server's
#: @admin and @dangerous categories (ACL CAT admin / dangerous) plus what can write
#: outside the learner's keys without being either (scripts, functions, SELECT/MOVE).
#: tests/test_magics_safety.py checks that every @admin/@dangerous command of the
#: server at hand is here or in SHARED_ALLOWED.
SHARED_REFUSALS: dict[str, tuple[str, str]] = {
    "SHUTDOWN": ("it stops the server for everyone", _PRIVATE),
    "FLUSHDB": ("it deletes every key, other people's too",
                "sl.reset() deletes only the course's keys (lessonNN:*, streamlab:*)"),
    "FLUSHALL": ("it deletes every key in every database, other people's too",
                 "sl.reset() deletes only the course's keys (lessonNN:*, streamlab:*)"),
    "SWAPDB": ("it swaps whole databases under everyone's feet", _PRIVATE),
    "SELECT": ("it moves this cell's connection to another database, maybe someone else's, "
               "while Python's r stays where it is", "keep to the database in the URL"),
    "MOVE": ("it moves a key into another database, maybe someone else's",
             "copy what you need with the lesson's commands"),
    "CONFIG": ("CONFIG SET changes the server for everyone and CONFIG GET can show its "
               "passwords", _SETTINGS),
    "ACL": ("it changes or shows the server's users and their passwords", "the line "
            "sl.connect() prints (or print(r.backend)) says who you are; the instructor manages "
            "users"),
    "REPLICAOF": ("it makes the server a replica and throws its data away", _PRIVATE),
    "SLAVEOF": ("it makes the server a replica and throws its data away", _PRIVATE),
    "FAILOVER": ("it hands the server's role to a replica", _PRIVATE),
    "REPLCONF": ("it is the replication protocol, not a command for people", _PRIVATE),
    "EVAL": ("a script can write any key, other people's too (the server checks nothing "
             "without ACLs)", "run the lesson's commands one by one, or in MULTI/EXEC"),
    "EVALSHA": ("a script can write any key, other people's too",
                "run the lesson's commands one by one, or in MULTI/EXEC"),
    "EVAL_RO": ("scripts run on the server outside the course's key names",
                "run the lesson's commands one by one"),
    "EVALSHA_RO": ("scripts run on the server outside the course's key names",
                   "run the lesson's commands one by one"),
    "FCALL": ("a function can write any key, other people's too", "run the lesson's commands "
              "one by one, or in MULTI/EXEC"),
    "FCALL_RO": ("functions run on the server outside the course's key names",
                 "run the lesson's commands one by one"),
    "FUNCTION": ("it changes the function libraries everyone shares", _PRIVATE),
    "SCRIPT": ("it changes the script cache everyone shares (FLUSH, KILL)", _PRIVATE),
    "CLIENT KILL": ("it disconnects other people", _PRIVATE),
    "CLIENT TRACKING": ("with BCAST it reports the name of every key anyone changes, other "
                        "people's too", _PRIVATE),
    "COPY DB": ("COPY ... DB writes into another database, maybe someone else's",
                "COPY without DB copies within your own database"),
    "CLIENT PAUSE": ("it freezes every client of the server", _PRIVATE),
    "CLIENT UNPAUSE": ("it unfreezes clients someone else paused", _PRIVATE),
    "CLIENT UNBLOCK": ("it wakes other people's blocked reads", _PRIVATE),
    "CLIENT NO-EVICT": ("it exempts this connection from the memory limits everyone shares",
                        _PRIVATE),
    "DEBUG": ("it can crash, freeze or reload the server", _PRIVATE),
    "SAVE": ("it blocks the server for everyone while it writes the whole dataset", _PRIVATE),
    "BGSAVE": ("it forks the server and writes the whole dataset to disk", _PRIVATE),
    "BGREWRITEAOF": ("it forks the server and rewrites its append-only file", _PRIVATE),
    "MODULE": ("it loads or unloads code into the server", "MODULE LIST shows what is loaded"),
    "KEYS": ("it walks every key in one go and blocks the server for everyone meanwhile",
             "SCAN 0 MATCH lesson* COUNT 100 walks the keys a page at a time"),
    "RESET": ("it drops this connection's state and logs it back in as the default user",
              "reconnect with sl.connect() to start afresh"),
    "AUTH": ("it would switch this cell's connection to another user without Python's r "
             "knowing", "put the user in the URL: sl.connect('redis://USER:PASSWORD@host:port/0')"),
    "HELLO AUTH": ("it would switch this cell's connection to another user without Python's r "
                   "knowing", "put the user in the URL: sl.connect('redis://USER:PASSWORD@host:port/0')"),
    "MIGRATE": ("it moves keys to another server", "copy what you need with XRANGE and XADD"),
    "RESTORE": ("it writes a raw serialized value the server trusts", "write entries with XADD"),
    "RESTORE-ASKING": ("it writes a raw serialized value the server trusts",
                       "write entries with XADD"),
    "SORT BY": ("SORT ... BY/GET reads keys named by a pattern, other people's too",
                "SORT without BY or GET sorts a key of your own"),
    "PFDEBUG": ("it is a debugging command that can change HyperLogLog internals", _PRIVATE),
    "PFSELFTEST": ("it runs a long self-test that blocks the server", _PRIVATE),
    "LATENCY RESET": ("it wipes the latency history everyone's diagnosis relies on",
                      "LATENCY LATEST and LATENCY HISTORY read it"),
    "SLOWLOG RESET": ("it wipes the slow log everyone's diagnosis relies on",
                      "SLOWLOG GET reads it"),
    "CLUSTER": ("it changes the cluster's layout or state for everyone",
                "CLUSTER INFO, NODES, SHARDS, SLOTS and KEYSLOT read it"),
}
#: @admin/@dangerous commands that only read, so they still run on a shared server.
SHARED_ALLOWED = {
    "INFO", "ROLE", "LASTSAVE", "CLIENT LIST", "SLOWLOG GET", "SLOWLOG LEN", "LATENCY DOCTOR",
    "LATENCY GRAPH", "LATENCY HISTOGRAM", "LATENCY HISTORY", "LATENCY LATEST", "MODULE LIST",
    "CLUSTER REPLICAS", "CLUSTER SLAVES", "CLUSTER COUNT-FAILURE-REPORTS", "CLUSTER INFO",
    "CLUSTER NODES", "CLUSTER SHARDS", "CLUSTER SLOTS", "CLUSTER KEYSLOT", "CLUSTER MYID",
    "CLUSTER MYSHARDID", "CLUSTER COUNTKEYSINSLOT", "CLUSTER GETKEYSINSLOT", "CLUSTER LINKS",
    "CLUSTER HELP", "ACL WHOAMI", "ACL CAT", "ACL HELP", "SORT", "SORT_RO", "CONFIG HELP",
    "CLIENT HELP", "SCRIPT HELP", "FUNCTION HELP", "FUNCTION LIST", "FUNCTION STATS",
    "SCRIPT EXISTS",
}


# --- redis-cli's quoting -------------------------------------------------------------

_UNESCAPE = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_SPACE = b" \t\n\r\v\f"
_HEX = b"0123456789abcdefABCDEF"


def split_args(line: str) -> list[bytes]:
    """Split a command line into arguments exactly as redis-cli does (``sdssplitargs``).

    Raises ``ValueError("Invalid argument(s)")`` (redis-cli's words) for an
    unclosed quote or a closing quote followed by anything but a space.
    """
    data = line.encode()
    n = len(data)

    def at(i: int) -> int:  # like reading a C string: 0 past the end
        return data[i] if i < n else 0

    args: list[bytes] = []
    i = 0
    while True:
        while at(i) and at(i) in _SPACE:
            i += 1
        if not at(i):
            return args
        current = bytearray()
        in_double = in_single = done = False
        while not done:
            c = at(i)
            if in_double:
                if c == ord("\\") and at(i + 1) == ord("x") and at(i + 2) in _HEX \
                        and at(i + 3) in _HEX:
                    current.append(int(data[i + 2:i + 4], 16))
                    i += 3
                elif c == ord("\\") and at(i + 1):
                    i += 1
                    current.append(_UNESCAPE.get(at(i), at(i)))
                elif c == ord('"'):
                    _closing_quote_ends_argument(at(i + 1))
                    done = True
                elif not c:
                    raise ValueError("Invalid argument(s)")
                else:
                    current.append(c)
            elif in_single:
                if c == ord("\\") and at(i + 1) == ord("'"):
                    i += 1
                    current.append(ord("'"))
                elif c == ord("'"):
                    _closing_quote_ends_argument(at(i + 1))
                    done = True
                elif not c:
                    raise ValueError("Invalid argument(s)")
                else:
                    current.append(c)
            elif not c or c in b" \n\r\t":
                done = True
            elif c == ord('"'):
                in_double = True
            elif c == ord("'"):
                in_single = True
            else:
                current.append(c)
            if at(i):
                i += 1
        args.append(bytes(current))


def _closing_quote_ends_argument(following: int) -> None:
    if following and following not in _SPACE:
        raise ValueError("Invalid argument(s)")


# --- redis-cli's printing ------------------------------------------------------------

_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', 10: "\\n", 13: "\\r", 9: "\\t", 7: "\\a", 8: "\\b"}


def format_reply(reply) -> str:
    """A raw RESP2 reply as redis-cli prints it on a terminal (``cliFormatReplyTTY``).

    ``bytes``/``str`` -> ``"quoted"`` (a ``Status`` bare), ``int`` -> ``(integer) n``,
    ``None`` -> ``(nil)``, ``[]`` -> ``(empty array)``, a ``ResponseError`` ->
    ``(error) ...``, lists -> numbered lines, nested lists indented under their number.
    """
    return _format(reply, "").rstrip("\n")


def _format(reply, prefix: str) -> str:
    if isinstance(reply, redis.ResponseError):
        return f"(error) {server_text(reply)}\n"
    if reply is None:
        return "(nil)\n"
    if isinstance(reply, int):
        return f"(integer) {reply}\n"
    if isinstance(reply, Status):
        return reply.decode("utf-8", "replace") + "\n"
    if isinstance(reply, str):
        reply = reply.encode()
    if isinstance(reply, bytes):
        return _quote(reply) + "\n"
    if not reply:
        return "(empty array)\n"
    width = len(str(len(reply)))
    inner = prefix + " " * (width + 2)  # nested arrays start under the item's text
    out = []
    for number, item in enumerate(reply, start=1):
        lead = "" if number == 1 else prefix  # the first item follows its parent's number
        out.append(f"{lead}{number:>{width}}) " + _format(item, inner))
    return "".join(out)


def _quote(data: bytes) -> str:
    """redis-cli's ``sdscatrepr``: printable ASCII as is, the rest escaped."""
    return '"' + "".join(_ESCAPES.get(b) or (chr(b) if 32 <= b < 127 else f"\\x{b:02x}")
                         for b in data) + '"'


# --- a redis-cli session -------------------------------------------------------------

class Session:
    """One connection to a Client's server, running command lines as redis-cli does."""

    def __init__(self, client):
        self.backend = client.backend
        self._pool = client.new_client(decode_responses=False).connection_pool
        self._conn: redis.Redis | None = None  # connected on first use: the server may be down now
        self._queued: list[list[bytes]] | None = None  # commands queued since MULTI

    def _connection(self) -> redis.Redis:
        if self._conn is None:
            # Scoped: in a learner namespace the cell's key names are renamed as in Python.
            conn = scoped_class(redis.Redis)(connection_pool=self._pool,
                                             single_connection_client=True)
            conn.namespace = self.backend.namespace
            conn.response_callbacks.clear()  # raw RESP2 replies, not redis-py's shapes
            self._conn = conn
        return self._conn

    def run(self, text: str) -> None:
        """Run every command line of ``text``, printing each reply (see the module docstring)."""
        lines = [line.strip() for line in text.splitlines()]
        commands = [line for line in lines if line and not line.startswith("#")]
        self._hints_shown: set[str] = set()  # each distinct hint once per cell, not per error
        for line in commands:
            if len(commands) > 1:
                print(f"> {hide_password(line)}")
            if not self.run_line(line):
                return

    def run_line(self, line: str) -> bool:
        """Run one command line and print its reply; False if interrupted (stop the cell)."""
        try:
            args = split_args(line)
        except ValueError as exc:
            print(exc)
            self._print_hint("A quote is not closed, or a closing quote is followed by something "
                             "other than a space. Quote the whole argument: 'like this' or \"like this\".")
            return True
        name, sub = _names(args)
        refusal = self._refusal(args)
        if refusal:
            print(refusal)
            return True
        try:
            # The name goes out as typed, so error texts echo it as redis-cli's would.
            reply = self._connection().execute_command(args[0].decode("utf-8", "replace"),
                                                       *args[1:])
        except KeyboardInterrupt:
            self._queued = None  # redis-py dropped the connection, and any MULTI with it
            print(f"(interrupted) {name} stopped waiting; the rest of the cell was skipped.")
            return False
        except Exception as exc:  # noqa: BLE001 - learner errors printed, the rest re-raised
            if not is_learner_error(exc):
                raise
            if name in ("EXEC", "DISCARD"):
                self._queued = None
            print(f"(error) {server_text(exc)}")
            self._print_hint(hint(exc, name))
            return True
        print(format_reply(self._mark_status(args, name, sub, reply)))
        self._note_after(args)
        return True

    def _print_hint(self, text: str | None) -> None:
        """Print ``hint: text`` unless this cell already printed the same hint."""
        shown = getattr(self, "_hints_shown", None)
        if shown is None:
            shown = self._hints_shown = set()
        if not text or text in shown:
            return
        shown.add(text)
        print(f"hint: {text}")

    def _refusal(self, args: list[bytes]) -> str | None:
        """Why this command does not run here (one line: the reason, then what to do), or None."""
        name, sub = _names(args)
        breaker = SESSION_BREAKERS.get(f"{name} {sub}") or SESSION_BREAKERS.get(name)
        if breaker:
            return f"streamlab: {_shown_name(name, sub, breaker)} refused: it {breaker}."
        hello = _hello(args)
        if hello and hello[0] not in (None, b"2"):
            return (f"streamlab: HELLO {hello[0].decode('utf-8', 'replace')} refused: it switches "
                    "this connection to another protocol, which the cell's reply reader does not "
                    "read; the session stays on RESP2 (HELLO 2, or HELLO alone, runs).")
        if name == "RANDOMKEY" and self.backend.namespace is not None:
            return ("streamlab: RANDOMKEY refused in a learner namespace: it picks from every "
                    "key on the server, other learners' too. Instead: SCAN 0 lists your own keys.")
        if name in NEVER_RETURN:
            return (f"streamlab: {name} listens until stopped, so it would never finish the "
                    "cell. Use r.pubsub() in Python instead (lesson 06).")
        if self.backend.kind in OWN_BACKENDS:
            return None
        found = shared_refusal(args)
        if found is None:
            return None
        what, why, instead = found
        return (f"streamlab: {what} refused on this server ({self.backend.kind} backend), which "
                f"the course did not start and others may use: {why}. Instead: {instead}.")

    def _note_after(self, args: list[bytes]) -> None:
        """On servers of its own the cell may change user: say so, since Python's r did not."""
        name, sub = _names(args)
        if name == "AUTH" or _switches_user(args):
            print("note: this %%redis session now runs as the user just authenticated; "
                  "Python's r is unchanged (sl.connect(url) switches both).")
        elif name == "RESET":
            print("note: this %%redis session is back to the default user and database 0; "
                  "Python's r is unchanged.")

    def _mark_status(self, args: list[bytes], name: str, sub: str, reply):
        """Wrap the status replies in ``reply`` as ``Status``, tracking MULTI ... EXEC."""
        if name == "EXEC":
            queued, self._queued = self._queued or [], None
            if isinstance(reply, list):
                ns = self.backend.namespace  # each queued reply unmapped as if run alone
                return [_as_status(q, ns.unmap_reply(tuple(q), x) if ns else x)
                        for q, x in zip(queued, reply)]
        elif name == "DISCARD":
            self._queued = None
        elif name == "MULTI":
            self._queued = []
        elif self._queued is not None and reply == b"QUEUED":
            self._queued.append(args)
            return Status(reply)
        if sub == "HELP" and isinstance(reply, list):  # HELP lines are status replies
            return [Status(x) for x in reply]
        return _as_status(args, reply)

    def close(self) -> None:
        """Close the session's connection."""
        if self._conn is not None:
            self._conn.close()
        self._pool.disconnect()


def shared_refusal(args: list[bytes]) -> tuple[str, str, str] | None:
    """(command as named, why not, what instead) if ``args`` is refused on a shared server."""
    name, sub = _names(args)
    if f"{name} {sub}" in SHARED_ALLOWED:
        return None
    if _hello(args):
        return ("HELLO ... AUTH", *SHARED_REFUSALS["HELLO AUTH"]) if _switches_user(args) else None
    if name == "COPY":
        if b"DB" in (a.upper() for a in args[3:]):
            return ("COPY ... DB", *SHARED_REFUSALS["COPY DB"])
        return None
    if name in ("SORT", "SORT_RO"):
        if {b"BY", b"GET"} & {a.upper() for a in args[2:]}:
            return (f"{name} ... BY/GET", *SHARED_REFUSALS["SORT BY"])
        return None
    for key in (f"{name} {sub}", name):
        if key in SHARED_REFUSALS:
            return (_shown_name(name, sub, key), *SHARED_REFUSALS[key])
    return None


def _shown_name(name: str, sub: str, key: str) -> str:
    return f"{name} {sub}" if sub and key != name else name


def hide_password(line: str) -> str:
    """``line`` as echoed above its reply: an AUTH or HELLO ... AUTH password becomes ***."""
    try:
        args = split_args(line)
    except ValueError:  # never run (a quoting error is printed instead): hide it all the same
        return re.sub(r"(?i)^(\s*(?:AUTH|HELLO)\b).*", r"\1 ***", line)
    if not args:
        return line
    upper = [a.upper() for a in args]
    if upper[0] == b"AUTH" and len(args) > 1:
        secret = len(args) - 1
    elif _switches_user(args):
        secret = _hello(args)[1]
    else:
        return line
    shown = [_quote(a) if re.search(rb"[\s\"']", a) or not a else a.decode("utf-8", "replace")
             for a in args]
    if secret < len(shown):
        shown[secret] = "***"
    return " ".join(shown)


def _hello(args: list[bytes]) -> tuple[bytes | None, int | None] | None:
    """``HELLO [protover [AUTH username password] [SETNAME clientname]]`` read once for every
    rule about it: (the protocol asked for or None, where the password is or None), or None
    when ``args`` is not a HELLO. The password's index may be past the end (a cut-short line)."""
    if not args or args[0].upper() != b"HELLO":
        return None
    upper = [a.upper() for a in args]
    protocol = args[1] if len(args) > 1 else None
    password = upper.index(b"AUTH", 1) + 2 if b"AUTH" in upper[1:] else None
    return protocol, password


def _switches_user(args: list[bytes]) -> bool:
    """True for ``HELLO ... AUTH user password``: it changes the connection's user."""
    hello = _hello(args)
    return bool(hello) and hello[1] is not None


def _names(args: list[bytes]) -> tuple[str, str]:
    """The command name and its first argument, upper-case (for subcommands)."""
    name = args[0].decode("utf-8", "replace").upper()
    sub = args[1].decode("utf-8", "replace").upper() if len(args) > 1 else ""
    return name, sub


def _as_status(args: list[bytes], reply):
    if not isinstance(reply, bytes):
        return reply
    name, sub = _names(args)
    if name == "PING":
        is_status = len(args) == 1  # PING message echoes a string
    elif name == "SET":
        is_status = b"GET" not in (a.upper() for a in args[3:])  # SET ... GET returns the old value
    elif name in STATUS_SUBCOMMANDS:
        is_status = sub in STATUS_SUBCOMMANDS[name]
    else:
        is_status = name in STATUS_COMMANDS
    return Status(reply) if is_status else reply
