"""Background workers (producers, consumers, samplers) and the one registry that owns them.

Every worker runs its loop on one daemon thread named ``streamlab-<name>``.
Starting a worker under a name that is already running stops the old one
first, so re-running a notebook cell never leaves two producers writing.
``stop_all()`` stops everything (``streamlab.reset()`` calls it).

A worker's loop survives a server that goes away: on a connection error it
says ``reconnecting``, waits with exponential backoff (0.1 s doubling to 2 s)
and carries on when the server answers again.
"""

from __future__ import annotations

import threading

import redis

from .registry import Registry

#: Every worker by name: starting one stops the older worker of the same name.
_registry: Registry["Worker"] = Registry(lambda old: old.stop())

BACKOFF_START = 0.1
BACKOFF_MAX = 2.0


def register(worker: "Worker") -> None:
    """Make ``worker`` the one running under its name, stopping any earlier one."""
    _registry.claim(worker.name, worker)


def unregister(worker: "Worker") -> None:
    """Forget ``worker`` (if it still holds its name): ``stop_all()`` no longer stops it."""
    _registry.release(worker.name, worker)


def running_workers() -> list["Worker"]:
    """Workers whose thread is alive right now."""
    return [w for w in _registry.items() if w.running]


def stop_all(timeout: float = 5) -> int:
    """Stop every registered worker and wait for its thread; returns how many were running."""
    count = 0
    for w in _registry.items():
        if w.running:
            count += 1
        w.stop(timeout)
    return count


class Worker:
    """A loop on a background thread: subclasses implement ``step()``.

    ``step()`` does one small unit of work (send a batch, read a batch) and
    returns quickly, so ``stop()`` is honoured within about one step. The
    Python API is the same for every worker: ``start()``, ``stop()``,
    ``run_for(seconds)``, and the ``status``, ``error`` and ``running`` attributes.
    """

    def __init__(self, name: str):
        self.name = name
        self.status = "idle"  # idle, running, reconnecting, stopped, failed
        self.error: BaseException | None = None
        self.reconnects = 0
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "Worker":
        """Start the loop (stopping any other worker of the same name first)."""
        if self.running:
            return self
        register(self)
        self._stop_event.clear()
        self.error = None
        self.status = "running"
        self.on_start()
        self._thread = threading.Thread(target=self._loop, name=f"streamlab-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> "Worker":
        """Ask the loop to finish its current step, and wait for it."""
        self._stop_event.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self.status in ("running", "reconnecting"):
            self.status = "stopped"
        return self

    def run_for(self, seconds: float) -> "Worker":
        """``start()``, wait until ``seconds`` pass or the loop ends by itself (it failed, or
        ``stop()`` came from elsewhere), ``stop()``: how a notebook shows real output without a click."""
        self.start()
        try:
            self._thread.join(seconds)
        finally:
            # Ctrl-C during the wait (KeyboardInterrupt) must not leave the loop running.
            self.stop()
        return self

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep that wakes early on ``stop()``; returns True if the worker should stop."""
        return self._stop_event.wait(seconds)

    # --- the loop ------------------------------------------------------------
    def on_start(self) -> None:
        """Hook run on the caller's thread just before the loop starts."""

    def on_stop(self) -> None:
        """Hook run on the worker's thread after the loop ends (also after a failure)."""

    def on_connection_lost(self, exc: BaseException) -> None:
        """Hook run on the worker's thread when a step failed for want of a server."""

    def step(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        backoff = BACKOFF_START
        try:
            while not self._stop_event.is_set():
                try:
                    self.step()
                    if self.status == "reconnecting":
                        self.status = "running"
                    backoff = BACKOFF_START
                except (redis.ConnectionError, redis.TimeoutError, ConnectionError) as exc:
                    # The server went away (restart, network): wait and retry.
                    self.status = "reconnecting"
                    self.reconnects += 1
                    self.error = exc
                    self.on_connection_lost(exc)
                    if self._stop_event.wait(backoff):
                        break
                    backoff = min(backoff * 2, BACKOFF_MAX)
        except Exception as exc:  # noqa: BLE001 - shown by status/error, never lost
            self.error = exc
            self.status = "failed"
        finally:
            try:
                self.on_stop()
            finally:
                if self.status in ("running", "reconnecting"):
                    self.status = "stopped"
