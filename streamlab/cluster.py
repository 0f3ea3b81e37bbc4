"""Redis Cluster for the course: a private cluster on loopback, and a client that knows where it is.

``sl.connect(cluster=True)`` (lesson 09) gives a ``ClusterClient``, redis-py's
``RedisCluster`` with the course's extras (``.backend``, ``.banner()``,
``.new_client()``, ``.supports()``). It takes the first of:

1. a URL passed to ``connect(url, cluster=True)`` whose server has ``cluster_enabled:1``;
2. ``REDIS_URL``, if that server is a cluster node (a single server there is skipped, and said so);
3. a private cluster (``PrivateCluster``) from ``redis-server``/``valkey-server`` on PATH;
4. none: with ``STREAMLAB_BACKEND=fake``, or nothing installed, you get the fakeredis
   client (fakeredis has no cluster) and the lesson shows slot arithmetic and a recorded run.

The private cluster is ``shards`` primaries, each a ``server.PrivateServer``
started with ``--cluster-enabled yes``: so each one lives in its own temporary
directory, keeps nothing on disk, listens on 127.0.0.1 only and dies with this
process, even if this process is SIGKILLed (its supervisor sees the pipe close).
Creating the cluster is what ``redis-cli --cluster create`` does, by hand:

- ``CLUSTER ADDSLOTSRANGE start end`` on each node (Redis 7.0+; ``CLUSTER ADDSLOTS``
  before), so the 16,384 slots are split in equal ranges;
- ``CLUSTER MEET 127.0.0.1 port bus-port`` from the first node to every other;
- wait until every node says ``cluster_state:ok`` and knows every other node.

Nothing here imports ipywidgets, matplotlib or IPython: drawing lives in
``streamlab.ui.figures.cluster``.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from dataclasses import dataclass
from functools import partial

import redis
from redis.cluster import ClusterNode, RedisCluster, key_slot

from . import server as _server
from .errors import LearnerError
from .waiting import wait_until

SLOTS = 16384
DEFAULT_SHARDS = 3
NODE_TIMEOUT_MS = 2000


class ClusterError(LearnerError):
    """The cluster could not be started or reached; the message says why and what to do."""


def slot_of(key: str) -> int:
    """The hash slot of ``key`` (CRC16 of the key, or of its ``{hash tag}``, mod 16384).

    The same arithmetic as ``CLUSTER KEYSLOT key``, done in the client by redis-py's
    ``key_slot``: that is how a cluster client knows which node to ask.
    """
    return key_slot(key.encode() if isinstance(key, str) else key)


def hash_tag(key: str) -> str | None:
    """The part of ``key`` that is hashed when it has a hash tag: the text between the first
    ``{`` and the next ``}``, if that is not empty; else None (the whole key is hashed)."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1:end]


