"""The workshop load benchmark at a tiny size: one learner, a fenced workshop user, two seconds.

No speed is asserted (docs/BENCHMARKS.md holds the numbers); what must hold is that the
run measures something, finds the ledger exact, and leaves no user or key behind.
"""

from __future__ import annotations

import math

import pytest

from streamlab import bench, loadbench


@pytest.fixture
def admin_url(own_server_url):
    return own_server_url


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_one_learner_as_a_workshop_user_has_an_exact_ledger_and_leaves_nothing(admin_url):
    import redis

    row = loadbench.run_load(admin_url, 1, seconds=2)
    assert row.errors == [] and row.exact == 1
    assert row.commands > 100 and 0 < row.p50_ms <= row.p99_ms <= row.max_ms
    assert row.connections >= 1 + loadbench.CONSUMERS  # the admin and the blocked consumers at least
    assert math.isfinite(row.server_cpu) and row.server_cpu > 0
    assert 0 < row.server_p99_ms < row.max_ms
    admin = redis.Redis.from_url(admin_url, decode_responses=True)
    try:
        assert admin.execute_command("ACL", "USERS") == ["default"]
        assert admin.keys("*") == []
    finally:
        admin.close()


def test_a_ledger_is_exact_only_when_every_count_agrees():
    good = {"error": None, "drained": True, "sent": 10, "processed": 10, "xlen": 10, "read": 10,
            "pending": 0}
    assert loadbench.exact(good)
    for field, value in (("processed", 9), ("xlen", 11), ("read", 9), ("pending", 1),
                         ("drained", False), ("error", "boom")):
        assert not loadbench.exact(dict(good, **{field: value})), field
    assert not loadbench.exact(dict(good, sent=0, processed=0, xlen=0, read=0))


def test_the_in_server_percentile_counts_only_the_calls_between_snapshots():
    before = {1: 100, 2: 0, 1024: 0}
    after = {1: 190, 2: 9, 1024: 1}  # 100 calls made between: 90 at <=1 µs, 9 at 2, 1 at 1024
    assert loadbench._histogram_percentile(before, after, 50) == 0.001
    assert loadbench._histogram_percentile(before, after, 99) == 0.002
    assert loadbench._histogram_percentile(before, after, 100) == 1.024
    assert math.isnan(loadbench._histogram_percentile(after, after, 99))


def test_a_row_meets_the_target_only_with_p99_under_10_ms_and_every_ledger_exact():
    row = loadbench.LoadRow(4, 20.0, 30, 1000, 0.5, 9.9, 40, 4, 0.1, "1.0 → 1.2", [])
    assert row.ok and "| 4 | 20 % | 30 |" in row.markdown()
    assert not loadbench.LoadRow(4, 20.0, 30, 1000, 0.5, 10.0, 40, 4, 0.1, "", []).ok
    assert not loadbench.LoadRow(4, 20.0, 30, 1000, 0.5, 2.0, 40, 3, 0.1, "", []).ok
    slow_clients = loadbench.LoadRow(8, 1, 1, 1, 1, 12, 1, 8, 0.5, "", [])
    assert loadbench.largest_sustained([row, slow_clients]) == 4
    assert loadbench.largest_sustained([row, slow_clients], in_server=True) == 8


def test_bad_learner_counts_are_refused(capsys):
    assert bench.main(["--learners", "0,2"]) == 2
    assert "1 or more" in capsys.readouterr().err
    assert bench.main(["--learners", "many"]) == 2
