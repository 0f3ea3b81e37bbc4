"""The chaos panel: controls for a ``ChaosExperiment``, its live plots, its ledger, and one entry's journey.

Thin by design: every number comes from ``streamlab.chaos``; this module only
draws. ``chaos_figure(exp)`` is also what ``exp.figure()`` returns, so an
executed notebook shows the same plots as the live panel.
"""

from __future__ import annotations

import html

import ipywidgets as W
import redis
from . import style
from .. import workers
from ..chaos import RESTART_MODES, ChaosExperiment
from .style import ROLE, SIZE, PictureFigure, to_png
from .panel import Panel, button_row, describe_error, html_table

#: How each order ended, as bars: colour by role, and a pattern for the two dead-letter
#: outcomes, so "healthy order dead-lettered" does not rest on colour alone.
OUTCOME_STYLE = {
    "acked": {"color": ROLE["acked"]},
    "dead-lettered: poison": {"color": ROLE["dead letter"], "hatch": style.HATCH["dead letter"]},
    "dead-lettered: healthy": {"color": ROLE["lost"], "hatch": style.HATCH["lost"]},
    "not finished": {"color": ROLE["not finished"]},
}
OUTCOME_COLOURS = {k: v["color"] for k, v in OUTCOME_STYLE.items()}
#: The live picture's width on the page (CSS px); it is drawn at twice that.
DISPLAY_PX = 980
#: A journey longer than this shows its first and last half of it, with "… N more events" between.
JOURNEY_ROWS = 12


def chaos_headline(exp: ChaosExperiment) -> str:
    """What the run shows, from the same numbers as the delivery histogram."""
    hist = exp.delivery_histogram()
    totals = {k: int(hist[k].sum()) if k in hist else 0 for k in OUTCOME_STYLE}
    dead = totals["dead-lettered: poison"] + totals["dead-lettered: healthy"]
    text = f"{totals['acked']:,} of {exp.entries:,} orders acked, {dead:,} dead-lettered"
    if dead:
        text += (f" ({totals['dead-lettered: healthy']:,} of them healthy)"
                 if totals["dead-lettered: healthy"] else " (all poison)")
    if totals["not finished"]:
        text += f", {totals['not finished']:,} not finished"
    return text


def chaos_figure(exp: ChaosExperiment, width: float = 10.2, height: float = 4.8,
                 dpi: int = style.DPI) -> PictureFigure:
    """Three plots: pending entries over time, entries by number of deliveries, dead-letter
    length over time. The headline counts how the orders ended; the settings go under it."""
    fig = style.figure(width, height, dpi=dpi)
    ax_pending, ax_hist, ax_dead = fig.subplots(1, 3, gridspec_kw=dict(wspace=0.6))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.3, top=style.headline_space(fig) - 0.07)
    tl = exp.timeline()

    style.axes_style(ax_pending, "Pending (XPENDING)", "entries", "seconds")
    if not tl.empty:
        ax_pending.plot(tl["t"], tl["pending"], color=ROLE["pending"], lw=2, label="pending")
        ax_crash = ax_pending.twinx()
        ax_crash.step(tl["t"], tl["crashes"], where="post", color=style.DARK_GREY, lw=1.2, ls="--")
        ax_crash.set_ylabel("crashes so far (dashed)", fontsize=SIZE["label"], color=style.DARK_GREY)
        ax_crash.tick_params(labelsize=SIZE["tick"], colors=style.DARK_GREY)
        ax_crash.spines["top"].set_visible(False)
        ax_crash.set_ylim(bottom=0)
    ax_pending.set_ylim(bottom=0)
    end = max(float(tl["t"].max()) if not tl.empty else 0.0, 0.1)
    ax_pending.set_xlim(0, end * 1.03)
    _mark_reaper_switches(exp, ax_pending, labels=True)

    style.axes_style(ax_hist, "Orders by deliveries", "orders", "deliveries")
    hist = exp.delivery_histogram()
    if not hist.empty:
        tops = _outcome_bars(ax_hist, hist)
        ax_hist.set_xticks([int(i) for i in hist.index])
        ax_hist.set_ylim(0, max(tops) * 2.5)  # room for the labels on the log part of the axis
        # Linear from 0 to 1, logarithmic above: a single order is a bar one decade tall.
        ax_hist.set_yscale("symlog", linthresh=1)
        style.legend(ax_hist, outside="below", handlelength=1.2)  # under the plot, off the bars
    ax_hist.axvline(exp.max_deliveries + 0.5, color=ROLE["limit"], lw=1.2, ls="--")
    # Written along the top of the line, clear of the bars below it.
    ax_hist.annotate(f"limit {exp.max_deliveries}", (exp.max_deliveries + 0.5, 1.0),
                     xycoords=("data", "axes fraction"), xytext=(-3, -2), textcoords="offset points",
                     fontsize=SIZE["tick"], color="black", rotation=90, ha="right", va="top")

    style.axes_style(ax_dead, "Dead letters (XLEN)", "entries", "seconds")
    if not tl.empty:
        # Start from (0, 0), so a stream that fills late still shows its flat start.
        ax_dead.step([0.0, *tl["t"]], [0, *tl["dead_lettered"]], where="post", color=ROLE["dead letter"],
                     lw=2.4)
        last = int(tl["dead_lettered"].iloc[-1])
        ax_dead.annotate(f"{last:,}", (float(tl["t"].iloc[-1]), last), xytext=(-4, 3),
                         textcoords="offset points", ha="right", va="bottom", fontsize=SIZE["annotation"],
                         color="black")
        top = max(1, int(tl["dead_lettered"].max())) * 1.25
        ax_dead.set_ylim(-0.04 * top, top)  # a little below 0, so the flat start is not hidden by the axis
    ax_dead.set_xlim(0, end * 1.03)
    _mark_reaper_switches(exp, ax_dead, labels=False)

    style.headline(fig, chaos_headline(exp),
                   f"{exp.entries:,} orders · {len(exp.pool.consumers)} consumers · crash "
                   f"{exp.crash_probability:.0%} per delivery · poison {exp.poison_share:.0%} · "
                   f"{_reaper_text(exp)} · restart: {exp.restart}")
    return fig


