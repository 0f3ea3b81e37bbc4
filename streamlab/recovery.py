"""Failure and recovery in a consumer group: find stuck work, take it over, dead-letter poison, absorb duplicates.

Lesson 04 uses these helpers; each names the Redis command underneath.

- ``pending_summary`` / ``pending_entries``: ``XPENDING`` (summary and extended
  form, with ``IDLE`` and a consumer filter) as pandas tables.
- ``claim`` and ``race_claim``: ``XCLAIM ... min-idle-time``, and two rescuers
  racing for the same entries (only one gets each).
- ``autoclaim_pages`` / ``autoclaim_all``: ``XAUTOCLAIM`` in a loop, following
  its cursor until it comes back as ``0-0``.
- ``dead_letter``: copy an entry to a dead-letter stream (with its original ID
  and delivery count) and ``XACK`` it, in one atomic step.
- ``IdempotencyGuard``: ``SET processed:<id> NX`` so that an entry delivered
  twice is applied once.
- ``Reaper``: a worker that runs the ``XAUTOCLAIM`` loop for ever, retries what
  it claims and dead-letters entries delivered too often.
- ``GracefulShutdown``: turn SIGTERM/SIGINT into "finish the entry in hand,
  then stop" for consumer scripts; ``SignalStop`` is the lock-free flag its
  signal handler (and ``streamlab consume``'s) sets.

``delivery_counts``, ``autoclaim_pages``, ``AutoclaimPage`` and ``dead_letter``
live in ``pel`` (no pandas, so the terminal programs start and exit fast) and
``SignalStop`` in ``programs``; they are imported here, so ``recovery.X`` works
for all of them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import redis

from .backend import Client
from .consumers import Event
from .pel import (DEAD_LETTER_FIELDS, AutoclaimPage, autoclaim_pages,  # noqa: F401 - part of this API
                  dead_letter, delivery_counts)
from .programs import SignalStop  # noqa: F401 - part of this API
from .workers import Worker

PENDING_COLUMNS = ["entry_id", "consumer", "idle_ms", "deliveries"]


# --- looking at the pending entries list (PEL) ---------------------------------------


def pending_summary(r: redis.Redis, stream: str, group: str) -> pd.DataFrame:
    """``XPENDING stream group``: one row per consumer with its number of pending entries.

    Rows are sorted by consumer name (real Redis sorts them, fakeredis lists them
    in creation order). ``df.attrs`` keeps the rest of the reply: ``total``,
    ``smallest`` and ``greatest`` pending ID.
    """
    reply = r.xpending(stream, group)
    rows = [{"consumer": c["name"], "pending": int(c["pending"])} for c in reply.get("consumers") or []]
    df = pd.DataFrame(rows, columns=["consumer", "pending"]).sort_values("consumer", ignore_index=True)
    df.attrs.update(total=int(reply["pending"]), smallest=reply.get("min"), greatest=reply.get("max"))
    return df


def pending_entries(r: redis.Redis, stream: str, group: str, consumer: str | None = None,
                    min_idle_ms: int | None = None, start: str = "-", end: str = "+",
                    count: int = 100) -> pd.DataFrame:
    """``XPENDING stream group [IDLE ms] start end count [consumer]``: one row per pending entry.

    Columns: ``entry_id``, ``consumer`` (who holds it), ``idle_ms`` (since it
    was last delivered) and ``deliveries`` (how many times it was delivered).
    """
    rows = r.xpending_range(stream, group, min=start, max=end, count=count,
                            consumername=consumer, idle=min_idle_ms)
    return pd.DataFrame(
        [(p["message_id"], p["consumer"], int(p["time_since_delivered"]), int(p["times_delivered"]))
         for p in rows],
        columns=PENDING_COLUMNS,
    )


# --- taking work over --------------------------------------------------------------


def claim(r: redis.Redis, stream: str, group: str, consumer: str, min_idle_ms: int,
          ids: list[str]) -> list[str]:
    """``XCLAIM stream group consumer min-idle-time id...``: the IDs this call took over.

    An entry is taken only if it has been idle for at least ``min_idle_ms``;
    claiming resets its idle time and adds one to its delivery count, which is
    why a second rescuer asking a moment later gets nothing.
    """
    if not ids:
        return []
    return [entry_id for entry_id, _ in r.xclaim(stream, group, consumer, int(min_idle_ms), list(ids))]


def race_claim(r: Client, stream: str, group: str, ids: list[str], min_idle_ms: int,
               claimers: tuple[str, ...] = ("rescuer-a", "rescuer-b")) -> pd.DataFrame:
    """Several rescuers send the same ``XCLAIM`` at the same moment, each from its own thread and client.

    Returns one row per claimer: how many and which entries its ``XCLAIM`` got.
    With a ``min_idle_ms`` above zero each entry goes to exactly one of them;
    with 0 the guard is off and a later claim steals from an earlier one.
    """
    barrier = threading.Barrier(len(claimers))
    results: dict[str, list[str] | BaseException] = {}

    def run(name: str) -> None:
        client = r.new_client()
        try:
            barrier.wait(timeout=5)
            results[name] = claim(client, stream, group, name, min_idle_ms, ids)
        except Exception as exc:  # noqa: BLE001 - reported below, on the caller's thread
            results[name] = exc
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(name,), name=f"streamlab-claim:{name}")
               for name in claimers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    for name in claimers:
        if isinstance(results.get(name), BaseException):
            raise results[name]
    return pd.DataFrame([{"claimer": name, "claimed": len(results.get(name, [])),
                          "ids": list(results.get(name, []))} for name in claimers])


def autoclaim_all(r: redis.Redis, stream: str, group: str, consumer: str, min_idle_ms: int,
                  count: int = 100) -> tuple[list[tuple[str, dict]], list[str]]:
    """Every entry idle for ``min_idle_ms`` or more, claimed for ``consumer`` (``XAUTOCLAIM`` loop); plus the deleted IDs."""
    claimed: list[tuple[str, dict]] = []
    deleted: list[str] = []
    for page in autoclaim_pages(r, stream, group, consumer, min_idle_ms, count):
        claimed += page.claimed
        deleted += page.deleted
    return claimed, deleted


# --- idempotency ------------------------------------------------------------------------

# SET NX says whether this is the first time; the effect happens only then, and
# both happen inside one script, so a crash cannot separate them.
_APPLY_ONCE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('INCRBY', KEYS[2], ARGV[3])
  return 1
end
redis.call('INCR', KEYS[3])
return 0
"""


