"""A pool of consumers sharing one consumer group, and the records that show who did what.

Lesson 03 uses it to make consumer groups visible::

    pool = ConsumerPool(r, "lesson03:sensors", "workers", consumers=3, processing="one-slow")
    pool.run_for(3)
    pool.processed            # {'c1': 412, 'c2': 407, 'c3': 81}
    pool.ordering_frame()     # one row per completed entry, in completion order

Each consumer is a ``Worker`` on its own thread with its own client
(``r.new_client()``), because ``XREADGROUP ... BLOCK`` holds its connection.
One step of a consumer is::

    XREADGROUP GROUP <group> <consumer> COUNT <count> BLOCK <ms> STREAMS <stream> >
    ... process each entry (sleep for its processing time) ...
    XACK <stream> <group> <id>          # one per entry, right after it is processed

``ConsumerPool(ack="batch")`` processes the whole batch first and then
acknowledges every entry that succeeded with one ``XACK stream group id1 id2 ...``:
two round trips per batch instead of one per entry, for throughput demos. The
price: a consumer killed mid-batch leaves the entries it had already finished
pending too, so they run again (at-least-once, more duplicates). Per-entry
acks stay the default; lessons 03-07 rely on them.

A consumer starts by re-reading its own pending entries (``XREADGROUP ... 0``)
and only then asks for new ones (``>``), so work it read but never acked
before a restart is finished first (``PendingFirst``: ``streamlab consume``
reads through the same one).

Extension points (lesson 04 builds failure injection on them):

- ``Consumer.process(entry_id, fields)`` does the work; raising an exception
  leaves the entry pending (no ``XACK``) and records a ``failed`` event;
  raising ``ConsumerCrashed`` ends the consumer's thread there and then, as a
  killed process would, leaving the rest of its batch pending too.
- ``ConsumerPool(consumer_class=...)`` builds consumers of a subclass.
- ``pool.listeners``: callables given every ``Event`` (read, acked, failed,
  crashed), for per-delivery ledgers.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

from . import ids
from .backend import Client
from .groups import ensure_group
from .observe import group_info, lag_of
from .pending_first import PendingFirst
from .registry import Registry
from .waiting import wait_until
from .workers import Worker

# --- processing time models --------------------------------------------------------


@dataclass(frozen=True)
class ProcessingTime:
    """How long a consumer works on one entry: ``fixed``, ``uniform`` or ``exponential``.

    Build one with ``ProcessingTime.fixed(0.005)``, ``.uniform(0.001, 0.01)`` or
    ``.exponential(0.005)`` (random, mean 5 ms, with an occasional long one).
    """

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def fixed(cls, seconds: float) -> "ProcessingTime":
        return cls("fixed", _non_negative(seconds))

    @classmethod
    def uniform(cls, low: float, high: float) -> "ProcessingTime":
        low, high = _non_negative(low), _non_negative(high)
        if high < low:
            raise ValueError(f"uniform processing time needs low <= high, got {low} and {high}.")
        return cls("uniform", low, high)

    @classmethod
    def exponential(cls, mean: float) -> "ProcessingTime":
        return cls("exponential", _non_negative(mean))

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return rng.expovariate(1 / self.a) if self.a > 0 else 0.0

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def __str__(self) -> str:
        if self.kind == "uniform":
            return f"uniform {self.a * 1000:g}-{self.b * 1000:g} ms"
        return f"{self.kind} {self.a * 1000:g} ms"


def _non_negative(seconds: float) -> float:
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError(f"a processing time cannot be negative (got {seconds} s).")
    return seconds


#: Pool-wide processing modes the widget offers.
MODES = ("fixed", "random", "one-slow")


def processing_plan(mode: str, seconds: float, n: int, slow_factor: float = 10) -> list[ProcessingTime]:
    """Processing times for ``n`` consumers in one of ``MODES``.

    ``fixed``: all take ``seconds``; ``random``: exponential with mean ``seconds``;
    ``one-slow``: the first takes ``slow_factor`` times longer than the others.
    """
    if mode == "fixed":
        return [ProcessingTime.fixed(seconds)] * n
    if mode == "random":
        return [ProcessingTime.exponential(seconds)] * n
    if mode == "one-slow":
        return [ProcessingTime.fixed(seconds * slow_factor)] + [ProcessingTime.fixed(seconds)] * (n - 1)
    raise ValueError(f"processing mode {mode!r} is not one of {', '.join(MODES)}.")


def _as_processing(value: "ProcessingTime | float") -> ProcessingTime:
    return value if isinstance(value, ProcessingTime) else ProcessingTime.fixed(value)


# --- records ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something that happened to one delivery, as ``pool.listeners`` receive it.

    ``kind`` is ``read`` (XREADGROUP handed it over), ``acked`` (XACK done),
    ``failed`` (process() raised; the entry stays pending) or ``crashed``.
    """

    kind: str
    consumer: str
    stream: str
    entry_id: str
    fields: dict
    time: float
    error: BaseException | None = None


