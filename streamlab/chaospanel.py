"""The chaos panel: controls for a ``ChaosExperiment``, its live plots, its ledger, and one entry's journey.

Thin by design: every number comes from ``streamlab.chaos``; this module only
draws. ``chaos_figure(exp)`` is also what ``exp.figure()`` returns, so an
executed notebook shows the same plots as the live panel.
"""

from __future__ import annotations

import html

import ipywidgets as W
import redis
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import workers
from .chaos import RESTART_MODES, ChaosExperiment
from .plots import PictureFigure, _style, to_png
from .widgets import Panel, button_row, describe_error

OUTCOME_COLOURS = {"acked": "#2ca02c", "dead-lettered: poison": "#8c1c13",
                   "dead-lettered: healthy": "#ff7f0e", "not finished": "#9e9e9e"}


def chaos_figure(exp: ChaosExperiment, width: float = 12, height: float = 3.4, dpi: int = 80) -> PictureFigure:
    """Three plots: pending entries over time, entries by number of deliveries, dead-letter length over time."""
    fig = PictureFigure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax_pending, ax_hist, ax_dead = fig.subplots(1, 3, gridspec_kw=dict(wspace=0.3))
    fig.subplots_adjust(left=0.06, right=0.985, bottom=0.16, top=0.8)
    tl = exp.timeline()

    _style(ax_pending, "Pending entries (XPENDING)", "entries")
    if not tl.empty:
        ax_pending.plot(tl["t"], tl["pending"], color="#d62728", lw=1.6, label="pending")
        ax_crash = ax_pending.twinx()
        ax_crash.step(tl["t"], tl["crashes"], where="post", color="#7f7f7f", lw=1, ls="--")
        ax_crash.set_ylabel("crashes so far (dashed)", fontsize=8, color="#7f7f7f")
        ax_crash.tick_params(labelsize=7, colors="#7f7f7f")
        ax_crash.spines["top"].set_visible(False)
        ax_crash.set_ylim(bottom=0)
    ax_pending.set_ylim(bottom=0)
    end = max(float(tl["t"].max()) if not tl.empty else 0.0, 0.1)
    ax_pending.set_xlim(0, end * 1.03)
    _mark_reaper_switches(exp, ax_pending, labels=True)

    _style(ax_hist, "Entries by number of deliveries", "entries", "deliveries")
    hist = exp.delivery_histogram()
    if not hist.empty:
        bottom = [0] * len(hist)
        x = [int(i) for i in hist.index]
        for outcome, colour in OUTCOME_COLOURS.items():
            values = hist[outcome].tolist()
            if any(values):
                ax_hist.bar(x, values, bottom=bottom, color=colour, label=outcome, width=0.8)
                bottom = [b + v for b, v in zip(bottom, values)]
        for xi, total in zip(x, bottom):
            ax_hist.annotate(f"{total:,}", (xi, total), ha="center", va="bottom", fontsize=7)
        ax_hist.set_xticks(x)
        ax_hist.set_ylim(0, max(bottom) * 2.5)  # room for the labels on the log part of the axis
        ax_hist.set_yscale("symlog", linthresh=10)
        ax_hist.legend(fontsize=8, frameon=False, loc="upper right")
    ax_hist.axvline(exp.max_deliveries + 0.5, color="#d62728", lw=0.8, ls=":")

    _style(ax_dead, "Dead-letter stream length (XLEN)", "entries", "seconds")
    if not tl.empty:
        # Start from (0, 0), so a stream that fills late still shows its flat start.
        ax_dead.step([0.0, *tl["t"]], [0, *tl["dead_lettered"]], where="post", color="#9467bd", lw=2)
        last = int(tl["dead_lettered"].iloc[-1])
        ax_dead.annotate(f"{last:,}", (float(tl["t"].iloc[-1]), last), xytext=(-4, 2),
                         textcoords="offset points", ha="right", va="bottom", fontsize=8, color="#9467bd")
        top = max(1, int(tl["dead_lettered"].max())) * 1.25
        ax_dead.set_ylim(-0.04 * top, top)  # a little below 0, so the flat start is not hidden by the axis
    ax_dead.set_xlim(0, end * 1.03)
    _mark_reaper_switches(exp, ax_dead, labels=False)

    reaper = _reaper_text(exp)
    fig.suptitle(f"{exp.entries:,} orders · {len(exp.pool.consumers)} consumers · crash "
                 f"{exp.crash_probability:.0%} per delivery · poison {exp.poison_share:.0%} · {reaper} "
                 f"· restart: {exp.restart}", fontsize=10, x=0.06, y=0.98, ha="left")
    return fig


def _reaper_text(exp: ChaosExperiment) -> str:
    """The reaper's story for the title: on/off, and when it was switched."""
    if not exp.reaper_switches:
        return f"reaper on, min idle {exp.min_idle_ms} ms" if exp.reaper_on else "reaper off"
    first = "on" if not exp.reaper_switches[0][1] else "off"
    moves = ", ".join(f"{'on' if on else 'off'} at {t:.1f} s" for t, on in exp.reaper_switches)
    return f"reaper {first}, then {moves} (min idle {exp.min_idle_ms} ms)"


