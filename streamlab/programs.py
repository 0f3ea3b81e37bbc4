"""The article's sensor pipeline as programs: ``streamlab produce``, ``consume`` and ``reap``.

The article runs ``python producer.py sensor1`` in several terminals and a
walrus consumer-group program in others. These are the same programs, built
to run for days on a real deployment, not only for an hour in a workshop.

``produce SENSOR``
    ``XADD`` a reading (``sensor_id``, ``temp``, ``humidity``, ``seq``, ``sent_at``)
    at ``--rate`` per second (on ``Producer``'s clock, ``producer.Schedule``),
    ``--count`` times or until Ctrl-C. A lost
    connection or a full server (``OOM``) pauses it: it retries the same
    reading with backoff, and after a lost reply it first looks whether the
    reading already landed (``XREVRANGE``), so a retry does not add it twice.

``consume GROUP CONSUMER``
    joins ``GROUP`` (``XGROUP CREATE ... MKSTREAM``, once: unlike the article's
    program it never rewinds an existing group with ``SETID``), takes back its
    own pending entries first (``XREADGROUP ... 0``), then new ones (``>``),
    as ``ConsumerPool``'s consumers do (``pending_first.PendingFirst``),
    processes each and ``XACK``s it. Around that loop:

    - *Deleted while pending*: an entry removed (``XDEL``/trim) after it was
      delivered comes back with no fields (redis-py 8 gives ``{}``, older
      versions ``None``): it is acked, reported once, not processed or counted.
    - *Delivery limit*: an entry whose processing fails (an undecodable value,
      a refused alert write) stays pending and is read again from the
      consumer's own pending list after ``retry_after`` seconds; each read is a
      delivery (``XPENDING`` counts them). Past ``max_deliveries`` it is moved
      to the dead-letter stream (``recovery.dead_letter``) and the consumer
      carries on. The same check runs on the pending list re-read at start, so
      a poison entry cannot stop a consumer on every restart (lesson 04).
      Values are read as bytes and decoded per entry, so one bad entry cannot
      spoil the read of a whole batch.
    - *Alerts*: with ``--alert-above T`` a reading above ``T`` is copied to the
      alerts stream by ``ALERT_AND_ACK`` (a Lua script, see ``alert_and_ack``).
      The alerting group is a group like any other: if its consumer dies, its
      pending readings wait unalerted until it restarts under its name or
      ``reap`` (with the same ``--alert-above``) takes them over.
    - *Stopping*: Ctrl-C or SIGTERM stops reading; the batch in hand is
      finished and acked, then the program exits 0. A second signal stops after
      the entry in hand; the rest stays in this consumer's pending list and is
      taken back first at the next start. Reads block in slices of at most
      ``BLOCK_SLICE_MS``, so a stop is seen within a second even with ``--block 0``.
    - *Server restarts*: a lost connection (refused, reset, ``LOADING``) is
      retried with backoff (0.1 s doubling to 2 s, as ``workers.Worker``);
      after it comes back the consumer re-reads its own pending list, because
      an ``XACK`` may have been lost with the connection.
    - *Names*: two live processes under one name share one pending list and
      process the same entries twice. A start is refused when ``XINFO
      CONSUMERS`` shows the name active in the last ``NAME_GUARD_MS``
      (``check_name_free``) or another live process holds its lease
      (``NameLease``: a key renewed every second by a heartbeat thread). A
      clean stop leaves nothing pending, releases the lease and retires the
      name (``XGROUP DELCONSUMER`` when its pending list is empty), so it can
      be started again at once; after a crash, ``NAME_GUARD_MS`` later.

``reap GROUP``
    the lesson 04 reaper as a command (``reap``): claims work left idle by
    consumers that never came back (``XAUTOCLAIM``), processes it as
    ``consume`` would (dead-lettering what is over the delivery limit), and
    retires consumers that are idle with an empty pending list.
"""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import redis

from . import validate
from .explain import is_out_of_memory
from .groups import ensure_group
from .pel import autoclaim_pages, dead_letter, delivery_counts
from .pending_first import PendingFirst
from .producer import MAX_RATE, Schedule, sensor_reading
from .text import plural
from .waiting import wait_until
from .workers import BACKOFF_MAX, BACKOFF_START

if TYPE_CHECKING:
    from .backend import Client

DEFAULT_STREAM = "lesson07:sensors"
DEFAULT_ALERTS = "lesson07:alerts"
#: An entry delivered more often than this is dead-lettered instead of processed again.
MAX_DELIVERIES = 5
#: Seconds before a consumer re-reads its own pending list to retry a failed entry.
RETRY_AFTER = 1.0
#: Longest single ``XREADGROUP ... BLOCK``: a stop signal is seen between two reads.
BLOCK_SLICE_MS = 500
#: A consumer name XINFO CONSUMERS shows active within this many ms counts as in use; also
#: how long a crashed process's name lease outlives it.
NAME_GUARD_MS = 5_000
#: Longest field value printed whole; longer ones are cut with their length shown.
SHOWN_CHARS = 60
#: How far back a producer looks for a reading whose XADD reply was lost.
LANDED_LOOKBACK = 1000

#: Errors that mean "no server right now": refused, reset, timed out, still loading its data;
#: on a Redis Cluster also a shard that is down or failing over (``CLUSTERDOWN``, ``TRYAGAIN``,
#: a slot no live node serves): they pass once the shard or its replica answers again.
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError,
                     redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
                     redis.exceptions.SlotNotCoveredError)


# --- stopping -----------------------------------------------------------------------


