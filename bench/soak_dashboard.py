"""Soak test of lesson 03's dashboard: kernel memory and redraw rate under load.

Starts a real Jupyter kernel (``python3``), and in it a ``ConsumerPoolPanel``
with a producer at 1,000 msgs/s, 3 consumers and the live dashboard displayed
(so every redraw goes out as a widget message, as in JupyterLab). From outside,
every ``--every`` seconds it records the kernel process's RSS (from /proc) and,
by running a tiny cell, the panel's counters and how long the kernel took to
answer (it must stay responsive while the dashboard runs).

    python bench/soak_dashboard.py --url redis://127.0.0.1:6379/0 --seconds 300

Prints one line per sample and a summary; ``--csv`` also writes the samples.
``--url fake`` runs the same on fakeredis inside the kernel.
Keys: ``streamlab:bench:<hex>:sensors``, deleted at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import queue
import time
import uuid

from jupyter_client.manager import KernelManager

SETUP = """
import streamlab as sl
from streamlab.ui.pool_panel import ConsumerPoolPanel
r = sl.connect(backend="fake", quiet=True) if {url!r} == "fake" else sl.connect({url!r}, quiet=True)
panel = ConsumerPoolPanel(r, {stream!r}, "soak", consumers=3, rate={rate}, processing="fixed",
                          ms={ms}, count={count}, name="soak")
display(panel)
panel.start()
"""

PROBE = """
import json, resource
f = panel.sampler.stream_frame()
print("PROBE" + json.dumps(dict(
    refresh_rate=panel.refresh_rate, refreshes=panel.refreshes,
    refresh_ms=1000 * panel.refresh_seconds / max(panel.refreshes, 1),
    sent=panel.producer.sent, processed=panel.pool.total_processed,
    lag=None if f.empty else f["lag"].iloc[-1], pending=None if f.empty else int(f["pending"].iloc[-1]),
    xlen=None if f.empty else int(f["xlen"].iloc[-1]), sampler_rows=panel.sampler.memory_rows,
    records=len(panel.pool._records), statuses=sorted({w.status for w in panel.workers()}),
    out_of_order=panel.pool.out_of_order), default=float))
"""

TEARDOWN = """
panel.close()
r.delete({stream!r})
import threading
print("THREADS" + ",".join(t.name for t in threading.enumerate()))
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def run_cell(kc, code: str, timeout: float = 60) -> tuple[str, float, int]:
    """Execute ``code``; return (its stdout, seconds until the reply, comm messages seen meanwhile)."""
    began = time.monotonic()
    msg_id = kc.execute(code)
    out, comms, done = [], 0, False
    while not done:
        msg = kc.get_iopub_msg(timeout=timeout)
        kind = msg["header"]["msg_type"]
        if kind == "comm_msg":
            comms += 1
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            done = True
    return "".join(out), time.monotonic() - began, comms


def drain_iopub(kc) -> int:
    """Read (and count) widget messages queued since the last cell, so none pile up here."""
    comms = 0
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=0)
        except queue.Empty:
            return comms
        comms += msg["header"]["msg_type"] == "comm_msg"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0", help='a Redis URL, or "fake"')
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--every", type=float, default=15)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--ms", type=float, default=1.0, help="processing time per entry")
    ap.add_argument("--count", type=int, default=10, help="XREADGROUP COUNT")
    ap.add_argument("--csv")
    args = ap.parse_args()

    stream = f"streamlab:bench:{uuid.uuid4().hex[:8]}:sensors"
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    pid = km.provisioner.pid
    samples = []
    try:
        run_cell(kc, "import streamlab")
        rss_before = rss_kib(pid)
        run_cell(kc, SETUP.format(url=args.url, stream=stream, rate=args.rate, ms=args.ms, count=args.count))
        t0 = time.monotonic()
        comms_total = 0
        while True:
            time.sleep(max(0.0, args.every - ((time.monotonic() - t0) % args.every)))
            comms_total += drain_iopub(kc)
            out, answered_in, comms = run_cell(kc, PROBE)
            comms_total += comms
            probe = json.loads(out.split("PROBE", 1)[1])
            elapsed = time.monotonic() - t0
            row = dict(t=round(elapsed, 1), rss_mib=round(rss_kib(pid) / 1024, 1),
                       cell_ms=round(answered_in * 1000, 1), widget_msgs=comms_total, **probe)
            samples.append(row)
            print(json.dumps(row), flush=True)
            if elapsed >= args.seconds:
                break
        out, _, _ = run_cell(kc, TEARDOWN.format(stream=stream))
        threads = out.split("THREADS", 1)[1].strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    first, last = samples[0], samples[-1]
    print(f"\nkernel RSS: {rss_before / 1024:.1f} MiB after import, {first['rss_mib']} MiB at "
          f"{first['t']} s, {last['rss_mib']} MiB at {last['t']} s "
          f"(max {max(s['rss_mib'] for s in samples)} MiB)")
    print(f"produced {last['sent']:,}, processed {last['processed']:,} "
          f"({last['sent'] / last['t']:.0f} msgs/s), lag at the end {last['lag']}")
    rates = [s["refresh_rate"] for s in samples]
    print(f"redraws/s: min {min(rates):.2f}, mean {sum(rates) / len(rates):.2f}; mean redraw cost "
          f"{last['refresh_ms']:.0f} ms; widget messages seen {last['widget_msgs']:,}")
    print(f"a 1-line cell answered in {min(s['cell_ms'] for s in samples):.0f}-"
          f"{max(s['cell_ms'] for s in samples):.0f} ms while it ran")
    print(f"threads left in the kernel after close(): {threads}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(samples[0]))
            w.writeheader()
            w.writerows(samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