def _mark_reaper_switches(exp: ChaosExperiment, ax, labels: bool) -> None:
    """A dotted vertical line where ``set_reaper()`` switched the reaper on or off."""
    for t, on in exp.reaper_switches:
        ax.axvline(t, color="#1f77b4", lw=1, ls=":")
        if labels:
            # Written up the line's left side, low down: while the reaper is off, pending runs high.
            ax.annotate(f"reaper {'on' if on else 'off'}", (t, 0.05), xycoords=("data", "axes fraction"),
                        xytext=(-2, 0), textcoords="offset points", ha="right", va="bottom", rotation=90,
                        fontsize=8, color="#1f77b4")


def ledger_html(exp: ChaosExperiment) -> str:
    """The ledger as a small HTML table; the "lost" line is green at 0 and red otherwise."""
    df = exp.ledger()
    rows = []
    for what, row in df.iterrows():
        style = ""
        if what == "lost":
            style = "color:#1a7f37;font-weight:bold" if row["entries"] == 0 else "color:#cf222e;font-weight:bold"
        rows.append(f"<tr style='{style}'><td style='padding:0 8px'>{html.escape(what)}</td>"
                    f"<td style='padding:0 8px;text-align:right'>{row['entries']:,}</td>"
                    f"<td style='padding:0 8px;color:#57606a'>{html.escape(row['how it is counted'])}</td></tr>")
    return "<table style='font-family:monospace;font-size:90%'>" + "".join(rows) + "</table>"


def journey_html(exp: ChaosExperiment, entry) -> str:
    df = exp.journey(entry)
    head = (f"<b>order {df.attrs['seq']}</b> (ID {html.escape(str(df.attrs['entry_id']))}"
            f"{', poison' if df.attrs['poison'] else ''})")
    rows = "".join(f"<tr><td style='padding:0 8px'>{t:.3f} s</td><td style='padding:0 8px'>{html.escape(w)}</td>"
                   f"<td style='padding:0 8px'>{html.escape(who)}</td><td style='padding:0 8px'>{html.escape(d)}</td></tr>"
                   for t, w, who, d in df.itertuples(index=False))
    return f"{head}<table style='font-family:monospace;font-size:90%'>{rows}</table>"


class ChaosPanel(Panel):
    """Controls (crash probability, poison share, consumers, reaper on/off + min idle, restart mode), live plots, ledger, journey.

    Python API, as every panel: ``start()``, ``stop()``, ``run_for(seconds)``,
    plus ``run_until_done(timeout)``; ``panel.experiment`` is the current
    ``ChaosExperiment`` (a new one on every start, built from the controls).
    """

    def __init__(self, r: redis.Redis, prefix: str = "lesson04:chaos:", entries: int = 600,
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
        self.image = W.Image(format="png")
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
        self.journey_view.value = journey_html(self.experiment, entry)

    # --- drawing ------------------------------------------------------------------------
    def refresh(self) -> None:
        exp = self.experiment
        if exp is None:
            return
        try:
            self.image.value = to_png(chaos_figure(exp))
            self.ledger_view.value = ledger_html(exp)
            if not self.pick_box.value:
                picked = exp.pick("dead-lettered") or exp.pick("most delivered")
                if picked is not None:
                    self.journey_view.value = journey_html(exp, picked)
            else:
                self._show_journey()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.set_status(describe_error(exc), "warn")
            return
        except (ValueError, redis.ResponseError) as exc:
            # A bad ID typed in the journey box: say so, and keep stop()/re-runs working.
            self.journey_view.value = ""
            self.set_status(describe_error(exc), "error")
            return
        if not self._closed:
            self.set_status(self.status_text(), "ok" if exp.running else "info")

    def status_text(self) -> str:
        exp = self.experiment
        if exp is None:
            return "ready"
        state = "running" if exp.running else "finished" if exp.done else "stopped"
        return (f"{state}: {exp.journal.resolved:,} of {exp.entries:,} orders finished, "
                f"{exp.journal.crashes:,} crashes, {exp.restarts:,} restarts")

    def summary(self) -> str:
        if self.experiment is None:
            return "chaos panel: not started"
        return f"chaos panel: {self.status_text()}\n{self.experiment.ledger().to_string()}"

    def summary_html(self) -> str:
        if self.experiment is None:
            return "<div>chaos panel: not started</div>"
        return f"<div><b>chaos panel</b>: {html.escape(self.status_text())}{ledger_html(self.experiment)}</div>"


def chaos_panel(r: redis.Redis, **options) -> ChaosPanel:
    """A ``ChaosPanel``: ``sl.chaospanel.chaos_panel(r, entries=600, crash_probability=0.1)``."""
    return ChaosPanel(r, **options)