class SignalStop:
    """A stop flag a signal handler may set: ``set()``, ``is_set()``, ``wait(timeout)``, ``count``.

    Not a ``threading.Event``: its ``set()`` takes a lock (a ``Condition``),
    and a signal handler runs on the main thread between two bytecodes, maybe
    while that thread is inside ``set()`` or ``wait()`` holding the same lock;
    a second Ctrl-C arriving then runs the handler again, which waits for ever
    on a lock its own thread holds. A plain attribute assignment takes no lock,
    so it cannot deadlock. ``wait()`` polls the flag every ``POLL`` seconds;
    ``count`` is how many times ``set()`` was called (the first signal may mean
    "finish what you hold", the second "stop now").
    """

    POLL = 0.05

    def __init__(self) -> None:
        self._flag = False
        self.count = 0

    def set(self) -> None:
        self.count += 1
        self._flag = True

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        return bool(wait_until(self.is_set, math.inf if timeout is None else timeout, self.POLL))


def stop_on_signals() -> SignalStop:
    """A stop flag set by SIGINT/SIGTERM (``SignalStop``: lock-free, safe in a handler).

    ``stop.count`` says how many signals came: the consumer finishes its batch
    after the first and stops after the entry in hand at the second.
    """
    stop = SignalStop()

    def handler(signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _signals(stop) -> int:
    """How many stop requests ``stop`` has seen (a ``threading.Event`` counts as one)."""
    return getattr(stop, "count", 1 if stop.is_set() else 0)


class _Backoff:
    """Retry pacing after a failure: 0.1 s doubling to 2 s, reset by ``ok()``; says once that it is waiting."""

    def __init__(self, stop, out: Callable[[str], None], who: str):
        self.stop, self.out, self.who = stop, out, who
        self.delay = BACKOFF_START
        self.trouble: str | None = None

    def failed(self, what: str) -> bool:
        """Report the trouble (once per outage), wait; True if a stop came meanwhile."""
        if self.trouble is None:
            self.out(f"{self.who}: {what}; retrying every {BACKOFF_MAX:g} s at most until it "
                     "answers (Ctrl-C stops)")
        self.trouble = what
        stopped = self.stop.wait(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX)
        return bool(stopped)

    def ok(self) -> bool:
        """Back to normal; True if there was an outage before (the caller may say so)."""
        was = self.trouble is not None
        if was:
            self.out(f"{self.who}: Redis answers again; carrying on")
        self.trouble, self.delay = None, BACKOFF_START
        return was


def connection_trouble(exc: BaseException) -> str:
    """One line for a lost server, in terminal words."""
    if isinstance(exc, redis.BusyLoadingError):
        return "the Redis server is loading its data after a restart"
    if isinstance(exc, (redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
                        redis.exceptions.SlotNotCoveredError)):
        return f"a Redis Cluster shard is down or failing over ({exc})"
    return f"lost the connection to Redis ({exc})"


OUT_OF_MEMORY = ("the Redis server is out of memory (maxmemory reached) and refuses writes; "
                 "free memory (trim streams with XTRIM, delete keys, `streamlab reset` for the "
                 "course's keys) or raise maxmemory")


# --- checking options ----------------------------------------------------------------


# The CLI's wording of a failed check (``validate`` fills in ``{what}`` and the rest).
NOT_A_NUMBER = "{what} must be a number, got {value!r}."
NOT_FINITE = "{what} must be a finite number, got {value!r}."
NOT_WHOLE = "{what} must be a whole number of {low} or more, got {value!r}."


def check_produce_options(rate, count) -> None:
    """``ValueError`` (with what to do) for a rate that is not in (0, 10,000] or a count below 1."""
    value = validate.number(rate, NOT_A_NUMBER, "--rate", outside=NOT_FINITE)
    if not 0 < value <= MAX_RATE:
        raise ValueError(f"--rate must be above 0 and at most {MAX_RATE:,} readings per second, "
                         f"got {rate!r}. Example: --rate 5.")
    if count is not None:
        validate.whole(count, NOT_WHOLE, "--count (readings to send)", low=1)


def check_consume_options(group: str, consumer: str, count, block_ms, work_seconds=0.0,
                          idle_exit=None, alert_above=None, max_deliveries=MAX_DELIVERIES,
                          retry_after=RETRY_AFTER, name_guard=None) -> None:
    """``ValueError`` for any option ``consume`` cannot run with, before anything touches Redis."""
    for what, name in (("GROUP", group), ("CONSUMER", consumer)):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{what} must be a non-empty name, got {name!r}.")
    validate.whole(count, NOT_WHOLE, "--count (entries per read)", low=1)
    validate.whole(block_ms, NOT_WHOLE, "--block (milliseconds; 0 waits for ever)", low=0)
    validate.whole(max_deliveries, NOT_WHOLE, "--max-deliveries", low=1)
    for what, value in (("--work", work_seconds), ("--retry-after", retry_after),
                        ("--idle-exit", idle_exit), ("--name-guard", name_guard)):
        if value is not None and validate.number(value, NOT_A_NUMBER, what, outside=NOT_FINITE) < 0:
            raise ValueError(f"{what} must be 0 or more seconds, got {value!r}.")
    if alert_above is not None:
        validate.number(alert_above, NOT_A_NUMBER, "--alert-above", outside=NOT_FINITE)


def check_reap_options(min_idle_ms, max_deliveries, alert_above=None, every=None) -> None:
    """``ValueError`` for any option ``reap`` cannot run with (``every``: seconds between passes)."""
    if not (validate.is_whole(min_idle_ms, low=0) and validate.is_whole(max_deliveries, low=1)):
        raise ValueError("--min-idle must be 0 or more milliseconds and --max-deliveries 1 or "
                         f"more; got {min_idle_ms} and {max_deliveries}.")
    if every is not None and not 0 < every < math.inf:
        raise ValueError(f"--every must be a number of seconds above 0, got {every}.")
    if alert_above is not None:
        validate.number(alert_above, NOT_A_NUMBER, "--alert-above", outside=NOT_FINITE)


# --- produce --------------------------------------------------------------------------


def produce(r: redis.Redis, sensor: str, stream: str = DEFAULT_STREAM, rate: float = 1.0,
            count: int | None = None, stop=None, out: Callable[[str], None] = print) -> int:
    """``XADD stream * sensor_id ... temp ... humidity ...`` at ``rate`` per second; returns how many were sent.

    A lost server or an ``OOM`` refusal pauses the schedule and retries the
    same reading (see the module docstring); a stop during the wait ends it.
    """
    check_produce_options(rate, count)
    stop = stop if stop is not None else SignalStop()
    backoff = _Backoff(stop, out, sensor)
    schedule = Schedule(float(rate))
    sent = 0
    while not stop.is_set() and (count is None or sent < count):
        fields = sensor_reading(sensor, sent + 1)
        fields.update(seq=str(sent + 1), sent_at=f"{time.time():.6f}")
        entry_id = _send(r, stream, fields, stop, backoff)
        if entry_id is None:
            break  # stopped while the server was away: this reading was never sent
        sent += 1
        out(f"{sensor}: sent {entry_id} temp={fields['temp']} humidity={fields['humidity']}")
        if backoff.ok():
            schedule.restart()  # no flood of the readings missed while away: this one is the first
        schedule.done()
        stop.wait(max(0.0, schedule.until_next()))
    return sent


def _send(r: redis.Redis, stream: str, fields: dict, stop, backoff: _Backoff) -> str | None:
    """``XADD`` one reading, retrying through outages; its ID, or None if stopped first."""
    unsure = False  # an attempt whose reply was lost may have added the entry anyway
    while True:
        try:
            if unsure:
                landed = _find_landed(r, stream, fields)
                if landed:
                    return landed
            return r.xadd(stream, fields)
        except CONNECTION_ERRORS as exc:
            unsure = True
            if backoff.failed(connection_trouble(exc)):
                return None
        except redis.ResponseError as exc:
            if not is_out_of_memory(exc):
                raise
            if backoff.failed(OUT_OF_MEMORY):
                return None


def _find_landed(r: redis.Redis, stream: str, fields: dict) -> str | None:
    """The ID of an entry with this reading's ``sensor_id``, ``seq`` and ``sent_at``, if one of the
    newest ``LANDED_LOOKBACK`` entries is it (``XREVRANGE stream + - COUNT n``)."""
    keys = ("sensor_id", "seq", "sent_at")
    for entry_id, got in r.xrevrange(stream, count=LANDED_LOOKBACK):
        if all(got.get(k) == fields[k] for k in keys):
            return entry_id
    return None


# --- consume --------------------------------------------------------------------------


@dataclass
class ConsumeStats:
    processed: int = 0
    alerts: int = 0
    recovered: int = 0  # entries taken back from our own pending list (at start, after a failure)
    deleted: int = 0  # pending entries found deleted from the stream: acked, not processed
    dead_lettered: int = 0
    failed: int = 0  # failed attempts (an entry may fail several times before it is dead-lettered)
    duplicates: int = 0  # entries another consumer had finished meanwhile: no second effect
    reconnects: int = 0
    ids: list[str] = field(default_factory=list)


class NameInUse(ValueError):
    """The consumer name belongs to a live process (``check_name_free``)."""


def consumers_info(r: redis.Redis, stream: str, group: str) -> list[dict]:
    """``XINFO CONSUMERS stream group`` (``[]`` when the stream or group does not exist)."""
    try:
        return r.xinfo_consumers(stream, group)
    except redis.ResponseError as exc:
        if "no such key" in str(exc).lower() or "NOGROUP" in str(exc):
            return []
        raise


def lease_key(stream: str, group: str, consumer: str) -> str:
    """The key a live ``streamlab consume`` holds for its name (``NameLease``)."""
    return f"streamlab:consumer-lease:{stream}:{group}:{consumer}"


def check_name_free(r: redis.Redis, stream: str, group: str, consumer: str,
                    guard_ms: int = NAME_GUARD_MS) -> None:
    """Raise ``NameInUse`` if ``XINFO CONSUMERS`` shows ``consumer`` active within ``guard_ms``.

    ``idle`` is used, not ``inactive``: on Redis 7.2+ ``idle`` counts from the
    consumer's last read *attempt* (so a live consumer polling a quiet stream
    stays near 0) and ``inactive`` from its last read that returned entries
    (so it grows without bound for a live consumer of a quiet stream). On
    Redis 7.0 ``idle`` counts only from the last read that delivered something
    (measured on 7.0.15: empty ``XREADGROUP ... >`` reads leave it growing), so
    this check alone misses a live consumer that has had nothing to read for
    ``guard_ms``; ``NameLease`` covers that on every version. What this check
    adds: a name just used by any program (a crashed ``consume``, or a client
    that is not ``streamlab consume`` at all), on the same terms everywhere.
    """
    for c in consumers_info(r, stream, group):
        idle = int(c["idle"])
        if c["name"] == consumer and idle < guard_ms:
            raise NameInUse(
                f"the consumer name {consumer!r} is in use in group {group!r}: XINFO CONSUMERS "
                f"shows it active {idle / 1000:.1f} s ago. Two processes under one name share one "
                f"pending list and process the same entries twice. Start this one under another "
                f"name (e.g. {consumer}-2, or \"$(hostname)-$$\"). If the process that used it has "
                f"crashed, start again in {max(1, (guard_ms - idle) // 1000 + 1)} s (or now with "
                f"--name-guard 0): it takes back its pending entries first.")


# Extend the lease only while it is ours; take it again if it is gone (a server restart
# without persistence, an outage longer than the lease); 0 if another process holds it.
_LEASE_RENEW_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""

# Take over a lease from a holder known to be dead, unless it changed meanwhile.
_LEASE_REPLACE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# Delete a key only if it still holds our token (another process may hold it by now).
_DELETE_IF_OURS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class NameLease:
    """A live process's claim on a consumer name: ``SET lease token NX PX ttl``, renewed every second.

    ``acquire()`` refuses (``NameInUse``) when another process holds the
    lease, naming the holder (host and pid); ``SET ... NX`` also settles two
    processes starting in the same instant. A heartbeat thread, on its own
    connection, renews the lease every ``RENEW`` seconds while the process
    lives, whatever its main loop is doing (a long batch, a blocked read), so
    a live consumer is recognised on every server version. A crashed process
    stops renewing and its lease is gone ``ttl_ms`` later; a restart on the
    same host does not wait for that: a lease whose holder (host and pid in
    its value) is a process of this host that no longer exists is taken over
    at once. ``release()`` (a clean stop) deletes it. If the lease is found held by someone else
    (it expired during a long outage and another process took the name),
    ``lost`` is set and ``on_lost`` is called, so the consumer can stop.
    """

    RENEW = 1.0

    def __init__(self, r: Client, stream: str, group: str, consumer: str,
                 ttl_ms: int = NAME_GUARD_MS, on_lost: Callable[[], None] | None = None):
        self.r, self.consumer, self.group = r, consumer, group
        self.key = lease_key(stream, group, consumer)
        self.ttl_ms = max(int(ttl_ms), int(3 * self.RENEW * 1000))
        self.token = f"{socket.gethostname()} pid {os.getpid()} at {time.time():.6f}"
        self.on_lost = on_lost
        self.lost = False
        self.took_over: str | None = None  # the crashed holder whose lease this one took over
        self._stop = SignalStop()
        self._thread: threading.Thread | None = None
        self._client = None

    def acquire(self) -> "NameLease":
        """Take the lease, or raise ``NameInUse``; a lease left by a dead process of this host is taken over."""
        if not self.r.set(self.key, self.token, nx=True, px=self.ttl_ms):
            holder = _text(self.r.get(self.key) or "")
            if not (self._dead_here(holder)
                    and self.r.eval(_LEASE_REPLACE_LUA, 1, self.key, holder, self.token, self.ttl_ms)):
                shown = holder.rpartition(" at ")[0] or "a process that just let go"
                raise NameInUse(
                    f"the consumer name {self.consumer!r} is in use in group {self.group!r}: a live "
                    f"process holds it ({shown}; key {self.key}). Two processes under one name share one "
                    f"pending list and process the same entries twice. Start this one under another "
                    f"name (e.g. {self.consumer}-2). A crashed holder on another machine lets go "
                    f"within {self.ttl_ms / 1000:g} s.")
            self.took_over = holder.rpartition(" at ")[0]
        self._client = _bytes_client(self.r)
        self._thread = threading.Thread(target=self._renew_loop, daemon=True,
                                        name=f"streamlab-lease:{self.consumer}")
        self._thread.start()
        return self

    @staticmethod
    def _dead_here(holder: str) -> bool:
        """True if ``holder`` names a process of this host that no longer exists (it crashed)."""
        found = re.match(r"^(.*) pid (\d+) at ", holder)
        if not found or found.group(1) != socket.gethostname():
            return False
        try:
            os.kill(int(found.group(2)), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return True
        except OSError:
            return False  # exists, owned by someone else
        return False

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.RENEW):
            try:
                if not self._client.eval(_LEASE_RENEW_LUA, 1, self.key, self.token, self.ttl_ms):
                    self.lost = True
                    if self.on_lost:
                        self.on_lost()
                    return
            except (*CONNECTION_ERRORS, redis.ResponseError):
                continue  # the server is away; the consumer's own loop reports it

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            if self._client is not None and not self.lost:
                self._client.eval(_DELETE_IF_OURS_LUA, 1, self.key, self.token)
        except CONNECTION_ERRORS:
            pass  # it expires on its own
        finally:
            if self._client is not None:
                self._client.close()


# XGROUP DELCONSUMER drops the consumer's pending entries with it (they would never be
# delivered again): delete only when XPENDING shows none, in one atomic step.
_RETIRE_LUA = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""


def retire_consumer(r: redis.Redis, stream: str, group: str, consumer: str) -> bool:
    """``XGROUP DELCONSUMER`` if (and only if) the consumer has nothing pending, atomically; True if retired."""
    try:
        return r.eval(_RETIRE_LUA, 1, stream, group, consumer) != -1
    except redis.ResponseError as exc:
        if "NOGROUP" in str(exc) or "no such key" in str(exc).lower():
            return False
        raise


# Effects and XACK together, guarded by the entry's own pending state (see effects_and_ack).
# KEYS[1] the stream, KEYS[2..] one stream per effect; ARGV: group, entry ID, then per effect
# its number of field/value items followed by those items.
EFFECTS_AND_ACK = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end
for k = 2, #KEYS do
  local kind = redis.call('TYPE', KEYS[k])
  kind = type(kind) == 'table' and kind.ok or kind
  if kind ~= 'stream' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' holds a ' .. kind .. ', not a stream')
  end
