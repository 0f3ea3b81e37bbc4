"""What survives a crash: persistence, replicas and failover, measured (lesson 08).

The engine of lesson 08. It starts the private servers it needs
(``server.PrivateServer`` with RDB/AOF options, a replica), runs a producer and a
consumer group against them on threads of its own, crashes the server with SIGKILL,
restarts it from its files or promotes the replica, and returns what it counted as
pandas frames. Every server, thread and temporary directory it starts is gone when
the function returns, whatever happened.

No drawing here (``streamlab.ui.figures.durability`` draws) and no widgets: this module never
imports matplotlib, ipywidgets or IPython.

The ledger is the producer's own record: a write counts as **acknowledged** when
``XADD`` returned its ID (and, with ``wait=``, when ``WAIT``/``WAITAOF`` then
reported enough copies). After the crash, each acknowledged ID is looked up on the
server that is left; what is not there was lost although the client was told it
was stored.

On fakeredis there is no process to kill: ``recorded()`` returns the figures of a
real run, written by ``tools/record_durability.py`` into
``streamlab/data/durability-recorded.json``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources

import pandas as pd
import redis

from . import ids as stream_ids
from . import server as _server
from .errors import LearnerError
from .waiting import wait_until

#: The lesson's keys (lesson 08's prefix); the experiments use private servers anyway.
STREAM = "lesson08:orders"
GROUP = "billing"

#: The four ways to run a server that lesson 08 crashes, and the options each means.
SETTINGS: dict[str, dict] = {
    "none": dict(label="no persistence", options=dict()),
    # A snapshot every second when anything changed: far more often than Redis's default
    # (3600 1 300 100 60 10000), so that a run of a second or two has snapshots to lose writes after.
    "rdb": dict(label="RDB, save 1 1", options=dict(save="1 1")),
    "aof-everysec": dict(label="AOF, appendfsync everysec",
                         options=dict(appendonly=True, appendfsync="everysec")),
    "aof-always": dict(label="AOF, appendfsync always",
                       options=dict(appendonly=True, appendfsync="always")),
}

RECORDED_FILE = "durability-recorded.json"


class DurabilityError(LearnerError):
    """An experiment could not run; the message says why and what to do (shown without a traceback)."""


def can_run_live(r=None) -> bool:
    """True when experiments can start servers of their own: a server binary is on PATH.

    Given the lesson's client ``r``, also False on fakeredis, where the lesson shows the
    recorded run instead (so every learner on fakeredis sees the same figures).
    """
    if r is not None and getattr(getattr(r, "backend", None), "is_fake", False):
        return False
    return _server.find_server_binary() is not None


def _client(port: int) -> redis.Redis:
    """A client for one private server: no retries (a retried XADD after a crash could be a
    second copy of a write whose reply was lost), short timeouts, decoded replies, RESP2."""
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, protocol=2,
                       socket_timeout=5, socket_connect_timeout=2,
                       retry_on_error=[], retry=None)


def _loaded(c: redis.Redis, timeout: float = 30) -> redis.Redis:
    """Wait until a restarted server has loaded its RDB/AOF (it answers LOADING until then)."""
    if not wait_until(lambda: _answers(c), timeout):
        raise DurabilityError(f"The restarted server was still loading its files after "
                              f"{timeout:.0f} s; the machine may be overloaded: try again.")
    return c


def _answers(c: redis.Redis) -> bool:
    """``PING``: False while the server is still loading its files (``LOADING``)."""
    try:
        c.ping()
        return True
    except redis.BusyLoadingError:
        return False


def _start(**options) -> _server.PrivateServer:
    if not _server.find_server_binary():
        raise DurabilityError("These experiments start their own redis-server and none is on "
                              "PATH. " + _server.INSTALL_HINT)
    return _server.PrivateServer(**options).start()


# --------------------------------------------------------------------------- state

def group_state(c: redis.Redis, stream: str = STREAM, group: str = GROUP) -> dict:
    """The stream and its group as the server sees them: ``XLEN``, ``XINFO GROUPS``, ``XPENDING``.

    A missing stream or group gives ``exists=False`` and zeros, not an error: after a crash
    with no persistence that is the answer.
    """
    state = dict(exists=False, xlen=0, last_delivered_id=None, entries_read=None,
                 pending=0, lag=None, pending_ids=[])
    try:
        state["xlen"] = c.xlen(stream)
        groups = {g["name"]: g for g in c.xinfo_groups(stream)}
    except redis.ResponseError:
        return state
    g = groups.get(group)
    if g is None:
        return state
    pending = c.xpending_range(stream, group, "-", "+", 100_000)
    state.update(exists=True, last_delivered_id=g["last-delivered-id"],
                 entries_read=g.get("entries-read"), pending=g["pending"], lag=g.get("lag"),
                 pending_ids=[p["message_id"] for p in pending])
    return state


def present_ids(c: redis.Redis, stream: str = STREAM) -> set[str]:
    """Every ID in the stream (``XRANGE`` in pages of 1000)."""
    found: set[str] = set()
    start = "-"
    while True:
        page = c.xrange(stream, start, "+", count=1000)
        found.update(entry_id for entry_id, _ in page)
        if len(page) < 1000:
            return found
        start = stream_ids.following(page[-1][0])


# --------------------------------------------------------------------------- workers

@dataclass
class Ledger:
    """What the producer and the consumer were told, in order (one row per write)."""

    writes: list[dict] = field(default_factory=list)   # n, id, t, seconds, replicas
    acked: list[str] = field(default_factory=list)     # IDs the consumer XACKed (reply 1)
    delivered: list[str] = field(default_factory=list)  # IDs XREADGROUP handed out
    producer_error: str = ""
    consumer_error: str = ""

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.writes, columns=["n", "id", "t", "seconds", "replicas"])


class _Producer(threading.Thread):
    """XADD ``n=0,1,2,...`` at a steady rate; with ``wait`` also WAIT (or WAITAOF) each write."""

    def __init__(self, port: int, ledger: Ledger, rate: float, stop: threading.Event,
                 wait: str | None = None, wait_timeout_ms: int = 100, t0: float = 0.0):
        super().__init__(name="streamlab-durability-producer", daemon=True)
        self.c = _client(port)
        self.ledger, self.rate, self.stop_event = ledger, rate, stop
        self.wait, self.wait_timeout_ms, self.t0 = wait, wait_timeout_ms, t0 or time.monotonic()

    def run(self) -> None:
        n = 0
        next_at = time.monotonic()
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                entry_id = self.c.xadd(STREAM, {"n": n})
                replicas = None
                if self.wait == "replica":
                    replicas = int(self.c.execute_command("WAIT", 1, self.wait_timeout_ms))
                elif self.wait == "aof":
                    # WAITAOF numlocal numreplicas timeout -> [local fsynced, replicas fsynced]
                    local, copies = self.c.execute_command("WAITAOF", 1, 1, self.wait_timeout_ms)
                    replicas = int(copies) if int(local) >= 1 else 0
                done = time.monotonic()
                self.ledger.writes.append(dict(n=n, id=entry_id, t=round(done - self.t0, 4),
                                               seconds=done - started, replicas=replicas))
                n += 1
                next_at += 1 / self.rate
                self.stop_event.wait(max(0.0, next_at - time.monotonic()))
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self.ledger.producer_error = type(exc).__name__
        finally:
            self.c.close()


class _Consumer(threading.Thread):
    """XREADGROUP a few entries, "work" on them briefly, XACK them: a group that keeps up."""

    def __init__(self, port: int, ledger: Ledger, stop: threading.Event, work_ms: float = 20):
        super().__init__(name="streamlab-durability-consumer", daemon=True)
        self.c = _client(port)
        self.ledger, self.stop_event, self.work = ledger, stop, work_ms / 1000

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                reply = self.c.xreadgroup(GROUP, "c1", {STREAM: ">"}, count=20, block=50)
                ids = [entry_id for _, entries in reply or [] for entry_id, _ in entries]
                if not ids:
                    continue
                self.ledger.delivered.extend(ids)
                # Work before the ack: at the crash some entries are delivered but not acked.
                self.stop_event.wait(self.work)
                if self.c.xack(STREAM, GROUP, *ids) == len(ids):
                    self.ledger.acked.extend(ids)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self.ledger.consumer_error = type(exc).__name__
        finally:
            self.c.close()


def _stop_threads(stop: threading.Event, *threads: threading.Thread) -> None:
    stop.set()
    for t in threads:
        t.join(10)


def xadd_throughput(c: redis.Redis, seconds: float = 0.4, stream: str = STREAM + ":bench") -> float:
    """XADDs per second from one client, one at a time (no pipelining): each waits for its
    reply, so each pays whatever the server does before replying (an fsync with ``always``)."""
    n = 0
    end = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < end:
        c.xadd(stream, {"n": n})
        n += 1
    rate = n / (time.monotonic() - started)
    c.delete(stream)
    return rate


# --------------------------------------------------------------------------- 1. crash

def _redelivered(acked: list[str], present: set[str], after: dict) -> list[str]:
    """IDs the consumer acknowledged that the group, as it is now, will deliver again."""
    if not after["exists"]:
        return []
    pending = set(after["pending_ids"])
    last = stream_ids.parse(after["last_delivered_id"])
    return [i for i in acked if i in present and (i in pending or stream_ids.parse(i) > last)]


@dataclass
class CrashResult:
    """One crash test: the ledger, the group before and after, and the measured cost."""

    setting: str
    ledger: Ledger
    before: dict
    after: dict
    present: set[str]
    xadd_per_s: float
    files: dict[str, int]
    rate: float
    seconds: float

    @property
    def acknowledged(self) -> list[str]:
        return [w["id"] for w in self.ledger.writes]

    @property
    def lost(self) -> list[str]:
        """Acknowledged writes that are not on the restarted server."""
        return [i for i in self.acknowledged if i not in self.present]

    @property
    def redelivered(self) -> list[str]:
        """Entries the consumer had acknowledged that the restarted group will hand out again:
        pending again, or after the group's position (read again as new)."""
        return _redelivered(self.ledger.acked, self.present, self.after)

    def _n_of(self, entry_id: str | None) -> int | None:
        """The write number ``n`` of the newest write at or before ``entry_id``."""
        if entry_id is None:
            return None
        last = stream_ids.parse(entry_id)
        done = [w["n"] for w in self.ledger.writes if stream_ids.parse(w["id"]) <= last]
        return max(done) if done else -1

    def position(self, state: dict) -> int | None:
        """The group's position as a write number: the ``n`` of its ``last-delivered-id``."""
        return self._n_of(state["last_delivered_id"]) if state["exists"] else None

    @property
    def position_at_kill(self) -> int | None:
        """The group's position when the server died, as the consumer knew it: the newest
        entry XREADGROUP had handed it (the consumer stops at the first failed call)."""
        return self._n_of(max(self.ledger.delivered, key=stream_ids.parse)) if self.ledger.delivered else None

    @property
    def pending_at_kill(self) -> int:
        """Entries delivered to the consumer whose XACK it had not seen succeed."""
        return len(set(self.ledger.delivered) - set(self.ledger.acked))

    def row(self) -> dict:
        acked_n = len(self.acknowledged)
        lost = len(self.lost)
        return {
            "setting": SETTINGS[self.setting]["label"],
            "acknowledged": acked_n,
            "present after restart": len(self.present),
            "lost": lost,
            "lost, seconds of writes": round(lost / self.rate, 2),
            # XADDs the server ran whose reply the kill cut off: stored, yet the client
            # was never told so (a client that retries them adds a second copy).
            "present, never acknowledged": len(self.present - set(self.acknowledged)),
            "acked by the group": len(self.ledger.acked),
            "group exists after": self.after["exists"],
            "group position at the kill (write n)": self.position_at_kill,
            "group position after (write n)": self.position(self.after),
            "pending at the kill": self.pending_at_kill,
            "pending after": self.after["pending"],
            "acked work handed out again": len(self.redelivered),
            "XADD/s": round(self.xadd_per_s),
        }


