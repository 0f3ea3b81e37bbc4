"""The instructor's progress board in a notebook: the heat map (``figures.board``), live.

    from streamlab.ui import BoardPanel
    board = BoardPanel(admin)      # admin: sl.connect(ADMIN_URL) on the workshop's server
    board                          # the widget: Start / Stop, the heat map, who is stuck
    board.start()                  # reads the progress streams every `every` seconds

The same data as ``streamlab workshop board`` (``workshop.Progress``), drawn by
``figures.board.board_figure`` (its colours and cues are described there).
"""

from __future__ import annotations

import html

import ipywidgets as W

from . import style
from .. import workers, workshop
from .figures.board import board_figure, figure_png
from .panel import Panel, button_row

class _Poller(workers.Worker):
    """Reads the new progress entries (and, if asked, the learners' keys) every ``every`` seconds."""

    def __init__(self, panel: "BoardPanel"):
        super().__init__(f"{panel.name}:poll")
        self.panel = panel

    def step(self) -> None:
        self.panel.poll()
        self.sleep(self.panel.every)


class BoardPanel(Panel):
    """The board as a widget. Python API: ``start()``, ``stop()``, ``run_for(s)``, ``poll()``.

    ``progress`` is the ``workshop.Progress`` it draws; ``keys=True`` also reads each
    learner's streams with their groups' lag and pending into ``key_rows`` (read-only
    commands only) for ``workshop.keys_text(board.key_rows)``.
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
        start = W.Button(description="Start", button_style="success", icon="play")
        stop = W.Button(description="Stop", icon="stop")
        start.on_click(self._report(self.start))
        stop.on_click(self._report(self.stop))
        # The keys are read here (``key_rows``) and printed by the notebook's own cell, once.
        self.widget = W.VBox([button_row(start, stop), self.status, self.image,
                              self.stuck_html])
        self.poll()
        self.redraw()

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
        self.image.layout.width = f"{round(fig.get_figwidth() * fig.dpi)}px"  # its size, drawn at 2x
        stuck = self.progress.stuck()
        self.stuck_html.value = (
            "<b>Stuck:</b> " + "; ".join(
                f"{html.escape(learner)} at {key} ({tries} failed checks, "
                f"{workshop._ago(waited)})" for learner, key, tries, waited in stuck)
            if stuck else "<b>Stuck:</b> nobody")
        if self.progress.note():
            self.stuck_html.value += f"<br><i>{html.escape(self.progress.note())}</i>"
        state = "polling every %gs" % self.every if self.poller.running else "stopped"
        self.set_status(f"{style.plural(len(self.progress.learners), 'learner')}, "
                        f"{style.plural(self.progress.entries, 'check')} reported; {state}",
                        "ok" if self.poller.running else "info")

    def summary(self) -> str:
        return self.progress.text()
