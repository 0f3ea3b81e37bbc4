"""Errors a learner can cause, told as "what happened, what to do": the one translator.

Every route from an exception to a learner's screen goes through here:

- ``explain(exc)``: two lines, what happened (with the error text Redis or
  redis-py gave) and what to do; a ``streamlab.errors.LearnerError`` (``BackendError``
  and the others streamlab raises) already says both, so it is shown as is;
- ``hint(exc)``: the same in one line, or ``None`` when the error is not one a
  learner causes (``%%redis`` prints it under ``(error) ...``; an exercise's
  outcome under its message);
- ``one_line(exc)``: ``Type: first line``, for a short report of an error that is
  not explained (an exercise's "could not check");
- ``with friendly():``: prints ``explain(exc)`` instead of a traceback for
  every learner error raised in the block; anything else (a bug) propagates.

In a notebook, ``sl.connect()`` also shows a ``NOPERM`` raised in a cell as
``explain()``'s lines (``streamlab.ui.notebook``), and a ``LearnerError`` shows its
message instead of a traceback by itself (``_render_traceback_``).

The rules match the error texts of real Redis and of fakeredis, which differ in
places (tests/test_explain.py provokes each on both): fakeredis says ``ERR BUSYGROUP`` where Redis says
``BUSYGROUP``, raises a Python ``AttributeError`` where Redis answers
``WRONGTYPE`` to XREAD/XREADGROUP, calls ``$`` in XREADGROUP an invalid ID, and
answers ``syntax error`` to an unbalanced ``XREAD ... STREAMS`` list.
"""

from __future__ import annotations

import contextlib
import re
import traceback

import redis

from .backend import redact
from .errors import LearnerError

WRONGTYPE_TEXT = "WRONGTYPE Operation against a key holding the wrong kind of value"

#: The shape of each stream command, as the Redis docs give it, for "wrong number of
#: arguments" and "syntax error".
SYNTAX = {
    "XADD": "XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] *|id field value "
            "[field value ...]",
    "XRANGE": "XRANGE key start end [COUNT n]",
    "XREVRANGE": "XREVRANGE key end start [COUNT n]",
    "XREAD": "XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...] "
             "(one ID per stream, in the same order)",
    "XREADGROUP": "XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key "
                  "[key ...] id [id ...] (one ID per stream, in the same order)",
    "XGROUP": "XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]; XGROUP SETID key group "
              "id|$; XGROUP DESTROY key group; XGROUP CREATECONSUMER|DELCONSUMER key group "
              "consumer",
    "XACK": "XACK key group id [id ...]",
    "XPENDING": "XPENDING key group [[IDLE ms] start end count [consumer]]",
    "XCLAIM": "XCLAIM key group consumer min-idle-ms id [id ...] [IDLE ms] [TIME ms] "
              "[RETRYCOUNT n] [FORCE] [JUSTID]",
    "XAUTOCLAIM": "XAUTOCLAIM key group consumer min-idle-ms start [COUNT n] [JUSTID]",
    "XTRIM": "XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n] (LIMIT only with ~)",
    "XDEL": "XDEL key id [id ...]",
    "XLEN": "XLEN key",
    "XINFO": "XINFO STREAM key [FULL [COUNT n]]; XINFO GROUPS key; XINFO CONSUMERS key group",
    "XSETID": "XSETID key last-id",
}

#: The Redis version that brought each stream command (a missing one is a version question).
SINCE = {
    **{name: "5.0" for name in ("XADD", "XRANGE", "XREVRANGE", "XREAD", "XREADGROUP", "XGROUP",
                                "XACK", "XPENDING", "XCLAIM", "XTRIM", "XDEL", "XLEN", "XINFO",
                                "XSETID")},
    "XAUTOCLAIM": "6.2",
    "XGROUP CREATECONSUMER": "6.2",
    "XDELEX": "8.2",
    "XACKDEL": "8.2",
    "XNACK": "8.8",
}

#: The special IDs each command takes, for "Invalid stream ID".
_SPECIAL_IDS = {
    "XADD": "* lets Redis pick the ID and <ms>-* picks the sequence (Redis 7.0+).",
    "XRANGE": "- and + mean the two ends; ( before an ID excludes it.",
    "XREVRANGE": "+ and - mean the two ends; ( before an ID excludes it.",
    "XREAD": "$ means entries added from now on; > belongs to XREADGROUP, not XREAD.",
    "XREADGROUP": "> means entries never delivered to the group, 0 this consumer's pending "
                  "ones; $ is not allowed here.",
    "XGROUP": "$ starts the group at the end of the stream, 0 at the beginning.",
}

