"""Lesson 05's helpers: trimming by length and age, exact vs ~, groups after trimming, memory, sizing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import matplotlib
import pytest

from streamlab import ids, retention
from streamlab.observe import group_info

matplotlib.use("Agg")


def test_minid_for_age_is_now_minus_the_age():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert retention.minid_for_age(timedelta(hours=1), now) == \
        ids.from_datetime(datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc))
    assert retention.minid_for_age(90, now) == retention.minid_for_age(timedelta(seconds=90), now)
    with pytest.raises(ValueError, match="negative"):
        retention.minid_for_age(-1, now)


def test_trim_by_age_drops_exactly_the_entries_older_than_the_age(r, prefix):
    key = prefix + "history"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # one reading a minute for the last two hours (120 entries, the newest 1 minute old)
    retention.fill_history(r, key, now - timedelta(minutes=120), timedelta(minutes=1), 120)
    removed = retention.trim_by_age(r, key, timedelta(minutes=30), now=now)
    assert removed == 90
    assert r.xlen(key) == 30
    oldest = ids.to_datetime(r.xrange(key, count=1)[0][0])
    assert oldest == now - timedelta(minutes=30)


def test_exact_trim_keeps_exactly_maxlen_and_reports_nodes(r, prefix):
    key = prefix + "s"
    retention.fill(r, key, 1050)
    report = retention.trim(r, key, maxlen=1000)
    assert (report.removed, report.length_before, report.length_after) == (50, 1050, 1000)
    assert report.nodes_before == 11  # 100 entries per node
    assert report.command == f"XTRIM {key} MAXLEN = 1000"
    assert "removed 50 entries" in str(report)


def test_approximate_trim_removes_only_whole_nodes(r, prefix):
    key = prefix + "s"
    retention.fill(r, key, 1050)
    # Dropping the first node (100 entries) would leave 950 < 1000: ~ removes nothing.
    nothing = retention.trim(r, key, maxlen=1000, approximate=True)
    assert nothing.removed == 0 and r.xlen(key) == 1050
    one_node = retention.trim(r, key, maxlen=950, approximate=True)
    assert one_node.removed == 100
    assert (one_node.nodes_before, one_node.nodes_after) == (11, 10)


def test_approximate_trim_removes_at_most_limit_entries_per_call(r, prefix):
    key = prefix + "s"
    retention.fill(r, key, 25_000)
    default = retention.trim(r, key, maxlen=1000, approximate=True)
    # Default LIMIT for ~ is 100 x stream-node-max-entries = 10,000.
    assert default.removed == 10_000
    capped = retention.trim(r, key, maxlen=1000, approximate=True, limit=500)
    assert capped.removed == 500
    unlimited = retention.trim(r, key, maxlen=1000, approximate=True, limit=0)
    assert r.xlen(key) == 1000 and unlimited.removed == 25_000 - 10_500 - 1000


def test_trim_says_what_is_wrong_with_its_arguments(r, prefix):
    with pytest.raises(ValueError, match="exactly one"):
        retention.trim(r, prefix + "s")
    with pytest.raises(ValueError, match="exactly one"):
        retention.trim(r, prefix + "s", maxlen=1, minid="1-0")
    with pytest.raises(ValueError, match="LIMIT only works"):
        retention.trim(r, prefix + "s", maxlen=10, limit=5)
    with pytest.raises(ValueError, match="whole number"):
        retention.trim(r, prefix + "s", maxlen=-1)


def test_node_max_entries_is_100_by_default(r):
    assert retention.node_max_entries(r) == 100


def test_inline_maxlen_caps_every_xadd(r, prefix):
    key = prefix + "capped"
    for i in range(30):
        r.xadd(key, {"i": i}, maxlen=10, approximate=False)
    assert r.xlen(key) == 10
    assert r.xrange(key, count=1)[0][1] == {"i": "20"}


def test_timing_helpers_do_the_whole_job_and_clean_up(r, prefix):
    key = prefix + "timed"
    exact = retention.time_xtrim(r, key, entries=5000, keep=1000, approximate=False)
    approx = retention.time_xtrim(r, key, entries=5000, keep=1000, approximate=True)
    assert exact.removed == approx.removed == 4000  # 1000 is a node boundary
    assert retention.time_capped_adds(r, key, adds=2000, maxlen=100, approximate=True) > 0
    assert r.exists(key) == 0


def test_trimmed_pending_entries_come_back_from_xautoclaim_as_deleted(r, prefix):
    key = prefix + "jobs"
    ids = [r.xadd(key, {"n": i}) for i in range(10)]
    r.xgroup_create(key, "g", id="0")
    r.xreadgroup("g", "alice", {key: ">"}, count=3)
    assert r.xtrim(key, maxlen=5, approximate=False) == 5
    # XPENDING still lists the three IDs, though the entries are gone.
    assert [p["message_id"] for p in r.xpending_range(key, "g", "-", "+", 10)] == ids[:3]
    cursor, claimed, deleted = r.xautoclaim(key, "g", "bob", 0)
    assert claimed == [] and deleted == ids[:3]
    assert r.xpending(key, "g")["pending"] == 0


def test_lag_after_trimming_still_counts_trimmed_entries(r, prefix):
    key = prefix + "jobs"
    for i in range(10):
        r.xadd(key, {"n": i})
    r.xgroup_create(key, "g", id="0")
    r.xreadgroup("g", "alice", {key: ">"}, count=3)
    r.xtrim(key, maxlen=2, approximate=False)
    # 2 entries are left unread; older servers still count the 5 trimmed unread: 10 added - 3 read.
    expected = {"counts-trimmed": 7, "exact": 2}[r.behaviour("lag-after-trim")]
    assert group_info(r, key, "g")["lag"] == expected


def test_xdel_of_an_unread_entry_makes_lag_unknown(r, prefix):
    key = prefix + "jobs"
    ids = [r.xadd(key, {"n": i}) for i in range(10)]
    r.xgroup_create(key, "g", id="0")
    r.xreadgroup("g", "alice", {key: ">"}, count=3)
    r.xdel(key, ids[-1])
    assert group_info(r, key, "g")["lag"] is None


def test_memory_usage_is_measured_on_a_real_server_and_none_on_fakeredis(r, prefix):
    key = prefix + "mem"
    retention.fill(r, key, 1000)
    used = retention.memory_usage(r, key)
    if r.backend.is_fake:
        assert used is None
    else:
        assert 20_000 < used < 200_000


def test_sample_memory_grows_with_length(r, prefix):
    frame = retention.sample_memory(r, prefix + "mem", [100, 1000, 3000])
    assert list(frame["length"]) == [100, 1000, 3000]
    assert list(frame["nodes"]) == [1, 10, 30]
    assert r.exists(prefix + "mem") == 0
    if r.backend.is_fake:
        assert frame["bytes"].isna().all()
    else:
        assert frame["bytes"].is_monotonic_increasing
        assert 30 < frame["bytes_per_entry"].iloc[-1] < 80


def test_sample_memory_rejects_lengths_out_of_order(r, prefix):
    with pytest.raises(ValueError, match="increasing"):
        retention.sample_memory(r, prefix + "mem", [100, 10])


def test_retention_entries_is_rate_times_retention_rounded_up():
    assert retention.retention_entries(50, timedelta(hours=24)) == 4_320_000
    assert retention.retention_entries(0.5, 3) == 2
    with pytest.raises(ValueError, match="negative"):
        retention.retention_entries(-1, 10)


def test_plan_retention_measures_live_on_a_server_and_estimates_on_fakeredis(r, prefix):
    plan = retention.plan_retention(10, timedelta(hours=1), r=r, key=prefix + "probe")
    assert plan.entries == 36_000
    assert r.exists(prefix + "probe") == 0
    if r.backend.is_fake:
        assert plan.source.startswith("estimate")
        assert plan.bytes_per_entry == retention.estimate_entry_bytes(retention.SENSOR_FIELDS)
    else:
        assert plan.source.startswith("measured")
        # within 30% of the estimate the lesson quotes for fakeredis
        assert abs(plan.bytes_per_entry - 45.5) < 0.3 * 45.5
    assert "MAXLEN ~ 36000" in plan.as_table().loc["XADD to use", "value"]
    assert plan.as_table().loc["XADD to use", "value"].endswith("* <field> <value> ...")  # the fields named, not a cut-off line


def test_estimate_is_within_30_percent_of_what_redis_7_measured():
    for shape, measured in ((retention.SENSOR_FIELDS, 45.5), ({"user_id": 1001, "action": "login"}, 25.4)):
        assert abs(retention.estimate_entry_bytes(shape) - measured) < 0.3 * measured


def test_human_bytes():
    assert retention.human_bytes(512) == "512 B"
    assert retention.human_bytes(1536) == "1.5 KiB"
    assert retention.human_bytes(3 * 1024 ** 3) == "3.0 GiB"
    assert retention.human_bytes(None) == "n/a"


def test_trim_job_trims_on_its_schedule_and_stops(r, prefix):
    key = prefix + "job"
    retention.fill(r, key, 3000)
    job = retention.TrimJob(r, key, maxlen=500, interval=0.05, approximate=False)
    job.run_for(0.3)
    assert not job.running
    assert job.runs >= 1 and job.removed == 2500
    assert r.xlen(key) == 500


def test_trim_job_needs_one_rule():
    with pytest.raises(ValueError, match="exactly one"):
        retention.TrimJob(None, "k")
    with pytest.raises(ValueError, match="interval"):
        retention.TrimJob(None, "k", maxlen=1, interval=0)


def test_inline_cap_stays_flat_while_a_scheduled_trim_saws(r, prefix):
    # A cap below one write tick (200 entries): the scheduled stream is past the cap after any
    # tick, however few ticks a loaded machine manages, and 3 s leave room for several trims.
    frame = retention.compare_inline_and_scheduled(
        r, prefix + "inline", prefix + "scheduled", cap=50, rate=4000, seconds=3, interval=0.4)
    assert frame["inline"].max() <= 50 + 100  # ~ keeps at most one node more
    assert frame["scheduled"].max() > 50 + 100  # grows past the cap between trim runs
    assert frame["scheduled"].diff().min() < 0  # and drops when the job runs


def test_fill_falls_back_to_a_pipeline_where_the_server_refuses_scripts(r, prefix, monkeypatch):
    import redis

    def refuse(*args, **kwargs):
        raise redis.ResponseError("ERR unknown command 'EVAL'")

    monkeypatch.setattr(r, "eval", refuse)
    assert retention.fill(r, prefix + "s", 1500) == 1500
    assert retention.time_capped_adds(r, prefix + "s", adds=300, maxlen=100, approximate=False) > 0
    assert r.exists(prefix + "s") == 0


def test_the_plan_and_trim_reports_read_as_a_person_writes_them(r, prefix):
    assert retention.human_duration(timedelta(days=1)) == "1 day"
    assert retention.human_duration(timedelta(minutes=90)) == "1 hour 30 minutes"
    assert retention.human_duration(timedelta(days=2, hours=3, seconds=5)) == "2 days 3 hours"
    plan = retention.RetentionPlan(rate=5, retention=timedelta(days=1), entries=432_000,
                                   bytes_per_entry=42.0, source="measured")
    table = plan.as_table()["value"]
    assert table["retention"] == "1 day" and table["bytes per entry"] == "42 B (measured)"
    assert "kept for 1 day -> 432,000 entries x 42 B" in str(plan)
    key = prefix + "sep"
    retention.fill(r, key, 12_000)
    report = retention.trim(r, key, maxlen=2_000)
    assert "removed 10,000 entries (12,000 -> 2,000 entries" in str(report)


def test_on_fakeredis_the_timing_is_the_recorded_real_server_one_and_says_so(backend_kind, r, prefix):
    if backend_kind != "fake":
        pytest.skip("fakeredis only")
    timing = retention.trim_timing(r, key=prefix + "timing")
    assert not timing.measured_here and not r.exists(prefix + "timing")
    assert timing.source.startswith("recorded on Redis 7.0.15")
    assert timing.speedup > 1  # the lesson's "capping in every XADD is where ~ pays"
    assert timing.verdict().startswith("20,000 capped XADDs: `~` was 3.5× faster than exact")


def test_on_a_real_server_the_timing_is_measured_now_and_labelled(backend_kind, r, prefix):
    if backend_kind != "real":
        pytest.skip("real server only")
    timing = retention.trim_timing(r, key=prefix + "timing", entries=5_000, adds=2_000)
    assert timing.measured_here and timing.source.startswith("measured now on ")
    assert list(timing.table["removed"]) == [4_000, 4_000]
    assert (timing.table["capped_s"] > 0).all()
    word = "faster" if timing.speedup >= 1 else "slower"  # which one depends on the machine's load
    assert f"× {word} than exact" in timing.verdict()
