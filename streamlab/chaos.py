"""The chaos experiment: consumers that crash, entries that always fail, a reaper, and a ledger that proves nothing was lost.

::

    exp = ChaosExperiment(r, "lesson04:chaos:", entries=600, consumers=3,
                          crash_probability=0.1, poison_share=0.02, seed=1)
    exp.run_until_done(timeout=30)
    exp.ledger()          # produced, processed once / more than once, dead-lettered, ..., lost (0)
    exp.journey(exp.pick("dead-lettered"))   # every delivery, claim, ack of one entry

What happens:

- A producer puts ``entries`` orders on ``<prefix>orders`` (all at once, or at
  ``rate`` per second). Each has an ``amount``; a share of them is *poison*
  (``poison=1``): processing it always fails.
- ``consumers`` consumers of group ``workers`` read, process and ``XACK``.
  Processing is ``amount`` added to ``<prefix>total`` through an
  ``IdempotencyGuard`` (``SET processed:<id> NX`` + ``INCRBY`` in one script).
- Each delivery crashes its consumer with ``crash_probability``: half of the
  crashes happen before the work, half after the work and before ``XACK``
  (the case that produces duplicates). The decision is a hash of
  (seed, entry, delivery number), so a seed replays the same fate for every
  delivery whatever the threads' timing.
- A supervisor restarts a crashed consumer after ``restart_delay``: under the
  same name (``restart="same"``: it re-reads its own pending entries with
  ``0`` first), under a new name (``"new"``: its old PEL is orphaned until the
  reaper claims it), or not at all (``"none"``).
- The reaper (``recovery.Reaper``) claims entries idle for ``min_idle_ms``,
  retries them, and moves an entry delivered more than ``max_deliveries`` times
  to ``<prefix>orders:dead``. A consumer replaying its own PEL after a restart
  applies the same limit. It does not crash itself: a crash decision on its
  delivery abandons the entry (it stays pending) as a restarted reaper would.
- A consumer that crashes mid-batch never touches the rest of its batch; the
  journal notes those entries as "not reached", so their next delivery is explained.

The ledger counts from Redis where it can (pending entries, the dead-letter
stream, undelivered entries, the guard's duplicate counter) and from the
journal of what each worker did (``XACK`` replies), so "lost" is measured,
not assumed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

import pandas as pd
import redis

from . import ids, validate, workers
from .backend import Client
from .consumers import Consumer, ConsumerCrashed, ConsumerPool, ProcessingTime
from .producer import Producer
from .recovery import IdempotencyGuard, Reaper, ReaperEvent, dead_letter, delivery_counts
from .registry import Registry
from .waiting import wait_until

GROUP = "workers"
RESTART_MODES = ("same", "new", "none")
# How a setting out of its range is refused (``validate`` fills in the name and the numbers).
NOT_WHOLE = "{what} must be a whole number from {low} to {high:,}; got {value!r}."
NOT_A_SHARE = "{what} must be a number from 0 to {high}; got {value!r}."
OUT_OF_SHARE = "{what} must be from 0 to {high}; got {number!r}."
SAMPLE_INTERVAL = 0.1
SUPERVISOR_TICK = 0.01
RETIRE_INTERVAL = 0.5
#: How an entry ended, in the delivery histogram's columns.
OUTCOMES = ("acked", "dead-lettered: poison", "dead-lettered: healthy", "not finished")


class PoisonEntry(Exception):
    """Processing this entry always fails: it is broken, not unlucky."""


class AbandonedEntry(Exception):
    """The reaper's stand-in for a crash: the entry is left pending, the reaper carries on."""


def unit(seed: int, *parts) -> float:
    """A number in [0, 1) that depends only on ``seed`` and ``parts`` (BLAKE2b): the same in every run and process."""
    digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def is_poison(seed: int, seq: int, share: float) -> bool:
    return unit(seed, seq, "poison") < share


def amount_of(seq: int) -> int:
    """The order's amount: 1 to 9, so the expected total is known without reading the stream."""
    return seq % 9 + 1


def fate(seed: int, seq: int, delivery: int, crash_probability: float) -> str:
    """What happens on this delivery: ``ok``, ``crash-before`` (the work) or ``crash-after`` (the work, before ``XACK``)."""
    if unit(seed, seq, delivery) >= crash_probability:
        return "ok"
    return "crash-before" if unit(seed, seq, delivery, "when") < 0.5 else "crash-after"


