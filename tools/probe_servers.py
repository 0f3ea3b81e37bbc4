"""Write the table of docs/SERVERS.md: what each server of the matrix does, probed.

    python tools/probe_servers.py            # probe the servers at hand, rewrite the table
    python tools/probe_servers.py --check    # exit 1 if the committed table differs from the probes

Columns: fakeredis emulating Redis 7.0 and 8.10, Redis 7.0, Valkey 8.1, Valkey 9.x (each
probed on a private server from the binary at hand: ``streamlab.server.server_binaries()``),
and Redis 8.x as its documentation describes it (no Redis 8 binary is installable here).
A column whose server is not at hand keeps what the committed table says. Rows: every
feature ``r.supports()`` knows (probed as ``supports()`` probes: COMMAND INFO/DOCS, tries on a
scratch key), then behaviour that differs by server, measured here the way the lessons
show it, each next to what ``streamlab.backend.behaviour()`` predicts for that server.
tests/test_servers_doc.py checks that the committed table matches the probes.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlab import backend as sl_backend  # noqa: E402
from streamlab import server as sl_server  # noqa: E402

DOC = ROOT / "docs" / "SERVERS.md"
BEGIN, END = "<!-- probe_servers.py: begin -->", "<!-- probe_servers.py: end -->"

#: column -> how to find its server: ("fake", emulated version) / ("real", name, version prefix) /
#: ("docs", the Redis version whose documentation the column follows)
COLUMNS = {
    "fakeredis as 7.0": ("fake", (7, 0)),
    "fakeredis as 8.10": ("fake", (8, 10)),
    "Redis 7.0": ("real", "redis", (7, 0)),
    "Valkey 8.1": ("real", "valkey", (8, 1)),
    "Valkey 9.x": ("real", "valkey", (9,)),
    "Redis 8.x (docs)": ("docs", (8, 10)),
}

#: row -> the behaviour() it shows (measured too: a contradiction is flagged in the cell)
BEHAVIOUR_ROWS = {
    "blocked XREADGROUP, stream deleted: behaviour()": "deleted-stream-under-blocked-read",
    "lag after XDEL/XTRIM: behaviour()": "lag-after-deletions",
    "lag right after a trim: behaviour()": "lag-after-trim",
}
LAG_ROWS = ("lag after XTRIM MAXLEN 5 (10 added, 3 read)",
            "read 2 more: entries-read, lag",
            "XTRIM MAXLEN 1, read the rest: lag",
            "XDEL of an unread entry: lag")
MEMORY_ROW = "bytes per entry (10,000 readings, MEMORY USAGE)"


def feature_row(name: str) -> str:
    since, what = sl_backend.FEATURES[name]
    return f"`{name}`: {what} (Redis {'.'.join(map(str, since))})"


def columns_at_hand() -> dict[str, tuple]:
    """column -> (kind, how to connect) for every column this machine can probe."""
    found = {}
    binaries = sl_server.server_binaries()  # {"Valkey 8.1.8": path, ...}
    for column, spec in COLUMNS.items():
        if spec[0] == "fake":
            found[column] = spec
        elif spec[0] == "real":
            for label, path in sorted(binaries.items()):
                name, _, version = label.partition(" ")
                numbers = sl_backend._version_tuple(version)
                if name.lower() == spec[1] and numbers[:len(spec[2])] == spec[2]:
                    found[column] = ("real", path)
                    break
    return found


# --- the measurements -----------------------------------------------------------------

def measure(r) -> dict[str, str]:
    """Every row of the table for the server ``r`` (a streamlab Client) is on."""
    cells = {feature_row(f): ("yes" if ok else "no") for f, ok in r.features().items()}
    measured = {"deleted-stream-under-blocked-read": deleted_under_blocked_read(r)}
    lag = lag_history(r)
    exact = lag[0] == "5" and lag[1].endswith("lag 3") and lag[2] == "0"  # the true answers
    measured["lag-after-deletions"] = "exact" if exact else "approximate"
    measured["lag-after-trim"] = {"5": "exact", "7": "counts-trimmed"}.get(lag[0], f"lag {lag[0]}")
    for row, name in BEHAVIOUR_ROWS.items():
        # The cell is what behaviour() says, flagged where the server contradicts it. "approximate"
        # for a lag that came out exact in this one history is not a contradiction: it only makes
        # the course count with XRANGE (observe.py) instead of trusting the server.
        predicted = r.behaviour(name)
        agrees = measured[name] == predicted or (predicted, measured[name]) == ("approximate", "exact")
        cells[row] = predicted if agrees else f"{predicted}, but measured {measured[name]}!"
    cells.update(zip(LAG_ROWS, lag))
    cells[MEMORY_ROW] = bytes_per_entry(r)
    return cells


def deleted_under_blocked_read(r) -> str:
    """What a blocked XREADGROUP gets when its stream is deleted under it."""
    key = f"streamlab:probe:{uuid.uuid4().hex}"
    reader = r.new_client()
    name = f"streamlab-probe-{uuid.uuid4().hex[:8]}"
    reader.client_setname(name)
    r.xgroup_create(key, "g", "$", mkstream=True)
    outcome: list = []

    def read():
        try:
            outcome.append(reader.xreadgroup("g", "c", {key: ">"}, block=1500))
        except Exception as exc:  # noqa: BLE001 - the reply is what we measure
            outcome.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    deadline = time.monotonic() + 5
    while not _blocked(r, name) and time.monotonic() < deadline:
        time.sleep(0.01)
    r.delete(key)
    thread.join(10)
    reader.close()
    if not outcome:
        return "no answer"
    if isinstance(outcome[0], Exception):
        return str(outcome[0]).split()[0]
    return "keeps-waiting" if outcome[0] == [] else repr(outcome[0])


def _blocked(r, name: str) -> bool:
    if r.backend.is_fake:
        return any(getattr(s, "_blocked", False) and s._client_info.get("name") == name
                   for s in list(r.backend.fake_server.sockets))
    return any(c.get("name") == name and "b" in c.get("flags", "") for c in r.client_list())


def lag_history(r) -> list[str]:
    """Lesson 05's history: 10 entries, a group, 3 read, XTRIM MAXLEN 5, 2 more read, XTRIM
    MAXLEN 1, the rest read, 2 added and the newest deleted unread: the lag at each step."""
    key = f"streamlab:probe:{uuid.uuid4().hex}"

    def group():
        return r.xinfo_groups(key)[0]

    def lag():
        value = group().get("lag")
        return "nil" if value is None else str(value)

    try:
        for n in range(10):
            r.xadd(key, {"job": n})
        r.xgroup_create(key, "g", id="0")
        r.xreadgroup("g", "alice", {key: ">"}, count=3)
        r.xtrim(key, maxlen=5, approximate=False)
        after_trim = lag()
        r.xreadgroup("g", "alice", {key: ">"}, count=2)
        read_more = f"entries-read {group().get('entries-read')}, lag {lag()}"
        r.xtrim(key, maxlen=1, approximate=False)
        r.xreadgroup("g", "alice", {key: ">"})
        caught_up = lag()
        r.xadd(key, {"job": 10})
        r.xdel(key, r.xadd(key, {"job": 11}))
        return [after_trim, read_more, caught_up, lag()]
    finally:
        r.delete(key)


def bytes_per_entry(r) -> str:
    if not r.supports("memory-usage"):
        return "n/a (no MEMORY USAGE)"
    key = f"streamlab:probe:{uuid.uuid4().hex}"
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(10_000):  # the same IDs and bytes on every run: sizes are comparable
            pipe.xadd(key, {"sensor_id": f"sensor{i % 3 + 1}", "temp": f"{15 + i * 7 % 200 / 10:.1f}"},
                      id=f"{1_700_000_000_000 + 100 * i}-0")
        pipe.execute()
        return f"{r.memory_usage(key, samples=0) / 10_000:.1f}"
    finally:
        r.delete(key)


def docs_column() -> dict[str, str]:
    """Redis 8.10 as its documentation describes it: every feature, and the 7.2 change to
    blocked reads. Lag and memory are not documented as numbers: not claimed."""
    cells = {feature_row(f): "yes" for f in sl_backend.FEATURES}
    docs_backend = sl_backend.Backend(kind="url", url=None, server_name="redis",
                                      version=COLUMNS["Redis 8.x (docs)"][1], version_text="8.10")
    for row, name in BEHAVIOUR_ROWS.items():
        cells[row] = sl_backend.behaviour(docs_backend, name)
    for row in (*LAG_ROWS, MEMORY_ROW):
        cells[row] = "not measured"
    return cells


def probe(column: str, spec: tuple) -> tuple[str, dict[str, str]]:
    """(the server's exact name, its cells) for one column at hand."""
    if spec[0] == "fake":
        r = sl_backend.emulated(spec[1])
        try:
            return r.backend.server, measure(r)
        finally:
            sl_backend.close_emulations()
    with sl_server.PrivateServer(binary=spec[1]) as srv:
        r = sl_backend.connect(srv.url, quiet=True)
        try:
            return r.backend.server, measure(r)
        finally:
            r.close()


# --- the table ----------------------------------------------------------------------

def rows() -> list[str]:
    return [feature_row(f) for f in sl_backend.FEATURES] + list(BEHAVIOUR_ROWS) + list(LAG_ROWS) + [MEMORY_ROW]


def render(servers: dict[str, str], cells: dict[str, dict[str, str]]) -> str:
    cols = list(COLUMNS)
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|",
             "| *measured on* | " + " | ".join(servers.get(c, "?") for c in cols) + " |"]
    for row in rows():
        lines.append(f"| {row} | " + " | ".join(cells.get(c, {}).get(row, "?") for c in cols) + " |")
    return "\n".join(lines)


