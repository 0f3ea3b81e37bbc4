"""Lesson 07's pipeline: processes on a real server, threads on fakeredis, and nothing left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from streamlab import backend as sl_backend
from streamlab import server as sl_server
from streamlab import workers
from streamlab.capstone import Capstone, PipelineError, backend_mode
from streamlab.errors import LearnerError
from streamlab.ui import CapstonePanel
from streamlab.ui.capstone_panel import ledger_html, show_ledgers_as_html

from helpers import wait_until


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


@pytest.fixture
def panels():
    """Make a ``CapstonePanel``; closed (refresher stopped, name freed) afterwards."""
    made = []

    def make(cap, **options):
        panel = CapstonePanel(cap, **options)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()


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
    cap.stop(timeout=30)  # the graceful stop asserted below, unhurried on a loaded machine
    ledger = cap.ledger()
    assert ledger.ok, str(ledger)
    assert not ledger.missing and not ledger.duplicates
    assert r.xlen(cap.stream) == 90
    hot = sum(float(f["temp"]) > 24 for _, f in r.xrange(cap.stream))
    assert r.xlen(cap.alerts) == hot
    statuses = {m.role: set() for m in cap.members.values()}
    for m in cap.members.values():
        statuses[m.role].add(m.status)
    assert statuses == {"producer": {"exited 0"}, "worker": {"exited 0 after Ctrl-C"},
                        "alerter": {"exited 0 after Ctrl-C"}}, cap.status()
    assert live_children() == before, "no producer or consumer process left behind"


def test_a_member_looked_at_while_its_thread_is_starting_is_not_taken_for_exited(monkeypatch):
    # On a busy machine the supervisor thread polls the members while start() is still
    # launching their threads; a thread that is not running yet is not one that has ended.
    fake = sl_backend.connect(backend="fake", quiet=True)
    cap = Capstone(fake, stream="streamlab:test:starting:sensors", alerts="streamlab:test:starting:alerts",
                   rate=30, count=30, work=0.02, threshold=24)
    launch = threading.Thread.start
    seen_while_starting = []

    def start_while_polled(thread):
        if thread.name.startswith("streamlab-capstone-"):
            for m in list(cap.members.values()):
                m.poll()  # what the supervisor does every 0.1 s
                seen_while_starting.append((m.name, m.status))
        launch(thread)

    monkeypatch.setattr(threading.Thread, "start", start_while_polled)
    try:
        cap.start()
        monkeypatch.undo()
        assert seen_while_starting, "the members were polled while their threads started"
        assert all(status in ("new", "running") for _, status in seen_while_starting), seen_while_starting
        assert cap.wait_drained(30), cap.status()
        cap.stop(timeout=30)  # the graceful stop asserted below, unhurried on a loaded machine
        statuses = {(m.role, m.status) for m in cap.members.values()}
        assert statuses == {("producer", "exited 0"), ("worker", "exited 0 after Ctrl-C"),
                            ("alerter", "exited 0 after Ctrl-C")}, cap.status()
    finally:
        cap.close()
        fake.delete(cap.stream, cap.alerts, cap.stream + ":dead")


def test_a_killed_worker_leaves_its_entries_pending_and_the_reaper_finishes_them(r, small):
    before = live_children()
    cap = small(work=0.05, reaper_idle_ms=500).start()
    left = cap.kill("w1", holding=2, timeout=20)
    assert len(left) >= 2, ("a worker killed while holding 2 entries leaves them pending", cap.tail("w1", 8))
    assert cap.members["w1"].status == "killed"
    assert cap.wait_drained(40), cap.status()
    cap.stop()
    assert set(left) <= set(cap.reaper_ids), "XAUTOCLAIM took over what w1 left"
    ledger = cap.ledger()
    assert ledger.ok, str(ledger)
    assert live_children() == before


def test_a_worker_killed_while_holding_two_still_holds_them_when_the_notebook_is_slow(r, small, monkeypatch):
    # Between counting what the worker holds and killing it, a busy machine may leave the
    # notebook's thread waiting for a while; the worker must not ack meanwhile.
    cap = small(work=0.05, reaper_idle_ms=None)
    count = Capstone.holding

    def slow_count(self, name):
        held = count(self, name)
        if held >= 2:
            time.sleep(0.3)  # several entries' worth of work, just when the kill is decided
        return held

    monkeypatch.setattr(Capstone, "holding", slow_count)
    cap.start()
    left = cap.kill("w1", holding=2, timeout=20)
    assert len(left) >= 2, ("killed holding 2 entries, it leaves them pending", cap.tail("w1", 8))
    assert cap.members["w1"].status == "killed"


def test_a_restarted_worker_takes_back_its_own_pending_entries(r, small):
    cap = small(work=0.05, reaper_idle_ms=None).start()
    left = cap.kill("w1", holding=2, timeout=20)
    assert len(left) >= 2, cap.tail("w1", 8)
    cap.restart("w1")
    assert cap.wait_drained(40), cap.status()
    # A generous bound on the graceful stop: on a loaded machine 3 s (the default) can pass
    # before the program has finished its batch, and then it is killed without its last line.
    cap.stop(timeout=30)
    w1 = cap.members["w1"]
    assert set(left) <= set(w1.processed_ids)
    assert f"{len(left)} taken back from its pending list" in w1.tail(1)
    assert cap.ledger().ok


def test_a_killed_then_restarted_worker_shows_both_runs_and_how_each_ended(r, small):
    cap = small(work=0.05, reaper_idle_ms=None).start()
    cap.kill("w1", holding=1, timeout=20)
    cap.restart("w1")
    assert cap.wait_drained(40), cap.status()
    cap.stop(timeout=30)  # the graceful stop asserted below, unhurried on a loaded machine
    rows = cap.status().set_index("name").loc[["w1"]]
    assert list(rows["status"]) == ["killed", "exited 0 after Ctrl-C"], rows
    if cap.mode == "processes":
        assert rows["runs as"].nunique() == 2, ("each run is its own process", rows)
    consumers = cap.frames()["consumers"]
    charted = consumers[consumers["consumer"] == "w1"]["processed"].iloc[-1]
    assert charted == rows["processed"].sum(), "the chart's w1 line adds both runs"
    assert [label for _, label in cap.events if label.startswith("w1")] == ["w1 killed", "w1 restarted"]
    assert cap.ledger().ok, "what the killed run processed still counts"


def test_kill_waiting_for_work_that_never_comes_still_kills_after_the_timeout(r, small):
    cap = small(count=None).start()
    cap.wait_started()
    left = cap.kill("w1", holding=10_000, timeout=0.5)
    assert cap.members["w1"].status == "killed"
    assert len(left) < 10_000
    assert cap.members["w2"].alive, "only w1 was touched"
    if cap.mode == "processes":
        frozen = [m.name for m in cap.members.values()
                  if m.alive and psutil.Process(m.proc.pid).status() == psutil.STATUS_STOPPED]
        assert not frozen, "no program is left frozen (SIGSTOP) by the wait"


def test_restart_and_add_worker_refuse_what_would_not_make_sense(r, small):
    cap = small(count=None).start()
    cap.wait_started()
    with pytest.raises(ValueError, match="still running"):
        cap.restart("w1")
    with pytest.raises(ValueError, match="use restart"):
        cap.add_worker("w2")
    cap.kill("sensor1")
    with pytest.raises(ValueError, match="is a producer"):
        cap.restart("sensor1")


@pytest.mark.skipif(not sl_server.find_server_binary(), reason="needs redis-server on PATH")
def test_start_without_a_server_says_what_happened_and_what_to_do_and_starts_nothing():
    prefix = f"streamlab:test:{os.urandom(6).hex()}:"
    srv = sl_server.PrivateServer().start()
    r = sl_backend.connect(srv.url, quiet=True)
    srv.stop()  # the server went away after the kernel connected
    before = live_children()
    cap = Capstone(r, stream=prefix + "sensors", alerts=prefix + "alerts")
    try:
        with pytest.raises(PipelineError) as caught:
            cap.start()
        message = str(caught.value)
        assert "nothing was started" in message
        assert "What happened:" in message and "What to do:" in message
        # IPython shows _render_traceback_ instead of a traceback: the message alone.
        assert isinstance(caught.value, LearnerError)
        assert caught.value._render_traceback_()[0].startswith("PipelineError: Capstone.start()")
        assert not cap.running and live_children() == before
    finally:
        cap.close()
        r.close()


def test_stop_kills_a_member_still_busy_after_the_timeout(r, small):
    before = live_children()
    cap = small(work=5, count=None, rate=5, reaper_idle_ms=None).start()
    assert cap.wait_pending("w1", at_least=1, timeout=20)
    cap.stop(timeout=0.5)
    # A process is killed; a thread cannot be killed from outside, so it ends when its 5 s of
    # work in hand are over (and its XACK is then refused). Either way the outcome below holds;
    # how long it took is not asserted (a loaded machine may take longer).
    w1 = cap.members["w1"]
    assert w1.status == "killed"
    assert "killed" in w1.tail(1)
    assert cap.holding("w1") >= 1, "the entry in hand was never acknowledged"
    assert live_children() == before


def test_stop_sends_each_program_one_ctrl_c_only(r, small):
    if r.backend.is_fake:
        pytest.skip("on fakeredis the programs are threads: no signals")
    cap = small(count=None).start()
    cap.wait_started()
    sent = {name: [] for name in cap.members}
    for name, m in cap.members.items():
        original = m.proc.send_signal
        m.proc.send_signal = lambda sig, name=name, original=original: (sent[name].append(sig), original(sig))
    cap.stop()
    cap.close()  # stops again: still no second signal
    # A second signal while the program's handler runs can deadlock it (see ProcessMember.interrupt).
    assert all(signals.count(signal.SIGINT) == 1 for signals in sent.values()), sent


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


def test_the_dashboard_draws_every_panel(r, small, panels):
    cap = small(count=10).start()
    assert cap.wait_drained(30)
    cap.stop()
    fig = panels(cap).figure()
    by_title = {ax.get_title(loc="left"): ax for ax in fig.axes}
    lag, processed = by_title["Lag per group"], by_title["Processed per consumer"]
    alerts = by_title["Readings and alerts"]
    assert len(lag.get_lines()) >= 2, "one lag line per group"
    # Pending: one strip per worker and one for the alert group, on one shared scale.
    strips = {ax.get_ylabel(): ax for ax in fig.axes if ax.get_ylabel() in ("w1", "w2", cap.alert_group)}
    assert set(strips) == {"w1", "w2", cap.alert_group}
    assert len({ax.get_ylim() for ax in strips.values()}) == 1
    assert {ln.get_label() for ln in processed.get_lines()} >= {"w1", "w2"}
    assert max(alerts.get_lines()[0].get_ydata()) == 30


# The owner of a pipeline: starts it, says which processes it made, then waits for the test's
# "go" (so the test can take hold of those processes first) and ends as it was told.
OWNER = textwrap.dedent("""
    import os, sys
    import streamlab as sl
    from streamlab.capstone import Capstone
    r = sl.connect(sys.argv[1], quiet=True)
    cap = Capstone(r, stream=sys.argv[2] + "sensors", alerts=sys.argv[2] + "alerts", count=None)
    cap.start()
    if not cap.wait_started(120):
        sys.exit("not every consumer joined its group:\\n" + cap.status().to_string())
    print(cap.logdir, " ".join(str(m.proc.pid) for m in cap.members.values()), flush=True)
    sys.stdin.readline()
    if sys.argv[3] == "crash":
        os.kill(os.getpid(), 9)   # no atexit, no finally: only the kernel's PDEATHSIG is left
