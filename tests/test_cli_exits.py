"""The `streamlab` programs' exit codes and messages, run through ``cli.main`` in this process.

tests/test_terminal.py runs them as separate processes, as a learner does; here the
same command lines go through ``cli.main`` in the test process, so that mutation
testing sees the checks (docs/TESTING.md). Exit codes: 0 done, 1 Redis unreachable
or refusing, 2 bad arguments. A program installs Ctrl-C/SIGTERM handlers while it
runs (and ignores both as it exits): the ``handlers_back`` fixture puts the test
process's own back.
"""

from __future__ import annotations

import signal

import pytest

from streamlab import cli
from streamlab import server as sl_server


@pytest.fixture(autouse=True)
def handlers_back():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def streamlab(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["produce", "sensor1", "--rate", "0"], "--rate must be above 0 and at most 10,000"),
    (["produce", "sensor1", "--count", "0"], "--count (readings to send) must be a whole number of 1 or more"),
    (["consume", "g", "c1", "--count", "0"], "--count (entries per read) must be a whole number of 1 or more"),
    (["consume", "g", " "], "CONSUMER must be a non-empty name"),
    (["consume", "g", "c1", "--name-guard", "-1"], "--name-guard must be 0 or more seconds"),
    (["consume", "g", "c1", "--retry-after", "-1"], "--retry-after must be 0 or more seconds"),
    (["reap", "g", "--min-idle", "-1"], "--min-idle must be 0 or more milliseconds and --max-deliveries 1 "
                                        "or more; got -1 and 5."),
    (["reap", "g", "--max-deliveries", "0"], "got 60000 and 0."),
    (["reap", "g", "--every", "0"], "--every must be a number of seconds above 0, got 0.0."),
    (["reap", "g", "--every", "inf"], "--every must be a number of seconds above 0, got inf."),
    (["reap", "g", "--every", "nan"], "--every must be a number of seconds above 0"),
    (["reap", "g", "--alert-above", "nan"], "--alert-above must be a finite number"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_options_exit_2_with_the_program_and_the_problem_before_any_connection(capsys, argv, message):
    # An unreachable URL: a check that came after connecting would exit 1, not 2.
    closed = f"redis://127.0.0.1:{sl_server.free_port()}/0"
    code, out, err = streamlab(capsys, *argv, "--url", closed)
    assert code == 2, (out, err)
    assert err.startswith(f"streamlab {argv[0]}: ") and message in err
    assert out == ""


@pytest.mark.parametrize("argv", [["produce", "sensor1", "--count", "1"], ["consume", "g", "c1"],
                                  ["reap", "g"]])
def test_an_unreachable_url_exits_1_and_names_the_server_without_its_password(capsys, argv):
    closed = f"redis://:hunter2@127.0.0.1:{sl_server.free_port()}/0"
    code, out, err = streamlab(capsys, *argv, "--url", closed)
    assert code == 1
    assert err.startswith(f"streamlab {argv[0]}: ") and "127.0.0.1" in err
    assert "hunter2" not in out + err


def test_produce_then_consume_then_reap_exit_0_and_do_the_work(capsys, real):
    r, url, prefix = real
    stream, alerts = prefix + "sensors", prefix + "alerts"
    code, out, err = streamlab(capsys, "produce", "sensor1", "--count", "3", "--rate", "1000",
                               "--stream", stream, "--url", url)
    assert code == 0, err
    assert r.xlen(stream) == 3 and out.splitlines()[-1] == f"sensor1: sent 3 entries to {stream}"
    assert out.splitlines()[0].startswith("sensor1: sent "), "the readings only: no connection banner"
    code, out, err = streamlab(capsys, "consume", "workers", "w1", "--stream", stream, "--block", "50",
                               "--idle-exit", "0.3", "--alert-above", "-100", "--alerts-stream", alerts,
                               "--url", url)
    assert code == 0, err
    assert out.count("-> ALERT") == 3 and r.xlen(alerts) == 3
    assert r.xpending(stream, "workers")["pending"] == 0
    code, out, err = streamlab(capsys, "reap", "workers", "--stream", stream, "--min-idle", "0", "--url", url)
    assert code == 0, err


def test_reap_takes_over_a_dead_consumers_work_with_every_option_it_was_given(capsys, real):
    r, url, prefix = real
    stream, alerts, dead = prefix + "sensors", prefix + "alerts", prefix + "poison"
    cool, hot, mild = (r.xadd(stream, {"sensor_id": "s1", "temp": t}) for t in ("20", "30", "21"))
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "crashed", {stream: ">"})
    r.xreadgroup("workers", "crashed", {stream: "0"})  # all three delivered twice
    r.xreadgroup("workers", "crashed", {stream: "0"}, count=1)  # cool three times
    r.xclaim(stream, "workers", "crashed", 0, [cool, hot, mild], idle=600_000, justid=True)
    code, out, err = streamlab(capsys, "reap", "workers", "--stream", stream, "--min-idle", "60000",
                               "--max-deliveries", "3", "--dead-letter-stream", dead, "--alert-above", "25",
                               "--alerts-stream", alerts, "--url", url)
    assert code == 0, err
    # the claim is one more delivery: cool 4 (over 3, dead-lettered), hot and mild 3 (at it)
    assert [f["original_id"] for _, f in r.xrange(dead)] == [cool]
    assert [f["source_id"] for _, f in r.xrange(alerts)] == [hot]
    assert r.xpending(stream, "workers")["pending"] == 0
    assert out.splitlines()[-1].startswith("reap: claimed 3 (processed 2, 1 alerts, dead-lettered 1")


