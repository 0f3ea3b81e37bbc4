"""Mutation testing of the modules that guard learners and data (``make mutate``).

mutmut (the ``mutation`` extra) plants one small mistake at a time in a function
(``<`` for ``<=``, a dropped call, a changed constant, ...) and runs the tests that
call that function; a mutant the tests do not notice "survived". Each group below
is one guarded area: its source file, the functions in it that do the guarding
(mutmut's mutant-name globs) and the test files relevant to it, so that a run stays
bounded on a small machine.

    .venv/bin/python tools/mutate.py                 # every group, one after the other
    .venv/bin/python tools/mutate.py server magics   # only these groups
    .venv/bin/python tools/mutate.py --list          # the groups

Each group runs in its own temporary copy of the repository (mutmut writes a
``mutants/`` folder and a cache next to the code); the copy is deleted afterwards.
mutmut never mutates a decorated function, and every exercise checker is one
(``@exercises.add(...)``): for the checker groups the copy applies those decorators
as plain calls after each function instead (``ex1 = exercises.add(...)(ex1)``, the
same object under the same name), so that mutmut sees the checkers' bodies.
The summary (killed / survived / no tests / timeout per group, and the name of each
survivor) is printed and written to ``test-output/mutation.json``. Look at a
survivor with ``mutmut show NAME`` in a kept copy (``--keep``). Scores and the
survivors judged equivalent are recorded in docs/TESTING.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _default_sigint() -> None:
    """In the child: SIGINT back to the default. A background job (`cmd &`, nohup) starts with it
    ignored, and the tests of Ctrl-C need it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Group:
    name: str
    source: str | list[str]  # the file(s) mutated
    mutants: list[str]  # mutmut mutant-name globs (module.x_function__mutmut_N, module.xǁClassǁmethod__mutmut_N)
    tests: list[str]
    why: str
    # Tests that cannot run inside mutmut: they send SIGINT to the test process itself (the
    # kernel's Ctrl-C), which mutmut takes as the user stopping the run.
    deselect: tuple[str, ...] = ()
    # pytest-timeout per test: a mutant that makes a test hang costs this much. The consume
    # and reaper tests end by themselves within seconds, so a short one there.
    timeout: int = 300
    # Rewrite the top-level decorated functions of `source` as undecorated ones followed by
    # the decorators applied as calls (`_undecorate`): mutmut skips decorated functions.
    undecorate: bool = False
    # Only the [fake] half of tests parametrised over both backends (`--fake-only`).
    fake_only: bool = False
    # Functions of `source` left unmutated: those pytest calls while it collects the tests
    # (a module-level skipif, the server matrix's parameters). mutmut's setup check makes
    # every mutated function raise, and an error during collection stops pytest with a code
    # mutmut does not accept, so no mutant of the group would ever run.
    unmutated: tuple[str, ...] = ()


# server.py's functions that find a server binary: pytest calls them while it collects the
# tests (test_server.py's skipif, conftest's server matrix), so a server group leaves them be.
BINARY_FINDERS = ("find_server_binary", "server_binaries", "packaged_binary", "binary_version")