def slot_ranges(shards: int) -> list[tuple[int, int]]:
    """16,384 slots split into ``shards`` contiguous ranges, as ``redis-cli --cluster create`` does."""
    if shards < 1:
        raise ValueError("A cluster needs at least one shard.")
    bounds = [round(i * SLOTS / shards) for i in range(shards + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(shards)]


@dataclass
class Node:
    """One primary of the private cluster: where it listens and which slots it serves."""

    index: int
    port: int
    bus_port: int
    slots: tuple[int, int]
    server: _server.PrivateServer
    frozen: bool = False

    @property
    def pid(self) -> int | None:
        return self.server.server_pid

    @property
    def name(self) -> str:
        return f"shard {self.index} (127.0.0.1:{self.port}, slots {self.slots[0]}-{self.slots[1]})"


class PrivateCluster:
    """A loopback-only Redis Cluster of ``shards`` primaries owned by this Python process.

    ``start()`` returns once every node says ``cluster_state:ok``; ``stop()``
    (also run at interpreter exit, and done by each node's supervisor if this
    process is killed) stops every node and removes their directories.
    ``freeze(i)``/``thaw(i)`` stop and continue one node's process (SIGSTOP /
    SIGCONT), as a hung machine or a network partition would look to the others.
    """

    def __init__(self, shards: int = DEFAULT_SHARDS, binary: str | None = None,
                 node_timeout_ms: int = NODE_TIMEOUT_MS, require_full_coverage: bool = False):
        if shards < 1:
            raise ValueError("A cluster needs at least one shard.")
        self.shards = int(shards)
        self.binary = binary or _server.find_server_binary()
        self.node_timeout_ms = int(node_timeout_ms)
        self.require_full_coverage = require_full_coverage
        self.nodes: list[Node] = []
        self._lock = threading.Lock()

    # --- life -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return bool(self.nodes) and all(n.server.running for n in self.nodes)

    @property
    def url(self) -> str:
        if not self.nodes:
            raise ClusterError("The private cluster is not running: call start() first.")
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout: float = 30) -> "PrivateCluster":
        with self._lock:
            if self.running:
                return self
            if not self.binary:
                raise ClusterError("No redis-server or valkey-server binary on PATH. "
                                   + _server.INSTALL_HINT)
            try:
                for index, slots in enumerate(slot_ranges(self.shards)):
                    self.nodes.append(self._start_node(index, slots))
                self._create(timeout)
            except BaseException:
                self._stop_nodes()
                raise
            atexit.register(self.stop)
            return self

    def _start_node(self, index: int, slots: tuple[int, int]) -> Node:
        last = None
        for _ in range(3):  # the bus port was free when chosen; retry if someone took it meanwhile
            bus = _server.free_port()
            options = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                       "--cluster-port", str(bus),
                       "--cluster-node-timeout", str(self.node_timeout_ms),
                       "--cluster-require-full-coverage",
                       "yes" if self.require_full_coverage else "no"]
            srv = _server.PrivateServer(self.binary, extra_args=options)
            try:
                srv.start()
            except _server.ServerError as exc:
                last = exc
                continue
            return Node(index, srv.port, bus, slots, srv)
        raise ClusterError(f"Could not start cluster node {index}: {last}")

    def _client(self, node: Node, timeout: float = 5) -> redis.Redis:
        return redis.Redis(port=node.port, host="127.0.0.1", decode_responses=True, protocol=2,
                           socket_timeout=timeout, socket_connect_timeout=timeout)

    def _create(self, timeout: float) -> None:
        clients = [self._client(n) for n in self.nodes]
        try:
            for node, c in zip(self.nodes, clients):
                start, end = node.slots
                try:
                    c.execute_command("CLUSTER", "ADDSLOTSRANGE", start, end)
                except redis.ResponseError:
                    # Before Redis 7.0 there is no ADDSLOTSRANGE: list every slot.
                    c.execute_command("CLUSTER", "ADDSLOTS", *range(start, end + 1))
            first = clients[0]
            for node in self.nodes[1:]:
                first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
            if not wait_until(lambda: all(self._healthy(c) for c in clients), timeout, interval=0.05):
                states = [c.execute_command("CLUSTER", "INFO") for c in clients]
                raise ClusterError(f"The cluster did not reach cluster_state:ok within "
                                   f"{timeout:.0f} s: {states}")
        finally:
            for c in clients:
                c.close()

    def _healthy(self, c: redis.Redis) -> bool:
        info = _cluster_info(c)
        return (info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == self.shards
                and int(info.get("cluster_slots_ok", 0)) == SLOTS)

    def wait_healthy(self, timeout: float = 30) -> bool:
        """Wait until every node that is not frozen says ``cluster_state:ok``; True if it happened."""
        return wait_until(lambda: all(self.node_state(n.index) == "ok" for n in self.nodes if not n.frozen),
                          timeout, interval=0.1)

    def node_state(self, index: int) -> str:
        """``cluster_state`` as node ``index`` sees it (``ok`` or ``fail``), or ``down`` if it does not answer."""
        c = self._client(self.nodes[index], timeout=1)
        try:
            return _cluster_info(c).get("cluster_state", "?")
        except (redis.ConnectionError, redis.TimeoutError):
            return "down"
        finally:
            c.close()

    def node_view(self, index: int) -> list[tuple[str, str]]:
        """How node ``index`` sees every node: (``host:port``, flags) from ``CLUSTER NODES``;
        flags hold ``fail?`` once it suspects a node and ``fail`` once the majority agreed."""
        lines = []
        c = self._client(self.nodes[index % len(self.nodes)], timeout=1)
        try:
            for line in c.execute_command("CLUSTER", "NODES").splitlines():
                parts = line.split()
                lines.append((parts[1].split("@")[0], parts[2]))
        finally:
            c.close()
        return lines

    def freeze(self, index: int) -> Node:
        """SIGSTOP node ``index``: it stops answering, its slots become unreachable."""
        node = self.nodes[index]
        os.kill(node.pid, signal.SIGSTOP)
        node.frozen = True
        return node

    def thaw(self, index: int) -> Node:
        """SIGCONT node ``index``: it answers again with everything it held."""
        node = self.nodes[index]
        os.kill(node.pid, signal.SIGCONT)
        node.frozen = False
        return node

    def stop(self) -> None:
        """Stop every node and wait for it; safe to call twice."""
        with self._lock:
            self._stop_nodes()

    def _stop_nodes(self) -> None:
        for node in self.nodes:
            if node.frozen and node.pid:
                try:
                    os.kill(node.pid, signal.SIGCONT)  # a stopped process would not act on SIGTERM
                except OSError:
                    pass
        for node in self.nodes:
            node.server.stop()
        self.nodes = []

    def __enter__(self) -> "PrivateCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running, {self.shards} shards, first at {self.url}" if self.running else "stopped"
        return f"<PrivateCluster {state}>"


