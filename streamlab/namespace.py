"""Learner namespaces: each learner's keys and channels under ``ws:<learner>:``.

In a workshop many learners share one Redis server (database 0, since hosted
Redis and Redis Cluster have no other). Each runs the same lessons, so each
would create ``lesson03:sensors``. With a namespace the client renames every
key and Pub/Sub channel on the way out and back::

    lesson code / %%redis cell          what the server sees
    XADD lesson03:sensors * t 21        XADD ws:ana:lesson03:sensors * t 21
    SUBSCRIBE lesson06:alerts           SUBSCRIBE ws:ana:lesson06:alerts
    XREAD ... -> [["lesson03:sensors", ...]]   <- [["ws:ana:lesson03:sensors", ...]]

so the lessons read exactly as they do without one, and an ACL user fenced to
``~ws:ana:* &ws:ana:*`` (``acl_rules("ana")``) can run every lesson while
never seeing anyone else's keys.

Which namespace: ``connect(learner="ana")``, else ``STREAMLAB_LEARNER``, else
the user name in the Redis URL when it is not ``default`` (the ACL user an
instructor created for the learner). A learner name is letters, digits, ``_``
and ``-`` (so it is never a glob character in ``SCAN MATCH`` or an ACL
pattern). With none of these, nothing is renamed.

Where the keys are in a command comes from the server's own command table,
``COMMAND INFO``'s key specifications (Redis 7.0+, Valkey), asked once per
command and cached; fakeredis has no ``COMMAND INFO``, so there the same
specifications come from ``streamlab/data/keyspecs.json`` (written from a real
server by ``tools/keyspecs.py``). Channels are not keys, so the Pub/Sub
commands' channel positions are listed here (``CHANNEL_COMMANDS``). Replies that
carry key or channel names (``XREAD``/``XREADGROUP`` stream names, ``SCAN``,
``KEYS``, ``BLPOP``-style pops, ``PUBSUB CHANNELS``/``NUMSUB``, Pub/Sub
messages) get the prefix taken off again. ``SCAN`` and ``KEYS`` patterns get it
put on (``SCAN 0`` becomes ``SCAN 0 MATCH ws:ana:*``), so a learner's scan only
ever walks their own keys.

What it does not rename: key names built inside a Lua script or function (the
ACL refuses those, and ``%%redis`` refuses scripts on shared servers), values
that happen to hold key names, and Redis Cluster clients (``connect(cluster=True)``:
on a workshop's single server lesson 09 starts a private cluster of its own).
"""

from __future__ import annotations

import json
import os
import re
import threading

import redis

ROOT = "ws"
LEARNER_ENV = "STREAMLAB_LEARNER"
_LEARNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TABLE_PATH = os.path.join(os.path.dirname(__file__), "data", "keyspecs.json")

#: Pub/Sub commands whose arguments name channels (not keys, so not in the key specs):
#: command -> index of the first channel argument; every argument from there is one.
CHANNEL_COMMANDS = {"SUBSCRIBE": 1, "UNSUBSCRIBE": 1, "PSUBSCRIBE": 1, "PUNSUBSCRIBE": 1}
#: PUBSUB subcommands: which take a pattern (default "*") and which take channels.
_PUBSUB_PATTERN = {"CHANNELS", "SHARDCHANNELS"}
_PUBSUB_CHANNELS = {"NUMSUB", "SHARDNUMSUB"}
#: Commands that never name a key: answered without looking anything up.
_NO_KEYS = {"PING", "ECHO", "HELLO", "AUTH", "COMMAND", "CLIENT", "INFO", "SELECT", "QUIT",
            "RESET", "MULTI", "EXEC", "DISCARD", "UNWATCH", "TIME", "DBSIZE", "ROLE", "ACL",
            "CONFIG", "READONLY", "READWRITE", "WAIT", "WAITAOF", "LASTSAVE", "SCRIPT",
            "FUNCTION", "SLOWLOG", "LATENCY", "MEMORY DOCTOR", "MEMORY STATS", "CLUSTER"}


class NamespaceError(ValueError):
    """A learner name streamlab cannot use; the message says which names work."""