def crash_test(setting: str, seconds: float = 1.5, rate: float = 300,
               measure_throughput: bool = True) -> CrashResult:
    """Write at ``rate`` for ``seconds`` with a group consuming, SIGKILL the server, restart it.

    ``setting`` is a key of ``SETTINGS``. The producer's ledger is compared with what the
    restarted server holds (``XRANGE``), and the group with itself (``XINFO GROUPS``,
    ``XPENDING``) just before the kill and after the restart. The server, its files and
    the threads are gone when this returns.
    """
    if setting not in SETTINGS:
        raise DurabilityError(f"Unknown setting {setting!r}: choose one of {', '.join(SETTINGS)}.")
    srv = _start(**SETTINGS[setting]["options"])
    stop = threading.Event()
    ledger = Ledger()
    threads: list[threading.Thread] = []
    try:
        c = _client(srv.port)
        throughput = xadd_throughput(c) if measure_throughput else float("nan")
        c.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
        threads = [_Producer(srv.port, ledger, rate, stop), _Consumer(srv.port, ledger, stop)]
        for t in threads:
            t.start()
        stop.wait(seconds)
        before = group_state(c, STREAM, GROUP)
        c.close()
        srv.crash()  # SIGKILL, while the producer and the consumer are still at it
        _stop_threads(stop, *threads)
        files = srv.files()
        srv.restart()
        c = _loaded(_client(srv.port))
        present = present_ids(c)
        after = group_state(c, STREAM, GROUP)
        c.close()
        return CrashResult(setting, ledger, before, after, present, throughput, files, rate, seconds)
    finally:
        _stop_threads(stop, *threads)
        srv.stop()


