"""Which Redis the course talks to: ``connect()`` and the backend ladder.

``connect()`` tries, in order, and takes the first that works:

1. an explicit ``url`` argument;
2. the ``REDIS_URL`` environment variable;            (STREAMLAB_BACKEND=env)
3. a server already answering on 127.0.0.1:6379;      (STREAMLAB_BACKEND=local)
4. a private ``redis-server``/``valkey-server``;       (STREAMLAB_BACKEND=private)
5. fakeredis, one shared fake server per process.      (STREAMLAB_BACKEND=fake)

``STREAMLAB_BACKEND`` forces one step; a forced step that fails raises
``BackendError`` with the reason and the fix, and never falls back silently.

Every client speaks RESP2, so replies have the shapes the Redis documentation
shows (``XREAD`` gives ``[[stream, [(id, fields), ...]], ...]``) on every
backend, and has no socket read timeout, so ``XREAD BLOCK`` works for any
block time (redis-py 8's default 5 s timeout breaks ``BLOCK >= 5000``).

Which server a client is on comes from ``HELLO`` (Valkey names itself there; its
``INFO`` says ``redis_version:7.2.4``). What the server can do, ``r.supports(feature)``,
is probed once per server (``COMMAND INFO``, ``COMMAND DOCS``, a try on a scratch key),
never read from a version number; what differs by server and version without a probe,
``behaviour()``, is keyed here and nowhere else. ``emulated(version)`` is a side fakeredis
for commands the learner's server lacks. docs/SERVERS.md has the measured table.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import redis

from . import namespace as _namespace
from . import server as _server
from .errors import LearnerError

BACKENDS = ("auto", "env", "local", "private", "fake")
LOCAL_URL = "redis://127.0.0.1:6379/0"
#: The Redis version the built-in fakeredis emulates unless STREAMLAB_FAKE_VERSION says another.
FAKE_EMULATES = (7, 0)

# feature -> (first Redis version with it, what it is). The version is what lessons and doctor
# name ("comes with Redis 8.4"); whether a server HAS a feature is probed, never read from it:
# Valkey numbers its versions its own way and a build can lack what its number suggests.
FEATURES: dict[str, tuple[tuple[int, ...], str]] = {
    "xautoclaim": ((6, 2), "XAUTOCLAIM"),
    "minid": ((6, 2), "XADD/XTRIM MINID and LIMIT"),
    "xpending-idle": ((6, 2), "XPENDING ... IDLE ms"),
    "exclusive-ranges": ((6, 2), "XRANGE with ( exclusive bounds"),
    "partial-ids": ((7, 0), "XADD with a partial <ms>-* ID"),
    "lag": ((7, 0), "XINFO GROUPS lag and entries-read"),
    "xautoclaim-deleted": ((7, 0), "XAUTOCLAIM's third element: IDs deleted while pending"),
    "xinfo-inactive": ((7, 2), "XINFO CONSUMERS inactive"),
    "xread-plus": ((7, 4), "XREAD ... STREAMS key + (the last entry)"),
    "xdelex": ((8, 2), "XDELEX and XACKDEL"),
    "trim-acked": ((8, 2), "KEEPREF/DELREF/ACKED on XADD and XTRIM"),
    "xreadgroup-claim": ((8, 4), "XREADGROUP ... CLAIM min-idle-time"),
    "idmp": ((8, 6), "XADD IDMP/IDMPAUTO and XCFGSET (idempotent producers)"),
    "xnack": ((8, 8), "XNACK"),
    "xread-maxcount": ((8, 10), "XREAD/XREADGROUP MAXCOUNT and MAXSIZE"),
    "memory-usage": ((4, 0), "MEMORY USAGE on a key"),
    "xsetid": ((5, 0), "XSETID"),
    "xinfo-full": ((5, 0), "XINFO STREAM ... FULL"),
}

#: The lessons whose "new way" cells use each newer feature, and the command as they show it
#: (doctor says which of these run for real on a learner's server).
FEATURE_LESSONS: dict[str, tuple[tuple[int, ...], str]] = {
    "xread-plus": ((2,), "XREAD ... +"),
    "xread-maxcount": ((2,), "XREAD MAXCOUNT"),
    "xinfo-inactive": ((3, 4), "XINFO CONSUMERS inactive"),
    "xreadgroup-claim": ((4,), "XREADGROUP ... CLAIM"),
    "xnack": ((4,), "XNACK"),
    "idmp": ((4,), "XADD IDMP"),
    "trim-acked": ((5,), "XTRIM/XADD ACKED"),
    "xdelex": ((5,), "XACKDEL/XDELEX"),
}

#: The Redis version ``emulated()`` emulates unless told another: the newest fakeredis knows.
EMULATION_VERSION = (8, 10)

# How each feature is probed on a real server. _COMMANDS: commands that must exist (COMMAND
# INFO). _TOKENS: (command, option) pairs that COMMAND DOCS must list. A feature with neither,
# or whose command's docs the server does not report, is tried on a scratch key (_try_feature).
_COMMANDS: dict[str, tuple[str, ...]] = {
    "xautoclaim": ("XAUTOCLAIM",), "xautoclaim-deleted": ("XAUTOCLAIM",),
    "xdelex": ("XDELEX", "XACKDEL"), "xnack": ("XNACK",), "idmp": ("XCFGSET",),
    "xsetid": ("XSETID",), "memory-usage": ("MEMORY",),
}
_TOKENS: dict[str, tuple[tuple[str, str], ...]] = {
    "minid": (("XADD", "MINID"), ("XTRIM", "MINID"), ("XTRIM", "LIMIT")),
    "xpending-idle": (("XPENDING", "IDLE"),),
    "trim-acked": tuple((cmd, opt) for cmd in ("XADD", "XTRIM")
                        for opt in ("KEEPREF", "DELREF", "ACKED")),
    "xreadgroup-claim": (("XREADGROUP", "CLAIM"),),
    "idmp": (("XADD", "IDMP"), ("XADD", "IDMPAUTO")),
    "xread-maxcount": tuple((cmd, opt) for cmd in ("XREAD", "XREADGROUP")
                            for opt in ("MAXCOUNT", "MAXSIZE")),
    "xinfo-full": (("XINFO|STREAM", "FULL"),),
}
#: Features decided only by what the server does, never by its docs (reply fields, ID forms).
_BEHAVIOURS_TRIED = ("exclusive-ranges", "partial-ids", "lag", "xautoclaim-deleted",
                     "xinfo-inactive", "xread-plus", "memory-usage")

#: Display names of the servers HELLO reports.
SERVER_NAMES = {"redis": "Redis", "valkey": "Valkey", "fakeredis": "fakeredis"}


class BackendError(LearnerError):
    """No usable Redis for the step asked for. The message says what failed and what to do."""


SCHEMES = ("redis", "rediss", "unix")
_QUERY_PARAM = re.compile(r"([?&])([^=&#]*)=([^&#]*)")


def _hide_query_secrets(text: str) -> str:
    """``?password=x`` (any name holding ``pass``, also percent-encoded: ``p%61ss``) -> ``***``."""
    def hide(m: re.Match) -> str:
        name = unquote(m.group(2)).lower()
        return f"{m.group(1)}{m.group(2)}=***" if "pass" in name else m.group(0)
    return _QUERY_PARAM.sub(hide, text)


def redact(url: str | None) -> str:
    """The URL with any password replaced by ``***``, safe to print or log.

    Works on the text, not on a parse of it, so a password holding an
    unencoded ``/``, ``#``, ``?`` or ``@`` (which confuses every URL parser) is
    hidden too: everything between ``//`` and the last ``@`` is user and password.
    ``?password=`` style query parameters are hidden as well (names percent-decoded,
    as redis-py decodes them). A user part without ``:`` (``redis://PW@host``: redis-py
    sends it as the password's companion, and people put passwords there) and one with an
    encoded ``:`` (``u%3Apw@``) are hidden whole. Text that is not a well-formed URL
    (no ``scheme://``: ``user:pw@host``, ``redis:/user:pw@host``) gets everything
    before its last ``@`` replaced by ``***``.
    """
    if not url:
        return ""
    text = _hide_query_secrets(url)
    at = text.rfind("@")
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        return f"***{text[at:]}" if at >= 0 else text
    start = len(scheme) + 3
    if at < start:
        return text
    user, colon, _ = text[start:at].partition(":")
    if not colon or "%3a" in user.lower():
        return f"{text[:start]}***{text[at:]}"
    return f"{text[:start]}{user}:***{text[at:]}"


def check_url(url: str) -> None:
    """``ValueError`` (with the fix, never the password) if ``url`` is not one streamlab can use."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"{redact(url)!r} is not a Redis URL. It should look like redis://host:6379/0 "
            "(rediss:// for TLS, unix:///path/to/redis.sock for a socket file).")
    rest = url.split("://", 1)[1]
    at = rest.rfind("@")
    if at >= 0 and any(ch in rest[:at] for ch in "/#?@"):
        raise ValueError(
            f"the user name or password in {redact(url)!r} holds a character that ends that "
            "part of a URL. Percent-encode /, #, @ (and ?) in passwords: / is %2F, # is %23, "
            "@ is %40, ? is %3F (urllib.parse.quote(password, safe='') does it).")
    if scheme in ("redis", "rediss"):
        try:
            urlsplit(url).port  # a port that is not a number fails here, not deep in redis-py
        except ValueError:
            raise ValueError(f"the port in {redact(url)!r} is not a number: "
                             "redis://host:6379/0.") from None


@dataclass
class Step:
    """One rung of the backend ladder, and what happened when it was tried."""

    name: str
    outcome: str  # "chosen", "skipped" or "failed"
    reason: str


@dataclass
class Backend:
    """What a client is connected to, and how ``connect()`` got there."""

    kind: str  # "url", "env", "local", "private", "fake" or "emulation" (see emulated())
    url: str | None
    server_name: str  # as HELLO names it: "redis", "valkey"; "fakeredis" for fakeredis
    version: tuple[int, ...]  # HELLO's version; on fakeredis the Redis version it emulates
    version_text: str  # HELLO's version as text; on fakeredis the fakeredis release
    ladder: list[Step] = field(default_factory=list)
    private_server: _server.PrivateServer | None = None
    fake_server: object | None = None
    private_cluster: object | None = None  # a cluster.PrivateCluster (connect(cluster=True))
    #: The learner namespace every client of this backend renames keys into (None: no renaming).
    namespace: _namespace.Namespace | None = None

    @property
    def is_fake(self) -> bool:
        """True on fakeredis: the course's fake backend or a side emulation (``emulated()``)."""
        return self.kind in ("fake", "emulation")

    @property
    def server(self) -> str:
        """The server as a person would name it: "Redis 7.0.15", "Valkey 8.1.8",
        "fakeredis 2.41.0 emulating Redis 8.10"."""
        name = SERVER_NAMES.get(self.server_name, self.server_name)
        if self.is_fake:
            return f"{name} {self.version_text} emulating Redis {_dotted(self.version)}"
        return f"{name} {self.version_text}"

    @property
    def learner(self) -> str | None:
        """The learner whose namespace the keys live in, or None."""
        return self.namespace.learner if self.namespace else None

    def __repr__(self) -> str:
        # Never the password: learners print this, and notebooks keep what they print.
        where = f" at {redact(self.url)}" if self.url else ""
        ns = f", learner {self.learner!r} (keys under {self.namespace.prefix})" if self.namespace else ""
        return (f"<streamlab Backend {self.kind}: {self.server_name} {self.version_text}"
                f"{where}{ns}>")


class Client(_namespace.ScopedMixin, redis.Redis):
    """A redis-py client (``decode_responses=True``, RESP2, no read timeout) that
    also knows which backend it is on.

    With a learner namespace (``connect(learner=...)``, ``STREAMLAB_LEARNER`` or
    the URL's ACL user) every key and channel is renamed under ``ws:<learner>:``
    on the way to the server and back (``streamlab.namespace``).

    Everything redis-py offers works as usual: ``r.xadd(...)``, ``r.xread(...)``.
    On top of that: ``r.backend``, ``r.banner()``, ``r.supports(feature)``,
    ``r.behaviour(name)``, ``r.walrus`` (a walrus ``Database`` on the same server)
    and ``r.new_client()``.
    """

    backend: Backend

    def banner(self) -> str:
        """One line: backend kind, server and version, URL without password."""
        b = self.backend
        if b.kind == "emulation":
            return (f"streamlab: side emulation: {b.server} in this Python process, "
                    "not your server (for commands your server does not have)")
        where = {
            "url": "the URL you passed",
            "env": "REDIS_URL",
            "local": "the server on 127.0.0.1:6379",
            "private": "a private server started for this kernel",
            "fake": "fakeredis, in this Python process",
        }[b.kind]
        text = f"streamlab: connected to {b.server} via {where}"
        if b.url:
            text += f" at {redact(b.url)}"
        if b.namespace:
            text += f", as learner {b.learner} (your keys live under {b.namespace.prefix})"
        return text

    def supports(self, feature: str) -> bool:
        """Whether this server does ``feature`` (a key of ``streamlab.backend.FEATURES``).

        Decided by probing, once per server: ``COMMAND INFO`` for the commands a
        feature needs, ``COMMAND DOCS`` for its options, and for what neither shows
        (reply fields, ID forms) the command itself, tried on a scratch key
        ``streamlab:probe:<random>`` that is deleted afterwards. Version numbers are
        not trusted: Valkey's are not Redis's. fakeredis accepts some commands of
        newer versions whatever version it emulates, so there a feature also needs
        the emulated version to be one that has it.
        """
        if feature not in FEATURES:
            raise ValueError(
                f"Unknown feature {feature!r}. Known features: {', '.join(sorted(FEATURES))}."
            )
        return probe_features(self)[feature]

    def features(self) -> dict[str, bool]:
        """Every known feature and whether this backend has it."""
        return dict(probe_features(self))

    def behaviour(self, name: str) -> str:
        """How this server behaves where servers differ (a key of ``BEHAVIOURS``); see ``behaviour()``."""
        return behaviour(self.backend, name)

    @property
    def walrus(self):
        """A walrus ``Database`` on the same server (bytes replies, as the article's code expects).

        walrus compares key types with ``b'stream'`` (walrus issue 160), so it
        needs a client that does not decode replies.
        """
        if getattr(self, "_walrus", None) is None:
            import walrus

            cls = _namespace.scoped_class(walrus.Database)
            self._walrus = cls(connection_pool=_make_pool(self.backend, decode=False))
            self._walrus.namespace = self.namespace
        return self._walrus

    def new_client(self, decode_responses: bool = True) -> "Client":
        """Another client on the same backend, with its own connection pool."""
        return _make_client(self.backend, decode=decode_responses)

    def real_key(self, name: str) -> str:
        """What the server calls ``name``: ``ws:ana:name`` in learner ana's namespace, else ``name``.

        For the few places a name reaches Redis another way than through this
        client: a plain ``redis.Redis`` or ``redis-cli`` sends it as written.
        """
        return self.namespace.key(name) if self.namespace else name

    def without_namespace(self, decode_responses: bool = True) -> "Client":
        """A client on the same server whose key names are sent as they are written.

        For keys outside the learner's namespace that the course shares on
        purpose (a workshop's progress stream); the ACL still decides what it may touch.
        """
        client = _make_client(self.backend, decode=decode_responses)
        client.namespace = None
        return client

    def __repr__(self) -> str:
        return f"<streamlab.Client: {self.banner()}>"


# --- building clients -------------------------------------------------------

_fake_servers: dict[tuple[int, ...], object] = {}
_fake_lock = threading.Lock()
_private: _server.PrivateServer | None = None
_private_lock = threading.Lock()


def fake_version() -> tuple[int, ...]:
    """The Redis version the course's fakeredis emulates: ``STREAMLAB_FAKE_VERSION`` (e.g.
    ``8.10``) if set, else ``FAKE_EMULATES``. The test suite and the notebook runner use the
    variable to run everything on fakeredis emulating another version (docs/SERVERS.md)."""
    text = os.environ.get("STREAMLAB_FAKE_VERSION", "").strip()
    if not text:
        return FAKE_EMULATES
    parts = text.split(".")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3 or int(parts[0]) < 6:
        raise BackendError(f"STREAMLAB_FAKE_VERSION={text!r} is not a Redis version fakeredis can "
                           "emulate. Give one like 7.0 or 8.10 (6.0 or newer), or unset it.")
    return tuple(int(p) for p in parts)


def _shared_fake_server(version: tuple[int, ...] | None = None):
    """The fakeredis server of this process for ``version`` (default ``fake_version()``), so
    every client and thread sees the same data."""
    version = tuple(version or fake_version())
    with _fake_lock:
        if version not in _fake_servers:
            import fakeredis

            _fake_servers[version] = fakeredis.FakeServer(version=version)
        return _fake_servers[version]


def _make_pool(backend: Backend, decode: bool) -> redis.ConnectionPool:
    common = dict(decode_responses=decode, protocol=2)
    if backend.is_fake:
        import fakeredis

        return redis.ConnectionPool(
            connection_class=fakeredis.FakeRedisConnection, server=backend.fake_server, **common
        )
    if backend.url.lower().startswith("unix:"):
        # A socket file: no TCP keepalive there (redis-py's unix connection refuses the option).
        return redis.ConnectionPool.from_url(backend.url, socket_timeout=None,
                                             socket_connect_timeout=5, **common)
    return redis.ConnectionPool.from_url(
        backend.url,
        socket_timeout=None,  # blocking reads may wait longer than any fixed timeout
        socket_connect_timeout=5,
        socket_keepalive=True,
        **common,
    )


def _make_client(backend: Backend, decode: bool = True) -> Client:
    client = Client(connection_pool=_make_pool(backend, decode))
    client.backend = backend
    client.namespace = backend.namespace
    return client


def _attach_namespace(backend: Backend, learner: str | None) -> None:
    """Give ``backend`` the learner namespace ``learner``/STREAMLAB_LEARNER/the URL's user asks for."""
    url_user = None
    if backend.url and backend.kind in ("url", "env", "local"):
        parts = urlsplit(backend.url)
        url_user = parts.username
        if not url_user:  # redis-py also takes the user from ?username=ana
            url_user = (parse_qs(parts.query).get("username") or [None])[0]
    try:
        name = _namespace.resolve(learner, url_user)
    except _namespace.NamespaceError as exc:
        raise BackendError(str(exc)) from None
    if name is None:
        backend.namespace = None
        return
    fetch = getkeys = None
    if not backend.is_fake:
        # The server's own command table says where each command's keys are
        # (fakeredis has none: the namespace falls back to the shipped table).
        raw = redis.Redis(connection_pool=_make_pool(backend, decode=False))
        raw.response_callbacks.clear()
        fetch = lambda name: raw.execute_command("COMMAND", "INFO", name)  # noqa: E731
        getkeys = lambda args: raw.execute_command("COMMAND", "GETKEYS", *args)  # noqa: E731
    backend.namespace = _namespace.Namespace(name, fetch=fetch, getkeys=getkeys)


def _probe(url: str) -> tuple[str, tuple[int, ...], str]:
    """Connect to ``url`` with short timeouts; return (server name, version tuple, version text)."""
    probe = redis.Redis.from_url(
        url, socket_timeout=3, socket_connect_timeout=2, decode_responses=True, protocol=2,
        retry_on_error=[], retry=None,
    )
    try:
        return identify(probe)
    finally:
        probe.close()


def identify(r: redis.Redis) -> tuple[str, tuple[int, ...], str]:
    """(server name, version tuple, version text) of the server ``r`` talks to, from ``HELLO``.

    ``HELLO`` without a protocol version (``@connection``, so any ACL user may run it)
    answers a map with ``server`` and ``version`` and leaves the protocol as it is.
    It names Valkey truthfully, where ``INFO``'s ``redis_version`` (7.2.4 on every
    Valkey) is a compatibility number. Servers older than Redis 6 have no HELLO:
    then ``INFO server``, which a restricted user may not be allowed.
    """
    try:
        fields = hello(r)
    except redis.ResponseError as exc:
        if "unknown command" not in str(exc).lower():
            raise
        info = r.info("server")
        name = "valkey" if "valkey_version" in info else "redis"
        text = str(info.get("valkey_version") or info.get("redis_version", "0"))
        return name, _version_tuple(text), text
    name = fields.get("server", "redis").lower()
    text = fields.get("version", "0")
    return name, _version_tuple(text), text


def hello(r: redis.Redis) -> dict[str, str]:
    """``HELLO``'s fields as text (server, version, proto, id, mode, role, modules)."""
    reply = r.execute_command("HELLO")
    fields = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))
    return {_text(k): _text(v) for k, v in fields.items()}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def _version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def _describe_failure(url: str, exc: Exception) -> str:
    """What went wrong talking to ``url``, in one sentence, and the fix."""
    shown = redact(url)
    text = str(exc)
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return (f"{shown} refused the password ({text}). Put the right one in the URL: "
                "redis://:PASSWORD@host:port/0 (or redis://USER:PASSWORD@host:port/0).")
    if isinstance(exc, ValueError):
        if repr(shown) in text:
            return text  # check_url's own words: what is wrong and the fix
        # redis-py's parse errors may quote pieces of the URL, password included: not shown.
        return (f"{shown!r} is not a Redis URL streamlab can use. It should look like "
                "redis://USER:PASSWORD@host:6379/0, rediss://host:6380/0 (TLS) or "
                "unix:///path/to/redis.sock; percent-encode /, #, @ in passwords.")
    if _is_tls_trouble(text):
        return _tls_failure(url, shown, text)
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        tls = (" A rediss:// URL speaks TLS: if this server does not, use redis://."
               if url.lower().startswith("rediss:") else "")
        return (f"nothing answered at {shown} ({_redact_text(text, url)}). Check that the server "
                "is running and the host and port (or socket path) are right, or unset "
                f"REDIS_URL to use the built-in backend.{tls}")
    return f"{shown} answered with an error: {_redact_text(text, url)}"


