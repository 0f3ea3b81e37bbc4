"""Every lesson runs top to bottom, on fakeredis and on a real server, within its time limit.

Executed copies (and their plots as PNGs) go to test-output/, never over the
committed notebooks. Each run's time is written to test-output/notebook-times.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import run_notebook  # noqa: E402
from lesson_claims import broken_claims  # noqa: E402
from notebook_outputs import output_problems  # noqa: E402

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
# README.md promises a minute per lesson; the test allows some slack for a busy CI machine,
# and the benchmark (bench/) reports the real times against the 60 s target.
TIME_LIMIT = 90
TIMES_FILE = ROOT / "test-output" / "notebook-times.json"


def record_time(name: str, backend: str, seconds: float) -> None:
    TIMES_FILE.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES_FILE.read_text()) if TIMES_FILE.exists() else {}
    times.setdefault(name, {})[backend] = round(seconds, 1)
    TIMES_FILE.write_text(json.dumps(times, indent=2, sort_keys=True))


@pytest.mark.notebook
@pytest.mark.parametrize("backend_name", ["fake", "real"])
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_top_to_bottom_without_errors(path, backend_name, request):
    url = request.getfixturevalue("real_server_url") if backend_name == "real" else None
    nb, seconds, problems = run_notebook.execute(path, backend_name, url, timeout=TIME_LIMIT)
    record_time(path.stem, backend_name, seconds)
    problems += broken_claims(path.stem, nb) + output_problems(nb)
    assert not problems, f"{path.name} on {backend_name}:\n" + "\n".join(problems)
    assert seconds < TIME_LIMIT, f"{path.name} took {seconds:.0f} s on {backend_name}"
    executed = [c for c in nb.cells if c.cell_type == "code"]
    assert executed and all(c.get("execution_count") for c in executed), "some cells did not run"
    banner = "".join(o.get("text", "") for c in executed[:3] for o in c.get("outputs", []))
    assert ("fakeredis" in banner) == (backend_name == "fake"), "the lesson ran on the wrong backend"


# A learner re-runs cells and takes their time: every code cell twice in a row, and a
# real minute between the setup cell and the next. Nothing may raise, and the numbers
# the prose quotes must still hold in what the learner sees (the second run's outputs).
PAUSE = 60


# All the learner-style runs start together (their pauses overlap) in a few
# subprocesses at once; each test then waits for its own lesson's result.
PARALLEL_RUNS = 5


class LearnerRuns:
    def __init__(self, real_url_getter):
        self._real_url = real_url_getter
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL_RUNS)
        self._runs: dict[tuple[str, str], object] = {}

    def start_all(self, backend_name: str) -> None:
        url = self._real_url() if backend_name == "real" else None
        # The runs get a copy of the environment taken here, on the main thread. They start on
        # worker threads while tests on the main thread run a lesson in this process, and
        # tools/run_notebook.py swaps os.environ for that (clear, then update): a child started
        # from the live environment meanwhile can fail to start (seen once in CI: OSError
        # EFAULT, "Bad address"), and a copy taken then can miss variables.
        env = dict(os.environ)
        for path in LESSONS:
            key = (path.stem, backend_name)
            if key not in self._runs:
                self._runs[key] = self._pool.submit(self._run, path, backend_name, url, env)

    @staticmethod
    def _run(path: Path, backend_name: str, url: str | None, env: dict) -> tuple[object, list[str]]:
        out = ROOT / "test-output" / f"{path.stem}.{backend_name}.learner.ipynb"
        report = out.with_suffix(".json")
        out.parent.mkdir(exist_ok=True)
        report.unlink(missing_ok=True)
        cmd = [sys.executable, str(ROOT / "tools" / "run_notebook.py"), str(path),
               "--backend", backend_name, "--rerun", "--pause", str(PAUSE),
               "--timeout", str(TIME_LIMIT), "--out", str(out), "--problems", str(report)]
        if url:
            cmd += ["--url", url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PAUSE + 20 * TIME_LIMIT,
                              env=env)
        if not report.exists():
            return None, [f"the run did not finish (exit {done.returncode}): {done.stderr[-2000:]}"]
        nb = run_notebook.nbformat.read(out, as_version=4)
        return nb, json.loads(report.read_text())["problems"]

    def result(self, path: Path, backend_name: str):
        self.start_all(backend_name)
        return self._runs[(path.stem, backend_name)].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def learner_runs(request):
    runs = LearnerRuns(lambda: request.getfixturevalue("real_server_url"))
    yield runs
    runs.close()


@pytest.mark.notebook
@pytest.mark.slow
# A test may wait for runs queued before its own (all start together, PARALLEL_RUNS at a time).
@pytest.mark.timeout(PAUSE * 4 + 20 * TIME_LIMIT)
@pytest.mark.parametrize("backend_name", ["fake", "real"])
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_survives_every_cell_run_twice_and_a_pause_after_setup(path, backend_name, learner_runs):
    nb, problems = learner_runs.result(path, backend_name)
    if nb is not None:
        problems = problems + broken_claims(path.stem, nb) + output_problems(nb)
    assert not problems, f"{path.name} on {backend_name}, re-run and paused:\n" + "\n".join(problems)


def test_the_learner_harness_doubles_cells_and_pauses_once():
    nb = run_notebook.nbformat.read(LESSONS[1], as_version=4)
    staged = run_notebook.as_learner_would(nb, rerun=True, pause=60)
    code = [c for c in nb.cells if c.cell_type == "code"]
    staged_code = [c for c in staged.cells if c.cell_type == "code"]
    assert len(staged_code) == 2 * len(code) + 1
    assert sum("_t.sleep(60)" in c.source for c in staged_code) == 1
    assert [c.source for c in run_notebook.learner_view(staged).cells] == [c.source for c in nb.cells]


def test_there_are_lessons():
    assert LESSONS, "no lesson notebooks found under notebooks/"
