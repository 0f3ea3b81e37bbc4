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
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import redis

from . import namespace as _namespace
from . import server as _server

BACKENDS = ("auto", "env", "local", "private", "fake")
LOCAL_URL = "redis://127.0.0.1:6379/0"
FAKE_EMULATES = (7, 0)

# feature -> (first Redis version with it, what it is)
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
    "memory-usage": ((4, 0), "MEMORY USAGE on a key"),
    "xsetid": ((5, 0), "XSETID"),
    "xinfo-full": ((5, 0), "XINFO STREAM ... FULL"),
}


class BackendError(RuntimeError):
    """No usable Redis for the step asked for. The message says what failed and what to do."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is the whole story.
        return [f"BackendError: {self}"]


SCHEMES = ("redis", "rediss", "unix")
_SECRET_QUERY = re.compile(r"(?i)([?&][^=&#]*pass[^=&#]*=)[^&#]*")


def redact(url: str | None) -> str:
    """The URL with any password replaced by ``***``, safe to print or log.

    Works on the text, not on a parse of it, so a password holding an
    unencoded ``/``, ``#``, ``?`` or ``@`` (which confuses every URL parser) is
    hidden too: everything between ``//`` and the last ``@`` is user and password.
    ``?password=`` style query parameters are hidden as well.
    """
    if not url:
        return ""
    text = _SECRET_QUERY.sub(r"\1***", url)
    start = text.find("//")
    at = text.rfind("@")
    if start < 0 or at < start:
        return text
    userinfo = text[start + 2:at]
    if ":" not in userinfo:
        return text  # a user name alone is no secret
    user = userinfo.split(":", 1)[0]
    return f"{text[:start + 2]}{user}:***{text[at:]}"


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

    kind: str  # "url", "env", "local", "private" or "fake"
    url: str | None
    server_name: str  # "redis", "valkey" or "fakeredis"
    version: tuple[int, ...]
    version_text: str
    ladder: list[Step] = field(default_factory=list)
    private_server: _server.PrivateServer | None = None
    fake_server: object | None = None
    private_cluster: object | None = None  # a cluster.PrivateCluster (connect(cluster=True))
    #: The learner namespace every client of this backend renames keys into (None: no renaming).
    namespace: _namespace.Namespace | None = None

    @property
    def is_fake(self) -> bool:
        return self.kind == "fake"

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
    ``r.walrus`` (a walrus ``Database`` on the same server) and ``r.new_client()``.
    """

    backend: Backend

    def banner(self) -> str:
        """One line: backend kind, server and version, URL without password."""
        b = self.backend
        where = {
            "url": "the URL you passed",
            "env": "REDIS_URL",
            "local": "the server on 127.0.0.1:6379",
            "private": "a private server started for this kernel",
            "fake": "fakeredis, in this Python process",
        }[b.kind]
        server = f"{b.server_name} {b.version_text}"
        if b.is_fake:
            server += f" (emulating Redis {'.'.join(map(str, FAKE_EMULATES))})"
        text = f"streamlab: connected to {server} via {where}"
        if b.url:
            text += f" at {redact(b.url)}"
        if b.namespace:
            text += f", as learner {b.learner} (your keys live under {b.namespace.prefix})"
        return text

    def supports(self, feature: str) -> bool:
        """Whether this backend does ``feature`` (a key of ``streamlab.backend.FEATURES``).

        Real servers answer by version. fakeredis accepts commands of newer
        Redis versions whatever version it emulates, so there the answer comes
        from trying the command once on a scratch key.
        """
        if feature not in FEATURES:
            raise ValueError(
                f"Unknown feature {feature!r}. Known features: {', '.join(sorted(FEATURES))}."
            )
        if self.backend.is_fake:
            return _fake_supports(self, feature)
        return self.backend.version >= FEATURES[feature][0]

    def features(self) -> dict[str, bool]:
        """Every known feature and whether this backend has it."""
        return {name: self.supports(name) for name in FEATURES}

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

_fake_server = None
_fake_lock = threading.Lock()
_private: _server.PrivateServer | None = None
_private_lock = threading.Lock()


def _shared_fake_server():
    """The one fakeredis server of this process, so every client and thread sees the same data."""
    global _fake_server
    with _fake_lock:
        if _fake_server is None:
            import fakeredis

            _fake_server = fakeredis.FakeServer(version=FAKE_EMULATES)
        return _fake_server


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
        url_user = urlsplit(backend.url).username
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
    """PING ``url`` with short timeouts; return (server name, version tuple, version text)."""
    probe = redis.Redis.from_url(
        url, socket_timeout=3, socket_connect_timeout=2, decode_responses=True, protocol=2,
        retry_on_error=[], retry=None,
    )
    try:
        probe.ping()
        try:
            info = probe.info("server")
        except redis.exceptions.NoPermissionError:
            # A workshop user fenced out of INFO (@dangerous): HELLO names the server too.
            info = _hello_info(probe)
    finally:
        probe.close()
    name = "valkey" if "valkey_version" in info else "redis"
    text = str(info.get("valkey_version") or info.get("redis_version", "0"))
    return name, _version_tuple(text), text


