"""Lesson 07's capstone: the article's sensor pipeline, run from a notebook.

::

    cap = Capstone(r)           # 3 producers, group "workers" (w1, w2), group "alerts" (a1)
    cap.commands()              # the terminal commands it runs (the article's way)
    cap.start()                 # start everything at once, plus the reaper and the supervisor
    cap.dashboard()             # live widget; cap.show() draws the same as a picture
    left = cap.kill("w1", holding=1)   # SIGKILL w1 while it holds work: the IDs it left pending
    cap.wait_finished(left)     # ...until the reaper (XAUTOCLAIM) has done them
    cap.restart("w1"); cap.add_worker("w3")   # a new run of w1 (status() keeps the killed run's row)
    cap.wait_drained()          # producers done, both groups caught up, nothing pending
    cap.stop()
    cap.ledger()                # produced = processed, alerts = readings above the threshold

What runs:

- producers: ``streamlab produce SENSOR`` (``XADD lesson07:sensors * ...``);
- workers: ``streamlab consume workers wN`` (``XREADGROUP GROUP workers wN ... >``,
  pretend work, ``XACK``);
- alerters: ``streamlab consume alerts aN --alert-above T`` (an entry hotter than
  ``T`` is copied to ``lesson07:alerts`` by one Lua script that checks the reading is still
  pending, writes the alert and ``XACK``s last, so at most one alert per reading and none
  lost; never one ``MULTI``/``EXEC``, which would write the alert even when ``XACK`` replies 0
  and keep the ``XACK`` when the write fails);
- a reaper (``recovery.Reaper``, on a thread here): ``XAUTOCLAIM`` takes over
  entries left idle by a dead worker, finishes them and acknowledges them;
- a supervisor thread that reads every member's output, notices exits, and
  samples both groups (``XINFO GROUPS``, ``XPENDING``, ``XLEN``) for the dashboard
  (``observe.Sampler``); with a live dashboard, one more thread redraws it.

On a real server (any backend with a URL, the private server included) each
producer and consumer is its own OS process, started with
``python -m streamlab.cli produce|consume ...`` against ``REDIS_URL``, in
parallel (each takes about half a second to start). fakeredis lives inside
this Python process, where no other process can reach it, so there the same
programs (``programs.produce`` / ``programs.consume``) run on threads.

A call that Redis cannot answer (the server went away, say) raises
``PipelineError``, whose message says what happened, what to do, and what
the failed call left behind; IPython shows that message without a traceback.

Nothing outlives its owner: ``stop()`` sends SIGINT (each program finishes the
entry in hand and exits 0) and SIGKILLs whatever is still alive after a
timeout. The supervisor is a ``streamlab`` worker, so re-running the cell
(same name), ``sl.reset()`` and ``workers.stop_all()`` stop the pipeline too;
an ``atexit`` hook stops it when the kernel exits, and on Linux every child also
gets ``PR_SET_PDEATHSIG`` (SIGTERM when the kernel dies, even by SIGKILL).
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import redis
from matplotlib.ticker import MaxNLocator

from . import groups, programs, recovery, workers
from .ui.figures import pool as plots
from .ui import style
from .explain import explain, is_learner_error
from .observe import Sampler, lag_of

STREAM = programs.DEFAULT_STREAM
ALERTS = programs.DEFAULT_ALERTS
SENSORS = ("sensor1", "sensor2", "sensor3")
ALERT_COLOUR = style.ROLE["alerts"]
#: The dashboard's width on the page (CSS px); its picture is drawn at twice that.
DISPLAY_PX = round(10.2 * style.DPI)
REDRAW_SECONDS = 2.0

_SENT = re.compile(r": sent (\d+-\d+) ")
_PROCESSED = re.compile(r": processed (\d+-\d+) .*?temp=(\S+)( -> ALERT)?$")

# --- dying with the kernel -------------------------------------------------------------

try:  # looked up once here: a preexec_fn must not import (another thread may hold the import lock)
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when the process that started it dies.

    Strictly, when the *thread* that started it ends: start members from the
    notebook's own (main) thread, never from a short-lived one.
    """
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PipelineError(RuntimeError):
    """Redis refused or could not answer a pipeline call; the message says what happened and what to do.

    In IPython it shows as that message alone: the fault is the server or the
    setup, not the code in the cell, so a traceback would only hide the advice.
    """

    def _render_traceback_(self) -> list[str]:
        return f"{type(self).__name__}: {self}".splitlines()