# --- the journal: what happened to each entry --------------------------------------------


@dataclass
class EntryRecord:
    """Everything the workers did to one entry (``seq`` is the producer's number for it)."""

    seq: int
    entry_id: str | None = None
    poison: bool = False
    amount: int = 0
    deliveries: int = 0
    works: int = 0  # times the work ran to the guard
    applied: int = 0  # times the guard let the effect through (0 or 1)
    acks: int = 0  # XACK replies of 1 (at most 1: an entry leaves the PEL once)
    late_acks: int = 0  # XACK replies of 0: someone else had already acked or dead-lettered it
    dead: bool = False
    events: list = field(default_factory=list)  # (t, what, who, detail)


class Journal:
    """A thread-safe record per entry, keyed by the producer's ``seq``."""

    def __init__(self, seed: int, poison_share: float, t0: float):
        self.seed = seed
        self.poison_share = poison_share
        self.t0 = t0
        self.lock = threading.Lock()
        self.records: dict[int, EntryRecord] = {}
        self.seq_of: dict[str, int] = {}
        self.resolved = 0  # entries acked or dead-lettered
        self.crashes = 0  # consumer crashes (the reaper's abandoned entries are not counted)

    def _record(self, seq: int) -> EntryRecord:
        rec = self.records.get(seq)
        if rec is None:
            rec = EntryRecord(seq, poison=is_poison(self.seed, seq, self.poison_share), amount=amount_of(seq))
            self.records[seq] = rec
        return rec

    def _event(self, rec: EntryRecord, what: str, who: str, detail: str = "") -> None:
        rec.events.append((time.time() - self.t0, what, who, detail))

    def produced(self, seqs: range, when: float) -> None:
        with self.lock:
            for seq in seqs:
                rec = self._record(seq)
                rec.events.append((when - self.t0, "produced", "producer", "XADD"))

    def delivered(self, seq: int, entry_id: str, who: str, how: str) -> int:
        """Count one delivery; returns the entry's delivery number (1 for the first)."""
        with self.lock:
            rec = self._record(seq)
            rec.entry_id = entry_id
            self.seq_of[entry_id] = seq
            rec.deliveries += 1
            self._event(rec, f"delivery {rec.deliveries}", who, how)
            return rec.deliveries

    def deliveries_of(self, seq: int) -> int:
        with self.lock:
            return self._record(seq).deliveries

    def note(self, seq: int, what: str, who: str, detail: str = "") -> None:
        with self.lock:
            self._event(self._record(seq), what, who, detail)
            self.crashes += what == "crashed"

    def worked(self, seq: int, who: str, applied: bool) -> None:
        with self.lock:
            rec = self._record(seq)
            rec.works += 1
            rec.applied += applied
            self._event(rec, "worked", who, "effect applied" if applied else
                        "duplicate: the guard absorbed it")

    def acked(self, seq: int, who: str, reply: int) -> None:
        with self.lock:
            rec = self._record(seq)
            if reply:
                rec.acks += 1
                if rec.acks == 1 and not rec.dead:
                    self.resolved += 1
            else:
                rec.late_acks += 1
            self._event(rec, "acked", who, f"XACK replied {reply}")

    def dead_lettered(self, seq: int, who: str, deliveries: int) -> None:
        with self.lock:
            rec = self._record(seq)
            if not rec.dead and not rec.acks:
                self.resolved += 1
            rec.dead = True
            self._event(rec, "dead-lettered", who, f"after {deliveries} deliveries")

    def snapshot(self) -> list[EntryRecord]:
        with self.lock:
            return [EntryRecord(**{**r.__dict__, "events": list(r.events)}) for r in self.records.values()]


# --- the workers -------------------------------------------------------------------------


def order_of(fields: dict | None) -> int | None:
    """The order number in an entry's ``seq`` field; None for an entry deleted from the stream.

    A pending-list read (``XREADGROUP ... 0``, ``XCLAIM``, ``XAUTOCLAIM`` on Redis 6.2)
    returns a deleted entry with no fields: ``{}`` in redis-py 8, ``None`` before.
    """
    if not fields or "seq" not in fields:
        return None
    return int(fields["seq"])