def validate(learner: str) -> str:
    """``learner`` if it can name a namespace, else ``NamespaceError`` saying what can."""
    if not _LEARNER_RE.match(learner or ""):
        raise NamespaceError(
            f"{learner!r} cannot be a learner name: use 1 to 64 letters, digits, '_' or '-', "
            "starting with a letter or digit (for example ana or learner-07).")
    return learner


def key_prefix(learner: str) -> str:
    """``key_prefix("ana")`` -> ``'ws:ana:'``: what every key and channel of ana starts with."""
    return f"{ROOT}:{validate(learner)}:"


def acl_rules(learner: str) -> list[str]:
    """The ACL key and channel patterns that fence ``learner`` in: ``['~ws:ana:*', '&ws:ana:*']``."""
    prefix = key_prefix(learner)
    return [f"~{prefix}*", f"&{prefix}*"]


#: Commands the ACL cannot hold to the learner's key and channel patterns, that show other
#: learners' key or channel names (or how many keys there are) and the course does without:
#: CLIENT TRACKING (BCAST sends every changed key's name), RANDOMKEY, DBSIZE, PUBSUB
#: CHANNELS/SHARDCHANNELS. SCAN stays (sl.reset() needs it): through streamlab every SCAN
#: is kept to the namespace, but a raw redis-cli SCAN shows every key name (README says so).
NAME_LEAKS = ("-client|tracking", "-randomkey", "-dbsize", "-pubsub|channels",
              "-pubsub|shardchannels")

#: What a fenced learner may run: streams, Pub/Sub, reading and writing its own keys,
#: MULTI/EXEC pipelines and the connection commands (HELLO, PING, COMMAND INFO); never a
#: @dangerous one (INFO, CONFIG, KEYS, FLUSHALL, CLIENT KILL, ...). Lua scripts run
#: (the course's workers make some steps atomic with EVAL), and Redis checks every
#: ``redis.call`` inside one against the same ACL, so a script reaches no further than
#: its caller; the script and function caches are shared by everyone, so SCRIPT FLUSH/KILL
#: and FUNCTION (load, delete, flush: all @write or @scripting) stay out.
FENCE_CATEGORIES = ("-@all", "+@connection", "+@stream", "+@pubsub", "+@read", "+@write",
                    "+@transaction", "-@dangerous", "+eval", "+evalsha", "+eval_ro",
                    "+evalsha_ro", "+script|load", "+script|exists", "-function",
                    *NAME_LEAKS)


def acl_setuser_args(learner: str, password: str) -> list[str]:
    """``ACL SETUSER`` arguments that fence ``learner`` in: own keys and channels only.

    Running them again sets the same rules (and the given password) afresh.
    """
    return [validate(learner), "on", "resetpass", f">{password}", "resetkeys", "resetchannels",
            *FENCE_CATEGORIES, *acl_rules(learner)]


def resolve(learner: str | None, url_user: str | None) -> str | None:
    """The namespace a connection gets (see the module docstring), or None for none.

    ``learner=""`` asks for no namespace even when the environment or URL names one.
    """
    if learner is not None:
        return validate(learner) if learner else None
    from_env = os.environ.get(LEARNER_ENV, "").strip()
    if from_env:
        try:
            return validate(from_env)
        except NamespaceError as exc:
            raise NamespaceError(f"{LEARNER_ENV}: {exc}") from None
    if url_user and url_user != "default":
        try:
            return validate(url_user)
        except NamespaceError as exc:
            raise NamespaceError(
                f"the Redis URL's user name would be the learner's namespace, but {exc} "
                f"Set {LEARNER_ENV} to a name that works.") from None
    return None


# --- key specifications ---------------------------------------------------------------