end
local unpack = unpack or table.unpack
local at = 3
for k = 2, #KEYS do
  local n = tonumber(ARGV[at])
  redis.call('XADD', KEYS[k], '*', unpack(ARGV, at + 1, at + n))
  at = at + n + 1
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def effects_and_ack(r: redis.Redis, stream: str, group: str, entry_id: str,
                    effects: list[tuple[str, dict]]) -> bool:
    """``XADD`` each effect (``(stream, fields)``: an alert, a ledger record) and ``XACK`` ``entry_id``,
    exactly once per entry: True if this call did it, False if the entry was no longer pending.

    One Lua script (``EFFECTS_AND_ACK``), run atomically by the server:

    1. ``XPENDING stream group id id 1``: is the entry still pending? If not,
       someone finished it already (another consumer that claimed it, or a
       reaper that dead-lettered it): nothing happens, the call returns False.
       The pending list is the idempotency record, keyed on the source entry
       ID: an entry leaves it only through an ``XACK``, and the only ``XACK``
       that follows an effect is in this same script. So a reading processed
       by two consumers (after a claim) gives one alert, with no marker keys
       to expire.
    2. ``TYPE`` of every effect stream: one that holds another type stops the
       script (an error) before anything is written. A script is not rolled
       back when a command in it fails, so the checks come first; a refusal
       for memory (``OOM``) comes at the first write, before anything is
       written too. The entry stays pending, is retried and, past the
       delivery limit, dead-lettered. No effect is lost or half-written.
    3. ``XADD`` each effect, then ``XACK``.

    Why not ``MULTI``/``EXEC``: inside a transaction the ``XADD`` runs even
    when the ``XACK`` replies 0 (a second consumer alerts again), and when one
    command fails inside ``EXEC`` the others still apply (an alert write that
    fails while the ``XACK`` succeeds loses the alert). A transaction is
    all-at-once, not all-or-nothing. In a Redis Cluster every key must hash to
    one slot (the same ``{tag}`` in each name) for the script to run
    (``CROSSSLOT`` otherwise).
    """
    args: list = [group, entry_id]
    for _, fields in effects:
        flat: list = []
        for k, v in fields.items():
            flat += [k, v]
        args += [len(flat), *flat]
    keys = [stream, *(key for key, _ in effects)]
    return bool(r.eval(EFFECTS_AND_ACK, len(keys), *keys, *args))