def _is_tls_trouble(text: str) -> bool:
    return bool(re.search(r"SSL|TLS|certificate", text))


def _tls_failure(url: str, shown: str, text: str) -> str:
    """A TLS failure: which side of the handshake went wrong, and the fix."""
    text = _redact_text(text, url)
    if not url.lower().startswith("rediss:"):
        return (f"{shown} answered in TLS, but the URL asks for plain TCP ({text}). "
                "Use rediss:// for a TLS server.")
    if re.search(r"WRONG_VERSION_NUMBER|record layer|unexpected eof|EOF occurred", text, re.I):
        return (f"{shown} does not speak TLS ({text}). Use redis:// for a server without TLS, "
                "or the TLS port of this one.")
    if re.search(r"certificate|CERTIFICATE", text):
        return (f"{shown} speaks TLS but its certificate is not one this machine trusts "
                f"({text}). Give the CA file: ?ssl_ca_certs=/path/to/ca.pem in the URL (or, "
                "for a throwaway test server only, ?ssl_cert_reqs=none).")
    return (f"the TLS handshake with {shown} failed ({text}). Check the rediss:// URL's host, "
            "port and certificates (?ssl_ca_certs=, ?ssl_certfile=, ?ssl_keyfile=).")


def _redact_text(text: str, url: str) -> str:
    """``text`` with ``url``'s password taken out, wherever a library quoted it."""
    secret = _password_of(url)
    if secret:
        text = text.replace(secret, "***")
    return text


