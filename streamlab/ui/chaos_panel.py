"""The chaos panel: controls for a ``ChaosExperiment``, its live plots, its ledger, and one entry's journey.

Thin by design: every number comes from ``streamlab.chaos``; this module only
draws. Its picture is ``figures.chaos.chaos_figure(exp)``, which a lesson also
calls for an experiment run from a cell, so an executed notebook shows the same
plots as the live panel.
"""

from __future__ import annotations

import html

import ipywidgets as W

from . import style
from .. import workers
from ..backend import Client
from ..chaos import RESTART_MODES, ChaosExperiment
from .figures.chaos import chaos_figure
from .panel import Panel, button_row

#: The live picture's width on the page (CSS px); it is drawn at twice that.
DISPLAY_PX = 980
#: A journey longer than this shows its first and last half of it, with "… N more events" between.
JOURNEY_ROWS = 12


def ledger_html(exp: ChaosExperiment) -> str:
    """The ledger as a small borderless table; the "lost" line is marked ✔ at 0 and ✘ otherwise
    (a mark and a weight, not a colour alone)."""
    df = exp.ledger()
    rows, styles = [], {}
    for i, (what, row) in enumerate(df.iterrows()):
        entries = f"{row['entries']:,}"
        if what == "lost":
            ok = row["entries"] == 0
            entries = ("✔ " if ok else "✘ ") + entries
            colour = style.STATUS_COLOURS["ok" if ok else "error"]
            styles[i] = f"color:{colour};font-weight:bold"
        rows.append({"what": what, "entries": entries, "how it is counted": row["how it is counted"]})
    return style.table_html(rows, styles=styles)


def journey_html(exp: ChaosExperiment, entry) -> str:
    df = exp.journey(entry)
    head = (f"<b>order {df.attrs['seq']}</b> (ID {html.escape(str(df.attrs['entry_id']))}"
            f"{', poison' if df.attrs['poison'] else ''})")
    rows = [{"t (s)": f"{t:.3f}", "what": w, "who": who, "detail": d}
            for t, w, who, d in df.itertuples(index=False)]
    if len(rows) > JOURNEY_ROWS:
        # The first deliveries and the end of the story; the middle repeats itself.
        keep = JOURNEY_ROWS // 2
        hidden = len(rows) - 2 * keep
        rows = rows[:keep] + [{"t (s)": "…", "what": f"{hidden:,} more events"}] + rows[-keep:]
    return head + style.table_html(rows, nowrap=("t (s)", "what", "who"))