GROUPS = [
    Group("server", ["streamlab/server.py", "streamlab/procs.py"], ["streamlab.server.*", "streamlab.procs.*"],
          ["tests/test_server.py", "tests/test_guards.py", "tests/test_server_start.py"],
          "the private server: loopback only, nothing on disk, dies with its owner",
          unmutated=BINARY_FINDERS,
          # A server starts in seconds; a mutant that makes a start hang costs this much.
          timeout=120),
    Group("server-durability", "streamlab/server.py",
          ["streamlab.server.x_persistence_args__mutmut_*", "streamlab.server.xǁPrivateServerǁ_ask__mutmut_*",
           "streamlab.server.xǁPrivateServerǁcrash__mutmut_*", "streamlab.server.xǁPrivateServerǁrestart__mutmut_*",
           "streamlab.server.xǁPrivateServerǁfiles__mutmut_*"],
          ["tests/test_durability.py", "tests/test_server_start.py"],
          "the private server's persistence options, crash (SIGKILL) and restart from its files (lesson 08)",
          unmutated=BINARY_FINDERS,
          timeout=180),
    Group("redact", "streamlab/backend.py", ["streamlab.backend.x_redact__mutmut_*"],
          ["tests/test_backend.py", "tests/test_guards.py"],
          "passwords in Redis URLs never printed"),
    Group("magics", "streamlab/redis_cli.py",
          ["streamlab.redis_cli.xǁSessionǁ_refusal__mutmut_*", "streamlab.redis_cli.xǁSessionǁrun_line__mutmut_*",
           "streamlab.redis_cli.xǁSessionǁrun__mutmut_*"],
          ["tests/test_magics.py", "tests/test_guards.py"],
          "the %redis magics' refusals (FLUSH on shared servers, commands that never return) and "
          "the line runner that applies them",
          deselect=("tests/test_magics.py::test_interrupt_stops_a_block_forever_and_the_next_cell_works",)),
    Group("chaos-limits", ["streamlab/chaos.py", "streamlab/validate.py"],
          ["streamlab.chaos.xǁChaosPoolǁdead_letter_over_limit__mutmut_*",
           "streamlab.chaos.xǁChaosExperimentǁdead_letter_over_limit__mutmut_*",
           "streamlab.validate.x_whole__mutmut_*", "streamlab.validate.x_is_whole__mutmut_*",
           "streamlab.validate.x_number__mutmut_*"],
          ["tests/test_chaos.py", "tests/test_guards.py", "tests/test_robustness.py", "tests/test_validate.py"],
          "the chaos experiment's delivery limit and the checks on its settings"),
    Group("recovery", ["streamlab/recovery.py", "streamlab/pel.py"],
          ["streamlab.recovery.x_claim__mutmut_*", "streamlab.recovery.xǁReaperǁ__init____mutmut_*",
           "streamlab.recovery.xǁReaperǁreap_page__mutmut_*", "streamlab.recovery.xǁReaperǁretry__mutmut_*",
           "streamlab.pel.x_delivery_counts__mutmut_*", "streamlab.pel.x_autoclaim_pages__mutmut_*",
           "streamlab.pel.x_dead_letter__mutmut_*"],
          ["tests/test_recovery.py", "tests/test_terminal_guards.py", "tests/test_consume_paths.py"],
          "the reaper and the pending-list toolkit it shares with `streamlab consume` (pel.py): claims "
          "only idle work, dead-letters over the limit, meets deleted entries", timeout=60),
    Group("terminal", ["streamlab/programs.py", "streamlab/pending_first.py", "streamlab/validate.py"],
          ["streamlab.pending_first.xǁPendingFirstǁ*",
           "streamlab.programs.xǁ_ConsumerRunǁ_batch__mutmut_*", "streamlab.programs.xǁ_ConsumerRunǁ_deleted__mutmut_*",
           "streamlab.programs.xǁ_ConsumerRunǁ_dead_letter__mutmut_*",
           "streamlab.programs.xǁ_ConsumerRunǁ_process__mutmut_*",
           "streamlab.programs.x_process_entry__mutmut_*", "streamlab.programs.x__temperature__mutmut_*",
           "streamlab.programs.x_effects_and_ack__mutmut_*",
           "streamlab.programs.x_check_consume_options__mutmut_*",
           "streamlab.programs.x_check_produce_options__mutmut_*",
           "streamlab.programs.x_check_reap_options__mutmut_*",
           "streamlab.validate.x_whole__mutmut_*", "streamlab.validate.x_is_whole__mutmut_*",
           "streamlab.validate.x_number__mutmut_*"],
          # test_terminal.py's other tests run the programs as processes, which mutmut cannot see.
          ["tests/test_consume_paths.py", "tests/test_partitions_safety.py", "tests/test_validate.py",
           "tests/test_terminal.py::test_a_reading_processed_by_two_consumers_after_a_claim_gives_one_alert"],
          "`streamlab consume`'s consume / alert / ack paths, its pending-then-new reads (shared with "
          "ConsumerPool) and the checks on the programs' options",
          timeout=60),
    Group("terminal-cli", "streamlab/cli.py",
          ["streamlab.cli.x__bad_arguments__mutmut_*", "streamlab.cli.x_cmd_reap__mutmut_*",
           "streamlab.cli.x__run_program__mutmut_*", "streamlab.cli.x__connect_or_explain__mutmut_*"],
          ["tests/test_cli_exits.py"],
          "the terminal programs' argument checks and exit codes (cli.py)", timeout=60),
    *[Group(f"checkers-{n:02d}", f"streamlab/exercises/lesson{n:02d}.py",
            [f"streamlab.exercises.lesson{n:02d}.*"],
            [f"tests/test_exercises_lesson{n:02d}.py",
             "tests/test_checker_wrong_answers.py" if n <= 7 else "tests/test_checker_wrong_answers_08_09.py",
             *(["tests/test_checkers_01_03_messages.py"] if n <= 3 else [])],
            f"lesson {n:02d}'s exercise checkers: the feedback for each mistake", undecorate=True,
            # A checker test takes seconds; a mutant that hangs one (a learner's call never
            # given up on) costs this much, not the default 300 s.
            timeout=60)
      for n in range(1, 10)],
]