class ConsumerCrashed(Exception):
    """Raise from ``Consumer.process()`` to end that consumer abruptly, as if its process died."""


# The columns of ordering_frame(), in order.
ORDERING_COLUMNS = ["completion", "consumer", "stream", "entry_id", "key", "read_at", "acked_at",
                    "out_of_order", "key_out_of_order"]


class Consumer(Worker):
    """One member of a consumer group: XREADGROUP, process, XACK, on its own thread.

    Attributes a notebook may change while it runs: ``processing`` (a
    ``ProcessingTime``) and ``paused`` (a paused consumer reads nothing, so
    the others take its share).
    """

    def __init__(self, pool: "ConsumerPool", name: str, processing: ProcessingTime,
                 streams: list[str], seed: int | None = None):
        super().__init__(f"{pool.name}.{name}")
        self.pool = pool
        self.consumer = name
        self.processing = processing
        self.streams = streams
        self.paused = False
        self.rng = random.Random(seed)
        self.client = None
        self.read_from = PendingFirst()
        self._read_at = 0.0
        self._last_read_id: str | None = None
        self._crashed = False

    def on_start(self) -> None:
        self.client = self.pool.r.new_client()
        self._crashed = False
        # Finish our own unacknowledged history before taking new work.
        self.read_from.rewind()

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def on_connection_lost(self, exc: BaseException) -> None:
        # Entries read just before the outage may never have been acked: take them back first.
        self.read_from.rewind()

    def step(self) -> None:
        if self.paused:
            self.sleep(0.05)
            return
        batch = self.read()
        self.read_from.advance(self._last_read_id)
        # A stop() asked for mid-batch still lets the batch in hand finish; a crash does not.
        if self.pool.ack_mode == "batch":
            self.handle_batch(batch)
            return
        for stream, entries in batch:
            for entry_id, fields in entries:
                if self._crashed:
                    return
                self.handle(stream, entry_id, fields)

    def handle_batch(self, batch: list) -> None:
        """Process every entry of the batch, then one ``XACK stream group id ...`` per stream for
        those that succeeded. A crash mid-batch acks nothing: the finished ones run again."""
        # No processing time and no override of process(): nothing to do per entry.
        idle = type(self).process is Consumer.process and self.processing.mean == 0
        for stream, entries in batch:
            if idle:
                done = entries
            else:
                done = []
                for entry_id, fields in entries:
                    if self._crashed:
                        return
                    if self.work(stream, entry_id, fields):
                        done.append((entry_id, fields))
            if self._crashed:
                return
            if done:
                self.ack_many(stream, [entry_id for entry_id, _ in done])
                self.pool._completed_many(self, stream, done, self._read_at, time.time())

    def read(self) -> list:
        """One ``XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS s... <id>``.

        ``>`` asks for new entries; an ID (``0`` at start) replays this
        consumer's own pending entries after that ID, without blocking.
        """
        pool = self.pool
        block = None if self.read_from.replaying else pool.block_ms
        reply = self.client.xreadgroup(pool.group, self.consumer,
                                       {s: self.read_from.position for s in self.streams},
                                       count=pool.count, block=block)
        now = time.time()
        self._last_read_id = next((entries[-1][0] for _, entries in reversed(reply or []) if entries), None)
        # The PEL can list entries deleted from the stream: they come back with no fields
        # (redis-py 8 gives {}, older versions None). Nothing to process: ack them so the
        # PEL does not keep them for ever.
        for stream, entries in reply or []:
            for i, f in entries:
                if not f:
                    self.client.xack(stream, pool.group, i)
        batch = [(stream, [(i, f) for i, f in entries if f]) for stream, entries in reply or []]
        batch = [(stream, entries) for stream, entries in batch if entries]
        if pool.listeners:  # events cost time per entry: build them only for someone listening
            for stream, entries in batch:
                for entry_id, fields in entries:
                    pool._emit(Event("read", self.consumer, stream, entry_id, fields, now))
        self._read_at = now
        return batch

    def handle(self, stream: str, entry_id: str, fields: dict) -> None:
        """Process one entry and ``XACK`` it; a failure leaves it pending."""
        if not self.work(stream, entry_id, fields):
            return
        self.ack(stream, entry_id)
        self.pool._completed(self, stream, entry_id, fields, self._read_at, time.time())

    def work(self, stream: str, entry_id: str, fields: dict) -> bool:
        """``process()`` one entry; True if it succeeded. A failure or a crash is recorded here."""
        try:
            self.process(entry_id, fields)
        except ConsumerCrashed as exc:
            self._crashed = True
            self.status = "crashed"
            self.error = exc
            self._stop_event.set()
            self.pool._emit(Event("crashed", self.consumer, stream, entry_id, fields, time.time(), exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a failed entry stays pending; the event says why
            self.pool._failed(self, stream, entry_id, fields, exc)
            return False
        return True

    def process(self, entry_id: str, fields: dict) -> None:
        """The work itself: here, only time passing. Override (or wrap) to inject failures."""
        seconds = self.processing.sample(self.rng)
        if seconds > 0:
            # A plain sleep, not self.sleep(): stop() lets the current entry finish.
            time.sleep(seconds)

    def ack(self, stream: str, entry_id: str) -> int:
        """``XACK stream group id``: the entry leaves the pending entries list."""
        return self.client.xack(stream, self.pool.group, entry_id)

    def ack_many(self, stream: str, entry_ids: list[str]) -> int:
        """``XACK stream group id1 id2 ...``: one round trip for a whole batch."""
        return self.client.xack(stream, self.pool.group, *entry_ids)


#: ``ConsumerPool(ack=...)``: one XACK per entry as it finishes, or one per batch.
ACK_MODES = ("entry", "batch")

#: One pool per name: starting a pool stops an older one of the same name (a re-run cell).
_pools: Registry["ConsumerPool"] = Registry(lambda old: old.stop())


class ConsumerPool:
    """N consumers of one group on one stream, with exact counts and a bounded record of completions.

    ``start_id`` is where a new group begins: ``"$"`` (only entries added from
    now on) or ``"0"`` (the whole stream). ``processing`` is a mode of ``MODES``
    or a ``ProcessingTime`` for every consumer; ``seconds`` is its (mean) time.
    ``key_field`` names the field whose per-key order is tracked (``sensor_id``).

    ``ack="batch"`` acknowledges each batch with one ``XACK`` after processing
    it (see the module docstring for the trade-off); ``"entry"`` (default) acks
    every entry right after its own processing.

    ``route_by_key=True`` with a list of streams gives each consumer one
    stream of its own (partitioning: a key always goes to the same stream, see
    ``keys.partition_of()``), which keeps per-key order.

    Starting a pool stops any running pool of the same ``name`` (default:
    ``pool:<stream>:<group>``), so re-running a notebook cell never doubles the
    consumers.
    """

    def __init__(self, r: Client, stream: "str | Iterable[str]", group: str = "workers",
                 consumers: int = 3, processing: "str | ProcessingTime" = "fixed",
                 seconds: float = 0.002, start_id: str = "$", count: int = 1,
                 block_ms: int = 100, record_cap: int = 5000, key_field: str | None = "sensor_id",
                 route_by_key: bool = False, slow_factor: float = 10, name: str | None = None,
                 consumer_class: type[Consumer] = Consumer, seed: int | None = None,
                 ack: str = "entry"):
        if ack not in ACK_MODES:
            raise ValueError(f"ack must be one of {', '.join(ACK_MODES)} (got {ack!r}): 'entry' acks each "
                             "entry as it finishes (the default), 'batch' acks a batch with one XACK.")
        self.ack_mode = ack
        self._target: int | None = None
        self._target_reached = threading.Event()
        self.r = r
        self.streams = [stream] if isinstance(stream, str) else list(stream)
        if not self.streams:
            raise ValueError("ConsumerPool needs at least one stream key.")
        self.group = group
        self.start_id = start_id
        self.count = int(count)
        self.block_ms = int(block_ms)
        self.key_field = key_field
        self.route_by_key = route_by_key
        self.slow_factor = slow_factor
        self.name = name or f"pool:{self.streams[0]}:{group}"
        self.consumer_class = consumer_class
        self.listeners: list[Callable[[Event], None]] = []
        self._seed = seed
        self._lock = threading.Lock()
        self._records: deque = deque(maxlen=int(record_cap))
        self.processed: Counter = Counter()
        self.failures: Counter = Counter()
        self.consumers: dict[str, Consumer] = {}
        self._next_number = 1
        self.reset_counts()
        if len(self.streams) > 1 and not route_by_key:
            raise ValueError("Several streams need route_by_key=True (one stream per consumer); "
                             "for one shared stream pass its key as a string.")
        if route_by_key and consumers != len(self.streams):
            raise ValueError(f"route_by_key gives each consumer one stream: pass {len(self.streams)} "
                             f"consumers for {len(self.streams)} streams (got {consumers}).")
        plan = (processing_plan(processing, seconds, consumers, slow_factor)
                if isinstance(processing, str) else [_as_processing(processing)] * consumers)
        for model in plan:
            self._new_consumer(model)

    @property
    def stream(self) -> str:
        return self.streams[0]

    # --- the group ------------------------------------------------------------
    def create_group(self) -> bool:
        """``XGROUP CREATE stream group <start_id> MKSTREAM`` on every stream; False if it already existed.

        An existing group (``BUSYGROUP``) is left exactly where it is
        (``groups.ensure_group``): creating it again must never rewind it.
        """
        created = [ensure_group(self.r, stream, self.group, self.start_id) for stream in self.streams]
        return any(created)

    # --- lifecycle ------------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(c.running for c in self.consumers.values())

    def start(self) -> "ConsumerPool":
        """Create the group if needed and start every consumer (stopping an older pool of this name)."""
        _pools.claim(self.name, self)
        self.create_group()
        for c in list(self.consumers.values()):
            c.start()
        return self

    def stop(self, timeout: float = 5) -> "ConsumerPool":
        """Stop every consumer; each finishes the entry in hand and acks it first."""
        for c in list(self.consumers.values()):
            c._stop_event.set()
        for c in list(self.consumers.values()):
            c.stop(timeout)
        return self

    def run_for(self, seconds: float) -> "ConsumerPool":
        """``start()``, wait until ``seconds`` pass or every consumer ends by itself, ``stop()``."""
        self.start()
        try:
            wait_until(lambda: not self.running, seconds)
        finally:
            self.stop()
        return self

    def wait_processed(self, n: int, timeout: float = 60) -> bool:
        """Block until the pool has completed ``n`` entries in total; True if that happened in time.

        Told by the consumers' own threads (no polling, which would take the GIL
        from them): what a benchmark or a test waits on.
        """
        with self._lock:
            self._target = int(n)
            if self.total_processed >= n:
                self._target_reached.set()
            else:
                self._target_reached.clear()
        return self._target_reached.wait(timeout)

    def wait_until_idle(self, timeout: float = 10) -> bool:
        """Wait until the group has caught up: nothing pending and no lag on any of its streams.

        Asks ``XINFO GROUPS`` (and counts the lag itself where the server
        cannot tell, see ``observe.lag_of``). True if that happened within
        ``timeout`` seconds.
        """
        return bool(wait_until(lambda: all(self._caught_up(s) for s in self.streams), timeout, interval=0.05))

    def _caught_up(self, stream: str) -> bool:
        """The group has nothing pending and no lag on ``stream`` (``XINFO GROUPS``, ``XINFO STREAM``)."""
        row = group_info(self.r, stream, self.group)
        if row is None or int(row["pending"]):
            return False
        lag, _ = lag_of(self.r, stream, row, self.r.xinfo_stream(stream))
        return not lag

    # --- changing the pool while it runs ----------------------------------------
    def add_consumer(self, processing: "ProcessingTime | float | None" = None, name: str | None = None) -> str:
        """Add a consumer (started at once if the pool is running); returns its name.

        Redis creates the consumer in the group on its first XREADGROUP.
        """
        if self.route_by_key:
            raise ValueError("With route_by_key each consumer owns one stream; "
                             "add a stream (a partition) instead of a consumer.")
        if processing is None:
            models = [c.processing for c in self.consumers.values()]
            processing = models[-1] if models else ProcessingTime.fixed(0.002)
        c = self._new_consumer(_as_processing(processing), name)
        if self.running:
            c.start()
        return c.consumer

    def remove_consumer(self, name: str | None = None, delete: bool = False) -> str:
        """Stop one consumer (the newest by default); it finishes the entry in hand.

        With ``delete=True`` it is also removed from the group with
        ``XGROUP DELCONSUMER``, which is refused while it still has pending
        entries (deleting it would drop them from the pending entries list).
        """
        if not self.consumers:
            raise ValueError("The pool has no consumer left to remove.")
        name = name or list(self.consumers)[-1]
        c = self._consumer(name)
        c.stop()
        if delete:
            pending = sum(self._pending_of(s, name) for s in c.streams)
            if pending:
                raise ValueError(f"{name} still has {pending} pending entries; claim or ack them "
                                 "before XGROUP DELCONSUMER, or they leave the PEL unprocessed.")
            for s in c.streams:
                self.r.xgroup_delconsumer(s, self.group, name)
        del self.consumers[name]
        return name

    def pause(self, name: str) -> None:
        """Stop one consumer reading (it keeps its thread); the others take its share."""
        self._consumer(name).paused = True

    def resume(self, name: str) -> None:
        self._consumer(name).paused = False

    def set_processing(self, processing: "ProcessingTime | float", consumer: str | None = None) -> None:
        """Give one consumer (or, without ``consumer``, all) a processing time; works while running."""
        targets = [self._consumer(consumer)] if consumer else list(self.consumers.values())
        for c in targets:
            c.processing = _as_processing(processing)

    def set_mode(self, mode: str, seconds: float) -> None:
        """Apply one of ``MODES`` (fixed, random, one-slow) with (mean) time ``seconds`` to the whole pool."""
        plan = processing_plan(mode, seconds, len(self.consumers), self.slow_factor)
        for c, model in zip(self.consumers.values(), plan):
            c.processing = model

    # --- what happened ----------------------------------------------------------
    def reset_counts(self) -> None:
        """Forget the records and counts (the group in Redis is untouched)."""
        with self._lock:
            self._records.clear()
            self.processed.clear()
            self.failures.clear()
            self.total_processed = 0
            self.out_of_order = 0
            self.key_out_of_order = 0
            self._max_id: tuple[int, int] | None = None
            self._max_id_by_key: dict = {}

    def ordering_frame(self, last: int | None = None) -> pd.DataFrame:
        """The recorded completions (the newest ``record_cap``, or the newest ``last``), in completion order.

        Columns: ``completion`` (1, 2, ... over the pool's life), ``consumer``,
        ``stream``, ``entry_id``, ``key`` (value of ``key_field``), ``read_at``
        and ``acked_at`` (Unix seconds), ``position`` (rank of the entry's ID
        among the rows, 0 = oldest entry: its place in the stream) and
        ``out_of_order``: this entry's ID is smaller than an ID completed
        earlier, i.e. a later entry finished first. ``key_out_of_order`` is the
        same test among entries with the same key.
        """
        with self._lock:
            rows = list(self._records)
        if last is not None:
            rows = rows[-last:]
        df = pd.DataFrame(rows, columns=ORDERING_COLUMNS)
        parsed = [ids.parse(i) for i in df["entry_id"]]
        position = [0] * len(parsed)
        for rank, row in enumerate(sorted(range(len(parsed)), key=parsed.__getitem__)):
            position[row] = rank
        df.insert(4, "position", pd.Series(position, dtype="int64"))
        return df

    def summary(self) -> pd.DataFrame:
        """One row per consumer: processing time, paused, processed, failed, status."""
        rows = [{"consumer": n, "processing": str(c.processing), "paused": c.paused,
                 "processed": self.processed.get(n, 0), "failed": self.failures.get(n, 0),
                 "status": c.status} for n, c in self.consumers.items()]
        return pd.DataFrame(rows, columns=["consumer", "processing", "paused", "processed", "failed", "status"])

    # --- internals ------------------------------------------------------------------
    def _new_consumer(self, model: ProcessingTime, name: str | None = None) -> Consumer:
        if name is None:
            while f"c{self._next_number}" in self.consumers:
                self._next_number += 1
            name = f"c{self._next_number}"
            self._next_number += 1
        elif name in self.consumers:
            raise ValueError(f"The pool already has a consumer named {name!r}.")
        index = len(self.consumers)
        streams = [self.streams[index]] if self.route_by_key else self.streams
        seed = None if self._seed is None else self._seed * 1000 + index
        c = self.consumer_class(self, name, model, streams, seed=seed)
        self.consumers[name] = c
        return c

    def _consumer(self, name: str) -> Consumer:
        try:
            return self.consumers[name]
        except KeyError:
            raise ValueError(f"No consumer {name!r} in this pool; it has: "
                             f"{', '.join(self.consumers) or 'none'}.") from None

    def _pending_of(self, stream: str, name: str) -> int:
        summary = self.r.xpending(stream, self.group)
        return sum(int(c["pending"]) for c in summary.get("consumers") or [] if c["name"] == name)

    def _emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    def _record(self, name: str, stream: str, entry_id: str, fields: dict,
                read_at: float, acked_at: float) -> None:
        """Count one completion and whether it came out of order, overall and for its key.

        Called with ``self._lock`` held.
        """
        parsed = ids.parse(entry_id)
        key = fields.get(self.key_field) if self.key_field else None
        self.total_processed += 1
        late = self._max_id is not None and parsed < self._max_id
        if not late:
            self._max_id = parsed
        key_max = self._max_id_by_key.get(key)
        key_late = key_max is not None and parsed < key_max
        if not key_late:
            self._max_id_by_key[key] = parsed
        self.out_of_order += late
        self.key_out_of_order += key_late
        self._records.append((self.total_processed, name, stream, entry_id, key,
                              read_at, acked_at, late, key_late))

    def _completed(self, c: Consumer, stream: str, entry_id: str, fields: dict,
                   read_at: float, acked_at: float) -> None:
        with self._lock:
            self._record(c.consumer, stream, entry_id, fields, read_at, acked_at)
            self.processed[c.consumer] += 1
            if self._target is not None and self.total_processed >= self._target:
                self._target_reached.set()
        if self.listeners:
            self._emit(Event("acked", c.consumer, stream, entry_id, fields, acked_at))

    def _completed_many(self, c: Consumer, stream: str, done: list, read_at: float,
                        acked_at: float) -> None:
        """``_completed`` for a batch acked at once: one lock for all of it."""
        key_field = self.key_field
        first = ids.parse(done[0][0])
        with self._lock:
            if self._max_id is None or first >= self._max_id:
                # One stream's batch is in ID order and starts after everything completed so far,
                # so no entry in it is late, overall or for its key: only the last ID per key matters.
                last_by_key: dict = {}
                n = self.total_processed
                name = c.consumer
                append = self._records.append
                for entry_id, fields in done:
                    key = fields.get(key_field) if key_field else None
                    last_by_key[key] = entry_id
                    n += 1
                    append((n, name, stream, entry_id, key, read_at, acked_at, False, False))
                self.total_processed = n
                self._max_id = ids.parse(done[-1][0])
                for key, entry_id in last_by_key.items():
                    self._max_id_by_key[key] = ids.parse(entry_id)
                done_in_order = True
            else:
                done_in_order = False
            for entry_id, fields in ([] if done_in_order else done):
                self._record(c.consumer, stream, entry_id, fields, read_at, acked_at)
            self.processed[c.consumer] += len(done)
            if self._target is not None and self.total_processed >= self._target:
                self._target_reached.set()
        if self.listeners:
            for entry_id, fields in done:
                self._emit(Event("acked", c.consumer, stream, entry_id, fields, acked_at))

    def _failed(self, c: Consumer, stream: str, entry_id: str, fields: dict, exc: BaseException) -> None:
        with self._lock:
            self.failures[c.consumer] += 1
        self._emit(Event("failed", c.consumer, stream, entry_id, fields, time.time(), exc))
