"""Lesson 07's dashboard: a live view of a ``Capstone`` pipeline, and its ledger as a coloured table.

The screen side of ``streamlab.capstone`` (which never imports this module).
``CapstonePanel(cap)`` shows the members' counters and the dashboard figure
(``figures.capstone``), redrawn by the panel's refresher while the pipeline runs,
and once more when ``cap.stop()`` ends it, so at the end it shows the whole run
(in the book, ``STREAMLAB_STATIC=1``, that last picture). Importing this module
also makes IPython show every ``Ledger`` as a table with a coloured verdict.
"""

from __future__ import annotations

import time

import ipywidgets as W

from ..capstone import Capstone, Ledger
from . import style
from .figures.capstone import capstone_figure, capstone_headline
from .panel import Panel

#: The dashboard's width on the page (CSS px); its picture is drawn at twice that.
DISPLAY_PX = round(10.2 * style.DPI)
#: Seconds between two pictures while the pipeline runs (the counters follow every refresh):
#: drawing takes a good fraction of a second, which a busy machine's pipeline needs more.
REDRAW_SECONDS = 2.0
COUNTER_COLUMNS = ["name", "status", "sent", "processed", "alerts"]


class CapstonePanel(Panel):
    """The capstone's live dashboard: a status line, each member's counters, the four plots.

    The panel shows a pipeline; it does not own it. ``cap.start()`` and
    ``cap.stop()`` start and end the pipeline, and the panel follows them: live
    while it runs, one last picture when it stops. The panel's own ``start()``
    resumes the redrawing and ``stop()`` ends it (drawing the picture once more), so
    ``panel.run_for(seconds)`` (``Panel.run_for``: ``start()``, wait, ``stop()``) follows the
    pipeline for that long and leaves it running (``cap.stop()`` ends the pipeline).
    A newer panel of the same pipeline takes its place. ``figure()`` is the
    dashboard as a Figure; ``show()`` displays it, as a picture a saved notebook keeps.
    """

    def __init__(self, cap: Capstone, name: str | None = None):
        super().__init__(name or f"{cap.name}:dashboard")
        self.cap = cap
        self.counters = W.HTML()
        # Shown at the figure's page width; the picture has twice its pixels, so it stays sharp.
        self.image = W.Image(format="png", layout=W.Layout(width=f"{DISPLAY_PX}px", max_width="100%"))
        self.widget = W.VBox([self.status, self.counters, self.image])
        self._next_picture = 0.0
        cap.on_start, cap.on_stop = self.start, self.stop
        self.start()

    def busy(self) -> bool:
        """True while any program of the pipeline runs."""
        return self.cap.running

    def start(self) -> "CapstonePanel":
        """Redraw while the pipeline runs; the refresher draws the first picture, so the cell
        returns at once (with nothing running it draws once and ends)."""
        self.start_refresher()
        return self

    def refresh(self) -> None:
        """The counters every time (``cap.status()``); the picture every ``REDRAW_SECONDS``
        while the pipeline runs, and always once it has stopped."""
        self.counters.value = style.table_html(self.cap.status()[COUNTER_COLUMNS].to_dict("records"))
        now = time.monotonic()
        if self.busy() and now < self._next_picture:
            return
        self._next_picture = now + REDRAW_SECONDS
        self.image.value = style.to_png(self.figure(), scale=2)

    def close(self) -> None:
        """Close the panel; the pipeline no longer calls it (unless a newer panel already took over)."""
        if self.cap.on_stop == self.stop:
            self.cap.on_start = self.cap.on_stop = None
        super().close()

    def figure(self) -> style.PictureFigure:
        """The dashboard as a Figure (``figures.capstone.capstone_figure``) from the samples so far."""
        cap = self.cap
        return capstone_figure(cap.frames(), cap.events, cap.group, cap.alert_group, cap.threshold)

    def show(self) -> None:
        """Display the dashboard as a picture (kept in a saved notebook)."""
        from IPython.display import display

        display(self.figure())  # a PictureFigure: a sharp PNG at its page width

    def summary(self) -> str:
        table = self.cap.status()[COUNTER_COLUMNS].to_string(index=False)
        return f"the capstone dashboard: {capstone_headline(self.cap.frames())}\n{table}"


def ledger_html(ledger: Ledger) -> str:
    """The ledger as a table, its verdict under it in bold, coloured (and marked ✔/✘) by outcome."""
    colour = style.STATUS_COLOURS["ok" if ledger.ok else "error"]
    verdict = ("✔ nothing lost: every check adds up" if ledger.ok else "✘ something does not add up")
    return (style.table_html(ledger.frame().to_dict("records"))
            + f"<p><b style='color:{colour}'>{verdict}</b></p>")


def show_ledgers_as_html() -> None:
    """Make IPython show every ``Ledger`` with ``ledger_html`` (the engine's Ledger is plain text)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(Ledger, ledger_html)


show_ledgers_as_html()  # in a notebook the shell exists before anything is imported
