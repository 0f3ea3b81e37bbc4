"""Load benchmark: N learners doing lesson 03's dashboard workload against one server.

    python -m streamlab.bench --learners 1,2,4,8          # a private server, each N in turn
    python -m streamlab.bench --learners 6 --url redis://admin:PW@host:6379/0   # your server

Each learner is its own process (as each learner has their own kernel) running what
lesson 03's dashboard cell runs: a producer at 300 entries/s, a group of three
consumers (one ten times slower, 3 ms per entry, ``COUNT 5``) and the sampler (one
pipeline of ``XLEN``/``XINFO``/``XPENDING`` every 0.1 s), for ``--load-seconds``;
then the producer stops and the consumers drain the backlog.

With a server of 7.0+ every learner is a fenced workshop user (``workshop.setup``,
torn down afterwards), so the lesson's own key names are used through the learner's
namespace, as in a workshop.

Reported per N:

- server CPU: ``INFO cpu`` ``used_cpu_sys + used_cpu_user`` over the run, in % of one core;
- connections: the most ``INFO clients`` ``connected_clients`` seen (sampled every 0.5 s);
- command latency, measured in each learner's process around every command and
  pipeline that does not block (a ``BLOCK`` read waits on purpose): p50, p99, max;
- the same p99 inside the server (``LATENCY HISTOGRAM``, 7.0+: the upper bound of its
  power-of-two bucket), which leaves out the network and the learners' own processes;
- the ledger: for every learner, entries sent = ``XLEN`` = entries the pool processed,
  the group's ``entries-read`` = sent, nothing pending. "exact" only if all hold for all.

The latency includes the time a learner's process waits for the CPU: on one small
machine shared by the server, every learner and other people's work, that is usually
what runs out first (the load average is printed beside each row).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis

RATE = 300          # lesson 03's dashboard cell: rate=300
CONSUMERS = 3       # consumers=3, processing="one-slow", ms=3, count=5
MS = 3
COUNT = 5
TARGET_P99_MS = 10.0


def _time_commands(samples: list) -> None:
    """Record the seconds every non-blocking command and pipeline takes, in this process."""
    plain, piped = redis.Redis.execute_command, redis.client.Pipeline.execute

    def execute_command(self, *args, **options):
        if isinstance(self, redis.client.Pipeline):
            return plain(self, *args, **options)  # queued, not sent: its execute() is timed
        blocking = any(isinstance(a, str) and a.upper() == "BLOCK" for a in args)
        began = time.perf_counter()
        try:
            return plain(self, *args, **options)
        finally:
            if not blocking:
                samples.append(time.perf_counter() - began)

    def execute(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return piped(self, *args, **kwargs)
        finally:
            samples.append(time.perf_counter() - began)

    redis.Redis.execute_command = execute_command
    redis.client.Pipeline.execute = execute


def learner_run(url: str, stream: str, seconds: float, start_at: float, results) -> None:
    """One learner's process: lesson 03's dashboard workload, then its ledger (to ``results``)."""
    samples: list[float] = []
    _time_commands(samples)
    from . import backend
    from .consumers import ConsumerPool
    from .observe import Sampler, group_info
    from .producer import Producer

    out = {"stream": stream, "error": None}
    try:
        r = backend.connect(url, quiet=True)
        r.delete(stream)
        pool = ConsumerPool(r, stream, "workers", consumers=CONSUMERS, processing="one-slow",
                            seconds=MS / 1000, count=COUNT, name=f"load:{stream}")
        sampler = Sampler(r, stream, "workers", pool=pool, interval=0.1, name=f"load-s:{stream}")
        producer = Producer(r, stream, rate=RATE, name=f"load-p:{stream}")
        time.sleep(max(0.0, start_at - time.time()))  # every learner starts together
        del samples[:]
        pool.start()
        sampler.start()
        producer.start()
        time.sleep(seconds)
        producer.stop()
        sent = producer.sent
        drained = pool.wait_processed(sent, timeout=60)
        timed = list(samples)
        sampler.stop()
        pool.stop()
        row = group_info(r, stream, "workers") or {}
        out.update(sent=sent, processed=pool.total_processed, xlen=r.xlen(stream),
                   read=row.get("entries-read"), pending=row.get("pending"), drained=drained,
                   samples=timed)
        r.delete(stream)
        r.close()
    except Exception as exc:  # noqa: BLE001 - reported in the table, not a traceback per process
        out["error"] = f"{type(exc).__name__}: {exc}"
        out.setdefault("samples", list(samples))
    results.put(out)


def exact(out: dict) -> bool:
    return (out.get("error") is None and out["drained"] and out["sent"] > 0
            and out["sent"] == out["processed"] == out["xlen"] == out["read"] and out["pending"] == 0)


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def server_histogram(admin) -> dict[int, int] | None:
    """Every command's calls by latency bucket (``LATENCY HISTOGRAM``, Redis 7.0+): {upper µs: calls}.

    The server's counts are cumulative per command; summed over commands. None where the
    server has no such command.
    """
    try:
        reply = admin.execute_command("LATENCY", "HISTOGRAM")
    except redis.ResponseError:
        return None
    totals: dict[int, int] = {}
    items = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2])
    for _, body in items:
        fields = body if isinstance(body, dict) else dict(zip(body[::2], body[1::2]))
        buckets = fields.get("histogram_usec") or []
        pairs = buckets.items() if isinstance(buckets, dict) else zip(buckets[::2], buckets[1::2])
        previous = 0
        for upper, cumulative in pairs:
            totals[int(upper)] = totals.get(int(upper), 0) + int(cumulative) - previous
            previous = int(cumulative)
    return totals


def _histogram_percentile(before: dict[int, int], after: dict[int, int], pct: float) -> float:
    """The bucket bound (ms) under which ``pct`` % of the calls made between the two snapshots fell."""
    calls = {upper: after.get(upper, 0) - before.get(upper, 0) for upper in after}
    total = sum(calls.values())
    if total <= 0:
        return float("nan")
    seen = 0
    for upper in sorted(calls):
        seen += calls[upper]
        if seen >= pct / 100 * total:
            return upper / 1000
    return max(calls) / 1000


def _cpu(admin) -> float:
    info = admin.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


@dataclass
class LoadRow:
    learners: int
    server_cpu: float       # % of one core
    connections: int
    commands: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    exact: int              # learners whose ledger is exact
    server_p99_ms: float    # LATENCY HISTOGRAM: time inside the server, bucket bound
    load: str
    errors: list

    @property
    def ok(self) -> bool:
        return self.p99_ms < TARGET_P99_MS and self.exact == self.learners

    def markdown(self) -> str:
        return (f"| {self.learners} | {self.server_cpu:.0f} % | {self.connections} | "
                f"{self.commands:,} | {self.p50_ms:.2f} | {self.p99_ms:.1f} | {self.max_ms:.0f} | "
                f"{self.server_p99_ms:.3f} | "
                f"{self.exact}/{self.learners} | {self.load} |")


HEADER = ("| learners | server CPU | connections (peak) | commands timed | p50 ms | p99 ms | max ms | "
          "in-server p99 ms | ledgers exact | load average (1 min) before → after |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")


def run_load(admin_url: str, n: int, seconds: float = 20, users: bool = True) -> LoadRow:
    """N learner processes at once against ``admin_url``'s server; one row of the table."""
    from . import backend, workshop

    admin = backend.connect(admin_url, quiet=True, learner="")  # the admin's names, as written
    tag = uuid.uuid4().hex[:6]
    names = [f"load{tag}{i:02d}" for i in range(1, n + 1)]
    workshop_made = users and admin.backend.version >= workshop.MIN_VERSION
    if workshop_made:
        csv_path = Path(tempfile.mkdtemp(prefix="streamlab-load-")) / "learners.csv"
        accounts = workshop.setup(admin, names, csv_path, admin_url)
        targets = [(a.redis_url, "lesson03:sensors") for a in accounts if a.learner in names]
    else:
        targets = [(admin_url, f"streamlab:bench:{tag}:{name}:lesson03:sensors") for name in names]
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    load_before = os.getloadavg()[0]
    start_at = time.time() + 3 + 0.3 * n  # time for every process to import and connect
    procs = [ctx.Process(target=learner_run, args=(url, stream, seconds, start_at, results), daemon=True)
             for url, stream in targets]
    peak = [0]
    watching = threading.Event()

    def watch_connections():
        while not watching.wait(0.5):
            peak[0] = max(peak[0], int(admin.info("clients")["connected_clients"]))

    watcher = threading.Thread(target=watch_connections, name="streamlab-load-watch", daemon=True)
    outs = []
    histogram_before = histogram_after = None
    cpu = float("nan")
    try:
        for p in procs:
            p.start()
        time.sleep(max(0.0, start_at - time.time()))
        cpu_before, wall_before = _cpu(admin), time.monotonic()
        histogram_before = server_histogram(admin)
        watcher.start()
        deadline = time.monotonic() + seconds + 120
        while len(outs) < len(procs) and time.monotonic() < deadline:
            try:
                outs.append(results.get(timeout=1))
            except queue.Empty:
                if not any(p.is_alive() for p in procs) and results.empty():
                    break  # a learner process died without a word: counted as not exact
        cpu = 100 * (_cpu(admin) - cpu_before) / (time.monotonic() - wall_before)
        histogram_after = server_histogram(admin)
    finally:
        watching.set()
        if watcher.is_alive():
            watcher.join()
        for p in procs:
            if p.pid is None:
                continue  # never started
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
        if workshop_made:
            # Only this run's users: a workshop on the same server is left alone.
            admin.execute_command("ACL", "DELUSER", *names)
            admin.hdel(workshop.REGISTRY, *names)
            admin.unlink(*[workshop.progress_key(name) for name in names])
            for name in names:
                for key in workshop.learner_keys(admin, name):
                    admin.unlink(key)
            csv_path.unlink(missing_ok=True)
            csv_path.parent.rmdir()
        admin.close()
    samples = [s for out in outs for s in out.get("samples", [])]
    errors = [o["error"] for o in outs if o.get("error")]
    errors += [f"ledger not exact: sent {o['sent']}, processed {o['processed']}, XLEN {o['xlen']}, "
               f"entries-read {o['read']}, pending {o['pending']}"
               + ("" if o["drained"] else ", the backlog not drained within 60 s")
               for o in outs if not o.get("error") and not exact(o)]
    errors += ["a learner process ended without a result"] * (n - len(outs))
    return LoadRow(n, cpu, peak[0], len(samples), 1000 * _percentile(samples, 50),
                   1000 * _percentile(samples, 99), 1000 * max(samples, default=float("nan")),
                   sum(exact(o) for o in outs),
                   (_histogram_percentile(histogram_before, histogram_after, 99)
                    if histogram_before is not None and histogram_after is not None else float("nan")),
                   f"{load_before:.1f} → {os.getloadavg()[0]:.1f}",
                   errors)


def sweep(admin_url: str, counts: list[int], seconds: float = 20, users: bool = True,
          log=print) -> list[LoadRow]:
    """``run_load`` for each N in ``counts``, in order (all of them: the rows after a first miss
    show how the server itself copes, which a loaded client machine can hide)."""
    rows = []
    for n in counts:
        row = run_load(admin_url, n, seconds, users)
        log(row.markdown() + ("" if row.ok else "   <- misses the target"))
        for error in row.errors:
            log(f"    learner error: {error}")
        rows.append(row)
    return rows


def largest_sustained(rows: list[LoadRow], in_server: bool = False) -> int | None:
    """The largest N whose p99 (the learners' own, or ``in_server``) is under 10 ms, every ledger exact."""
    ok = [row.learners for row in rows
          if (row.server_p99_ms < TARGET_P99_MS and row.exact == row.learners if in_server else row.ok)]
    return max(ok) if ok else None