def _cluster_info(c: redis.Redis) -> dict:
    text = c.execute_command("CLUSTER", "INFO")
    if isinstance(text, dict):
        return {k: str(v) for k, v in text.items()}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def is_cluster_url(url: str) -> bool:
    """True if the server at ``url`` is a cluster node (``INFO cluster`` says ``cluster_enabled:1``)."""
    probe = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2, protocol=2,
                                 decode_responses=True, retry_on_error=[], retry=None)
    try:
        try:
            return bool(int(probe.info("cluster").get("cluster_enabled", 0)))
        except redis.exceptions.NoPermissionError:
            # A workshop user fenced out of INFO: HELLO's "mode" says it as well.
            from .backend import hello

            return hello(probe).get("mode") == "cluster"
    finally:
        probe.close()


# --- the client ----------------------------------------------------------------------------

class ClusterClient(RedisCluster):
    """redis-py's ``RedisCluster`` (``decode_responses=True``, RESP2, no read timeout) that also
    knows where it is: ``.backend``, ``.banner()``, ``.new_client()``, ``.supports()``, ``.shard_of(key)``.

    Every command with keys goes to the node that serves their slot; a command
    whose keys are in different slots fails with ``CROSSSLOT`` (redis-py raises
    ``RedisClusterException`` before sending when it can tell itself).
    """

    backend = None

    def banner(self) -> str:
        from .backend import redact as sl_redact  # never the password

        b = self.backend
        where = {"cluster-url": "the URL you passed", "cluster-env": "REDIS_URL",
                 "cluster-private": "a private cluster started for this kernel"}[b.kind]
        shards = len(self.get_primaries())
        return (f"streamlab: connected to a Redis Cluster of {shards} primaries "
                f"({b.server}) via {where} at {sl_redact(b.url)}")

    def supports(self, feature: str) -> bool:
        """Whether the cluster's servers do ``feature``: probed as ``Client.supports`` does."""
        from .backend import FEATURES, probe_features

        if feature not in FEATURES:
            raise ValueError(f"Unknown feature {feature!r}. Known features: {', '.join(sorted(FEATURES))}.")
        return probe_features(self)[feature]

    def pipeline(self, transaction=None, shard_hint=None):
        """redis-py's cluster pipeline; a transaction (``MULTI``/``EXEC`` on one slot) also parses
        replies as a plain client does.

        redis-py 8.1 runs only its cluster-level reply parsers after a cluster
        ``EXEC``, so ``XINFO GROUPS`` or ``XPENDING`` inside a transaction came back
        as raw lists; the node client's parsers are added for those.
        """
        pipe = super().pipeline(transaction, shard_hint)
        if transaction:
            try:  # redis-py internals: if they move, replies stay raw rather than break
                from redis._parsers.helpers import _RedisCallbacks, _RedisCallbacksRESP2
                from redis.client import CaseInsensitiveDict
            except ImportError:
                return pipe
            merged = CaseInsensitiveDict({**_RedisCallbacks, **_RedisCallbacksRESP2})
            merged.update(pipe.cluster_response_callbacks)
            pipe.cluster_response_callbacks = merged
        return pipe

    def new_client(self, decode_responses: bool = True) -> "ClusterClient":
        """Another cluster client on the same cluster, with its own connections."""
        return make_cluster_client(self.backend, decode_responses)

    def shard_of(self, key: str) -> str:
        """``host:port`` of the primary that serves ``key``'s slot (from the client's slot map)."""
        node = self.get_node_from_key(key)
        return f"{node.host}:{node.port}"

    def shards(self) -> list[str]:
        """``host:port`` of every primary, ordered by the first slot it serves (shard 0 serves slot 0)."""
        first: dict[str, int] = {}
        for slot, nodes in self.nodes_manager.slots_cache.items():
            name = f"{nodes[0].host}:{nodes[0].port}"
            first[name] = min(slot, first.get(name, SLOTS))
        return sorted(first, key=first.get)

    def shard_index(self, key: str) -> int:
        """The position of ``key``'s primary in ``shards()``: 0, 1, 2, ..."""
        return self.shards().index(self.shard_of(key))

    def __repr__(self) -> str:
        return f"<streamlab.ClusterClient: {self.banner()}>"


