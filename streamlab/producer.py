"""A sensor producer: ``XADD`` at a steady rate on a background thread, or a burst at full speed.

Each entry is a reading in the shape of the article's ``producer.py``, plus two
fields that let a consumer measure lag and spot lost or reordered entries:

==============  ==========================================================
field           value (every value is a string: stream fields are flat strings)
==============  ==========================================================
``sensor_id``   which sensor sent it; the producer takes its sensors in turn
``temp``        temperature in °C, two decimals, between 18 and 26
``humidity``    relative humidity in %, one decimal, between 30 and 70
``seq``         this Producer object's running count: 1, 2, 3, ... A gap
                means an entry that was never sent; a smaller number after a
                larger one means reordering. It carries on across
                ``stop()``/``start()``; a new Producer starts again at 1, and
                a ``burst()`` beside a running loop interleaves with it.
``sent_at``     the producer's clock when it built the entry: Unix time in
                seconds with microseconds (``time.time()``). ``now - sent_at``
                on the consumer side is the end-to-end lag.
==============  ==========================================================

Pacing follows a schedule, not a sleep per message (``Schedule``, which
``streamlab produce`` paces by too): after ``t`` seconds at ``rate`` msgs/s the
producer has sent ``t * rate`` entries, whatever each call cost. When several entries are due at once (high rates) they go in one
pipeline (``transaction=False``: one round trip, no ``MULTI``), at most
``MAX_BATCH`` at a time, so every step stays short and ``stop()`` is prompt.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from typing import Callable, Iterable

import redis

from . import validate
from .explain import is_out_of_memory
from .workers import Worker

MIN_RATE = 1
MAX_RATE = 10_000
#: Most entries sent in one pipeline: about 5 ms on a local Redis, 20 ms on fakeredis.
MAX_BATCH = 500
#: Shortest pause between two paced sends: high rates send a batch per tick instead
#: of waking up 10,000 times a second.
TICK = 0.01
#: A backlog longer than this (after a reconnect or a stalled machine) is dropped
#: rather than sent in one flood: the schedule restarts from now.
MAX_CATCH_UP = 1.0
#: The achieved rate is measured over this many recent seconds.
RATE_WINDOW = 2.0

Payload = Callable[[str, int], dict]


class Schedule:
    """``rate`` sends a second on the clock, not a sleep per send: what ``Producer`` and
    ``streamlab produce`` pace themselves by.

    After ``t`` seconds at ``rate`` per second, ``t * rate`` sends are due, whatever each
    one cost, so a slow call is made up for instead of slowing the whole run. ``due()``
    says how many are due and not yet ``done()``; ``until_next()`` how long until the
    next one is. The first send is due at once. ``restart()`` starts the count again from
    now (after an outage: carry on at the rate, without a flood of the sends missed).
    With ``catch_up`` seconds, a backlog larger than that many seconds' worth restarts
    the schedule too, and only one send is due.
    """

    def __init__(self, rate: float, catch_up: float | None = None):
        self.rate = float(rate)
        self.catch_up = catch_up
        self.restart()

    def restart(self) -> None:
        # Start one interval ago, so the first send is due at once.
        self._start = time.monotonic() - 1 / self.rate
        self._done = 0

    def due(self) -> int:
        """How many sends are due now and not yet done."""
        due = int((time.monotonic() - self._start) * self.rate) - self._done
        if self.catch_up is not None and due > self.rate * self.catch_up:
            self.restart()
            return 1
        return due

    def done(self, n: int = 1) -> None:
        self._done += n

    def until_next(self) -> float:
        """Seconds until the next send is due (0 or less: it is due now)."""
        return self._start + (self._done + 1) / self.rate - time.monotonic()


def sensor_reading(sensor_id: str, seq: int) -> dict:
    """The default payload: a reading like the article's (``sensor_id``, ``temp``, ``humidity``)."""
    return {
        "sensor_id": sensor_id,
        "temp": f"{random.uniform(18, 26):.2f}",
        "humidity": f"{random.uniform(30, 70):.1f}",
    }


def _check_rate(rate) -> float:
    return validate.number(rate, "rate must be a number of messages per second, not {value!r}.",
                           low=MIN_RATE, high=MAX_RATE,
                           outside="rate must be between {low} and {high:,} messages per second; got {value!r}.")


def _check_stream(stream) -> str:
    if not isinstance(stream, str) or not stream.strip():
        raise ValueError(f"stream must be a non-empty key name such as 'lesson01:sensors'; "
                         f"got {stream!r}.")
    return stream


def _check_sensors(sensors) -> tuple[str, ...]:
    if isinstance(sensors, str):
        sensors = [s.strip() for s in sensors.split(",")]
    names = tuple(sensors or ())
    if not names or not all(isinstance(s, str) and s.strip() for s in names):
        raise ValueError(f"sensors must be one or more non-empty names such as "
                         f"('sensor1', 'sensor2'); got {sensors!r}.")
    return names


