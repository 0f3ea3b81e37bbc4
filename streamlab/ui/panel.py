"""ipywidgets panels that drive the course's workers: thin wiring, the logic lives in the workers.

Every panel shares the same skeleton (``Panel``): a name, a status line, a row
of buttons, one ``Refresher`` thread that redraws the panel about 4 times a
second while its workers run (and stops itself when they end), one guard
(``Panel.redraw``) through which every redraw goes, so a failing redraw is shown
in the status line and the next one tries again, and a registry, so that
re-running a cell stops the previous panel of the same name (its workers and
its refresher) before the new one starts. A panel has the same Python API as a
worker (``start()``, ``stop()``, ``run_for(seconds)``), so a notebook can drive
it without a click; after ``stop()`` it shows its final numbers, and it also
displays as plain text/HTML where widgets do not render (nbclient, nbconvert).

Static mode (``STREAMLAB_STATIC=1``, set by the book build): a panel displays
as a picture of its widgets instead of the live widget: its HTML and images,
without the controls, which would be dead on a web page. The picture has a
display id, and ``stop()`` and ``burst()`` redraw it in place, so an executed
notebook keeps every display of a panel at its last state, as a learner's live
widget would look at the end of the lesson.
"""

from __future__ import annotations

import base64
import functools
import html
import os
import threading
import time
import uuid

import ipywidgets as W
import redis

from . import style
from .. import workers
from ..explain import explain
from ..registry import Registry
from ..waiting import wait_until

REFRESH_INTERVAL = 0.25  # seconds: about 4 redraws a second

#: One panel per name: a re-run cell's new panel shuts the old one down (workers, refresher).
_panels: Registry["Panel"] = Registry(lambda old: old.shutdown("replaced by a newer panel of the same name"))

STATIC_ENV = "STREAMLAB_STATIC"
STATIC_NOTE = ("A picture of this panel at the end of the lesson; "
               "run the notebook to use its controls.")


def static_mode() -> bool:
    """True when ``STREAMLAB_STATIC`` asks for pictures instead of live widgets (the book does)."""
    return os.environ.get(STATIC_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def static_html(widget: W.Widget) -> str:
    """The visible, non-interactive part of a widget tree as HTML: text, tables and images.

    Boxes keep their direction (an ``HBox`` stays a row); ``HTML`` and ``Label``
    widgets keep their content; an ``Image`` becomes an ``<img>`` with its bytes
    inline. Buttons, sliders, text boxes and every other control are left out:
    on a static page they could not do anything. Hidden widgets stay hidden.
    """
    layout = getattr(widget, "layout", None)
    if layout is not None and (layout.display == "none" or layout.visibility == "hidden"):
        return ""
    if isinstance(widget, W.Box):
        inner = "".join(static_html(child) for child in widget.children)
        if not inner:
            return ""
        row = isinstance(widget, W.HBox)
        css = "display:flex;flex-flow:row wrap;gap:12px;align-items:flex-start" if row else ""
        return f"<div style='{css}'>{inner}</div>"
    if isinstance(widget, (W.HTML, W.HTMLMath)):
        return f"<div>{widget.value}</div>" if widget.value else ""
    if isinstance(widget, W.Label):
        return f"<div>{html.escape(widget.value)}</div>" if widget.value else ""
    if isinstance(widget, (W.Button, W.ToggleButton)):
        return ""
    if isinstance(widget, W.ValueWidget) and getattr(widget, "description", ""):
        # A setting's value as plain text ("msgs/s 20"): what the panel ran with, not a control.
        value = widget.value
        if isinstance(widget, W.Dropdown):
            value = widget.label
        elif isinstance(widget, W.Checkbox):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            value = f"{value:,.4g}"
        return (f"<div style='color:{style.MUTED}'>{html.escape(widget.description)} "
                f"<b>{html.escape(str(value))}</b></div>")
    if isinstance(widget, W.Image):
        if not widget.value:
            return ""
        data = base64.b64encode(bytes(widget.value)).decode("ascii")
        # The width the live widget is shown at: its pictures are drawn at twice that, for sharpness.
        width = f"width:{html.escape(layout.width)};" if layout is not None and layout.width else ""
        return (f"<img src='data:image/{html.escape(widget.format)};base64,{data}' "
                f"style='{width}max-width:100%' alt='panel picture'>")
    return ""


class StaticPicture:
    """A widget's last picture, for pages where no kernel runs it (``STREAMLAB_STATIC=1``).

    Displayed once per ``display()`` under one display id; ``update()`` (called
    on the kernel's main thread, where the cell that changed the widget runs)
    redraws every display of it in place. ``text`` gives the text/plain form.
    """

    def __init__(self, widget: W.Widget, text=lambda: ""):
        self.widget = widget
        self.text = text
        self.display_id = f"streamlab-static-{uuid.uuid4().hex}"
        self.shown = False

    def bundle(self) -> dict:
        body = static_html(self.widget)
        note = f"<div style='color:{style.MUTED};font-size:85%;margin-top:4px'>{STATIC_NOTE}</div>"
        return {"text/plain": self.text(),
                "text/html": (f"<div class='streamlab-static' style='border:1px solid {style.RULE};"
                              f"border-radius:6px;padding:6px 10px'>{body}{note}</div>")}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.bundle(), raw=True, display_id=self.display_id)
        self.shown = True

    def update(self) -> None:
        # Only from the main thread: an executed notebook (nbclient) keeps the messages of the
        # cell that is running, and a refresher thread's update could land in no cell at all.
        if not self.shown or threading.current_thread() is not threading.main_thread():
            return
        from IPython.display import update_display

        update_display(self.bundle(), raw=True, display_id=self.display_id)

    def __repr__(self) -> str:
        return self.text()