def crash_table(results: list[CrashResult]) -> pd.DataFrame:
    """One row per crash test: what was acknowledged, what came back, what went backwards."""
    table = pd.DataFrame([res.row() for res in results]).set_index("setting")
    for col in ("group position at the kill (write n)", "group position after (write n)"):
        table[col] = table[col].astype("Int64")  # None (no group) stays <NA>, not NaN
    return table


def crash_all(settings=tuple(SETTINGS), seconds: float = 1.5, rate: float = 300) -> list[CrashResult]:
    """``crash_test`` for each setting, one after the other (one server at a time)."""
    return [crash_test(s, seconds=seconds, rate=rate) for s in settings]


# --------------------------------------------------------------------------- 2. failover

@dataclass
class FailoverResult:
    """One failover test: the ledger, when the link was cut, what the new primary holds."""

    wait: str | None
    ledger: Ledger
    cut_at: float
    before: dict
    after: dict
    present: set[str]
    rate: float
    servers: list = field(default_factory=list)  # only with keep_servers=True

    def close(self) -> None:
        """Stop the servers a ``keep_servers=True`` run left running."""
        for srv in self.servers:
            srv.stop()
        self.servers = []

    @property
    def acknowledged(self) -> list[str]:
        """Writes the client may count as stored: XADD answered, and with ``wait`` the
        WAIT/WAITAOF reply said a replica had it."""
        if self.wait is None:
            return [w["id"] for w in self.ledger.writes]
        return [w["id"] for w in self.ledger.writes if (w["replicas"] or 0) >= 1]

    @property
    def unconfirmed(self) -> list[str]:
        """Writes XADD answered but WAIT reported on no replica: the client knows these are at risk."""
        if self.wait is None:
            return []
        return [w["id"] for w in self.ledger.writes if (w["replicas"] or 0) < 1]

    @property
    def missing(self) -> list[str]:
        """Acknowledged writes the promoted replica does not have."""
        return [i for i in self.acknowledged if i not in self.present]

    def latency_ms(self) -> float:
        """Median time of one write (XADD, plus WAIT if used) while the link was up, in ms."""
        df = self.ledger.frame()
        up = df[df["t"] < self.cut_at]
        return round(float(up["seconds"].median() * 1000), 3) if len(up) else float("nan")

    def row(self) -> dict:
        return {
            "writes": {None: "XADD only", "replica": "XADD + WAIT 1",
                       "aof": "XADD + WAITAOF 1 1"}[self.wait],
            "XADD answered": len(self.ledger.writes),
            "acknowledged": len(self.acknowledged),
            "acknowledged, missing on the new primary": len(self.missing),
            "known to be at risk (no replica confirmed)": len(self.unconfirmed),
            "acked by the group": len(self.ledger.acked),
            "acked work handed out again": len(_redelivered(self.ledger.acked, self.present,
                                                            self.after)),
            "pending on the old primary, before the kill": self.before["pending"],
            "pending on the new primary": self.after["pending"],
            "ms per write, link up (median)": self.latency_ms(),
        }