def _check_maxlen(maxlen) -> int | None:
    if maxlen is None:
        return None
    return validate.whole(maxlen, "maxlen must be a whole number of entries (1 or more) or None for no "
                                  "cap; got {value!r}.", low=1)


def check_is_stream(r: redis.Redis, stream: str) -> None:
    """Raise ``ValueError`` if ``stream`` holds something other than a stream (``TYPE``).

    ``XADD`` on such a key fails with ``WRONGTYPE``; saying so before the first
    send names the key and its type, which the server's error does not.
    """
    kind = r.type(stream)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind not in ("stream", "none"):
        raise ValueError(
            f"WRONGTYPE: the key {stream!r} holds a {kind}, not a stream, so XADD to it would fail. "
            f"Use another key name, or delete this key first (r.delete({stream!r})) "
            f"if you no longer need it."
        )


class ServerFullError(redis.ResponseError):
    """The server refused ``XADD`` because it reached its ``maxmemory`` limit (an ``OOM`` error).

    ``sent`` entries of this burst went in before it (whole pipelined batches;
    in the batch that failed some may have landed too: ``XLEN`` tells).
    """

    def __init__(self, stream: str, asked: int, sent: int, cause: BaseException):
        self.stream, self.asked, self.sent, self.cause = stream, asked, sent, cause
        super().__init__(
            f"The Redis server is out of memory (it reached its maxmemory limit) and refused XADD "
            f"to {stream!r} after {sent:,} of the {asked:,} entries of this burst. Make room: trim "
            f"the stream (XTRIM {stream} MAXLEN 1000, or Producer(maxlen=...)), delete keys you no "
            f"longer need (sl.reset() deletes the course's), or raise maxmemory. [{cause}]")