# What a failed call left behind, where that is not "nothing changed".
_AFTER_FAILURE = {
    "start": "nothing was started. Run it again once Redis answers (after connecting somewhere else, "
             "make a new Capstone with the new client).",
    "stop": "every program is stopped; only the dashboard's last sample is missing.",
    "kill": "the member is dead, but the entries it left pending could not be read.",
}


def _explained(method):
    """Turn a learner's Redis error (server down, refused command) in ``method`` into a ``PipelineError``."""

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


def backend_mode(r) -> str:
    """``"processes"`` when other processes can reach ``r``'s server (it has a URL), else ``"threads"``."""
    return "threads" if r.backend.is_fake or not r.backend.url else "processes"


# --- members: one producer or consumer, as a process or a thread --------------------------


class Member:
    """One program of the pipeline and what its output said (sent / processed / alerts).

    ``ProcessMember`` and ``ThreadMember`` run it; both offer ``start(runner)``,
    ``interrupt()`` (Ctrl-C), ``kill()``, ``wait(timeout)``, ``poll()``,
    ``close()`` and the ``alive`` and ``where`` properties.
    """

    def __init__(self, name: str, role: str, group: str | None, argv: list[str]):
        self.name = name
        self.role = role  # producer, worker, alerter
        self.group = group
        self.argv = argv  # the `streamlab ...` arguments
        self.lines: deque[str] = deque(maxlen=200)
        self.sent = 0
        self.processed_ids: list[str] = []
        self.alerts = 0
        self.joined = False
        self.interrupted = False  # sent Ctrl-C by stop(): its exit 0 is then "after Ctrl-C"
        self.status = "new"  # new, running, exited 0 [after Ctrl-C], exited N, killed, ended by SIGxxx
        self._poll_lock = threading.Lock()  # the supervisor and the notebook both poll

    @property
    def command(self) -> str:
        return "streamlab " + shlex.join(self.argv)

    @property
    def processed(self) -> int:
        return len(self.processed_ids)

    def feed(self, line: str) -> None:
        """Take one line of the program's output (the same text a terminal shows)."""
        self.lines.append(line)
        if self.role == "producer":
            if _SENT.search(line):
                self.sent += 1
            return
        m = _PROCESSED.search(line)
        if m:
            self.processed_ids.append(m.group(1))
            self.alerts += bool(m.group(3))
        elif " group " in line and ("joined" in line or "created" in line):
            self.joined = True

    def tail(self, n: int = 5) -> str:
        return "\n".join(list(self.lines)[-n:])

    def __repr__(self) -> str:
        return f"<{self.role} {self.name}: {self.command} ({self.where}, {self.status})>"


def exit_status(code: int, interrupted: bool = False) -> str:
    """A process's return code in words: ``exited 0``, ``exited 0 after Ctrl-C``, ``killed`` (SIGKILL), ...

    ``interrupted``: the program was sent Ctrl-C (SIGINT), so an exit 0 was asked for,
    not reached on its own (a producer that sent all its readings).
    """
    if code == 0 and interrupted:
        return "exited 0 after Ctrl-C"
    if code >= 0:
        return f"exited {code}"
    if code == -signal.SIGKILL:
        return "killed"
    try:
        return f"ended by {signal.Signals(-code).name}"  # e.g. Ctrl-C before it was ready to catch it
    except ValueError:
        return f"ended by signal {-code}"


