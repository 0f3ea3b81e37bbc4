"""Benchmarks: streamlab's helpers against raw redis-py, on the same server in the same run.

    python -m streamlab.bench                          # a private redis-server and fakeredis
    python -m streamlab.bench --url redis://host:6379/0  # another server instead of a private one
    python -m streamlab.bench --partitioned            # also partitioned consume on a private cluster
    python -m streamlab.bench --soak 10                # also kernel memory over 10 minutes
    python -m streamlab.bench --learners 1,2,4,8       # only the workshop load (streamlab.loadbench)

It prints the machine, then one Markdown table with a column per backend.
Every number is the median of ``--rounds`` rounds, with the lowest and highest
in brackets: on a shared machine the spread says how far to trust it.

What is measured, and against what:

- **XADD**: ``Producer`` against a hand-written redis-py loop sending the same
  five fields, one ``XADD`` per call and pipelined 500 at a time; the cases take
  turns every ``CHUNK`` entries so that a load coming and going on the machine
  hits them all alike. ``redis-benchmark`` (C, one connection) is the ceiling.
- **XREADGROUP + XACK**: a one-consumer ``ConsumerPool`` with no processing
  time, reading 100 at a time, like with like: ``ack="batch"`` against a redis-py
  loop acking each batch with one ``XACK``, and the default per-entry acks against
  a loop doing one ``XACK`` per entry. The pool's clock stops at its n-th ack.
- **Partitioned** (``--partitioned``): ``streamlab consume --partitions 6`` in 1
  and 2 processes draining 30,000 readings from a private 3-shard cluster.
- **Wake-up latency**: a reader blocked in ``XREAD BLOCK`` on its own
  connection, from just before another client's ``XADD`` to the read's return.
- **Sampler cost**: the dashboard's ``Sampler`` (one pipeline of ``XLEN``,
  ``XINFO STREAM``, ``XINFO GROUPS``, ``XPENDING`` every 0.1 s): Redis commands
  per second (``INFO commandstats`` on a real server; counted from its samples
  on fakeredis, which has no commandstats) and this process's CPU time over
  wall time. The same for the whole lesson 03 dashboard for context.
- **Lessons**: seconds to execute each notebook top to bottom, per backend, are
  measured by ``tools/lesson_times.py`` (the notebooks are the repository's, not
  this package's); its rows use ``Row``, ``markdown`` and ``verdicts`` from here.
- **Soak** (``--soak MINUTES``): a real Jupyter kernel runs the lesson 03
  dashboard (producer at 200 msgs/s, 3 consumers, sampler, live redraws) for
  that long; its RSS (psutil) at the start and end.

Every key is ``streamlab:bench:<hex>`` and is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from . import backend as sl_backend
from . import server as sl_server
from .consumers import ConsumerPool
from .observe import Sampler
from .producer import MAX_BATCH, Producer

SENSORS = ("sensor1", "sensor2", "sensor3")
BATCH = MAX_BATCH  # the raw pipeline sends batches as big as the producer's
READ_COUNT = 100
CHUNK = 1_000  # entries per slice: the XADD cases take turns every slice
GROUP = "bench"
TARGET_RATIO = 0.9
LESSON_LIMIT = 60.0
SOAK_LIMIT_MIB = 50.0


@dataclass
class Row:
    """One measured quantity: every round's value, shown as median (min-max)."""

    label: str
    unit: str  # msgs/s, ms, x, s, cmds/s, %, MiB
    values: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cell(self) -> str:
        if not self.values:
            return "-"
        shown = _fmt(self.median, self.unit)
        if len(self.values) > 1:
            shown += f" ({_fmt(min(self.values), self.unit, False)}–{_fmt(max(self.values), self.unit, False)})"
        return shown + (f" {self.note}" if self.note else "")


def _fmt(value: float, unit: str, with_unit: bool = True) -> str:
    if unit == "x":
        return f"{value:.2f}x" if with_unit else f"{value:.2f}"
    if unit in ("msgs/s", "cmds/s"):
        text = f"{value:,.0f}"
    elif unit == "ms":
        text = f"{value:.2f}"
    else:
        text = f"{value:.1f}"
    return text


def _key() -> str:
    return f"streamlab:bench:{uuid.uuid4().hex[:12]}"