class Producer(Worker):
    """Adds sensor readings to ``stream`` with ``XADD``, ``rate`` times a second.

    ``start()``/``stop()``/``run_for(seconds)`` run it on a background thread;
    ``burst(n)`` sends ``n`` entries as fast as the server takes them (pipelined
    ``XADD``) on the caller's thread. ``maxlen`` caps the stream with
    ``XADD ... MAXLEN [~] n`` (exact unless ``approximate=True``). ``payload``
    is ``f(sensor_id, seq) -> dict`` giving the reading's fields; ``seq`` and
    ``sent_at`` are always added after them (see the module docstring for every
    field). A failed send leaves a gap in ``seq``.

    Live counters: ``sent``, ``achieved_rate`` (over the last ``RATE_WINDOW``
    seconds), ``last_id``, ``errors`` (failed sends) and ``status``.
    """

    def __init__(self, r: redis.Redis, stream: str,
                 sensors: Iterable[str] | str = ("sensor1", "sensor2", "sensor3"),
                 rate: float = 10, maxlen: int | None = None, name: str | None = None,
                 payload: Payload = sensor_reading, approximate: bool = False):
        self.r = r
        self.stream = _check_stream(stream)
        self.sensors = _check_sensors(sensors)
        self._rate = _check_rate(rate)
        self.maxlen = _check_maxlen(maxlen)
        self.approximate = bool(approximate)
        if not callable(payload):
            raise ValueError(f"payload must be a function f(sensor_id, seq) -> dict; got {payload!r}.")
        self.payload = payload
        super().__init__(name or f"producer:{stream}")
        self.sent = 0
        self.paced_sent = 0  # sent by the paced loop: bursts left out, they say nothing of the rate
        self.errors = 0
        self.last_id: str | None = None
        self._seq = 0
        self._count_lock = threading.Lock()
        # (monotonic time, paced sent so far) after each paced send: what achieved_rate is computed from.
        self._history: collections.deque[tuple[float, int]] = collections.deque()
        self._active_since: float | None = None
        self._schedule = Schedule(self._rate, MAX_CATCH_UP)

    # --- settings that may change while it runs --------------------------------
    @property
    def rate(self) -> float:
        """Messages per second, 1 to 10,000; setting it takes effect at the next step."""
        return self._rate

    @rate.setter
    def rate(self, value) -> None:
        self._rate = _check_rate(value)
        self._schedule = Schedule(self._rate, MAX_CATCH_UP)

    def retarget(self, stream: str | None = None, sensors: Iterable[str] | str | None = None) -> None:
        """Point the producer at another stream key and/or sensors; a running one is stopped first.

        Both are checked before anything changes, so a bad value leaves the producer as it was.
        """
        stream = self.stream if stream is None else _check_stream(stream)
        sensors = self.sensors if sensors is None else _check_sensors(sensors)
        self.stop()
        self.stream, self.sensors = stream, sensors

    # --- counters ---------------------------------------------------------------
    @property
    def achieved_rate(self) -> float:
        """Entries per second the paced loop sent over the last ``RATE_WINDOW`` seconds of its run.

        Bursts are left out: they go as fast as the server takes them and say nothing of the
        rate the slider asks for. While the loop runs the window ends now; otherwise it ends
        at its last send, so a finished run keeps showing the rate it reached (0 before any run).
        """
        with self._count_lock:
            history = list(self._history)
            sent, since = self.paced_sent, self._active_since
        if since is None:
            return 0.0
        if self.running:
            # Entries sent in the window that ends now (a stalled producer drops to 0).
            end = time.monotonic()
            span = min(RATE_WINDOW, end - since)
            base = next((s for t, s in reversed(history) if t <= end - span), history[0][1])
            return (sent - base) / span if span > 0 else 0.0
        # Stopped: from the first send in the last window of activity to the last send.
        end, sent = history[-1]
        first_t, first_sent = next((t, s) for t, s in history if t >= max(since, end - RATE_WINDOW))
        return (sent - first_sent) / (end - first_t) if end > first_t else 0.0

    def _mark_start(self) -> None:
        """A paced run begins: the rate is measured from here."""
        now = time.monotonic()
        with self._count_lock:
            self._active_since = now
            self._history.append((now, self.paced_sent))

    def _record(self, count: int, last_id: str, paced: bool = True) -> None:
        now = time.monotonic()
        with self._count_lock:
            self.sent += count
            self.last_id = last_id
            if not paced:
                return
            self.paced_sent += count
            self._history.append((now, self.paced_sent))
            # Keep the newest sample at or before the window's start: the rate counts from it.
            while len(self._history) > 1 and self._history[1][0] <= now - RATE_WINDOW:
                self._history.popleft()

    # --- sending ------------------------------------------------------------
    def _xadd_args(self) -> list:
        """``XADD key [MAXLEN [~] n] *``: the start of every command this producer sends."""
        args = ["XADD", self.stream]
        if self.maxlen:
            args += ["MAXLEN", "~", self.maxlen] if self.approximate else ["MAXLEN", self.maxlen]
        return args + ["*"]

    def _commands(self, n: int) -> list[list]:
        """The next ``n`` XADD commands, each a full argument list, with their ``seq`` numbers."""
        with self._count_lock:
            first = self._seq + 1
            self._seq += n
        head, sensors, payload = self._xadd_args(), self.sensors, self.payload
        commands = []
        for seq in range(first, first + n):
            fields = payload(sensors[(seq - 1) % len(sensors)], seq)
            if not isinstance(fields, dict):
                raise ValueError(f"payload must return a dict of fields; it returned {fields!r}.")
            args = list(head)
            for pair in fields.items():
                args += pair
            args += ("seq", seq, "sent_at", f"{time.time():.6f}")
            commands.append(args)
        return commands

    def _send(self, n: int, paced: bool = True) -> None:
        """``XADD`` ``n`` entries: one call for a single entry, else one pipeline."""
        commands = self._commands(n)
        try:
            if n == 1:
                last_id = self.r.execute_command(*commands[0])
            else:
                # execute_command with the arguments ready skips xadd()'s own argument
                # checks, which cost as much as the network on a local server.
                pipe = self.r.pipeline(transaction=False)
                for args in commands:
                    pipe.execute_command(*args)
                last_id = pipe.execute()[-1]
        except Exception:
            with self._count_lock:
                self.errors += 1
            raise
        self._record(n, last_id, paced)

    def burst(self, n: int, cancel: threading.Event | None = None) -> "Producer":
        """Send ``n`` entries now, as fast as the server takes them (pipelined ``XADD``).

        Runs on the caller's thread and returns when all ``n`` are in the
        stream; a running paced loop carries on beside it. Setting ``cancel``
        (from another thread) ends the burst after the batch in flight. A
        server at its ``maxmemory`` limit refuses ``XADD`` (``OOM``): that raises
        ``ServerFullError``, which says how many entries went in before it.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"burst needs a whole number of entries (0 or more); got {n!r}.")
        check_is_stream(self.r, self.stream)
        asked, done = n, 0
        while n > 0 and not (cancel is not None and cancel.is_set()):
            batch = min(n, MAX_BATCH)
            try:
                self._send(batch, paced=False)
            except redis.ResponseError as exc:
                if not is_out_of_memory(exc):
                    raise
                raise ServerFullError(self.stream, asked, done, exc) from None
            n -= batch
            done += batch
        return self

    # --- the paced loop -----------------------------------------------------------
    def on_start(self) -> None:
        check_is_stream(self.r, self.stream)
        self._mark_start()
        self._schedule.restart()

    def step(self) -> None:
        if self.status == "reconnecting":
            # Back from an outage: carry on at the rate, without a flood of the missed entries.
            self._schedule.restart()
        due = self._schedule.due()
        if due <= 0:
            self.sleep(max(self._schedule.until_next(), TICK))
            return
        batch = min(due, MAX_BATCH)
        self._send(batch)
        self._schedule.done(batch)

    def __repr__(self) -> str:
        return (f"<Producer {self.name!r} on {self.stream!r}: {self.status}, sent {self.sent:,}, "
                f"{self.achieved_rate:,.0f} msgs/s>")