def _password_of(url: str) -> str | None:
    rest = url.split("://", 1)[-1]
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        return rest[:at].split(":", 1)[1] or None
    found = re.search(r"(?i)[?&][^=&#]*pass[^=&#]*=([^&#]*)", url)
    return found.group(1) if found and found.group(1) else None


def _try_url(kind: str, url: str) -> Backend:
    check_url(url)
    name, version, text = _probe(url)
    return Backend(kind=kind, url=url, server_name=name, version=version, version_text=text)


def _try_private() -> Backend:
    global _private
    with _private_lock:
        if _private is None or not _private.running:
            _private = _server.PrivateServer().start()
        name, version, text = _probe(_private.url)
        return Backend(kind="private", url=_private.url, server_name=name, version=version,
                       version_text=text, private_server=_private)


def _try_fake() -> Backend:
    return _fake_backend("fake", fake_version())


def _fake_backend(kind: str, version: tuple[int, ...], server=None) -> Backend:
    import fakeredis

    return Backend(kind=kind, url=None, server_name="fakeredis", version=tuple(version),
                   version_text=getattr(fakeredis, "__version__", "?"),
                   fake_server=server or _shared_fake_server(version))


def _server_binary() -> str | None:
    """``server.find_server_binary()``, with a bad STREAMLAB_SERVER_BINARY as a BackendError."""
    try:
        return _server.find_server_binary()
    except _server.ServerError as exc:
        raise BackendError(str(exc)) from None


