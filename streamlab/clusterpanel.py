"""Lesson 09's Try-it panel: run the partitioned pipeline with your own P, sensors and rate.

Python API (what the lesson calls, so the executed notebook shows results):
``panel.run(partitions=6, sensors=12, rate=300, seconds=3)``.
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
from IPython.display import display

from . import clusterplots
from .partitions import PartitionedPipeline, partition_keys


class PartitionPanel:
    """Sliders for partitions, sensors, rate and seconds, a Run button, and the dashboard below."""

    def __init__(self, r, base: str = "lesson09:try"):
        self.r, self.base = r, base
        self.partitions = w.IntSlider(6, min=1, max=12, description="partitions")
        self.sensors = w.IntSlider(12, min=1, max=48, description="sensors")
        self.rate = w.IntSlider(300, min=50, max=2000, step=50, description="readings/s")
        self.seconds = w.FloatSlider(3, min=1, max=10, step=0.5, description="seconds")
        self.button = w.Button(description="Run", button_style="primary")
        self.out = w.Output()
        self.button.on_click(lambda _: self.run())
        self.last: PartitionedPipeline | None = None

    def run(self, partitions: int | None = None, sensors: int | None = None, rate: float | None = None,
            seconds: float | None = None):
        """Run once with these settings (the sliders' values where not given); show the result."""
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
            summary = pipe.summary()
            self.out.clear_output(wait=True)
            with self.out:
                display(summary)
                fig = clusterplots.partition_dashboard(pipe.sampler.frame(),
                                                       f"{self.partitions.value} partitions, "
                                                       f"{self.sensors.value} sensors")
                plt.show(fig)
            return summary
        finally:
            self.button.disabled = False

    def _ipython_display_(self):
        display(w.VBox([w.HBox([self.partitions, self.sensors]), w.HBox([self.rate, self.seconds]),
                        self.button, self.out]))
