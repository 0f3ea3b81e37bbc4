"""The consumer-pool panel of lesson 03: a producer, a pool of consumers, a sampler and a live dashboard.

::

    panel = ConsumerPoolPanel(r, "lesson03:sensors", "workers", consumers=3, rate=200)
    panel                  # the widget: controls, counters and the live figure
    panel.run_for(8)       # what Start does, for 8 seconds, then drain and stop

What runs, each on its own thread (all ``streamlab`` workers, so
``sl.reset()`` and re-running the cell stop them):

- a ``Producer`` (``XADD`` at ``rate`` msgs/s), unless ``rate=None``;
- a ``ConsumerPool`` (``XREADGROUP`` / process / ``XACK`` per consumer);
- a ``Sampler`` (``XLEN``, ``XINFO GROUPS``, ``XPENDING`` in one pipeline every 0.1 s);
- the panel's refresher (``panel.Refresher``), which redraws the figure into an
  image widget ``hz`` times a second. The kernel stays free: all drawing happens on that thread, and
  ipywidgets 8 sends widget updates from any thread.

Memory is bounded however long it runs: the sampler keeps a window of samples,
the pool a capped record of completions, the figure only its current picture.
"""

from __future__ import annotations

import html
import time
from collections import deque

import ipywidgets as W
import redis

from .. import consumers as C
from .figures import pool
from . import style
from .. import workers
from ..backend import Client
from ..explain import explain
from ..observe import Sampler
from ..producer import Producer
from ..waiting import wait_until
from .panel import Panel, button_row

DEFAULT_HZ = 6