class IdempotencyGuard:
    """Makes at-least-once delivery safe: each entry's effect is applied once, however often it arrives.

    ``first_time(id)`` is ``SET <prefix>processed:<id> <who> NX EX ttl``: True
    the first time, False for every duplicate. ``apply(id, total_key, amount)``
    records the ID *and* applies an effect (``INCRBY total_key amount``) in one
    Lua script, so a crash can never leave one done without the other.
    Duplicates turned away are counted in Redis under ``<prefix>absorbed``.

    ``first_time`` sets the mark *before* the caller's work runs, so it is only
    safe in front of work that is itself idempotent: if the work is an effect
    outside Redis (a card charge, a database write, an email) and the process
    dies between the mark and the effect, every redelivery is turned away and
    the work is lost. For such effects, keep the idempotency where the effect
    lands (a unique constraint, the payment API's idempotency key), or set a
    short-lived "in progress" mark and the lasting mark only after the effect
    succeeded. ``apply`` has no such gap: mark and effect are one script.

    The markers expire after ``ttl`` seconds. Redis puts no bound on how late a
    redelivery can come (an entry stays pending until acked), so choose ``ttl``
    longer than the oldest entry you will ever process again, and dead-letter
    older ones (lesson 04, "How long to keep the marks").
    """

    def __init__(self, r: redis.Redis, prefix: str, ttl: int = 24 * 3600):
        self.r = r
        self.prefix = prefix
        self.ttl = int(ttl)
        self.absorbed_key = prefix + "absorbed"
        self._apply_once = r.register_script(_APPLY_ONCE_LUA)

    def marker(self, entry_id: str) -> str:
        return f"{self.prefix}processed:{entry_id}"

    def first_time(self, entry_id: str, who: str = "1", client: redis.Redis | None = None) -> bool:
        """``SET processed:<id> who NX EX ttl``: True if nobody recorded this entry before.

        The mark is set now, before any work: never call this in front of an
        effect outside Redis that is not idempotent itself (see the class docstring).
        """
        c = client or self.r
        if c.set(self.marker(entry_id), who, nx=True, ex=self.ttl):
            return True
        c.incr(self.absorbed_key)
        return False

    def apply(self, entry_id: str, total_key: str, amount: int, who: str = "1",
              client: redis.Redis | None = None) -> bool:
        """Record ``entry_id`` and ``INCRBY total_key amount``, both or neither; False for a duplicate."""
        c = client or self.r
        return bool(self._apply_once(keys=[self.marker(entry_id), total_key, self.absorbed_key],
                                     args=[who, self.ttl, int(amount)], client=c))

    def absorbed(self) -> int:
        """Duplicates turned away so far (``GET <prefix>absorbed``)."""
        return int(self.r.get(self.absorbed_key) or 0)

    def seen(self, entry_id: str) -> bool:
        return bool(self.r.exists(self.marker(entry_id)))


