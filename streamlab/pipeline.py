"""The article's sensor pipeline as programs: ``streamlab produce`` and ``streamlab consume``.

The article runs ``python producer.py sensor1`` in several terminals and a
walrus consumer-group program in others. These are the same two programs,
done so that they can run for an hour in a workshop:

``produce SENSOR``
    ``XADD`` a reading (``sensor_id``, ``temp``, ``humidity``, ``seq``, ``sent_at``)
    at ``--rate`` per second, ``--count`` times or until Ctrl-C.

``consume GROUP CONSUMER``
    joins ``GROUP`` (``XGROUP CREATE ... MKSTREAM``, once: unlike the article's
    program it never rewinds an existing group with ``SETID``), takes back its
    own pending entries first (``XREADGROUP ... 0``), then new ones (``>``),
    processes each and ``XACK``s it. With ``--alert-above T`` an entry whose
    ``temp`` is above ``T`` is copied to the alerts stream; the copy and the
    ``XACK`` go in one ``MULTI``/``EXEC``, so an entry is never half-done: either
    both happened or neither did, and a redelivered entry cannot alert twice
    unless it was never acknowledged.

Ctrl-C (SIGINT) or SIGTERM lets the entry in hand finish, then exits 0.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import redis

from .producer import sensor_reading

DEFAULT_STREAM = "lesson07:sensors"
DEFAULT_ALERTS = "lesson07:alerts"


class SignalStop:
    """A stop flag that a signal handler may set: ``set()``, ``is_set()``, ``wait(timeout)``.

    Not a ``threading.Event``: its ``set()`` takes a lock, and a second Ctrl-C
    arriving while the first handler holds that lock runs the handler again on
    the same thread, which then waits on the lock for ever. A plain flag cannot
    deadlock; ``wait()`` polls it every 50 ms.
    """

    POLL = 0.05

    def __init__(self) -> None:
        self._flag = False

    def set(self) -> None:
        self._flag = True

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._flag:
            left = self.POLL if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, self.POLL))
        return self._flag


def stop_on_signals() -> SignalStop:
    """A stop flag set by SIGINT/SIGTERM, so a loop can finish its current entry before exiting."""
    stop = SignalStop()

    def handler(signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def produce(r: redis.Redis, sensor: str, stream: str = DEFAULT_STREAM, rate: float = 1.0,
            count: int | None = None, stop: threading.Event | None = None,
            out: Callable[[str], None] = print) -> int:
    """``XADD stream * sensor_id ... temp ... humidity ...`` at ``rate`` per second; returns how many were sent."""
    if rate <= 0:
        raise ValueError(f"--rate must be above 0 messages per second, got {rate}.")
    stop = stop or threading.Event()
    sent = 0
    start = time.monotonic()
    while not stop.is_set() and (count is None or sent < count):
        fields = sensor_reading(sensor, sent + 1)
        fields.update(seq=str(sent + 1), sent_at=f"{time.time():.6f}")
        entry_id = r.xadd(stream, fields)
        sent += 1
        out(f"{sensor}: sent {entry_id} temp={fields['temp']} humidity={fields['humidity']}")
        # Keep to the schedule (sent / rate seconds after the start), not sleep-per-entry.
        stop.wait(max(0.0, start + sent / rate - time.monotonic()))
    return sent


@dataclass
class ConsumeStats:
    processed: int = 0
    alerts: int = 0
    recovered: int = 0  # entries taken back from our own pending list at start
    ids: list[str] = field(default_factory=list)


def ensure_group(r: redis.Redis, stream: str, group: str, start_from: str = "0") -> bool:
    """``XGROUP CREATE stream group start_from MKSTREAM``; False if the group already existed.

    An existing group keeps its position: re-running a consumer must not rewind
    the whole group (the bug of calling ``set_id('0')`` on every start).
    """
    try:
        r.xgroup_create(stream, group, id=start_from, mkstream=True)
        return True
    except redis.ResponseError as exc:
        if "BUSYGROUP" in str(exc):
            return False
        raise


def consume(r: redis.Redis, group: str, consumer: str, stream: str = DEFAULT_STREAM,
            start_from: str = "0", block_ms: int = 2000, count: int = 1,
            alert_above: float | None = None, alerts_stream: str = DEFAULT_ALERTS,
            work_seconds: float = 0.0, max_entries: int | None = None,
            idle_exit: float | None = None, stop: threading.Event | None = None,
            out: Callable[[str], None] = print) -> ConsumeStats:
    """Read ``stream`` as ``consumer`` of ``group`` until stopped; returns what it did.

    ``idle_exit``: stop after that many seconds with nothing to read (for
    scripts and tests); ``max_entries``: stop after processing that many.
    """
    stop = stop or threading.Event()
    stats = ConsumeStats()
    created = ensure_group(r, stream, group, start_from)
    out(f"{consumer}: {'created' if created else 'joined'} group {group} on {stream}")
    read_from = "0"  # our own pending entries first, then new ones
    idle_since = time.monotonic()
    while not stop.is_set():
        reply = r.xreadgroup(group, consumer, {stream: read_from}, count=count,
                             block=None if read_from == "0" else block_ms)
        entries = [(i, f) for _, batch in reply or [] for i, f in batch]
        if read_from == "0" and not entries:
            read_from = ">"
            continue
        if not entries:
            if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
            continue
        idle_since = time.monotonic()
        for entry_id, fields in entries:
            if not fields:  # deleted while pending (redis-py 8 gives {}): nothing left to process
                r.xack(stream, group, entry_id)
                continue
            if read_from == "0":
                stats.recovered += 1
            alerted = process_entry(r, stream, group, entry_id, fields, alert_above,
                                    alerts_stream, work_seconds)
            stats.processed += 1
            stats.alerts += alerted
            stats.ids.append(entry_id)
            note = " -> ALERT" if alerted else ""
            out(f"{consumer}: processed {entry_id} {fields.get('sensor_id', '?')} "
                f"temp={fields.get('temp', '?')}{note}")
            if max_entries is not None and stats.processed >= max_entries:
                stop.set()
            if stop.is_set():
                break  # the rest of a batch stays pending for us, taken back first next time
    out(f"{consumer}: stopped after {stats.processed} entries ({stats.alerts} alerts, "
        f"{stats.recovered} taken back from its pending list)")
    return stats


def process_entry(r: redis.Redis, stream: str, group: str, entry_id: str, fields: dict,
                  alert_above: float | None, alerts_stream: str, work_seconds: float) -> bool:
    """Do the work for one entry and ``XACK`` it, atomically with its alert; True if it alerted."""
    if work_seconds:
        time.sleep(work_seconds)  # the "work"; a signal during it waits for it to finish
    alert = alert_above is not None and _temperature(fields) > alert_above
    pipe = r.pipeline(transaction=True)  # MULTI ... EXEC: alert and ack together or not at all
    if alert:
        pipe.xadd(alerts_stream, {**fields, "source_id": entry_id, "threshold": str(alert_above)})
    pipe.xack(stream, group, entry_id)
    pipe.execute()
    return alert


def _temperature(fields: dict) -> float:
    try:
        return float(fields.get("temp", "nan"))
    except ValueError:
        return float("nan")  # never above a threshold: a bad reading raises no alert