REPLICATION_USER = "replicator"


def _wait_for_link(replica: redis.Redis, timeout: float = 15) -> None:
    """Poll ``INFO replication`` until the replica's link is up and the initial sync is done."""
    if not wait_until(lambda: _linked(replica.info("replication")), timeout, interval=0.05):
        raise DurabilityError("The replica did not finish its first sync with the primary within "
                              f"{timeout:.0f} s; the machine may be overloaded: try again.")


def _linked(replication: dict) -> bool:
    """From ``INFO replication``: the link to the primary is up and the first sync is over."""
    return replication.get("master_link_status") == "up" and not replication.get("master_sync_in_progress")


def has_waitaof(c: redis.Redis) -> bool:
    """True if the server knows ``WAITAOF`` (Redis 7.2+, Valkey 7.2+).

    Asks with ``WAITAOF 0 0 1``: zero copies wanted, so a server that has it answers at
    once; one that has not answers "unknown command".
    """
    try:
        c.execute_command("WAITAOF", 0, 0, 1)
    except redis.ResponseError:
        return False
    return True


_experiment_server: dict | None = None


def experiment_server() -> dict:
    """What the experiments run on: ``name``, ``version`` and ``waitaof`` (has ``WAITAOF``),
    asked of a private server started for the question (once per process)."""
    global _experiment_server
    if _experiment_server is None:
        with _start() as srv:
            c = _client(srv.port)
            info = c.info("server")
            waitaof = has_waitaof(c)
            c.close()
        name = "Valkey" if "valkey_version" in info else "Redis"
        _experiment_server = dict(name=name, waitaof=waitaof,
                                  version=info.get("valkey_version") or info["redis_version"])
    return dict(_experiment_server)


