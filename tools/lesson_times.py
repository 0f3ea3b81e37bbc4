"""Seconds to execute each lesson top to bottom, per backend (docs/BENCHMARKS.md, "Lessons").

    python tools/lesson_times.py                          # a private redis-server and fakeredis
    python tools/lesson_times.py --backend fake           # fakeredis only
    python tools/lesson_times.py --url redis://host:6379/0  # another server instead of a private one

Each lesson runs in a fresh ``python3`` kernel through ``run_notebook.execute`` (the
executed copies go to test-output/bench/); a lesson that reported a problem shows
``(errors)`` beside its time. Prints ``streamlab.bench``'s machine lines, table and
verdicts (the 60 s target). Here and not in ``streamlab.bench``: the lessons are the
repository's, not the installed package's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

import run_notebook  # noqa: E402
from streamlab import bench, server  # noqa: E402


def lesson_times(backend: str, url: str | None = None) -> list[bench.Row]:
    """One row per lesson: its seconds on ``backend`` ("fake" or "real", the latter at ``url``)."""
    rows = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        out = ROOT / "test-output" / "bench" / f"{path.stem}.{backend}.ipynb"
        _, seconds, problems = run_notebook.execute(path, backend, url, out=out)
        rows.append(bench.Row(f"Lesson {path.stem}", "s", [seconds], "(errors)" if problems else ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a real server to run the lessons on instead of a private one")
    parser.add_argument("--backend", choices=("both", "real", "fake"), default="both")
    args = parser.parse_args(argv)
    private = None
    columns: dict[str, list[bench.Row]] = {}
    try:
        real_url = None
        if args.backend in ("both", "real"):
            real_url = args.url
            if real_url is None:
                private = server.PrivateServer().start()
                real_url = private.url
        real_name = "real server" if args.url else "private redis-server"
        print("Machine:\n" + "\n".join(bench.machine({real_name: real_url})) + "\n", flush=True)
        if real_url:
            columns[real_name] = lesson_times("real", real_url)
        if args.backend in ("both", "fake"):
            columns["fakeredis"] = lesson_times("fake")
    finally:
        if private is not None:
            private.stop()
    print(bench.markdown(columns))
    print()
    for line in bench.verdicts(columns):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
