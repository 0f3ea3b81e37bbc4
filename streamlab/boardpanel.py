"""The instructor's progress board in a notebook: a heat map of learners x exercises, live.

    from streamlab.boardpanel import BoardPanel
    board = BoardPanel(admin)      # admin: sl.connect(ADMIN_URL) on the workshop's server
    board                          # the widget: Start / Stop, the heat map, who is stuck, keys
    board.start()                  # reads the progress streams every `every` seconds

The same data as ``streamlab workshop board`` (``workshop.Progress``). Colours are the
Okabe–Ito palette, safe for colour-blind eyes, and every state has a second cue:
*tried* cells are hatched, *stuck* ones are outlined in vermillion with a ``!``, and the
legend says so, so the board also reads on a grey projector.
"""

from __future__ import annotations

import html
import io

import ipywidgets as W

from . import widgets, workers, workshop

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency. Not yet is a pale grey so that the eye goes to what happened.
COLOURS = {workshop.PASSED: "#009E73", workshop.TRIED: "#E69F00", workshop.NOT_YET: "#EEEEEE"}
STUCK = "#D55E00"
CODES = {workshop.NOT_YET: 0, workshop.TRIED: 1, workshop.PASSED: 2}


def board_figure(progress: workshop.Progress, title: str | None = None):
    """The heat map (a matplotlib Figure): one row per learner, one column per exercise."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    frame = progress.frame()
    learners, columns = list(frame.index), list(frame.columns)
    rows = max(1, len(learners))
    fig = Figure(figsize=(max(7.0, 0.28 * len(columns) + 2.5), max(2.6, 0.32 * rows + 1.8)), dpi=100)
    ax = fig.add_subplot()
    codes = frame.replace(CODES).to_numpy(dtype=float) if learners else [[0] * len(columns)]
    cmap = ListedColormap([COLOURS[workshop.NOT_YET], COLOURS[workshop.TRIED], COLOURS[workshop.PASSED]])
    ax.imshow(codes, cmap=cmap, vmin=0, vmax=2, aspect="auto", interpolation="nearest")
    for i, learner in enumerate(learners):
        for j, key in enumerate(columns):
            if frame.iat[i, j] == workshop.TRIED:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                       edgecolor="#5a3d00", linewidth=0))
    for learner, key, _, _ in progress.stuck():
        if learner not in learners or key not in columns:
            continue  # Progress ignores unknown exercises; never a crash of the panel if not
        i, j = learners.index(learner), columns.index(key)
        ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, edgecolor=STUCK,
                               linewidth=2.5, zorder=4))
        ax.text(j, i, "!", ha="center", va="center", color=STUCK, fontsize=10, fontweight="bold",
                zorder=5, bbox=dict(boxstyle="circle,pad=0.1", facecolor="white", edgecolor="none"))
    ax.set_yticks(range(len(learners)), learners if learners else [])
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=8)
    # A thin white grid between cells, and a darker line between lessons.
    ax.set_xticks([x - 0.5 for x in range(1, len(columns))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1, zorder=2)
    ax.tick_params(which="minor", length=0)
    for j in range(1, len(columns)):
        if columns[j][:2] != columns[j - 1][:2]:
            ax.axvline(j - 0.5, color="#555555", linewidth=1)
    ax.set_xlabel("exercise (lesson.number)")
    counts = progress.counts()
    passed = sum(c[workshop.PASSED] for c in counts.values())
    if title is None:
        title = (f"{len(learners)} learner(s), {passed} exercise(s) passed, {len(progress.stuck())} stuck"
                 if learners else "No learners on this server yet: run `streamlab workshop setup`")
    ax.set_title(title, fontsize=10)
    legend = [Patch(facecolor=COLOURS[workshop.PASSED], label="passed"),
              Patch(facecolor=COLOURS[workshop.TRIED], hatch="///", edgecolor="#5a3d00",
                    label="tried, not passed"),
              Patch(facecolor=COLOURS[workshop.NOT_YET], edgecolor="#999999", label="not yet"),
              Patch(facecolor="white", edgecolor=STUCK, linewidth=2, label="! stuck")]
    fig.legend(handles=legend, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    return fig


def figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class _Poller(workers.Worker):
    """Reads the new progress entries (and, if asked, the learners' keys) every ``every`` seconds."""

    def __init__(self, panel: "BoardPanel"):
        super().__init__(f"{panel.name}:poll")
        self.panel = panel

    def step(self) -> None:
        self.panel.poll()
        self.sleep(self.panel.every)


class BoardPanel(widgets.Panel):
    """The board as a widget. Python API: ``start()``, ``stop()``, ``run_for(s)``, ``poll()``.

    ``progress`` is the ``workshop.Progress`` it draws; ``keys=True`` also lists each
    learner's streams with their groups' lag and pending (read-only commands only).
    """

    def __init__(self, r, every: float = 5.0, keys: bool = True, name: str = "workshop-board"):
        self.r = r
        self.every = float(every)
        self.keys = keys
        self.progress = workshop.Progress(r)
        self.key_rows: dict[str, list[workshop.KeyRow]] = {}
        super().__init__(name)
        self.poller = _Poller(self)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.stuck_html = W.HTML()
        self.keys_html = W.HTML()
        start, stop = W.Button(description="Start", icon="play"), W.Button(description="Stop", icon="stop")
        start.on_click(self._report(self.start))
        stop.on_click(self._report(self.stop))
        self.widget = W.VBox([widgets.button_row(start, stop), self.status, self.image,
                              self.stuck_html, self.keys_html])
        self.poll()
        self.refresh()

    def workers(self) -> list[workers.Worker]:
        return [self.poller]

    def poll(self) -> int:
        """Read what is new on the server (progress entries; keys if asked). The entries read."""
        read = self.progress.poll()
        if self.keys:
            self.key_rows = {learner: workshop.key_rows(self.r, learner)
                             for learner in self.progress.learners}
        return read

    def start(self) -> "BoardPanel":
        self.poller.start()
        self.start_refresher()
        return self

    def refresh(self) -> None:
        fig = board_figure(self.progress)
        self.image.value = figure_png(fig)
        stuck = self.progress.stuck()
        self.stuck_html.value = (
            "<b>Stuck:</b> " + "; ".join(
                f"{html.escape(learner)} at {key} ({tries} failed checks, "
                f"{workshop._ago(waited)})" for learner, key, tries, waited in stuck)
            if stuck else "<b>Stuck:</b> nobody")
        if self.progress.note():
            self.stuck_html.value += f"<br><i>{html.escape(self.progress.note())}</i>"
        if self.keys:
            self.keys_html.value = f"<pre>{html.escape(workshop.keys_text(self.key_rows))}</pre>"
        state = "polling every %gs" % self.every if self.poller.running else "stopped"
        self.set_status(f"{len(self.progress.learners)} learner(s), {self.progress.entries} "
                        f"check(s) reported; {state}", "ok" if self.poller.running else "info")

    def summary(self) -> str:
        return self.progress.text()