def _pairs(flat) -> dict:
    """A RESP2 flat ``[name, value, name, value ...]`` as a dict with str names."""
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _text(value) -> str:
    # surrogateescape: a key is any bytes (b"\xff" too); only command words need real text.
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _parse_spec(raw) -> list:
    """One raw key specification as ``[begin, find]`` (see ``_positions``)."""
    spec = _pairs(raw)
    begin, find = _pairs(spec.get("begin_search", [])), _pairs(spec.get("find_keys", []))
    bs, fk = _pairs(begin.get("spec", [])), _pairs(find.get("spec", []))
    if _text(begin.get("type", "")) == "index":
        b = ["index", int(bs["index"])]
    elif _text(begin.get("type", "")) == "keyword":
        b = ["keyword", _text(bs["keyword"]).upper(), int(bs["startfrom"])]
    else:
        b = ["unknown"]
    if _text(find.get("type", "")) == "range":
        f = ["range", int(fk["lastkey"]), int(fk["keystep"]), int(fk["limit"])]
    elif _text(find.get("type", "")) == "keynum":
        f = ["keynum", int(fk["keynumidx"]), int(fk["firstkey"]), int(fk["keystep"])]
    else:
        f = ["unknown"]
    return [b, f]


def _parse_one(raw) -> list:
    """The key specs of one ``COMMAND INFO`` entry (legacy first/last/step before Redis 7)."""
    if len(raw) > 8:
        return [_parse_spec(s) for s in raw[8]]
    first, last, step = int(raw[3]), int(raw[4]), int(raw[5])
    if first <= 0:
        return []
    return [[["index", first], ["range", last - first if last >= 0 else last, step, 0]]]


def parse_command_info(raw) -> dict | None:
    """``{"specs": [...], "sub": {SUB: [...]}}`` from one raw ``COMMAND INFO`` entry (None: no such command)."""
    if not raw:
        return None
    entry: dict = {"specs": _parse_one(raw)}
    subs = raw[9] if len(raw) > 9 else []
    if subs:
        entry["sub"] = {_text(s[0]).split("|", 1)[1].upper(): _parse_one(s) for s in subs}
    return entry


def _positions(specs: list, args: list) -> tuple[set[int], bool]:
    """The indexes of ``args`` (``args[0]`` the command) that are keys, as Redis finds them.

    This is the server's own ``getKeysUsingKeySpecs``: a begin-search step
    (a fixed index, or the argument after a keyword) then a find-keys step (a
    range, or a count argument then that many keys). The second value is False if a
    spec is of a kind this does not know (SORT's STORE): then the caller asks the server,
    ``COMMAND GETKEYS``, or makes do with the keys found.
    """
    argc = len(args)
    found: set[int] = set()
    complete = True
    for begin, find in specs:
        if begin[0] == "index":
            first = begin[1]
        elif begin[0] == "keyword":
            keyword, startfrom = begin[1], begin[2]
            start = startfrom if startfrom > 0 else argc + startfrom
            end = argc - 1 if startfrom > 0 else 0
            first = 0
            i = start
            while 1 <= i < argc:
                if _text(args[i]).upper() == keyword:
                    first = i + 1
                    break
                if i == end:
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                continue
        else:
            complete = False
            continue
        if find[0] == "range":
            lastkey, step, limit = find[1], find[2], find[3]
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif find[0] == "keynum":
            numidx, firstkey, step = find[1], find[2], find[3]
            if first + numidx >= argc:
                continue
            try:
                count = int(_text(args[first + numidx]))
            except ValueError:
                continue  # the server will say the count is wrong
            first += firstkey
            last = first + count - 1
        else:
            complete = False
            continue
        found.update(i for i in range(first, last + 1, max(step, 1)) if 0 < i < argc)
    return found, complete


_table: dict | None = None
_table_lock = threading.Lock()


def shipped_table() -> dict:
    """``streamlab/data/keyspecs.json``'s commands (see ``tools/keyspecs.py``)."""
    global _table
    with _table_lock:
        if _table is None:
            with open(_TABLE_PATH) as f:
                _table = json.load(f)["commands"]
        return _table


# --- the namespace ---------------------------------------------------------------------