def failover_test(wait: str | None = None, seconds: float = 1.0, cut_seconds: float = 0.6,
                  rate: float = 200, wait_timeout_ms: int = 100,
                  keep_servers: bool = False) -> FailoverResult:
    """A primary and a replica; writes at ``rate``; the link breaks; the primary dies; the
    replica is promoted (``REPLICAOF NO ONE``). Returns the ledger against the new primary.

    ``wait=None``: plain XADD. ``wait="replica"``: ``WAIT 1 wait_timeout_ms`` after each
    XADD. ``wait="aof"``: ``WAITAOF 1 1 wait_timeout_ms`` (Redis/Valkey 7.2+; both servers
    then run with ``appendonly yes`` and ``appendfsync always``).

    How the link breaks: the primary stops accepting the replica's login (``ACL SETUSER
    replicator off``) and drops its connection (``CLIENT KILL TYPE replica``), so the replica
    cannot catch up: a network partition as the primary sees it. It carries on taking writes.

    ``keep_servers=True`` (for tests that check the ledger against the new primary themselves)
    leaves both servers running in ``result.servers`` (``result.new_primary_port`` is the
    promoted replica's port); ``result.close()`` stops them.
    """
    if wait not in (None, "replica", "aof"):
        raise DurabilityError(f"wait must be None, 'replica' or 'aof', not {wait!r}.")
    password = uuid.uuid4().hex
    # WAITAOF under everysec waits for the once-a-second fsync (about 1 s a write, measured on
    # Valkey 8.1); with always on both servers it returns once both have fsynced.
    aof = dict(appendonly=True, appendfsync="always") if wait == "aof" else {}
    # Start the replica's first sync at once (the default waits 5 s for more replicas).
    primary = _start(extra_args=["--repl-diskless-sync-delay", "0"], **aof)
    replica = None
    stop = threading.Event()
    ledger = Ledger()
    threads: list[threading.Thread] = []
    handed_over = False  # keep_servers: the caller stops them
    try:
        p = _client(primary.port)
        if wait == "aof" and not has_waitaof(p):
            raise DurabilityError("This server has no WAITAOF (it needs Redis or Valkey 7.2 or "
                                  "newer); use wait='replica' for WAIT.")
        p.execute_command("ACL", "SETUSER", REPLICATION_USER, "on", ">" + password,
                          "+@all", "~*", "&*")
        replica = _start(replicaof=("127.0.0.1", primary.port),
                         extra_args=["--masteruser", REPLICATION_USER, "--masterauth", password],
                         **aof)
        rep = _client(replica.port)
        _wait_for_link(rep)
        # One write both must agree on before the clock starts: the replica acknowledges.
        p.set("lesson08:handshake", "1")
        if int(p.execute_command("WAIT", 1, 5000)) < 1:
            raise DurabilityError("The replica did not acknowledge a write within 5 s; the "
                                  "machine may be overloaded: try again.")
        p.delete("lesson08:handshake")
        p.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
        t0 = time.monotonic()
        threads = [_Producer(primary.port, ledger, rate, stop, wait=wait,
                             wait_timeout_ms=wait_timeout_ms, t0=t0),
                   _Consumer(primary.port, ledger, stop)]
        for t in threads:
            t.start()
        stop.wait(seconds)
        # The partition: the replica may not log in again, and its connection is closed.
        p.execute_command("ACL", "SETUSER", REPLICATION_USER, "off")
        p.execute_command("CLIENT", "KILL", "TYPE", "replica")
        cut_at = time.monotonic() - t0
        stop.wait(cut_seconds)
        before = group_state(p)
        p.close()
        primary.crash()
        _stop_threads(stop, *threads)
        rep.execute_command("REPLICAOF", "NO", "ONE")  # the failover
        present = present_ids(rep)
        after = group_state(rep)
        rep.close()
        result = FailoverResult(wait, ledger, round(cut_at, 4), before, after, present, rate)
        if keep_servers:
            result.servers = [replica, primary]
            result.new_primary_port = replica.port
            handed_over = True
        return result
    finally:
        _stop_threads(stop, *threads)
        if not handed_over:
            if replica is not None:
                replica.stop()
            primary.stop()


