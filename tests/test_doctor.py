"""streamlab doctor: versions, the backend ladder with reasons, and a fix for each problem."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streamlab import backend, diagnostics as doctor, server


def test_doctor_lists_versions_and_the_chosen_backend(monkeypatch, capsys):
    monkeypatch.setenv("STREAMLAB_BACKEND", "fake")
    report = doctor.run()
    out = capsys.readouterr().out
    for name in ("redis", "walrus", "fakeredis", "ipywidgets", "jupyterlab", "widget front-end"):
        assert f"{name}:" in out
    assert "chosen   fake" in out
    assert "skipped  local    STREAMLAB_BACKEND=fake" in out
    assert report.banner in out and "fakeredis" in report.banner


def test_doctor_gives_the_fix_for_a_missing_package(monkeypatch):
    real_version = doctor.metadata.version

    def pretend_walrus_is_missing(dist):
        if dist == "walrus":
            raise doctor.metadata.PackageNotFoundError(dist)
        return real_version(dist)

    monkeypatch.setattr(doctor.metadata, "version", pretend_walrus_is_missing)
    checks = {c.name: c for c in doctor.check_packages()}
    assert not checks["walrus"].ok
    assert "pip install" in checks["walrus"].fix and "walrus>=" in checks["walrus"].fix


def test_doctor_reports_a_broken_redis_url_with_its_fix(monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{server.free_port()}/0")
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    report = doctor.diagnose()
    problem = [c for c in report.checks if c.name == "backend"][0]
    assert not problem.ok and "nothing answered" in problem.detail
    assert "unset REDIS_URL" in problem.fix


def test_doctor_explains_why_each_earlier_step_was_skipped(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    monkeypatch.setattr(backend, "LOCAL_URL", f"redis://127.0.0.1:{server.free_port()}/0")
    monkeypatch.setattr(server, "find_server_binary", lambda: None)
    report = doctor.diagnose()
    reasons = {s.name: s.reason for s in report.ladder}
    assert reasons["env"] == "REDIS_URL is not set"
    assert "nothing answered" in reasons["local"]
    assert "no redis-server" in reasons["private"]
    assert report.ladder[-1].name == "fake" and report.ladder[-1].outcome == "chosen"


def test_doctor_command_exits_zero_when_all_is_well():
    proc = subprocess.run([sys.executable, "-m", "streamlab.cli", "doctor"],
                          capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "STREAMLAB_BACKEND": "fake"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Everything the course needs is here." in proc.stdout


def test_cli_reset_deletes_course_keys_only(real_server_url):
    import redis

    r = redis.Redis.from_url(real_server_url, decode_responses=True)
    r.set("lesson96:x", "1")
    r.set("not-the-course", "1")
    try:
        proc = subprocess.run([sys.executable, "-m", "streamlab.cli", "reset", "--url", real_server_url,
                               "--lesson", "96"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "deleted 1 key(s) of lesson 96" in proc.stdout
        assert not r.exists("lesson96:x") and r.get("not-the-course") == "1"
    finally:
        r.delete("not-the-course", "lesson96:x")
        r.close()


def test_doctor_names_the_server_and_which_new_way_cells_run_for_real(monkeypatch):
    monkeypatch.setenv("STREAMLAB_BACKEND", "fake")
    monkeypatch.delenv("STREAMLAB_FAKE_VERSION", raising=False)
    checks = {c.name: c.detail for c in doctor.diagnose().checks}
    assert checks["server"].startswith("fakeredis ") and checks["server"].endswith("emulating Redis 7.0")
    cells = checks["new-way cells"]
    assert cells.startswith("run for real here: none;")
    assert "04 XREADGROUP ... CLAIM (8.4)" in cells.split("emulating Redis 8.10 (labelled):")[1]
    # fakeredis answers XREAD ... + with [] at every version: no emulation can show it
    assert "02 XREAD ... + (7.4)" in cells.split("described only")[1]
    # fakeredis has an `inactive` field, but not Redis's meaning: never counted as emulated
    assert "inactive (7.2)" in cells.split("described only")[1]

    monkeypatch.setenv("STREAMLAB_FAKE_VERSION", "8.10")
    cells = {c.name: c.detail for c in doctor.diagnose().checks}["new-way cells"]
    real = cells.split(";")[0]
    for shown in ("02 XREAD MAXCOUNT (8.10)", "04 XNACK (8.8)", "05 XACKDEL/XDELEX (8.2)"):
        assert shown in real, (shown, cells)


def test_doctor_on_each_server_at_hand_says_what_runs_there(matrix_server):
    label, url = matrix_server
    checks = {c.name: c.detail for c in doctor.diagnose(url).checks}
    assert checks["server"] == label  # "Valkey 8.1.8", as HELLO says
    real = checks["new-way cells"].split(";")[0]
    assert ("02 XREAD ... + (7.4)" in real) == (not label.startswith("Redis 7.0"))  # measured
    assert "XNACK" not in real  # no server here has Redis 8.8's XNACK
