"""Which "wrong answer" branches of the exercise checkers do the tests reach?

Every ``raise Wrong(...)`` and ``raise NotAttempted(...)`` in
``streamlab/exercises/lesson*.py`` is the feedback a learner gets for one
kind of mistake. This runs the checker tests under coverage and lists each
such ``raise`` the tests never executed; it exits 1 if there is any.

    .venv/bin/python tools/checker_branches.py            # runs the tests, then reports
    .venv/bin/python tools/checker_branches.py --report   # only reports on an existing .coverage.checkers

Extra arguments after ``--`` go to pytest (for example ``-- -k lesson04``).
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKERS = sorted((ROOT / "streamlab" / "exercises").glob("lesson[0-9][0-9].py"))
TESTS = ["tests/test_exercises.py", *sorted(str(p.relative_to(ROOT)) for p in
                                            (ROOT / "tests").glob("test_exercises_lesson*.py")),
         *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_checker*.py"))]
DATA = ROOT / ".coverage.checkers"
FEEDBACK = {"Wrong", "NotAttempted"}


def feedback_raises(path: Path) -> list[tuple[int, int, str]]:
    """(first line, last line, exception name) of each ``raise Wrong(...)``/``raise NotAttempted(...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in FEEDBACK:
                found.append((node.lineno, node.end_lineno or node.lineno, name))
    return sorted(found)


def run_tests(pytest_args: list[str]) -> int:
    env = dict(os.environ, COVERAGE_FILE=str(DATA))
    # The folder, not the package name: to find `streamlab.exercises` by name coverage imports
    # `streamlab` (and with it numpy, via streamlab.ui) before the run, and numpy then refuses
    # the second import in the run itself ("cannot load module more than once per process").
    cmd = [sys.executable, "-m", "coverage", "run", "--branch", f"--source={ROOT / 'streamlab' / 'exercises'}",
           "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, *pytest_args]
    return subprocess.call(cmd, cwd=ROOT, env=env)


def report() -> int:
    import coverage

    cov = coverage.Coverage(data_file=str(DATA))
    cov.load()
    data = cov.get_data()
    total = reached = 0
    missed: list[str] = []
    per_lesson = []
    for path in CHECKERS:
        executed = set(data.lines(str(path)) or [])
        raises = feedback_raises(path)
        hit = [r for r in raises if any(line in executed for line in range(r[0], r[1] + 1))]
        total += len(raises)
        reached += len(hit)
        per_lesson.append(f"{path.stem}: {len(hit)}/{len(raises)}")
        for first, _, name in raises:
            if (first, _, name) not in hit:
                missed.append(f"{path.relative_to(ROOT)}:{first}: raise {name} never reached")
    print("feedback branches reached by the tests: " + ", ".join(per_lesson)
          + f"; total {reached}/{total}")
    for line in missed:
        print(line)
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="report on the last run only")
    args, rest = parser.parse_known_args()
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if not args.report:
        code = run_tests(rest)
        if code not in (0, 1):  # 1 = some test failed: still worth reporting which branches ran
            return code
        if code:
            print("note: some checker tests failed (see above)")
    return report()


if __name__ == "__main__":
    sys.exit(main())