def _fields(i: int) -> dict:
    """The producer's entry (sensor_id, temp, humidity, seq, sent_at), as a hand-written script builds it."""
    return {"sensor_id": SENSORS[i % 3], "temp": f"{random.uniform(18, 26):.2f}",
            "humidity": f"{random.uniform(30, 70):.1f}", "seq": i + 1, "sent_at": f"{time.time():.6f}"}


# --- XADD -------------------------------------------------------------------------

def _raw_each(r, key):
    sent = [0]

    def send(count: int) -> None:
        for i in range(sent[0], sent[0] + count):
            r.xadd(key, _fields(i))
        sent[0] += count
    return send


def _raw_pipelined(r, key):
    sent = [0]

    def send(count: int) -> None:
        end = sent[0] + count
        for start in range(sent[0], end, BATCH):
            pipe = r.pipeline(transaction=False)
            for i in range(start, min(end, start + BATCH)):
                pipe.xadd(key, _fields(i))
            pipe.execute()
        sent[0] = end
    return send


def _producer_each(r, key):
    # _send(1) is exactly what the paced loop does when one entry is due (any rate up to ~100/s).
    p = Producer(r, key, name=f"bench:{key}")

    def send(count: int) -> None:
        for _ in range(count):
            p._send(1)
    return send


def _producer_burst(r, key):
    return Producer(r, key, name=f"bench:{key}").burst


XADD_CASES = [
    # (label, sender factory, share of each slice it sends: one call each is slow, so it sends fewer)
    ("XADD one call each: raw redis-py", _raw_each, 0.25),
    ("XADD one call each: streamlab Producer", _producer_each, 0.25),
    (f"XADD pipelined ({BATCH} a batch): raw redis-py", _raw_pipelined, 1.0),
    ("XADD pipelined: streamlab Producer.burst(n)", _producer_burst, 1.0),
]


def xadd_throughput(r: redis.Redis, n: int = 20_000, rounds: int = 3) -> list[Row]:
    """msgs/s of each XADD case, and streamlab / raw ratios, over ``rounds`` rounds of ``n`` entries."""
    rows = {label: Row(label, "msgs/s") for label, _, _ in XADD_CASES}
    each_ratio = Row("XADD one call each: Producer / raw", "x")
    pipe_ratio = Row("XADD pipelined: Producer.burst / raw", "x")
    for _ in range(rounds):
        keys = {label: _key() for label, _, _ in XADD_CASES}
        senders = {label: make(r, keys[label]) for label, make, _ in XADD_CASES}
        seconds = dict.fromkeys(keys, 0.0)
        sent = dict.fromkeys(keys, 0)
        try:
            for turn, start in enumerate(range(0, n, CHUNK)):
                size = min(CHUNK, n - start)
                for label, _, share in (XADD_CASES[::-1] if turn % 2 else XADD_CASES):
                    count = max(1, int(size * share))
                    began = time.perf_counter()
                    senders[label](count)
                    seconds[label] += time.perf_counter() - began
                    sent[label] += count
            for label, key in keys.items():
                if r.xlen(key) != sent[label]:
                    raise RuntimeError(f"{label} wrote {r.xlen(key)} entries, not {sent[label]}")
        finally:
            r.delete(*keys.values())
        rate = {label: sent[label] / seconds[label] for label in keys}
        for label, value in rate.items():
            rows[label].values.append(value)
        labels = [label for label, _, _ in XADD_CASES]
        each_ratio.values.append(rate[labels[1]] / rate[labels[0]])
        pipe_ratio.values.append(rate[labels[3]] / rate[labels[2]])
    return [*rows.values(), each_ratio, pipe_ratio]