class ChaosConsumer(Consumer):
    """A consumer whose deliveries may crash it (``ConsumerCrashed``) or fail (poison), per the experiment's fates."""

    def read(self) -> list:
        mode = self.read_from.position
        batch = super().read()
        exp: ChaosExperiment = self.pool.experiment
        how = "XREADGROUP >" if mode == ">" else f"XREADGROUP {mode} (own PEL, after a restart)"
        for _, entries in batch:
            for entry_id, fields in entries:
                if order_of(fields) is not None:
                    exp.journal.delivered(order_of(fields), entry_id, self.consumer, how)
        if mode != ">" and batch:
            # Replaying our own PEL is a delivery too: apply the same limit as the reaper,
            # or a poison entry is retried on every restart (and, as each re-read resets its
            # idle time on a real server, the reaper never finds it idle).
            batch = exp.dead_letter_over_limit(self.consumer, self.client, batch)
        self._batch_seqs = [order_of(fields) for _, entries in batch for _, fields in entries
                            if order_of(fields) is not None]
        return batch

    def process(self, entry_id: str, fields: dict) -> None:
        exp: ChaosExperiment = self.pool.experiment
        try:
            exp.before_work(self.consumer, entry_id, fields, crash=ConsumerCrashed)
            super().process(entry_id, fields)  # the processing time
            exp.after_work(self.consumer, entry_id, fields, self.client, crash=ConsumerCrashed)
        except ConsumerCrashed:
            # The rest of the batch was delivered too (its delivery counts went up) but is never
            # touched: say so in those entries' journeys, or their next delivery looks unexplained.
            seqs = getattr(self, "_batch_seqs", [])
            seq = int(fields["seq"])
            for later in seqs[seqs.index(seq) + 1:] if seq in seqs else []:
                exp.journal.note(later, "not reached", self.consumer,
                                 f"{self.consumer} crashed on order {seq}, same batch")
            raise

    def ack(self, stream: str, entry_id: str) -> int:
        reply = super().ack(stream, entry_id)
        self.pool.experiment.journal.acked(self.pool.experiment.seq(entry_id), self.consumer, reply)
        return reply


class ChaosPool(ConsumerPool):
    """A ``ConsumerPool`` of ``ChaosConsumer``s that knows its experiment."""

    def __init__(self, experiment: "ChaosExperiment", **options):
        self.experiment = experiment
        super().__init__(consumer_class=ChaosConsumer, **options)


class Supervisor(workers.Worker):
    """Feeds the producer, restarts crashed consumers, retires dead consumer names, samples the timeline."""

    def __init__(self, experiment: "ChaosExperiment"):
        super().__init__(f"chaos-supervisor:{experiment.stream}")
        self.exp = experiment
        self.client = None
        self._crashed_at: dict[str, float] = {}
        self._next_sample = 0.0
        self._next_retire = 0.0

    def on_start(self) -> None:
        self.client = self.exp.r.new_client()

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def step(self) -> None:
        now = time.monotonic()
        self.exp.feed(now)
        self.restart_crashed(now)
        if now >= self._next_retire:
            self._next_retire = now + RETIRE_INTERVAL
            self.exp.retire_dead_consumers(self.client)
        if now >= self._next_sample:
            self._next_sample = now + SAMPLE_INTERVAL
            self.exp.sample(self.client)
        self.sleep(SUPERVISOR_TICK)

    def restart_crashed(self, now: float) -> None:
        exp = self.exp
        for name, c in list(exp.pool.consumers.items()):
            if c.status != "crashed" or c.running:
                continue
            since = self._crashed_at.setdefault(name, now)
            if exp.restart == "none" or now - since < exp.restart_delay:
                continue
            del self._crashed_at[name]
            exp.restarts += 1
            if exp.restart == "same":
                c.start()
            else:
                exp.pool.remove_consumer(name)
                workers.unregister(c)
                exp.retired.append(name)
                exp.pool.consumers[exp.pool.add_consumer()].start()


#: One experiment per stream: starting another on the same keys stops the older one first.
_experiments: Registry["ChaosExperiment"] = Registry(lambda old: old.stop())