# (pattern searched in the server's text, what happened, what to do). First match wins.
# A callable takes the command name (or None) and returns the text.
_RESPONSE_RULES = [
    (r"in XSETID is smaller than the target stream top item",
     "The ID is smaller than the newest entry's ID, and a stream's last ID never goes back.",
     "Give XSETID an ID at least as large as the newest entry's (XINFO STREAM shows "
     "last-generated-id)."),
    (r"smaller than the target stream top item",
     "The ID is not greater than the stream's last-generated-id, normally the largest ID it "
     "has ever handed out (deleted or trimmed entries count too): stream IDs only ever grow.",
     "Use * so Redis picks the next ID, or an ID greater than the last-generated-id "
     "(XINFO STREAM key shows it)."),
    (r"must be greater than 0-0",
     "0-0 can never be an entry's ID: the smallest there is is 0-1.",
     "Use *, or an explicit ID of 0-1 or more."),
    (r"\$ ID is meaningless",
     "XREADGROUP does not take $: the group itself remembers where it is.",
     "Use > for entries never delivered to the group, or 0 for this consumer's pending ones."),
    (r"> ID can be specified only",
     "> only works with XREADGROUP.",
     "In XREAD use $ for entries added from now on, or an ID to read what came after it."),
    (r"Invalid stream ID",
     "An ID argument is not a stream ID.",
     lambda cmd: ("A stream ID is <ms>-<seq> (two whole numbers, e.g. 1700000000000-0) or just "
                  "<ms>. " + _SPECIAL_IDS.get(cmd or "", "")).strip()),
    (r"^WRONGTYPE",
     "That key exists but holds another type of value than a stream.",
     "TYPE key shows what it holds; use another key name, or DEL the key if it is yours."),
    (r"requires the key to exist",
     "The stream key does not exist yet, so there is no group on it either.",
     "Create both at once: XGROUP CREATE key group $ MKSTREAM (mkstream=True in redis-py)."),
    # A blocked XREADGROUP whose stream is deleted: Redis 7.2+ and Valkey run the read again
    # and it fails with this NOGROUP; 7.0 answers UNBLOCKED (backend.behaviour() says which).
    (r"^NOGROUP .* in XREADGROUP",
     "That consumer group (or the stream under it) does not exist; if this read was waiting "
     "(BLOCK), the stream was deleted while this read was waiting.",
     "Create both at once: XGROUP CREATE key group $ MKSTREAM (mkstream=True in redis-py), then "
     "read again; XINFO GROUPS key lists the groups there are."),
    (r"^NOGROUP",
     "That consumer group (or the stream under it) does not exist.",
     "Create it with XGROUP CREATE key group $ MKSTREAM (MKSTREAM also makes a missing stream); "
     "XINFO GROUPS key lists the groups there are."),
    (r"BUSYGROUP",
     "A group with that name already exists on this stream.",
     "Use it as it is (re-running the cell is harmless), move it with XGROUP SETID, or XGROUP "
     "DESTROY it first; in Python, catch this error to make creating the group idempotent."),
    (r"^ERR no such key",
     "That key does not exist.",
     "Check the name: EXISTS key answers 1 when it is there, SCAN 0 MATCH lesson* lists keys."),
    (r"^UNBLOCKED",
     "The stream was deleted while this read was waiting (Redis 7.0 answers UNBLOCKED; "
     "7.2 and newer answer NOGROUP).",
     "Create the stream and group again (XGROUP CREATE key group $ MKSTREAM), then read again."),
    (r"Unbalanced",
     "The STREAMS list needs one ID per stream key.",
     lambda cmd: "Write the keys, then one ID per stream in the same order: "
                 + SYNTAX.get(cmd or "XREAD", SYNTAX["XREAD"])),
    (r"wrong number of arguments|syntax error",
     lambda cmd: f"{cmd or 'The command'} got arguments it does not accept in that form or count.",
     lambda cmd: ("Its shape is: " + SYNTAX[cmd]) if cmd in SYNTAX
     else f"Compare with the syntax of {cmd or 'the command'} in the Redis docs."),
    (r"not an integer or out of range|timeout is negative|must be >= 0|Invalid min-idle-time",
     "A number argument is not a whole number of 0 or more.",
     "COUNT, BLOCK (milliseconds), MAXLEN, LIMIT, IDLE and min-idle-time take whole numbers, "
     "e.g. COUNT 10 BLOCK 2000."),
    # NOPERM: Redis 7.0 says "this user has no permissions to ...", 7.2+ "User ana has no
    # permissions to run ..." and "No permissions to access a key/channel".
    (r"(?i)no permissions to run the '([^']+)' command",
     lambda cmd, m: (f"Your Redis user may not run {_acl_name(m.group(1))}: the server's ACL "
                     "leaves it out (a workshop user may use streams, Pub/Sub and its own keys "
                     "only)."),
     lambda cmd, m: _noperm_command_fix(m.group(1))),
    (r"(?i)no permissions to access (one of the keys|a key)",
     "Your Redis user may only touch keys under its own prefix, and this command named a key "
     "outside it.",
     "Use the lesson's key names as written: sl.connect() puts them under your prefix "
     "(r.backend.namespace shows it), and other learners' keys are off limits. Only the "
     "instructor can widen it: ACL SETUSER <user> ~<pattern>."),
    (r"(?i)no permissions to access (one of the channels|a channel)",
     "Your Redis user may only use Pub/Sub channels under its own prefix, and this command "
     "named one outside it.",
     "Use the lesson's channel names as written: sl.connect() puts them under your prefix. "
     "Only the instructor can widen it: ACL SETUSER <user> &<pattern>."),
    (r"(?i)user executing the script can't access|ACL failure in script.*(key|channel)",
     "A Lua script touched a key outside your prefix: Redis checks every redis.call in a "
     "script against your user's ACL.",
     "Pass the script its keys as KEYS (numkeys), with the lesson's names: those get your "
     "prefix; names built inside the script do not."),
    (r"(?i)user executing the script can't run|ACL failure in script",
     "A Lua script called a command your Redis user may not run: Redis checks every "
     "redis.call in a script against your user's ACL.",
     "Leave that command out of the script; a workshop user runs stream, Pub/Sub and "
     "plain read/write commands on its own keys."),
    (r"^NOPERM",
     "This server's user may not run that command or touch that key.",
     "On a shared server, ask the instructor which commands and key prefix you may use."),
    (r"^OOM",
     "The server is out of memory (its maxmemory limit).",
     "Trim your streams (XTRIM key MAXLEN 1000) or run sl.reset() to delete the course's keys."),
]


