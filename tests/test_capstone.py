"""Lesson 07's pipeline: processes on a real server, threads on fakeredis, and nothing left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from streamlab import backend as sl_backend
from streamlab import workers
from streamlab.capstone import Capstone, backend_mode


def live_children() -> set[int]:
    """PIDs of this process's descendants that are still running (zombies count as gone)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def gone(pids, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for p in pids if _running(p)]:
            return True
        time.sleep(0.05)
    return False


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def small(r, prefix):
    """A pipeline on the test's keys, small enough to finish in a few seconds; closed afterwards."""
    made = []

    def make(**options):
        settings = dict(stream=prefix + "sensors", alerts=prefix + "alerts", rate=30, count=30,
                        work=0.02, threshold=24)
        settings.update(options)
        cap = Capstone(r, **settings)
        made.append(cap)
        return cap

    yield make
    for cap in made:
        cap.close()


def test_the_mode_follows_the_backend(r):
    assert backend_mode(r) == ("threads" if r.backend.is_fake else "processes")


def test_processes_cannot_reach_fakeredis_and_the_message_says_what_to_do():
    fake = sl_backend.connect(backend="fake", quiet=True)
    with pytest.raises(ValueError, match="Use a real server"):
        Capstone(fake, mode="processes")


def test_every_reading_is_processed_and_the_alerts_are_exactly_the_hot_ones(r, small):
    before = live_children()
    cap = small().start()
    if not r.backend.is_fake:
        assert all(m.proc is not None for m in cap.members.values()), "each member is a process"
    assert cap.wait_drained(30)
    cap.stop()
    ledger = cap.ledger()
    assert ledger.ok, str(ledger)
    assert not ledger.missing and not ledger.duplicates
    assert r.xlen(cap.stream) == 90
    hot = sum(float(f["temp"]) > 24 for _, f in r.xrange(cap.stream))
    assert r.xlen(cap.alerts) == hot
    assert {m.status for m in cap.members.values()} == {"exited 0"}, cap.status()
    assert live_children() == before, "no producer or consumer process left behind"


def test_a_killed_worker_leaves_its_entries_pending_and_the_reaper_finishes_them(r, small):
    before = live_children()
    cap = small(work=0.05, reaper_idle_ms=500).start()
    assert cap.wait_pending("w1", at_least=2, timeout=20)
    left = cap.kill("w1")
    assert left, ("a worker killed mid-batch leaves entries pending", cap.tail("w1", 8))
    assert cap.members["w1"].status == "killed"
    assert cap.wait_drained(40), cap.status()
    cap.stop()
    assert set(left) <= set(cap.reaper_ids), "XAUTOCLAIM took over what w1 left"
    ledger = cap.ledger()
    assert ledger.ok, str(ledger)
    assert live_children() == before


def test_a_restarted_worker_takes_back_its_own_pending_entries(r, small):
    cap = small(work=0.05, reaper_idle_ms=None).start()
    assert cap.wait_pending("w1", at_least=2, timeout=20)
    left = cap.kill("w1")
    assert left
    cap.restart("w1")
    assert cap.wait_drained(40), cap.status()
    cap.stop()
    w1 = cap.members["w1"]
    assert set(left) <= set(w1.processed_ids)
    assert f"{len(left)} taken back from its pending list" in w1.tail(1)
    assert cap.ledger().ok


def test_stop_kills_a_member_still_busy_after_the_timeout(r, small):
    before = live_children()
    cap = small(work=5, count=None, rate=5, reaper_idle_ms=None).start()
    assert cap.wait_pending("w1", at_least=1, timeout=20)
    began = time.monotonic()
    cap.stop(timeout=0.5)
    # A process dies at once; a thread cannot be killed from outside, so it ends when its
    # 5 s of work in hand are over (and its XACK is then refused).
    assert time.monotonic() - began < (5 if cap.mode == "processes" else 10)
    w1 = cap.members["w1"]
    assert w1.status == "killed"
    assert "killed" in w1.tail(1)
    assert cap.holding("w1") >= 1, "the entry in hand was never acknowledged"
    assert live_children() == before


