"""Static mode (STREAMLAB_STATIC=1, the book): panels display as a picture of their last state."""

from __future__ import annotations

import threading

import ipywidgets as W
import pytest
from IPython import display as ipy_display

from streamlab.ui.panel import STATIC_ENV, STATIC_NOTE, static_mode
from streamlab.ui.panel import Panel, StaticPicture, static_html
from streamlab.ui.producer_panel import ProducerPanel

# A real (tiny) PNG: the 8-byte signature and an IHDR chunk are enough for an <img> here.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def shown(monkeypatch):
    """Every display() and update_display() a picture makes, as (kind, bundle, display_id)."""
    calls: list[tuple[str, dict, str]] = []
    monkeypatch.setattr(ipy_display, "display",
                        lambda obj, raw=False, display_id=None: calls.append(("display", obj, display_id)))
    monkeypatch.setattr(ipy_display, "update_display",
                        lambda obj, raw=False, display_id=None: calls.append(("update", obj, display_id)))
    return calls


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("", False), ("0", False),
                                             ("false", False), (None, False)])
def test_static_mode_follows_the_variable(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(STATIC_ENV, raising=False)
    else:
        monkeypatch.setenv(STATIC_ENV, value)
    assert static_mode() is expected


def test_static_html_keeps_text_pictures_and_settings_and_drops_controls():
    hidden = W.HTML("<i>secret</i>", layout=W.Layout(display="none"))
    tree = W.VBox([
        W.HBox([W.FloatSlider(value=2.5, description="rate"),
                W.Dropdown(options=[("one slow consumer", "one-slow")], description="processing"),
                W.Checkbox(value=True, description="reaper")]),
        W.Button(description="Start"), W.ToggleButton(description="Pause"),
        W.HTML("<b>sent</b> 42"), W.Label("a <label>"), W.Image(value=PNG, format="png"),
        W.Image(format="png"), hidden, W.VBox([]),
    ])
    out = static_html(tree)
    assert "<b>sent</b> 42" in out and "a &lt;label&gt;" in out
    assert "rate <b>2.5</b>" in out and "processing <b>one slow consumer</b>" in out
    assert "reaper <b>yes</b>" in out
    assert out.count("<img ") == 1 and "data:image/png;base64,iVBORw0KGgo" in out
    assert "Start" not in out and "Pause" not in out and "<button" not in out
    assert "secret" not in out
    assert "flex-flow:row" in out  # the HBox stays a row


def test_a_panel_in_static_mode_shows_its_last_state_in_every_display(r, prefix, shell, shown,
                                                                        monkeypatch):
    monkeypatch.setenv(STATIC_ENV, "1")
    panel = ProducerPanel(r, prefix + "s", rate=200)
    # IPython hands the panel to _ipython_display_: no mime bundle, no widget view.
    assert shell.display_formatter.format(panel) == ({}, {})
    kind, first, display_id = shown[0]
    assert kind == "display" and "application/vnd.jupyter.widget-view+json" not in first
    assert "ready: press Start" in first["text/html"] and "<button" not in first["text/html"]
    assert STATIC_NOTE in first["text/html"]

    panel.run_for(0.5)
    panel.burst(50)
    updates = [(bundle, i) for kind, bundle, i in shown if kind == "update"]
    assert len(updates) >= 2 and all(i == display_id for _, i in updates)
    last = updates[-1][0]
    sent = panel.producer.sent
    assert sent >= 50 and f"<b>sent</b> {sent:,}" in last["text/html"]
    assert "ready: press Start" not in last["text/html"]
    assert f"sent {sent:,}" in last["text/plain"]


def test_a_panel_outside_static_mode_is_the_live_widget(r, prefix, shell, shown, monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    panel = ProducerPanel(r, prefix + "s")
    assert panel._ipython_display_ is None
    data, _ = shell.display_formatter.format(panel)
    assert "application/vnd.jupyter.widget-view+json" in data
    panel.stop()
    assert shown == []  # no picture was ever made, so nothing is redrawn


def test_a_subclass_stop_redraws_the_picture_without_asking(shown, monkeypatch):
    monkeypatch.setenv(STATIC_ENV, "1")

    class Counter(Panel):
        def __init__(self):
            super().__init__("static-test-counter")
            self.count = W.HTML("count 0")
            self.widget = W.VBox([self.count, self.status])

        def stop(self):  # its own stop(), not calling the base's
            self.count.value = "count 7"
            return self

    panel = Counter()
    panel._ipython_display_()
    panel.stop()
    assert [kind for kind, _, _ in shown] == ["display", "update"]
    assert "count 7" in shown[-1][1]["text/html"]
    panel.close()


def test_a_picture_is_redrawn_only_from_the_main_thread(shown):
    picture = StaticPicture(W.HTML("x"), lambda: "x")
    picture.update()  # never displayed: nothing to redraw
    picture._ipython_display_()
    worker = threading.Thread(target=picture.update)
    worker.start()
    worker.join()
    assert [kind for kind, _, _ in shown] == ["display"]
    picture.update()
    assert [kind for kind, _, _ in shown] == ["display", "update"]