class ProcessMember(Member):
    """A member run as ``python -m streamlab.cli ...``, its output going to a log file."""

    proc: subprocess.Popen | None = None

    def start(self, runner: "Capstone") -> None:
        self.log_path = os.path.join(runner.logdir, f"{self.name}.log")
        self._log = open(self.log_path, "wb")
        self._reader = open(self.log_path, "rb")
        self._partial = b""
        env = {**os.environ, "REDIS_URL": runner.r.backend.url, "STREAMLAB_BACKEND": "env",
               "PYTHONUNBUFFERED": "1"}  # every line reaches the log at once, as in a terminal
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlab.cli", *self.argv],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            # Its own session: interrupting the kernel must not reach the pipeline.
            start_new_session=True,
            preexec_fn=_die_with_parent if _PRCTL is not None else None,
        )
        self._log.close()  # the child has its own copy
        self.status = "running"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def where(self) -> str:
        return f"pid {self.proc.pid}" if self.proc else ""

    def interrupt(self) -> None:
        # One Ctrl-C only: the programs' signal handler sets a threading.Event, and a second
        # signal landing while it holds the Event's lock deadlocks the program (seen: a
        # consumer that then ignored SIGINT and SIGTERM for ever). stop() calls this twice.
        if self.alive and not self.interrupted:
            self.interrupted = True
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C: finish the entry in hand, exit 0

    def kill(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)  # also ends a frozen (SIGSTOPped) process
            self.proc.wait()
        self.poll()

    def freeze(self) -> None:
        """SIGSTOP: it holds still (no read, no ack) until ``thaw()`` or ``kill()``."""
        if self.alive:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGCONT)

    def wait(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self.poll()
        return True

    def poll(self) -> None:
        """Read the output written since the last poll; note an exit."""
        if self.proc is None:
            return
        with self._poll_lock:
            if self._reader.closed:
                return
            data = self._partial + self._reader.read()
            *lines, self._partial = data.split(b"\n")
            for line in lines:
                self.feed(line.decode("utf-8", "replace"))
            code = self.proc.poll()
            if code is not None and self.status == "running":
                self.status = exit_status(code, self.interrupted)

    def close(self) -> None:
        with self._poll_lock:
            for fh in (getattr(self, "_log", None), getattr(self, "_reader", None)):
                if fh is not None:
                    fh.close()


# How long freeze() waits for a thread member's command in flight (a blocking read ends
# within BLOCK_SLICE_MS); past it the member is counted unfrozen, as before.
FREEZE_WAIT = 5.0


class _Killed(BaseException):
    """Ends a member's thread where it stands (the thread version of SIGKILL)."""


class ThreadMember(Member):
    """A member run on a thread of this process (fakeredis): ``programs.produce``/``consume``."""

    def __init__(self, *args):
        super().__init__(*args)
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._killed = False
        self._exit: str | None = None
        # Held by each of its Redis commands, and by freeze(): while frozen it starts none.
        self._gate = threading.RLock()
        self._frozen = False

    def start(self, runner: "Capstone") -> None:
        self.client = self._mortal(runner.r.new_client())
        self.thread = threading.Thread(target=self._run, args=(runner,),
                                       name=f"streamlab-capstone-{self.name}", daemon=True)
        self.status = "running"
        self.thread.start()

    def _mortal(self, client):
        """``client``, changed so that once this member is killed its next command raises,
        and while it is frozen its next command waits.

        Python cannot end a thread from outside; this is the nearest thing to
        SIGKILL: the work in hand is never acknowledged (its ``XACK``, alone or in a
        pipeline, is refused), so it stays pending with the rest of its batch.
        """
        member = self
        run_command, make_pipeline = client.execute_command, client.pipeline

        def gated(run, *args, **kwargs):
            with member._gate:
                if member._killed:
                    raise _Killed
                return run(*args, **kwargs)

        def execute_command(*args, **options):
            return gated(run_command, *args, **options)

        def pipeline(*args, **kwargs):
            pipe = make_pipeline(*args, **kwargs)
            run_pipeline = pipe.execute

            def execute(*a, **k):
                return gated(run_pipeline, *a, **k)

            pipe.execute = execute
            return pipe

        client.execute_command, client.pipeline = execute_command, pipeline
        return client

    def _run(self, runner: "Capstone") -> None:
        ended = "exited 1"  # also for anything the handlers below let through
        try:
            if self.role == "producer":
                runner._produce_on_thread(self, self.client, self._stop, self.feed)
            else:
                runner._consume_on_thread(self, self.client, self._stop, self.feed)
            # A killed consumer may find its stop flag before its next command: still killed.
            ended = "killed" if self._killed else exit_status(0, self.interrupted)
        except _Killed:
            ended = "killed"
        except Exception as exc:  # noqa: BLE001 - shown in the member's output and status
            self.lines.append(f"streamlab {self.argv[0]}: {explain(exc)}")
        finally:
            try:
                self.client.close()
            finally:
                # Set last, and only here: poll() takes this as the sign that the run is over.
                self._exit = ended

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def where(self) -> str:
        return f"thread {self.thread.name}" if self.thread else ""

    def interrupt(self) -> None:
        if self.alive:
            self.interrupted = True
        self._stop.set()

    # The thread version of SIGSTOP: take the gate its commands pass, so that it sends no
    # XACK between kill()'s count of what it holds and the kill (on a busy machine that gap
    # was long enough for it to ack one of the two entries it was to die holding). A command
    # in flight ends first: within one BLOCK slice or one reply.
    def freeze(self) -> None:
        if self.alive and not self._frozen and self._gate.acquire(timeout=FREEZE_WAIT):
            self._frozen = True

    def thaw(self) -> None:
        if self._frozen:
            self._frozen = False
            self._gate.release()

    def kill(self) -> None:
        # Its next Redis command raises (see _mortal): within one BLOCK or one entry's work.
        # The stop flag stays unset, or the thread could end by a clean exit instead.
        self._killed = True
        self.thaw()
        self.wait(10)

    def wait(self, timeout: float) -> bool:
        if self.thread is not None:
            self.thread.join(timeout)
        self.poll()
        return not self.alive

    def poll(self) -> None:
        # Not "the thread is not alive": a thread is not alive either while start() is still
        # launching it, and the supervisor polls meanwhile (on a busy machine a member that
        # ran fine was shown as "exited 1"). Only the run itself says when it is over.
        if self._exit is not None and self.status == "running":
            self.status = self._exit

    def close(self) -> None:
        pass


# --- the pipeline ------------------------------------------------------------------------


class _GroupCounts:
    """What ``observe.Sampler`` needs of a pool: processed per consumer, and the consumers."""

    def __init__(self, cap: "Capstone", group: str):
        self.cap, self.group = cap, group

    @property
    def consumers(self) -> list[str]:
        names = [m.name for m in self.cap.members.values() if m.group == self.group]
        return names + (["reaper"] if self.group == self.cap.group and self.cap.reaper else [])

    @property
    def processed(self) -> Counter:
        counts = Counter()
        for m in self.cap.runs():  # a restarted worker's line carries on from its earlier run
            if m.group == self.group:
                counts[m.name] += m.processed
        if self.group == self.cap.group and self.cap.reaper is not None:
            counts["reaper"] = len(self.cap.reaper_ids)
        return counts


class _Supervisor(workers.Worker):
    """The pipeline's own thread: reads members' output, notices exits, samples, redraws."""

    def __init__(self, cap: "Capstone"):
        super().__init__(cap.name)
        self.cap = cap

    def on_start(self) -> None:
        self.client = self.cap.r.new_client()

    def step(self) -> None:
        self.cap._tick(self.client)
        self.sleep(0.1)

    def on_stop(self) -> None:
        try:
            self.cap._stop_members(self.cap.stop_timeout)
        finally:
            self.client.close()


class _Refresher(workers.Worker):
    """Redraws the live dashboard every ``REDRAW_SECONDS`` on a thread of its own.

    Drawing takes a good fraction of a second on a busy machine: on the
    supervisor's thread it would leave gaps in the samples.
    """

    def __init__(self, cap: "Capstone"):
        super().__init__(f"{cap.name}:dashboard")
        self.cap = cap

    def step(self) -> None:
        began = time.monotonic()
        self.cap._redraw()
        self.sleep(max(0.1, REDRAW_SECONDS - (time.monotonic() - began)))


_live: "weakref.WeakSet[Capstone]" = weakref.WeakSet()


@atexit.register
def _stop_everything_at_exit() -> None:
    for cap in list(_live):
        cap._stop_members(timeout=1)
        if cap.logdir:
            shutil.rmtree(cap.logdir, ignore_errors=True)


@dataclass(repr=False)
class Ledger:
    """The end-of-run accounts: one row per check, and whether everything adds up."""

    rows: list[tuple[str, object, str]] = field(default_factory=list)  # (what, value, verdict)
    ok: bool = True
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["what", "value", "check"])

    def __str__(self) -> str:
        width = max(len(w) for w, _, _ in self.rows)
        lines = [f"{w:<{width}}  {v!s:>8}  {c}" for w, v, c in self.rows]
        lines.append("NOTHING LOST: every check adds up." if self.ok else "SOMETHING DOES NOT ADD UP (see ✘).")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from .ui.style import STATUS_COLOURS, table_html

        colour = STATUS_COLOURS["ok" if self.ok else "error"]
        verdict = (f"<b style='color:{colour}'>"
                   + ("✔ nothing lost: every check adds up" if self.ok else "✘ something does not add up")
                   + "</b>")
        rows = [{"what": w, "value": v, "check": c} for w, v, c in self.rows]
        return table_html(rows) + f"<p>{verdict}</p>"