def make_cluster_client(backend, decode_responses: bool = True) -> ClusterClient:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(backend.url)
    client = ClusterClient(
        startup_nodes=[ClusterNode(parts.hostname or "127.0.0.1", parts.port or 6379)],
        # As redis-py's from_url does: a percent-encoded password (/ # @) is decoded.
        password=unquote(parts.password) if parts.password else None,
        username=unquote(parts.username) if parts.username else None,
        decode_responses=decode_responses, protocol=2,
        socket_timeout=None, socket_connect_timeout=5, socket_keepalive=True,
    )
    client.backend = backend
    return client


_private: PrivateCluster | None = None
_private_lock = threading.Lock()


def private_cluster() -> PrivateCluster:
    """This process's private cluster, started on first use (and again if it was stopped)."""
    global _private
    with _private_lock:
        if _private is None or not _private.running:
            _private = PrivateCluster().start()
        return _private


def choose(url: str | None = None, backend: str | None = None):
    """The cluster ``connect(cluster=True)`` uses, as a ``backend.Backend``, or None for "no cluster here".

    See the module docstring for the order. A URL passed in that is not a
    cluster is an error (you asked for that server); a ``REDIS_URL`` that is a
    single server is skipped, and the ladder says so.
    """
    from . import backend as sl_backend

    forced = (backend or os.environ.get("STREAMLAB_BACKEND") or "auto").strip().lower()
    ladder = []

    def done(kind, where, reason, private=None):
        name, version, text = sl_backend._probe(where)
        ladder.append(sl_backend.Step(kind, "chosen", reason))
        b = sl_backend.Backend(kind=kind, url=where, server_name=name, version=version,
                               version_text=text, ladder=ladder)
        b.private_cluster = private
        return b

    if url:
        try:
            ok = is_cluster_url(url)
        except Exception as exc:  # noqa: BLE001 - one clear message
            raise sl_backend.BackendError("connect(url=..., cluster=True): "
                                          + sl_backend._describe_failure(url, exc)) from None
        if not ok:
            raise sl_backend.BackendError(
                f"connect({sl_backend.redact(url)!r}, cluster=True): that server is not a cluster node "
                "(INFO cluster says cluster_enabled:0). Pass a cluster node's URL, or leave the URL "
                "out to start a private cluster.")
        return done("cluster-url", url, "a cluster URL was passed to connect()")
    if forced == "fake":
        ladder.append(sl_backend.Step("cluster", "skipped", "STREAMLAB_BACKEND=fake: fakeredis has no cluster"))
        return None
    env_url = os.environ.get("REDIS_URL", "").strip()
    if env_url:
        try:
            if is_cluster_url(env_url):
                return done("cluster-env", env_url, "REDIS_URL is a cluster node")
            ladder.append(sl_backend.Step("cluster-env", "skipped", "REDIS_URL is a single server, not a cluster"))
        except Exception as exc:  # noqa: BLE001
            raise sl_backend.BackendError("REDIS_URL: " + sl_backend._describe_failure(env_url, exc)) from None
    if _server.find_server_binary() is None:
        if forced == "private":
            raise sl_backend.BackendError("STREAMLAB_BACKEND=private but there is no redis-server or "
                                          "valkey-server on PATH to start a cluster from. "
                                          + _server.INSTALL_HINT)
        return None
    try:
        pc = private_cluster()
    except (ClusterError, _server.ServerError) as exc:
        raise sl_backend.BackendError(f"Could not start a private cluster: {exc}") from None
    return done("cluster-private", pc.url,
                f"started a private {pc.shards}-shard cluster from {os.path.basename(pc.binary)}", pc)


