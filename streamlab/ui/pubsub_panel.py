"""Lesson 06's live panel: one publisher, a Pub/Sub subscriber and a stream reader, and
buttons that take both readers offline and bring them back while events keep coming.

The experiment is ``streamlab.pubsub.PubSubVsStreams`` (with its ``Publisher``
worker); this module only wires controls to it and draws its chart
(``figures.pubsub.live_figure``)::

    from streamlab.ui import PubSubPanel
    panel = PubSubPanel(r, rate=20)   # channel and stream lesson06:live
"""

from __future__ import annotations

import ipywidgets as W

from . import style
from ..backend import Client
from ..pubsub import Publisher, PubSubVsStreams, Result
from ..workers import Worker
from .figures import pubsub as pubsub_figures
from .panel import Panel, button_row

#: The live chart's width on the page (CSS px); it is drawn at twice that.
CHART_PX = 760


class PubSubPanel(Panel):
    """The experiment live: a publisher, and buttons that take the readers offline and back.

    Python API (what the notebook calls so an executed notebook shows output):
    ``start()``, ``take_offline()``, ``bring_back()``, ``stop()``, ``run_for(s)``,
    ``result()`` (a ``Result``: ``figures.pubsub.result_figure(panel.result())``).
    """

    def __init__(self, r: Client, prefix: str = "lesson06:", name: str = "live", rate: float = 20):
        self.experiment = PubSubVsStreams(r, prefix=prefix, name=name)
        self.publisher = Publisher(self.experiment, rate)
        super().__init__(f"panel:pubsub-vs-streams:{self.experiment.channel}")
        self._offline_from: float | None = None
        self._offline_windows: list[tuple[float, float]] = []
        self.rate_slider = W.FloatLogSlider(value=rate, base=10, min=0, max=3, step=0.01,
                                            description="msgs/s", readout_format=",.0f",
                                            continuous_update=False, layout=W.Layout(width="420px"))
        self.start_button = W.Button(description="Start", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.offline_button = W.Button(description="Readers offline", icon="plug")
        self.back_button = W.Button(description="Readers back", icon="refresh")
        self.counters = W.HTML()
        # A small chart of what each side received so far: the gap opens while the readers are away.
        self.image = W.Image(format="png", layout=W.Layout(width=f"{CHART_PX}px", max_width="100%"))
        self.start_button.on_click(self._report(self.start))
        self.stop_button.on_click(self._report(self.stop))
        self.offline_button.on_click(self._report(self.take_offline))
        self.back_button.on_click(self._report(self.bring_back))
        self.rate_slider.observe(self._report(self._apply_rate), names="value")
        # The same order in every panel: settings (the rate first), buttons, counters, status, picture.
        self.widget = W.VBox([self.rate_slider,
                              button_row(self.start_button, self.stop_button, self.offline_button,
                                         self.back_button),
                              self.counters, self.status, self.image])
        self.redraw()

    def workers(self) -> list[Worker]:
        return [self.publisher, self.experiment.subscriber, self.experiment.reader]

    def busy(self) -> bool:
        return self.publisher.running

    def start(self) -> "PubSubPanel":
        """Fresh keys, both readers online, the publisher running."""
        if self._closed:
            raise RuntimeError("This panel was closed; make a new one.")
        self.publisher.stop()
        self.experiment.start()
        self._offline_from, self._offline_windows = None, []
        self.publisher.start()
        self.start_refresher()
        return self

    def take_offline(self) -> "PubSubPanel":
        """Both readers go away; the publisher keeps publishing."""
        if self.experiment.subscriber.running or self.experiment.reader.running:
            # The readers first finish what was sent to them (up to a few seconds): they are
            # offline from when that returns, not from the click, and the band says so.
            self.experiment.take_offline()
            self._offline_from = self._now()
        self.redraw()
        return self

    def bring_back(self) -> "PubSubPanel":
        """Both readers come back: the subscriber hears only what comes next, the reader catches up."""
        if self._offline_from is not None:
            self._offline_windows.append((self._offline_from, self._now()))
            self._offline_from = None
            self.experiment.bring_back()
        self.redraw()
        return self

    def stop(self) -> "PubSubPanel":
        """Stop publishing, let the readers that are online catch up, then stop them."""
        self.publisher.stop()
        if self._offline_from is None:
            self.experiment.settle(timeout=5)
        return super().stop()

    def result(self) -> Result:
        windows = list(self._offline_windows)
        if self._offline_from is not None:
            windows.append((self._offline_from, self._now()))
        return self.experiment.result(offline_at=windows[0] if windows else None)

    def _now(self) -> float:
        return self.experiment.elapsed()

    def _counters(self) -> list[tuple[str, str]]:
        e = self.experiment
        online = "offline" if self._offline_from is not None else "online"
        return [("published", f"{e.published:,}"), ("readers", online),
                ("subscriber received", f"{e.subscriber.count:,}"),
                ("subscriber missed", f"{e.published - e.subscriber.count:,}"),
                ("stream reader received", f"{e.reader.count:,}"),
                ("stream reader behind", f"{e.published - e.reader.count:,}")]

    def _apply_rate(self) -> None:
        self.publisher.rate = self.rate_slider.value

    def chart(self):
        """The panel's chart as a figure (``figures.pubsub.live_figure``)."""
        return pubsub_figures.live_figure(self.result(), self.publisher.running, CHART_PX)

    def refresh(self) -> None:
        self.counters.value = style.counters_html(self._counters())
        if self.experiment.published:
            self.image.value = style.to_png(self.chart(), scale=2)  # twice its width on the page
        if not self._closed:
            self.set_status("publishing" if self.publisher.running else "stopped",
                            "ok" if self.publisher.running else "info")

    def summary(self) -> str:
        return "Pub/Sub vs Streams: " + " | ".join(f"{k} {v}" for k, v in self._counters())

