"""Lesson 08's backend-independent parts: monitoring, backpressure, consumer lifecycle, the
recorded run, the plots and the panel. On fakeredis and a real server; no servers started."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

from streamlab import durability  # noqa: E402


def test_the_engine_imports_no_ui():
    code = ("import sys, streamlab.durability; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name, verdict", [
    ("A", "add consumers"),
    ("B", "consumers not acking"),
    ("C", "dead consumer c3: claim its pending, then XGROUP DELCONSUMER"),
])
def test_each_scripted_situation_gets_its_rule_of_thumb(r, prefix, name, verdict):
    frame = durability.scenario(r, name, prefix=prefix, ticks=9, tick=0.15)
    assert durability.diagnose(frame) == verdict
    last = frame.iloc[-1]
    if name == "A":
        assert last["lag"] == 9 * 20 and last["pending"] == 0
        assert any(a.startswith("lag") for a in durability.alerts(frame))
    if name == "B":
        assert last["lag"] == 0 and last["pending"] == 90
    if name == "C":
        assert last["pending"] == 3 and last["least active consumer"] == "c3"


def test_a_quiet_healthy_group_is_healthy(r, prefix):
    stream = prefix + "healthy"
    r.xgroup_create(stream, "g", id="$", mkstream=True)
    samples = []
    for _ in range(3):
        r.xadd(stream, {"n": 1})
        got = r.xreadgroup("g", "c1", {stream: ">"})
        r.xack(stream, "g", *[i for _, entries in got for i, _ in entries])
        samples.append(durability.health(r, stream, "g", maxlen=1000))
    import pandas as pd

    frame = pd.DataFrame(samples)
    assert durability.diagnose(frame) == "healthy"
    assert durability.alerts(frame) == []


def test_backpressure_counts_entries_trimmed_before_the_group_read_them(r, prefix):
    got = durability.backpressure(r, prefix + "bp", maxlen=100, produced=300, read=50)
    assert got == {"produced": 300, "read by the group": 50, "XLEN": 100,
                   "trimmed before the group read them": 150}
    assert durability.room(r, prefix + "bp", "workers", maxlen=100) == 0
    r.xreadgroup("workers", "c1", {prefix + "bp": ">"}, count=40)
    assert durability.room(r, prefix + "bp", "workers", maxlen=100) == 40


def test_retire_claims_before_deleting_so_nothing_is_dropped(r, prefix):
    stream = prefix + "retire"
    for n in range(6):
        r.xadd(stream, {"n": n})
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", "dead", {stream: ">"}, count=4)
    assert durability.retire(r, stream, "g", dead="dead", heir="live") == {
        "claimed": 4, "pending dropped by DELCONSUMER": 0}
    names = {c["name"] for c in r.xinfo_consumers(stream, "g")}
    assert "dead" not in names
    assert {p["consumer"] for p in r.xpending_range(stream, "g", "-", "+", 10)} == {"live"}


def test_consumer_names_differ_per_call_and_name_the_process():
    import os

    a, b = durability.consumer_name("billing"), durability.consumer_name("billing")
    assert a != b and a.startswith("billing-") and f"-{os.getpid()}-" in a


def test_the_recorded_run_is_complete_and_consistent():
    rec = durability.recorded()
    assert rec["server"].startswith(("Redis", "Valkey")) and rec["recorded_at"]
    crash = rec["crash"]
    assert list(crash.index) == [v["label"] for v in durability.SETTINGS.values()]
    kept = crash["present after restart"] - crash["present, never acknowledged"]
    assert (crash["lost"] == crash["acknowledged"] - kept).all()
    assert crash.loc["no persistence", "present after restart"] == 0
    assert crash.loc["AOF, appendfsync always", "lost"] == 0
    fo = rec["failover"]
    assert fo.loc["XADD + WAIT 1", "acknowledged, missing on the new primary"] == 0
    assert fo.loc["XADD only", "acknowledged, missing on the new primary"] > 0
    for name, writes in rec["failover_writes"].items():
        missing = int((writes["acknowledged"] & writes["missing"]).sum())
        assert missing == fo.loc[name, "acknowledged, missing on the new primary"]


def test_the_plots_draw_from_the_recorded_run(r, prefix):
    from streamlab.ui.figures import durability as dp

    from streamlab.ui import style

    rec = durability.recorded()
    crash = dp.plot_crash(rec["crash"], title="setup")
    assert len(crash.axes) == 3
    # The headline names each setting that lost acknowledged writes, with the table's count.
    result, details = style.headline_text(crash)
    assert details == "setup"
    for setting, lost in rec["crash"]["lost"].items():
        short = dp._short(setting)  # "AOF, appendfsync always" -> "AOF always"
        assert (f"{short} lost {lost:,}" in result) if lost else (short in result and "lost none" in result)
    failover = dp.plot_failover(rec["failover_writes"])
    assert len(failover.axes) == 2
    for name, writes in rec["failover_writes"].items():
        lost = int((writes["acknowledged"] & writes["missing"]).sum())
        assert f"{name} lost {lost}" in style.headline_text(failover)[0]
    frames = {"C": durability.scenario(r, "C", prefix=prefix, ticks=3, tick=0.01)}
    assert len(dp.plot_health(frames).axes) == len(dp.METRICS)


def test_the_panel_on_fakeredis_shows_the_recorded_row_labelled():
    import streamlab as sl
    from streamlab.ui import DurabilityPanel

    r = sl.connect(backend="fake", quiet=True)
    panel = DurabilityPanel(r)
    try:
        assert not panel.live and "RECORDED" in panel.status.value
        row = panel.run("aof-always")
        assert row["run"] == "recorded" and row["lost"] == 0
        assert "recorded run" in panel.summary() and "AOF, appendfsync always" in panel.table.value
    finally:
        panel.close()


def test_unknown_names_are_refused_with_the_choices(r, prefix):
    with pytest.raises(durability.DurabilityError, match="aof-always"):
        durability.crash_test("sometimes")
    with pytest.raises(durability.DurabilityError, match="A, B, C"):
        durability.scenario(r, "D", prefix=prefix)
    with pytest.raises(durability.DurabilityError, match="'replica'"):
        durability.failover_test("maybe")



def test_an_idle_consumer_holding_nothing_is_not_called_dead(r, prefix):
    """The rule: a consumer is dead when it goes quiet *holding* entries. One that is merely
    quiet, holding nothing, while another consumer's entries wait, is not retired."""
    import time

    import pandas as pd

    stream = prefix + "idle"
    r.xgroup_create(stream, "g", id="$", mkstream=True)
    r.xadd(stream, {"n": 0})
    got = r.xreadgroup("g", "spare", {stream: ">"})       # reads one, acks it, then goes quiet
    r.xack(stream, "g", *[i for _, entries in got for i, _ in entries])
    time.sleep(0.02)  # so that spare is the least recently active consumer
    samples = []
    for n in range(1, 4):
        r.xadd(stream, {"n": n})
        r.xreadgroup("g", "busy", {stream: ">"})         # reads, never acks
        samples.append(durability.health(r, stream, "g", maxlen=1000))
    frame = pd.DataFrame(samples)
    last = frame.iloc[-1]
    assert (last["least active consumer"], last["least active consumer pending"]) == ("spare", 0)
    assert last["pending"] == 3
    quiet = dict(durability.THRESHOLDS, **{"max consumer inactive ms": 0})
    assert durability.diagnose(frame, thresholds=quiet) == "consumers not acking"
    # The same samples with the quiet consumer holding the entries: that one is dead.
    frame.loc[frame.index[-1], "least active consumer pending"] = 3
    assert durability.diagnose(frame, thresholds=quiet) == (
        "dead consumer spare: claim its pending, then XGROUP DELCONSUMER")
