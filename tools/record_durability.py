"""Record a real run of lesson 08's experiments for learners on fakeredis.

    .venv/bin/python tools/record_durability.py

Runs ``durability.crash_all()`` and ``durability.failover_test()`` (without and with
``WAIT``) on private servers and writes their tables, with the server's version, the
machine and the time, to ``streamlab/data/durability-recorded.json``. Lesson 08 shows
this file, labelled as a recording, where it cannot start servers of its own. Re-run it
after changing the experiments, and commit the file.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlab import durability, server  # noqa: E402

OUT = ROOT / "streamlab" / "data" / durability.RECORDED_FILE


def server_version() -> str:
    with server.PrivateServer() as srv:
        c = durability._client(srv.port)
        info = c.info("server")
        c.close()
    name = "Valkey" if "valkey_version" in info else "Redis"
    return f"{name} {info.get('valkey_version') or info['redis_version']}"


def records(frame):
    return json.loads(frame.reset_index().to_json(orient="records"))


def main() -> int:
    crashes = durability.crash_all()
    failovers = [durability.failover_test(None), durability.failover_test("replica")]
    waited = failovers[1]
    # A recording is what learners see: refuse one taken while the machine was too busy for
    # the replica to keep up with the link up (most WAITs would have timed out).
    if len(waited.acknowledged) < 0.8 * len(waited.ledger.writes):
        print("the machine was too busy (WAIT timed out with the link up): not recorded; "
              "try again when it is quieter", file=sys.stderr)
        return 1
    data = {
        "server": server_version(),
        "recorded_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "crash_rate": crashes[0].rate,
        "crash_seconds": crashes[0].seconds,
        "failover_rate": failovers[0].rate,
        "crash": records(durability.crash_table(crashes)),
        "failover": records(durability.failover_table(failovers)),
        "failover_writes": {
            res.row()["writes"]: json.loads(durability.failover_writes(res).to_json(orient="records"))
            for res in failovers
        },
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    print(durability.crash_table(crashes).T.to_string())
    print(durability.failover_table(failovers).T.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