def choose_backend(url: str | None = None, backend: str | None = None,
                   learner: str | None = None) -> Backend:
    """Walk the ladder and return the first backend that works (see the module docstring),
    with the learner namespace ``learner``, ``STREAMLAB_LEARNER`` or the URL's user asks for."""
    chosen = _walk_ladder(url, backend)
    _attach_namespace(chosen, learner)
    return chosen


def _walk_ladder(url: str | None, backend: str | None) -> Backend:
    forced = (backend or os.environ.get("STREAMLAB_BACKEND") or "auto").strip().lower()
    if forced not in BACKENDS:
        raise BackendError(
            f"STREAMLAB_BACKEND={forced!r} is not a backend streamlab knows. "
            f"Use one of: {', '.join(BACKENDS)} (or unset it for auto)."
        )
    ladder: list[Step] = []

    def done(b: Backend, reason: str) -> Backend:
        ladder.append(Step(b.kind, "chosen", reason))
        b.ladder = ladder
        return b

    if url:
        try:
            return done(_try_url("url", url), "a URL was passed to connect()")
        except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
            raise BackendError("connect(url=...): " + _describe_failure(url, exc)) from None
    ladder.append(Step("url", "skipped", "no URL was passed to connect()"))

    env_url = os.environ.get("REDIS_URL", "").strip()
    if forced in ("auto", "env"):
        if env_url:
            try:
                return done(_try_url("env", env_url), "REDIS_URL is set and the server answered")
            except Exception as exc:  # noqa: BLE001
                # A REDIS_URL that does not work is a mistake to report, never to skip.
                raise BackendError("REDIS_URL: " + _describe_failure(env_url, exc)) from None
        if forced == "env":
            raise BackendError("STREAMLAB_BACKEND=env but REDIS_URL is not set. "
                               "Export REDIS_URL=redis://host:6379/0, or unset STREAMLAB_BACKEND.")
        ladder.append(Step("env", "skipped", "REDIS_URL is not set"))
    else:
        ladder.append(Step("env", "skipped", f"STREAMLAB_BACKEND={forced}"))

    if forced in ("auto", "local"):
        try:
            return done(_try_url("local", LOCAL_URL), "a server answered on 127.0.0.1:6379")
        except Exception as exc:  # noqa: BLE001
            if forced == "local":
                raise BackendError("STREAMLAB_BACKEND=local: " + _describe_failure(LOCAL_URL, exc)
                                   + " Start one with `redis-server`.") from None
            ladder.append(Step("local", "skipped", f"nothing answered on 127.0.0.1:6379 ({exc})"))
    else:
        ladder.append(Step("local", "skipped", f"STREAMLAB_BACKEND={forced}"))

    if forced in ("auto", "private"):
        binary = _server_binary()
        if binary is None:
            if forced == "private":
                raise BackendError("STREAMLAB_BACKEND=private but there is no redis-server or "
                                   "valkey-server on PATH. " + _server.INSTALL_HINT)
            ladder.append(Step("private", "skipped", "no redis-server or valkey-server on PATH"))
        else:
            try:
                return done(_try_private(), "started a private server from "
                            + os.path.basename(binary))
            except Exception as exc:  # noqa: BLE001
                if forced == "private":
                    raise BackendError(f"STREAMLAB_BACKEND=private: {exc}") from None
                ladder.append(Step("private", "failed", str(exc)))
    else:
        ladder.append(Step("private", "skipped", f"STREAMLAB_BACKEND={forced}"))

    try:
        return done(_try_fake(), "fakeredis needs nothing installed")
    except ImportError as exc:
        raise BackendError(f"fakeredis is not installed ({exc}): pip install 'fakeredis[lua]'") from None