def status_line() -> W.HTML:
    """An empty one-line HTML widget for a panel's status."""
    return W.HTML(layout=W.Layout(min_height="1.6em"))


def button_row(*buttons: W.Widget) -> W.HBox:
    """Buttons (and small inputs) side by side."""
    return W.HBox(list(buttons), layout=W.Layout(align_items="center", flex_flow="row wrap"))


class Refresher(workers.Worker):
    """Redraws a panel every ``interval`` seconds while the panel is busy, then stops itself.

    The one refresher every panel composes (``Panel.start_refresher``). Each tick
    goes through ``Panel.redraw``, so a redraw that fails is shown in the status
    line and the next tick tries again; the time a redraw takes counts towards
    the interval, so a slow figure lowers the rate instead of piling up.
    """

    def __init__(self, panel: "Panel", interval: float = REFRESH_INTERVAL):
        super().__init__(f"{panel.name}:refresh")
        self.panel = panel
        self.interval = interval

    def step(self) -> None:
        began = time.monotonic()
        busy = self.panel.busy()  # asked before drawing, so the last drawing shows the end
        self.panel.redraw()
        if not busy:
            self.stop()  # the workers ended (stopped or failed): nothing more to show
            return
        self.sleep(max(0.0, self.interval - (time.monotonic() - began)))


