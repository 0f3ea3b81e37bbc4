"""``run_for(seconds)`` means one thing everywhere: start, wait until the seconds pass or the
thing ends by itself, stop, return self."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from streamlab import workers
from streamlab.consumers import ConsumerPool
from streamlab.ui import ProducerPanel


class _FailsAtOnce(workers.Worker):
    def step(self) -> None:
        raise RuntimeError("broken step")


def test_a_worker_that_ends_by_itself_ends_run_for_early():
    worker = _FailsAtOnce("run-for-fails")
    began = time.monotonic()
    assert worker.run_for(30) is worker
    assert time.monotonic() - began < 10  # not the 30 s asked for
    assert worker.status == "failed" and not worker.running


def test_a_worker_runs_for_the_seconds_then_stops(r, prefix):
    class Counts(workers.Worker):
        steps = 0

        def step(self) -> None:
            self.steps += 1
            self.sleep(0.01)

    worker = Counts(prefix + "counts")
    began = time.monotonic()
    worker.run_for(0.3)
    assert time.monotonic() - began >= 0.3
    assert worker.steps > 0 and worker.status == "stopped" and not worker.running


def test_ctrl_c_while_run_for_waits_still_stops_the_worker():
    """Ctrl-C (SIGINT, what a kernel's interrupt sends) during the wait: KeyboardInterrupt
    reaches the caller and the loop is stopped all the same, not left running."""
    class Idles(workers.Worker):
        def step(self) -> None:
            self.sleep(0.01)

    worker = Idles("run-for-interrupted")
    ctrl_c = threading.Timer(0.2, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    ctrl_c.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            worker.run_for(30)
    finally:
        ctrl_c.cancel()
        ctrl_c.join()
    assert worker.status == "stopped" and not worker.running


def test_a_panel_whose_workers_fail_ends_run_for_early(r, prefix):
    panel = ProducerPanel(r, prefix + "s", rate=50, payload=lambda sensor, seq: {"temp": None})
    try:
        began = time.monotonic()
        assert panel.run_for(30) is panel
        assert time.monotonic() - began < 10
        assert panel.producer.status == "failed" and "failed" in panel.status.value
    finally:
        panel.close()


def test_a_pool_runs_for_the_seconds_then_stops(r, prefix):
    pool = ConsumerPool(r, prefix + "s", "g", consumers=2, name=prefix + "pool")
    assert pool.run_for(0.2) is pool
    assert not pool.running
