"""XADD throughput: streamlab's Producer against raw redis-py, same server, same run.

    python bench/bench_producer.py                      # 127.0.0.1:6379 and fakeredis
    python bench/bench_producer.py --private            # a private redis-server instead of 6379
    python bench/bench_producer.py --url redis://host:6379/0 --backend real -n 50000

Prints a Markdown table of messages per second. Every case writes the same
entries (the producer's five fields: sensor_id, temp, humidity, seq, sent_at)
to its own fresh key under ``streamlab:bench:``, deleted afterwards. The cases
take turns every 2,000 entries (in reverse order every other turn), so a busy
machine slows them all alike; the table shows each one's median over the
rounds. Where ``redis-benchmark`` is installed, its pipelined XADD is the
ceiling on the real server (no Python at all).

Target (issue 3): Producer.burst at least 0.9x raw redis-py pipelined XADD.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import streamlab as sl
from streamlab import server as sl_server
from streamlab.backend import LOCAL_URL
from streamlab.producer import MAX_RATE, Producer

SENSORS = ("sensor1", "sensor2", "sensor3")
BATCH = 500
CHUNK = 2_000  # entries per slice: the cases take turns every slice


def _fields(i: int) -> dict:
    """What the producer sends, built inline as a hand-written redis-py script would."""
    return {
        "sensor_id": SENSORS[i % 3],
        "temp": f"{random.uniform(18, 26):.2f}",
        "humidity": f"{random.uniform(30, 70):.1f}",
        "seq": i + 1,
        "sent_at": f"{time.time():.6f}",
    }


def raw_one_call_each(r, key: str, n: int) -> None:
    for i in range(n):
        r.xadd(key, _fields(i))


def raw_pipelined(r, key: str, n: int) -> None:
    for start in range(0, n, BATCH):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + BATCH)):
            pipe.xadd(key, _fields(i))
        pipe.execute()


def producer_burst(r, key: str, n: int) -> None:
    Producer(r, key, name=f"bench:{key}").burst(n)


CASES = [
    # (label, function, share of n it sends: one call each is slow, so it sends fewer)
    ("raw redis-py XADD, one call each", raw_one_call_each, 0.25),
    (f"raw redis-py XADD, pipelined ({BATCH} a batch)", raw_pipelined, 1.0),
    ("streamlab Producer.burst(n)", producer_burst, 1.0),
]
REFERENCE = CASES[1][0]
CANDIDATE = CASES[2][0]
#: Capped at MAX_RATE by design: a ratio to an uncapped case would mean nothing.
PACED = f"streamlab Producer, paced at its maximum ({MAX_RATE:,}/s)"


def _one_round(r, n: int) -> dict[str, float]:
    """msgs/s of each case for ``n`` entries, sent in slices of ``CHUNK`` that take turns.

    Short slices in alternating order spread a load that comes and goes on the
    machine over every case alike. Each case fills its own fresh key up to ``n``.
    """
    keys = {label: f"streamlab:bench:{uuid.uuid4().hex[:12]}" for label, _, _ in CASES}
    seconds = dict.fromkeys(keys, 0.0)
    sent = dict.fromkeys(keys, 0)
    try:
        for turn, start in enumerate(range(0, n, CHUNK)):
            size = min(CHUNK, n - start)
            for label, function, share in CASES[::-1] if turn % 2 else CASES:
                count = max(1, int(size * share))
                began = time.perf_counter()
                function(r, keys[label], count)
                seconds[label] += time.perf_counter() - began
                sent[label] += count
        for label, key in keys.items():
            assert r.xlen(key) == sent[label], f"{label} wrote {r.xlen(key)} entries, not {sent[label]}"
    finally:
        r.delete(*keys.values())
    return {label: sent[label] / seconds[label] for label in keys}


def paced_max_rate(r, seconds: float) -> float:
    """Achieved rate of a Producer asked for its maximum (``MAX_RATE``) for ``seconds``."""
    key = f"streamlab:bench:{uuid.uuid4().hex[:12]}"
    p = Producer(r, key, rate=MAX_RATE, name=f"bench:{key}")
    try:
        p.run_for(seconds)
        return p.achieved_rate
    finally:
        r.delete(key)


def redis_benchmark_ceiling(url: str, n: int) -> float | None:
    """Pipelined XADD from ``redis-benchmark`` (C, no Python): the server's own ceiling."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None
    parts = urlsplit(url)
    key = f"streamlab:bench:{uuid.uuid4().hex[:12]}"
    cmd = [binary, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
           "-n", str(n), "-P", str(BATCH), "-q",
           "XADD", key, "*", "sensor_id", "sensor1", "temp", "21.50", "humidity", "48.2",
           "seq", "1", "sent_at", "1700000000.000000"]
    if parts.password:
        cmd[1:1] = ["-a", parts.password, "--no-auth-warning"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    finally:
        with sl.connect(url, quiet=True) as r:
            r.delete(key)
    found = re.findall(r"([\d.]+) requests per second", out)
    return float(found[-1]) if found else None


def measure(r, n: int, rounds: int, paced_seconds: float) -> tuple[dict[str, float], float]:
    """Median msgs/s over ``rounds`` of every case on client ``r``; and the median of each
    round's Producer.burst / raw pipelined ratio (the two ran side by side, slice by slice)."""
    results = [_one_round(r, n) for _ in range(rounds)]
    medians = {label: statistics.median(res[label] for res in results) for label, _, _ in CASES}
    medians[PACED] = paced_max_rate(r, paced_seconds)
    ratio = statistics.median(res[CANDIDATE] / res[REFERENCE] for res in results)
    return medians, ratio


def markdown(columns: dict[str, dict[str, float]]) -> str:
    """One row per case, one column of msgs/s per backend, plus each backend's ratio to raw pipelined."""
    labels: list[str] = []
    for values in columns.values():
        labels += [label for label in values if label not in labels]
    names = list(columns)
    head = "| case | " + " | ".join(f"{b} msgs/s | {b} vs pipelined" for b in names) + " |"
    rule = "|---|" + "---:|---:|" * len(names)
    rows = [head, rule]
    for label in labels:
        cells = []
        for b in names:
            value = columns[b].get(label)
            ref = columns[b].get(REFERENCE)
            if value is None:
                cells += ["-", "-"]
            else:
                shown = f"{value / ref:.2f}x" if ref and label != PACED else "-"
                cells += [f"{value:,.0f}", shown]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_producer", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("both", "real", "fake"), default="both")
    parser.add_argument("--url", default=LOCAL_URL, help="the real server (default %(default)s)")
    parser.add_argument("--private", action="store_true", help="start a private redis-server instead")
    parser.add_argument("-n", type=int, default=20_000, help="entries per case and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--paced-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)

    columns: dict[str, dict[str, float]] = {}
    ratios: dict[str, float] = {}
    private = None
    try:
        if args.backend in ("both", "real"):
            url = args.url
            if args.private:
                private = sl_server.PrivateServer().start()
                url = private.url
            r = sl.connect(url, quiet=True)
            name = f"real ({r.backend.server_name} {r.backend.version_text})"
            columns[name], ratios[name] = measure(r, args.n, args.rounds, args.paced_seconds)
            ceiling = redis_benchmark_ceiling(url, max(args.n, 100_000))
            if ceiling is not None:
                columns[name][f"redis-benchmark XADD -P {BATCH} (ceiling, no Python)"] = ceiling
            r.close()
        if args.backend in ("both", "fake"):
            r = sl.connect(backend="fake", quiet=True)
            columns["fakeredis"], ratios["fakeredis"] = measure(r, args.n, args.rounds,
                                                                args.paced_seconds)
    finally:
        if private is not None:
            private.stop()
    print(f"XADD throughput, {args.n:,} entries per case, median of {args.rounds} rounds "
          f"(Python {sys.version.split()[0]}):\n")
    print(markdown(columns))
    for b, ratio in ratios.items():
        verdict = "meets" if ratio >= 0.9 else "MISSES"
        print(f"\n{b}: Producer.burst is {ratio:.2f}x raw pipelined XADD, median of the rounds' "
              f"ratios ({verdict} the 0.9x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