class ConsumerPoolPanel(Panel):
    """Lesson 03's consumer-pool widget and live dashboard (see the module docstring).

    Controls: Start/Stop; producer rate; add and remove consumers; the
    processing time (fixed, random, or one slow consumer) and its length in
    ms; pause/resume one consumer. The figure shows group lag, stream length
    and pending, pending and throughput per consumer, and the ordering plot.

    Python API: ``start()``, ``stop()``, ``run_for(seconds, drain=True)``;
    ``panel.pool``, ``panel.sampler`` and ``panel.producer`` are the workers;
    ``panel.refresh_rate`` is the measured redraws per second.
    """

    def __init__(self, r: Client, stream: str, group: str = "workers", consumers: int = 3,
                 rate: float | None = 200, processing: str = "fixed", ms: float = 5,
                 start_id: str = "$", count: int = 1, hz: float = DEFAULT_HZ, window: float = 30,
                 name: str | None = None, seed: int | None = None, **pool_options):
        self.r = r
        self.hz = float(hz)
        if self.hz <= 0:
            raise ValueError(f"hz must be a positive number of redraws per second, got {hz!r}.")
        self.refresh_interval = 1 / self.hz
        name = name or f"pool-panel:{stream}:{group}"
        self.pool = C.ConsumerPool(r, stream, group, consumers=consumers, processing=processing,
                                   seconds=ms / 1000, start_id=start_id, count=count,
                                   name=f"{name}:pool", seed=seed, **pool_options)
        self.sampler = Sampler(r, stream, group, pool=self.pool, interval=0.1, window=window,
                               name=f"{name}:sampler")
        self.producer = Producer(r, stream, rate=rate, name=f"{name}:producer") if rate else None
        self.figure = pool.PoolFigure(window=window, title=f"{stream} · group {group}")
        self._refresh_times: deque = deque(maxlen=50)
        self.refresh_seconds = 0.0
        self.refreshes = 0
        super().__init__(name)
        self._build_widgets(rate, processing, ms)
        self.redraw()

    # --- widgets -------------------------------------------------------------------
    def _build_widgets(self, rate, processing, ms) -> None:
        self.start_button = W.Button(description="Start", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.add_button = W.Button(description="Add consumer", icon="plus", layout=W.Layout(width="auto"))
        self.remove_button = W.Button(description="Remove consumer", icon="minus",
                                      layout=W.Layout(width="auto"))
        self.mode = W.Dropdown(options=[("fixed", "fixed"), ("random", "random"),
                                        ("one slow consumer", "one-slow")],
                               value=processing, description="processing",
                               layout=W.Layout(width="260px"))
        self.ms = W.FloatLogSlider(value=ms, base=10, min=-1, max=3, step=0.05, description="ms/entry",
                                   readout_format=".1f", continuous_update=False)
        self.pause_choice = W.Dropdown(options=list(self.pool.consumers), description="consumer",
                                       layout=W.Layout(width="200px"))
        self.pause_button = W.ToggleButton(description="Pause", icon="pause")
        self.rate_slider = W.FloatLogSlider(value=rate or 1, base=10, min=0, max=4, step=0.01,
                                            description="msgs/s", readout_format=",.0f",
                                            continuous_update=False, disabled=self.producer is None,
                                            layout=W.Layout(width="420px"))
        self.counters = W.HTML()
        # Shown at the figure's page width; the picture has twice its pixels, so it stays sharp.
        self.image = W.Image(format="jpeg", layout=W.Layout(width=f"{self.figure.display_px}px",
                                                            max_width="100%"))

        self.start_button.on_click(self._report(self.start))
        self.stop_button.on_click(self._report(self.stop))
        self.add_button.on_click(self._report(self._add))
        self.remove_button.on_click(self._report(self._remove))
        self.mode.observe(self._report(self._apply_processing), names="value")
        self.ms.observe(self._report(self._apply_processing), names="value")
        self.pause_choice.observe(self._report(self._show_pause_state), names="value")
        self.pause_button.observe(self._report(self._apply_pause), names="value")
        self.rate_slider.observe(self._report(self._apply_rate), names="value")

        # The same order in every panel: settings (the rate first), buttons, counters, status, picture.
        self.widget = W.VBox([
            self.rate_slider,
            button_row(self.start_button, self.stop_button),
            button_row(self.add_button, self.remove_button, self.mode, self.ms),
            button_row(self.pause_choice, self.pause_button),
            self.counters,
            self.status,
            self.image,
        ])

    def _add(self) -> None:
        self.pool.add_consumer()
        self.pool.set_mode(self.mode.value, self.ms.value / 1000)
        self._sync_consumer_choices()

    def _remove(self) -> None:
        if len(self.pool.consumers) <= 1:
            raise ValueError("Keep at least one consumer: with none, nothing reads the stream.")
        self.pool.remove_consumer()
        self._sync_consumer_choices()

    def _sync_consumer_choices(self) -> None:
        self.pause_choice.options = list(self.pool.consumers)

    def _apply_processing(self) -> None:
        self.pool.set_mode(self.mode.value, self.ms.value / 1000)

    def _apply_pause(self) -> None:
        name = self.pause_choice.value
        if name is None:
            return
        if self.pause_button.value:
            self.pool.pause(name)
        else:
            self.pool.resume(name)

    def _show_pause_state(self) -> None:
        c = self.pool.consumers.get(self.pause_choice.value)
        self.pause_button.value = bool(c and c.paused)

    def _apply_rate(self) -> None:
        if self.producer is not None:
            self.producer.rate = self.rate_slider.value

    # --- Python API -------------------------------------------------------------------
    def workers(self) -> list[workers.Worker]:
        return [*([self.producer] if self.producer else []), *list(self.pool.consumers.values()),
                self.sampler]

    def start(self) -> "ConsumerPoolPanel":
        """Create the group if needed (``XGROUP CREATE ... MKSTREAM``), start consumers, sampler, producer."""
        if self._closed:
            raise RuntimeError("This panel was closed or replaced; make a new one.")
        if not self.busy():
            self._refresh_times.clear()  # refresh_rate measures this run's redraws
        self.pool.start()
        self.sampler.start()
        if self.producer is not None:
            self.producer.start()
        self.start_refresher()
        return self

    def stop(self) -> "ConsumerPoolPanel":
        """Stop the producer, then the consumers (each finishes its entry), then the sampler."""
        if self.producer is not None:
            self.producer.stop()
        self.pool.stop()
        self.sampler.stop()
        try:
            self.sampler.sample()  # the final state, so the last point of every line is exact
        except redis.RedisError:
            pass  # the server is gone: the plots keep the last state they saw
        self.stop_refresher()
        self.redraw()
        return self

    def run_for(self, seconds: float, drain: bool = True, drain_timeout: float = 10) -> "ConsumerPoolPanel":
        """``start()``, wait until ``seconds`` pass or the workers end by themselves, ``stop()``;
        with ``drain``, the producer stops first and the consumers finish the backlog (lag and
        pending back to 0, at most ``drain_timeout`` s) before they stop."""
        self.start()
        try:
            wait_until(lambda: not self.busy(), seconds, interval=0.05)
            if drain:
                if self.producer is not None:
                    self.producer.stop()
                self.drain(drain_timeout)
        finally:
            self.stop()  # also on Ctrl-C during the wait or the drain: nothing keeps running
        return self

    def drain(self, timeout: float = 10) -> bool:
        """Wait until the group has no lag and nothing pending (``ConsumerPool.wait_until_idle``)."""
        return self.pool.wait_until_idle(timeout)

    @property
    def refresh_rate(self) -> float:
        """Measured redraws per second over the last 50 redraws (0 before two)."""
        times = list(self._refresh_times)
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    # --- live refresh -------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw the figure from the sampler's frames and update the counters (any thread;
        through ``redraw()``, which shows an error here in the status line)."""
        began = time.monotonic()
        stream, consumers = self.sampler.stream_frame(), self.sampler.consumer_frame()
        ordering = self.pool.ordering_frame(last=pool.ORDERING_WINDOW)
        self.figure.update(stream, consumers, ordering)
        self.image.value = self.figure.picture("JPEG")
        self.counters.value = self._counters_html()
        if not self._closed:
            level = "ok" if self.busy() else "info"
            self.set_status(self.status_text(), level)
        self.refresh_seconds += time.monotonic() - began
        self.refreshes += 1
        self._refresh_times.append(time.monotonic())

    def status_text(self) -> str:
        troubled = [w for w in self.workers() if w.status in ("failed", "reconnecting", "crashed")]
        if troubled:
            w = troubled[0]
            what = explain(w.error) if w.error is not None else w.status
            return f"{w.name}: {w.status}: {what}"
        return "running" if self.busy() else "stopped"

    def _title(self) -> str:
        """The run's settings for the figure's grey line (the headline has the results)."""
        p = self.pool
        rate = f"{self.rate_slider.value:,.0f} msgs/s" if self.producer is not None else "no producer"
        mode = ", one slow" if self.mode.value == "one-slow" else f" ({self.mode.value} time)"
        return (f"{p.stream} · group {p.group} · {style.plural(len(p.consumers), 'consumer')}{mode} · "
                f"{rate} · {self.ms.value:g} ms/entry · COUNT {p.count}")

    def _counters(self) -> list[tuple[str, str]]:
        frame = self.sampler.stream_frame()
        last = frame.iloc[-1] if not frame.empty else None
        per = ", ".join(f"{n} {self.pool.processed.get(n, 0):,}" + (" (paused)" if c.paused else "")
                        for n, c in list(self.pool.consumers.items()))
        out = [("processed", f"{self.pool.total_processed:,} ({per})"),
               ("out of order", f"{self.pool.out_of_order:,}")]
        if last is not None:
            out += [("lag", "?" if last["lag"] is None else f"{int(last['lag']):,}"),
                    ("pending", f"{int(last['pending']):,}"), ("XLEN", f"{int(last['xlen']):,}")]
        if self.producer is not None:
            out.append(("sent", f"{self.producer.sent:,}"))
        # The redraw rate is the panel's own business (``refresh_rate``), not the learner's:
        # in a saved or stopped panel it reads 0/s and looks like a fault.
        return out

    def _counters_html(self) -> str:
        return style.counters_html(self._counters())

    def summary(self) -> str:
        return (f"consumer pool {self.pool.group!r} on {self.pool.stream!r}: {self.status_text()}\n  "
                + " | ".join(f"{k} {v}" for k, v in self._counters()))

    def summary_html(self) -> str:
        return f"<div><b>consumer pool</b> {html.escape(self.pool.group)}: {self._counters_html()}</div>"

    # --- static pictures for an executed notebook -------------------------------------------
    def show(self, ordering: bool = True) -> None:
        """Display the dashboard as a picture, which a saved notebook keeps.

        With ``ordering=True`` the dashboard has its ordering panel and the larger
        ordering plot follows it; with ``ordering=False`` neither is drawn.
        """
        from IPython.display import display

        stream, consumers = self.sampler.stream_frame(), self.sampler.consumer_frame()
        completions = self.pool.ordering_frame()
        display(pool.dashboard_figure(stream, consumers, completions, title=self._title(),
                                       show_ordering=ordering))
        if ordering:
            display(pool.ordering_figure(completions))