@pytest.mark.parametrize("edge", [["--max-deliveries", "1"], ["--min-idle", "0"], ["--every", "0.5", "--dry-run"]])
def test_reap_options_at_their_limits_are_accepted(capsys, real, edge):
    r, url, prefix = real
    code, out, err = streamlab(capsys, "reap", "workers", "--stream", prefix + "none", *edge, "--url", url)
    assert code == 0, err
    assert out.splitlines()[-1] == f"reap: no stream {prefix}none: nothing to do"


def test_a_stream_key_of_another_type_exits_1_with_an_explanation(capsys, real):
    r, url, prefix = real
    key = prefix + "not-a-stream"
    r.set(key, "x")
    code, out, err = streamlab(capsys, "consume", "workers", "w1", "--stream", key, "--idle-exit", "0.3",
                               "--url", url)
    assert code == 1
    assert err.startswith("streamlab consume: ") and "Traceback" not in err
    assert "WRONGTYPE" in err or "holds a" in err, err  # what Redis said, in words
    assert r.get(key) == "x"


def test_a_consumer_name_a_live_process_uses_exits_2(capsys, real):
    r, url, prefix = real
    stream = prefix + "sensors"
    r.xadd(stream, {"sensor_id": "s1", "temp": "20"})
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "w1", {stream: ">"})  # w1 was handed an entry just now: the name is in use
    code, out, err = streamlab(capsys, "consume", "workers", "w1", "--stream", stream, "--idle-exit", "0.3",
                               "--url", url)
    assert code == 2, (out, err)
    assert err.startswith("streamlab consume: the consumer name 'w1' is in use in group 'workers'")
    assert r.xpending(stream, "workers")["pending"] == 1, "w1's entry left alone"


def test_an_unreachable_url_with_a_password_prints_the_note_then_the_error_on_stderr(capsys):
    from streamlab.backend import redact

    closed = f"redis://:hunter2@127.0.0.1:{sl_server.free_port()}/0"
    code, out, err = streamlab(capsys, "produce", "sensor1", "--count", "1", "--url", closed)
    assert code == 1 and out == ""
    note, error = err.splitlines()
    assert note == (f"streamlab produce: note: the password in --url {redact(closed)} shows in the process "
                    "list (ps) of everyone on this machine; next time export REDIS_URL=... and leave "
                    "--url out.")
    assert error.startswith(f"streamlab produce: connect(url=...): nothing answered at {redact(closed)} "), error


def test_a_program_on_a_server_inside_this_process_says_other_terminals_cannot_see_it(capsys, monkeypatch):
    import uuid

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("STREAMLAB_BACKEND", "fake")
    stream = f"streamlab:test:{uuid.uuid4().hex[:12]}:sensors"  # a key of its own on the shared fakeredis
    code, out, err = streamlab(capsys, "produce", "sensor1", "--count", "1", "--rate", "1000", "--stream", stream)
    assert code == 0, err
    assert err.startswith("streamlab produce: note: no REDIS_URL and no server on 127.0.0.1:6379, so this "
                          "runs on fakeredis"), err


def _handed_to_crashed(r, stream, times: int) -> list[str]:
    """Three readings read by 'crashed' just now (idle ~0 ms), each delivered ``times`` times."""
    ids = [r.xadd(stream, {"sensor_id": "s1", "temp": "20"}) for _ in range(3)]
    r.xgroup_create(stream, "workers", id="0")
    r.xreadgroup("workers", "crashed", {stream: ">"})
    for _ in range(times - 1):
        r.xreadgroup("workers", "crashed", {stream: "0"})
    return ids


def test_reap_passes_min_idle_and_name_on(capsys, real):
    r, url, prefix = real
    stream, dead = prefix + "sensors", prefix + "dead"
    ids = _handed_to_crashed(r, stream, times=2)
    # Idle for only milliseconds: the default --min-idle (60 s) would claim nothing.
    code, out, err = streamlab(capsys, "reap", "workers", "--stream", stream, "--min-idle", "0",
                               "--max-deliveries", "1", "--name", "rescuer", "--dead-letter-stream", dead,
                               "--url", url)
    assert code == 0, err
    copies = [f for _, f in r.xrange(dead)]
    assert [c["original_id"] for c in copies] == ids
    assert {c["last_consumer"] for c in copies} == {"rescuer"}, "the claim was made under --name"


def test_reap_dry_run_claims_nothing_and_says_what_it_would(capsys, real):
    r, url, prefix = real
    stream = prefix + "sensors"
    ids = _handed_to_crashed(r, stream, times=1)
    code, out, err = streamlab(capsys, "reap", "workers", "--stream", stream, "--min-idle", "0",
                               "--dry-run", "--url", url)
    assert code == 0, err
    assert "reap: dry run: would claim 3 entries idle for 0 ms or more" in out
    assert all(f"  {i} from crashed (delivered 1 times)" in out for i in ids), out
    assert [p["consumer"] for p in r.xpending_range(stream, "workers", "-", "+", 10)] == ["crashed"] * 3


@pytest.mark.timeout(60)
def test_reap_every_runs_a_pass_each_period_until_stopped(capsys, real, monkeypatch):
    from streamlab import programs

    r, url, prefix = real
    stop = programs.SignalStop()
    passes = []
    real_reap = programs.reap

    def counting(*args, **kwargs):
        passes.append(1)
        if len(passes) == 2:
            stop.set()  # as Ctrl-C would, during the second pass
        return real_reap(*args, **kwargs)

    monkeypatch.setattr(programs, "stop_on_signals", lambda: stop)
    monkeypatch.setattr(programs, "reap", counting)
    code, out, err = streamlab(capsys, "reap", "workers", "--stream", prefix + "none", "--every", "0.2",
                               "--url", url)
    assert code == 0, err
    assert len(passes) == 2, "a second pass after --every seconds, then the stop"
