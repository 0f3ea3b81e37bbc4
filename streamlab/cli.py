"""The ``streamlab`` command.

    streamlab doctor                      is this machine ready; what fixes it
    streamlab server [--port P]           a private redis-server in the foreground; prints REDIS_URL
    streamlab reset [--lesson N]          delete the course's keys (lessonNN:*, streamlab:*), nothing else
    streamlab produce SENSOR [--rate R] [--count N]       the article's producer.py
    streamlab consume GROUP CONSUMER [--alert-above T]    the article's consumergroup.py, fixed

``produce`` and ``consume`` talk to ``REDIS_URL`` (or ``--url``), like every
lesson, and stop cleanly on Ctrl-C: the entry in hand finishes, exit code 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def cmd_doctor(args) -> int:
    from .diagnostics import run

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
    from . import backend, keys

    try:
        r = backend.connect(args.url, quiet=True)
    except backend.BackendError as exc:
        print(f"streamlab reset: {exc}", file=sys.stderr)
        return 1
    print(r.banner())
    keys.reset(r, lesson=args.lesson)
    return 0


def _connect_or_explain(url, command):
    from . import backend

    try:
        return backend.connect(url, quiet=True)
    except backend.BackendError as exc:
        print(f"streamlab {command}: {exc}", file=sys.stderr)
        return None


def _warn_if_private_to_this_process(r, command) -> None:
    if r.backend.kind in ("fake", "private"):
        print(f"streamlab {command}: note: no REDIS_URL and no server on 127.0.0.1:6379, so this runs "
              f"on {r.backend.server_name} inside this process only; other terminals will not see it. "
              "Start `streamlab server` and export the REDIS_URL it prints.", file=sys.stderr)


def _run_program(command: str, url: str | None, body) -> int:
    """Connect, stop on Ctrl-C/SIGTERM, run ``body(r, stop)``; errors become one explained line.

    Exit codes: 0 done or stopped by a signal, 1 Redis said no, 2 bad arguments.
    """
    import redis

    from . import pipeline
    from .explain import explain

    r = _connect_or_explain(url, command)
    if r is None:
        return 1
    _warn_if_private_to_this_process(r, command)
    stop = pipeline.stop_on_signals()
    try:
        body(r, stop)
    except ValueError as exc:
        print(f"streamlab {command}: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"streamlab {command}: {explain(exc)}", file=sys.stderr)
        return 1
    finally:
        # The work is over. Python puts back the default handlers while it shuts down,
        # and a late second Ctrl-C would then kill an exit that was already clean.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0


def cmd_produce(args) -> int:
    from . import pipeline

    def body(r, stop):
        if args.partitions:  # lesson 09: readings routed by sensor id to P partition streams
            from . import partitions
            return partitions.cli_produce(r, args, stop)
        sent = pipeline.produce(r, args.sensor, stream=args.stream, rate=args.rate,
                                count=args.count, stop=stop)
        print(f"{args.sensor}: sent {sent} entries to {args.stream}")

    return _run_program("produce", args.url, body)


def cmd_consume(args) -> int:
    from . import pipeline

    def body(r, stop):
        if args.partitions:  # lesson 09: this member's partitions, one thread each
            from . import partitions
            return partitions.cli_consume(r, args, stop)
        pipeline.consume(r, args.group, args.consumer, stream=args.stream,
                         start_from=args.start_from, block_ms=args.block, count=args.count,
                         alert_above=args.alert_above, alerts_stream=args.alerts_stream,
                         work_seconds=args.work, idle_exit=args.idle_exit, stop=stop)

    return _run_program("consume", args.url, body)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamlab", description="Helpers for the streamlab course.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check this machine and say what fixes each problem")
    p.add_argument("--url", help="check this Redis URL instead of the usual ladder")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("server", help="run a private redis-server in the foreground")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.set_defaults(func=cmd_server)

    p = sub.add_parser("reset", help="delete the course's keys (never anything else)")
    p.add_argument("--url", help="Redis URL (default: the usual ladder)")
    p.add_argument("--lesson", type=int, help="only this lesson's keys")
    p.set_defaults(func=cmd_reset)

    from .pipeline import DEFAULT_ALERTS, DEFAULT_STREAM

    p = sub.add_parser("produce", help="send sensor readings to a stream (the article's producer.py)")
    p.add_argument("sensor", help="sensor name, e.g. sensor1")
    p.add_argument("--stream", default=DEFAULT_STREAM, help=f"stream key (default {DEFAULT_STREAM})")
    p.add_argument("--rate", type=float, default=1.0, help="readings per second (default 1)")
    p.add_argument("--count", type=int, help="stop after this many (default: until Ctrl-C)")
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, then the usual ladder)")
    from .partitions import add_cli_options
    add_cli_options(p, "produce")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("consume", help="read a stream as one consumer of a group, ack what it processes")
    p.add_argument("group")
    p.add_argument("consumer")
    p.add_argument("--stream", default=DEFAULT_STREAM, help=f"stream key (default {DEFAULT_STREAM})")
    p.add_argument("--start-from", default="0",
                   help="where a NEW group starts: 0 (all history, default) or $ (only new entries); "
                        "an existing group is never rewound")
    p.add_argument("--block", type=int, default=2000, help="XREADGROUP BLOCK in ms (default 2000)")
    p.add_argument("--count", type=int, default=1, help="entries per read (default 1, as the article)")
    p.add_argument("--alert-above", type=float, help="copy entries with temp above this to the alerts stream")
    p.add_argument("--alerts-stream", default=DEFAULT_ALERTS, help=f"(default {DEFAULT_ALERTS})")
    p.add_argument("--work", type=float, default=0.0, help="seconds of pretend work per entry")
    p.add_argument("--idle-exit", type=float, help="exit after this many idle seconds")
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, then the usual ladder)")
    add_cli_options(p, "consume")
    p.set_defaults(func=cmd_consume)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