def alert_and_ack(r: redis.Redis, stream: str, group: str, entry_id: str, alert: dict,
                  alerts_stream: str) -> bool:
    """``XADD`` an alert for ``entry_id`` and ``XACK`` it, once per entry (``effects_and_ack`` with one effect)."""
    return effects_and_ack(r, stream, group, entry_id, [(alerts_stream, alert)])


def _bytes_client(r: Client) -> Client:
    """A client on ``r``'s server whose replies stay bytes (its own pool), to decode entry by entry."""
    return r.new_client(decode_responses=False)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_fields(raw: dict) -> dict:
    """Bytes field/value pairs as text; ``UnicodeDecodeError`` names the field that is not UTF-8."""
    fields = {}
    for k, v in raw.items():
        shown = k.decode("utf-8", "backslashreplace") if isinstance(k, bytes) else k
        try:
            fields[_text(k)] = _text(v)
        except UnicodeDecodeError as exc:
            raise UnicodeDecodeError(exc.encoding, exc.object, exc.start, exc.end,
                                     f"field {shown!r} is not UTF-8 text") from None
    return fields


def shorten(value, limit: int = SHOWN_CHARS) -> str:
    """``value`` as text, cut to ``limit`` characters with its full length shown."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text):,} chars)"


def consume(r: Client, group: str, consumer: str, stream: str = DEFAULT_STREAM,
            start_from: str = "0", block_ms: int = 2000, count: int = 1,
            alert_above: float | None = None, alerts_stream: str = DEFAULT_ALERTS,
            work_seconds: float = 0.0, max_entries: int | None = None,
            idle_exit: float | None = None, stop=None,
            out: Callable[[str], None] = print, max_deliveries: int = MAX_DELIVERIES,
            dead_letter_stream: str | None = None, retry_after: float = RETRY_AFTER,
            guard_name: bool = False, retire_on_exit: bool = False,
            name_guard_ms: int = NAME_GUARD_MS) -> ConsumeStats:
    """Read ``stream`` as ``consumer`` of ``group`` until stopped; returns what it did (module docstring).

    ``idle_exit``: stop after that many seconds with nothing to read (for
    scripts and tests); ``max_entries``: stop reading once that many are
    processed (the batch in hand is finished). ``guard_name`` refuses a name a
    live process uses (``check_name_free`` with ``name_guard_ms``; raises
    ``NameInUse``; a ``name_guard_ms`` of 0 skips the check);
    ``retire_on_exit`` retires the name after a stop that left nothing pending.
    ``dead_letter_stream`` defaults to ``<stream>:dead``.
    """
    check_consume_options(group, consumer, count, block_ms, work_seconds, idle_exit, alert_above,
                          max_deliveries, retry_after)
    run = _ConsumerRun(r, group, consumer, stream, start_from, block_ms, count, alert_above,
                       alerts_stream, work_seconds, max_entries, idle_exit,
                       stop if stop is not None else SignalStop(), out, max_deliveries,
                       dead_letter_stream or f"{stream}:dead", retry_after)
    return run.run(guard_name and name_guard_ms > 0, retire_on_exit, int(name_guard_ms))


class _ConsumerRun:
    """One run of ``consume``: the loop and its state (own-pending cursor, retry time, stats)."""

    def __init__(self, r, group, consumer, stream, start_from, block_ms, count, alert_above,
                 alerts_stream, work_seconds, max_entries, idle_exit, stop, out, max_deliveries,
                 dead_stream, retry_after):
        self.r, self.group, self.consumer, self.stream = r, group, consumer, stream
        self.start_from, self.block_ms, self.count = start_from, int(block_ms), int(count)
        self.alert_above = None if alert_above is None else float(alert_above)
        self.alerts_stream, self.work_seconds = alerts_stream, float(work_seconds or 0)
        self.max_entries, self.idle_exit = max_entries, idle_exit
        self.stop, self.out = stop, out
        self.max_deliveries, self.dead_stream = int(max_deliveries), dead_stream
        self.retry_after = float(retry_after)
        self.stats = ConsumeStats()
        self.read_from = PendingFirst()
        self.retry_at: float | None = None
        self.last_activity = time.monotonic()
        self.raw = _bytes_client(r)
        self.ledger_stream: str | None = None  # a record per processed entry (partitions' --ledger)
        self.report_each = True  # a line per processed entry (False: only the summary)

    # --- the loop ---------------------------------------------------------------------
    def run(self, guard_name: bool, retire_on_exit: bool, guard_ms: int) -> ConsumeStats:
        lease = None
        try:
            if guard_name:
                lease = NameLease(self.r, self.stream, self.group, self.consumer, guard_ms,
                                  on_lost=self._lease_lost).acquire()
                if lease.took_over:
                    # The name's last holder is known dead: its recent activity was its own.
                    self.out(f"{self.consumer}: took over the name from a process that is gone "
                             f"({lease.took_over})")
                else:
                    check_name_free(self.r, self.stream, self.group, self.consumer, guard_ms)
            created = ensure_group(self.r, self.stream, self.group, self.start_from)
            self.out(f"{self.consumer}: {'created' if created else 'joined'} group {self.group} "
                     f"on {self.stream}")
            self._loop()
            self._finish(retire_on_exit and not (lease and lease.lost))
        finally:
            if lease is not None:
                lease.release()
            self.raw.close()
        return self.stats

    def _lease_lost(self) -> None:
        # Called on the lease thread: only set the flag (the loop stops after its batch).
        self.out(f"{self.consumer}: another process took the name {self.consumer!r} (this one's "
                 "lease ran out, during an outage?): stopping so that only one uses it")
        self.stop.set()

    def _loop(self) -> None:
        backoff = _Backoff(self.stop, self.out, self.consumer)
        while not self.stop.is_set():
            try:
                if not self._step():
                    break
                if backoff.ok():
                    self.stats.reconnects += 1
                    self.read_from.rewind()  # an XACK may have been lost with the connection
                    self.last_activity = time.monotonic()  # an outage is not idleness
            except CONNECTION_ERRORS as exc:
                if backoff.failed(connection_trouble(exc)):
                    break
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # The server came back without the group (no persistence, or someone destroyed it).
                created = ensure_group(self.r, self.stream, self.group, self.start_from)
                self.out(f"{self.consumer}: group {self.group} was gone from {self.stream}; "
                         f"{'created it again from ' + self.start_from if created else 'it is back'}")
                self.read_from.rewind()

    def _step(self) -> bool:
        """One read and its batch; False when the run should end (idle or enough processed)."""
        now = time.monotonic()
        if not self.read_from.replaying and self.retry_at is not None and now >= self.retry_at:
            self.read_from.rewind()  # time to retry the entries that failed
            self.retry_at = None
        own = self.read_from.replaying
        if own:
            # XREADGROUP ... <id>: our own pending entries after <id>; each read is a delivery.
            reply = self.raw.xreadgroup(self.group, self.consumer, {self.stream: self.read_from.position},
                                        count=self.count)
        else:
            wait = BLOCK_SLICE_MS if self.block_ms == 0 else min(self.block_ms, BLOCK_SLICE_MS)
            if self.retry_at is not None:
                wait = max(1, min(wait, int((self.retry_at - now) * 1000) + 1))
            reply = self.raw.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                        count=self.count, block=wait)
        entries = [(_text(i), f) for _, batch in reply or [] for i, f in batch]
        self.read_from.advance(entries[-1][0] if entries else None)
        if own and not entries:
            return True
        if not entries:
            idle = time.monotonic() - self.last_activity
            return not (self.idle_exit is not None and self.retry_at is None
                        and idle >= self.idle_exit)
        self.last_activity = time.monotonic()
        self._batch(entries, own)
        self.last_activity = time.monotonic()
        if self.max_entries is not None and self.stats.processed >= self.max_entries:
            return False
        return True

    def _batch(self, entries: list, own: bool) -> None:
        counts = (delivery_counts(self.r, self.stream, self.group, [i for i, _ in entries])
                  if own else {})
        for n, (entry_id, raw) in enumerate(entries):
            if _signals(self.stop) >= 2:
                left = len(entries) - n
                self.out(f"{self.consumer}: second stop signal: {plural(left, 'entry', 'entries')} "
                         "of this batch stay pending for this name, taken back first at its next start")
                return
            if not raw:  # deleted (XDEL, trim) while pending: redis-py 8 gives {}, older None
                self._deleted(entry_id)
                continue
            if own:
                if entry_id not in counts:
                    continue  # acked meanwhile (another consumer claimed and finished it)
                deliveries = counts[entry_id]
            else:
                deliveries = 1  # a '>' read is an entry's first delivery
            if deliveries > self.max_deliveries:
                self._dead_letter(entry_id, raw, deliveries)
                continue
            if own:
                self.stats.recovered += 1
            self._process(entry_id, raw, deliveries)

    def _deleted(self, entry_id: str) -> None:
        self.r.xack(self.stream, self.group, entry_id)
        self.stats.deleted += 1
        # Said once per entry: the XACK above takes it out of the pending list, so no later read returns it.
        self.out(f"{self.consumer}: {entry_id} was deleted from the stream while pending: "
                 "acked, nothing to process")

    def _dead_letter(self, entry_id: str, raw: dict, deliveries: int) -> None:
        reason = f"delivered {deliveries} times (limit {self.max_deliveries})"
        copy = dead_letter(self.raw, self.stream, self.group, entry_id, raw, self.dead_stream,
                           deliveries, self.consumer, reason)
        if copy:
            self.stats.dead_lettered += 1
            self.out(f"{self.consumer}: dead-lettered {entry_id}: {reason} -> {self.dead_stream} "
                     f"{_text(copy)}")

    def _process(self, entry_id: str, raw: dict, deliveries: int) -> None:
        try:
            fields = decode_fields(raw)
            outcome = process_entry(self.r, self.stream, self.group, entry_id, fields,
                                    self.alert_above, self.alerts_stream, self.work_seconds,
                                    self.ledger_stream)
        except CONNECTION_ERRORS:
            raise  # the loop reconnects; the entry stays pending and is re-read from our list
        except Exception as exc:  # noqa: BLE001 - any failure leaves the entry pending, retried
            self._failed(entry_id, deliveries, exc)
            return
        if outcome == "duplicate":
            self.stats.duplicates += 1
            self.out(f"{self.consumer}: {entry_id} was finished by another consumer meanwhile: "
                     "no second alert")
            return
        alerted = outcome == "alert"
        self.stats.processed += 1
        self.stats.alerts += alerted
        self.stats.ids.append(entry_id)
        self._processed(fields)
        if not self.report_each:
            return
        note = " -> ALERT" if alerted else ""
        self.out(f"{self.consumer}: processed {entry_id} {shorten(fields.get('sensor_id', '?'))} "
                 f"temp={shorten(fields.get('temp', '?'))}{note}")

    def _processed(self, fields: dict) -> None:
        """Called with the fields of each entry processed and acked here (a subclass may keep its own records)."""

    def _failed(self, entry_id: str, deliveries: int, exc: BaseException) -> None:
        self.stats.failed += 1
        if isinstance(exc, UnicodeDecodeError):
            why = f"cannot decode it ({exc.reason})"
        elif is_out_of_memory(exc):
            why = OUT_OF_MEMORY
        else:
            why = f"{type(exc).__name__}: {shorten(exc, 200)}"
        self.out(f"{self.consumer}: failed {entry_id} (delivery {deliveries}, limit "
                 f"{self.max_deliveries}): {why}; left pending, retried in {self.retry_after:g} s")
        if self.retry_at is None:
            self.retry_at = time.monotonic() + self.retry_after

    def _finish(self, retire_on_exit: bool) -> None:
        try:
            if retire_on_exit and retire_consumer(self.r, self.stream, self.group, self.consumer):
                self.out(f"{self.consumer}: nothing pending, name retired (XGROUP DELCONSUMER)")
        except CONNECTION_ERRORS:
            pass  # stopped during an outage: the name stays, its pending list is taken back at restart
        s = self.stats
        self.out(f"{self.consumer}: stopped after {s.processed} entries ({s.alerts} alerts, "
                 f"{s.recovered} taken back from its pending list, {s.dead_lettered} dead-lettered, "
                 f"{s.deleted} found deleted)")


def process_entry(r: redis.Redis, stream: str, group: str, entry_id: str, fields: dict,
                  alert_above: float | None, alerts_stream: str, work_seconds: float,
                  ledger_stream: str | None = None) -> str:
    """Do the work for one entry and ``XACK`` it; ``"alert"``, ``"done"`` or ``"duplicate"``.

    Without an effect the work is only the pause, then ``XACK``. With an alert
    (a reading above ``alert_above``) or a ledger record (``ledger_stream``:
    ``sensor_id``, ``seq``, ``source_id`` of each processed entry),
    ``effects_and_ack`` writes them and acks in one script, once per entry
    (``"duplicate"``: another consumer had already finished it).
    """
    if work_seconds:
        time.sleep(work_seconds)  # the "work"; a signal during it waits for it to finish
    effects = []
    alerted = alert_above is not None and _temperature(fields) > alert_above
    if alerted:
        effects.append((alerts_stream, {**fields, "source_id": entry_id, "threshold": str(alert_above)}))
    if ledger_stream is not None:
        effects.append((ledger_stream, {"sensor_id": fields.get("sensor_id", "?"),
                                        "seq": fields.get("seq", "0"), "source_id": entry_id}))
    if effects:
        if not effects_and_ack(r, stream, group, entry_id, effects):
            return "duplicate"
        return "alert" if alerted else "done"
    r.xack(stream, group, entry_id)
    return "done"


def _temperature(fields: dict) -> float:
    try:
        return float(fields.get("temp", "nan"))
    except ValueError:
        return float("nan")  # never above a threshold: a bad reading raises no alert


# --- reap ------------------------------------------------------------------------------


@dataclass
class ReapStats:
    claimed: int = 0
    processed: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    deleted: int = 0
    failed: int = 0
    retired: list[str] = field(default_factory=list)


def reap(r: Client, group: str, stream: str = DEFAULT_STREAM, min_idle_ms: int = 60_000,
         consumer: str = "reaper", max_deliveries: int = MAX_DELIVERIES,
         dead_letter_stream: str | None = None, alert_above: float | None = None,
         alerts_stream: str = DEFAULT_ALERTS, dry_run: bool = False,
         out: Callable[[str], None] = print) -> ReapStats:
    """One pass of the lesson 04 reaper over ``group``: claim, process or dead-letter, retire.

    1. ``XAUTOCLAIM stream group <consumer> <min_idle_ms> <cursor>``, page after
       page: every entry idle that long moves to ``consumer`` (the reaper's
       name). Its delivery count (``XPENDING``) decides: over ``max_deliveries``
       it is dead-lettered, else processed as ``consume`` does (``--alert-above``
       writes the alert in the same once-per-entry script) and acked. A failure
       leaves it in the reaper's pending list for the next pass. IDs deleted
       from the stream while pending are dropped from the list by the server.
    2. Every consumer idle at least ``min_idle_ms`` (``XINFO CONSUMERS``) whose
       name no live ``streamlab consume`` holds (``NameLease``) and whose
       pending list is now empty is retired with ``XGROUP DELCONSUMER``, in a
       script that checks the list is empty first (DELCONSUMER would drop
       pending entries with the name). The reaper's own name goes too when its
       list is empty. Retiring a live consumer of another program by mistake
       loses nothing: its list was empty, and its next read that gets entries
       creates it again.

    ``min_idle_ms`` is the safety catch: a consumer busy longer than that on
    one batch loses it to the reaper, and both process it (the alert is still
    written once). ``dry_run`` only reports what a pass would claim and retire.
    """
    check_reap_options(min_idle_ms, max_deliveries, alert_above)
    if alert_above is not None:
        alert_above = float(alert_above)
    dead_stream = dead_letter_stream or f"{stream}:dead"
    stats = ReapStats()
    members = consumers_info(r, stream, group)
    if not members and not r.exists(stream):
        out(f"reap: no stream {stream}: nothing to do")
        return stats
    live = {c["name"] for c in members if r.exists(lease_key(stream, group, c["name"]))}
    idle_names = [c["name"] for c in members
                  if int(c["idle"]) >= min_idle_ms and c["name"] not in live and c["name"] != consumer]
    for c in members:
        out(f"reap: {c['name']}: {c['pending']} pending, last active {int(c['idle']) / 1000:.1f} s "
            f"ago{' (a live streamlab consume holds the name)' if c['name'] in live else ''}")
    if dry_run:
        stuck = r.xpending_range(stream, group, min="-", max="+", count=10_000, idle=int(min_idle_ms))
        out(f"reap: dry run: would claim {len(stuck)} entries idle for {min_idle_ms} ms or more"
            + "".join(f"\n  {p['message_id']} from {p['consumer']} (delivered "
                      f"{p['times_delivered']} times)" for p in stuck[:50]))
        out(f"reap: dry run: would retire (once their pending list is empty): "
            f"{', '.join(idle_names) or 'nobody'}")
        return stats
    raw = _bytes_client(r)
    try:
        for page in autoclaim_pages(raw, stream, group, consumer, int(min_idle_ms)):
            for entry_id in page.deleted:
                stats.deleted += 1
                out(f"reap: {entry_id} was deleted from the stream while pending: dropped")
            counts = delivery_counts(r, stream, group, [i for i, _ in page.claimed])
            for entry_id, fields in page.claimed:
                if entry_id not in counts:
                    continue  # acked by its owner between the claim and the count
                stats.claimed += 1
                _reap_entry(r, raw, stream, group, consumer, entry_id, fields, counts[entry_id],
                            max_deliveries, dead_stream, alert_above, alerts_stream, stats, out)
    finally:
        raw.close()
    for name in [*idle_names, consumer]:
        if retire_consumer(r, stream, group, name):
            if name != consumer:
                stats.retired.append(name)
                out(f"reap: retired {name} (XGROUP DELCONSUMER: its pending list was empty)")
        elif name != consumer:
            out(f"reap: kept {name}: entries are still pending for it (claimed by it meanwhile, "
                "or not idle long enough); run reap again later")
    out(f"reap: claimed {stats.claimed} (processed {stats.processed}, {stats.alerts} alerts, "
        f"dead-lettered {stats.dead_lettered}, failed {stats.failed}), {stats.deleted} found "
        f"deleted; retired {len(stats.retired)}: {', '.join(stats.retired) or 'nobody'}")
    return stats


def _reap_entry(r, raw, stream, group, consumer, entry_id, fields, deliveries, max_deliveries,
                dead_stream, alert_above, alerts_stream, stats: ReapStats, out) -> None:
    if deliveries > max_deliveries:
        reason = f"delivered {deliveries} times (limit {max_deliveries})"
        if dead_letter(raw, stream, group, entry_id, fields, dead_stream, deliveries, consumer, reason):
            stats.dead_lettered += 1
            out(f"reap: dead-lettered {entry_id}: {reason} -> {dead_stream}")
        return
    try:
        outcome = process_entry(r, stream, group, entry_id, decode_fields(fields), alert_above,
                                alerts_stream, 0.0)
    except CONNECTION_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - left in the reaper's pending list for the next pass
        stats.failed += 1
        out(f"reap: failed {entry_id} (delivery {deliveries}, limit {max_deliveries}): "
            f"{shorten(exc, 200)}; stays pending for {consumer}, retried by the next pass")
        return
    if outcome != "duplicate":
        stats.processed += 1
        stats.alerts += outcome == "alert"
        out(f"reap: processed {entry_id} (delivery {deliveries})"
            + (" -> ALERT" if outcome == "alert" else ""))
