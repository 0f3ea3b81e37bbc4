"""Lesson 09's Try-it panel: run the partitioned pipeline with your own P, sensors and rate.

Python API (what the lesson calls, so the executed notebook shows results):
``panel.run(partitions=6, sensors=12, rate=300, seconds=3)``.

Where results go: a press of **Run** draws into the panel's ``Output`` widget;
``panel.run(...)`` from a cell shows them as that cell's own output and leaves
the ``Output`` widget alone. Writing into an ``Output`` widget from a cell makes
the front end route that cell's messages through the widget (``with out:``
sets the widget's ``msg_id``), and a notebook executor (nbclient, used by
``tools/run_notebook.py`` and the book build) then sometimes waited for the
cell's full timeout before starting the next cell (seen: 116-120 s). Under
``STREAMLAB_STATIC=1`` (the book) the panel shows as a static picture (``Panel``).
"""

from __future__ import annotations

import ipywidgets as w
from IPython.display import display

from .. import workers
from ..partitions import PartitionedPipeline, partition_keys
from .figures import cluster
from .panel import Panel


class PartitionPanel(Panel):
    """Sliders for partitions, sensors, rate and seconds, a Run button, and the dashboard below.

    A ``Panel``: its status line says what the last run did (``refresh()``),
    ``start()`` is one run with the sliders' settings, and ``run_for(seconds)`` is one run
    with the sliders' settings for ``seconds`` instead of the seconds slider (it ends early if
    the pipeline's workers all end by themselves, and the pipeline is stopped either way).
    """

    def __init__(self, r, base: str = "lesson09:try"):
        self.r, self.base = r, base
        self.last: PartitionedPipeline | None = None
        self._running: PartitionedPipeline | None = None
        super().__init__(f"panel:partitions:{base}")
        self.partitions = w.IntSlider(6, min=1, max=12, description="partitions")
        self.sensors = w.IntSlider(12, min=1, max=48, description="sensors")
        self.rate = w.IntSlider(300, min=50, max=2000, step=50, description="readings/s",
                                style={"description_width": "initial"}, layout=w.Layout(width="420px"))
        self.seconds = w.FloatSlider(3, min=1, max=10, step=0.5, description="seconds")
        self.button = w.Button(description="Run", button_style="primary")
        self.out = w.Output()
        self.button.on_click(self._report(self._clicked))
        # The same order as every panel: the rate first, the other settings, the button, the
        # status line, results.
        self.widget = w.VBox([self.rate, w.HBox([self.partitions, self.sensors, self.seconds]),
                              self.button, self.status, self.out])
        self.redraw()

    def workers(self) -> list[workers.Worker]:
        pipe = self._running
        if pipe is None:
            return []
        return [pipe.producer, pipe.sampling, *pipe.pool.consumers.values()]

    def _run_once(self, partitions, sensors, rate, seconds, duration: float | None = None):
        """Set the sliders, run the pipeline (``PartitionedPipeline.run_for``) for ``duration``
        seconds (default: the seconds slider); (summary, figure)."""
        for slider, value in ((self.partitions, partitions), (self.sensors, sensors),
                              (self.rate, rate), (self.seconds, seconds)):
            if value is not None:
                slider.value = value
        self.button.disabled = True
        try:
            self.r.delete(*partition_keys(self.base, 12))
            pipe = PartitionedPipeline(self.r, self.base, self.partitions.value, self.sensors.value,
                                       self.rate.value)
            self._running = pipe
            self.start_refresher()  # the status line counts while it runs
            pipe.run_for(self.seconds.value if duration is None else duration)
            self.last = pipe
            fig = cluster.partition_dashboard(pipe.sampler.frame(),
                                              f"{self.partitions.value} partitions, "
                                              f"{self.sensors.value} sensors")
            return pipe.summary(), fig
        finally:
            self._running = None
            self.button.disabled = False
            self.stop_refresher()
            self.redraw()

    def run(self, partitions: int | None = None, sensors: int | None = None, rate: float | None = None,
            seconds: float | None = None):
        """Run once with these settings (the sliders' values where not given); show the dashboard
        in this cell and return the summary (one row per partition)."""
        summary, fig = self._run_once(partitions, sensors, rate, seconds)
        display(fig)
        return summary

    def start(self) -> "PartitionPanel":
        """One run with the sliders' settings (what Run does), its results in the panel."""
        self._clicked()
        return self

    def run_for(self, seconds: float) -> "PartitionPanel":
        """One run with the sliders' settings for ``seconds`` (the pipeline's ``run_for``: it
        starts, runs that long or until its workers end by themselves, and stops); the results
        in the panel, like Run; then ``stop()`` (the refresher, the final status line and, in
        static mode, the picture)."""
        try:
            self._clicked(duration=seconds)
        finally:
            self.stop()
        return self

    def _clicked(self, duration: float | None = None) -> None:
        # A press of Run: the panel's own Output widget shows the result (a live front end).
        summary, fig = self._run_once(None, None, None, None, duration)
        self.out.clear_output(wait=True)
        with self.out:
            display(summary)
            display(fig)

    def refresh(self) -> None:
        """The status line: the run in progress, or what the last run processed."""
        self.set_status(self.status_text(), "ok" if self._running is not None else "info")

    def status_text(self) -> str:
        pipe = self._running or self.last
        if pipe is None:
            return "ready: press Run (or call panel.run(partitions=..., sensors=...))"
        processed = sum(list(pipe.pool.processed.values()))
        what = (f"{pipe.partitions} partitions, {len(pipe.sensors)} sensors: "
                f"{pipe.producer.sent:,} sent, {processed:,} processed")
        return f"running: {what}" if pipe is self._running else f"last run: {what}"

    def summary(self) -> str:
        return "Try-it panel (partitions, sensors, rate, seconds)"