def hello(probe: redis.Redis) -> dict[str, str]:
    """``HELLO``'s fields (server, version, mode, role, ...): what INFO says, for every user."""
    reply = probe.execute_command("HELLO")
    fields = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))
    return {_text(k): _text(v) for k, v in fields.items()}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _hello_info(probe: redis.Redis) -> dict[str, str]:
    """INFO's ``redis_version``/``valkey_version`` from ``HELLO`` (allowed to every user)."""
    fields = hello(probe)
    return {f"{fields.get('server', 'redis')}_version": fields.get("version", "0")}


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
    import fakeredis

    return Backend(kind="fake", url=None, server_name="fakeredis",
                   version=FAKE_EMULATES, version_text=getattr(fakeredis, "__version__", "?"),
                   fake_server=_shared_fake_server())


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
        if _server.find_server_binary() is None:
            if forced == "private":
                raise BackendError("STREAMLAB_BACKEND=private but there is no redis-server or "
                                   "valkey-server on PATH. " + _server.INSTALL_HINT)
            ladder.append(Step("private", "skipped", "no redis-server or valkey-server on PATH"))
        else:
            try:
                return done(_try_private(), "started a private server from "
                            + os.path.basename(_server.find_server_binary()))
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
            cluster: bool = False, learner: str | None = None) -> Client:
    """Connect to the course's Redis and print a one-line banner.

    ``url`` wins over everything; otherwise ``STREAMLAB_BACKEND`` (or
    ``backend=``) and the ladder in this module's docstring decide. In IPython,
    this also loads the ``%redis``/``%%redis`` magics on the new client.

    ``cluster=True`` (lesson 09) gives a Redis Cluster client instead: a cluster
    URL, a ``REDIS_URL`` that is a cluster node, or a private cluster; where there
    is none (fakeredis), the fakeredis client. See ``streamlab.cluster``.

    ``learner="ana"`` (or ``STREAMLAB_LEARNER=ana``, or a URL whose ACL user is
    ``ana``) keeps every key and channel under ``ws:ana:`` while the code keeps
    using the names the lessons use (``streamlab.namespace``); ``learner=""``
    turns that off.
    """
    if cluster:
        from . import cluster as _cluster

        return _cluster.connect(url, backend=backend, quiet=quiet)
    chosen = choose_backend(url, backend, learner)
    client = _make_client(chosen)
    if not quiet:
        print(client.banner())
    _load_magics(client)
    return client


def _load_magics(client: Client) -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from . import magics
    from .explain import install_notebook_handler

    magics.register(shell, client)
    install_notebook_handler(shell)


# --- feature probes on fakeredis --------------------------------------------

_fake_feature_cache: dict[str, bool] = {}


def _fake_supports(client: Client, feature: str) -> bool:
    if feature not in _fake_feature_cache:
        key = f"streamlab:probe:{uuid.uuid4().hex}"
        try:
            _fake_feature_cache[feature] = _run_probe(client, key, feature)
        finally:
            client.delete(key, key + ":2")
    return _fake_feature_cache[feature]


def _run_probe(r: redis.Redis, key: str, feature: str) -> bool:
    """Try ``feature`` on a scratch key of a fake server; True if it behaves as Redis does."""
    r.xadd(key, {"f": "1"}, id="5-1")
    r.xgroup_create(key, "g", id="0")
    try:
        if feature == "partial-ids":
            return r.xadd(key, {"f": "2"}, id="6-*") == "6-0"
        if feature == "lag":
            return "lag" in r.xinfo_groups(key)[0]
        if feature in ("xautoclaim", "xautoclaim-deleted"):
            r.xreadgroup("g", "c", {key: ">"})
            reply = r.xautoclaim(key, "g", "c2", 0)
            return feature == "xautoclaim" or len(reply) == 3
        if feature == "minid":
            r.xtrim(key, minid="5-1")
            return True
        if feature == "xpending-idle":
            r.xpending_range(key, "g", "-", "+", 10, idle=0)
            return True
        if feature == "exclusive-ranges":
            return r.xrange(key, "(5-0", "+") == r.xrange(key, "5-1", "+")
        if feature == "xinfo-inactive":
            r.xreadgroup("g", "c", {key: ">"})
            return "inactive" in r.xinfo_consumers(key, "g")[0]
        if feature == "xread-plus":
            return r.xread({key: "+"})[0][1][0][0] == "5-1"
        if feature == "xdelex":
            r.execute_command("XDELEX", key, "IDS", 1, "5-1")
            return True
        if feature == "memory-usage":
            return r.memory_usage(key) is not None
        if feature == "xsetid":
            r.execute_command("XSETID", key, "9-9")
            return True
        if feature == "xinfo-full":
            r.xreadgroup("g", "c", {key: ">"})  # a PEL to list is what trips fakeredis
            return "groups" in r.xinfo_stream(key, full=True)
    except (redis.ResponseError, TypeError, AttributeError, IndexError, KeyError):
        return False
    return False
