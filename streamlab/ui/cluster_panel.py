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
``STREAMLAB_STATIC=1`` (the book) the panel shows as a static picture.
"""

from __future__ import annotations

import ipywidgets as w
from IPython.display import display

from .figures import cluster as clusterplots
from ..partitions import PartitionedPipeline, partition_keys
from .panel import StaticPicture, static_mode


class PartitionPanel:
    """Sliders for partitions, sensors, rate and seconds, a Run button, and the dashboard below."""

    def __init__(self, r, base: str = "lesson09:try"):
        self.r, self.base = r, base
        self.partitions = w.IntSlider(6, min=1, max=12, description="partitions")
        self.sensors = w.IntSlider(12, min=1, max=48, description="sensors")
        self.rate = w.IntSlider(300, min=50, max=2000, step=50, description="readings/s",
                                style={"description_width": "initial"}, layout=w.Layout(width="420px"))
        self.seconds = w.FloatSlider(3, min=1, max=10, step=0.5, description="seconds")
        self.button = w.Button(description="Run", button_style="primary")
        self.out = w.Output()
        self.button.on_click(lambda _: self._clicked())
        self.last: PartitionedPipeline | None = None

    def _run_once(self, partitions, sensors, rate, seconds):
        """Set the sliders, run the pipeline (``PartitionedPipeline.run_for``); (summary, figure)."""
        for slider, value in ((self.partitions, partitions), (self.sensors, sensors),
                              (self.rate, rate), (self.seconds, seconds)):
            if value is not None:
                slider.value = value
        self.button.disabled = True
        try:
            self.r.delete(*partition_keys(self.base, 12))
            pipe = PartitionedPipeline(self.r, self.base, self.partitions.value, self.sensors.value,
                                       self.rate.value)
            pipe.run_for(self.seconds.value)
            self.last = pipe
            fig = clusterplots.partition_dashboard(pipe.sampler.frame(),
                                                   f"{self.partitions.value} partitions, "
                                                   f"{self.sensors.value} sensors")
            return pipe.summary(), fig
        finally:
            self.button.disabled = False

    def run(self, partitions: int | None = None, sensors: int | None = None, rate: float | None = None,
            seconds: float | None = None):
        """Run once with these settings (the sliders' values where not given); show the dashboard
        in this cell and return the summary (one row per partition)."""
        summary, fig = self._run_once(partitions, sensors, rate, seconds)
        display(fig)
        return summary

    def _clicked(self) -> None:
        # A press of Run: the panel's own Output widget shows the result (a live front end).
        summary, fig = self._run_once(None, None, None, None)
        self.out.clear_output(wait=True)
        with self.out:
            display(summary)
            display(fig)

    def _box(self) -> w.VBox:
        # The same order as every panel: the rate first, the other settings, the button, results.
        return w.VBox([self.rate, w.HBox([self.partitions, self.sensors, self.seconds]),
                       self.button, self.out])

    def _ipython_display_(self):
        if static_mode():  # the book: no kernel behind the page, so no live controls
            StaticPicture(self._box(), lambda: "Try-it panel (partitions, sensors, rate, seconds)"
                          )._ipython_display_()
            return
        display(self._box())