def failover_table(results: list[FailoverResult]) -> pd.DataFrame:
    return pd.DataFrame([res.row() for res in results]).set_index("writes")


# --------------------------------------------------------------------------- recorded run

def recorded() -> dict:
    """The figures of a real run (``tools/record_durability.py``), for fakeredis learners.

    Returns ``server`` (what ran it), ``recorded_at``, ``crash`` and ``failover`` tables as
    DataFrames, and ``failover_writes`` (per write: t, missing) for the plot.
    """
    raw = json.loads(resources.files("streamlab").joinpath("data", RECORDED_FILE).read_text())
    out = dict(raw)
    out["crash"] = pd.DataFrame(raw["crash"]).set_index("setting")
    for col in ("group position at the kill (write n)", "group position after (write n)"):
        out["crash"][col] = out["crash"][col].astype("Int64")  # None stays <NA>, not NaN
    out["failover"] = pd.DataFrame(raw["failover"]).set_index("writes")
    out["failover_writes"] = {k: pd.DataFrame(v) for k, v in raw["failover_writes"].items()}
    return out


def failover_writes(res: FailoverResult) -> pd.DataFrame:
    """Per write: when it was sent and answered, whether it counts as acknowledged, whether it
    is missing on the new primary, and when the link was cut (seconds since the start)."""
    df = res.ledger.frame()[["n", "id", "t", "seconds", "replicas"]].copy()
    acked = set(res.acknowledged)
    df["acknowledged"] = df["id"].isin(acked)
    df["missing"] = ~df["id"].isin(res.present)
    # When the XADD was sent. One sent after the cut's CLIENT KILL had returned ran after it
    # (a server runs commands one at a time), so it cannot have reached the replica.
    df["sent"] = (df["t"] - df["seconds"]).round(4)
    df["cut_at"] = res.cut_at
    return df[["n", "t", "sent", "acknowledged", "missing", "cut_at"]]


# --------------------------------------------------------------------------- 3. operations

#: Alert thresholds the lesson draws (scaled to its 2-second scenarios; see the lesson for
#: production values).
THRESHOLDS = {
    "lag": 100,                     # entries not yet delivered to the group
    "oldest pending idle ms": 1000,  # the longest an entry has waited for its XACK
    "dead letters": 0,              # growth of the dead-letter stream: any is worth a look
    "XLEN / trim limit": 0.8,       # past this, MAXLEN starts removing entries soon
    "max consumer inactive ms": 1000,  # a consumer that has not read for this long
}