class ChaosExperiment:
    """Producer, crashing consumers, reaper and supervisor on one stream; see the module docstring.

    Python API: ``start()``, ``stop()``, ``run_for(seconds)``,
    ``run_until_done(timeout)``; ``ledger()``, ``timeline()``,
    ``delivery_histogram()``, ``journey(id_or_seq)``, ``pick(kind)``; its figure is
    ``streamlab.ui.figures.chaos.chaos_figure(exp)``. Settings that may change
    while it runs: ``crash_probability``,
    ``set_reaper(on, min_idle_ms)``, ``set_consumers(n)``.
    """

    def __init__(self, r: Client, prefix: str = "lesson04:chaos:", entries: int = 500,
                 consumers: int = 3, crash_probability: float = 0.1, poison_share: float = 0.02,
                 reaper: bool = True, min_idle_ms: int = 200, max_deliveries: int = 5,
                 processing_ms: float = 1.0, rate: float | None = None, restart: str = "same",
                 restart_delay: float = 0.02, count: int = 10, seed: int = 0, guard_ttl: int = 3600):
        self.r = r
        self.prefix = prefix
        self.entries = validate.whole(entries, NOT_WHOLE, "entries", 1, 1_000_000)
        self.n_consumers = validate.whole(consumers, NOT_WHOLE, "consumers", 1, 20)
        self.crash_probability = validate.number(crash_probability, NOT_A_SHARE, "crash_probability",
                                                 0, 0.9, outside=OUT_OF_SHARE)
        self.poison_share = validate.number(poison_share, NOT_A_SHARE, "poison_share", 0, 1.0,
                                            outside=OUT_OF_SHARE)
        self.min_idle_ms = validate.whole(min_idle_ms, NOT_WHOLE, "min_idle_ms", 0, 3_600_000)
        self.max_deliveries = validate.whole(max_deliveries, NOT_WHOLE, "max_deliveries", 1, 1000)
        if processing_ms < 0:
            raise ValueError(f"processing_ms cannot be negative (got {processing_ms}).")
        self.processing_ms = float(processing_ms)
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be a positive number of entries per second, or None for all at once; got {rate!r}.")
        self.rate = rate
        if restart not in RESTART_MODES:
            raise ValueError(f"restart must be one of {', '.join(RESTART_MODES)}; got {restart!r}.")
        self.restart = restart
        self.restart_delay = float(restart_delay)
        self.count = validate.whole(count, NOT_WHOLE, "count", 1, 1000)
        self.seed = int(seed)
        self.reaper_on = bool(reaper)

        self.stream = prefix + "orders"
        self.dead_stream = prefix + "orders:dead"
        self.total_key = prefix + "total"
        self.group = GROUP
        self.guard = IdempotencyGuard(r, prefix, ttl=guard_ttl)
        self.t0 = time.time()
        self.journal = Journal(self.seed, self.poison_share, self.t0)
        self.producer = Producer(r, self.stream, sensors=("till",), rate=1, payload=self._payload,
                                 name=f"chaos-producer:{self.stream}")
        self.pool = ChaosPool(self, r=r, stream=self.stream, group=self.group, consumers=self.n_consumers,
                              processing=ProcessingTime.fixed(self.processing_ms / 1000), start_id="0",
                              count=self.count, block_ms=50, key_field=None, name=f"chaos:{self.stream}",
                              seed=self.seed)
        self.reaper = self._new_reaper()
        self.supervisor = Supervisor(self)
        self.restarts = 0
        self.retired: list[str] = []
        self.buried: list[str] = []
        self._samples: list[dict] = []
        self._started_at: float | None = None
        self.reaper_switches: list[tuple[float, bool]] = []  # (seconds since start, on) for set_reaper() calls
        self._feed_lock = threading.Lock()

    # --- settings --------------------------------------------------------------------------
    def _new_reaper(self) -> Reaper:
        reaper = Reaper(self.r, self.stream, self.group, consumer="reaper", min_idle_ms=self.min_idle_ms,
                        max_deliveries=self.max_deliveries, count=100, dead_letter_stream=self.dead_stream,
                        handler=self._reaper_work, name=f"chaos-reaper:{self.stream}")
        reaper.listeners.append(self._on_reaper_event)
        return reaper

    def set_reaper(self, on: bool, min_idle_ms: int | None = None) -> None:
        """Switch the reaper on or off (and change its minimum idle time), also while running."""
        if min_idle_ms is not None:
            self.min_idle_ms = validate.whole(min_idle_ms, NOT_WHOLE, "min_idle_ms", 0, 3_600_000)
            self.reaper.min_idle_ms = self.min_idle_ms
        self.reaper_on = bool(on)
        if self._started_at is not None and (not self.reaper_switches or self.reaper_switches[-1][1] != self.reaper_on):
            self.reaper_switches.append((time.time() - self.t0, self.reaper_on))
        if self.running:
            if on:
                self.reaper.start()
            else:
                self.reaper.stop()

    def set_consumers(self, n: int) -> None:
        """Grow or shrink the pool to ``n`` consumers (a removed one finishes its batch first)."""
        n = validate.whole(n, NOT_WHOLE, "consumers", 1, 20)
        self.n_consumers = n
        while len(self.pool.consumers) < n:
            name = self.pool.add_consumer()
            if self.running:
                self.pool.consumers[name].start()
        while len(self.pool.consumers) > n:
            self.pool.remove_consumer()

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.supervisor.running

    def workers(self) -> list[workers.Worker]:
        return [self.supervisor, self.reaper, *self.pool.consumers.values()]

    def start(self) -> "ChaosExperiment":
        """Delete this experiment's keys, create the group, start consumers, reaper and supervisor."""
        if self._started_at is not None:
            raise RuntimeError("This experiment has already run; make a new ChaosExperiment to run again.")
        # A re-run cell: an older experiment on the same keys must stop before they are wiped.
        _experiments.claim(self.stream, self)
        self.delete_keys()
        self.t0 = self.journal.t0 = time.time()
        self._started_at = time.monotonic()
        self.pool.start()
        if self.reaper_on:
            self.reaper.start()
        self.supervisor.start()
        return self

    def stop(self) -> "ChaosExperiment":
        """Stop feeding and restarting first, then the consumers (each finishes its batch), then the reaper."""
        self.supervisor.stop()
        self.pool.stop()
        self.reaper.stop()
        if self._started_at is not None:
            self.sample(self.r)
        return self

    def run_for(self, seconds: float) -> "ChaosExperiment":
        """``start()``, wait until ``seconds`` pass or the supervisor ends by itself, ``stop()``."""
        self.start()
        try:
            wait_until(lambda: not self.running, seconds)
        finally:
            self.stop()
        return self

    def run_until_done(self, timeout: float = 60) -> bool:
        """Start, wait until every entry is acked or dead-lettered (or ``timeout``), stop; True if done."""
        if self._started_at is None:
            self.start()
        try:
            wait_until(lambda: self.done, timeout)
        finally:
            self.stop()
        return self.done

    @property
    def done(self) -> bool:
        return self.producer.sent >= self.entries and self.journal.resolved >= self.entries

    def delete_keys(self) -> int:
        """Delete the stream, dead-letter stream, total, and the guard's markers (``SCAN`` + ``UNLINK``)."""
        keys = [self.stream, self.dead_stream, self.total_key, self.guard.absorbed_key]
        keys += list(self.r.scan_iter(match=self.guard.marker("*"), count=1000))
        deleted = 0
        for i in range(0, len(keys), 500):
            deleted += self.r.unlink(*keys[i:i + 500])
        return deleted

    # --- what the workers call -------------------------------------------------------------
    def _payload(self, sensor_id: str, seq: int) -> dict:
        return {"amount": amount_of(seq), "poison": int(is_poison(self.seed, seq, self.poison_share))}

    def feed(self, now: float) -> None:
        """Send what is due: everything at once, or ``rate`` per second since the start."""
        with self._feed_lock:
            sent = self.producer.sent
            due = self.entries if self.rate is None else int((now - self._started_at) * self.rate) + 1
            n = min(due, self.entries) - sent
            if n > 0:
                began = time.time()
                self.producer.burst(n)
                self.journal.produced(range(sent + 1, sent + n + 1), began)

    def seq(self, entry_id: str) -> int:
        seq = self.journal.seq_of.get(entry_id)
        if seq is None:
            fields = self.r.xrange(self.stream, entry_id, entry_id)
            seq = int(fields[0][1]["seq"]) if fields else -1
        return seq

    def before_work(self, who: str, entry_id: str, fields: dict, crash: type[Exception]) -> None:
        seq = int(fields["seq"])
        if fields.get("poison") == "1":
            self.journal.note(seq, "failed", who, "poison: processing raised")
            raise PoisonEntry(f"entry {entry_id} (order {seq}) is poison")
        if fate(self.seed, seq, self.journal.deliveries_of(seq), self.crash_probability) == "crash-before":
            self.journal.note(seq, "crashed" if crash is ConsumerCrashed else "abandoned", who,
                              "before the work" if crash is ConsumerCrashed else
                              "simulated crash before the work: left pending")
            raise crash(f"chaos: {who} crashed before the work on {entry_id}")

    def after_work(self, who: str, entry_id: str, fields: dict, client: redis.Redis,
                   crash: type[Exception]) -> None:
        seq = int(fields["seq"])
        # Keyed on the order number (the business ID), not the entry ID: a producer that
        # retried its XADD would make a second entry for the same order.
        applied = self.guard.apply(f"order:{seq}", self.total_key, int(fields["amount"]), who, client=client)
        self.journal.worked(seq, who, applied)
        if fate(self.seed, seq, self.journal.deliveries_of(seq), self.crash_probability) == "crash-after":
            self.journal.note(seq, "crashed" if crash is ConsumerCrashed else "abandoned", who,
                              "after the work, before XACK" if crash is ConsumerCrashed else
                              "simulated crash after the work, before XACK: left pending")
            raise crash(f"chaos: {who} crashed after the work on {entry_id}, before XACK")

    def dead_letter_over_limit(self, who: str, client: redis.Redis, batch: list) -> list:
        """Dead-letter the entries of ``batch`` delivered more than ``max_deliveries`` times; return the rest."""
        ids = [entry_id for _, entries in batch for entry_id, _ in entries]
        counts = delivery_counts(client, self.stream, self.group, ids)
        kept = []
        for stream, entries in batch:
            rest = []
            for entry_id, fields in entries:
                n = counts.get(entry_id, 0)
                if n <= self.max_deliveries:
                    rest.append((entry_id, fields))
                elif dead_letter(client, self.stream, self.group, entry_id, fields, self.dead_stream, n,
                                 who, f"delivered {n} times (limit {self.max_deliveries})"):
                    if order_of(fields) is not None:
                        self.journal.dead_lettered(order_of(fields), who, n)
            if rest:
                kept.append((stream, rest))
        return kept

    def _reaper_work(self, entry_id: str, fields: dict, deliveries: int) -> None:
        self.before_work("reaper", entry_id, fields, crash=AbandonedEntry)
        if self.processing_ms:
            time.sleep(self.processing_ms / 1000)
        self.after_work("reaper", entry_id, fields, self.reaper.client, crash=AbandonedEntry)

    def _on_reaper_event(self, e: ReaperEvent) -> None:
        seq = order_of(e.fields)
        if e.kind == "deleted" or seq is None:  # deleted from the stream: no order to record
            return
        if e.kind == "claimed":
            self.journal.delivered(seq, e.entry_id, "reaper", "XAUTOCLAIM")
        elif e.kind in ("acked", "acked-by-someone-else"):
            self.journal.acked(seq, "reaper", int(e.kind == "acked"))
        elif e.kind == "dead-lettered":
            self.journal.dead_lettered(seq, "reaper", e.deliveries)

    def retire_dead_consumers(self, client: redis.Redis) -> None:
        """``XGROUP DELCONSUMER`` for replaced consumers once nothing is pending for them."""
        if not self.retired:
            return
        try:
            summary = client.xpending(self.stream, self.group)
        except redis.ResponseError:
            return
        busy = {c["name"] for c in summary.get("consumers") or []}
        for name in [n for n in self.retired if n not in busy]:
            # Nobody claims for a dead name, so its PEL cannot refill between the two commands.
            client.xgroup_delconsumer(self.stream, self.group, name)
            self.retired.remove(name)
            self.buried.append(name)

    def sample(self, client: redis.Redis) -> None:
        """One row of the timeline: pending (``XPENDING``), dead letters (``XLEN``), and counters."""
        pipe = client.pipeline(transaction=False)
        pipe.xpending(self.stream, self.group)
        pipe.xlen(self.dead_stream)
        try:
            pending, dead = pipe.execute()
        except redis.ResponseError:
            pending, dead = {"pending": 0}, 0
        with self.journal.lock:
            acked = sum(1 for r in self.journal.records.values() if r.acks)
        self._samples.append({
            "t": time.time() - self.t0, "produced": self.producer.sent, "pending": int(pending["pending"]),
            "dead_lettered": int(dead), "acked": acked, "crashes": self.journal.crashes,
            "consumers_alive": sum(c.running for c in self.pool.consumers.values()),
        })

    # --- what happened ------------------------------------------------------------------------
    def timeline(self) -> pd.DataFrame:
        """One row per sample (10 a second): t, produced, pending, dead_lettered, acked, crashes, consumers_alive."""
        return pd.DataFrame(list(self._samples),
                            columns=["t", "produced", "pending", "dead_lettered", "acked", "crashes",
                                     "consumers_alive"])

    def delivery_histogram(self) -> pd.DataFrame:
        """How many entries were delivered 1, 2, 3, ... times, split by how they ended.

        Dead letters are split in two: poison (it could never succeed) and healthy
        (a sound order that ran out of deliveries, mostly through crashes on its neighbours).
        """
        def outcome(r: EntryRecord) -> str:
            if r.dead:
                return "dead-lettered: poison" if r.poison else "dead-lettered: healthy"
            return "acked" if r.acks else "not finished"

        rows = [(r.deliveries, outcome(r)) for r in self.journal.snapshot() if r.deliveries]
        df = pd.DataFrame(rows, columns=["deliveries", "outcome"])
        if df.empty:
            return pd.DataFrame(columns=list(OUTCOMES))
        table = df.groupby(["deliveries", "outcome"]).size().unstack(fill_value=0)
        for col in OUTCOMES:
            if col not in table:
                table[col] = 0
        return table[list(OUTCOMES)]

    def work_runs(self) -> pd.Series:
        """How many orders had their work run 0, 1, 2, 3, ... times (from the journal), indexed by runs."""
        runs = pd.Series([r.works for r in self.journal.snapshot()], dtype=int)
        return runs.value_counts().sort_index().rename_axis("runs of the work").rename("orders")

    def counts(self) -> dict:
        """The ledger's numbers as a dict (see ``ledger()``), measured in Redis where possible."""
        produced = self.producer.sent
        try:
            pending_ids, dead_seqs, undelivered_seqs, redis_total = self._redis_state(produced)
        except redis.ResponseError:  # no stream or group yet
            pending_ids, dead_seqs, undelivered_seqs, redis_total = [], set(), set(), 0
        records = {r.seq: r for r in self.journal.snapshot()}
        pending_seqs = {self.seq(i) for i in pending_ids}
        acked = {s for s, r in records.items() if r.acks}
        lost = set(range(1, produced + 1)) - acked - dead_seqs - pending_seqs - undelivered_seqs
        if lost and self.running:
            # An XACK the server has done but its worker has not written down yet: look again.
            time.sleep(0.2)
            records = {r.seq: r for r in self.journal.snapshot()}
            lost -= {s for s in lost if records.get(s) and records[s].acks}
        return {
            "produced": produced,
            "processed once": sum(1 for s in acked if records[s].works == 1),
            "processed more than once": sum(1 for s in acked if records[s].works > 1),
            "dead-lettered": len(dead_seqs),
            "still pending": len(pending_seqs),
            "not delivered yet": len(undelivered_seqs),
            "lost": len(lost),
            "duplicates absorbed": self.guard.absorbed(),
            "duplicate runs (journal)": sum(max(r.works - 1, 0) for r in records.values()),
            "total in Redis": redis_total,
            "total expected": sum(r.amount for r in records.values() if r.works),
            "crashes": self.journal.crashes,
            "lost seqs": sorted(lost),
        }

    def _redis_state(self, produced: int) -> tuple[list[str], set[int], set[int], int]:
        # One MULTI/EXEC, so the PEL, the dead letters and the group position are one moment's view.
        pipe = self.r.pipeline(transaction=True)
        pipe.xinfo_groups(self.stream)
        pipe.xpending_range(self.stream, self.group, min="-", max="+", count=max(produced, 1))
        pipe.xrange(self.dead_stream)
        pipe.get(self.total_key)
        groups, pending, dead, total = pipe.execute()
        last = next((g["last-delivered-id"] for g in groups if g["name"] == self.group), "0-0")
        undelivered = self.r.xrange(self.stream, ids.following(last), "+")
        return ([p["message_id"] for p in pending], {int(f["seq"]) for _, f in dead},
                {int(f["seq"]) for _, f in undelivered}, int(total or 0))

    def ledger(self) -> pd.DataFrame:
        """The ledger a learner can check: each line, its count, and where the count comes from."""
        c = self.counts()
        rows = [
            ("produced", c["produced"], "entries the producer XADDed"),
            ("processed once", c["processed once"], "acked; the work ran once"),
            ("processed more than once", c["processed more than once"],
             "acked; the work ran again after a crash or a claim"),
            ("extra runs absorbed", c["duplicates absorbed"],
             "runs, not orders: the guard's counter in Redis (SET NX said no)"),
            ("dead-lettered", c["dead-lettered"], f"entries in {self.dead_stream} (XRANGE)"),
            ("still pending", c["still pending"], "in the PEL (XPENDING): a consumer holds them"),
            ("not delivered yet", c["not delivered yet"], "after the group's last-delivered-id"),
            ("lost", c["lost"], "produced, but none of the above: must be 0"),
        ]
        return pd.DataFrame(rows, columns=["what", "entries", "how it is counted"]).set_index("what")

    def journey(self, entry: "str | int") -> pd.DataFrame:
        """Every step of one entry (an ID or the producer's seq): produced, deliveries, crashes, work, ack or dead letter."""
        seq = entry if isinstance(entry, int) else self.seq(entry)
        records = {r.seq: r for r in self.journal.snapshot()}
        if seq not in records:
            raise ValueError(f"No entry {entry!r} in this experiment: pass an ID it delivered, or an "
                             f"order number from 1 to {self.producer.sent}.")
        rec = records[seq]
        # A burst is written down once it is all sent, after its first entries may have been read.
        events = sorted(rec.events, key=lambda e: (e[1] != "produced", e[0]))
        df = pd.DataFrame(events, columns=["t", "what", "who", "detail"])
        df["t"] = df["t"].round(3)
        df.attrs.update(seq=seq, entry_id=rec.entry_id, poison=rec.poison)
        return df

    def pick(self, kind: str = "most delivered") -> int | None:
        """An order number worth a look: ``most delivered``, ``dead-lettered`` (poison first),
        ``duplicate`` (acked, its work ran more than once), ``crashed``, or ``crashed after the
        work`` (a consumer crashed after its work and before ``XACK``, and a redelivery was
        absorbed: the shortest such story)."""
        records = self.journal.snapshot()

        def crashed_after_work(r: EntryRecord) -> bool:
            return r.acks > 0 and r.works > 1 and any(
                e[1] == "crashed" and e[3].startswith("after the work") for e in r.events)

        tests = {
            "most delivered": lambda r: True,
            "dead-lettered": lambda r: r.dead,
            "duplicate": lambda r: r.works > 1 and r.acks,
            "crashed": lambda r: any(e[1] == "crashed" for e in r.events),
            "crashed after the work": crashed_after_work,
        }
        if kind not in tests:
            raise ValueError(f"kind must be one of {', '.join(tests)}; got {kind!r}.")
        chosen = [r for r in records if tests[kind](r)]
        if not chosen:
            return None
        if kind == "crashed after the work":
            return min(chosen, key=lambda r: (r.deliveries, len(r.events), r.seq)).seq
        return max(chosen, key=lambda r: (r.poison == (kind == "dead-lettered"), r.deliveries, -r.seq)).seq

    def __repr__(self) -> str:
        state = "running" if self.running else "done" if self.done else "stopped" if self._started_at else "new"
        return (f"<ChaosExperiment on {self.stream!r}: {state}, {self.producer.sent}/{self.entries} produced, "
                f"{self.journal.resolved} finished>")
