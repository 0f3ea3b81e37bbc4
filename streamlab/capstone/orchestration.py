"""The capstone's orchestration: ``Capstone`` starts, breaks, mends and accounts for the pipeline.

See the package docstring (``streamlab.capstone``) for what runs. This module
decides where each member runs (``backend_mode``), starts and stops them with the
reaper and the supervisor, kills and restarts them, waits for states, and turns a
Redis error in any of those calls into a ``PipelineError`` the learner can act on.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
import time
from typing import Callable

import pandas as pd
import redis

from .. import programs, recovery
from ..backend import Client
from ..errors import LearnerError
from ..explain import explain, is_learner_error
from ..groups import ensure_group
from ..observe import Sampler, lag_of
from ..registry import Registry
from ..waiting import wait_until
from .ledger import Ledger, account
from .members import Member, ProcessMember, ThreadMember
from .supervisor import GroupCounts, Supervisor

STREAM = programs.DEFAULT_STREAM
ALERTS = programs.DEFAULT_ALERTS
SENSORS = ("sensor1", "sensor2", "sensor3")
#: Seconds between two looks while waiting for a state (each look asks Redis).
WAIT_INTERVAL = 0.05


class PipelineError(LearnerError):
    """Redis refused or could not answer a pipeline call; the message says what happened and what to do.

    In IPython it shows as that message alone (``LearnerError``): the fault is the
    server or the setup, not the code in the cell, so a traceback would only hide the advice.
    """


# What a failed call left behind, where that is not "nothing changed".
_AFTER_FAILURE = {
    "start": "nothing was started. Run it again once Redis answers (after connecting somewhere else, "
             "make a new Capstone with the new client).",
    "stop": "every program is stopped; only the dashboard's last sample is missing.",
    "kill": "the member is dead, but the entries it left pending could not be read.",
}


def _explained(method):
    """Turn a learner's Redis error (server down, refused command) in ``method`` into a ``PipelineError``.

    The one route from a Redis error to the learner for the capstone's calls; the
    text is ``explain``'s, after what the failed call left behind.
    """

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as exc:
            if not is_learner_error(exc):
                raise
            left = _AFTER_FAILURE.get(method.__name__)
            raise PipelineError(f"Capstone.{method.__name__}() failed{': ' + left if left else '.'}"
                                f"\n{explain(exc)}") from None

    return call


def backend_mode(r: Client) -> str:
    """``"processes"`` when other processes can reach ``r``'s server (it has a URL), else ``"threads"``."""
    return "threads" if r.backend.is_fake or not r.backend.url else "processes"


def _discard(cap: "Capstone") -> None:
    """Stop a pipeline for good: what happens to one that another of its name replaced."""
    cap.close()


#: Started pipelines by name: starting one stops and closes the previous holder of its name
#: (its members were already stopped with its supervisor; this also removes its output
#: files), and the atexit hook below stops whatever still runs when the kernel exits.
_started: Registry["Capstone"] = Registry(_discard)


@atexit.register
def _stop_everything_at_exit() -> None:
    for cap in _started.items():
        cap._stop_members(timeout=1)
        if cap.logdir:
            shutil.rmtree(cap.logdir, ignore_errors=True)