def health(c: redis.Redis, stream: str, group: str, maxlen: int | None = None,
           dead_letters: str | None = None) -> dict:
    """One sample of what to monitor on a stream and its group.

    ``lag`` is counted (entries after the group's ``last-delivered-id``, by ``XRANGE``) so it
    is the same on every server; ``oldest pending idle ms`` is ``XPENDING``'s idle time of
    the first pending entry; ``max consumer inactive ms`` is ``XINFO CONSUMERS``'s
    ``inactive`` (Redis/Valkey 7.2+, fakeredis) or ``idle`` (7.0: since the consumer's last
    read attempt).
    """
    groups = {g["name"]: g for g in c.xinfo_groups(stream)}
    g = groups[group]
    xlen = c.xlen(stream)
    lag = len(c.xrange(stream, stream_ids.following(g["last-delivered-id"]), "+"))
    first_pending = c.xpending_range(stream, group, "-", "+", 1)
    consumers = c.xinfo_consumers(stream, group)
    inactive = {x["name"]: x.get("inactive", x["idle"]) for x in consumers}
    holding = {x["name"]: x["pending"] for x in consumers}
    if inactive:
        worst = max(inactive, key=inactive.get)
    return {
        "lag": lag,
        "pending": g["pending"],
        "oldest pending idle ms": first_pending[0]["time_since_delivered"] if first_pending else 0,
        "dead letters": c.xlen(dead_letters) if dead_letters else 0,
        "XLEN": xlen,
        "XLEN / trim limit": round(xlen / maxlen, 3) if maxlen else 0.0,
        "max consumer inactive ms": inactive[worst] if inactive else 0,
        "least active consumer": worst if inactive else "",
        # What the least active consumer holds (XINFO CONSUMERS pending): a quiet consumer with
        # nothing pending is idle, not dead.
        "least active consumer pending": holding[worst] if inactive else 0,
        "consumers": len(consumers),
    }


SCENARIOS = {
    "A": "30 orders a tick; two consumers each read and ack 5 a tick",
    "B": "10 orders a tick; one consumer reads them all and acks none",
    "C": "10 orders a tick; three consumers; c3 reads 3 in the first tick, then nothing",
}


def scenario(c: redis.Redis, name: str, prefix: str = "lesson08:ops:", ticks: int = 12,
             tick: float = 0.15, maxlen: int = 400) -> pd.DataFrame:
    """Play one scripted situation (``SCENARIOS``) tick by tick; one ``health`` sample a tick.

    Deterministic in counts (no threads, no races); the idle times are real milliseconds.
    """
    if name not in SCENARIOS:
        raise DurabilityError(f"Unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}.")
    stream, dlq = f"{prefix}{name}", f"{prefix}{name}:dead"
    c.delete(stream, dlq)
    c.xgroup_create(stream, "workers", id="$", mkstream=True)
    consumers = {"A": ["c1", "c2"], "B": ["c1"], "C": ["c3", "c1", "c2"]}[name]
    adds = {"A": 30, "B": 10, "C": 10}[name]
    samples = []
    for k in range(ticks):
        pipe = c.pipeline(transaction=False)
        for _ in range(adds):
            pipe.xadd(stream, {"order": "x"}, maxlen=maxlen, approximate=False)
        pipe.execute()
        for who in consumers:
            if name == "C" and who == "c3":
                if k == 0:  # c3 reads three orders, then dies before acking them
                    c.xreadgroup("workers", who, {stream: ">"}, count=3)
                continue
            count = {"A": 5, "B": 1000, "C": 6}[name]
            got = c.xreadgroup("workers", who, {stream: ">"}, count=count)
            ids = [i for _, entries in got or [] for i, _ in entries]
            if ids and name != "B":  # B's consumer never acks
                c.xack(stream, "workers", *ids)
        sample = health(c, stream, "workers", maxlen=maxlen, dead_letters=dlq)
        sample["tick"] = k
        samples.append(sample)
        time.sleep(tick)
    frame = pd.DataFrame(samples).set_index("tick")
    frame.attrs["scenario"] = name
    return frame


def diagnose(samples: pd.DataFrame, thresholds: dict = THRESHOLDS) -> str:
    """The rule of thumb, applied to a run of ``health`` samples (oldest first).

    1. a consumer inactive past its threshold while it holds pending entries: it is dead,
       claim its entries (``XAUTOCLAIM``/``XCLAIM``) and retire it (``XGROUP DELCONSUMER``);
    2. lag growing while consumers are active: they are too few or too slow, add consumers;
    3. pending growing while lag stays small: consumers read but do not ``XACK``;
    otherwise healthy.
    """
    first, last = samples.iloc[0], samples.iloc[-1]
    # The consumer itself must hold entries; samples without that column (hand-made ones)
    # fall back to the group's pending count.
    holds = last.get("least active consumer pending", last["pending"])
    if (last["max consumer inactive ms"] > thresholds["max consumer inactive ms"]
            and holds > 0):
        return f"dead consumer {last['least active consumer']}: claim its pending, then XGROUP DELCONSUMER"
    if last["lag"] > first["lag"] and last["lag"] > thresholds["lag"] / 2:
        return "add consumers"
    if last["pending"] > first["pending"] and last["lag"] <= thresholds["lag"] / 2:
        return "consumers not acking"
    return "healthy"