def connect(url: str | None = None, backend: str | None = None, quiet: bool = False):
    """A ``ClusterClient`` on the cluster ``choose()`` finds, or, where there is none, the
    fakeredis client with a second banner line saying so. See ``sl.connect(cluster=True)``."""
    from . import backend as sl_backend

    chosen = choose(url, backend)
    if chosen is None:
        client = sl_backend.connect(backend="fake", quiet=True)
        if not quiet:
            print(client.banner())
            why = ("STREAMLAB_BACKEND=fake" if (backend or os.environ.get("STREAMLAB_BACKEND", "")).strip().lower() == "fake"
                   else "no redis-server or valkey-server on PATH to start one")
            print(f"streamlab: no Redis Cluster here ({why}; fakeredis has none): cluster cells show "
                  "slot arithmetic and a recorded run.")
        return client
    client = make_cluster_client(chosen)
    if not quiet:
        print(client.banner())
    return client


def is_cluster(r) -> bool:
    """True if ``r`` is a cluster client."""
    return isinstance(r, RedisCluster)


def server_error(rc, *command) -> str:
    """Send ``command`` to the node serving its first key, bypassing redis-py's own slot check,
    and return the server's error text ("" if it succeeded).

    redis-py refuses a multi-slot command before sending it; this shows what the
    *server* says, which is what every other client (and redis-cli) gets.
    """
    key = command[1] if command[0].upper() not in ("XREAD", "XREADGROUP") else command[command.index("STREAMS") + 1]
    node = rc.get_node_from_key(key)
    kwargs = rc.get_connection_kwargs()
    c = redis.Redis(host=node.host, port=node.port, decode_responses=True, protocol=2,
                    password=kwargs.get("password"), username=kwargs.get("username"))
    try:
        c.execute_command(*command)
        return ""
    except redis.exceptions.ClusterCrossSlotError as exc:
        return f"CROSSSLOT {exc}"  # redis-py keeps the error code as the exception's class
    except redis.ResponseError as exc:
        return str(exc)
    finally:
        c.close()