class Namespace:
    """Renames keys and channels for one learner. ``fetch(name)`` is the server's
    ``COMMAND INFO name`` entry (raw), or None where there is no such command table
    (fakeredis): then the shipped table answers. Shared by every client of a backend,
    so each command is looked up once per server."""

    def __init__(self, learner: str, fetch=None, getkeys=None):
        self.learner = validate(learner)
        self.prefix = key_prefix(learner)
        self._bprefix = self.prefix.encode()
        self._fetch = fetch
        self._getkeys = getkeys
        self._cache: dict[str, dict | None] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<streamlab.Namespace {self.learner}: keys and channels under {self.prefix}>"

    # names one at a time
    def key(self, name):
        """The real name of ``name`` (str or bytes, as given)."""
        if isinstance(name, (bytes, bytearray, memoryview)):
            return self._bprefix + bytes(name)
        return self.prefix + str(name)

    def unkey(self, name):
        """``name`` without the prefix (names from elsewhere are returned as they are)."""
        if isinstance(name, bytes):
            return name[len(self._bprefix):] if name.startswith(self._bprefix) else name
        if isinstance(name, str) and name.startswith(self.prefix):
            return name[len(self.prefix):]
        return name

    # commands
    def _entry(self, name: str) -> dict | None:
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        entry = None
        if self._fetch is not None:
            try:
                raw = self._fetch(name)
                entry = parse_command_info(raw[0]) if raw else None
            except Exception:  # noqa: BLE001 - no COMMAND INFO here: the shipped table answers
                entry = None
        if entry is None:
            entry = shipped_table().get(name)
        with self._lock:
            self._cache[name] = entry
        return entry

    def key_positions(self, args) -> set[int]:
        """Indexes of ``args`` that name keys or channels (``args[0]`` is the command)."""
        words = _text(args[0]).upper().split()
        if len(words) > 1:  # redis-py passes "XINFO STREAM" as one argument: count both
            return {i - (len(words) - 1) for i in self.key_positions([*words, *args[1:]])
                    if i >= len(words)}
        name = words[0]
        sub = _text(args[1]).upper() if len(args) > 1 else ""
        if name in CHANNEL_COMMANDS:
            return set(range(CHANNEL_COMMANDS[name], len(args)))
        if name == "PUBLISH":
            return {1} if len(args) > 1 else set()
        if name == "PUBSUB" and sub in _PUBSUB_CHANNELS:
            return set(range(2, len(args)))
        if name == "CLUSTER" and sub == "KEYSLOT":  # a key name, though not in the key specs
            return {2} if len(args) > 2 else set()
        if name in _NO_KEYS or f"{name} {sub}" in _NO_KEYS:
            return set()
        entry = self._entry(name)
        if entry is None:
            return set()  # an unknown command: the server will say so
        specs = entry["specs"]
        if entry.get("sub"):
            specs = entry["sub"].get(sub, [])
        found, complete = _positions(specs, list(args))
        if not complete:
            if self._getkeys is None:
                return found  # the keys the known specs find (SORT's first key, not STORE's)
            keys = set(map(_text, self._getkeys(args)))
            return {i for i in range(1, len(args)) if _text(args[i]) in keys}
        return found

    def map_args(self, args: tuple) -> tuple:
        """``args`` with every key and channel renamed, and SCAN/KEYS patterns fenced."""
        if not args:
            return args
        words = _text(args[0]).upper().split()
        name = words[0]
        if name == "SCAN":
            return self._map_scan(args)
        if name == "RANDOMKEY":
            raise NamespaceError(
                "RANDOMKEY picks from every key on the server, other learners' too, so it does "
                "not run in a learner namespace. SCAN 0 lists your own keys.")
        if name == "KEYS" and len(args) == 2:
            return (args[0], self.key(args[1]))
        if name == "PUBSUB":
            sub = words[1] if len(words) > 1 else (_text(args[1]).upper() if len(args) > 1 else "")
            at = 1 if len(words) > 1 else 2  # where the pattern is: after the subcommand
            if sub in _PUBSUB_PATTERN:
                pattern = args[at] if len(args) > at else "*"
                return (*args[:at], self.key(pattern))
        positions = self.key_positions(args)
        if not positions:
            return args
        return tuple(self.key(a) if i in positions else a for i, a in enumerate(args))

    def _map_scan(self, args: tuple) -> tuple:
        """``SCAN cursor [MATCH p] [COUNT n] [TYPE t]`` kept to the namespace: every MATCH
        (Redis uses the last one) gets the prefix, or ``MATCH prefix*`` is added. Options
        go in pairs, so a value that reads ``match`` (``TYPE match``) is not taken for one."""
        out = list(args)
        matched = False
        for i in range(2, len(out) - 1, 2):
            if _text(out[i]).upper() == "MATCH":
                out[i + 1] = self.key(out[i + 1])
                matched = True
        return tuple(out) if matched else (*out, "MATCH", self.prefix + "*")

    def unmap_reply(self, args: tuple, reply):
        """``reply`` with the prefix taken off the key and channel names it carries."""
        if not args or reply is None or isinstance(reply, Exception):
            return reply
        words = _text(args[0]).upper().split()
        name = words[0]
        try:
            if name in ("XREAD", "XREADGROUP"):
                if isinstance(reply, dict):  # RESP3
                    return {self.unkey(k): v for k, v in reply.items()}
                return [[self.unkey(s[0]), *s[1:]] for s in reply]
            if name == "SCAN":
                return type(reply)([reply[0], [self.unkey(k) for k in reply[1]]])
            if name == "KEYS":
                return [self.unkey(k) for k in reply]
            if name == "RANDOMKEY":
                return self.unkey(reply)
            if name in ("BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "LMPOP", "ZMPOP",
                        "BZMPOP"):
                return type(reply)([self.unkey(reply[0]), *reply[1:]])
            if name == "PUBSUB":
                sub = words[1] if len(words) > 1 else _text(args[1]).upper()
                if sub in _PUBSUB_PATTERN:
                    return [self.unkey(c) for c in reply]
                if sub in _PUBSUB_CHANNELS:
                    if isinstance(reply, dict):
                        return {self.unkey(c): n for c, n in reply.items()}
                    if reply and isinstance(reply[0], (tuple, list)):  # redis-py's pairs
                        return [type(p)([self.unkey(p[0]), *p[1:]]) for p in reply]
                    return [self.unkey(x) if i % 2 == 0 else x for i, x in enumerate(reply)]
        except (TypeError, IndexError, KeyError, AttributeError):
            return reply  # not the shape expected (an error reply, a queued command)
        return reply

    def unmap_message(self, response):
        """A raw Pub/Sub push (``[b"message", channel, data]``, ...) with channel names unmapped."""
        if not isinstance(response, list) or len(response) < 2:
            return response
        kind = _text(response[0])
        if kind == "pmessage" and len(response) >= 4:
            return [response[0], self.unkey(response[1]), self.unkey(response[2]), *response[3:]]
        if kind in ("message", "smessage", "subscribe", "unsubscribe", "psubscribe",
                    "punsubscribe", "ssubscribe", "sunsubscribe"):
            return [response[0], self.unkey(response[1]), *response[2:]]
        return response


