"""``ProducerPanel``: a ``Producer`` (paced ``XADD``) with controls and live counters (lesson 01)."""

from __future__ import annotations

import html
import math
import threading
from datetime import datetime

import ipywidgets as W
import redis

from . import style
from .. import workers
from ..explain import explain
from ..producer import MAX_RATE, MIN_RATE, Producer
from .panel import Panel, button_row

TAIL_ROWS = 5


class ProducerPanel(Panel):
    """A ``Producer`` (paced ``XADD`` of sensor readings) with controls and live counters.

    Controls: stream key, sensor names, rate (log slider, 1 to 10,000 msgs/s),
    Start/Stop, Burst N. Shows sent, achieved rate, ``XLEN`` and the newest
    entries (``XREVRANGE key + - COUNT 5``). Python API: ``start()``, ``stop()``,
    ``run_for(seconds)``, ``burst(n)``; ``panel.producer`` is the worker itself.
    """

    def __init__(self, r: redis.Redis, stream: str,
                 sensors=("sensor1", "sensor2", "sensor3"), rate: float = 10,
                 maxlen: int | None = None, name: str | None = None, burst_size: int = 1000,
                 **producer_options):
        self.r = r
        self.producer = Producer(r, stream, sensors=sensors, rate=rate, maxlen=maxlen,
                                 name=name, **producer_options)
        super().__init__(f"panel:{self.producer.name}")
        self.xlen: int | None = None
        self.tail: list[tuple[str, dict]] = []
        self._burst_thread: threading.Thread | None = None
        self._burst_cancel = threading.Event()
        self._burst_error: BaseException | None = None

        self.stream_box = W.Text(value=stream, description="stream", continuous_update=False)
        self.sensors_box = W.Text(value=", ".join(self.producer.sensors), description="sensors",
                                  continuous_update=False)
        self.rate_slider = W.FloatLogSlider(
            value=self.producer.rate, base=10, min=math.log10(MIN_RATE), max=math.log10(MAX_RATE),
            step=0.01, description="msgs/s",
            readout_format=",.0f", continuous_update=False,
            layout=W.Layout(width="420px"),
        )
        self.start_button = W.Button(description="Start", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.burst_size = W.BoundedIntText(value=burst_size, min=1, max=1_000_000,
                                           description="burst N", layout=W.Layout(width="180px"))
        self.burst_button = W.Button(description="Burst", icon="bolt")
        self.counters = W.HTML()
        self.tail_view = W.HTML()

        self.start_button.on_click(self._report(self.start))
        self.stop_button.on_click(self._report(self.stop))
        self.burst_button.on_click(self._report(self._burst_in_background))
        self.rate_slider.observe(self._report(self._apply_rate), names="value")
        self.stream_box.observe(self._report(self._apply_target), names="value")
        self.sensors_box.observe(self._report(self._apply_target), names="value")

        # The same order in every panel: settings (the rate first), buttons, counters, status, picture.
        self.widget = W.VBox([
            self.rate_slider,
            W.HBox([self.stream_box, self.sensors_box]),
            button_row(self.start_button, self.stop_button, self.burst_size, self.burst_button),
            self.counters,
            self.status,
            self.tail_view,
        ])
        self.redraw()

    # --- Python API ------------------------------------------------------------
    def workers(self) -> list[workers.Worker]:
        return [self.producer]

    def busy(self) -> bool:
        thread = self._burst_thread
        return self.producer.running or (thread is not None and thread.is_alive())

    def start(self) -> "ProducerPanel":
        """Start producing at the slider's rate (``XADD`` on a background thread)."""
        if self._closed:
            raise RuntimeError(f"This panel is stopped for good ({self.closed_reason}); "
                               f"make a new one.")
        self._burst_error = None
        self.producer.start()
        self.start_refresher()
        self.redraw()
        return self

    def stop(self) -> "ProducerPanel":
        """Stop the producer, a Burst-button burst and the refresher; show the final numbers."""
        thread = self._burst_thread
        if thread is not None:
            self._burst_cancel.set()
            thread.join()
            self._burst_thread = None
        return super().stop()

    def burst(self, n: int) -> "ProducerPanel":
        """Send ``n`` entries at full speed (pipelined ``XADD``); returns when they are in.

        The Burst box shows ``n`` afterwards, so the panel says what was last sent.
        """
        self.producer.burst(n)
        if self.burst_size.min <= n <= self.burst_size.max:
            self.burst_size.value = n
        self.redraw()
        return self

    @property
    def rate(self) -> float:
        return self.producer.rate

    @rate.setter
    def rate(self, value: float) -> None:
        self.producer.rate = value
        self.rate_slider.value = self.producer.rate

    # --- widget callbacks ----------------------------------------------------------
    def _apply_rate(self) -> None:
        self.producer.rate = self.rate_slider.value

    def _apply_target(self) -> None:
        """New stream key or sensors from the text boxes; a running producer restarts on them."""
        was_running = self.producer.running
        self.producer.retarget(self.stream_box.value.strip(), self.sensors_box.value)
        if was_running:
            self.start()
        self.redraw()

    def _burst_in_background(self) -> None:
        # A click must not block the kernel: the burst runs on its own short-lived thread.
        if self._burst_thread is not None and self._burst_thread.is_alive():
            return
        n = self.burst_size.value
        self._burst_cancel.clear()
        self._burst_error = None

        def run():
            try:
                self.producer.burst(n, cancel=self._burst_cancel)
            except Exception as exc:  # noqa: BLE001 - shown in the status line
                # Kept until the next burst or start, so the refresher's redraw does not hide it.
                self._burst_error = exc
                self.show_error(exc)

        self._burst_thread = threading.Thread(target=run, name=f"streamlab-{self.name}:burst",
                                              daemon=True)
        self._burst_thread.start()
        self.start_refresher()

    # --- drawing ------------------------------------------------------------------
    def status_text(self) -> str:
        p = self.producer
        if self._burst_error is not None:
            return "burst failed: " + explain(self._burst_error)
        if p.status == "reconnecting":
            return f"reconnecting: the server is not answering ({p.error}); retrying with backoff"
        if p.status == "failed" and p.error is not None:
            return "failed: " + explain(p.error)
        if p.status == "idle":
            return "ready: press Start or Burst (or call panel.start(), panel.burst(n))"
        return p.status

    def refresh(self) -> None:
        problem = None
        try:
            self.xlen = self.r.xlen(self.producer.stream)
            self.tail = self.r.xrevrange(self.producer.stream, count=TAIL_ROWS)
        except redis.ResponseError as exc:  # e.g. the key holds another type
            self.xlen, self.tail = None, []
            problem = exc
        except (redis.ConnectionError, redis.TimeoutError):
            pass  # keep the last numbers; the status line says the producer is reconnecting
        self.counters.value = self._counters_html()
        self.tail_view.value = style.table_html(tail_rows(self.tail))
        if self._closed:
            return
        if problem is not None and self.producer.status != "failed":
            self.show_error(problem)
        else:
            level = {"running": "ok", "reconnecting": "warn", "failed": "error"}.get(
                self.producer.status, "info")
            self.set_status(self.status_text(), level)

    def _counters(self) -> list[tuple[str, str]]:
        p = self.producer
        return [
            ("sent", f"{p.sent:,}"),
            # The paced loop's rate, comparable with the slider; bursts are counted in "sent" only.
            ("achieved (paced)", f"{p.achieved_rate:,.0f} msgs/s"),
            ("XLEN", "?" if self.xlen is None else f"{self.xlen:,}"),
            ("last ID", p.last_id or "-"),
            ("errors", f"{p.errors:,}"),
        ]

    def _counters_html(self) -> str:
        return style.counters_html(self._counters())

    def summary(self) -> str:
        p = self.producer
        lines = [f"producer {p.name!r} -> {p.stream!r} at {p.rate:,.0f} msgs/s: {self.status_text()}",
                 "  " + " | ".join(f"{k} {v}" for k, v in self._counters())]
        lines += ["  " + "  ".join(str(v) for v in row.values()) for row in tail_rows(self.tail)]
        return "\n".join(lines)

    def summary_html(self) -> str:
        p = self.producer
        head = (f"<b>producer</b> {html.escape(p.name)} &rarr; <code>{html.escape(p.stream)}</code> "
                f"at {p.rate:,.0f} msgs/s: {html.escape(self.status_text())}")
        return (f"<div>{head}<br>{self._counters_html()}"
                f"{style.table_html(tail_rows(self.tail))}</div>")


def tail_rows(tail) -> list[dict]:
    """The newest entries as table rows, ``sent_at`` (Unix seconds) as a time of day with
    milliseconds (``14:03:27.412``, the machine's clock) rather than a 16-digit float."""
    rows = []
    for entry_id, fields in tail:
        row = {"id": entry_id, **fields}
        try:
            row["sent_at"] = datetime.fromtimestamp(float(fields["sent_at"])).strftime("%H:%M:%S.%f")[:-3]
        except (KeyError, ValueError, OverflowError, OSError):
            pass  # not a producer's entry, or not a time: shown as it is
        rows.append(row)
    return rows