class ChaosPanel(Panel):
    """Controls (crash probability, poison share, consumers, reaper on/off + min idle, restart mode), live plots, ledger, journey.

    Python API, as every panel: ``start()``, ``stop()``, ``run_for(seconds)``,
    plus ``run_until_done(timeout)``; ``panel.experiment`` is the current
    ``ChaosExperiment`` (a new one on every start, built from the controls).
    """

    def __init__(self, r: Client, prefix: str = "lesson04:chaos:", entries: int = 600,
                 consumers: int = 3, crash_probability: float = 0.1, poison_share: float = 0.02,
                 reaper: bool = True, min_idle_ms: int = 200, restart: str = "same", seed: int = 0,
                 **experiment_options):
        super().__init__(f"panel:chaos:{prefix}")
        self.r = r
        self.prefix = prefix
        self.options = dict(experiment_options)
        self.experiment: ChaosExperiment | None = None

        slider = dict(continuous_update=False, style={"description_width": "130px"},
                      layout=W.Layout(width="380px"))
        self.crash = W.FloatSlider(value=crash_probability, min=0, max=0.5, step=0.01,
                                   description="crash / delivery", readout_format=".0%", **slider)
        self.poison = W.FloatSlider(value=poison_share, min=0, max=0.2, step=0.005,
                                    description="poison share", readout_format=".1%", **slider)
        self.consumers = W.IntSlider(value=consumers, min=1, max=8, description="consumers", **slider)
        self.entries = W.IntSlider(value=entries, min=100, max=5000, step=100, description="orders", **slider)
        self.reaper = W.Checkbox(value=reaper, description="reaper (XAUTOCLAIM)")
        self.min_idle = W.IntSlider(value=min_idle_ms, min=20, max=2000, step=10,
                                    description="min idle (ms)", **slider)
        self.restart = W.Dropdown(options=RESTART_MODES, value=restart, description="restart as",
                                  layout=W.Layout(width="220px"))
        self.seed = W.IntText(value=seed, description="seed", layout=W.Layout(width="160px"))
        self.start_button = W.Button(description="Start", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop")
        self.pick_box = W.Text(description="journey of", placeholder="entry ID or order number",
                               continuous_update=False)
        self.image = W.Image(format="png", layout=W.Layout(width=f"{DISPLAY_PX}px", max_width="100%"))
        self.ledger_view = W.HTML()
        self.journey_view = W.HTML()

        self.start_button.on_click(self._report(self.start))
        self.stop_button.on_click(self._report(self.stop))
        self.crash.observe(self._report(self._apply_live), names="value")
        self.consumers.observe(self._report(self._apply_live), names="value")
        self.reaper.observe(self._report(self._apply_live), names="value")
        self.min_idle.observe(self._report(self._apply_live), names="value")
        self.pick_box.observe(self._report(self._show_journey), names="value")

        self.widget = W.VBox([
            W.HBox([W.VBox([self.crash, self.poison, self.consumers, self.entries]),
                    W.VBox([self.reaper, self.min_idle, self.restart, self.seed])]),
            button_row(self.start_button, self.stop_button),
            self.status,
            self.image,
            W.HBox([W.VBox([W.HTML("<b>Ledger</b>"), self.ledger_view]),
                    W.VBox([self.pick_box, self.journey_view])]),
        ])
        self.set_status("ready: press Start (or call panel.start())", "info")

    # --- Python API ------------------------------------------------------------------
    def workers(self) -> list[workers.Worker]:
        return self.experiment.workers() if self.experiment is not None else []

    def busy(self) -> bool:
        return self.experiment is not None and self.experiment.running

    def start(self) -> "ChaosPanel":
        """A new experiment from the controls (its keys are wiped first), started."""
        if self._closed:
            raise RuntimeError("This panel was closed; make a new one.")
        if self.busy():
            return self
        self.experiment = ChaosExperiment(
            self.r, self.prefix, entries=self.entries.value, consumers=self.consumers.value,
            crash_probability=self.crash.value, poison_share=self.poison.value, reaper=self.reaper.value,
            min_idle_ms=self.min_idle.value, restart=self.restart.value, seed=self.seed.value, **self.options)
        self.experiment.start()
        self.start_refresher()
        return self

    def stop(self) -> "ChaosPanel":
        if self.experiment is not None:
            self.experiment.stop()
        return super().stop()

    def run_until_done(self, timeout: float = 30) -> "ChaosPanel":
        """Start, wait until every order is acked or dead-lettered (or ``timeout``), stop."""
        self.start()
        try:
            self.experiment.run_until_done(timeout)
        finally:
            self.stop()
        return self

    # --- callbacks --------------------------------------------------------------------
    def _apply_live(self) -> None:
        exp = self.experiment
        if exp is None or not exp.running:
            return
        exp.crash_probability = self.crash.value
        exp.set_consumers(self.consumers.value)
        exp.set_reaper(self.reaper.value, self.min_idle.value)

    def _show_journey(self) -> None:
        text = self.pick_box.value.strip()
        if not text or self.experiment is None:
            self.journey_view.value = ""
            return
        entry = int(text) if text.isdigit() else text
        try:
            self.journey_view.value = journey_html(self.experiment, entry)
        except Exception:
            self.journey_view.value = ""  # no other order's journey left on show under the error
            raise

    # --- drawing ------------------------------------------------------------------------
    def refresh(self) -> None:
        """The figure, the ledger and a journey (the picked one, else an interesting one).

        A bad ID in the journey box raises here; ``redraw()`` says so in the status line
        on every tick, and stop() and re-runs keep working."""
        exp = self.experiment
        if exp is None:
            return
        self.image.value = style.to_png(chaos_figure(exp), scale=2)  # drawn at 2x its width on the page
        self.ledger_view.value = ledger_html(exp)
        if not self.pick_box.value:
            picked = exp.pick("dead-lettered") or exp.pick("most delivered")
            if picked is not None:
                self.journey_view.value = journey_html(exp, picked)
        else:
            self._show_journey()
        if not self._closed:
            self.set_status(self.status_text(), "ok" if exp.running else "info")

    def status_text(self) -> str:
        exp = self.experiment
        if exp is None:
            return "ready"
        state = "running" if exp.running else "finished" if exp.done else "stopped"
        return (f"{state}: {exp.journal.resolved:,} of {exp.entries:,} orders acked or dead-lettered, "
                f"{exp.journal.crashes:,} crashes, {exp.restarts:,} restarts")

    def summary(self) -> str:
        if self.experiment is None:
            return "chaos panel: not started"
        return f"chaos panel: {self.status_text()}\n{self.experiment.ledger().to_string()}"

    def summary_html(self) -> str:
        if self.experiment is None:
            return "<div>chaos panel: not started</div>"
        return f"<div><b>chaos panel</b>: {html.escape(self.status_text())}{ledger_html(self.experiment)}</div>"