# --- the reaper --------------------------------------------------------------------------

Handler = Callable[[str, dict, int], None]


def _no_work(entry_id: str, fields: dict, deliveries: int) -> None:
    """The default retry: nothing to do, so a claimed entry is simply acknowledged."""


class Reaper(Worker):
    """Claims entries left idle by crashed or stuck consumers, retries them, and dead-letters poison.

    One step is one ``XAUTOCLAIM`` page::

        XAUTOCLAIM stream group <consumer> <min_idle_ms> <cursor> COUNT <count>
        XPENDING stream group <id> <id> 1        # per claimed entry: its delivery count
        then, per entry:
          deliveries > max_deliveries  -> dead_letter(): XACK + XADD to the dead-letter stream
          otherwise                    -> handler(id, fields, deliveries), then XACK

    A handler that raises leaves the entry pending (in the reaper's own PEL),
    so after ``min_idle_ms`` the next pass claims it again and its delivery
    count grows until it is dead-lettered. When the cursor comes back to
    ``0-0`` the reaper waits ``pause`` seconds before scanning again.
    ``listeners`` receive ``Event``s: claimed, acked, acked-by-someone-else
    (``XACK`` answered 0), failed, dead-lettered, deleted.
    """

    def __init__(self, r: Client, stream: str, group: str, consumer: str = "reaper",
                 min_idle_ms: int = 1000, max_deliveries: int = 5, count: int = 100,
                 dead_letter_stream: str | None = None, handler: Handler = _no_work,
                 pause: float | None = None, name: str | None = None):
        if int(min_idle_ms) < 0:
            raise ValueError(f"min_idle_ms must be 0 or more milliseconds, got {min_idle_ms!r}.")
        if int(max_deliveries) < 1:
            raise ValueError(f"max_deliveries must be 1 or more, got {max_deliveries!r}.")
        super().__init__(name or f"reaper:{stream}:{group}")
        self.r = r
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.min_idle_ms = int(min_idle_ms)
        self.max_deliveries = int(max_deliveries)
        self.count = int(count)
        self.dead_letter_stream = dead_letter_stream or f"{stream}:dead"
        self.handler = handler
        self.pause = pause
        self.listeners: list[Callable[[Event], None]] = []
        self.client = None
        self.cursor = "0-0"
        self.passes = 0
        self.claimed = 0
        self.acked = 0
        self.dead_lettered = 0
        self.failed = 0
        self.deleted: list[str] = []

    def on_start(self) -> None:
        self.client = self.r.new_client()

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def step(self) -> None:
        page = self.reap_page()
        if page.next_cursor == "0-0":
            self.passes += 1
            pause = self.pause if self.pause is not None else min(self.min_idle_ms / 2000, 0.5)
            self.sleep(max(pause, 0.005))

    def reap_page(self) -> AutoclaimPage:
        """One ``XAUTOCLAIM`` page from the current cursor, and what to do with each entry it claimed."""
        c = self.client or self.r
        page = next(autoclaim_pages(c, self.stream, self.group, self.consumer, self.min_idle_ms,
                                    self.count, start=self.cursor))
        self.cursor = page.next_cursor
        now = time.time()
        for entry_id in page.deleted:
            self.deleted.append(entry_id)
            self._emit("deleted", entry_id, {}, now)
        if not page.claimed:
            return page
        counts = delivery_counts(c, self.stream, self.group, [i for i, _ in page.claimed])
        for entry_id, fields in page.claimed:
            # Another consumer may have acked it between our XAUTOCLAIM and XPENDING.
            deliveries = counts.get(entry_id, 0)
            self.claimed += 1
            self._emit("claimed", entry_id, fields, now, deliveries=deliveries)
            if deliveries > self.max_deliveries:
                copy_id = dead_letter(c, self.stream, self.group, entry_id, fields,
                                      self.dead_letter_stream, deliveries, self.consumer,
                                      f"delivered {deliveries} times (limit {self.max_deliveries})")
                if copy_id:
                    self.dead_lettered += 1
                    self._emit("dead-lettered", entry_id, fields, time.time(), deliveries=deliveries)
                continue
            self.retry(c, entry_id, fields, deliveries)
        return page

    def retry(self, c: redis.Redis, entry_id: str, fields: dict, deliveries: int) -> None:
        """Run the handler on a claimed entry and ``XACK`` it; an exception leaves it pending."""
        try:
            self.handler(entry_id, fields, deliveries)
        except Exception as exc:  # noqa: BLE001 - the entry stays pending; the event says why
            self.failed += 1
            self._emit("failed", entry_id, fields, time.time(), exc, deliveries)
            return
        done = c.xack(self.stream, self.group, entry_id)
        self.acked += done
        self._emit("acked" if done else "acked-by-someone-else", entry_id, fields, time.time(),
                   deliveries=deliveries)

    def _emit(self, kind: str, entry_id: str, fields: dict, t: float,
              error: BaseException | None = None, deliveries: int = 0) -> None:
        event = ReaperEvent(kind, self.consumer, self.stream, entry_id, fields, t, error, deliveries)
        for listener in list(self.listeners):
            listener(event)