# --- redis-py classes that use a namespace ---------------------------------------------

class ScopedMixin:
    """Mixed into a redis-py client class: every command goes through ``self.namespace``
    (when it is not None) on the way out and its reply on the way back."""

    namespace: Namespace | None = None

    def execute_command(self, *args, **options):
        ns = self.namespace
        if ns is None:
            return super().execute_command(*args, **options)
        mapped = ns.map_args(args)
        reply = super().execute_command(*mapped, **options)
        if isinstance(reply, ScopedMixin):  # a pipeline queued it: unmapped in execute()
            return reply
        return ns.unmap_reply(args, reply)

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = scoped_class(redis.client.Pipeline)(
            self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.namespace = self.namespace
        return pipe

    def pubsub(self, **kwargs):
        ps = _ScopedPubSub(self.connection_pool, **kwargs)
        ps.namespace = self.namespace
        return ps


class _PipelineResults:
    """Mixed into pipelines: unmap each queued command's reply when the pipeline runs."""

    def execute(self, raise_on_error=True):
        ns = self.namespace
        stack = [c[0] for c in self.command_stack]  # (args, options) pairs: args as given
        results = super().execute(raise_on_error)
        if ns is None:
            return results
        return [ns.unmap_reply(args, reply) for args, reply in zip(stack, results)]


_classes: dict[type, type] = {}


def scoped_class(base: type) -> type:
    """``base`` (a redis-py ``Redis`` or ``Pipeline`` subclass) with a namespace."""
    if base not in _classes:
        bases = (ScopedMixin, base)
        if issubclass(base, redis.client.Pipeline):
            bases = (_PipelineResults, ScopedMixin, base)
        _classes[base] = type(f"Scoped{base.__name__}", bases, {})
    return _classes[base]


def glob_regex(pattern: str) -> re.Pattern:
    """Redis's glob (``stringmatchlen``: ``*``, ``?``, ``[a-z]``, ``[^...]``, ``\\x``) as a regex."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            i += negate
            items = []
            while i < n and pattern[i] != "]":
                if pattern[i] == "\\" and i + 1 < n:
                    items.append(re.escape(pattern[i + 1]))
                    i += 2
                elif i + 2 < n and pattern[i + 1] == "-" and pattern[i + 2] != "]":
                    low, high = sorted((pattern[i], pattern[i + 2]))  # Redis swaps z-a too
                    items.append(f"{re.escape(low)}-{re.escape(high)}")
                    i += 3
                else:
                    items.append(re.escape(pattern[i]))
                    i += 1
            body = "".join(items)
            out.append(f"[{'^' if negate else ''}{body}]" if body else ("." if negate else "(?!)"))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


class _ScopedPubSub(redis.client.PubSub):
    """A PubSub whose channel names are renamed on the way out and back.

    ``self.channels`` keeps the learner's names, so a reconnect re-subscribes
    through ``execute_command`` and is renamed again, and handlers are found by
    the names the learner gave.

    Patterns are matched here, not by the server: an ACL lets a user
    ``PSUBSCRIBE`` only to a pattern it was granted *literally* (``ws:ana:*``),
    never to a narrower one such as ``ws:ana:lesson06:sensor:*``. So the
    connection subscribes to the whole namespace once, and each message is
    delivered once per learner pattern it matches (Redis's glob rules), as the
    server would. Confirmations count subscriptions as the server would too.
    """

    namespace: Namespace | None = None

    def reset(self) -> None:
        super().reset()
        self._patterns_here: dict[str, re.Pattern] = {}
        self._pending: list = []  # replies made here, handed out before reading the server
        self._swallow = 0  # replies to our own PSUBSCRIBE/PUNSUBSCRIBE of the namespace

    def on_connect(self, connection) -> None:
        self._patterns_here, self._swallow = {}, 0  # the new connection has none yet
        super().on_connect(connection)

    def _name(self, text: str):
        return self.encoder.decode(self.encoder.encode(text))

    def execute_command(self, *args):
        ns = self.namespace
        if ns is None:
            return super().execute_command(*args)
        name = _text(args[0]).upper()
        if name == "PSUBSCRIBE":
            had = bool(self._patterns_here)
            for pattern in map(_text, args[1:]):
                self._patterns_here[pattern] = glob_regex(pattern)
                self._confirm("psubscribe", pattern)
            if not had and self._patterns_here:
                self._swallow += 1
                super().execute_command("PSUBSCRIBE", ns.prefix + "*")
            return None
        if name == "PUNSUBSCRIBE":
            had = bool(self._patterns_here)
            for pattern in list(map(_text, args[1:])) or list(self._patterns_here):
                self._patterns_here.pop(pattern, None)
                self._confirm("punsubscribe", pattern)
            if had and not self._patterns_here:
                self._swallow += 1
                super().execute_command("PUNSUBSCRIBE", ns.prefix + "*")
            return None
        return super().execute_command(*ns.map_args(args))

    def _confirm(self, kind: str, pattern: str) -> None:
        count = len(self.channels) + len(self._patterns_here)
        self._pending.append([self._name(kind), self._name(pattern), count])

    def parse_response(self, block=True, timeout=0):
        if self.namespace is None:
            return super().parse_response(block=block, timeout=timeout)
        if self._pending:
            return self._pending.pop(0)
        response = super().parse_response(block=block, timeout=timeout)
        if not isinstance(response, list) or len(response) < 3:
            return response
        kind = _text(response[0])
        broad = _text(response[1]) == self.namespace.prefix + "*"
        if kind in ("psubscribe", "punsubscribe") and broad and self._swallow:
            self._swallow -= 1
            return None  # "no message yet": the learner got its own confirmations
        if kind == "pmessage" and broad:
            channel = self.namespace.unkey(response[2])
            text = _text(channel)
            self._pending += [[response[0], self._name(p), channel, response[3]]
                              for p, rx in self._patterns_here.items() if rx.match(text)]
            return self._pending.pop(0) if self._pending else None
        return self.namespace.unmap_message(response)