def connect(url: str | None = None, *, backend: str | None = None, quiet: bool = False,
            learner: str | None = None) -> Client:
    """Connect to the course's Redis and print a one-line banner.

    ``url`` wins over everything; otherwise ``STREAMLAB_BACKEND`` (or
    ``backend=``) and the ladder in this module's docstring decide. The engine's
    connect: lessons call ``sl.connect()``, which also gives a notebook the
    ``%redis``/``%%redis`` magics and offers ``cluster=True`` (``streamlab.cluster``).

    ``learner="ana"`` (or ``STREAMLAB_LEARNER=ana``, or a URL whose ACL user is
    ``ana``) keeps every key and channel under ``ws:ana:`` while the code keeps
    using the names the lessons use (``streamlab.namespace``); ``learner=""``
    turns that off.
    """
    chosen = choose_backend(url, backend, learner)
    client = _make_client(chosen)
    if not quiet:
        print(client.banner())
    return client


# --- side emulations -------------------------------------------------------------

_emulations: dict[tuple[int, ...], Client] = {}


def emulated(version: tuple[int, ...] = EMULATION_VERSION) -> Client:
    """A client on a fakeredis server of its own that emulates Redis ``version``.

    For a lesson's "new way" cell on a server without the command: the same commands
    run here instead, and the banner says it is an emulation, not the learner's
    server. One server per version, created at the first call and shared after;
    nothing in it touches the learner's server. ``sl.reset()`` closes them all
    (``close_emulations()``), and their data goes with them.
    """
    try:
        version = tuple(int(part) for part in version)
    except (TypeError, ValueError):
        raise ValueError(f"emulated(version=...) takes a Redis version as a tuple of whole "
                         f"numbers, e.g. (8, 10); got {version!r}.") from None
    if not version or version[0] < 6:
        raise ValueError(f"emulated() emulates Redis 6.0 or newer; got {version!r}.")
    with _fake_lock:
        client = _emulations.get(version)
        if client is None:
            import fakeredis

            client = _make_client(_fake_backend("emulation", version,
                                                fakeredis.FakeServer(version=version)))
            _emulations[version] = client
        return client