@dataclass(frozen=True)
class ReaperEvent(Event):
    """An ``Event`` from the reaper, with the delivery count ``XPENDING`` gave for the entry."""

    deliveries: int = 0


# --- graceful shutdown ---------------------------------------------------------------------


class GracefulShutdown:
    """Turn SIGTERM/SIGINT into an orderly stop: finish the entry in hand, stop reading, leave nothing half-done.

    In a consumer script::

        shutdown = GracefulShutdown(pool)      # anything with a stop() method
        with shutdown.installed():             # SIGTERM / Ctrl-C now request a shutdown
            pool.start()
            shutdown.wait()                    # returns once a signal (or request()) came

    ``request()`` does what a signal does, which is how a notebook (whose
    Ctrl-C belongs to Jupyter) can try it. Stopping a ``ConsumerPool`` lets each
    consumer finish and ``XACK`` the batch it holds; nothing new is read.

    The signal handler only sets a lock-free flag (``SignalStop``, shared with
    ``streamlab consume``): stopping the workers joins threads and sets
    ``threading.Event``s, which take locks the interrupted main thread may hold.
    ``wait()`` sees the flag and does the stopping on the main thread, outside
    the handler.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, *stoppables):
        self.stoppables = list(stoppables)
        self.requested = SignalStop()
        self.reason: str | None = None
        self._stopped = False
        self._previous: dict = {}

    def request(self, reason: str = "requested") -> None:
        """Stop everything registered (each finishes its current entry) and wake ``wait()``."""
        self._flag(reason)
        self._stop_all()

    def _flag(self, reason: str) -> None:
        if not self.requested.is_set():
            self.reason = reason
        self.requested.set()

    def _stop_all(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for s in self.stoppables:
            s.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a shutdown is requested, then stop everything registered; True if it was."""
        if self.requested.wait(timeout):
            self._stop_all()
            return True
        return False

    def _on_signal(self, signum, frame) -> None:
        # A handler interrupts the main thread anywhere: set the flag and nothing else.
        self._flag(signal.Signals(signum).name)

    def install(self) -> "GracefulShutdown":
        """Route SIGTERM and SIGINT to the flag ``wait()`` watches (main thread only); ``uninstall()`` restores the old handlers."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signal handlers can only be installed from the main thread.")
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @contextlib.contextmanager
    def installed(self):
        """Context manager: handlers in place inside the ``with`` block, the old ones back after it."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()