STATUSES = ("killed", "survived", "no tests", "timeout", "suspicious", "skipped", "not checked",
            "segfault", "caught by type check", "check was interrupted by user")


def _config(group: Group) -> str:
    tests = ", ".join(json.dumps(t) for t in group.tests)
    sources = [group.source] if isinstance(group.source, str) else group.source
    args = ["-p", "no:cacheprovider", "-m", "not browser and not notebook", "--timeout", str(group.timeout)]
    for test in group.deselect:
        args += ["--deselect", test]
    if group.fake_only:
        # The `r` fixture's ids are [fake] and [real]; no selected test has "real" in its name
        # otherwise (checked with --collect-only when the option was added).
        args += ["-k", "not real"]
    return ("\n[tool.mutmut]\n"
            'source_paths = ["streamlab"]\n'
            f"only_mutate = [{', '.join(json.dumps(src) for src in sources)}]\n"
            f"pytest_add_cli_args = [{', '.join(json.dumps(a) for a in args)}]\n"
            f"pytest_add_cli_args_test_selection = [{tests}]\n"
            'also_copy = ["notebooks/solutions", "binder", "tools"]\n'
            "use_git_change_detection = false\n")


def _sources(group: Group) -> str:
    return group.source if isinstance(group.source, str) else " + ".join(group.source)


def _undecorate(source: str) -> str:
    """``@dec(...)`` on a top-level ``def f`` becomes ``f = dec(...)(f)`` right after it.

    The module defines the same objects under the same names (decorators apply bottom-up,
    as Python does), but mutmut, which skips decorated functions, now mutates their
    bodies. Decorator arguments stay module-level code, which mutmut never mutates."""
    import libcst as cst  # comes with mutmut (the `mutation` extra)

    module = cst.parse_module(source)
    body = []
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.decorators:
            applied: cst.BaseExpression = cst.Name(stmt.name.value)
            for decorator in reversed(stmt.decorators):
                applied = cst.Call(func=decorator.decorator, args=[cst.Arg(applied)])
            body.append(stmt.with_changes(decorators=[]))
            body.append(cst.SimpleStatementLine(
                [cst.Assign(targets=[cst.AssignTarget(cst.Name(stmt.name.value))], value=applied)]))
        else:
            body.append(stmt)
    return module.with_changes(body=body).code


