"""Pub/Sub next to Streams (lesson 06): the same events, two ways of delivering them.

``PUBLISH channel message`` hands a message to whoever is subscribed *right
now* and forgets it: a subscriber that is offline misses it for good (at most
once). ``XADD stream * ...`` stores the event, and a consumer group remembers
how far it has read, so a consumer that comes back catches up (at least once,
with ``XACK``).

``PubSubVsStreams`` runs that side by side: one publisher writes every event
to a channel *and* to a stream, a ``Subscriber`` thread listens on the
channel, a ``GroupReader`` thread reads the stream through a consumer group,
and both can be taken offline and brought back while events keep coming.

This module returns numbers (``Result``, ``BufferLimitDemo``); their figures are
in ``streamlab.ui.figures.pubsub`` and the live panel is ``streamlab.ui.PubSubPanel``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis

from . import server as _server
from .backend import SERVER_NAMES, Client, identify
from .groups import ensure_group
from .waiting import wait_until
from .workers import Worker

#: How long a reader thread waits for a message before checking whether it should stop.
POLL_SECONDS = 0.1


class Subscriber(Worker):
    """``SUBSCRIBE``/``PSUBSCRIBE`` on its own connection, read on a background thread.

    ``start()`` returns once the server has confirmed every subscription, so a
    message published after it is delivered. ``stop()`` closes the connection:
    the server forgets the subscriber, and anything published meanwhile is
    gone for it. ``start()`` again subscribes afresh. ``messages`` keeps what
    arrived: dicts with ``channel``, ``pattern``, ``data`` and ``t`` (monotonic time).
    """

    def __init__(self, r: Client, channels=(), patterns=(), *, name: str | None = None):
        channels, patterns = _as_tuple(channels), _as_tuple(patterns)
        if not channels and not patterns:
            raise ValueError("A Subscriber needs at least one channel or pattern.")
        super().__init__(name or f"subscriber-{'+'.join(channels + patterns)}")
        self.r, self.channels, self.patterns = r, channels, patterns
        self.messages: list[dict] = []
        self._client = None
        self._pubsub = None

    @property
    def count(self) -> int:
        return len(self.messages)

    def on_start(self) -> None:
        self._client = self.r.new_client()  # its own connection: SUBSCRIBE takes it over
        self._pubsub = self._client.pubsub()
        if self.channels:
            self._pubsub.subscribe(*self.channels)
        if self.patterns:
            self._pubsub.psubscribe(*self.patterns)
        # Read the confirmations here: once they are in, the server has the subscriptions.
        expected = len(self.channels) + len(self.patterns)
        confirmed = 0
        deadline = time.monotonic() + 5
        while confirmed < expected and time.monotonic() < deadline:
            reply = self._pubsub.get_message(timeout=0.1)
            if reply and reply["type"] in ("subscribe", "psubscribe"):
                confirmed += 1
        if confirmed < expected:
            self._close()
            raise TimeoutError("the server did not confirm SUBSCRIBE within 5 s.")

    def step(self) -> None:
        reply = self._pubsub.get_message(timeout=POLL_SECONDS)
        if not reply or reply["type"] not in ("message", "pmessage"):
            return
        self.messages.append({"channel": reply["channel"], "pattern": reply.get("pattern"),
                              "data": reply["data"], "t": time.monotonic()})

    def on_stop(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None
        if self._client is not None:
            self._client.close()
        self._client = None


class GroupReader(Worker):
    """``XREADGROUP GROUP g c BLOCK 100 COUNT 100 STREAMS key >`` then ``XACK``, on a background thread.

    The group is created at ``start_id`` (``$``: only new entries) if it does
    not exist. After ``stop()`` the group remembers how far it got; ``start()``
    again carries on from there. ``messages`` keeps ``(id, fields, t)``.
    """

    def __init__(self, r: Client, stream: str, group: str, consumer: str = "reader", *,
                 start_id: str = "$", name: str | None = None):
        super().__init__(name or f"reader-{stream}-{group}")
        self.r, self.stream, self.group, self.consumer = r, stream, group, consumer
        self.start_id = start_id
        self.messages: list[tuple[str, dict, float]] = []
        self._client = None

    @property
    def count(self) -> int:
        return len(self.messages)

    def on_start(self) -> None:
        ensure_group(self.r, self.stream, self.group, self.start_id)
        self._client = self.r.new_client()  # its own connection: a blocked read holds it

    def step(self) -> None:
        reply = self._client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                        count=100, block=int(POLL_SECONDS * 1000))
        for _, entries in reply or []:
            now = time.monotonic()
            for entry_id, fields in entries:
                self.messages.append((entry_id, fields, now))
            self._client.xack(self.stream, self.group, *[e[0] for e in entries])

    def on_stop(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None


def _as_tuple(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


# --- the experiment ------------------------------------------------------------

@dataclass
class Result:
    """What each side received of ``events`` events while both were offline for ``offline``."""

    events: int
    offline: tuple[int, int] | None
    subscriber_seqs: list[int]
    stream_seqs: list[int]
    published_at: list[float] = field(default_factory=list)   # seconds since the start, per event
    subscriber_at: list[float] = field(default_factory=list)  # seconds since the start, per message
    stream_at: list[float] = field(default_factory=list)
    offline_at: tuple[float, float] | None = None

    @property
    def subscriber_received(self) -> int:
        return len(set(self.subscriber_seqs))

    @property
    def stream_received(self) -> int:
        return len(set(self.stream_seqs))

    @property
    def subscriber_missed(self) -> list[int]:
        return sorted(set(range(1, self.events + 1)) - set(self.subscriber_seqs))

    @property
    def stream_missed(self) -> list[int]:
        return sorted(set(range(1, self.events + 1)) - set(self.stream_seqs))

    def table(self):
        """Received and missed per side, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            {"received": [self.subscriber_received, self.stream_received],
             "missed": [len(self.subscriber_missed), len(self.stream_missed)]},
            index=["Pub/Sub subscriber", "stream consumer group"])

    def headline(self) -> str:
        """What the run shows, in one line: how many events each side missed."""
        sub, stream = len(self.subscriber_missed), len(self.stream_missed)
        return (f"The Pub/Sub subscriber missed {sub:,} of {self.events:,} events; "
                f"the stream consumer missed {stream:,}")

    @property
    def achieved_rate(self) -> float | None:
        """Events published per second, from the first to the last publish (``None`` under 2)."""
        times = sorted(self.published_at)
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    def details(self) -> str:
        """The run's parameters as measured: events, the rate achieved, when the readers were offline."""
        parts = [f"{self.events:,} events published"]
        if self.achieved_rate is not None:
            parts[0] += f" at {self.achieved_rate:,.1f}/s"
        if self.offline_at:
            start, end = self.offline_at
            parts.append(f"readers offline {start:.1f}–{end:.1f} s")
        if self.offline:
            parts.append(f"offline for events {self.offline[0]}–{self.offline[1]}")
        return " · ".join(parts)