def shard_outage(rc, pc: PrivateCluster, base: str, partitions: int, shard: int = 0,
                 wait: bool = True, timeout: float = 1.5):
    """Freeze one shard and try one ``XADD`` on every partition, then thaw it and try again.

    Returns a pandas DataFrame: partition, key, shard, ``during`` ("ok" or "no
    answer" within ``timeout`` s), ``others_see`` (how the other primaries list
    the frozen node in ``CLUSTER NODES`` once they gave up on it: ``fail``) and
    ``after``. With ``wait``, waits for the others to mark it failed before
    trying, and for the cluster to be whole again afterwards.
    """
    import pandas as pd

    from .keys import partition_key

    shards = rc.shards()
    keys = [partition_key(base, p) for p in range(partitions)]
    where = {k: shards.index(rc.shard_of(k)) for k in keys}

    def try_all() -> dict[str, str]:
        result = {}
        for k in keys:
            node = rc.get_node_from_key(k)
            c = redis.Redis(host=node.host, port=node.port, socket_timeout=timeout,
                            socket_connect_timeout=timeout, decode_responses=True, protocol=2)
            try:
                c.xadd(k, {"probe": "1"})
                result[k] = "ok"
            except (redis.ConnectionError, redis.TimeoutError):
                result[k] = "no answer"
            except redis.ResponseError as exc:
                result[k] = str(exc).split()[0]
            finally:
                c.close()
        return result

    frozen = pc.nodes[shard]
    witness = pc.nodes[(shard + 1) % len(pc.nodes)].index
    pc.freeze(shard)
    try:
        views = ["?"]  # how the witness sees the frozen node: the last look is reported

        def marked_failed() -> bool:
            views.append(dict(pc.node_view(witness)).get(f"127.0.0.1:{frozen.port}", "?"))
            return "fail" in views[-1] and "fail?" not in views[-1]  # "fail?" is only suspected

        if wait:
            wait_until(marked_failed, 10 * pc.node_timeout_ms / 1000, interval=0.1)
        seen = views[-1]
        during = try_all()
    finally:
        pc.thaw(shard)
    if wait:
        pc.wait_healthy(10 * pc.node_timeout_ms / 1000)
    after = try_all()
    state = pc.node_state(witness)
    return pd.DataFrame([{"partition": p, "key": k, "shard": where[k], "during": during[k],
                          "others_see": seen if where[k] == shard else "",
                          "cluster_state_elsewhere": state, "after": after[k]}
                         for p, k in enumerate(keys)])


def pubsub_traffic(rc, channel: str, n: int = 100) -> "object":
    """``PUBLISH`` and ``SPUBLISH`` ``n`` messages each on ``channel`` with one subscriber of each
    kind; returns a pandas DataFrame: messages received, and messages the nodes sent each other
    over the cluster bus for them (``CLUSTER INFO`` ``cluster_stats_messages_publish_sent`` and
    ``..._publishshard_sent``, summed over every primary).

    Classic Pub/Sub on a cluster is broadcast: every node forwards every message to
    every other node, whichever node the subscriber is on. Sharded Pub/Sub (Redis 7.0+)
    keeps a channel on the shard that serves its slot (and that shard's replicas).
    """
    import pandas as pd

    def bus() -> dict[str, int]:
        totals = {"publish": 0, "publishshard": 0}
        for node in rc.get_primaries():
            info = _cluster_info(node.redis_connection)
            for kind in totals:
                totals[kind] += int(info.get(f"cluster_stats_messages_{kind}_sent", 0))
        return totals

    rows = []
    for kind in ("PUBLISH", "SPUBLISH"):
        listener = rc.new_client()
        ps = listener.pubsub()
        if kind == "PUBLISH":
            ps.subscribe(channel)
        else:
            ps.ssubscribe(channel)
        next_message = partial(ps.get_sharded_message if kind == "SPUBLISH" else ps.get_message, timeout=0.1)
        # Wait for the subscription's confirmation: after it, nothing published is missed.
        # next_message() itself waits up to 0.1 s, so no pause between looks.
        wait_until(lambda: (msg := next_message()) is not None and msg["type"] in ("subscribe", "ssubscribe"),
                   15, interval=0)
        before = bus()
        for i in range(n):
            (rc.publish if kind == "PUBLISH" else rc.spublish)(channel, str(i))
        received = 0
        deadline = time.monotonic() + 15
        while received < n and time.monotonic() < deadline:
            msg = next_message()
            if msg and msg["type"] in ("message", "smessage"):
                received += 1
        after = bus()
        ps.close()
        listener.close()
        key = "publish" if kind == "PUBLISH" else "publishshard"
        rows.append({"command": kind, "sent": n, "received": received,
                     "cluster-bus messages for them": after[key] - before[key]})
    return pd.DataFrame(rows).set_index("command")


