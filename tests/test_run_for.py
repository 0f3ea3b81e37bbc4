"""``run_for(seconds)`` means one thing everywhere: start, wait until the seconds pass or the
thing ends by itself, stop, return self."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from streamlab import workers
from streamlab.chaos import ChaosExperiment
from streamlab.consumers import ConsumerPool
from streamlab.partitions import PartitionedPipeline
from streamlab.ui import ConsumerPoolPanel, PartitionPanel, ProducerPanel
from streamlab.ui import pool_panel


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


def test_a_chaos_experiment_runs_for_the_seconds_then_stops(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=100_000, rate=200, crash_probability=0, poison_share=0,
                          processing_ms=0)
    began = time.monotonic()
    assert exp.run_for(0.3) is exp
    assert time.monotonic() - began >= 0.3
    assert not exp.running and not exp.pool.running and not exp.reaper.running


def test_a_partitioned_pipeline_runs_for_the_seconds_then_stops(r, prefix):
    pipe = PartitionedPipeline(r, prefix + "parts", partitions=2, sensors=4, rate=100)
    began = time.monotonic()
    assert pipe.run_for(0.5) is pipe
    assert time.monotonic() - began >= 0.5
    assert pipe.producer.sent > 0
    assert not pipe.producer.running and not pipe.pool.running and not pipe.sampling.running


def test_a_pool_panel_runs_for_the_seconds_then_stops(r, prefix):
    panel = ConsumerPoolPanel(r, prefix + "s", "g", consumers=2, rate=100, ms=0, name=prefix + "panel")
    try:
        began = time.monotonic()
        assert panel.run_for(0.5, drain=False) is panel
        assert time.monotonic() - began >= 0.5
        assert panel.producer.sent > 0 and not panel.busy()
    finally:
        panel.close()


def test_a_pool_panel_stops_even_when_its_wait_is_interrupted(r, prefix, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C in the middle of the wait

    panel = ConsumerPoolPanel(r, prefix + "s", "g", consumers=2, rate=100, ms=0, name=prefix + "panel")
    monkeypatch.setattr(pool_panel, "wait_until", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            panel.run_for(30)
        assert not panel.busy()
        assert not panel.producer.running and not panel.pool.running and not panel.sampler.running
    finally:
        panel.close()


def test_a_partition_panel_runs_for_the_seconds_not_its_slider(r, prefix):
    panel = PartitionPanel(r, base=prefix + "try")
    try:
        panel.partitions.value, panel.sensors.value, panel.rate.value = 2, 4, 100
        panel.seconds.value = 10
        began = time.monotonic()
        assert panel.run_for(0.5) is panel
        took = time.monotonic() - began
        assert 0.5 <= took < 10  # the seconds asked for, not the slider's 10
        assert panel.last is not None and panel.last.producer.sent > 0 and not panel.busy()
        assert not panel.last.producer.running and not panel.last.pool.running
    finally:
        panel.close()
