"""The capstone's members: one producer or consumer program, run as an OS process or a thread.

``Member`` is what the program's output said (sent / processed / alerts), read line
by line as a terminal would show it. ``ProcessMember`` runs ``python -m
streamlab.cli ...`` against a real server; ``ThreadMember`` runs the same program
(``programs.produce`` / ``programs.consume``) on a thread, for fakeredis, which no
other process can reach. Both offer ``interrupt()`` (Ctrl-C), ``kill()`` (SIGKILL),
``freeze()``/``thaw()`` (SIGSTOP/SIGCONT), ``wait(timeout)``, ``poll()``,
``close()`` and the ``alive`` and ``where`` properties.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections import deque
from typing import Callable

from ..explain import explain
from ..procs import die_with_parent

_SENT = re.compile(r": sent (\d+-\d+) ")
_PROCESSED = re.compile(r": processed (\d+-\d+) .*?temp=(\S+)( -> ALERT)?$")

#: What a thread member runs: ``program(client, stop, out)``, ``out`` taking each output line.
Program = Callable[[object, threading.Event, Callable[[str], None]], None]


class Member:
    """One program of the pipeline and what its output said (sent / processed / alerts)."""

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

    def start(self, url: str, logdir: str) -> None:
        """Start the program against the server at ``url``, its output in ``logdir/<name>.log``.

        Start members from the notebook's own (main) thread: Linux sends the child
        SIGTERM when the *thread* that started it ends (``procs.die_with_parent``).
        """
        self.log_path = os.path.join(logdir, f"{self.name}.log")
        self._log = open(self.log_path, "wb")
        self._reader = open(self.log_path, "rb")
        self._partial = b""
        env = {**os.environ, "REDIS_URL": url, "STREAMLAB_BACKEND": "env",
               "PYTHONUNBUFFERED": "1"}  # every line reaches the log at once, as in a terminal
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlab.cli", *self.argv],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            # Its own session: interrupting the kernel must not reach the pipeline.
            start_new_session=True,
            preexec_fn=die_with_parent(),
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

    def start(self, client, program: Program) -> None:
        """Run ``program(client, stop, out)`` on a thread; ``client`` is this member's own."""
        self.client = self._mortal(client)
        self.thread = threading.Thread(target=self._run, args=(program,),
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

    def _run(self, program: Program) -> None:
        ended = "exited 1"  # also for anything the handlers below let through
        try:
            program(self.client, self._stop, self.feed)
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