class PubSubVsStreams:
    """One publisher, two delivery paths: ``PUBLISH channel`` and ``XADD stream``, same events.

    ``run(events=100, offline=(31, 70))`` publishes events 1..100, takes the
    subscriber and the stream reader offline just before event 31 and brings
    them back just after event 70, waits for the readers to settle, and
    returns a ``Result``: the subscriber has 60, the stream reader all 100.
    """

    def __init__(self, r: Client, prefix: str = "lesson06:", name: str = "events"):
        self.r = r
        self.channel = f"{prefix}{name}"          # channels and keys live apart; same name is fine
        self.stream = f"{prefix}{name}"
        self.group = "catch-up"
        self.subscriber = Subscriber(r, self.channel, name=f"pubsub-vs-streams-sub-{self.channel}")
        self.reader = GroupReader(r, self.stream, self.group,
                                  name=f"pubsub-vs-streams-reader-{self.stream}")
        self.published = 0
        self._t0 = time.monotonic()
        self._published_at: list[float] = []
        self._sub_online_published = 0  # events published while the subscriber listened

    def publish(self, seq: int) -> int:
        """``PUBLISH channel seq`` and ``XADD stream * seq <seq>`` in one round trip;
        returns how many subscribers got the message."""
        pipe = self.r.pipeline(transaction=False)
        pipe.publish(self.channel, str(seq))
        pipe.xadd(self.stream, {"seq": str(seq)})
        receivers, _ = pipe.execute()
        self.published += 1
        self._published_at.append(time.monotonic() - self._t0)
        if self.subscriber.running:
            self._sub_online_published += 1
        return receivers

    def start(self) -> None:
        """Fresh keys, then both readers online (the group starts at ``$``: only new events)."""
        self.r.delete(self.stream)
        self.published = 0
        self._published_at = []
        self._sub_online_published = 0
        self.subscriber.messages.clear()
        self.reader.messages.clear()
        self._t0 = time.monotonic()
        self.reader.start()
        self.subscriber.start()

    def take_offline(self, timeout: float = 5) -> None:
        """Stop both readers (after the subscriber has read what was sent to it, so counts are exact)."""
        wait_until(lambda: self.subscriber.count >= self._sub_online_published, timeout)
        self.subscriber.stop()
        self.reader.stop()
        # The server drops a closed subscriber when it notices the closed socket.
        wait_until(lambda: self._numsub() == 0, timeout)

    def bring_back(self) -> None:
        """Start both readers again: the subscriber subscribes anew, the reader resumes its group."""
        self.reader.start()
        self.subscriber.start()

    def stop(self) -> None:
        self.subscriber.stop()
        self.reader.stop()

    def settle(self, timeout: float = 10) -> bool:
        """Wait until the stream reader has every event and the subscriber all it was sent."""
        return wait_until(lambda: self.reader.count >= self.published
                           and self.subscriber.count >= self._sub_online_published, timeout)

    def result(self, offline=None, offline_at=None) -> Result:
        t0 = self._t0
        return Result(
            events=self.published, offline=offline,
            subscriber_seqs=[int(m["data"]) for m in self.subscriber.messages],
            stream_seqs=[int(fields["seq"]) for _, fields, _ in self.reader.messages],
            published_at=list(self._published_at),
            subscriber_at=[m["t"] - t0 for m in self.subscriber.messages],
            stream_at=[t - t0 for _, _, t in self.reader.messages],
            offline_at=offline_at)

    def run(self, events: int = 100, offline: tuple[int, int] | None = (31, 70),
            rate: float | None = 200) -> Result:
        """Publish ``events`` events at ``rate`` per second (None: as fast as possible), with both
        readers offline for events ``offline[0]..offline[1]``; returns the ``Result``."""
        if events < 1:
            raise ValueError(f"events must be at least 1, got {events}.")
        if offline is not None:
            first, last = offline
            if not 1 <= first <= last <= events:
                raise ValueError(f"offline must be (first, last) with 1 <= first <= last <= {events}, "
                                 f"got {offline}.")
        self.start()
        offline_at = [None, None]
        try:
            for seq in range(1, events + 1):
                if offline and seq == offline[0]:
                    # The band starts once both readers are really gone: the publisher waits for
                    # that (the stream reader finishes its blocking read), so 31..70 go to nobody.
                    self.take_offline()
                    offline_at[0] = time.monotonic() - self._t0
                self.publish(seq)
                if offline and seq == offline[1]:
                    offline_at[1] = time.monotonic() - self._t0
                    self.bring_back()
                if rate:
                    time.sleep(1 / rate)
            self.settle()
        finally:
            self.stop()
        return self.result(offline, tuple(offline_at) if offline else None)

    def elapsed(self) -> float:
        """Seconds since ``start()``: the clock of ``Result``'s times."""
        return time.monotonic() - self._t0

    def _numsub(self) -> int:
        return dict(self.r.pubsub_numsub(self.channel)).get(self.channel, 0)