def _outcome_bars(ax, hist) -> list[int]:
    """Orders by deliveries, one bar per outcome side by side in each slot, each with its count.

    Not stacked: on the log axis one healthy order on top of 17 poison ones would be a
    slice under 2 px; side by side it is a bar of its own with its own label.
    """
    tops, seen = [], set()
    for deliveries, row in hist.iterrows():
        present = [(outcome, int(row[outcome])) for outcome in OUTCOME_STYLE
                   if outcome in row and row[outcome]]
        width = 0.8 / max(1, len(present))
        for i, (outcome, count) in enumerate(present):
            x = int(deliveries) - 0.4 + width * (i + 0.5)
            ax.bar([x], [count], width=width, edgecolor="white", lw=0.5,
                   label=None if outcome in seen else outcome, **OUTCOME_STYLE[outcome])
            ax.annotate(f"{count:,}", (x, count), ha="center", va="bottom", fontsize=SIZE["tick"])
            seen.add(outcome)
            tops.append(count)
    return tops or [1]


def _reaper_text(exp: ChaosExperiment) -> str:
    """The reaper's story for the subtitle: on/off, and when it was switched."""
    if not exp.reaper_switches:
        return f"reaper on, min idle {exp.min_idle_ms} ms" if exp.reaper_on else "reaper off"
    first = "on" if not exp.reaper_switches[0][1] else "off"
    moves = ", ".join(f"{'on' if on else 'off'} at {t:.1f} s" for t, on in exp.reaper_switches)
    return f"reaper {first}, then {moves} (min idle {exp.min_idle_ms} ms)"


def _mark_reaper_switches(exp: ChaosExperiment, ax, labels: bool) -> None:
    """A dotted vertical line, in the reaper's colour, where ``set_reaper()`` switched it."""
    for t, on in exp.reaper_switches:
        ax.axvline(t, color=ROLE["reaper"], lw=1.6, ls=":")
        if labels:
            # Written up the line's left side, low down: while the reaper is off, pending runs high.
            ax.annotate(f"reaper {'on' if on else 'off'}", (t, 0.05), xycoords=("data", "axes fraction"),
                        xytext=(-2, 0), textcoords="offset points", ha="right", va="bottom", rotation=90,
                        fontsize=SIZE["annotation"], color="black")


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
    return html_table(rows, styles=styles)


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
    return head + html_table(rows, nowrap=("t (s)", "what", "who"))


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
        self.journey_view.value = journey_html(self.experiment, entry)

    # --- drawing ------------------------------------------------------------------------
    def refresh(self) -> None:
        exp = self.experiment
        if exp is None:
            return
        try:
            self.image.value = to_png(chaos_figure(exp), scale=2)  # drawn at 2x its width on the page
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


def chaos_panel(r: redis.Redis, **options) -> ChaosPanel:
    """A ``ChaosPanel``: ``sl.chaospanel.chaos_panel(r, entries=600, crash_probability=0.1)``."""
    return ChaosPanel(r, **options)