def redis_benchmark_xadd(url: str, n: int = 100_000) -> list[Row]:
    """``redis-benchmark`` XADD of the same five fields, one connection, unpipelined and ``-P 500``.

    No Python at all: the most this server takes from one client. Empty if
    ``redis-benchmark`` is not installed.
    """
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return []
    parts = urlsplit(url)
    rows = []
    for label, extra, count in (("XADD one call each: redis-benchmark -c 1 (ceiling)", [], n // 4),
                                (f"XADD pipelined: redis-benchmark -c 1 -P {BATCH} (ceiling)",
                                 ["-P", str(BATCH)], n)):
        key = _key()
        cmd = [binary, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
               "-c", "1", "-n", str(count), *extra, "-q",
               "XADD", key, "*", "sensor_id", "sensor1", "temp", "21.50", "humidity", "48.2",
               "seq", "1", "sent_at", "1700000000.000000"]
        if parts.password:
            cmd[1:1] = ["-a", parts.password, "--no-auth-warning"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
        finally:
            with sl_backend.connect(url, quiet=True) as r:
                r.delete(key)
        found = re.findall(r"([\d.]+) requests per second", out)
        if found:
            rows.append(Row(label, "msgs/s", [float(found[-1])]))
    return rows


# --- XREADGROUP + XACK --------------------------------------------------------------

def _fill_with_group(r: redis.Redis, key: str, n: int) -> None:
    """``n`` entries (pipelined XADD) and a group ``bench`` at the start (``XGROUP CREATE key bench 0``)."""
    _raw_pipelined(r, key)(n)
    r.xgroup_create(key, GROUP, id="0")


def raw_read_ack(r: redis.Redis, key: str, n: int, ack_each: bool = False) -> int:
    """``XREADGROUP ... COUNT 100`` then ``XACK`` (one call for the batch, or one per entry) until ``n`` are done."""
    done = 0
    while done < n:
        reply = r.xreadgroup(GROUP, "raw", {key: ">"}, count=READ_COUNT)
        if not reply or not reply[0][1]:
            break
        ids = [entry_id for entry_id, _ in reply[0][1]]
        if ack_each:
            for entry_id in ids:
                r.xack(key, GROUP, entry_id)
        else:
            r.xack(key, GROUP, *ids)
        done += len(ids)
    return done


def pool_read_ack(r: sl_backend.Client, key: str, n: int, timeout: float = 120,
                  ack: str = "entry") -> tuple[int, float]:
    """A one-consumer ``ConsumerPool`` (COUNT 100, no processing time) until ``n`` are acked.

    ``ack="entry"``: one ``XACK`` per entry as it finishes (the default);
    ``ack="batch"``: one ``XACK`` per batch of 100. Returns (entries acked, seconds from
    ``start()`` to the last of them).
    """
    pool = ConsumerPool(r, key, GROUP, consumers=1, processing="fixed", seconds=0, start_id="0",
                        count=READ_COUNT, name=f"bench:{key}", ack=ack)
    began = time.perf_counter()
    pool.start()
    try:
        # Told by the consumer's own thread: polling from here would take the GIL from it.
        pool.wait_processed(n, timeout)
        # The clock stops at the n-th ack, as the raw loop's does: stop() then waits for the
        # consumer's last XREADGROUP BLOCK to time out, which is not work.
        elapsed = time.perf_counter() - began
    finally:
        done = pool.total_processed
        pool.stop()
    return done, elapsed


RAW_BATCH = "XREADGROUP+XACK: raw redis-py, COUNT 100, one XACK a batch"
RAW_EACH = "XREADGROUP+XACK: raw redis-py, COUNT 100, one XACK an entry"
POOL_BATCH = 'XREADGROUP+XACK: ConsumerPool(ack="batch"), 1 consumer, COUNT 100'
POOL_EACH = "XREADGROUP+XACK: ConsumerPool (ack per entry, default), 1 consumer, COUNT 100"

CONSUME_CASES = [
    (RAW_BATCH, lambda r, key, n: raw_read_ack(r, key, n)),
    (RAW_EACH, lambda r, key, n: raw_read_ack(r, key, n, ack_each=True)),
    (POOL_BATCH, lambda r, key, n: pool_read_ack(r, key, n, ack="batch")),
    (POOL_EACH, lambda r, key, n: pool_read_ack(r, key, n, ack="entry")),
]


def consume_throughput(r: sl_backend.Client, n: int = 20_000, rounds: int = 3) -> list[Row]:
    """Entries read and acked per second by each case, and the pool / raw ratios (like with like).

    Each case reads its own stream of ``n`` entries; the order of the cases
    turns round every round. After each case nothing may be left pending.
    """
    rows = {label: Row(label, "msgs/s") for label, _ in CONSUME_CASES}
    vs_batch = Row('XREADGROUP+XACK: ConsumerPool(ack="batch") / raw (XACK a batch)', "x")
    vs_each = Row("XREADGROUP+XACK: ConsumerPool (ack per entry) / raw (XACK an entry)", "x")
    for round_number in range(rounds):
        rate = {}
        shift = round_number % len(CONSUME_CASES)
        for label, run in CONSUME_CASES[shift:] + CONSUME_CASES[:shift]:
            key = _key()
            try:
                _fill_with_group(r, key, n)
                began = time.perf_counter()
                done = run(r, key, n)
                elapsed = time.perf_counter() - began
                if isinstance(done, tuple):  # the pool times itself (see pool_read_ack)
                    done, elapsed = done
                pending = r.xpending(key, GROUP)["pending"]
                if done != n or pending:
                    raise RuntimeError(f"{label}: acked {done} of {n}, {pending} left pending")
            finally:
                r.delete(key)
            rate[label] = n / elapsed
            rows[label].values.append(rate[label])
        vs_batch.values.append(rate[POOL_BATCH] / rate[RAW_BATCH])
        vs_each.values.append(rate[POOL_EACH] / rate[RAW_EACH])
    return [*rows.values(), vs_batch, vs_each]


# --- partitioned throughput on a cluster ----------------------------------------------------

def partitioned_throughput(n: int = 30_000, partitions: int = 6, processes=(1, 2),
                           rounds: int = 3) -> list[Row]:
    """Entries/s that ``streamlab consume --partitions P`` processes drain from a private cluster.

    ``n`` entries (sensor readings of 60 sensors, routed to ``partitions``
    partition streams) are loaded first; then ``k`` consumer processes
    (``--member i/k``, ``COUNT 100``, an ``XACK`` per entry) empty them. Each
    process prints the time of its first and last entry; the rate is
    ``n / (last of all - first of all)``, so process start-up is not counted.
    """
    from . import cluster as sl_cluster
    from . import partitions as parts

    rows = {k: Row(f"Partitioned consume, P={partitions}, {k} consumer process{'es' if k > 1 else ''}, "
                   "3-shard private cluster", "msgs/s") for k in processes}
    pc = sl_cluster.PrivateCluster().start()
    try:
        rc = sl_cluster.connect(pc.url, quiet=True)
        env = {**os.environ, "REDIS_URL": pc.url, "STREAMLAB_BACKEND": "env"}
        for _ in range(rounds):
            for k in processes:
                base = _key()
                parts.produce(rc, "s", base, partitions, keys=60, rate=1e9, count=n, out=lambda _: None)
                procs = [subprocess.Popen(
                    [sys.executable, "-m", "streamlab.cli", "consume", "bench", f"c{i + 1}", "--stream", base,
                     "--partitions", str(partitions), "--member", f"{i + 1}/{k}", "--count", str(READ_COUNT),
                     "--block", "200", "--idle-exit", "1"],
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(k)]
                firsts, lasts, total = [], [], 0
                for proc in procs:
                    out, err = proc.communicate(timeout=600)
                    if proc.returncode:
                        raise RuntimeError(f"partitioned consumer failed: {err.strip()}")
                    # Each partition's loop reports too ("[p3] c1: stopped after ..."); the
                    # process's own summary, unprefixed, comes last.
                    m = re.findall(r"^\S+: first ([\d.]+) last ([\d.]+)", out, re.M)[-1]
                    done = re.findall(r"^\S+: stopped after (\d+) entries", out, re.M)[-1]
                    firsts.append(float(m[0]))
                    lasts.append(float(m[1]))
                    total += int(done)
                for p in range(partitions):
                    rc.delete(parts.partition_key(base, p))
                if total != n:
                    raise RuntimeError(f"partitioned consumers processed {total} of {n}")
                rows[k].values.append(n / (max(lasts) - min(firsts)))
        rc.close()
    finally:
        pc.stop()
    return list(rows.values())


# --- wake-up latency ------------------------------------------------------------------

def wakeup_latency(r: sl_backend.Client, samples: int = 300) -> list[float]:
    """Seconds from just before ``XADD`` on ``r`` to the return of ``XREAD BLOCK`` on another client.

    The writer waits until the reader is about to block, gives it 2 ms to get
    there, then adds one entry carrying its own ``perf_counter()``.
    """
    key = _key()
    reader_client = r.new_client()
    latencies: list[float] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    def reader() -> None:
        last = "0-0"
        try:
            for _ in range(samples):
                ready.set()
                reply = reader_client.xread({key: last}, count=1, block=10_000)
                now = time.perf_counter()
                if not reply:
                    return
                last, fields = reply[0][1][0]
                latencies.append(now - float(fields["t"]))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=reader, name="streamlab-bench:reader", daemon=True)
    thread.start()
    try:
        for _ in range(samples):
            if not ready.wait(15) or failure:
                break
            ready.clear()
            time.sleep(0.002)
            r.xadd(key, {"t": repr(time.perf_counter())})
        thread.join(15)
    finally:
        reader_client.close()
        r.delete(key)
    if failure:
        raise failure[0]
    return latencies


def latency_rows(r: redis.Redis, samples: int = 300, rounds: int = 3) -> list[Row]:
    p50, p99 = Row("XREAD BLOCK wake-up latency p50", "ms"), Row("XREAD BLOCK wake-up latency p99", "ms")
    for _ in range(rounds):
        values = sorted(wakeup_latency(r, samples))
        p50.values.append(1000 * _percentile(values, 50))
        p99.values.append(1000 * _percentile(values, 99))
    return [p50, p99]


def _percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


# --- the sampler's cost -------------------------------------------------------------------

def command_counts(r: redis.Redis) -> dict[str, int] | None:
    """Calls per command since the server started (``INFO commandstats``); None where there is none."""
    try:
        stats = r.info("commandstats")
    except redis.RedisError:
        return None
    if not stats:
        return None
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()
            if isinstance(v, dict) and "calls" in v}


def _commands_between(before: dict | None, after: dict | None) -> int | None:
    if before is None or after is None:
        return None
    # Our own INFO calls are the measurement, not the load.
    return sum(calls - before.get(name, 0) for name, calls in after.items() if name != "info")


def sampler_cost(r: sl_backend.Client, seconds: float = 5, interval: float = 0.1) -> dict:
    """Run a ``Sampler`` alone for ``seconds`` on a stream with a group, some of it pending.

    Returns samples/s, Redis commands/s (``INFO commandstats``; on fakeredis
    counted from the samples: 4 a sample, plus one ``XRANGE`` when the lag had
    to be counted) and CPU % (this process's CPU time over wall time; on
    fakeredis that includes the server, which runs in this process).
    """
    key = _key()
    try:
        _fill_with_group(r, key, 1_000)
        r.xreadgroup(GROUP, "c1", {key: ">"}, count=300)  # something pending to report
        sampler = Sampler(r, key, GROUP, interval=interval, name=f"bench:{key}")
        before = command_counts(r)
        cpu, wall = time.process_time(), time.perf_counter()
        sampler.run_for(seconds)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = command_counts(r)
        commands = _commands_between(before, after)
        counted = commands is not None
        if not counted:
            frame = sampler.stream_frame()
            commands = 4 * sampler.samples + int((frame["lag_source"] == "xrange").sum())
    finally:
        r.delete(key)
    return {"samples_per_s": sampler.samples / wall, "commands_per_s": commands / wall,
            "counted_by_server": counted, "cpu_percent": 100 * cpu / wall}


def dashboard_cost(r: sl_backend.Client, seconds: float = 5, rate: float = 200) -> dict:
    """The whole lesson 03 dashboard (producer, 3 consumers at 1 ms, sampler, live redraws) for ``seconds``."""
    from .ui import ConsumerPoolPanel

    key = _key()
    panel = ConsumerPoolPanel(r, key, GROUP, consumers=3, rate=rate, ms=1, name=f"bench:{key}")
    try:
        before = command_counts(r)
        cpu, wall = time.process_time(), time.perf_counter()
        panel.start()
        time.sleep(seconds)
        panel.stop()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        commands = _commands_between(before, command_counts(r))
    finally:
        panel.close()
        r.delete(key)
    return {"commands_per_s": None if commands is None else commands / wall,
            "cpu_percent": 100 * cpu / wall, "redraws_per_s": panel.refreshes / wall}


def cost_rows(r: sl_backend.Client, seconds: float = 5, rounds: int = 3, dashboard: bool = True) -> list[Row]:
    samples = Row("Sampler: samples/s (interval 0.1 s)", "/s")
    commands = Row("Sampler: Redis commands/s", "cmds/s")
    cpu = Row("Sampler: process CPU", "%")
    whole = [Row("Dashboard (producer 200/s, 3 consumers, sampler, redraws): process CPU", "%"),
             Row("Dashboard: Redis commands/s", "cmds/s"), Row("Dashboard: redraws/s", "/s")]
    for _ in range(rounds):
        s = sampler_cost(r, seconds)
        samples.values.append(s["samples_per_s"])
        commands.values.append(s["commands_per_s"])
        commands.note = "" if s["counted_by_server"] else "(counted)"
        cpu.values.append(s["cpu_percent"])
        if dashboard:
            d = dashboard_cost(r, seconds)
            whole[0].values.append(d["cpu_percent"])
            if d["commands_per_s"] is not None:
                whole[1].values.append(d["commands_per_s"])
            whole[2].values.append(d["redraws_per_s"])
    return [samples, commands, cpu, *(whole if dashboard else [])]


# --- soak -------------------------------------------------------------------------------------

SOAK_SETUP = """
import streamlab as sl
from streamlab.ui import ConsumerPoolPanel
r = sl.connect({url!r}, quiet=True) if {url!r} else sl.connect(backend="fake", quiet=True)
panel = ConsumerPoolPanel(r, {stream!r}, "soak", consumers=3, rate={rate}, ms=1, name="bench-soak")
# Capped (XADD MAXLEN ~): on fakeredis the stream lives in the kernel and would count as its memory.
panel.producer.maxlen, panel.producer.approximate = 10_000, True
display(panel)
panel.start()
"""

SOAK_PROBE = """
print("PROBE", panel.producer.sent, panel.pool.total_processed,
      ",".join(sorted({w.status for w in panel.workers()})), panel.refreshes)
"""

SOAK_TEARDOWN = """
panel.close()
r.delete({stream!r})
import threading
print("THREADS", len([t for t in threading.enumerate() if t.name.startswith("streamlab-")]))
"""


def _rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def _kernel_cell(kc, code: str, timeout: float = 120) -> str:
    """Run ``code`` in the kernel; its stdout. Widget messages met on the way are dropped."""
    msg_id = kc.execute(code)
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)
    raise TimeoutError(f"the kernel did not finish a cell within {timeout} s")


