"""``streamlab workshop setup/board/teardown`` end to end on a private real server.

Every test here gets a private ``redis-server`` of its own (ACL users are server-wide:
never on the shared 6379), with the default user as the instructor's admin.
"""

from __future__ import annotations

import csv
import os
import stat

import pytest
import redis

from streamlab import cli, workshop


@pytest.fixture
def admin_url(own_server_url):
    return own_server_url


@pytest.fixture
def admin(admin_url):
    r = workshop.admin_client(admin_url)
    yield r
    r.close()


def rows_of(path) -> dict[str, str]:
    with open(path, newline="") as fh:
        return {row["learner"]: row["redis_url"] for row in csv.DictReader(fh)}


def as_learner(url: str) -> redis.Redis:
    """A plain redis-py client of that learner (no streamlab renaming: the ACL alone is tested)."""
    return redis.Redis.from_url(url, decode_responses=True)


def test_setup_makes_fenced_users_and_a_private_csv(admin_url, tmp_path, capsys, monkeypatch):
    out = tmp_path / "learners.csv"
    monkeypatch.setenv("REDIS_URL", admin_url)
    assert cli.main(["workshop", "setup", "--learners", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    urls = rows_of(out)
    assert list(urls) == ["learner01", "learner02", "learner03"]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    for name, url in urls.items():
        password = url.split("@")[0].rsplit(":", 1)[1]
        assert len(password) >= 20 and password not in printed, "a password reached the screen"
        assert name in printed
    assert "only in" in printed and "new" in printed

    ana, ben = as_learner(urls["learner01"]), as_learner(urls["learner02"])
    try:
        assert ana.xadd("ws:learner01:lesson03:sensors", {"t": "21"})
        assert ana.xlen("ws:learner01:lesson03:sensors") == 1
        refused = {
            "read another's key": lambda: ben.xrange("ws:learner01:lesson03:sensors"),
            "write another's key": lambda: ben.xadd("ws:learner01:lesson03:sensors", {"t": "1"}),
            "delete another's key": lambda: ben.delete("ws:learner01:lesson03:sensors"),
            "a key outside any namespace": lambda: ana.set("lesson03:x", 1),
            "INFO": lambda: ana.info(),
            "CONFIG": lambda: ana.config_get("maxmemory"),
            "KEYS": lambda: ana.keys("*"),
            "FLUSHALL": lambda: ana.flushall(),
            "CLIENT KILL": lambda: ana.execute_command("CLIENT", "KILL", "USER", "learner02"),
            "FUNCTION FLUSH": lambda: ana.execute_command("FUNCTION", "FLUSH"),
            "SCRIPT FLUSH": lambda: ana.execute_command("SCRIPT", "FLUSH"),
            "read one's own progress": lambda: ana.xrange(workshop.progress_key("learner01")),
            "trim one's own progress": lambda: ana.xtrim(workshop.progress_key("learner01"), 0),
            "report another's progress": lambda: ana.xadd(workshop.progress_key("learner02"), {"x": 1}),
            "publish to another's channel": lambda: ana.publish("ws:learner02:lesson06:c", "hi"),
        }
        for what, attempt in refused.items():
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
                pytest.fail(f"{what} was allowed")
        assert ana.xadd(workshop.progress_key("learner01"), {"event": "check"})  # XADD only
        assert ana.publish("ws:learner01:lesson06:c", "hi") == 0
        assert ana.eval("return redis.call('XLEN', KEYS[1])", 1, "ws:learner01:lesson03:sensors") == 1
        with pytest.raises(redis.exceptions.NoPermissionError):
            ana.eval("return redis.call('XLEN', KEYS[1])", 1, "ws:learner02:lesson03:sensors")
    finally:
        ana.close()
        ben.close()


def test_learner_urls_keep_the_admin_urls_server_and_database():
    url = workshop.learner_url
    assert url("redis://admin:x@redis.example.org:6390/0", "ana", "p-w_1") == \
        "redis://ana:p-w_1@redis.example.org:6390/0"
    assert url("rediss://admin:x@[::1]:6380/2", "ana", "pw") == "rediss://ana:pw@[::1]:6380/2"
    assert url("redis://127.0.0.1:6379", "ana", "pw", host="ws.example.org:7000") == \
        "redis://ana:pw@ws.example.org:7000/0"
    assert url("unix:///run/redis.sock", "ana", "pw", host="ws.example.org:6379") == \
        "redis://ana:pw@ws.example.org:6379/0"
    with pytest.raises(workshop.WorkshopError, match="--host"):
        url("unix:///run/redis.sock", "ana", "pw")


def test_a_rerun_keeps_passwords_rotate_changes_them(admin, admin_url, tmp_path):
    out = tmp_path / "learners.csv"
    first = workshop.setup(admin, workshop.default_names(2), out, admin_url)
    assert [a.status for a in first] == ["new", "new"]
    before = rows_of(out)
    again = workshop.setup(admin, workshop.default_names(3), out, admin_url)
    assert [(a.learner, a.status) for a in again] == [
        ("learner01", "kept"), ("learner02", "kept"), ("learner03", "new")]
    after = rows_of(out)
    assert {k: after[k] for k in before} == before
    assert as_learner(after["learner01"]).ping()

    # A CSV lost (or another --out): the server holds only hashes, and nobody's password
    # changes without --rotate; the users are kept, said so, and have no row in this CSV.
    out.unlink()
    held = as_learner(after["learner02"])
    assert held.ping()
    lost = workshop.setup(admin, workshop.default_names(1), out, admin_url)
    assert {a.learner: a.status for a in lost} == dict.fromkeys(
        ["learner01", "learner02", "learner03"], workshop.KEPT_UNKNOWN)
    assert rows_of(out) == {}
    assert as_learner(before["learner01"]).ping() and held.execute_command("PING")

    workshop.setup(admin, [], out, admin_url, rotate=True)
    with pytest.raises(redis.ConnectionError):
        held.execute_command("PING")  # --rotate closed the connection the old password opened
    held.close()
    with pytest.raises(redis.AuthenticationError):
        as_learner(before["learner01"]).ping()
    assert len(rows_of(out)) == 3 and all(as_learner(u).ping() for u in rows_of(out).values())


def test_a_rerun_with_another_csv_changes_no_password(admin, admin_url, tmp_path, capsys):
    """Review #1: a re-run from elsewhere, with empty --names, or onto a file of something else."""
    first = tmp_path / "l.csv"
    workshop.setup(admin, ["ana", "ben"], first, admin_url)
    urls = rows_of(first)
    ana = as_learner(urls["ana"])
    assert ana.ping()
    run = ["workshop", "setup", "--url", admin_url]

    assert cli.main(run + ["--names", ",,,", "--out", str(tmp_path / "x.csv")]) == 2
    assert "holds no name" in capsys.readouterr().err
    assert cli.main(run + ["--names", "ana,ben", "--learners", "3"]) == 2
    assert "--names lists 2" in capsys.readouterr().err
    assert cli.main(run + ["--learners", "2000"]) == 2
    assert "typo" in capsys.readouterr().err

    other = tmp_path / "x.csv"
    assert cli.main(run + ["--names", "carl", "--out", str(other)]) == 0
    said = capsys.readouterr().out
    assert said.count(workshop.KEPT_UNKNOWN) == 2 and "1 new" in said and "2 more kept" in said
    assert list(rows_of(other)) == ["carl"]
    assert ana.execute_command("PING") and as_learner(urls["ben"]).ping()  # nobody locked out

    roster = tmp_path / "roster.csv"
    roster.write_text("learner,email,team\ncarl,carl@example.org,red\n")
    assert cli.main(run + ["--names", "carl", "--out", str(roster)]) == 1
    assert "--force" in capsys.readouterr().err
    assert roster.read_text() == "learner,email,team\ncarl,carl@example.org,red\n"
    assert cli.main(run + ["--names", "carl", "--out", str(roster), "--force"]) == 0
    assert list(rows_of(roster)) == []  # carl's password is in x.csv, not here
    ana.close()


def test_setup_checks_what_it_can_before_changing_anything(admin, admin_url, tmp_path, capsys):
    """Review #2: a grant missing, or an --out that cannot be written, changes no password."""
    out = tmp_path / "l.csv"
    workshop.setup(admin, ["ana"], out, admin_url)
    before = out.read_text()
    admin.execute_command("ACL", "SETUSER", "admin2", "on", ">adm2pw", "~*", "&*", "+acl", "+@read",
                          "+@write", "+@stream", "+scan", "+unlink")
    admin2 = admin_url.replace("redis://", "redis://admin2:adm2pw@")
    assert cli.main(["workshop", "setup", "--names", "ana", "--out", str(out), "--rotate",
                     "--url", admin2]) == 1
    err = capsys.readouterr().err
    assert "CLIENT KILL" in err and "+client|kill" in err and "unset REDIS_URL" not in err
    assert out.read_text() == before and as_learner(rows_of(out)["ana"]).ping()

    # The grant the messages recommend is enough.
    admin.execute_command("ACL", "SETUSER", "admin2", "+client|kill")
    assert cli.main(["workshop", "setup", "--names", "ana", "--out", str(out), "--rotate",
                     "--url", admin2]) == 0
    assert out.read_text() != before and as_learner(rows_of(out)["ana"]).ping()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600

    missing = tmp_path / "nowhere" / "x.csv"
    assert cli.main(["workshop", "setup", "--names", "carl", "--out", str(missing),
                     "--url", admin_url]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert "carl" not in admin.execute_command("ACL", "USERS")
    assert "carl" not in workshop.registered(admin)


def test_the_csv_is_private_and_never_written_through_a_symlink(admin, admin_url, tmp_path):
    """Review #5: a stale world-readable .tmp, a symlink at --out."""
    out = tmp_path / "l.csv"
    stale = tmp_path / "l.csv.tmp"
    stale.write_text("stale")
    os.chmod(stale, 0o644)
    workshop.setup(admin, ["ana"], out, admin_url)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600 and list(rows_of(out)) == ["ana"]

    target = tmp_path / "elsewhere.csv"
    target.write_text("learner,redis_url,namespace\n")
    os.chmod(target, 0o644)
    linked = tmp_path / "linked.csv"
    linked.symlink_to(target)
    workshop.setup(admin, ["ana"], linked, admin_url, rotate=True)
    assert target.read_text() == "learner,redis_url,namespace\n"  # the target untouched
    assert not linked.is_symlink() and stat.S_IMODE(os.stat(linked).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.csv", "l.csv", "l.csv.tmp", "linked.csv"]


def test_setup_never_takes_over_a_user_it_did_not_make(admin, admin_url, tmp_path, capsys):
    admin.execute_command("ACL", "SETUSER", "ana", "on", ">secret", "~*", "+@all")
    with pytest.raises(workshop.WorkshopError, match="not the workshop's"):
        workshop.setup(admin, ["ana", "ben"], tmp_path / "l.csv", admin_url)
    assert "ben" not in admin.execute_command("ACL", "USERS")
    assert cli.main(["workshop", "setup", "--names", "ana", "--out", str(tmp_path / "l.csv"),
                     "--url", admin_url]) == 1
    assert "not the workshop's" in capsys.readouterr().err
    assert cli.main(["workshop", "setup", "--names", "de*fault", "--url", admin_url]) == 2
    assert "cannot be a learner name" in capsys.readouterr().err


def test_teardown_removes_the_workshop_and_nothing_else(admin, admin_url, tmp_path, capsys):
    urls = {a.learner: a.redis_url
            for a in workshop.setup(admin, ["ana", "ben"], tmp_path / "l.csv", admin_url)}
    ana = as_learner(urls["ana"])
    ana.xadd("ws:ana:lesson03:sensors", {"t": 1})
    ana.set("ws:ana:lesson01:n", 1)
    ana.close()
    admin.execute_command("ACL", "SETUSER", "carol", "on", ">pw", "~*", "+@all")
    others = {"lesson03:sensors": "solo learner's", "ws:carol:x": "a namespace of no workshop user",
              "workshop:notes": "the instructor's", "streamlab:keep": "the course's"}
    for key in others:
        admin.set(key, 1)

    assert cli.main(["workshop", "teardown", "--url", admin_url]) == 0
    said = capsys.readouterr().out
    assert "2 user(s) (ana, ben), 2 of their key(s) and 2 progress stream(s)" in said
    assert set(admin.execute_command("ACL", "USERS")) == {"default", "carol"}
    assert sorted(admin.keys("*")) == sorted(others)
    assert workshop.teardown(admin).users == []  # a second teardown finds nothing to do


def test_teardown_keeps_a_user_whose_rules_are_not_the_workshops(admin, admin_url, tmp_path, capsys):
    """Review #6: a registered name whose user was remade by hand is not the workshop's any more."""
    workshop.setup(admin, ["ana", "ben"], tmp_path / "l.csv", admin_url)
    admin.execute_command("ACL", "DELUSER", "ana")
    admin.execute_command("ACL", "SETUSER", "ana", "on", ">otherpw", "~*", "+@all")
    admin.set("ws:ana:important", "keep")
    assert workshop.is_workshops(admin, "ben") and not workshop.is_workshops(admin, "ana")

    assert cli.main(["workshop", "teardown", "--url", admin_url]) == 0
    said = capsys.readouterr().out
    assert "1 user(s) (ben)" in said and "ana: not deleted, its rules are not the workshop's" in said
    assert set(admin.execute_command("ACL", "USERS")) == {"default", "ana"}
    assert admin.get("ws:ana:important") == "keep"
    assert workshop.registered(admin) == ["ana"]  # still listed, so the next teardown says it again


def test_an_admin_user_of_its_own_name_is_not_taken_for_a_learner(admin, own_server_url, tmp_path,
                                                                  capsys, monkeypatch):
    """README's recipe: `user admin on >PW ~* &* +@all`; its commands must not go to ws:admin:."""
    admin.execute_command("ACL", "SETUSER", "admin", "on", ">s3cret", "~*", "&*", "+@all")
    monkeypatch.setenv("REDIS_URL", own_server_url.replace("redis://", "redis://admin:s3cret@"))
    assert cli.main(["workshop", "setup", "--names", "ana", "--out", str(tmp_path / "l.csv")]) == 0
    said = capsys.readouterr().out
    assert "via REDIS_URL" in said and "s3cret" not in said and "as learner" not in said
    assert admin.hkeys(workshop.REGISTRY) == ["ana"] and not admin.keys("ws:admin:*")
    assert cli.main(["workshop", "teardown"]) == 0
    assert admin.execute_command("ACL", "USERS") == ["admin", "default"]


def test_workshop_commands_explain_what_is_missing(admin_url, capsys, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert cli.main(["workshop", "board", "--once"]) == 1
    assert "export REDIS_URL" in capsys.readouterr().err
    r = redis.Redis.from_url(admin_url)
    r.execute_command("ACL", "SETUSER", "plain", "on", ">pw", "~*", "+@all", "-acl")
    r.close()
    plain = admin_url.replace("redis://", "redis://plain:pw@")
    assert cli.main(["workshop", "teardown", "--url", plain]) == 1
    err = capsys.readouterr().err
    assert "may not manage users" in err and "pw@" not in err
    assert cli.main(["workshop", "setup", "--learners", "0", "--url", admin_url]) == 2
    assert "1 or more" in capsys.readouterr().err


def test_the_board_counts_what_scripted_learners_check(admin, admin_url, tmp_path, capsys):
    import streamlab as sl
    from streamlab import exercises

    urls = {a.learner: a.redis_url
            for a in workshop.setup(admin, ["ana", "ben", "carl"], tmp_path / "l.csv", admin_url)}
    clients = {name: sl.connect(url, quiet=True) for name, url in urls.items()}
    try:
        ana = exercises.load(1, clients["ana"])
        ana[0].check(*exercises.run_solution(ana[0]))           # 01.1 passed at once
        ana[1].check(lambda entry_id: None)                     # 01.2 wrong ...
        ana[1].check(*exercises.run_solution(ana[1]))           # ... then right
        ben = exercises.load(1, clients["ben"])
        for _ in range(workshop.STUCK_TRIES):
            ben[0].check(["1-1", "1-2", "1-3"])                 # 01.1 wrong, three times: stuck
        ben[2].check(...)                                       # 01.3 untouched: not a try
        assert ben[0].last.status == "wrong" and ana[1].last.correct
        # The learner's keys went to their namespace; their reports to their progress stream.
        assert admin.xlen("ws:ana:lesson01:ex1") == 3
        assert admin.xlen(workshop.progress_key("ana")) == 1 + 3  # setup's entry + 3 checks
    finally:
        for c in clients.values():
            c.close()

    progress = workshop.Progress(admin)
    assert progress.poll() == 3 + 4 + 3  # every entry, setup's included
    assert progress.poll() == 0  # read once
    frame = progress.frame()
    assert list(frame.index) == ["ana", "ben", "carl"]
    assert frame.loc["ana", "01.1"] == frame.loc["ana", "01.2"] == workshop.PASSED
    assert frame.loc["ben", "01.1"] == workshop.TRIED
    assert frame.loc["ben", "01.3"] == frame.loc["carl", "01.1"] == workshop.NOT_YET
    assert progress.cells[("ana", "01.2")].tries == 1
    assert progress.counts()["ana"][workshop.PASSED] == 2
    assert progress.counts()["carl"][workshop.NOT_YET] == len(frame.columns)
    assert [s[:3] for s in progress.stuck()] == [("ben", "01.1", 3)]

    assert cli.main(["workshop", "board", "--once", "--keys", "--url", admin_url]) == 0
    board = capsys.readouterr().out
    lines = {line.split()[0]: line for line in board.splitlines() if line.split()}
    assert lines["ana"].split()[1] == "✔✔··" and "01.2" in lines["ana"]
    assert lines["ben"].split()[1] == "✘···" and "STUCK: 3 failed check(s)" in lines["ben"]
    assert lines["carl"].split()[1] == "····"
    assert "ana: 1 key(s) (lesson01 1)" in board and "lesson01:ex1: 3 entries" in board and "carl: no keys" in board


def test_the_board_ignores_progress_of_an_unknown_exercise(admin, admin_url, tmp_path):
    """Review #8: a newer streamlab's exercise, or a learner's hand-made XADD, never crashes it."""
    from streamlab.ui.figures import board

    urls = {a.learner: a.redis_url for a in workshop.setup(admin, ["ana"], tmp_path / "l.csv", admin_url)}
    ana = as_learner(urls["ana"])
    for fields in [{"lesson": 1, "exercise": 99, "outcome": "wrong"}] * 3 + [
            {"lesson": "x", "exercise": 1, "outcome": "wrong"}, {"exercise": 1, "outcome": "wrong"}]:
        ana.xadd(workshop.progress_key("ana"), {"event": "check", **fields})
    ana.close()
    progress = workshop.Progress(admin)
    assert progress.poll() == 1 + 5
    assert progress.unknown == 5 and progress.stuck() == [] and "01.99" not in progress.frame()
    assert "5 progress entries ignored as unknown" in progress.text()
    board.board_figure(progress)

    # The figure itself skips what it has no column for, whatever Progress reports.
    progress.stuck = lambda: [("ana", "01.99", 3, 60.0), ("nobody", "01.1", 3, 60.0)]
    assert board.board_figure(progress).axes


def test_board_keys_escapes_control_characters_in_key_names():
    rows = {"ana": [workshop.KeyRow("ana", "lesson03:\x1b]0;x\x07\x1b[2J", "stream", 1,
                                    [("g\x1b[31m", 0, 0)])]}
    text = workshop.keys_text(rows)
    assert "\x1b" not in text and "\x07" not in text
    assert "lesson03:\\x1b]0;x\\x07\\x1b[2J: 1 entry; group g\\x1b[31m" in text


def test_a_check_reports_nothing_without_a_workshop(r, prefix):
    """No namespace (every lesson outside a workshop): check() writes nothing anywhere."""
    from streamlab import exercises

    ex = exercises.load(1, r, prefix=prefix)[0]
    assert exercises.report(ex, ex.evaluate(...)) is False
    ex.check(...)
    assert not r.exists(workshop.progress_key("default"))


def test_a_report_that_fails_never_breaks_the_check(admin_url, admin):
    import streamlab as sl
    from streamlab import exercises

    admin.execute_command("ACL", "SETUSER", "dora", "on", ">pw", *workshop.namespace.FENCE_CATEGORIES,
                          *workshop.namespace.acl_rules("dora"))  # fenced, but no progress grant
    admin.xadd(workshop.progress_key("dora"), {"event": "setup"})
    dora = sl.connect(admin_url.replace("redis://", "redis://dora:pw@"), quiet=True)
    try:
        ex = exercises.load(1, dora)[0]
        assert exercises.report(ex, ex.evaluate(...)) is False  # NOPERM, swallowed
        ex.check(*exercises.run_solution(ex))
        assert ex.last.correct
    finally:
        dora.close()
    assert admin.xlen(workshop.progress_key("dora")) == 1


@pytest.mark.notebook
@pytest.mark.parametrize("backend_name", ["fake", "real"])
def test_the_instructor_notebook_rehearses_the_board(backend_name, request):
    """Without a workshop on the server it starts a rehearsal; the board shows the scripted class."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tools"))
    import run_notebook

    url = request.getfixturevalue("real_server_url") if backend_name == "real" else None
    nb, _, problems = run_notebook.execute(root / "notebooks" / "instructor.ipynb", backend_name, url,
                                           timeout=300)
    assert not problems, problems
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "3 scripted learners" in text
    assert "ben: exercise 01.1 (Three readings, three IDs), 3 failed checks" in text
    assert "lesson03:sensors: 1 entry; group workers lag 1, pending 0" in text
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])
               if c.cell_type == "code") or "ana     ✔✔··" in text


@pytest.mark.timeout(120)
def test_the_board_refreshes_until_ctrl_c_or_sigterm(admin_url, admin, tmp_path):
    import signal
    import subprocess
    import sys

    workshop.setup(admin, ["ana"], tmp_path / "l.csv", admin_url)
    env = dict(os.environ, REDIS_URL=admin_url)
    board = subprocess.Popen([sys.executable, "-m", "streamlab.cli", "workshop", "board", "--every", "0.2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        refreshes = 0
        for line in board.stdout:  # a pipe: no screen clearing, one board after the other
            refreshes += line.startswith("streamlab workshop board,")
            if refreshes == 3:
                break
        assert refreshes == 3
        board.send_signal(signal.SIGTERM)
        assert board.wait(timeout=30) == 0
        assert "Traceback" not in board.stderr.read()
    finally:
        if board.poll() is None:
            board.kill()
            board.wait()


def test_catalogue_skips_lessons_without_checkers_but_not_a_checker_that_fails_to_import(monkeypatch):
    import importlib

    real_import = importlib.import_module

    def import_module(name, *args):
        if name == "streamlab.exercises.lesson03":
            raise ModuleNotFoundError("No module named 'missing_dependency'", name="missing_dependency")
        return real_import(name, *args)

    assert 3 in {lesson for lesson, _, _ in workshop.catalogue()}
    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(ModuleNotFoundError, match="missing_dependency"):
        workshop.catalogue()



def test_the_rehearsals_quiet_block_silences_check_outcomes_and_restores_the_display():
    """The scripted learners' checks print nothing into the instructor's notebook; afterwards a
    learner's own check shows again (the hook is ``exercises.show``)."""
    from streamlab import exercises
    from streamlab.workshop import _Quiet

    shown = []
    before = exercises.show
    exercises.show = shown.append
    try:
        with _Quiet():
            exercises.show("a scripted learner's outcome")
            print("also swallowed")
        assert shown == []
        exercises.show("the instructor's own")
        assert shown == ["the instructor's own"]
    finally:
        exercises.show = before
