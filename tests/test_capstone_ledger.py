"""The capstone ledger's count of processed readings when a worker is killed mid-report.

``streamlab consume`` prints "processed <id>" after its ``XACK``: a SIGKILL between the two
leaves a reading done but never reported. The ledger must count it as processed (asking
Redis: delivered, no longer pending) without ever excusing a reading that really was not
processed (still pending, or never delivered).
"""

from __future__ import annotations

import pytest

from streamlab.capstone.ledger import account
from streamlab.capstone.members import Member


@pytest.fixture
def run(r, prefix):
    """Three readings; consumer w read all three, acked the first two; a fourth never read."""
    stream, alerts = f"{prefix}:readings", f"{prefix}:alerts"
    added = [r.xadd(stream, {"sensor_id": "s1", "temp": "20"}) for _ in range(3)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w", {stream: ">"})
    r.xack(stream, "workers", added[0], added[1])
    never_read = r.xadd(stream, {"sensor_id": "s1", "temp": "20"})
    # A fifth reading read and dead-lettered (acked, its copy in <stream>:dead): acked, not processed.
    poison = r.xadd(stream, {"sensor_id": "s1", "temp": "bad"})
    r.xreadgroup("workers", "w", {stream: ">"})
    r.xadd(stream + ":dead", {"original_id": poison, "reason": "delivered 6 times (limit 5)"})
    r.xack(stream, "workers", poison)

    def ledger(status: str):
        worker = Member("worker1", "worker", "workers", ["consume"])
        worker.processed_ids = [added[0]]  # it printed only the first; the second's line was lost
        worker.status = status
        producer = Member("sensor1", "producer", None, ["produce"])
        producer.sent = 5
        return account(r, stream=stream, alerts=alerts, group="workers", alert_group="alerters",
                       threshold=30.0, count=None, runs=[worker, producer], reaper_ids=[])

    return added, never_read, poison, ledger


def test_a_reading_acked_by_a_killed_run_before_it_printed_counts_as_processed(run):
    added, never_read, poison, ledger = run
    led = ledger("killed")
    assert led.unreported == [added[1]]
    # Still pending (read, never acked), never delivered, dead-lettered: not processed, whatever was killed.
    assert led.missing == [added[2], never_read, poison]
    assert not led.ok
    assert "3 never processed; 1 acked by a killed run before it printed 'processed'" in str(led)


def test_without_a_killed_run_an_unreported_reading_is_not_excused(run):
    added, never_read, poison, ledger = run
    led = ledger("exited 0 after Ctrl-C")
    assert led.unreported == []
    assert led.missing == [added[1], added[2], never_read, poison]
    assert "4 never processed" in str(led)