def parse(text: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The committed table back as (servers, cells), to keep columns not at hand."""
    block = text.split(BEGIN, 1)[-1].split(END, 1)[0] if BEGIN in text else ""
    table = [line for line in block.splitlines() if line.startswith("|")]
    if len(table) < 3:
        return {}, {}
    cols = [c.strip() for c in table[0].strip("|").split("|")][1:]
    split = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table[2:]]
    servers = dict(zip(cols, split[0][1:]))
    cells: dict[str, dict[str, str]] = {c: {} for c in cols}
    for row in split[1:]:
        for col, value in zip(cols, row[1:]):
            cells[col][row[0]] = value
    return servers, cells


def same(row: str, committed: str | None, probed: str) -> bool:
    """A committed cell agrees with a probed one; sizes within 3 %: a libc-malloc build's
    MEMORY USAGE moves by a tenth of a byte per entry from run to run (malloc_usable_size
    depends on the heap's state)."""
    if row == MEMORY_ROW and committed and committed[0].isdigit() and probed[0].isdigit():
        return abs(float(committed) - float(probed)) <= 0.03 * float(committed)
    return committed == probed


def probe_all(verbose: bool = True) -> tuple[dict[str, str], dict[str, dict[str, str]], list[str]]:
    """(servers, cells, columns probed) for every column at hand, plus the docs column."""
    servers, cells = {"Redis 8.x (docs)": "redis.io command pages"}, {"Redis 8.x (docs)": docs_column()}
    probed = []
    for column, spec in columns_at_hand().items():
        if verbose:
            print(f"probing {column} ...", file=sys.stderr)
        servers[column], cells[column] = probe(column, spec)
        probed.append(column)
    return servers, cells, probed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with docs/SERVERS.md, change nothing")
    args = ap.parse_args(argv)
    text = DOC.read_text()
    old_servers, old_cells = parse(text)
    servers, cells, probed = probe_all()
    if args.check:
        differ = [f"{col} / {row}: committed {old_cells.get(col, {}).get(row)!r}, probed {value!r}"
                  for col in [*probed, "Redis 8.x (docs)"] for row, value in cells[col].items()
                  if not same(row, old_cells.get(col, {}).get(row), value)]
        for line in differ:
            print(line)
        print(f"{len(differ)} difference(s) in {', '.join(probed)}")
        return 1 if differ else 0
    for col in COLUMNS:  # a server not at hand keeps its committed column
        if col not in cells and col in old_cells:
            servers[col], cells[col] = old_servers.get(col, "?"), old_cells[col]
    table = render(servers, cells)
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda m: f"{BEGIN}\n{table}\n{END}",
                 text, flags=re.S)
    DOC.write_text(new)
    print(f"docs/SERVERS.md: probed {', '.join(probed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