def close_emulations() -> int:
    """Close every side emulation ``emulated()`` made; returns how many there were."""
    with _fake_lock:
        clients = list(_emulations.values())
        _emulations.clear()
    for client in clients:
        client.close()
    return len(clients)


# --- behaviour that differs by server and version -------------------------------

#: name -> (what it is about, the answers ``behaviour()`` can give).
BEHAVIOURS: dict[str, tuple[str, tuple[str, ...]]] = {
    "deleted-stream-under-blocked-read": (
        "what a blocked XREADGROUP answers when its stream is deleted: the error UNBLOCKED "
        "(Redis 7.0), NOGROUP because the read is run again (Redis 7.2+, Valkey), or nothing "
        "until BLOCK runs out (fakeredis)",
        ("UNBLOCKED", "NOGROUP", "keeps-waiting")),
    "lag-after-deletions": (
        "whether the course trusts XINFO GROUPS lag after XDEL and trimming (Redis 8.2+: exact; "
        "older Redis, Valkey and fakeredis: approximate, counted with XRANGE, see observe.py)",
        ("exact", "approximate")),
    "lag-after-trim": (
        "what XINFO GROUPS lag says right after a trim removed entries the group never read: "
        "counts-trimmed (they still count as unread: Redis before 7.4.2, Valkey up to 9.1.2 "
        "measured, fakeredis emulating before 7.4) or exact (Redis 7.4.2+ by its release "
        "notes, redis #13473; fakeredis emulating 7.4+, measured)",
        ("counts-trimmed", "exact")),
}

#: The first Redis version whose XINFO GROUPS lag is right after deletions and trims
#: (redis #13338, in 7.4, fixed XDEL; redis #13473 and #13958, the latter from April 2025,
#: fixed trimming). 8.2 rather than 8.0: we could not confirm which 8.0.x has #13958.
LAG_FIXED_IN = (8, 2)