def is_out_of_memory(exc: BaseException) -> bool:
    """A write refused at the ``maxmemory`` limit (``OOM command not allowed ...``).

    The one test for it: ``Producer.burst``, the ``streamlab`` programs and the CLI each
    say it in their own words, but recognise it here."""
    return isinstance(exc, redis.exceptions.OutOfMemoryError) or (
        isinstance(exc, redis.ResponseError) and ("OOM " in str(exc) or "> 'maxmemory'" in str(exc)))


def server_text(exc: BaseException) -> str:
    """The error text as redis-cli would print it after ``(error)``.

    redis-py strips the ``ERR`` code off the message and keeps it in
    ``status_code``; it is put back here. fakeredis's AttributeError on XREAD of
    a non-stream key becomes the WRONGTYPE text Redis sends. Passwords in URLs
    are replaced by ``***``.
    """
    if _is_fakeredis_wrongtype(exc):
        return WRONGTYPE_TEXT
    text = str(exc)
    code = getattr(exc, "status_code", None)
    if isinstance(exc, redis.RedisError) and code and not text.startswith(code):
        text = f"{code} {text}"
    return _redact_urls(text)


def hint(exc: BaseException, command: str | None = None) -> str | None:
    """One line on the usual cause and the fix, or None if ``exc`` is not a learner's error."""
    if isinstance(exc, LearnerError):
        return str(exc)
    found = _diagnose(exc, _command_name(exc, command))
    return None if found is None else f"{found[0]} {found[1]}"