class Panel:
    """The base of every streamlab panel: name registry, status line, refresher, display.

    A subclass builds its widgets, puts them in ``self.widget`` (including
    ``self.status``), lists its workers in ``workers()``, and implements
    ``refresh()`` (read the workers and the server, update the widgets) and
    ``summary()`` (the same numbers as plain text). It never calls ``refresh()``
    itself but ``redraw()``, the one guard: an exception from ``refresh()`` is
    shown in the status line instead of stopping the refresher or a button.
    ``refresh_interval`` is the seconds between two redraws while busy.
    """

    refresh_interval: float = REFRESH_INTERVAL

    def __init__(self, name: str):
        self.name = name
        self.status = status_line()
        self.widget: W.Widget = W.VBox([self.status])
        self._refresher: Refresher | None = None
        self._closed = False
        self.closed_reason = ""
        self._picture: StaticPicture | None = None
        _panels.claim(name, self)

    def __init_subclass__(cls, **kwargs):
        # Every panel's stop() and burst(), the base's or its own, end by redrawing the static
        # picture, so a new panel honours static mode without doing anything for it.
        super().__init_subclass__(**kwargs)
        for name in ("stop", "burst"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_updates_picture", False):
                setattr(cls, name, _then_update_picture(method))

    # --- to implement -----------------------------------------------------------
    def workers(self) -> list[workers.Worker]:
        return []

    def refresh(self) -> None:
        """Update the widgets from the workers and the server (called through ``redraw()``)."""

    def summary(self) -> str:
        return f"{type(self).__name__} {self.name!r}"

    def summary_html(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"

    # --- the one guard ---------------------------------------------------------------
    def redraw(self) -> bool:
        """``refresh()``; if it raises, the error goes to the status line (see ``show_error``)
        and nothing is raised, so the refresher's next tick simply tries again. True if it drew."""
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - shown to the learner, not lost
            self.show_error(exc)
            return False
        return True

    def show_error(self, exc: BaseException) -> None:
        """``exc`` in the status line, in words (``streamlab.explain``): a server that is away
        is a warning (the workers reconnect by themselves), anything else an error."""
        away = isinstance(exc, (redis.ConnectionError, redis.TimeoutError))
        self.set_status(explain(exc), "warn" if away else "error")

    # --- lifecycle ---------------------------------------------------------------
    def busy(self) -> bool:
        """True while any of the panel's workers runs."""
        return any(w.running for w in self.workers())

    def start_refresher(self) -> None:
        """Start redrawing every ``refresh_interval`` s (unless a refresher already runs)."""
        if self._refresher is None or not self._refresher.running or self._refresher.stopping:
            self._refresher = Refresher(self, self.refresh_interval)
            self._refresher.start()

    def stop_refresher(self) -> None:
        if self._refresher is not None:
            self._refresher.stop()
            self._refresher = None

    def stop(self) -> "Panel":
        """Stop the workers and the refresher, then show the final numbers."""
        for w in self.workers():
            w.stop()
        self.stop_refresher()
        self.redraw()
        self.update_picture()
        return self

    def run_for(self, seconds: float) -> "Panel":
        """``start()``, wait until ``seconds`` pass or the workers end by themselves, ``stop()``."""
        self.start()
        try:
            wait_until(lambda: not self.busy(), seconds, interval=0.05)
        finally:
            self.stop()
        return self

    def start(self) -> "Panel":
        raise NotImplementedError

    def shutdown(self, reason: str = "closed") -> None:
        """Stop everything for good (a newer panel took the name, or ``close()``)."""
        self.stop()
        self._closed = True
        self.closed_reason = reason
        self.set_status(f"stopped: {reason}", "info")

    def close(self) -> None:
        """Stop everything and close the widgets; the panel's name is free again."""
        self.shutdown()
        _panels.release(self.name, self)
        _close_tree(self.widget)

    # --- display -----------------------------------------------------------------
    def set_status(self, text: str, level: str = "info") -> None:
        self.status.value = style.status_html(text, level)

    def _report(self, action):
        """Wrap a button callback: an exception becomes the status line, not a traceback."""
        def handler(*_):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - shown to the learner, not lost
                self.show_error(exc)
        return handler

    def _repr_mimebundle_(self, **kwargs):
        # The widget where widgets render; the summary wherever they do not.
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.summary()
        data["text/html"] = self.summary_html()
        return data

    @property
    def _ipython_display_(self):
        # IPython calls this only if it is callable. In static mode it is, and the panel shows
        # as its picture (see the module docstring); otherwise it is None and IPython falls back
        # to _repr_mimebundle_, the live widget.
        if not static_mode():
            return None
        if self._picture is None:
            self._picture = StaticPicture(self.widget, self.summary)
        self._picture.widget = self.widget  # a subclass may have rebuilt it
        return self._picture._ipython_display_

    def update_picture(self) -> None:
        """Redraw the static picture in place (static mode; a no-op otherwise)."""
        if self._picture is not None:
            self._picture.update()

    def __repr__(self) -> str:
        return self.summary()


def _then_update_picture(method):
    """``method``, then ``self.update_picture()`` (see ``Panel.__init_subclass__``)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self.update_picture()
        return result
    wrapper._updates_picture = True
    return wrapper


def _close_tree(widget: W.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