def behaviour(backend, name: str) -> str:
    """How the server of ``backend`` (a ``Backend``, or anything with ``server_name`` and
    ``version``) behaves where servers differ; ``name`` is a key of ``BEHAVIOURS``.

    The one place that keys behaviour on server and version, measured on Redis 7.0.15,
    Valkey 8.1.8 and 9.1.2 and fakeredis (docs/SERVERS.md) and taken from the release
    notes for Redis 7.2+.
    """
    if name not in BEHAVIOURS:
        raise ValueError(f"Unknown behaviour {name!r}. Known: {', '.join(sorted(BEHAVIOURS))}.")
    server = getattr(backend, "server_name", None)
    version = tuple(getattr(backend, "version", ()) or ())
    if name == "deleted-stream-under-blocked-read":
        if server == "fakeredis":
            return "keeps-waiting"
        # Valkey forked from Redis 7.2, so every Valkey re-runs the read.
        return "UNBLOCKED" if server == "redis" and version < (7, 2) else "NOGROUP"
    if name == "lag-after-trim":
        fixed_in = {"redis": (7, 4, 2), "fakeredis": (7, 4),
                    # fakeredis emulates the fix from Valkey 9.1.4; 9.1.2 measured without it
                    "valkey": (9, 1, 4)}.get(server)
        return "exact" if fixed_in and version >= fixed_in else "counts-trimmed"
    # lag-after-deletions
    return "exact" if server == "redis" and version >= LAG_FIXED_IN else "approximate"


# --- feature probes ----------------------------------------------------------------

_probe_lock = threading.Lock()
_probed: dict[tuple, dict[str, bool]] = {}  # real servers, by address and identity
_probed_fake: "weakref.WeakKeyDictionary[object, dict[str, bool]]" = weakref.WeakKeyDictionary()


def probe_features(client) -> dict[str, bool]:
    """Every feature of ``FEATURES`` and whether the client's server has it (see
    ``Client.supports``). Probed once per server, then cached for the process."""
    b = client.backend
    with _probe_lock:
        if b.is_fake:
            found = _probed_fake.get(b.fake_server)
        else:
            found = _probed.get(_server_key(b))
        if found is None:
            try:
                found = _probe_all(client)
            except redis.exceptions.NoPermissionError as exc:
                # Not "missing": unknown. Nothing is cached, so a client allowed to probe
                # (another user, or this one once the ACL is fixed) probes afresh.
                raise BackendError(
                    "could not find out which stream features this server has: the Redis "
                    f"user may not run the probe on a scratch key ({exc}). Connect with the "
                    "learner's namespace (the URL's user name, or connect(learner=...)), or ask "
                    "the instructor for a user that may write its own keys.") from None
            if b.is_fake:
                _probed_fake[b.fake_server] = found
            else:
                _probed[_server_key(b)] = found
        return found


def forget_probes() -> None:
    """Drop every cached probe result (after a server was upgraded in place, say)."""
    with _probe_lock:
        _probed.clear()
        _probed_fake.clear()


def _server_key(b: Backend) -> tuple:
    parts = urlsplit(b.url or "")
    where = parts.path if parts.scheme == "unix" else ""  # a redis:// path is only the db
    # The user and namespace too: what one ACL user may probe another may not.
    user = parts.username or (parse_qs(parts.query).get("username") or [None])[0]
    prefix = b.namespace.prefix if b.namespace else None
    return (parts.hostname, parts.port or 6379, where, b.server_name, b.version_text, user, prefix)


def _probe_all(client) -> dict[str, bool]:
    b = client.backend
    decoded = client.get_encoder().decode_responses
    r = client if decoded else client.new_client()
    try:
        if b.is_fake:
            # fakeredis knows no COMMAND DOCS and takes some newer commands at any version.
            return {f: tuple(b.version) >= FEATURES[f][0] and _try_feature(r, f) for f in FEATURES}
        commands = _command_info(r, sorted({c for cs in _COMMANDS.values() for c in cs}))
        docs: dict[str, set[str] | None] = {}
        return {f: _probe_real(r, f, commands, docs) for f in FEATURES}
    finally:
        if r is not client:
            r.close()


def _probe_real(r, feature: str, commands: dict[str, bool] | None,
                docs: dict[str, set[str] | None]) -> bool:
    needed = _COMMANDS.get(feature, ())
    if commands is not None and not all(commands.get(c) for c in needed):
        return False
    tokens = _TOKENS.get(feature, ())
    if tokens:
        listed = [_doc_tokens(r, cmd, docs) for cmd, _ in tokens]
        if all(found is not None for found in listed):
            return all(opt in found for (_, opt), found in zip(tokens, listed))
    if feature in _BEHAVIOURS_TRIED or tokens or commands is None:
        return _try_feature(r, feature)
    return True


def _command_info(r, names: list[str]) -> dict[str, bool] | None:
    """{command: whether the server has it} from one ``COMMAND INFO``, or None if refused."""
    try:
        # One argument "COMMAND INFO": redis-py splits it, and skips its COMMAND reply parser
        # (which fails on the nil a missing command gets).
        reply = _to_one_node(r, "COMMAND INFO", *names)
    except redis.ResponseError:
        return None
    return {name: entry is not None for name, entry in zip(names, reply)}


def _to_one_node(r, *args):
    """A keyless command, sent to one node when ``r`` is a cluster client (every node of a
    cluster runs the same server), as is to anything else."""
    if hasattr(r, "get_random_node"):
        return r.execute_command(*args, target_nodes=r.get_random_node())
    return r.execute_command(*args)