def explain(exc: BaseException, command: str | None = None) -> str:
    """What happened and what to do, in two lines (one line for errors it does not know).

    ``command`` (e.g. ``"XADD"``) sharpens the advice when the error text does
    not name the command, as with ``syntax error``.
    """
    if isinstance(exc, LearnerError):
        return str(exc)
    found = _diagnose(exc, _command_name(exc, command))
    if found is None:
        if isinstance(exc, redis.ResponseError):
            return f"Redis refused the command: {server_text(exc)}"
        return f"{type(exc).__name__}: {_redact_urls(str(exc))}"
    what, fix = found
    return f"What happened: {what} [{server_text(exc)}]\nWhat to do: {fix}"


def is_learner_error(exc: BaseException) -> bool:
    """True for errors a learner can cause: anything Redis refuses, an unreachable or
    misconfigured server, a payload redis-py cannot send. A bug in code is not one."""
    return (isinstance(exc, (redis.ResponseError, redis.ConnectionError, redis.TimeoutError,
                             LearnerError))
            or _diagnose(exc, None) is not None)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message`` (passwords in URLs hidden), cut to ``limit``
    characters: how a short report names an error without explaining it."""
    message = _redact_urls(str(exc)).strip()
    text = message.splitlines()[0] if message else ""
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def friendly():
    """``with friendly():`` prints the explanation of a learner error instead of raising it.

    The rest of the block is skipped, as with any exception; errors that are not
    a learner's (see ``is_learner_error``) propagate with their traceback. Also
    works as a decorator: ``@friendly()``.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - sorted just below
        if not is_learner_error(exc):
            raise
        print(explain(exc))


# --- the rules ------------------------------------------------------------------

def _diagnose(exc: BaseException, cmd: str | None) -> tuple[str, str] | None:
    """(what happened, what to do) for a learner error, else None."""
    if isinstance(exc, redis.AuthenticationError):  # NOAUTH, WRONGPASS
        return ("The server wants a password and did not get the right one.",
                "Put it in the URL: redis://:PASSWORD@host:6379/0 "
                "(or redis://USER:PASSWORD@host:6379/0).")
    if isinstance(exc, redis.TimeoutError):
        return _timeout(exc)
    if isinstance(exc, redis.ConnectionError):
        return _connection(exc)
    if isinstance(exc, redis.DataError):
        return _data(exc)
    if isinstance(exc, redis.ResponseError) or _is_fakeredis_wrongtype(exc):
        text = server_text(exc)
        return _unknown_command(text) or _match(text, cmd)
    return None


def _match(text: str, cmd: str | None) -> tuple[str, str] | None:
    for pattern, what, fix in _RESPONSE_RULES:
        found = re.search(pattern, text)
        if found:
            return _rule_text(what, cmd, found), _rule_text(fix, cmd, found)
    return None


def _rule_text(text, cmd: str | None, found: re.Match) -> str:
    """A rule's text: a string, or a callable of the command (and, if it wants it, the match)."""
    if not callable(text):
        return text
    return text(cmd, found) if text.__code__.co_argcount == 2 else text(cmd)


#: Commands a workshop user is usually refused, and what to do instead.
_NOPERM_ALTERNATIVES = {
    "INFO": "r.backend names the server and its version without INFO.",
    "KEYS": "SCAN 0 MATCH lesson* lists your keys without blocking the server (sl.reset() "
            "deletes them).",
    "CONFIG": "Settings change the server for everyone: the lessons that need CONFIG say so "
              "and start a private server for it.",
    "CLIENT": "r.backend tells which server this is; the lessons that list clients say so.",
    "FLUSHDB": "sl.reset() deletes your course keys and nobody else's.",
    "FLUSHALL": "sl.reset() deletes your course keys and nobody else's.",
}


def _acl_name(name: str) -> str:
    """``client|kill`` (ACL's spelling) as ``CLIENT KILL``."""
    return name.replace("|", " ").upper()


def _noperm_command_fix(name: str) -> str:
    base = name.split("|")[0].upper()
    instead = _NOPERM_ALTERNATIVES.get(base, "")
    return (f"{instead} The instructor can grant it with ACL SETUSER <user> +{name.lower()}, "
            "or you can run this part on a server of your own (unset REDIS_URL: sl.connect() "
            "then starts a private one).").strip()