def _copy_repo(dest: Path, group: Group) -> None:
    for name in ("streamlab", "tests", "tools", "binder", "notebooks/solutions"):
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    left = set(group.unmutated)
    for src in [group.source] if isinstance(group.source, str) else group.source:
        text = (dest / src).read_text()
        if group.undecorate:
            text = _undecorate(text)
        for name in group.unmutated:
            # mutmut's pragma on the `def` line: no mutant in the function, so no trampoline.
            text, found = re.subn(rf"^(def {name}\(.*\).*:)$", r"\1  # pragma: no mutate block",
                                  text, count=1, flags=re.M)
            if found:
                left.discard(name)
        (dest / src).write_text(text)
    if left:
        sys.exit(f"mutate: no one-line `def NAME(...)` to leave unmutated for {sorted(left)} in {_sources(group)}")
    shutil.copy(ROOT / "README.md", dest / "README.md")
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", text, flags=re.S)
    (dest / "pyproject.toml").write_text(text + _config(group))


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name, path=find_mutant(name).path) for name in sys.argv[1:]}))
"""


def run_group(group: Group, children: int, keep: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"streamlab-mutate-{group.name}-"))
    started = time.monotonic()
    try:
        _copy_repo(work, group)
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STREAMLAB_BACKEND")}
        # Never a shared server: each pytest session starts its own private one. (Programs the
        # tests start as subprocesses import the mutated code too: see tests/conftest.py.)
        env.update(TMPDIR=str(work / "tmp"), STREAMLAB_TEST_OUTPUT=str(work / "test-output"),
                   # A mutant that stops the private server from starting must fail the real-server
                   # tests, not skip them (a skip passes, so the mutant would "survive").
                   STREAMLAB_REQUIRE_SERVER="1")
        (work / "tmp").mkdir()
        log = work / "mutmut.log"
        with open(log, "w") as out:
            code = subprocess.call([sys.executable, "-m", "mutmut", "run", "--max-children",
                                    str(children), *group.mutants],
                                   cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=_default_sigint)
        listing = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                                 cwd=work, env=env, capture_output=True, text=True).stdout
        by_status: dict[str, list[str]] = {}
        globs = [re.compile(re.escape(g).replace(r"\*", ".*") + "$") for g in group.mutants]
        for line in listing.splitlines():
            name, _, status = line.strip().rpartition(": ")
            if name and any(g.match(name) for g in globs):
                by_status.setdefault(status, []).append(name)
        unkilled = by_status.get("survived", []) + by_status.get("no tests", [])
        # Every diff (what `mutmut show NAME` prints) in one process: a `mutmut show` per
        # survivor took seconds each, minutes for a group with 60 survivors.
        diffs = json.loads(subprocess.run([sys.executable, "-c", _DIFFS, *unkilled], cwd=work, env=env,
                                          capture_output=True, text=True).stdout or "{}")
        counts = {s: len(v) for s, v in by_status.items()}
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        judged = killed + counts.get("survived", 0)
        result = {
            "group": group.name, "source": group.source, "why": group.why, "tests": group.tests,
            "exit": code, "seconds": round(time.monotonic() - started), "counts": counts,
            "score": round(100 * killed / judged, 1) if judged else None,
            "survived": by_status.get("survived", []), "no tests": by_status.get("no tests", []),
            "diffs": diffs,
        }
        if code != 0 or not by_status.get("killed"):
            lines = log.read_text().replace("\r", "\n").splitlines()
            result["log_tail"] = "\n".join(line for line in lines[-60:] if line.strip()
                                           and not line.lstrip().startswith(tuple("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")))
        return result
    finally:
        if keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="group names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--children", type=int, default=1,
                        help="mutants tested at once (default 1: the machine is shared)")
    parser.add_argument("--keep", action="store_true", help="keep each group's working copy")
    parser.add_argument("--only", nargs="+", metavar="GLOB",
                        help="only these mutant names/globs (e.g. earlier survivors), for one group")
    parser.add_argument("--fake-only", action="store_true",
                        help="run each test on fakeredis only, not also on a private redis-server: "
                             "about half the time per mutant, for code that does not depend on the "
                             "server (the checkers); a mutant only the real run would kill counts as "
                             "a survivor, so the score can only be lower")
    parser.add_argument("--out", default=str(ROOT / "test-output" / "mutation.json"))
    args = parser.parse_args()
    if args.list:
        for g in GROUPS:
            print(f"{g.name:14} {_sources(g):34} {g.why}")
        return 0
    unknown = set(args.groups) - {g.name for g in GROUPS}
    if unknown:
        parser.error(f"unknown group(s) {sorted(unknown)}; see --list")
    chosen = [g for g in GROUPS if not args.groups or g.name in args.groups]
    if args.only:
        if len(chosen) != 1:
            parser.error("--only needs exactly one group")
        chosen = [dataclasses.replace(chosen[0], mutants=args.only)]
    if args.fake_only:
        chosen = [dataclasses.replace(g, fake_only=True) for g in chosen]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    results = previous.get("groups", {})
    for group in chosen:
        print(f"{group.name}: mutating {_sources(group)} ({', '.join(group.mutants)}), "
              f"tests {' '.join(group.tests)}", flush=True)
        res = run_group(group, args.children, args.keep)
        results[group.name] = res
        print(f"  {res['counts']} score {res['score']}% in {res['seconds']} s", flush=True)
        for name in res["survived"]:
            print(f"  survived: {name}")
        if "log_tail" in res:
            print(res["log_tail"])
        out.write_text(json.dumps({"machine": f"{platform.node()} {platform.machine()}, "
                                              f"{os.cpu_count()} CPUs (shared)",
                                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   "groups": results}, indent=2))
    print(f"summary written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
