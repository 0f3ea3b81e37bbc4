"""Partitioned streams: one logical stream as P stream keys spread over a cluster's shards.

A stream is one key, so it lives in one slot on one shard: it cannot grow past
that shard. To scale out, a producer writes to P *partition* streams and routes
each entry by its key (here the ``sensor_id``)::

    partition = crc32(sensor_id) % P          # partition_of(): stable in every process
    XADD <base>:{p<partition>} * sensor_id ... seq ...

Every reading of one sensor goes to the same partition, in the order it was
sent, and each partition has its own consumer group read by one consumer at a
time, so **per-key order is kept** while different partitions are processed in
parallel on different shards.

Key names: the partition number is the key's **hash tag** (``{p3}``), so every
key that belongs to partition 3 (its stream, its ``done`` ledger, its alerts,
its dead letters) is in the same slot, and a ``MULTI``/``EXEC`` or a Lua script
over them is allowed on a cluster. Different partitions have different tags,
so they spread over the shards.

The same functions work on a single server (every key is then on the one
server): ``streamlab produce/consume --partitions P`` run on either.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import redis

from . import programs
from .keys import partition_key, partition_of
from .producer import Schedule, sensor_reading
from .waiting import wait_until
from .workers import Worker

if TYPE_CHECKING:
    from .backend import Client
    from .cluster import ClusterClient

DONE = "done"
ALERTS = "alerts"
DEAD = "dead"


def check_base(base: str) -> str:
    if not isinstance(base, str) or not base.strip():
        raise ValueError(f"the stream name must be a non-empty key such as 'lesson09:sensors', got {base!r}.")
    if "{" in base or "}" in base:
        raise ValueError(f"{base!r} has a brace in it: partition keys add their own hash tag "
                         "({p0}, {p1}, ...), and a tag in the base name would put every partition "
                         "in one slot. Use a name without braces.")
    return base


def partition_keys(base: str, partitions: int, kind: str | None = None) -> list[str]:
    return [partition_key(base, p, kind) for p in range(partitions)]


def sensor_names(sensor: str, keys: int) -> list[str]:
    """``keys`` sensor ids for one producer: ``sensor`` itself, or ``sensor.0`` ... ``sensor.(keys-1)``."""
    if keys < 1:
        raise ValueError(f"--keys must be at least 1, got {keys}.")
    return [sensor] if keys == 1 else [f"{sensor}.{i}" for i in range(keys)]


# --- producing -----------------------------------------------------------------------------

def produce(r: redis.Redis, sensor: str, base: str, partitions: int, keys: int = 1,
            rate: float = 1.0, count: int | None = None, stop=None,
            out: Callable[[str], None] = print, batch: int = 500) -> int:
    """Send readings of ``keys`` sensors, each routed to its partition; returns how many were sent.

    Each reading carries ``seq``: 1, 2, 3 ... per sensor, so a consumer can
    check per-key order. At ``rate`` per second on a schedule; entries that are
    due together go in one pipeline (on a cluster, redis-py sends one pipeline
    per shard). Prints each entry at low rates, one line a second above 20/s.
    """
    check_base(base)
    if rate <= 0:
        raise ValueError(f"--rate must be above 0 messages per second, got {rate}.")
    names = sensor_names(sensor, keys)
    routes = {name: partition_key(base, partition_of(name, partitions)) for name in names}
    seq = Counter()
    stop = stop or threading.Event()
    sent = 0
    schedule = Schedule(rate)
    last_report = time.monotonic()
    chatty = rate <= 20
    while not stop.is_set() and (count is None or sent < count):
        due = max(1, min(schedule.due(), batch, (count - sent) if count is not None else batch))
        pipe = r.pipeline(transaction=False)
        lines = []
        for i in range(sent, sent + due):
            name = names[i % len(names)]
            seq[name] += 1
            fields = sensor_reading(name, seq[name])
            fields.update(seq=str(seq[name]), sent_at=f"{time.time():.6f}")
            pipe.xadd(routes[name], fields)
            lines.append(f"{name}: seq {seq[name]} -> {routes[name]}")
        pipe.execute()
        sent += due
        schedule.done(due)
        if chatty:
            for line in lines:
                out(line)
        elif time.monotonic() - last_report >= 1:
            out(f"{sensor}: sent {sent} entries to {partitions} partitions")
            last_report = time.monotonic()
        stop.wait(max(0.0, schedule.until_next()))
    return sent


# --- consuming -----------------------------------------------------------------------------

def parse_member(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3): this consumer is the 2nd of 3 and owns partitions p with p % 3 == 1."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--member must look like 1/3 (this consumer's number / how many), not {text!r}.") from None
    if not 1 <= i <= n:
        raise ValueError(f"--member {text}: the number must be between 1 and {n}.")
    return i, n


def owned_partitions(partitions: int, member: tuple[int, int]) -> list[int]:
    """The partitions member ``i`` of ``n`` reads: every n-th, starting at i-1.

    One reader per partition is what keeps per-key order: two consumers of one
    partition would process one sensor's readings side by side.
    """
    i, n = member
    return [p for p in range(partitions) if p % n == i - 1]


@dataclass
class PartitionStats:
    processed: Counter = field(default_factory=Counter)   # per partition
    alerts: int = 0
    recovered: int = 0
    dead_lettered: int = 0
    deleted: int = 0
    failed: int = 0
    duplicates: int = 0
    reconnects: int = 0
    key_out_of_order: int = 0
    first: float | None = None
    last: float | None = None

    @property
    def total(self) -> int:
        return sum(self.processed.values())


class _PartitionRun(programs._ConsumerRun):
    """``streamlab consume``'s loop on one partition stream, adding a per-key order check.

    Everything else is the plain consumer's: own pending entries first, the
    once-per-entry alert/ledger script, the delivery limit and dead letters,
    deleted-while-pending entries, bounded blocking, whole-batch stop, reconnect.
    """

    def __init__(self, *args, last_seq: dict, lock: threading.Lock, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_seq, self.lock = last_seq, lock
        self.out_of_order = 0
        self.first: float | None = None
        self.last: float | None = None

    def _processed(self, fields: dict) -> None:
        key = fields.get("sensor_id", "?")
        try:
            seq = int(fields.get("seq", 0) or 0)
        except ValueError:
            seq = 0
        now = time.time()
        self.first = self.first or now
        self.last = now
        with self.lock:  # one sensor lives in one partition, but keep the shared dict consistent
            if key in self.last_seq and seq <= self.last_seq[key]:
                self.out_of_order += 1
            self.last_seq[key] = max(seq, self.last_seq.get(key, 0))


def consume(r: Client | ClusterClient, group: str, consumer: str, base: str, partitions: int,
            member: tuple[int, int] = (1, 1), start_from: str = "0", block_ms: int = 2000,
            count: int = 1, alert_above: float | None = None, ledger: bool = False,
            work_seconds: float = 0.0, idle_exit: float | None = None, stop=None,
            out: Callable[[str], None] = print, max_deliveries: int = programs.MAX_DELIVERIES,
            retry_after: float = programs.RETRY_AFTER, guard_name: bool = False,
            retire_on_exit: bool = False, name_guard_ms: int = programs.NAME_GUARD_MS,
            report_each: bool | None = None) -> PartitionStats:
    """Read this member's partitions, one thread each, until stopped or idle; returns what it did.

    Each thread runs ``streamlab consume``'s loop (``programs.consume``) on one
    partition stream ``base:{pN}``, as ``consumer`` of ``group``: its own
    pending entries first (``XREADGROUP ... 0``), then new ones (``>``). A
    reading above ``alert_above`` gets an alert in ``base:alerts:{pN}``; with
    ``ledger`` each processed entry gets a record in ``base:done:{pN}``; both
    are written with the entry's ``XACK`` by one Lua script that first checks
    the entry is still pending (``programs.effects_and_ack``): one alert per
    reading even after a claim, and a failing write leaves the entry pending.
    The keys share the partition's hash tag, so the script runs on a cluster.
    Past ``max_deliveries`` an entry goes to ``base:dead:{pN}``.

    ``stop``: the first ``set()`` makes every thread finish its batch and
    stop; a second stops after the entry in hand. ``guard_name`` and
    ``retire_on_exit`` apply the plain consumer's name lease and retirement
    per partition. ``report_each`` (default: only for slow, one-at-a-time
    runs) prints a line per entry.
    """
    check_base(base)
    programs.check_consume_options(group, consumer, count, block_ms, work_seconds, idle_exit,
                                   alert_above, max_deliveries, retry_after)
    owned = owned_partitions(partitions, member)
    if not owned:
        raise ValueError(f"--member {member[0]}/{member[1]} owns none of {partitions} partitions: "
                         "use at most as many members as partitions.")
    stop = stop if stop is not None else programs.SignalStop()
    if report_each is None:
        report_each = count == 1 and (work_seconds > 0 or idle_exit is None)
    lock = threading.Lock()
    errors: list[BaseException] = []
    last_seq: dict[str, int] = {}
    runs: dict[int, _PartitionRun] = {}

    def run(p: int) -> None:
        client = r.new_client()
        stream = partition_key(base, p)
        try:
            part = runs[p] = _PartitionRun(
                client, group, consumer, stream, start_from, block_ms, count, alert_above,
                partition_key(base, p, ALERTS), work_seconds, None, idle_exit, stop,
                lambda line: out(f"[p{p}] {line}"), max_deliveries, partition_key(base, p, DEAD),
                retry_after, last_seq=last_seq, lock=lock)
            part.ledger_stream = partition_key(base, p, DONE) if ledger else None
            part.report_each = report_each
            part.run(guard_name and name_guard_ms > 0, retire_on_exit, int(name_guard_ms))
        except BaseException as exc:  # noqa: BLE001 - re-raised by the calling thread
            errors.append(exc)
            stop.set()
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(p,), name=f"streamlab-partition-{consumer}-p{p}",
                                daemon=True) for p in owned]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)  # short joins: the main thread keeps taking Ctrl-C
    stats = PartitionStats()
    for p, part in sorted(runs.items()):
        s = part.stats
        stats.processed[p] = s.processed
        stats.alerts += s.alerts
        stats.recovered += s.recovered
        stats.dead_lettered += s.dead_lettered
        stats.deleted += s.deleted
        stats.failed += s.failed
        stats.duplicates += s.duplicates
        stats.reconnects += s.reconnects
        stats.key_out_of_order += part.out_of_order
        if part.first is not None:
            stats.first = min(stats.first or part.first, part.first)
            stats.last = max(stats.last or part.last, part.last)
    if errors:
        raise errors[0]
    per = ", ".join(f"p{p}: {stats.processed[p]}" for p in owned)
    out(f"{consumer}: stopped after {stats.total} entries ({per}; {stats.alerts} alerts, "
        f"{stats.recovered} taken back, {stats.dead_lettered} dead-lettered, "
        f"{stats.key_out_of_order} out of order per key)")
    if stats.first is not None:
        out(f"{consumer}: first {stats.first:.6f} last {stats.last:.6f}")
    return stats


# --- checking a run ------------------------------------------------------------------------

def ledger_check(r, base: str, partitions: int, expected: dict[str, int]) -> dict:
    """Read every partition's ``done`` ledger: was each (sensor, seq) processed exactly once, in order per key?

    ``expected``: sensor id -> how many readings it sent (seq 1..n). Returns
    counts of ``processed``, ``missing``, ``duplicates``, ``out_of_order`` (a
    key's seq not above its previous one in the ledger), ``wrong_partition``.
    """
    seen: Counter = Counter()
    last: dict[str, int] = {}
    out_of_order = wrong = processed = 0
    for p in range(partitions):
        for _, f in r.xrange(partition_key(base, p, DONE)):
            key, seq = f["sensor_id"], int(f["seq"])
            processed += 1
            seen[(key, seq)] += 1
            if key in last and seq <= last[key]:
                out_of_order += 1
            last[key] = seq
            wrong += partition_of(key, partitions) != p
    want = {(k, s) for k, n in expected.items() for s in range(1, n + 1)}
    return {"processed": processed, "missing": len(want - set(seen)),
            "duplicates": sum(n - 1 for n in seen.values() if n > 1),
            "unexpected": len(set(seen) - want), "out_of_order": out_of_order, "wrong_partition": wrong}


def moved_keys(keys, old: int, new: int) -> list[str]:
    """Which keys route to a different partition when P goes from ``old`` to ``new``."""
    return [k for k in keys if partition_of(k, old) != partition_of(k, new)]


def placement(r, base: str, partitions: int):
    """One row per partition (a pandas DataFrame): its key, hash slot and, on a cluster, the shard serving it."""
    import pandas as pd

    from .cluster import is_cluster, slot_of

    rows = []
    shards = r.shards() if is_cluster(r) else None
    for p in range(partitions):
        key = partition_key(base, p)
        row = {"partition": p, "key": key, "slot": slot_of(key)}
        if shards is not None:
            row["shard"] = shards.index(r.shard_of(key))
        rows.append(row)
    return pd.DataFrame(rows)


# --- watching it ---------------------------------------------------------------------------

class PartitionSampler:
    """Per partition, every ``interval``: ``XLEN``, and from ``XINFO GROUPS`` the group's
    ``entries-read``, ``lag`` and ``pending``. Rows in ``frame()``; rates from their deltas.

    One pipeline per sample; on a cluster redis-py splits it into one per shard.
    """

    def __init__(self, r, base: str, partitions: int, group: str):
        self.r, self.base, self.partitions, self.group = r, base, partitions, group
        self.rows: list[dict] = []
        self.t0 = time.monotonic()

    def sample(self) -> None:
        keys = partition_keys(self.base, self.partitions)
        pipe = self.r.pipeline(transaction=False)
        for k in keys:
            pipe.xlen(k)
            pipe.xinfo_groups(k)
        replies = pipe.execute(raise_on_error=False)
        now = time.monotonic() - self.t0
        shard_names = self.r.shards() if hasattr(self.r, "shards") else None
        for p, k in enumerate(keys):
            length, groups = replies[2 * p], replies[2 * p + 1]
            if isinstance(length, Exception) or isinstance(groups, Exception):
                continue
            g = next((g for g in groups if g["name"] == self.group), None)
            read = int(g.get("entries-read") or 0) if g else 0
            pending = int(g["pending"]) if g else 0
            lag = g.get("lag") if g else None
            done = read - pending
            shard = shard_names.index(self.r.shard_of(k)) if shard_names else 0
            self.rows.append({"t": now, "partition": p, "shard": shard, "length": int(length),
                              "done": done, "pending": pending,
                              "lag": int(lag) if lag is not None else int(length) - read})

    def frame(self):
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=["t", "partition", "shard", "length", "done", "pending", "lag"])
        if df.empty:
            return df.assign(rate=pd.Series(dtype=float))
        df = df.sort_values(["partition", "t"])
        dt = df.groupby("partition")["t"].diff()
        df["rate"] = (df.groupby("partition")["done"].diff() / dt).fillna(0.0)
        return df.sort_values(["t", "partition"]).reset_index(drop=True)


# --- the command line (streamlab produce/consume --partitions P) ---------------------------------

def add_cli_options(parser, command: str) -> None:
    """The ``--partitions`` options of ``streamlab produce`` / ``consume`` (see README)."""
    parser.add_argument("--partitions", type=int, metavar="P",
                        help="spread the stream over P partition streams STREAM:{p0}..{pP-1}, routed by "
                             "sensor id (lesson 09; works on a cluster and on one server)")
    if command == "produce":
        parser.add_argument("--keys", type=int, default=1, metavar="K",
                            help="with --partitions: send for K sensors SENSOR.0..SENSOR.K-1 (default 1)")
    else:
        parser.add_argument("--member", default="1/1", metavar="I/N",
                            help="with --partitions: this consumer is number I of N and reads "
                                 "partitions p with p %% N == I-1 (default 1/1: all of them)")
        parser.add_argument("--ledger", action="store_true",
                            help="with --partitions: record each processed entry in STREAM:done:{pN}, "
                                 "written with its XACK by one script, once per entry")


def cluster_aware(r: Client) -> Client | ClusterClient:
    """``r`` itself, or a cluster client on the same server when that server is a cluster node:
    a plain client there would get ``MOVED`` for every key another shard serves."""
    from . import cluster

    if cluster.is_cluster(r) or getattr(r.backend, "is_fake", False):
        return r
    if int(r.info("cluster").get("cluster_enabled", 0)):
        return cluster.connect(r.backend.url, quiet=True)
    return r


def check_cli_options(args, command: str) -> None:
    """``ValueError`` for a ``--partitions``/``--keys``/``--member`` value that cannot work, before
    anything touches Redis (``streamlab produce``/``consume`` call it with their other checks)."""
    if getattr(args, "partitions", None) is None:
        return
    if isinstance(args.partitions, bool) or args.partitions < 1:
        raise ValueError(f"--partitions must be at least 1, got {args.partitions}.")
    check_base(args.stream)
    if command == "produce":
        sensor_names(args.sensor, args.keys)
    else:
        member = parse_member(args.member)
        if not owned_partitions(args.partitions, member):
            raise ValueError(f"--member {args.member} owns none of {args.partitions} partitions: "
                             "use at most as many members as partitions.")


def cli_produce(r, args, stop) -> None:
    check_cli_options(args, "produce")
    r = cluster_aware(r)
    sent = produce(r, args.sensor, args.stream, args.partitions, keys=args.keys, rate=args.rate,
                   count=args.count, stop=stop)
    print(f"{args.sensor}: sent {sent} entries to {args.partitions} partitions of {args.stream}", flush=True)


def cli_consume(r, args, stop) -> None:
    """``streamlab consume --partitions``: the plain consumer's options and protections, per partition
    (name lease and retirement, delivery limit, dead letters in ``STREAM:dead:{pN}``)."""
    check_cli_options(args, "consume")
    r = cluster_aware(r)
    consume(r, args.group, args.consumer, args.stream, args.partitions,
            member=parse_member(args.member), start_from=args.start_from, block_ms=args.block,
            count=args.count, alert_above=args.alert_above, ledger=args.ledger,
            work_seconds=args.work, idle_exit=args.idle_exit, stop=stop,
            out=lambda line: print(line, flush=True), max_deliveries=args.max_deliveries,
            retry_after=args.retry_after, guard_name=True, retire_on_exit=True,
            name_guard_ms=int(args.name_guard * 1000))


# --- in a notebook: producer, one consumer per partition, sampler ----------------------------------

class PartitionProducer(Worker):
    """Readings of ``sensors`` at ``rate`` per second, each ``XADD`` to its sensor's partition
    (pipelined; on a cluster one pipeline per shard). ``seq`` counts per sensor."""

    def __init__(self, r: Client | ClusterClient, base: str, partitions: int, sensors: list[str],
                 rate: float = 200, name: str | None = None):
        super().__init__(name or f"partition-producer:{base}")
        self.r, self.base, self.partitions = r, check_base(base), partitions
        self.sensors, self.rate = list(sensors), float(rate)
        self.seq: Counter = Counter()
        self.sent = 0
        self._schedule = Schedule(self.rate)

    def route(self, sensor: str) -> str:
        return partition_key(self.base, partition_of(sensor, self.partitions))

    def on_start(self) -> None:
        self.client = self.r.new_client()
        self._schedule = Schedule(self.rate)  # the clock starts now, from this run's first send

    def on_stop(self) -> None:
        self.client.close()

    def step(self) -> None:
        due = min(self._schedule.due(), 500)
        if due <= 0:
            self.sleep(0.01)
            return
        pipe = self.client.pipeline(transaction=False)
        for _ in range(due):
            sensor = self.sensors[self.sent % len(self.sensors)]
            self.seq[sensor] += 1
            fields = sensor_reading(sensor, self.seq[sensor])
            fields.update(seq=str(self.seq[sensor]), sent_at=f"{time.time():.6f}")
            pipe.xadd(self.route(sensor), fields)
            self.sent += 1
        pipe.execute()
        self._schedule.done(due)


class SamplerWorker(Worker):
    def __init__(self, sampler: PartitionSampler, interval: float = 0.25, name: str = "partition-sampler"):
        super().__init__(name)
        self.sampler, self.interval = sampler, interval

    def step(self) -> None:
        self.sampler.sample()
        self.sleep(self.interval)


class PartitionedPipeline:
    """Lesson 09's pipeline: a routing producer, one consumer (of group ``group``) per partition,
    and a sampler of every partition's throughput and lag.

    The consumers are a ``ConsumerPool`` with ``route_by_key=True``: consumer
    ``c<p+1>`` alone reads partition ``p``, which is what keeps each sensor's
    readings in order.
    """

    def __init__(self, r: Client | ClusterClient, base: str, partitions: int = 6, sensors: int = 12,
                 rate: float = 300, ms: float = 1.0, group: str = "workers"):
        from .consumers import ConsumerPool

        self.r, self.base, self.partitions, self.group = r, check_base(base), partitions, group
        self.sensors = [f"sensor{i}" for i in range(1, sensors + 1)]
        self.producer = PartitionProducer(r, base, partitions, self.sensors, rate)
        self.pool = ConsumerPool(r, partition_keys(base, partitions), group, consumers=partitions,
                                 seconds=ms / 1000, start_id="0", count=10, route_by_key=True,
                                 name=f"partitioned:{base}")
        self.sampler = PartitionSampler(r, base, partitions, group)
        self.sampling = SamplerWorker(self.sampler, name=f"partition-sampler:{base}")

    def start(self) -> "PartitionedPipeline":
        self.pool.create_group()
        self.pool.start()
        self.sampling.start()
        self.producer.start()
        return self

    def stop(self) -> "PartitionedPipeline":
        self.producer.stop()
        self.pool.wait_until_idle(10)
        self.pool.stop()
        self.sampler.sample()
        self.sampling.stop()
        return self

    def run_for(self, seconds: float) -> "PartitionedPipeline":
        """``start()``, wait until ``seconds`` pass or producer and consumers all end by
        themselves, ``stop()`` (which lets the consumers finish the backlog first)."""
        self.start()
        try:
            wait_until(lambda: not (self.producer.running or self.pool.running), seconds)
        finally:
            self.stop()
        return self

    def summary(self):
        """One row per partition: its shard, entries in it, processed, pending, out of order per key."""
        import pandas as pd

        frame = self.sampler.frame()
        last = frame.groupby("partition").tail(1).set_index("partition") if not frame.empty else None
        orders = self.pool.ordering_frame()
        rows = []
        for p, key in enumerate(partition_keys(self.base, self.partitions)):
            consumer = f"c{p + 1}"
            rows.append({"partition": p, "shard": int(last.loc[p, "shard"]) if last is not None else 0,
                         "sensors": sum(partition_of(s, self.partitions) == p for s in self.sensors),
                         "entries": self.r.xlen(key), "processed": self.pool.processed.get(consumer, 0),
                         "pending": int(self.r.xpending(key, self.group)["pending"]),
                         "out of order per key": int(orders[orders["consumer"] == consumer]
                                                     ["key_out_of_order"].sum())})
        return pd.DataFrame(rows).set_index("partition")