def _unknown_command(text: str) -> tuple[str, str] | None:
    # Redis: "unknown command 'XDELEX', ..." and "unknown subcommand 'FOO'. Try XGROUP HELP.";
    # fakeredis: "unknown command 'xsetid', ..." and "unknown command 'xgroup foo', ...".
    sub = re.search(r"unknown subcommand '([^']*)'\. Try (\S+) HELP", text)
    plain = re.search(r"unknown command '([^']*)'", text)
    if sub:
        name = f"{sub.group(2)} {sub.group(1)}".upper()
    elif plain:
        name = plain.group(1).upper()
    else:
        return None
    version = SINCE.get(name)
    if version:
        return (f"{name} came with Redis {version} and this server does not have it "
                "(fakeredis does not implement every command).",
                f"Run it on Redis {version} or newer: r.backend shows what you are connected to; "
                "sl.connect(url) picks another server.")
    command, _, subcommand = name.partition(" ")
    if subcommand and command in SINCE:
        return (f"{command} has no subcommand {subcommand} on this server (fakeredis lacks a few).",
                f"Check the spelling: {SYNTAX.get(command, command)}.")
    return (f"Redis has no command {name}.",
            "Check the spelling: the stream commands are XADD, XRANGE, XREVRANGE, XREAD, "
            "XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XTRIM, XDEL, XLEN, XINFO.")


def _timeout(exc: redis.TimeoutError) -> tuple[str, str]:
    if "reading" in str(exc):
        return ("The client stopped waiting for the reply after its socket_timeout: a BLOCK "
                "longer than that timeout trips it (redis-py's default is 5 s).",
                "Give the client a socket_timeout longer than BLOCK (BLOCK plus a few "
                "seconds), or none at all (sl.connect() clients have none and use TCP "
                "keepalive). Do not rely on retries: a retried read can leave entries the "
                "server already delivered in a group's pending list.")
    return ("The server did not answer in time when connecting.",
            "Check the host and port (and any firewall), or use sl.connect() without a URL.")


def _connection(exc: redis.ConnectionError) -> tuple[str, str]:
    text = str(exc)
    if re.search(r"refused|Name or service not known|nodename nor servname|emulating a "
                 r"connection error|Error -?\d+ connecting", text):
        return ("Nothing answered where the client tried to connect.",
                "Start a server (redis-server), fix REDIS_URL or the URL you passed, or call "
                "sl.connect() without a URL to use the built-in backend.")
    return ("The connection to Redis broke (the server may have restarted or gone away).",
            "Run the cell again once the server is back; streamlab's workers reconnect by "
            "themselves.")


def _data(exc: redis.DataError) -> tuple[str, str] | None:
    text = str(exc)
    kind = re.search(r"Invalid input of type: '(\w+)'", text)
    if kind:
        shown = "None" if kind.group(1) == "NoneType" else kind.group(1)
        return (f"A field value is a Python {shown}; a stream entry holds only flat "
                "field/value strings.",
                "Payload values must be str, bytes, int or float: leave out a None field (or "
                "store ''), store True as '1', and json.dumps() nested data (json.loads it "
                "when reading).")
    if "must be a non-negative integer" in text:
        return ("A number argument is negative (redis-py checks BLOCK and COUNT before sending).",
                "Use a whole number of 0 or more: block=2000 waits up to 2 s; block=0 waits for "
                "ever; leave block out to not wait at all.")
    if "non-empty dict" in text:
        return ("An entry needs at least one field.",
                "Pass a dict with one field or more, e.g. {'temp': 21.5}.")
    return None


# --- helpers ----------------------------------------------------------------------

def _is_fakeredis_wrongtype(exc: BaseException) -> bool:
    """fakeredis's XREAD/XREADGROUP on a non-stream key: AttributeError inside fakeredis."""
    if not isinstance(exc, AttributeError) or exc.__traceback__ is None:
        return False
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return "fakeredis" in last.filename and "object has no attribute" in str(exc)


def _command_name(exc: BaseException, command: str | None) -> str | None:
    """The command the error is about: as given, else as named in the error text."""
    if command:
        return command.split()[0].upper()
    found = re.search(r"for '(\w+)' command|\bin (X[A-Z]+)\b|Unbalanced '?(X[A-Z]+)", str(exc))
    if found:
        return next(g for g in found.groups() if g).upper()
    return None


def _redact_urls(text: str) -> str:
    return re.sub(r"(?:rediss?|unix)://\S+", lambda m: redact(m.group(0)), text)