# --- live: a publisher on a thread (``streamlab.ui.PubSubPanel`` gives it buttons) ----

class Publisher(Worker):
    """Calls ``experiment.publish(seq)`` ``rate`` times a second on a background thread."""

    def __init__(self, experiment: "PubSubVsStreams", rate: float = 20, name: str | None = None):
        if not 0 < rate <= 1000:
            raise ValueError(f"rate must be between 0 and 1000 events a second, got {rate}.")
        super().__init__(name or f"publisher-{experiment.channel}")
        self.experiment, self.rate = experiment, rate

    def step(self) -> None:
        self.experiment.publish(self.experiment.published + 1)
        self.sleep(1 / self.rate)


# --- a slow subscriber and the output buffer limit ------------------------------

@dataclass
class BufferLimitDemo:
    """What happened to a subscriber that never read while messages kept coming."""

    where: str
    limit: str
    published: int
    delivered_by_publish: int   # sum of PUBLISH replies: how many times a subscriber was there
    subscriber_read: int        # messages the subscriber read after the publishing stopped
    disconnected: bool
    note: str = ""

    def __str__(self) -> str:
        if not self.published:
            return self.note
        lines = [f"{self.where}, limit {self.limit!r}.",
                 f"Published {self.published:,} messages while the subscriber read nothing.",
                 f"PUBLISH counted the subscriber as a receiver for the first {self.delivered_by_publish:,}."]
        if self.disconnected:
            dropped = max(self.delivered_by_publish - self.subscriber_read, 0)
            lines += [f"Afterwards it read {self.subscriber_read:,}: those had already reached its end "
                      "of the connection.",
                      f"The other {dropped:,} (counted by PUBLISH, never read: the server does not say which) "
                      "must still have been in its output buffer,",
                      "dropped when the server disconnected it;",
                      f"the last {self.published - self.delivered_by_publish:,} went to nobody."]
        else:
            lines.append(f"Afterwards it read {self.subscriber_read:,}; it was never disconnected.")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def parts(self) -> dict[str, int]:
        """The published messages split by fate: read, dropped with the connection, sent to nobody."""
        read = min(self.subscriber_read, self.published)
        dropped = max(self.delivered_by_publish - read, 0) if self.disconnected else 0
        return {"read by the subscriber": read, "dropped with its connection": dropped,
                "published to nobody": max(self.published - read - dropped, 0)}


