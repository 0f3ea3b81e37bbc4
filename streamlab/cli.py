"""The ``streamlab`` command.

    streamlab doctor                      is this machine ready; what fixes it
    streamlab server [--port P]           a private redis-server in the foreground; prints REDIS_URL
    streamlab reset [--lesson N]          delete the course's keys (lessonNN:*, streamlab:*), nothing else
                                          (in a learner namespace: only that learner's)
    streamlab produce SENSOR [--rate R] [--count N]       the article's producer.py
    streamlab consume GROUP CONSUMER [--alert-above T]    the article's consumergroup.py, fixed
    streamlab reap GROUP [--min-idle MS] [--dry-run]      the lesson 04 reaper: recover a dead consumer's work
    streamlab workshop setup --learners N --out learners.csv   one fenced ACL user per learner
    streamlab workshop board [--keys]                          the live progress board
    streamlab workshop teardown                                those users and their keys, gone

``produce``, ``consume`` and ``reap`` talk to ``REDIS_URL`` (or ``--url``; put a
password in ``REDIS_URL``, since a ``--url`` shows in the process list), like
every lesson, in the learner namespace of ``STREAMLAB_LEARNER`` or the URL's ACL user, and stop cleanly on Ctrl-C (``consume`` finishes the batch in
hand), exit code 0. They ride out a server restart (see ``programs``). Exit
codes: 0 done or stopped by a signal, 1 Redis refused or is unreachable at
start, 2 bad arguments (also a consumer name another live process uses).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time


URL_HELP = ("Redis URL (default: REDIS_URL, then the usual ladder). Prefer REDIS_URL when the URL "
            "holds a password: a --url is visible to every user of this machine in the process "
            "list (ps)")


def _warn_if_password_on_command_line(url: str | None, command: str) -> None:
    """A password in --url sits in the process list for anyone on the machine to read: say so."""
    from .backend import _password_of, redact

    if url and _password_of(url):
        print(f"streamlab {command}: note: the password in --url {redact(url)} shows in the "
              "process list (ps) of everyone on this machine; next time export "
              "REDIS_URL=... and leave --url out.", file=sys.stderr)


def cmd_doctor(args) -> int:
    from .diagnostics import run

    _warn_if_password_on_command_line(args.url, "doctor")
    report = run(url=args.url)
    return 1 if report.problems else 0


def cmd_server(args) -> int:
    from .server import PrivateServer, ServerError

    try:
        srv = PrivateServer(port=args.port).start()
    except ServerError as exc:
        print(f"streamlab server: {exc}", file=sys.stderr)
        return 1
    print(f"A private Redis server is running at {srv.url} (loopback only, nothing kept on disk).")
    print("In other terminals (and before starting JupyterLab) run:")
    print(f"    export REDIS_URL={srv.url}")
    print("Press Ctrl-C to stop it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not srv.running:
                print("streamlab server: the server exited unexpectedly.", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    srv.stop()
    print("Stopped.")
    return 0


def cmd_reset(args) -> int:
    import redis

    from . import keys

    r = _connect_or_explain(args.url, "reset")
    if r is None:
        return 1
    print(r.banner())
    try:
        keys.reset(r, lesson=args.lesson)
    except redis.RedisError as exc:  # e.g. NOPERM: a user not allowed to delete those keys
        print(f"streamlab reset: {_terminal_text(exc)}", file=sys.stderr)
        return 1
    finally:
        r.close()
    return 0


def _connect_or_explain(url, command):
    from . import backend

    _warn_if_password_on_command_line(url, command)
    try:
        return backend.connect(url, quiet=True)
    except backend.BackendError as exc:
        print(f"streamlab {command}: {_terminal_text(exc)}", file=sys.stderr)
        return None


def _warn_if_private_to_this_process(r, command) -> None:
    if r.backend.kind in ("fake", "private"):
        print(f"streamlab {command}: note: no REDIS_URL and no server on 127.0.0.1:6379, so this runs "
              f"on {r.backend.server_name} inside this process only; other terminals will not see it. "
              "Start `streamlab server` and export the REDIS_URL it prints.", file=sys.stderr)


def _terminal_text(exc) -> str:
    """An error in terminal words: the notebook advice of ``explain`` does not apply here."""
    from . import programs
    from .explain import explain, is_out_of_memory

    if isinstance(exc, programs.CONNECTION_ERRORS):
        return (f"{programs.connection_trouble(exc)}. Check that the server in REDIS_URL (or --url) "
                "is running and reachable, then start the command again.")
    if is_out_of_memory(exc):
        return programs.OUT_OF_MEMORY + "."
    return explain(exc).replace("sl.reset()", "`streamlab reset`")


def _run_program(command: str, url: str | None, body) -> int:
    """Connect, stop on Ctrl-C/SIGTERM, run ``body(r, stop)``; errors become one explained line.

    Exit codes: 0 done or stopped by a signal, 1 Redis said no, 2 bad arguments.
    """
    import redis

    from . import programs

    r = _connect_or_explain(url, command)
    if r is None:
        return 1
    _warn_if_private_to_this_process(r, command)
    stop = programs.stop_on_signals()
    try:
        body(r, stop)
    except ValueError as exc:
        print(f"streamlab {command}: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"streamlab {command}: {_terminal_text(exc)}", file=sys.stderr)
        return 1
    finally:
        # The work is over. Python puts back the default handlers while it shuts down,
        # and a late second Ctrl-C would then kill an exit that was already clean.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        r.close()
    return 0


def _bad_arguments(command: str, check) -> int | None:
    """Run ``check()``; 2 with its message if it raises ``ValueError`` (before anything touches Redis)."""
    try:
        check()
    except ValueError as exc:
        print(f"streamlab {command}: {exc}", file=sys.stderr)
        return 2
    return None


def cmd_produce(args) -> int:
    from . import partitions, programs

    def check():
        programs.check_produce_options(args.rate, args.count)
        partitions.check_cli_options(args, "produce")  # --partitions/--keys, when given

    bad = _bad_arguments("produce", check)
    if bad is not None:
        return bad

    def body(r, stop):
        if args.partitions is not None:  # lesson 09: readings routed by sensor id to P partitions
            return partitions.cli_produce(r, args, stop)
        sent = programs.produce(r, args.sensor, stream=args.stream, rate=args.rate,
                                count=args.count, stop=stop, out=_say)
        _say(f"{args.sensor}: sent {sent} entries to {args.stream}")

    return _run_program("produce", args.url, body)


def cmd_consume(args) -> int:
    from . import partitions, programs

    def check():
        programs.check_consume_options(
            args.group, args.consumer, args.count, args.block, args.work, args.idle_exit,
            args.alert_above, args.max_deliveries, args.retry_after, args.name_guard)
        partitions.check_cli_options(args, "consume")  # --partitions/--member, when given

    bad = _bad_arguments("consume", check)
    if bad is not None:
        return bad

    def body(r, stop):
        if args.partitions is not None:  # lesson 09: this member's partitions, one thread each
            return partitions.cli_consume(r, args, stop)
        programs.consume(r, args.group, args.consumer, stream=args.stream,
                         start_from=args.start_from, block_ms=args.block, count=args.count,
                         alert_above=args.alert_above, alerts_stream=args.alerts_stream,
                         work_seconds=args.work, idle_exit=args.idle_exit, stop=stop, out=_say,
                         max_deliveries=args.max_deliveries,
                         dead_letter_stream=args.dead_letter_stream,
                         retry_after=args.retry_after, guard_name=True, retire_on_exit=True,
                         name_guard_ms=int(args.name_guard * 1000))

    return _run_program("consume", args.url, body)


def cmd_reap(args) -> int:
    from . import programs

    def check():
        programs.check_reap_options(args.min_idle, args.max_deliveries, args.alert_above, args.every)

    bad = _bad_arguments("reap", check)
    if bad is not None:
        return bad

    def body(r, stop):
        while not stop.is_set():
            programs.reap(r, args.group, stream=args.stream, min_idle_ms=args.min_idle,
                          consumer=args.name, max_deliveries=args.max_deliveries,
                          dead_letter_stream=args.dead_letter_stream, alert_above=args.alert_above,
                          alerts_stream=args.alerts_stream, dry_run=args.dry_run, out=_say)
            if args.every is None or args.dry_run or stop.wait(args.every):
                break

    return _run_program("reap", args.url, body)


def cmd_workshop(args) -> int:
    """``streamlab workshop setup|board|teardown`` on the admin URL (``REDIS_URL`` or ``--url``)."""
    from pathlib import Path

    import redis

    from . import workshop

    try:
        if args.action == "setup":
            names = _workshop_names(args)
        r = workshop.admin_client(args.url)
    except (ValueError, workshop.WorkshopError) as exc:
        print(f"streamlab workshop {args.action}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    admin_url = args.url or os.environ.get("REDIS_URL", "").strip()
    try:
        print(r.banner())
        if args.action == "setup":
            out = Path(args.out)
            accounts = workshop.setup(r, names, out, admin_url, host=args.host, rotate=args.rotate,
                                      force=args.force)
            print(workshop.accounts_table(accounts, out))
        elif args.action == "teardown":
            done = workshop.teardown(r)
            print(f"Deleted {len(done.users)} user(s) ({', '.join(done.users) or 'none'}), "
                  f"{done.keys} of their key(s) and {done.progress} progress stream(s); nothing else.")
            for name in done.kept:
                print(f"{name}: not deleted, its rules are not the workshop's (changed or made by "
                      "someone else); it and its keys are kept.")
        else:
            return _board(r, args)
    except (workshop.WorkshopError, redis.RedisError, OSError) as exc:
        if isinstance(exc, redis.exceptions.NoPermissionError):
            # The instructor's admin user lacks a grant: said for them, not the learner's hint.
            said = (f"your admin user may not run what this needs ({exc}). Give it +@all, or "
                    "at least +acl +@read +@write +@stream +scan +unlink +client|kill. "
                    + ("The CSV already holds every password: run the same command again "
                       "once the grant is there." if args.action == "setup" else ""))
        elif isinstance(exc, OSError) and not isinstance(exc, redis.RedisError):
            said = (f"cannot write {exc.filename or args.out}: {exc.strerror}. Choose another --out."
                    if args.action == "setup" else str(exc))
        elif isinstance(exc, redis.RedisError):
            said = _terminal_text(exc)
        else:
            said = exc
        print(f"streamlab workshop {args.action}: {said}", file=sys.stderr)
        return 1
    finally:
        r.close()
    return 0


def _workshop_names(args) -> list[str]:
    """The learners ``setup`` makes: ``--names`` (agreeing with ``--learners`` if both), else N."""
    from . import workshop

    if args.names is None:
        return workshop.default_names(args.learners)
    names = [n.strip() for n in args.names.split(",") if n.strip()]
    if not names:
        raise ValueError(f"--names {args.names!r} holds no name: list them, e.g. --names ana,ben,chloe.")
    if args.learners and args.learners != len(names):
        raise ValueError(f"--learners {args.learners} but --names lists {len(names)}: give one of "
                         "them, or make them agree.")
    if len(names) > workshop.MAX_LEARNERS:
        raise ValueError(f"--names lists {len(names)} learners, more than {workshop.MAX_LEARNERS}.")
    for name in names:
        workshop.check_name(name)
    return names


def _board(r, args) -> int:
    """Print the board (``--once``), or every ``--every`` seconds, the screen cleared, until Ctrl-C."""
    from . import programs, workshop

    progress = workshop.Progress(r)

    def show(clear: str) -> None:
        progress.poll()
        text = progress.text()
        if args.keys:
            text += "\n\n" + workshop.keys_text(
                {learner: workshop.key_rows(r, learner) for learner in progress.learners})
        print(f"{clear}streamlab workshop board, {time.strftime('%H:%M:%S')} "
              f"({len(progress.learners)} learner(s), {progress.entries} check(s) reported)\n{text}",
              flush=True)

    if args.once:
        show("")
        return 0
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop = programs.stop_on_signals()
    try:
        while True:
            show("\033[H\033[2J" if sys.stdout.isatty() else "")
            if stop.wait(args.every):
                return 0
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _say(line: str) -> None:
    print(line, flush=True)  # one line at a time, also when the output is a pipe or a log file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamlab", description="Helpers for the streamlab course.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check this machine and say what fixes each problem")
    p.add_argument("--url", help="check this Redis URL instead of the usual ladder (prefer "
                                 "REDIS_URL for a password: a --url shows in the process list)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("server", help="run a private redis-server in the foreground")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.set_defaults(func=cmd_server)

    p = sub.add_parser("reset", help="delete the course's keys (never anything else); in a learner "
                                     "namespace (STREAMLAB_LEARNER or the URL's user) only that "
                                     "learner's")
    p.add_argument("--url", help=URL_HELP)
    p.add_argument("--lesson", type=int, help="only this lesson's keys")
    p.set_defaults(func=cmd_reset)

    from .programs import (BLOCK_SLICE_MS, DEFAULT_ALERTS, DEFAULT_STREAM, MAX_DELIVERIES,
                           NAME_GUARD_MS, RETRY_AFTER)

    p = sub.add_parser("produce", help="send sensor readings to a stream (the article's producer.py)")
    p.add_argument("sensor", help="sensor name, e.g. sensor1")
    p.add_argument("--stream", default=DEFAULT_STREAM, help=f"stream key (default {DEFAULT_STREAM})")
    p.add_argument("--rate", type=float, default=1.0,
                   help="readings per second, above 0 and at most 10,000 (default 1)")
    p.add_argument("--count", type=int, help="stop after this many, 1 or more (default: until Ctrl-C)")
    p.add_argument("--url", help=URL_HELP)
    from .partitions import add_cli_options
    add_cli_options(p, "produce")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("consume", help="read a stream as one consumer of a group, ack what it processes")
    p.add_argument("group")
    p.add_argument("consumer", help="a name unique to this process: a name a live process uses is "
                                    "refused; a restart under the same name takes back its pending entries")
    p.add_argument("--stream", default=DEFAULT_STREAM, help=f"stream key (default {DEFAULT_STREAM})")
    p.add_argument("--start-from", default="0",
                   help="where a NEW group starts: 0 (all history, default) or $ (only new entries); "
                        "an existing group is never rewound")
    p.add_argument("--block", type=int, default=2000,
                   help="XREADGROUP BLOCK in ms, 0 = wait for ever (default 2000); reads block in "
                        f"slices of at most {BLOCK_SLICE_MS} ms so Ctrl-C is seen within a second")
    p.add_argument("--count", type=int, default=1, help="entries per read, 1 or more (default 1, as the article)")
    p.add_argument("--alert-above", type=float, help="copy entries with temp above this to the alerts stream")
    p.add_argument("--alerts-stream", default=DEFAULT_ALERTS, help=f"(default {DEFAULT_ALERTS})")
    p.add_argument("--max-deliveries", type=int, default=MAX_DELIVERIES,
                   help=f"dead-letter an entry delivered more often than this (default {MAX_DELIVERIES})")
    p.add_argument("--dead-letter-stream", help="where dead letters go (default: STREAM:dead)")
    p.add_argument("--retry-after", type=float, default=RETRY_AFTER,
                   help=f"seconds before a failed entry is read again (default {RETRY_AFTER:g})")
    p.add_argument("--name-guard", type=float, default=NAME_GUARD_MS / 1000,
                   help="refuse the name if XINFO CONSUMERS shows it active within this many seconds "
                        "or a live process holds it; a crashed holder's lease lasts as long "
                        f"(default {NAME_GUARD_MS / 1000:g}; 0 = no check, for a restart right after "
                        "a crash you are sure of)")
    p.add_argument("--work", type=float, default=0.0, help="seconds of pretend work per entry")
    p.add_argument("--idle-exit", type=float, help="exit after this many idle seconds")
    p.add_argument("--url", help=URL_HELP)
    add_cli_options(p, "consume")
    p.set_defaults(func=cmd_consume)

    p = sub.add_parser("reap", help="claim the pending work of consumers that never came back, "
                                    "process or dead-letter it, retire those consumers")
    p.add_argument("group")
    p.add_argument("--stream", default=DEFAULT_STREAM, help=f"stream key (default {DEFAULT_STREAM})")
    p.add_argument("--min-idle", type=int, default=60_000,
                   help="claim entries idle at least this many ms, and retire consumers that have "
                        "not tried to read for that long (default 60000)")
    p.add_argument("--name", default="reaper", help="the consumer name the reaper claims as (default reaper)")
    p.add_argument("--max-deliveries", type=int, default=MAX_DELIVERIES,
                   help=f"dead-letter an entry delivered more often than this (default {MAX_DELIVERIES})")
    p.add_argument("--dead-letter-stream", help="where dead letters go (default: STREAM:dead)")
    p.add_argument("--alert-above", type=float,
                   help="process as `consume --alert-above T` does (use it when reaping an alerting group)")
    p.add_argument("--alerts-stream", default=DEFAULT_ALERTS, help=f"(default {DEFAULT_ALERTS})")
    p.add_argument("--dry-run", action="store_true", help="only show what would be claimed and retired")
    p.add_argument("--every", type=float, help="run a pass every this many seconds until Ctrl-C "
                                               "(default: one pass)")
    p.add_argument("--url", help=URL_HELP)
    p.set_defaults(func=cmd_reap)

    p = sub.add_parser("workshop", help="one shared server for a class: fenced learner users, "
                                        "a progress board (README: Running a workshop)")
    actions = p.add_subparsers(dest="action", required=True)
    admin_help = ("the admin's Redis URL (default: REDIS_URL; prefer REDIS_URL, a --url with a "
                  "password shows in the process list)")
    a = actions.add_parser("setup", help="create one fenced ACL user per learner and a CSV of their URLs")
    a.add_argument("--learners", type=int, default=0, help="how many learners: learner01..learnerNN")
    a.add_argument("--names", help="comma-separated learner names instead (e.g. ana,ben,chloe)")
    a.add_argument("--out", default="learners.csv",
                   help="the CSV to write (learner, redis_url, namespace; mode 600); an existing one "
                        "is read first, so a re-run keeps those passwords; a file setup did not write is "
                        "refused without --force (default learners.csv)")
    a.add_argument("--host", help="host[:port] to put in the learners' URLs when they reach the "
                                  "server by another name than you (default: the admin URL's)")
    a.add_argument("--rotate", action="store_true",
                   help="give every learner a new password and close their connections (without "
                        "it, no existing learner's password ever changes)")
    a.add_argument("--force", action="store_true",
                   help="replace an --out file that is not a learners CSV setup wrote")
    a.add_argument("--url", help=admin_help)
    a.set_defaults(func=cmd_workshop)
    a = actions.add_parser("board", help="the live progress board: learners x exercises")
    a.add_argument("--every", type=float, default=2.0, help="seconds between refreshes (default 2)")
    a.add_argument("--once", action="store_true", help="print the board once and exit")
    a.add_argument("--keys", action="store_true",
                   help="also each learner's keys: counts per lesson, each group's lag and pending")
    a.add_argument("--url", help=admin_help)
    a.set_defaults(func=cmd_workshop)
    a = actions.add_parser("teardown", help="delete the workshop's users, their keys and progress; "
                                            "nothing else")
    a.add_argument("--url", help=admin_help)
    a.set_defaults(func=cmd_workshop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