def _drain(kc, seconds: float) -> None:
    """Read and drop the kernel's widget updates for ``seconds``, so they never pile up here."""
    import queue

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            kc.get_iopub_msg(timeout=min(0.5, max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            pass


def soak(url: str | None, minutes: float, rate: float = 200, every: float = 30,
         log=print) -> dict:
    """The lesson 03 dashboard in a real Jupyter kernel for ``minutes``: its RSS over time.

    ``url`` None means fakeredis inside the kernel. Returns the RSS samples
    (minutes, MiB), the counters at the end, and the streamlab threads left
    after ``panel.close()``.
    """
    from jupyter_client.manager import KernelManager

    stream = _key() + ":soak"
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        pid = km.provisioner.pid
        _kernel_cell(kc, SOAK_SETUP.format(url=url, stream=stream, rate=rate))
        t0 = time.monotonic()
        rss = [(0.0, _rss_mib(pid))]
        log(f"soak {url or 'fakeredis'}: 0.0 min, kernel RSS {rss[0][1]:.1f} MiB")
        while (elapsed := time.monotonic() - t0) < minutes * 60:
            _drain(kc, min(every, minutes * 60 - elapsed))
            rss.append(((time.monotonic() - t0) / 60, _rss_mib(pid)))
            log(f"soak {url or 'fakeredis'}: {rss[-1][0]:.1f} min, kernel RSS {rss[-1][1]:.1f} MiB")
        probe = _kernel_cell(kc, SOAK_PROBE).split("PROBE", 1)[1].split()
        threads = _kernel_cell(kc, SOAK_TEARDOWN.format(stream=stream)).split("THREADS", 1)[1].strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return {"rss": rss, "sent": int(probe[0]), "processed": int(probe[1]), "statuses": probe[2],
            "redraws": int(probe[3]), "threads_after_close": int(threads)}


def soak_rows(result: dict) -> list[Row]:
    start, end = result["rss"][0][1], result["rss"][-1][1]
    minutes = result["rss"][-1][0]
    minutes = round(minutes, 1) if minutes < 1 else round(minutes)
    return [Row(f"Soak {minutes:g} min: kernel RSS at start", "MiB", [start]),
            Row(f"Soak {minutes:g} min: kernel RSS at end", "MiB", [end]),
            Row(f"Soak {minutes:g} min: kernel RSS growth (target < {SOAK_LIMIT_MIB:.0f})", "MiB",
                [end - start]),
            Row(f"Soak {minutes:g} min: kernel RSS max", "MiB", [max(v for _, v in result["rss"])]),
            Row(f"Soak {minutes:g} min: entries produced / processed", "msgs/s",
                [result["sent"] / (minutes * 60)],
                f"({result['sent']:,} / {result['processed']:,})"),
            Row(f"Soak {minutes:g} min: dashboard redraws", "/s", [result["redraws"] / (minutes * 60)]),
            Row(f"Soak {minutes:g} min: streamlab threads left after panel.close()", "threads",
                [result["threads_after_close"]])]


# --- the table --------------------------------------------------------------------------------

def markdown(columns: dict[str, list[Row]]) -> str:
    """One row per measured quantity, one column per backend: median (min–max) over the rounds."""
    labels: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for backend_name, rows in columns.items():
        for row in rows:
            key = (row.label, row.unit)
            if key not in cells:
                labels.append(key)
                cells[key] = {}
            cells[key][backend_name] = row.cell()
    names = list(columns)
    lines = ["| measure | unit | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    for key in labels:
        lines.append(f"| {key[0]} | {key[1]} | "
                     + " | ".join(cells[key].get(b, "-") for b in names) + " |")
    return "\n".join(lines)


def machine(urls: dict[str, str | None] | None = None) -> list[str]:
    """What the numbers were measured on: cores, memory, CPU, load, Python and library versions."""
    import fakeredis

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    except OSError:
        cpu = platform.processor() or "?"
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            mem = f"{int(fh.readline().split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines = [f"- {os.cpu_count()} cores ({cpu}), {mem} memory, load average {load} at the start",
             f"- Python {platform.python_version()}, redis-py {redis.__version__}, "
             f"fakeredis {fakeredis.__version__}, {platform.system()} {platform.release()}"]
    for name, url in (urls or {}).items():
        if url:
            with sl_backend.connect(url, quiet=True) as r:
                lines.append(f"- {name}: {r.backend.server_name} {r.backend.version_text} at "
                             f"{sl_backend.redact(url)}")
    return lines


def measure_backend(r: sl_backend.Client, args, url: str | None) -> list[Row]:
    rows = xadd_throughput(r, args.n, args.rounds)
    if url:
        rows += redis_benchmark_xadd(url)
    rows += consume_throughput(r, args.n, args.rounds)
    rows += latency_rows(r, args.samples, args.rounds)
    rows += cost_rows(r, args.seconds, args.rounds)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamlab.bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a real server to measure instead of a private one")
    parser.add_argument("--backend", choices=("both", "real", "fake"), default="both")
    parser.add_argument("-n", type=int, default=20_000, help="entries per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=300, help="wake-ups per latency round")
    parser.add_argument("--seconds", type=float, default=5, help="length of each sampler-cost run")
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="also run the dashboard in a kernel this long and report its memory")
    parser.add_argument("--partitioned", action="store_true",
                        help="also measure streamlab consume --partitions 6 on a private cluster (1 and 2 processes)")
    parser.add_argument("--no-throughput", action="store_true",
                        help="skip the throughput, latency and cost measures (with --soak)")
    parser.add_argument("--learners", metavar="N[,N...]",
                        help="instead: the workshop load benchmark, N learners doing lesson 03's "
                             "workload at once, each N in turn (streamlab.loadbench)")
    parser.add_argument("--load-seconds", type=float, default=20,
                        help="how long each learner's producer runs in the load benchmark (default 20)")
    args = parser.parse_args(argv)
    if args.learners:
        return load_main(args)

    private = None
    columns: dict[str, list[Row]] = {}
    try:
        real_url = None
        if args.backend in ("both", "real"):
            real_url = args.url
            if real_url is None:
                private = sl_server.PrivateServer().start()
                real_url = private.url
        real_name = "real server" if args.url else "private redis-server"
        print("Machine:\n" + "\n".join(machine({real_name: real_url})) + "\n", flush=True)
        targets = []
        if real_url:
            targets.append((real_name, real_url))
        if args.backend in ("both", "fake"):
            targets.append(("fakeredis", None))
        for name, url in targets:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            rows: list[Row] = []
            if not args.no_throughput:
                r = sl_backend.connect(url, quiet=True) if url else sl_backend.connect(backend="fake", quiet=True)
                try:
                    rows += measure_backend(r, args, url)
                finally:
                    r.close()
            if args.soak:
                rows += soak_rows(soak(url, args.soak, log=lambda text: print(text, file=sys.stderr)))
            columns[name] = rows
        if args.partitioned and real_url:
            print("measuring the partitioned pipeline on a private cluster ...", file=sys.stderr, flush=True)
            columns[real_name] += partitioned_throughput(rounds=args.rounds)
    finally:
        if private is not None:
            private.stop()
    if not args.no_throughput:
        print(f"Median of {args.rounds} rounds (lowest–highest in brackets); {args.n:,} entries per "
              f"throughput case and round, {args.samples} wake-ups per latency round.\n")
    print(markdown(columns))
    print()
    for line in verdicts(columns):
        print(line)
    return 0


def load_main(args) -> int:
    """``--learners``: the workshop load sweep on ``--url`` or a private server (``loadbench``)."""
    from . import loadbench

    try:
        counts = [int(n) for n in args.learners.split(",")]
        if not counts or min(counts) < 1:
            raise ValueError
    except ValueError:
        print(f"--learners takes learner counts of 1 or more, e.g. 1,2,4,8; got {args.learners!r}.",
              file=sys.stderr)
        return 2
    private = None
    try:
        url = args.url
        if url is None:
            private = sl_server.PrivateServer().start()
            url = private.url
        print("Machine:\n" + "\n".join(machine({"server": url})) + "\n", flush=True)
        print(f"Each learner: producer {loadbench.RATE}/s for {args.load_seconds:g} s, "
              f"{loadbench.CONSUMERS} consumers (one slow, {loadbench.MS} ms/entry, COUNT "
              f"{loadbench.COUNT}), the sampler every 0.1 s; then the backlog drained.\n")
        print(loadbench.HEADER, flush=True)
        rows = loadbench.sweep(url, counts, args.load_seconds)
    finally:
        if private is not None:
            private.stop()
    for where, in_server in (("as the learners measured it", False), ("inside the server", True)):
        best = loadbench.largest_sustained(rows, in_server=in_server)
        print(f"Largest N with p99 < {loadbench.TARGET_P99_MS:g} ms {where} and every ledger exact: "
              f"{best if best is not None else 'none of those tried'}.")
    print(f"Load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    return 0


def verdicts(columns: dict[str, list[Row]]) -> list[str]:
    """One line per target: streamlab / raw >= 0.9x, lessons < 60 s, soak growth < 50 MiB."""
    lines = []
    for name, rows in columns.items():
        for row in rows:
            if row.unit == "x":
                ok = row.median >= TARGET_RATIO
                lines.append(f"{name}: {row.label} = {row.median:.3f}x "
                             f"({'meets' if ok else 'MISSES'} the {TARGET_RATIO}x target)")
            elif row.label.startswith("Lesson "):
                ok = row.median < LESSON_LIMIT and not row.note
                lines.append(f"{name}: {row.label} {row.median:.1f} s {row.note}"
                             f"({'meets' if ok else 'MISSES'} the {LESSON_LIMIT:.0f} s target)")
            elif "RSS growth" in row.label:
                ok = row.median < SOAK_LIMIT_MIB
                lines.append(f"{name}: kernel RSS grew {row.median:.1f} MiB "
                             f"({'meets' if ok else 'MISSES'} the {SOAK_LIMIT_MIB:.0f} MiB target)")
    return lines


if __name__ == "__main__":
    sys.exit(main())
