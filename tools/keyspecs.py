"""Write streamlab/data/keyspecs.json: where each Redis command takes its key names.

    python tools/keyspecs.py [--url redis://127.0.0.1:6379/0]

Learner namespaces (streamlab/namespace.py) put a prefix in front of every key
a command names. On a real server the positions come from the server itself
(``COMMAND INFO``'s key specifications, Redis 7.0+); fakeredis has no
``COMMAND INFO``, so there the namespace reads this file instead. It is the key
specifications of a real server, reduced to what locating keys needs, and
regenerated with this tool (by default from a private server it starts).
``tests/test_namespace.py`` checks that the file agrees with the server at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streamlab import namespace  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "streamlab", "data", "keyspecs.json")


def table_from_server(url: str) -> dict:
    """``{COMMAND: {"specs": [...], "sub": {SUB: [...]}}}`` from the server's ``COMMAND INFO``."""
    import redis

    r = redis.Redis.from_url(url, protocol=2)
    r.response_callbacks.clear()
    try:
        names = sorted(n.decode().upper() for n in r.execute_command("COMMAND", "LIST"))
        table = {}
        for name in names:
            entry = namespace.parse_command_info(r.execute_command("COMMAND", "INFO", name)[0])
            if entry is not None:
                table[name] = entry
        version = r.execute_command("INFO", "server").decode()
    finally:
        r.close()
    line = next(x for x in version.splitlines() if x.startswith("redis_version:"))
    return {"source": f"COMMAND INFO of Redis {line.split(':', 1)[1].strip()}", "commands": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a Redis 7+ server (default: start a private one)")
    args = parser.parse_args(argv)
    if args.url:
        table = table_from_server(args.url)
    else:
        from streamlab.server import PrivateServer

        with PrivateServer() as srv:
            table = table_from_server(srv.url)
    with open(OUT, "w") as f:
        json.dump(table, f, indent=None, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    print(f"wrote {len(table['commands'])} commands to {os.path.relpath(OUT)} ({table['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