class Capstone:
    """The sensor pipeline of lesson 07 (see the module docstring): start, break, recover, account.

    ``rate`` readings per second per sensor, ``count`` readings per sensor
    (``None``: until stopped); workers read ``batch`` entries per
    ``XREADGROUP`` and spend ``work`` seconds on each; the alerters copy readings
    with ``temp`` above ``threshold``. ``reaper_idle_ms``: how long an entry
    must sit unacknowledged before the reaper takes it over (``None``: no
    reaper). ``mode``: ``"processes"``, ``"threads"`` or ``None`` (by backend).
    """

    def __init__(self, r, *, stream: str = STREAM, alerts: str = ALERTS,
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
        self._supervisor: _Supervisor | None = None
        self.stop_timeout = 3.0  # seconds from Ctrl-C to SIGKILL; also when sl.reset() stops the pipeline
        self._reset_samples()
        self._widget = None
        self._picture = None  # the dashboard's picture in static mode (widgets.StaticPicture)
        self._refresher: _Refresher | None = None

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

    # thread versions of the same programs (fakeredis)
    def _produce_on_thread(self, m: Member, client, stop, out) -> None:
        sent = programs.produce(client, m.name, stream=self.stream, rate=self.rate,
                                count=self.count, stop=stop, out=out)
        out(f"{m.name}: sent {sent} entries to {self.stream}")

    def _consume_on_thread(self, m: Member, client, stop, out) -> None:
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
            groups.ensure_group(self.r, self.stream, group, "0")
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
        self._supervisor = _Supervisor(self)
        self._supervisor.start()  # stops an older pipeline of the same name first
        if self._widget is not None:
            self._start_refresher()
        _live.add(self)
        # Consumers first, so they are waiting when the first readings arrive.
        for m in sorted(self.members.values(), key=lambda m: m.role == "producer"):
            m.start(self)
        if self.reaper_idle_ms is not None:
            self.reaper = recovery.Reaper(self.r, self.stream, self.group, consumer="reaper",
                                          min_idle_ms=self.reaper_idle_ms, handler=self._reaper_work,
                                          name=f"{self.name}:reaper")
            self.reaper.listeners.append(self._reaper_event)
            self.reaper.start()
        self.events.append((0.0, "start"))
        return self

    def _new_logdir(self) -> None:
        if self.logdir:
            shutil.rmtree(self.logdir, ignore_errors=True)
        self.logdir = tempfile.mkdtemp(prefix="streamlab-capstone-") if self.mode == "processes" else None

    def wait_started(self, timeout: float = 15) -> bool:
        """Wait until every consumer has joined its group (each process takes ~0.5 s to start)."""
        return self._wait(lambda: all(m.joined or not m.alive for m in self.members.values()
                                      if m.role != "producer"), timeout)

    @_explained
    def stop(self, timeout: float = 3) -> "Capstone":
        """Ctrl-C every member (each finishes its entry and exits 0); SIGKILL any left after ``timeout``."""
        if self._supervisor is None:
            return self
        self.stop_timeout = timeout
        self._supervisor.stop(timeout + 5)  # its on_stop stops the members
        self._stop_members(timeout)
        self.sample()  # the final state, so every line of the dashboard ends where the run ended
        if self._widget is not None:
            self._redraw()
        if self._picture is not None:
            self._picture.update()
        return self

    def _stop_members(self, timeout: float = 3) -> None:
        if self._refresher is not None:
            self._refresher.stop()
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
        _live.discard(self)

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
        m.start(self)
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
    def _wait(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return bool(condition())

    def wait_pending(self, name: str, at_least: int = 1, timeout: float = 10) -> bool:
        """Wait until consumer ``name`` holds ``at_least`` pending entries (a good moment to kill it)."""
        return self._wait(lambda: self.holding(name) >= at_least, timeout)

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
        return self._wait(lambda: set(ids) <= self.processed_ids(), timeout)

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
        return self._wait(self.drained, timeout)

    # --- sampling (on the supervisor's thread) -------------------------------------------
    def _reset_samples(self) -> None:
        self._t0 = time.monotonic()
        self.samplers = {g: Sampler(self.r, self.stream, g, pool=_GroupCounts(self, g),
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

    def figure(self):
        """The dashboard as a matplotlib Figure (see ``capstone_figure``)."""
        return capstone_figure(self.frames(), self.events, self.group, self.alert_group, self.threshold)

    def show(self) -> None:
        """Display the dashboard as a picture (kept in a saved notebook)."""
        from IPython.display import display

        display(self.figure())  # a PictureFigure: a sharp PNG at its page width

    def dashboard(self):
        """A live widget: counters and the dashboard, redrawn every two seconds while the pipeline runs.

        With ``STREAMLAB_STATIC=1`` (the book) a picture of it instead, redrawn by ``stop()``.
        """
        import ipywidgets as W

        from .ui.panel import StaticPicture, static_mode

        # Shown at the figure's page width; the picture has twice its pixels, so it stays sharp.
        self._widget = (W.HTML(), W.Image(format="png", layout=W.Layout(width=f"{DISPLAY_PX}px",
                                                                        max_width="100%")))
        if self.running:
            self._start_refresher()  # it draws the first picture: this cell returns at once
        else:
            self._redraw()
        box = W.VBox(list(self._widget))
        if static_mode():  # the book: a picture that stop() redraws at the end of the run
            self._picture = StaticPicture(box, lambda: "the capstone dashboard")
            return self._picture
        return box

    def _start_refresher(self) -> None:
        if self._refresher is None or not self._refresher.running:
            self._refresher = _Refresher(self)
            self._refresher.start()

    def _redraw(self) -> None:
        counters, image = self._widget
        from .ui.panel import html_table

        image.value = plots.to_png(self.figure(), scale=2)
        table = self.status()[["name", "status", "sent", "processed", "alerts"]]
        counters.value = html_table(table.to_dict("records"))

    # --- accounts ------------------------------------------------------------------------------
    @_explained
    def ledger(self) -> Ledger:
        """Check the run against Redis: every reading processed, the alerts exactly the hot readings.

        Reads the whole stream (``XRANGE``), the alerts (``XRANGE``), both groups
        (``XINFO GROUPS``), and what every worker and the reaper reported processing.
        """
        runs = self.runs()
        for m in runs:
            m.poll()
        entries = self.r.xrange(self.stream)
        ids = [i for i, _ in entries]
        hot = {i for i, f in entries if programs._temperature(f) > self.threshold}
        alert_sources = [f.get("source_id") for _, f in self.r.xrange(self.alerts)]
        done = [i for m in runs if m.role == "worker" for i in m.processed_ids]
        done += self.reaper_ids
        counted = Counter(done)
        groups = {g["name"]: g for g in self.r.xinfo_groups(self.stream)}
        produced = sum(m.sent for m in self.members.values() if m.role == "producer")
        expected = self.count * sum(m.role == "producer" for m in self.members.values()) \
            if self.count is not None else None
        led = Ledger()
        led.missing = [i for i in ids if i not in counted]
        led.duplicates = sorted(i for i, n in counted.items() if n > 1)

        def row(what, value, good: bool, note: str = "") -> None:
            led.rows.append((what, value, ("✔ " if good else "✘ ") + note))
            led.ok &= good

        row("readings in the stream (XLEN)", len(ids), expected is None or len(ids) == expected,
            "" if expected is None else f"{self.count} from each of {expected // self.count} sensors")
        row("readings the producers printed", produced, produced == len(ids), "= XLEN")
        for group in (self.group, self.alert_group):
            g = groups.get(group, {})
            lag = lag_of(self.r, self.stream, g)[0] if g else None
            row(f"group {group}: pending / lag", f"{g.get('pending', '?')} / {lag}",
                g.get("pending") == 0 and lag == 0, "read everything, acked everything")
        row(f"processed by {self.group} (+ reaper)", len(counted), not led.missing,
            "every reading" if not led.missing else f"{len(led.missing)} never processed")
        row("processed twice", len(led.duplicates), True,
            "at-least-once: a redelivery after a crash" if led.duplicates else "none")
        row(f"readings above {self.threshold:g} °C", len(hot), True, "counted from XRANGE")
        twice = sorted(i for i, n in Counter(alert_sources).items() if n > 1)
        unalerted = sorted(hot - set(alert_sources))
        problems = ([f"{len(twice)} readings alerted more than once"] if twice else []) + \
                   ([f"{len(unalerted)} hot readings without an alert"] if unalerted else []) + \
                   (["alerts for readings that are not hot"] if set(alert_sources) - hot else [])
        row(f"alerts in {self.alerts}", len(alert_sources),
            sorted(alert_sources) == sorted(hot),
            "; ".join(problems) or "exactly the hot readings, each once")
        return led


def capstone_headline(frames: dict[str, pd.DataFrame]) -> str:
    """What the run shows so far, from the frames the figure draws."""
    consumers, alerts, workers_frame = frames["consumers"], frames["alerts"], frames["workers"]
    processed = (int(consumers.sort_values("t").groupby("consumer")["processed"].last().sum())
                 if not consumers.empty else 0)
    text = f"{processed:,} readings processed"
    if not alerts.empty:
        last = alerts.iloc[-1]
        text = f"{processed:,} of {int(last['readings']):,} readings processed, {int(last['alerts']):,} alerts"
    if not workers_frame.empty and workers_frame["lag"].notna().any():
        lag = workers_frame["lag"].dropna()
        text += f"; lag {int(lag.iloc[-1]):,} now, {int(lag.max()):,} at most"
    return text


def capstone_figure(frames: dict[str, pd.DataFrame], events: list[tuple[float, str]],
                    group: str = "workers", alert_group: str = "alerts", threshold: float = 25.0):
    """Four panels: lag per group, pending per consumer, processed per consumer, readings and alerts.

    ``frames`` as ``Capstone.frames()`` returns them; ``events`` ((seconds, label))
    are drawn as dotted vertical lines on every panel. Pending is one strip per
    consumer of ``group`` (and one for ``alert_group`` as a whole) on one shared
    scale, so a consumer that holds its entries stands out instead of hiding under
    the others' lines. The headline states the counts so far (``capstone_headline``).
    """
    from .ui.style import (
        ROLE,
        SIZE,
        axes_style,
        consumer_colour,
        figure,
        headline,
        headline_space,
        legend,
    )

    fig = figure(10.2, 7.2)
    # Fixed margins: a constrained layout would cost more than the drawing itself.
    grid = fig.add_gridspec(2, 2, left=0.075, right=0.985, bottom=0.075,
                            top=headline_space(fig, details=True) - 0.05, wspace=0.32, hspace=0.3)
    ax_lag = fig.add_subplot(grid[0, 0])
    ax_done = fig.add_subplot(grid[1, 0], sharex=ax_lag)
    ax_alerts = fig.add_subplot(grid[1, 1], sharex=ax_lag)
    workers_frame, alerters_frame = frames["workers"], frames["alerters"]
    consumers = frames["consumers"]
    per_consumer = list(consumers.groupby("consumer", sort=False)) if not consumers.empty else []
    strips = [(name, rows["t"], rows["pending"], consumer_colour(name), "-") for name, rows in per_consumer]
    if not alerters_frame.empty:
        strips.append((alert_group, alerters_frame["t"], alerters_frame["pending"], ROLE["alerts"], "--"))
    cells = grid[0, 1].subgridspec(max(len(strips), 1), 1, hspace=0.15)
    pending_axes = []
    for i in range(max(len(strips), 1)):
        ax = fig.add_subplot(cells[i, 0], sharex=ax_lag, sharey=pending_axes[0] if pending_axes else None)
        axes_style(ax)
        ax.tick_params(labelbottom=False)
        if i < len(strips):
            name, t, pending, colour, look = strips[i]
            ax.plot(t, pending, color=colour, lw=2, ls=look, drawstyle="steps-post")
            ax.set_ylabel(name, color=colour, rotation=0, ha="right", va="center", weight="bold",
                          fontsize=SIZE["label"])
        pending_axes.append(ax)
    pending_axes[0].set_title("Pending per consumer (and group)", fontsize=SIZE["title"], loc="left")
    pending_axes[0].yaxis.set_major_locator(MaxNLocator(nbins=2, integer=True))
    top = max([1.0, *(float(np.nanmax(p)) for _, _, p, _, _ in strips if len(p))])
    pending_axes[0].set_ylim(0, top * 1.25)
    axes_style(ax_lag, "Lag per group", "entries")
    axes_style(ax_done, "Processed per consumer", "entries (total)", "seconds since start")
    axes_style(ax_alerts, "Readings and alerts", "entries (total)", "seconds since start")
    ax_lag.tick_params(labelbottom=False)
    if not workers_frame.empty:
        ax_lag.plot(workers_frame["t"], workers_frame["lag"].astype(float), color=ROLE["group"],
                    lw=2, label=group)
    if not alerters_frame.empty:
        ax_lag.plot(alerters_frame["t"], alerters_frame["lag"].astype(float), color=ROLE["alerts"], lw=2,
                    ls="--", label=alert_group)
    for name, rows in per_consumer:
        ax_done.plot(rows["t"], rows["processed"], color=consumer_colour(name), lw=2, label=name)
    alerts = frames["alerts"]
    if not alerts.empty:
        ax_alerts.plot(alerts["t"], alerts["readings"], color=ROLE["stream"], lw=2, label="readings (XLEN)")
        ax_alerts.plot(alerts["t"], alerts["alerts"], color=ROLE["alerts"], lw=2,
                       label=f"alerts: > {threshold:g} °C")
    for ax in (ax_lag, ax_done, ax_alerts):
        lines = ax.get_lines()
        top = max([1.0, *(float(np.nanmax(y)) for y in (ln.get_ydata() for ln in lines)
                          if len(y) and np.isfinite(np.asarray(y, float)).any())])
        ax.set_ylim(0, top * (1.7 if ax is ax_lag else 1.35))  # headroom for the legend and labels
        if lines:
            legend(ax, loc="upper right" if ax is ax_lag else "upper left",
                   ncol=1 if ax is ax_lag else min(len(lines), 4), handlelength=1.4, columnspacing=0.8)
    marks = [(t, label) for t, label in events if label != "start"]
    for k, (t, label) in enumerate(marks):
        for ax in (ax_lag, ax_done, ax_alerts, *pending_axes):
            ax.axvline(t, color=ROLE["limit"], lw=1, ls=":")
        # Stacked downwards, so that labels of events close in time do not overlap.
        ax_lag.annotate(f" {label}", (t, 0.97 - 0.1 * k), xycoords=("data", "axes fraction"),
                        fontsize=SIZE["annotation"], va="top", ha="left", color="black")
    headline(fig, capstone_headline(frames), f"groups '{group}' and '{alert_group}' · alert above {threshold:g} °C")
    return fig