def test_starting_again_under_the_same_name_stops_the_first_pipeline(r, small):
    first = small().start()
    first.wait_started()
    second = small(count=5).start()
    assert not first.running, "re-running the cell must not leave the first pipeline running"
    assert second.wait_drained(30)
    second.stop()
    assert not second.running


def test_reset_stops_the_pipeline(r, small):
    before = live_children()
    cap = small(count=None).start()
    cap.wait_started()
    workers.stop_all()  # what sl.reset() calls first
    assert not cap.running
    assert live_children() == before


def test_kill_names_the_members_that_exist(r, small):
    cap = small()
    with pytest.raises(ValueError, match="sensor1, sensor2, sensor3, w1, w2, a1"):
        cap.kill("w9")


def test_bad_settings_are_refused_with_a_message(r, prefix):
    with pytest.raises(ValueError, match="rate must be above 0"):
        Capstone(r, stream=prefix + "s", rate=0)
    with pytest.raises(ValueError, match="its own name"):
        Capstone(r, stream=prefix + "s", workers=("w1", "w1"))


def test_the_dashboard_draws_every_panel(r, small):
    cap = small(count=10).start()
    assert cap.wait_drained(30)
    cap.stop()
    fig = cap.figure()
    lag, pending, processed, alerts = fig.axes
    assert len(lag.get_lines()) >= 2, "one lag line per group"
    assert {ln.get_label() for ln in processed.get_lines()} >= {"w1", "w2"}
    assert max(alerts.get_lines()[0].get_ydata()) == 30


SCRIPT = textwrap.dedent("""
    import os, sys
    import streamlab as sl
    from streamlab.capstone import Capstone
    r = sl.connect(sys.argv[1], quiet=True)
    cap = Capstone(r, stream=sys.argv[2] + "sensors", alerts=sys.argv[2] + "alerts", count=None)
    cap.start()
    cap.wait_started()
    print(cap.logdir, " ".join(str(m.proc.pid) for m in cap.members.values()), flush=True)
    if sys.argv[3] == "crash":
        os.kill(os.getpid(), 9)   # no atexit, no finally: only the kernel's PDEATHSIG is left
""")


@pytest.mark.parametrize("ending", ["exit", "crash"])
def test_the_processes_end_with_the_python_that_started_them(real_server_url, ending, tmp_path):
    if ending == "crash" and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    prefix = f"streamlab:test:{os.urandom(6).hex()}:"
    script = tmp_path / "owner.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), real_server_url, prefix, ending],
                          capture_output=True, text=True, timeout=60)
    logdir, *pids = done.stdout.split()
    pids = [int(p) for p in pids]
    assert len(pids) == 6, done.stderr
    assert gone(pids, timeout=20), ("producers and consumers outlived the Python that started them",
                                    done.stderr[-2000:])
    if ending == "exit":
        assert not os.path.exists(logdir), ("the output files go with the pipeline", done.stderr[-2000:])
    shutil.rmtree(logdir, ignore_errors=True)  # a SIGKILLed owner cannot clean up after itself
    r = sl_backend.connect(real_server_url, quiet=True)
    r.delete(prefix + "sensors", prefix + "alerts")
    r.close()


def test_the_live_dashboard_redraws_while_running_and_stops_with_the_pipeline(r, small):
    cap = small(count=15)
    widget = cap.start().dashboard()
    counters, image = widget.children
    assert cap.wait_drained(30)
    cap.stop()
    assert bytes(image.value[:4]) == b"\x89PNG", "the last picture is drawn after stop()"
    assert "sensor1" in counters.value and "exited 0" in counters.value
    assert not cap._refresher.running
    widget.close()