def output_buffer_limit(r: Client) -> str | None:
    """``CONFIG GET client-output-buffer-limit``, the ``pubsub`` part (``pubsub <hard> <soft> <secs>``).

    None where there is no CONFIG (fakeredis, many managed services).
    """
    if r.backend.is_fake:
        return None
    try:
        value = r.config_get("client-output-buffer-limit").get("client-output-buffer-limit", "")
    except redis.ResponseError:
        return None
    words = value.split()
    for i, word in enumerate(words):
        if word == "pubsub":
            return " ".join(words[i:i + 4])
    return None


def may_reconfigure(r: Client) -> bool:
    """True only for a server streamlab started itself (``r.backend.kind == 'private'``):
    the course never runs ``CONFIG SET`` on a server someone else runs."""
    return r.backend.kind == "private"


def slow_subscriber_demo(r: Client, *, channel: str = "lesson06:firehose",
                         messages: int = 4000, payload_bytes: int = 4096,
                         hard_limit: str = "256kb") -> BufferLimitDemo:
    """A subscriber that never reads, a publisher that keeps going, and a tiny
    ``client-output-buffer-limit pubsub``: the server disconnects the subscriber.

    ``CONFIG SET`` is used only on a server streamlab started: ``r``'s own if it
    is private, else a scratch private server started for the demo and stopped
    after it. With no ``redis-server`` binary at hand nothing is changed and the
    result says why.
    """
    is_fake = r.backend.is_fake
    fake_note = ("fakeredis itself has no output buffer limit: it keeps undelivered messages "
                 "in Python memory and never disconnects a slow subscriber.") if is_fake else ""
    if may_reconfigure(r):
        return _overflow(r.backend.url, "This kernel's private server", channel, messages,
                         payload_bytes, hard_limit, fake_note)
    # The same binary sl.connect() would start for a private backend: the first
    # redis-server or valkey-server on PATH (server.find_server_binary).
    binary = _server.find_server_binary()
    if binary is None:
        why = ("No redis-server or valkey-server on PATH to start a scratch server, and the "
               "course never runs CONFIG SET on a server it did not start.")
        return BufferLimitDemo("not run", output_buffer_limit(r) or "unknown", 0, 0, 0, False,
                               f"{fake_note} {why}".strip())
    scratch = _server.PrivateServer(binary=binary).start()
    try:
        demo = _overflow(scratch.url, f"A scratch server streamlab started for this demo from {binary}",
                         channel, messages, payload_bytes, hard_limit, fake_note)
        yours = r.backend.server
        if yours and not demo.where.endswith(yours):
            # The learner's server may be another kind or version than the binary at hand.
            demo.note = (f"{demo.note} Your own server is {yours}; the demo ran on the "
                         "scratch server above.").strip()
        return demo
    finally:
        scratch.stop()


def _overflow(url: str, where: str, channel: str, messages: int, payload_bytes: int,
              hard_limit: str, note: str = "") -> BufferLimitDemo:
    admin = redis.Redis.from_url(url, decode_responses=True, protocol=2)
    # The subscriber must see the disconnect, not silently reconnect and resubscribe.
    slow = redis.Redis.from_url(url, decode_responses=True, protocol=2, socket_timeout=2,
                                retry=None)
    # Say which server ran the demo, as HELLO names it ("Valkey 8.1.8", not INFO's 7.2.4).
    name, _, version = identify(admin)
    where = f"{where}: {SERVER_NAMES.get(name, name)} {version}"
    before = admin.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    limit = f"pubsub {hard_limit} 0 0"
    admin.config_set("client-output-buffer-limit", limit)
    pubsub = slow.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel)
        pubsub.get_message(timeout=1)  # the confirmation: the server has the subscription
        payload = "x" * payload_bytes
        delivered = 0
        pipe = admin.pipeline(transaction=False)
        for i in range(messages):
            pipe.publish(channel, payload)
            if (i + 1) % 100 == 0:
                delivered += sum(pipe.execute())
        delivered += sum(pipe.execute())
        read, disconnected = 0, False
        while True:
            try:
                reply = pubsub.get_message(timeout=0.5)
            except (redis.ConnectionError, ConnectionError, OSError):
                disconnected = True
                break
            if reply is None:
                break
            read += 1
    finally:
        try:
            pubsub.close()
            slow.close()
        finally:
            admin.config_set("client-output-buffer-limit", before)
            admin.close()
    return BufferLimitDemo(where, limit, messages, delivered, read,
                           disconnected or delivered < messages, note)


__all__ = ["BufferLimitDemo", "GroupReader", "Publisher", "PubSubVsStreams", "Result",
           "Subscriber", "may_reconfigure", "output_buffer_limit", "slow_subscriber_demo"]
