"""The benchmark's functions at tiny sizes: every row is there and every number is a positive number.

Nothing here asserts a speed: a loaded machine makes any threshold flaky, and
the numbers themselves belong in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import math

import pytest

from streamlab import bench


def positive(row: bench.Row) -> bool:
    return bool(row.values) and all(math.isfinite(v) and v > 0 for v in row.values)


def leftover_bench_keys(r) -> list[str]:
    return list(r.scan_iter(match="streamlab:bench:*", count=1000))


def test_xadd_rows_compare_producer_and_raw_and_clean_up(r):
    rows = bench.xadd_throughput(r, n=300, rounds=2)
    labels = [row.label for row in rows]
    assert labels == [label for label, _, _ in bench.XADD_CASES] + [
        "XADD one call each: Producer / raw", "XADD pipelined: Producer.burst / raw"]
    assert all(positive(row) and len(row.values) == 2 for row in rows)
    assert leftover_bench_keys(r) == []


def test_consume_rows_read_and_ack_everything_and_clean_up(r):
    rows = bench.consume_throughput(r, n=250, rounds=1)
    assert [row.label for row in rows][:4] == [label for label, _ in bench.CONSUME_CASES]
    assert len(rows) == 6 and all(positive(row) for row in rows)
    assert [row.unit for row in rows[4:]] == ["x", "x"]
    assert leftover_bench_keys(r) == []


def test_wakeup_latency_measures_every_sample(r):
    latencies = bench.wakeup_latency(r, samples=20)
    assert len(latencies) == 20 and all(v > 0 for v in latencies)
    p50, p99 = bench.latency_rows(r, samples=10, rounds=1)
    assert positive(p50) and positive(p99) and p99.values[0] >= p50.values[0]
    assert leftover_bench_keys(r) == []


def test_sampler_and_dashboard_cost_rows(r):
    rows = bench.cost_rows(r, seconds=0.5, rounds=1)
    assert [row.label for row in rows][:3] == ["Sampler: samples/s (interval 0.1 s)",
                                               "Sampler: Redis commands/s", "Sampler: process CPU"]
    assert all(positive(row) for row in rows if row.label != "Dashboard: Redis commands/s")
    commands = rows[1]
    # fakeredis has no INFO commandstats: there the sampler's commands are counted from its samples.
    assert (commands.note == "(counted)") == r.backend.is_fake
    assert leftover_bench_keys(r) == []


def test_redis_benchmark_ceiling_where_installed(real_server_url):
    rows = bench.redis_benchmark_xadd(real_server_url, n=2_000)
    if not rows:
        pytest.skip("redis-benchmark is not installed")
    assert len(rows) == 2 and all(positive(row) and "ceiling" in row.label for row in rows)


def test_table_has_a_row_per_measure_and_a_column_per_backend():
    columns = {
        "server": [bench.Row("XADD a", "msgs/s", [1000.0, 1200.0, 900.0]), bench.Row("ratio", "x", [0.95])],
        "fakeredis": [bench.Row("XADD a", "msgs/s", [500.0])],
    }
    lines = bench.markdown(columns).splitlines()
    assert lines[0] == "| measure | unit | server | fakeredis |"
    assert lines[2] == "| XADD a | msgs/s | 1,000 (900–1,200) | 500 |"
    assert lines[3] == "| ratio | x | 0.95x | - |"
    assert bench.verdicts(columns) == ["server: ratio = 0.950x (meets the 0.9x target)"]


def test_soak_rows_report_growth_against_the_target():
    result = {"rss": [(0.0, 140.0), (5.0, 150.0), (10.0, 151.5)], "sent": 120_000,
              "processed": 119_990, "statuses": "running", "redraws": 3000, "threads_after_close": 0}
    rows = {row.label: row for row in bench.soak_rows(result)}
    assert rows["Soak 10 min: streamlab threads left after panel.close()"].values == [0]
    growth = rows["Soak 10 min: kernel RSS growth (target < 50)"]
    assert growth.values == [11.5]
    assert bench.verdicts({"k": [growth]}) == ["k: kernel RSS grew 11.5 MiB (meets the 50 MiB target)"]


def test_command_prints_the_machine_and_the_table(capsys):
    assert bench.main(["--backend", "fake", "-n", "200", "--rounds", "1", "--samples", "5",
                       "--seconds", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "cores" in out and "redis-py" in out
    assert "| measure | unit | fakeredis |" in out
    for label, _, _ in bench.XADD_CASES:
        assert f"| {label} |" in out
    assert "XREAD BLOCK wake-up latency p99" in out and "Sampler: process CPU" in out


def test_partitioned_throughput_on_a_private_cluster_drains_everything():
    if bench.sl_server.find_server_binary() is None:
        pytest.skip("no redis-server to build a cluster from")
    rows = bench.partitioned_throughput(n=600, partitions=4, processes=(1, 2), rounds=1)
    assert [len(row.values) for row in rows] == [1, 1] and all(positive(row) for row in rows)
    assert "2 consumer processes" in rows[1].label
