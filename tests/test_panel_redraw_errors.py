"""One guard for every panel's redraws: an error in ``refresh()`` shows in the status line and
the refresher keeps going (``Panel.redraw``).

Each case builds a panel and names a method its ``refresh()`` calls; the test makes that method
raise once, runs the refresher (the panel kept "busy" so that it ticks until stopped), and
waits for the error text in the status line and for later redraws. Adding a panel is one entry
in ``CASES``.
"""

from __future__ import annotations

import pytest

from helpers import wait_until
from streamlab.capstone import Capstone
from streamlab.ui import (BoardPanel, CapstonePanel, ChaosPanel, ConsumerPoolPanel, DurabilityPanel,
                          PartitionPanel, ProducerPanel, PubSubPanel, chaos_panel, style)

PLANTED = "planted redraw failure"


def _chaos(r, prefix):
    panel = ChaosPanel(r, prefix=prefix, entries=100, crash_probability=0, poison_share=0,
                       processing_ms=0, seed=1)
    panel.run_until_done(timeout=30)  # an experiment to draw
    return panel


def _durability(r, prefix):
    panel = DurabilityPanel(r, name=prefix + "durability")
    # A row to draw (a live run would start and kill a server: not needed to test a redraw).
    panel.rows.append({"run": 1, "setting": "AOF, fsync every second", "acknowledged": 10,
                       "present after restart": 10, "lost": 0})
    return panel


def _capstone(r, prefix):
    panel = CapstonePanel(Capstone(r, stream=prefix + "sensors", alerts=prefix + "alerts"))
    panel.stop_refresher()  # its first picture (nothing runs) is drawn: the test starts its own
    return panel


#: name -> (build(r, prefix) -> panel, where(panel) -> (object, attribute) that refresh() calls)
CASES = {
    "ProducerPanel": (lambda r, prefix: ProducerPanel(r, prefix + "s", rate=20),
                      lambda panel: (panel, "_counters_html")),
    "ConsumerPoolPanel": (lambda r, prefix: ConsumerPoolPanel(r, prefix + "s", "g", consumers=2, rate=20,
                                                              name=prefix + "pool"),
                          lambda panel: (panel, "_counters_html")),
    "ChaosPanel": (_chaos, lambda panel: (chaos_panel, "ledger_html")),
    "PubSubPanel": (lambda r, prefix: PubSubPanel(r, prefix=prefix, rate=20),
                    lambda panel: (panel, "_counters")),
    "BoardPanel": (lambda r, prefix: BoardPanel(r, keys=False, name=prefix + "board"),
                   lambda panel: (panel.progress, "stuck")),
    "PartitionPanel": (lambda r, prefix: PartitionPanel(r, base=prefix + "try"),
                       lambda panel: (panel, "status_text")),
    "DurabilityPanel": (_durability, lambda panel: (style, "table_html")),
    "CapstonePanel": (_capstone, lambda panel: (panel.cap, "status")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failing_redraw_is_shown_and_the_refresher_keeps_going(r, prefix, monkeypatch, case):
    build, where = CASES[case]
    panel = build(r, prefix)
    try:
        target, name = where(panel)
        original = getattr(target, name)
        calls = []

        def fails_once(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError(PLANTED)
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, fails_once)
        shown: list[str] = []
        panel.status.observe(lambda change: shown.append(change["new"]), names="value")
        monkeypatch.setattr(panel, "busy", lambda: True)  # ticks until stopped, whatever runs
        panel.start_refresher()
        # The first redraw fails, and the refresher draws again after it (a chaos figure can
        # take seconds on a busy machine: the wait is for the outcome, not a speed).
        assert wait_until(lambda: len(calls) >= 2, 60), f"{case}: {len(calls)} redraws"
        assert any(PLANTED in text for text in shown), f"{case}: status lines {shown}"
        assert style.status_html(f"RuntimeError: {PLANTED}", "error") in shown
        assert panel._refresher is not None and panel._refresher.running
    finally:
        monkeypatch.undo()
        panel.close()
    assert panel._refresher is None