""")


def _still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    # is_running() also checks the start time, so a PID reused by another process is not ours.
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _describe(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            out.append(f"pid {p.pid} ({p.status()}): {' '.join(p.cmdline()[-6:])}")
        except psutil.Error:
            out.append(f"pid {p.pid} (gone while looking)")
    return out


@pytest.mark.parametrize("ending", ["exit", "crash"])
def test_the_processes_end_with_the_python_that_started_them(real_server_url, ending, tmp_path):
    if ending == "crash" and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    prefix = f"streamlab:test:{os.urandom(6).hex()}:"
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    errors = tmp_path / "owner.stderr"
    case = f"[owner ends by {'exiting' if ending == 'exit' else 'SIGKILL'}]"

    def owner_said() -> str:
        return errors.read_text()[-2000:]

    with open(errors, "w") as stderr:
        owner = subprocess.Popen([sys.executable, str(script), real_server_url, prefix, ending],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
    logdir = None
    try:
        ready = owner.stdout.readline().split()  # the owner's line, or EOF if it died first
        assert len(ready) == 7, f"{case} the owner did not report 6 programs: {owner_said()}"
        logdir, pids = ready[0], [int(p) for p in ready[1:]]
        procs = []
        for pid in pids:
            try:
                procs.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pytest.fail(f"{case} program {pid} died before the owner ended: {owner_said()}")
        owner.stdin.write("go\n")
        owner.stdin.flush()
        code = owner.wait(120)
        assert code == (0 if ending == "exit" else -signal.SIGKILL), f"{case} owner: {code}, {owner_said()}"
        wait_until(lambda: not _still_running(procs), 60)  # 60: only guards against a hang
        left = _still_running(procs)
        assert not left, (f"{case} these outlived the Python that started them", _describe(left), owner_said())
        if ending == "exit":
            assert not os.path.exists(logdir), f"{case} the output files go with the pipeline: {owner_said()}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdin.close()
        owner.stdout.close()
        if logdir:
            shutil.rmtree(logdir, ignore_errors=True)  # a SIGKILLed owner cannot clean up after itself
        r = sl_backend.connect(real_server_url, quiet=True)
        r.delete(prefix + "sensors", prefix + "alerts")
        r.close()


def refresher_running(panel) -> bool:
    return any(t.name == f"streamlab-{panel.name}:refresh" and t.is_alive() for t in threading.enumerate())


def test_the_live_dashboard_redraws_while_running_and_stops_with_the_pipeline(r, small, panels):
    cap = small(count=15)
    panel = panels(cap.start())
    assert refresher_running(panel), "live while the pipeline runs"
    assert wait_until(lambda: bytes(panel.image.value[:4]) == b"\x89PNG", 30), "the first picture"
    assert cap.wait_drained(30)
    cap.stop()
    assert "sensor1" in panel.counters.value and "exited 0" in panel.counters.value, \
        "the last counters are drawn after stop()"
    assert not refresher_running(panel)
    assert "readings processed" in panel.summary()


def test_the_dashboard_follows_a_pipeline_started_again(r, small, panels):
    cap = small(count=None)
    panel = panels(cap)  # drawn once: nothing runs yet
    assert wait_until(lambda: bytes(panel.image.value[:4]) == b"\x89PNG" and not refresher_running(panel))
    cap.start()
    assert refresher_running(panel), "cap.start() makes the panel live"
    assert cap.wait_started()
    cap.stop(timeout=30)  # the graceful stop asserted below, unhurried on a loaded machine
    assert not refresher_running(panel)
    assert "exited 0 after Ctrl-C" in panel.counters.value
    panel.close()
    assert cap.on_start is None and cap.on_stop is None, "a closed panel is no longer called"


def test_capstone_panel_shows_a_redraw_error_and_keeps_redrawing(r, small, panels, monkeypatch):
    cap = small(count=None)
    status = Capstone.status
    planted = []

    def status_failing_once(self):
        if not planted:
            planted.append(True)
            raise RuntimeError("planted redraw error")
        return status(self)

    cap.start()
    monkeypatch.setattr(Capstone, "status", status_failing_once)
    panel = panels(cap)
    assert wait_until(lambda: "planted redraw error" in panel.status.value, 20), panel.status.value
    assert planted, "the planted error was raised"
    assert wait_until(lambda: "sensor1" in panel.counters.value, 20), "a later redraw happened"
    assert refresher_running(panel), "the refresher keeps going"
    cap.stop()


def test_the_ledger_shows_as_a_table_with_a_coloured_verdict(r, small, shell):
    cap = small(count=10).start()
    assert cap.wait_drained(30)
    cap.stop()
    ledger = cap.ledger()
    page = ledger_html(ledger)
    assert "<table" in page and "readings in the stream (XLEN)" in page
    assert "✔ nothing lost: every check adds up" in page
    show_ledgers_as_html()
    data, _ = shell.display_formatter.format(ledger)
    assert data["text/html"] == page, "IPython shows a Ledger as that table"
    assert "NOTHING LOST" in data["text/plain"]


def test_the_ledger_names_a_reading_alerted_twice_and_a_hot_reading_without_alert(r, small):
    cap = small(count=10).start()
    assert cap.wait_drained(30)
    cap.stop()
    alerts = r.xrange(cap.alerts)
    assert alerts, "the run needs at least one alert (threshold 24, temperatures 18-26)"
    r.xadd(cap.alerts, alerts[0][1])            # a second alert for the same reading
    ledger = cap.ledger()
    assert not ledger.ok
    assert "1 readings alerted more than once" in str(ledger)
    # Delete the two oldest alerts: one reading now has no alert (the first keeps its copy).
    r.xdel(cap.alerts, *[i for i, _ in r.xrange(cap.alerts)][:2])
    assert "1 hot readings without an alert" in str(cap.ledger())


def test_alive_says_whether_a_member_runs(r, small):
    cap = small(count=None).start()
    cap.wait_started()
    assert cap.alive("w1")
    cap.kill("w1")
    assert not cap.alive("w1")
    with pytest.raises(ValueError, match="w9"):
        cap.alive("w9")


def test_in_static_mode_cap_stop_redraws_the_dashboards_picture(r, small, panels, shell, monkeypatch):
    # The book (STREAMLAB_STATIC=1) keeps the picture that cap.stop() draws, in place.
    from IPython import display as ipy_display

    from streamlab.ui import panel as ui_panel

    shown = []
    monkeypatch.setattr(ipy_display, "display",
                        lambda obj, raw=False, display_id=None: shown.append(("display", obj, display_id)))
    monkeypatch.setattr(ipy_display, "update_display",
                        lambda obj, raw=False, display_id=None: shown.append(("update", obj, display_id)))
    monkeypatch.setenv(ui_panel.STATIC_ENV, "1")
    cap = small(count=10).start()
    panel = panels(cap)
    assert shell.display_formatter.format(panel) == ({}, {}), "shown as its picture"
    assert cap.wait_drained(30)
    cap.stop()
    (kind, first, display_id), *rest = shown
    updates = [(bundle, i) for kind, bundle, i in rest if kind == "update"]
    assert kind == "display" and updates and all(i == display_id for _, i in updates)
    last = updates[-1][0]["text/html"]
    assert "exited 0" in last and "data:image/png;base64," in last