# --- recorded outputs, for backends without a cluster ---------------------------------------------

RECORDED = os.path.join(os.path.dirname(__file__), "data", "lesson09-recorded.json")


def recorded(name: str) -> None:
    """Print what cell ``name`` of lesson 09 showed on a real cluster, labelled as a recording.

    Written by ``tools/record_lesson09.py`` (which runs the lesson on a private
    cluster); shown where there is no cluster, such as fakeredis.
    """
    import json

    try:
        with open(RECORDED) as fh:
            data = json.load(fh)
    except OSError:
        print(f"(no recording of {name!r} here: run tools/record_lesson09.py on a machine with redis-server)")
        return
    cell = data["cells"].get(name)
    if cell is None:
        print(f"(no recording of {name!r}: re-run tools/record_lesson09.py)")
        return
    print(f"RECORDED on a real {data['server']} cluster of {data['shards']} primaries on {data['date']} "
          "(fakeredis has no cluster; this is that run's output, not a live one):\n")
    print(cell)


def doctor_line(url: str | None = None) -> tuple[bool, str, str]:
    """What ``streamlab doctor`` says about lesson 09: (fine?, what connect(cluster=True) would do, fix).

    It starts nothing: it reads ``REDIS_URL`` (or ``url``), the server binary's version,
    and this process's private cluster if one is running.
    """
    import subprocess

    if _private is not None and _private.running:
        nodes = ", ".join(f"127.0.0.1:{n.port}" for n in _private.nodes)
        return True, f"a private cluster is running in this process: {nodes}", ""
    target = url or os.environ.get("REDIS_URL", "").strip()
    if target:
        try:
            if is_cluster_url(target):
                return True, "the Redis URL is a cluster node: connect(cluster=True) uses that cluster", ""
        except Exception:  # noqa: BLE001 - the backend check says why in full
            return False, "the Redis URL did not answer, so connect(cluster=True) would fail", \
                "fix or unset REDIS_URL (see the backend line below)"
    binary = _server.find_server_binary()
    if not binary:
        return True, ("no cluster: no redis-server/valkey-server to start one, so lesson 09 shows "
                      "slot arithmetic and a recorded run"), _server.INSTALL_HINT
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    version = next((part.split("=", 1)[1] for part in out.split() if part.startswith("v=")), "0")
    if tuple(int(x) for x in version.split(".")[:1] if x.isdigit()) < (7,):
        return False, (f"{binary} is version {version}: a private cluster needs 7.0 or newer "
                       "(--cluster-port, sharded Pub/Sub)"), "install Redis 7.0+ or Valkey 7.2+"
    return True, (f"connect(cluster=True) would start a private 3-primary cluster from {binary} "
                  f"{version} (loopback, nothing on disk)"), ""