def alerts(samples: pd.DataFrame, thresholds: dict = THRESHOLDS) -> list[str]:
    """Which thresholds the last sample is past, as short phrases."""
    last = samples.iloc[-1]
    first = samples.iloc[0]
    out = []
    for metric, limit in thresholds.items():
        value = last[metric]
        if metric == "dead letters":
            if value > first[metric]:
                out.append(f"dead letters grew by {value - first[metric]}")
        elif value > limit:
            out.append(f"{metric} {value} > {limit}")
    return out


def backpressure(c: redis.Redis, stream: str = "lesson08:backpressure", maxlen: int = 100,
                 produced: int = 300, read: int = 50) -> dict:
    """Producers outrunning a group on a capped stream: entries trimmed before anyone read them.

    IDs are explicit (``1-0``, ``2-0``, ...) so the counts are exact: the group reads the first
    ``read``, the producer adds ``produced`` with ``MAXLEN maxlen`` (exact).
    """
    c.delete(stream)
    c.xgroup_create(stream, "workers", id="0", mkstream=True)
    pipe = c.pipeline(transaction=False)
    for n in range(1, read + 1):
        pipe.xadd(stream, {"n": n}, id=f"{n}-0", maxlen=maxlen, approximate=False)
    pipe.execute()
    c.xreadgroup("workers", "c1", {stream: ">"}, count=read)
    pipe = c.pipeline(transaction=False)
    for n in range(read + 1, produced + 1):
        pipe.xadd(stream, {"n": n}, id=f"{n}-0", maxlen=maxlen, approximate=False)
    pipe.execute()
    return {"produced": produced, "read by the group": read, "XLEN": c.xlen(stream),
            "trimmed before the group read them": unread_trimmed(c, stream, "workers")}


def unread_trimmed(c: redis.Redis, stream: str, group: str) -> int:
    """How many entries were trimmed before ``group`` read them, from ``XINFO STREAM``/``GROUPS``:
    entries added to the stream, minus those the group read, minus those still there unread."""
    info = c.xinfo_stream(stream)
    g = {x["name"]: x for x in c.xinfo_groups(stream)}[group]
    unread_present = len(c.xrange(stream, stream_ids.following(g["last-delivered-id"]), "+"))
    added = info.get("entries-added")
    read = g.get("entries-read")
    if added is None or read is None:
        raise DurabilityError("This server has no entries-added/entries-read counters "
                              "(Redis 7.0+ has them).")
    return int(added) - int(read) - unread_present


def room(c: redis.Redis, stream: str, group: str, maxlen: int) -> int:
    """How many more entries a producer may add before ``MAXLEN`` trims entries ``group`` has
    not read yet: the cap minus the entries after the group's position. Producers that check
    it can slow down (backpressure) instead of losing work."""
    g = {x["name"]: x for x in c.xinfo_groups(stream)}[group]
    return maxlen - len(c.xrange(stream, stream_ids.following(g["last-delivered-id"]), "+"))


def consumer_name(role: str = "worker") -> str:
    """A consumer name unique to this live process: role, host, PID and a random part.

    Two processes sharing a name share a pending list: each would "recover" the other's
    in-flight entries. The random part keeps a restarted process (same PID, new container)
    from inheriting the old one's."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def retire(c: redis.Redis, stream: str, group: str, dead: str, heir: str) -> dict:
    """Retire a dead consumer without losing its work: ``XCLAIM`` its pending entries to
    ``heir``, then ``XGROUP DELCONSUMER`` (which would drop them from the PEL had any been left).
    """
    pending = c.xpending_range(stream, group, "-", "+", 100_000, consumername=dead)
    ids = [p["message_id"] for p in pending]
    claimed = c.xclaim(stream, group, heir, 0, ids, justid=True) if ids else []
    dropped = c.xgroup_delconsumer(stream, group, dead)
    return {"claimed": len(claimed), "pending dropped by DELCONSUMER": int(dropped)}