def _doc_tokens(r, command: str, docs: dict[str, set[str] | None]) -> set[str] | None:
    """Every option token ``COMMAND DOCS`` lists for ``command`` (``XINFO|STREAM`` looks in
    XINFO's subcommands), or None when the server does not document it (Redis < 7.0)."""
    top = command.split("|")[0]
    if top not in docs:
        try:
            reply = _to_one_node(r, "COMMAND DOCS", top)
        except redis.ResponseError:
            reply = None
        docs[top] = _tokens_in(reply) if reply else None
    return docs[top]


def _tokens_in(reply) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            node = [x for kv in node.items() for x in kv]
        if isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                if _text(item) == "token" and i + 1 < len(node):
                    found.add(_text(node[i + 1]).upper())
                walk(item)

    walk(reply)
    return found


def _try_feature(r, feature: str) -> bool:
    """Try ``feature`` on a scratch stream of our own; True if the server does what Redis does."""
    # A hash tag keeps both scratch keys in one slot, should the client be a cluster's.
    key = "streamlab:probe:{%s}" % uuid.uuid4().hex
    try:
        r.xadd(key, {"f": "1"}, id="5-1")
        r.xadd(key, {"f": "2"}, id="6-1")
        r.xgroup_create(key, "g", id="0")
        return bool(_TRIES[feature](r, key))
    except redis.exceptions.NoPermissionError:
        raise  # the ACL's answer, not the server's: the feature is unknown, not missing
    except (redis.ResponseError, TypeError, AttributeError, IndexError, KeyError, ValueError):
        return False
    finally:
        try:
            r.delete(key)
        except redis.RedisError:
            pass


def _try_xautoclaim(r, key, deleted=False):
    r.xreadgroup("g", "c", {key: ">"})
    reply = r.xautoclaim(key, "g", "c2", 0)
    return len(reply) == 3 if deleted else True


def _try_trim_acked(r, key):
    # Nothing is acked yet, so ACKED trims nothing; KEEPREF/DELREF are parsed on XADD.
    r.execute_command("XADD", key, "KEEPREF", "*", "f", "3")
    r.execute_command("XADD", key, "DELREF", "*", "f", "4")
    trimmed = r.execute_command("XTRIM", key, "MAXLEN", 0, "ACKED")
    return int(trimmed) == 0 and r.xlen(key) == 4


def _try_claim(r, key):
    r.xreadgroup("g", "c1", {key: ">"}, count=1)  # 5-1 pending at c1
    reply = r.execute_command("XREADGROUP", "GROUP", "g", "c2", "CLAIM", 0, "STREAMS", key, ">")
    return [_text(e[0]) for e in reply[0][1]] == ["5-1", "6-1"]  # the idle entry first


def _try_idmp(r, key):
    first = r.execute_command("XADD", key, "IDMP", "p", "i", "*", "f", "3")
    again = r.execute_command("XADD", key, "IDMP", "p", "i", "*", "f", "3")
    return _text(first) == _text(again) and r.xlen(key) == 3


def _try_xnack(r, key):
    r.xreadgroup("g", "c", {key: ">"}, count=1)
    return int(r.execute_command("XNACK", key, "g", "SILENT", "IDS", 1, "5-1")) == 1


def _try_maxcount(r, key):
    reply = r.execute_command("XREAD", "MAXCOUNT", 1, "STREAMS", key, "0")
    return len(reply[0][1]) == 1


def _try_xdelex(r, key):
    r.xreadgroup("g", "c", {key: ">"})
    deleted = r.execute_command("XDELEX", key, "IDS", 1, "5-1")
    acked = r.execute_command("XACKDEL", key, "g", "IDS", 1, "6-1")
    return list(deleted) == [1] and list(acked) == [1] and r.xlen(key) == 0


def _try_xinfo_full(r, key):
    r.xreadgroup("g", "c", {key: ">"})  # a PEL to list is what trips fakeredis
    return "groups" in r.xinfo_stream(key, full=True)


def _try_inactive(r, key):
    r.xreadgroup("g", "c", {key: ">"})
    return "inactive" in r.xinfo_consumers(key, "g")[0]


_TRIES = {
    "xautoclaim": _try_xautoclaim,
    "xautoclaim-deleted": lambda r, key: _try_xautoclaim(r, key, deleted=True),
    "minid": lambda r, key: r.execute_command("XTRIM", key, "MINID", "~", "5-1", "LIMIT", 10) == 0,
    "xpending-idle": lambda r, key: r.xpending_range(key, "g", "-", "+", 10, idle=0) == [],
    "exclusive-ranges": lambda r, key: [e[0] for e in r.xrange(key, "(5-1", "+")] == ["6-1"],
    "partial-ids": lambda r, key: r.xadd(key, {"f": "3"}, id="7-*") == "7-0",
    "lag": lambda r, key: "lag" in r.xinfo_groups(key)[0],
    "xinfo-inactive": _try_inactive,
    "xread-plus": lambda r, key: r.xread({key: "+"})[0][1][0][0] == "6-1",
    "xdelex": _try_xdelex,
    "trim-acked": _try_trim_acked,
    "xreadgroup-claim": _try_claim,
    "idmp": _try_idmp,
    "xnack": _try_xnack,
    "xread-maxcount": _try_maxcount,
    "memory-usage": lambda r, key: r.memory_usage(key) is not None,
    "xsetid": lambda r, key: r.execute_command("XSETID", key, "9-9") in (True, "OK"),
    "xinfo-full": _try_xinfo_full,
}
