"""Run the quick test subset several times in a row, in two copies at the same time.

    .venv/bin/python tools/parallel_quick.py                 # 2 copies x 3 runs of README's quick subset
    .venv/bin/python tools/parallel_quick.py --runs 1 -- -k magics

It shows whether the suite is safe to run twice at once on one machine (two
engineers, or CI and a developer): each copy gets its own temporary folder
(TMPDIR, pytest's basetemp), its own test-output folder and no REDIS_URL, so
each pytest session starts its own private Redis server on a free port. Every
run's exit code and duration is printed; the exit code is 0 only if every run
of every copy passed. A failing run's log is kept and its path printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _default_sigint() -> None:
    """In the child: SIGINT back to the default. A background job (`cmd &`, nohup) starts with it
    ignored, and the tests of Ctrl-C need it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
# README's quick subset ("book": the MyST book's tests, where that marker exists).
QUICK = ["-m", "not browser and not notebook and not book"]


def run_copy(copy: int, runs: int, extra: list[str], results: list, keep: Path) -> None:
    for run in range(1, runs + 1):
        work = Path(tempfile.mkdtemp(prefix=f"streamlab-parallel-{copy}-{run}-"))
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STREAMLAB_BACKEND")}
        env.update(TMPDIR=str(work), STREAMLAB_TEST_OUTPUT=str(work / "test-output"))
        log = work / "pytest.log"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--basetemp={work / 'pytest'}", *QUICK, *extra]
        started = time.monotonic()
        with open(log, "w") as out:
            code = subprocess.call(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=_default_sigint)
        seconds = time.monotonic() - started
        summary = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        kept = ""
        if code != 0:
            kept_log = keep / f"copy{copy}-run{run}.log"
            shutil.copy(log, kept_log)
            kept = f"  log: {kept_log}"
        shutil.rmtree(work, ignore_errors=True)
        results.append((copy, run, code, seconds))
        print(f"copy {copy} run {run}: exit {code} in {seconds:.0f} s - {summary[0]}{kept}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs in a row per copy (default 3)")
    parser.add_argument("--copies", type=int, default=2, help="copies at the same time (default 2)")
    args, extra = parser.parse_known_args()
    if extra[:1] == ["--"]:
        extra = extra[1:]
    keep = Path(tempfile.mkdtemp(prefix="streamlab-parallel-logs-"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.copies} copies x {args.runs} runs of pytest {' '.join(QUICK + extra)}; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the start", flush=True)
    results: list = []
    threads = [threading.Thread(target=run_copy, args=(c, args.runs, extra, results, keep))
               for c in range(1, args.copies + 1)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [r for r in results if r[2] != 0]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(results) - len(failed)} of {len(results)} runs passed in {time.monotonic() - started:.0f} s "
          f"(load average {load:.1f} at the end)")
    if not failed:
        shutil.rmtree(keep, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
