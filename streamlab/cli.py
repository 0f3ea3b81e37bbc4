"""The ``streamlab`` command: ``doctor``, ``server``, ``reset`` (``produce``/``consume`` come with lesson 07).

    streamlab doctor            is this machine ready; what fixes it
    streamlab server [--port]   a private redis-server in the foreground; prints REDIS_URL
    streamlab reset [--lesson N]  delete the course's keys (lessonNN:*, streamlab:*) and nothing else
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