class Capstone:
    """The sensor pipeline of lesson 07 (see ``streamlab.capstone``): start, break, recover, account.

    ``rate`` readings per second per sensor, ``count`` readings per sensor
    (``None``: until stopped); workers read ``batch`` entries per
    ``XREADGROUP`` and spend ``work`` seconds on each; the alerters copy readings
    with ``temp`` above ``threshold``. ``reaper_idle_ms``: how long an entry
    must sit unacknowledged before the reaper takes it over (``None``: no
    reaper). ``mode``: ``"processes"``, ``"threads"`` or ``None`` (by backend).
    """

    def __init__(self, r: Client, *, stream: str = STREAM, alerts: str = ALERTS,
                 sensors=SENSORS, workers=("w1", "w2"), alerters=("a1",),
                 group: str = "workers", alert_group: str = "alerts", threshold: float = 25.0,
                 rate: float = 8.0, count: int | None = 100, work: float = 0.08, batch: int = 5,
                 block_ms: int = 500, reaper_idle_ms: int | None = 1500, mode: str | None = None,
                 interval: float = 0.25, name: str | None = None):
        if mode not in (None, "processes", "threads"):
            raise ValueError(f"mode must be 'processes', 'threads' or None (pick by backend), not {mode!r}.")
        if mode == "processes" and backend_mode(r) == "threads":
            raise ValueError("Separate processes cannot reach fakeredis: it lives inside this Python "
                             "process. Use a real server (`streamlab server`, then set REDIS_URL), "
                             "or mode='threads'.")
        if float(rate) <= 0:
            raise ValueError(f"rate must be above 0 readings per second, got {rate!r}.")
        if count is not None and int(count) < 1:
            raise ValueError(f"count must be 1 or more readings per sensor (or None), got {count!r}.")
        if float(work) < 0 or int(batch) < 1:
            raise ValueError("work must be 0 or more seconds and batch 1 or more entries.")
        names = [*sensors, *workers, *alerters]
        if len(set(names)) != len(names) or "reaper" in names:
            raise ValueError(f"every producer and consumer needs its own name (and 'reaper' is "
                             f"taken by the reaper): got {names}.")
        self.r = r
        self.mode = mode or backend_mode(r)
        self.stream, self.alerts = stream, alerts
        self.group, self.alert_group = group, alert_group
        self.threshold = float(threshold)
        self.rate, self.count = float(rate), count
        self.work, self.batch, self.block_ms = float(work), int(batch), int(block_ms)
        self.reaper_idle_ms = reaper_idle_ms
        self.interval = float(interval)
        self.name = name or f"capstone:{stream}"
        self._lock = threading.RLock()
        self.members: dict[str, Member] = {}  # name -> its current run
        self.earlier: list[Member] = []  # runs that restart() replaced, kept for status() and the ledger
        for s in sensors:
            self._add_member(s, "producer")
        for w in workers:
            self._add_member(w, "worker")
        for a in alerters:
            self._add_member(a, "alerter")
        self.reaper: recovery.Reaper | None = None
        self.reaper_ids: list[str] = []
        self.events: list[tuple[float, str]] = []
        self.logdir: str | None = None
        self._supervisor: Supervisor | None = None
        self.stop_timeout = 3.0  # seconds from Ctrl-C to SIGKILL; also when sl.reset() stops the pipeline
        #: Called with no arguments at the end of every ``start()`` and ``stop()``, on the
        #: caller's thread: a dashboard follows the pipeline (it draws the run's last picture
        #: in stop(); the book's picture can only be updated from the notebook's main thread).
        #: One of each per pipeline: a new dashboard takes them over.
        self.on_start: Callable[[], object] | None = None
        self.on_stop: Callable[[], object] | None = None
        self._reset_samples()

    # --- members ------------------------------------------------------------------
    def _member_argv(self, name: str, role: str) -> list[str]:
        if role == "producer":
            argv = ["produce", name, "--rate", f"{self.rate:g}"]
            if self.count is not None:
                argv += ["--count", str(int(self.count))]
            return argv + self._stream_option()
        group = self.group if role == "worker" else self.alert_group
        argv = ["consume", group, name, *self._stream_option(), "--count", str(self.batch),
                "--block", str(self.block_ms)]
        if role == "worker":
            return argv + (["--work", f"{self.work:g}"] if self.work else [])
        argv += ["--alert-above", f"{self.threshold:g}"]
        return argv + ([] if self.alerts == ALERTS else ["--alerts-stream", self.alerts])

    def _stream_option(self) -> list[str]:
        return [] if self.stream == STREAM else ["--stream", self.stream]

    def _add_member(self, name: str, role: str) -> Member:
        cls = ProcessMember if self.mode == "processes" else ThreadMember
        group = None if role == "producer" else (self.group if role == "worker" else self.alert_group)
        member = cls(name, role, group, self._member_argv(name, role))
        with self._lock:  # the supervisor thread walks this dict
            self.members[name] = member
        return member

    def _member(self, name: str) -> Member:
        try:
            return self.members[name]
        except KeyError:
            raise ValueError(f"No member called {name!r}; the pipeline has: "
                             f"{', '.join(self.members)}.") from None

    def commands(self) -> list[str]:
        """The terminal commands this pipeline runs, one per producer and consumer."""
        return [m.command for m in self.members.values()]

    def _start_member(self, m: Member) -> None:
        """Start ``m``'s program: a process against the server's URL, or a thread on a client of its own."""
        if isinstance(m, ProcessMember):
            m.start(self.r.backend.url, self.logdir)
        else:
            m.start(self.r.new_client(), functools.partial(self._program_on_thread, m))

    def _program_on_thread(self, m: Member, client, stop, out) -> None:
        """What ``m``'s command runs, on a thread (fakeredis): ``programs.produce`` or ``programs.consume``."""
        if m.role == "producer":
            sent = programs.produce(client, m.name, stream=self.stream, rate=self.rate,
                                    count=self.count, stop=stop, out=out)
            out(f"{m.name}: sent {sent} entries to {self.stream}")
            return
        alert = self.threshold if m.role == "alerter" else None
        programs.consume(client, m.group, m.name, stream=self.stream, block_ms=self.block_ms,
                         count=self.batch, alert_above=alert, alerts_stream=self.alerts,
                         work_seconds=self.work if m.role == "worker" else 0.0, stop=stop, out=out)

    # --- lifecycle -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(m.alive for m in self.members.values())

    @_explained
    def start(self) -> "Capstone":
        """Start from empty streams: delete this pipeline's two streams, create both groups
        (``XGROUP CREATE ... 0 MKSTREAM``), then start every member at once, the reaper and the supervisor."""
        self.stop()
        self.r.delete(self.stream, self.alerts, self.stream + ":dead")
        for group in (self.group, self.alert_group):
            ensure_group(self.r, self.stream, group, "0")
        self._new_logdir()
        for old in self.earlier:
            old.close()
        self.earlier = []
        for name in list(self.members):
            old = self.members[name]
            old.close()
            self.members[name] = self._add_member(name, old.role)
        self.reaper_ids = []
        self.events = []
        self._reset_samples()
        self._supervisor = Supervisor(self)
        self._supervisor.start()  # stops an older pipeline of the same name first
        _started.claim(self.name, self)  # ... and this closes it
        # Consumers first, so they are waiting when the first readings arrive.
        for m in sorted(self.members.values(), key=lambda m: m.role == "producer"):
            self._start_member(m)
        if self.reaper_idle_ms is not None:
            self.reaper = recovery.Reaper(self.r, self.stream, self.group, consumer="reaper",
                                          min_idle_ms=self.reaper_idle_ms, handler=self._reaper_work,
                                          name=f"{self.name}:reaper")
            self.reaper.listeners.append(self._reaper_event)
            self.reaper.start()
        self.events.append((0.0, "start"))
        if self.on_start is not None:
            self.on_start()
        return self

    def _new_logdir(self) -> None:
        if self.logdir:
            shutil.rmtree(self.logdir, ignore_errors=True)
        self.logdir = tempfile.mkdtemp(prefix="streamlab-capstone-") if self.mode == "processes" else None

    def wait_started(self, timeout: float = 15) -> bool:
        """Wait until every consumer has joined its group (each process takes ~0.5 s to start)."""
        return bool(wait_until(lambda: all(m.joined or not m.alive for m in self.members.values()
                                           if m.role != "producer"), timeout, WAIT_INTERVAL))

    @_explained
    def stop(self, timeout: float = 3) -> "Capstone":
        """Ctrl-C every member (each finishes its entry and exits 0); SIGKILL any left after ``timeout``."""
        if self._supervisor is None:
            return self
        self.stop_timeout = timeout
        self._supervisor.stop(timeout + 5)  # its on_stop stops the members
        self._stop_members(timeout)
        self.sample()  # the final state, so every line of the dashboard ends where the run ended
        if self.on_stop is not None:
            self.on_stop()
        return self

    def _stop_members(self, timeout: float = 3) -> None:
        with self._lock:
            if self.reaper is not None:
                self.reaper.stop()
            members = list(self.members.values())
            for m in members:
                m.interrupt()
            deadline = time.monotonic() + timeout
            for m in members:
                if not m.wait(max(0.0, deadline - time.monotonic())):
                    m.kill()
                    m.lines.append(f"(did not stop within {timeout:g} s of Ctrl-C: killed)")
            for m in members:
                m.poll()

    def close(self) -> None:
        """Stop everything and delete the output files of the processes."""
        self.stop()
        for m in self.runs():
            m.close()
        if self.logdir:
            shutil.rmtree(self.logdir, ignore_errors=True)
            self.logdir = None
        _started.release(self.name, self)

    # --- breaking and mending ------------------------------------------------------------
    @_explained
    def kill(self, name: str, holding: int = 0, timeout: float = 10) -> list[str]:
        """SIGKILL one member (on threads: end it at its next Redis command); returns the IDs it left pending.

        ``holding``: first wait (up to ``timeout`` seconds) for a moment when the
        consumer holds at least that many entries, read and not acknowledged. When it
        seems to, it is frozen (SIGSTOP; a thread: its next command waits) while its
        ``XPENDING`` is read again, then killed, or thawed (SIGCONT) to try again: so
        it dies holding exactly what was counted.
        The pending IDs returned are ``XPENDING stream group - + 1000 <name>`` after the kill.
        """
        m = self._member(name)
        if not m.alive:
            raise ValueError(f"{name} is not running ({m.status}).")
        if holding and m.group is not None:
            self._kill_while_holding(m, holding, timeout)
        else:
            m.kill()
        self._event(f"{name} killed")
        if m.group is None:
            return []
        rows = self.r.xpending_range(self.stream, m.group, "-", "+", 1000, consumername=name)
        return [p["message_id"] for p in rows]

    def _kill_while_holding(self, m: Member, holding: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout

        def ready() -> bool:
            return self.holding(m.name) >= holding or time.monotonic() >= deadline

        while True:
            # A first look while it runs; frozen only to confirm. Frozen for every look, a
            # program on a busy machine got too little time between looks to read anything,
            # and was killed at the deadline holding nothing.
            if ready():
                m.freeze()
                try:
                    confirmed = ready()
                except BaseException:
                    m.thaw()  # never leave a program frozen behind an error
                    raise
                if confirmed:
                    m.kill()
                    return
                m.thaw()
            time.sleep(0.02)

    def alive(self, name: str) -> bool:
        """True while the member ``name`` runs (its process, or its thread on fakeredis)."""
        return self._member(name).alive

    def add_worker(self, name: str) -> Member:
        """Start one more worker (``streamlab consume workers <name>``) while the pipeline runs."""
        if self._supervisor is None:
            raise ValueError("The pipeline was never started: run start() first.")
        if name in self.members:
            raise ValueError(f"{name} is already a member of this pipeline ({self.members[name].status}); "
                             f"to start it again, use restart({name!r}).")
        return self._launch(name, "worker")

    def restart(self, name: str) -> Member:
        """Start a stopped or killed member again under the same name, as a new process.

        A consumer first takes back its own pending entries (``XREADGROUP ... 0``),
        then reads new ones. The earlier run keeps its own row in ``status()``
        (with how it ended), and what it did still counts in the ledger.
        """
        previous = self._member(name)
        if previous.role == "producer":
            raise ValueError(f"{name} is a producer: each run sends --count readings, so a second run would "
                             "upset the ledger's count. Run start() again for a fresh pipeline.")
        if previous.alive:
            raise ValueError(f"{name} is still running; kill({name!r}) or stop() it first.")
        if previous.status == "new":
            raise ValueError(f"{name} was never started: run start() first.")
        previous.poll()
        previous.close()
        self.earlier.append(previous)
        return self._launch(name, previous.role, restarted=True)

    def _launch(self, name: str, role: str, restarted: bool = False) -> Member:
        m = self._add_member(name, role)
        self._start_member(m)
        self._event(f"{name} {'restarted' if restarted else 'started'}")
        return m

    def runs(self) -> list[Member]:
        """Every run of every member, earlier runs of a restarted one just before its current run."""
        with self._lock:
            return [run for name, m in self.members.items()
                    for run in [*(e for e in self.earlier if e.name == name), m]]

    @_explained
    def pending(self, group: str | None = None) -> pd.DataFrame:
        """``XPENDING`` per consumer of ``group`` (default: the workers)."""
        return recovery.pending_summary(self.r, self.stream, group or self.group)

    @_explained
    def pending_entries(self, name: str, group: str | None = None) -> pd.DataFrame:
        """``XPENDING stream group - + 100 <name>``: the entries ``name`` holds, how long idle, how often delivered."""
        return recovery.pending_entries(self.r, self.stream, group or self.group, consumer=name)

    def _reaper_work(self, entry_id: str, fields: dict, deliveries: int) -> None:
        time.sleep(self.work)

    def _reaper_event(self, event) -> None:
        if event.kind == "acked":
            with self._lock:
                self.reaper_ids.append(event.entry_id)
            if len(self.reaper_ids) == 1:
                self._event("reaper took over")

    def _event(self, label: str) -> None:
        self.events.append((self._now(), label))

    # --- waiting -------------------------------------------------------------------------
    def wait_pending(self, name: str, at_least: int = 1, timeout: float = 10) -> bool:
        """Wait until consumer ``name`` holds ``at_least`` pending entries (a good moment to kill it)."""
        return bool(wait_until(lambda: self.holding(name) >= at_least, timeout, WAIT_INTERVAL))

    @_explained
    def holding(self, name: str) -> int:
        """How many entries consumer ``name`` holds, delivered and not acked (``XPENDING`` summary)."""
        m = self._member(name)
        return int(self.pending(m.group).set_index("consumer")["pending"].get(name, 0))

    def processed_ids(self) -> set[str]:
        """Every entry ID a worker (any run of it) or the reaper reported as processed (and acked)."""
        with self._lock:
            for m in self.members.values():
                m.poll()
            done = {i for m in self.runs() if m.role == "worker" for i in m.processed_ids}
        return done | set(self.reaper_ids)

    def wait_finished(self, ids, timeout: float = 15) -> bool:
        """Wait until every one of ``ids`` was processed by somebody (after a kill: taken over and done)."""
        return bool(wait_until(lambda: set(ids) <= self.processed_ids(), timeout, WAIT_INTERVAL))

    @_explained
    def drained(self) -> bool:
        """Producers finished, and both groups have read everything and acked it (lag 0, nothing pending)."""
        if any(m.alive for m in self.members.values() if m.role == "producer"):
            return False
        info = {g["name"]: g for g in self.r.xinfo_groups(self.stream)}
        for group in (self.group, self.alert_group):
            row = info.get(group)
            if row is None or int(row["pending"]) or lag_of(self.r, self.stream, row)[0] != 0:
                return False
        return True

    def wait_drained(self, timeout: float = 30) -> bool:
        """Wait until ``drained()``; True if it happened in time."""
        return bool(wait_until(self.drained, timeout, WAIT_INTERVAL))

    # --- sampling (on the supervisor's thread) -------------------------------------------
    def _reset_samples(self) -> None:
        self._t0 = time.monotonic()
        self.samplers = {g: Sampler(self.r, self.stream, g, pool=GroupCounts(self, g),
                                    interval=self.interval, window=3600, name=f"{self.name}:{g}")
                         for g in (self.group, self.alert_group)}
        for s in self.samplers.values():
            s.t0 = self._t0
        self._alert_rows: list[tuple[float, int, int]] = []
        self._next_sample = 0.0

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _tick(self, client) -> None:
        with self._lock:
            for m in self.members.values():
                m.poll()
        now = time.monotonic()
        if now >= self._next_sample:
            self._next_sample = now + self.interval
            self.sample(client)

    def sample(self, client=None) -> None:
        """One sample of both groups (``XINFO``/``XPENDING``) and of the alerts stream (``XLEN``)."""
        client = client or self.r
        for s in self.samplers.values():
            s.client = client
            s.sample()
        self._alert_rows.append((self._now(), client.xlen(self.alerts), client.xlen(self.stream)))

    # --- looking at it -----------------------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """One row per run of each member (a restarted worker has two): role, group, where it runs,
        how it is or how it ended, and what that run sent / processed / alerted."""
        with self._lock:
            for m in self.members.values():
                m.poll()
            rows = [{"name": m.name, "role": m.role, "group": m.group or "", "runs as": m.where,
                     "status": m.status, "sent": m.sent if m.role == "producer" else "",
                     "processed": "" if m.role == "producer" else m.processed,
                     "alerts": m.alerts if m.role == "alerter" else ""}
                    for m in self.runs()]
        if self.reaper is not None:
            rows.append({"name": "reaper", "role": "reaper", "group": self.group,
                         "runs as": "thread in this kernel", "status": self.reaper.status,
                         "sent": "", "processed": len(self.reaper_ids), "alerts": ""})
        return pd.DataFrame(rows)

    def tail(self, name: str, n: int = 5) -> str:
        """The last ``n`` lines a member printed (what its terminal would show)."""
        m = self._member(name)
        m.poll()
        return m.tail(n)

    def frames(self) -> dict[str, pd.DataFrame]:
        """The samples so far: per group (lag, pending, ...), per worker (pending, processed), alerts."""
        return {
            "workers": self.samplers[self.group].stream_frame(),
            "alerters": self.samplers[self.alert_group].stream_frame(),
            "consumers": self.samplers[self.group].consumer_frame(),
            "alerts": pd.DataFrame(self._alert_rows, columns=["t", "alerts", "readings"]),
        }

    # --- accounts ------------------------------------------------------------------------------
    @_explained
    def ledger(self) -> Ledger:
        """Check the run against Redis (``ledger.account``: ``XRANGE`` of both streams,
        ``XINFO GROUPS``): every reading processed, the alerts exactly the hot readings."""
        runs = self.runs()
        for m in runs:
            m.poll()
        return account(self.r, stream=self.stream, alerts=self.alerts, group=self.group,
                       alert_group=self.alert_group, threshold=self.threshold, count=self.count,
                       runs=runs, reaper_ids=self.reaper_ids)
