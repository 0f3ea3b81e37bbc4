"""The capstone's programs as separate OS processes on a real server: `streamlab produce` / `consume`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys


PROCESSED = re.compile(r"processed (\d+-\d+) ")


def streamlab(url, *args, **popen):
    env = {**os.environ, "REDIS_URL": url}
    env.pop("STREAMLAB_BACKEND", None)
    return subprocess.Popen([sys.executable, "-m", "streamlab.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def test_three_producers_two_consumers_and_an_alert_group_move_every_entry(real):
    r, url, prefix = real
    stream, alerts = prefix + "sensors", prefix + "alerts"
    producers = [streamlab(url, "produce", f"sensor{i}", "--stream", stream, "--rate", "100",
                           "--count", "60") for i in (1, 2, 3)]
    common = ["--stream", stream, "--block", "200", "--idle-exit", "2", "--count", "5"]
    workers = [streamlab(url, "consume", "workers", name, *common) for name in ("w1", "w2")]
    alerter = streamlab(url, "consume", "alerting", "a1", *common, "--alert-above", "23",
                        "--alerts-stream", alerts)
    for p in producers:
        finish(p)
    worker_ids = [PROCESSED.findall(finish(w)) for w in workers]
    finish(alerter)

    entries = r.xrange(stream)
    assert len(entries) == 180
    done = worker_ids[0] + worker_ids[1]
    assert sorted(done) == sorted(i for i, _ in entries), "every entry processed exactly once"
    assert all(worker_ids), "both workers took a share"
    assert r.xpending(stream, "workers")["pending"] == 0
    assert r.xpending(stream, "alerting")["pending"] == 0
    hot = {i for i, f in entries if float(f["temp"]) > 23}
    alerted = [f["source_id"] for _, f in r.xrange(alerts)]
    assert sorted(alerted) == sorted(hot), "alerts are exactly the entries above the threshold"


def test_sigint_lets_the_entry_in_hand_finish_and_exits_zero(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    for n in range(30):
        r.xadd(stream, {"sensor_id": "sensor1", "temp": "20", "seq": str(n)})
    proc = streamlab(url, "consume", "workers", "c1", "--stream", stream, "--work", "0.2")
    seen = []
    for line in proc.stdout:
        seen += PROCESSED.findall(line)
        if len(seen) == 3:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    seen += PROCESSED.findall(out)
    pending = r.xpending(stream, "workers")
    assert pending["pending"] == 0, "nothing left half-done: every entry read was processed and acked"
    group = r.xinfo_groups(stream)[0]
    assert group["entries-read"] == len(seen) and len(seen) < 30


def test_a_restarted_consumer_never_rewinds_its_group(real):
    r, url, prefix = real
    stream = prefix + "sensors"
    for n in range(5):
        r.xadd(stream, {"sensor_id": "sensor1", "temp": "20"})
    first = finish(streamlab(url, "consume", "g", "c1", "--stream", stream, "--idle-exit", "0.5",
                             "--block", "100"))
    again = finish(streamlab(url, "consume", "g", "c1", "--stream", stream, "--idle-exit", "0.5",
                             "--block", "100"))
    assert len(PROCESSED.findall(first)) == 5
    assert PROCESSED.findall(again) == [], "the article's set_id('0') on start would replay all 5"
    assert "joined group g" in again


def test_produce_rejects_a_bad_rate_with_a_message(real):
    _, url, prefix = real
    proc = streamlab(url, "produce", "sensor1", "--stream", prefix + "s", "--rate", "0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "--rate must be above 0" in err and "Traceback" not in err


def test_consume_on_a_key_of_the_wrong_type_explains(real):
    r, url, prefix = real
    r.set(prefix + "notastream", "x")
    proc = streamlab(url, "consume", "g", "c1", "--stream", prefix + "notastream", "--idle-exit", "0.5")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in err and "streamlab consume:" in err


def test_a_burst_of_ctrl_c_and_sigterm_never_hangs_a_consumer(real):
    """Signals arriving while the first handler runs must not deadlock the stop flag."""
    r, url, prefix = real
    stream = prefix + "sensors"
    r.xadd(stream, {"sensor_id": "sensor1", "temp": "20"})
    procs = [streamlab(url, "consume", "g", f"c{i}", "--stream", stream, "--block", "100")
             for i in range(8)]
    for p in procs:
        assert "group g" in p.stdout.readline()  # running its loop, handlers installed
    for _ in range(30):
        for p in procs:
            p.send_signal(signal.SIGINT if _ % 2 else signal.SIGTERM)
    codes = [p.wait(timeout=20) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0] * len(procs)
