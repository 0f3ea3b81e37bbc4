"""A class on one server: 6 learners, each a fenced workshop user on database 0, run lessons
01-03 at the same time, each in a kernel of their own.

Every run must be clean and print the numbers the prose quotes (``lesson_claims``), as a
solo run does; no learner may read, write, delete or subscribe to another's keys or
channels, and each refusal is explained; each learner's ``streamlab reset`` leaves the
others' keys alone. One private server for the whole module (ACL users are server-wide).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

import streamlab as sl
from streamlab import server as sl_server, workshop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import run_notebook  # noqa: E402
from lesson_claims import broken_claims  # noqa: E402

LEARNERS = ["ana", "ben", "chloe", "dev", "emma", "farid"]
LESSONS = [ROOT / "notebooks" / name for name in
           ("01-xadd-and-ids.ipynb", "02-reading-and-blocking.ipynb", "03-consumer-groups.ipynb")]
OUT = ROOT / "test-output" / "workshop"
LESSON_TIMEOUT = 300  # per lesson, six kernels sharing the machine

pytestmark = [pytest.mark.real, pytest.mark.notebook, pytest.mark.slow,
              pytest.mark.timeout(3 * LESSON_TIMEOUT + 120),
              pytest.mark.skipif(sl_server.find_server_binary() is None,
                                 reason="needs redis-server or valkey-server on PATH")]


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """(admin client, {learner: REDIS_URL}, {(learner, lesson): (notebook, problems)}, seconds)."""
    srv = sl_server.PrivateServer().start()
    admin = workshop.admin_client(srv.url)
    try:
        accounts = workshop.setup(admin, LEARNERS, tmp_path_factory.mktemp("ws") / "learners.csv",
                                  srv.url)
        urls = {a.learner: a.redis_url for a in accounts}
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(LEARNERS)) as pool:
            runs = dict(zip(LEARNERS, pool.map(lambda name: run_lessons(name, urls[name]), LEARNERS)))
        seconds = time.monotonic() - started
        # How long the class took (not asserted: speed is for benchmarks), for the CI budget.
        (OUT / "seconds.json").write_text(json.dumps({"six learners, lessons 01-03": round(seconds, 1)}))
        yield admin, urls, runs, seconds
    finally:
        admin.close()
        srv.stop()


DRIVER = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import run_notebook
url = os.environ.pop("STREAMLAB_WORKSHOP_URL")
out_dir = Path(sys.argv[2])
for name in sys.argv[3:]:
    path = Path(name)
    nb, seconds, problems = run_notebook.execute(path, "real", url, timeout=%d,
                                                 out=out_dir / path.name)
    (out_dir / path.name).with_suffix(".json").write_text(
        json.dumps({"seconds": round(seconds, 1), "problems": problems}))
""" % LESSON_TIMEOUT


def run_lessons(learner: str, url: str) -> dict:
    """One learner's kernels, one lesson after the other (``run_notebook.execute``, a new
    kernel per lesson), in one process of its own."""
    out_dir = OUT / learner
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in LESSONS:
        (out_dir / path.name).with_suffix(".json").unlink(missing_ok=True)
    # The URL (password included) goes through the environment, never the command line.
    done = subprocess.run([sys.executable, "-c", DRIVER, str(ROOT / "tools"), str(out_dir),
                           *map(str, LESSONS)], capture_output=True, text=True,
                          env=dict(os.environ, STREAMLAB_WORKSHOP_URL=url),
                          timeout=len(LESSONS) * LESSON_TIMEOUT + 60)
    results = {}
    for path in LESSONS:
        report = (out_dir / path.name).with_suffix(".json")
        if not report.exists():
            results[path.stem] = (None, [f"no result (exit {done.returncode}): {done.stderr[-1500:]}"])
            continue
        nb = run_notebook.nbformat.read(out_dir / path.name, as_version=4)
        results[path.stem] = (nb, json.loads(report.read_text())["problems"])
    return results


@pytest.mark.parametrize("learner", LEARNERS)
def test_every_learner_runs_lessons_01_to_03_clean_with_the_solo_numbers(classroom, learner):
    _, urls, runs, _ = classroom
    password = urls[learner].split("@")[0].rsplit(":", 1)[1]
    for lesson, (nb, problems) in runs[learner].items():
        assert nb is not None, f"{learner} {lesson}: {problems}"
        problems = problems + broken_claims(lesson, nb)
        assert not problems, f"{learner}, {lesson}:\n" + "\n".join(problems)
        text = json.dumps(nb)
        assert f"as learner {learner}" in text, f"{learner} {lesson} did not run in its namespace"
        assert password not in text, f"{learner}'s password is in the outputs of {lesson}"
        others = [o for o in LEARNERS if o != learner]
        assert not any(f"ws:{o}:" in text for o in others), f"{lesson} of {learner} shows another's key"


def attempts(plain: redis.Redis, other: str) -> dict:
    """What a learner might try on ``other``'s things, on a client that does not rename."""
    key = f"ws:{other}:lesson03:sensors"
    return {
        "read": lambda: plain.xrange(key, count=1),
        "write": lambda: plain.xadd(key, {"temp": "99"}),
        "delete": lambda: plain.delete(key),
        "read by script": lambda: plain.eval("return redis.call('XLEN', KEYS[1])", 1, key),
        "publish": lambda: plain.publish(f"ws:{other}:lesson06:news", "hi"),
        "report progress": lambda: plain.xadd(workshop.progress_key(other), {"outcome": "correct"}),
    }


def test_no_learner_can_touch_another_learners_keys_or_channels(classroom):
    admin, urls, _, _ = classroom
    for learner in LEARNERS:
        r = sl.connect(urls[learner], quiet=True)
        plain = r.without_namespace()
        try:
            for other in LEARNERS:
                if other == learner:
                    continue
                assert admin.exists(f"ws:{other}:lesson03:sensors")
                for what, attempt in attempts(plain, other).items():
                    with pytest.raises(redis.exceptions.NoPermissionError) as refused:
                        attempt()
                    said = sl.explain(refused.value)
                    assert "Traceback" not in said and "prefix" in said, f"{what}: {said}"
                pubsub = plain.pubsub()
                with pytest.raises(redis.exceptions.NoPermissionError) as refused:
                    pubsub.subscribe(f"ws:{other}:lesson06:news")
                    pubsub.get_message(timeout=2)
                assert "channels under its own prefix" in sl.explain(refused.value)
                pubsub.close()
            # Through the namespaced client another learner's key is simply not nameable.
            assert r.exists(f"ws:{LEARNERS[0]}:lesson03:sensors") == 0
        finally:
            plain.close()
            r.close()
    assert admin.xlen("ws:ana:lesson03:sensors") > 0  # nothing above changed a thing


def test_each_reset_leaves_the_other_learners_keys(classroom):
    admin, urls, _, _ = classroom
    counts = {name: len(workshop.learner_keys(admin, name)) for name in LEARNERS}
    assert all(counts.values()), counts
    for i, learner in enumerate(LEARNERS):
        env = {k: v for k, v in os.environ.items() if k not in ("STREAMLAB_BACKEND", "STREAMLAB_LEARNER")}
        env["REDIS_URL"] = urls[learner]
        done = subprocess.run([sys.executable, "-m", "streamlab.cli", "reset"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert workshop.learner_keys(admin, learner) == []
        for other in LEARNERS[i + 1:]:
            assert len(workshop.learner_keys(admin, other)) == counts[other], (learner, other)
    # The workshop's own bookkeeping is nobody's lesson key: still there for the board, which
    # heard from every kernel (the lessons' check cells, blanks untouched: "not attempted").
    assert sorted(admin.hkeys(workshop.REGISTRY)) == sorted(LEARNERS)
    for name in LEARNERS:
        reported = [f for _, f in admin.xrange(workshop.progress_key(name)) if f.get("event") == "check"]
        assert reported and {f["learner"] for f in reported} == {name}
        assert {f["lesson"] for f in reported} == {"1", "2", "3"}
