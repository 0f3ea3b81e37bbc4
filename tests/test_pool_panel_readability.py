"""The lesson 03 dashboard can be read: pending visible beside XLEN, every consumer's line
visible when several draw the same numbers (throughput in one plot, pending in a strip
per consumer), no internal redraw rate in the counters, and show(ordering=False) honoured."""

from __future__ import annotations

import pandas as pd

from streamlab.ui.figures import pool
from streamlab.ui.pool_panel import ConsumerPoolPanel


def _frames(consumers=("c1", "c2", "c3")):
    t = [i * 0.1 for i in range(50)]
    stream = pd.DataFrame({"t": t, "xlen": [40 * i for i in range(50)], "lag": 0,
                           "lag_source": "server", "pending": [i % 6 for i in range(50)]})
    per = pd.concat([pd.DataFrame({"t": t, "consumer": c, "pending": 5, "processed": range(50),
                                   "throughput": 100.0}) for c in consumers])
    return stream, per


def test_group_pending_has_its_own_scale_so_it_is_not_flat_under_xlen():
    stream, per = _frames()
    fig = pool.PoolFigure(live=False)
    fig.update(stream, per)
    assert fig.pel_line.axes is not fig.len_line.axes
    top = fig.pel_line.axes.get_ylim()[1]
    assert top < 50, f"pending (at most 5) drawn on an axis up to {top}"
    assert fig.len_line.axes.get_ylim()[1] >= 1960


def test_consumers_with_equal_numbers_draw_lines_that_all_stay_visible():
    stream, per = _frames()
    fig = pool.PoolFigure(live=False)
    fig.update(stream, per)
    # Throughput lines share one plot; pending has a strip per consumer (tested below).
    for lines in (fig.rate_lines,):
        looks = {(str(line.get_linestyle()), line.get_linewidth()) for line in lines.values()}
        assert len(looks) == 3, looks
        # Widest at the bottom, narrower ones over it: where they coincide, each shows.
        order = sorted(lines, key=lambda n: lines[n].get_zorder())
        widths = [lines[n].get_linewidth() for n in order]
        assert order == ["c1", "c2", "c3"] and widths == sorted(widths, reverse=True)
    live = pool.PoolFigure(live=True)
    live.update(stream, per)
    dynamic = live._dynamic()
    assert dynamic.index(live.pending_lines["c1"]) < dynamic.index(live.pending_lines["c3"])


def test_counters_do_not_show_the_internal_redraw_rate(r, prefix):
    panel = ConsumerPoolPanel(r, prefix + "s", "g", consumers=2, rate=50, ms=1, start_id="0",
                              name=prefix + "panel")
    try:
        panel.run_for(0.5)
        assert "redraws" not in panel.summary()
        assert "processed" in panel.summary()
    finally:
        panel.close()


def test_pending_per_consumer_is_one_strip_per_consumer_on_one_scale():
    stream, per = _frames()
    fig = pool.PoolFigure(live=False)
    fig.update(stream, per)
    axes = [fig.pending_lines[n].axes for n in ("c1", "c2", "c3")]
    assert len({id(ax) for ax in axes}) == 3, "consumers' pending lines share one plot"
    assert {ax.get_ylim() for ax in axes} == {axes[0].get_ylim()}, "strips on different scales"
    assert [ax.get_ylabel() for ax in axes] == ["c1", "c2", "c3"]
    # Top to bottom in consumer order.
    tops = [ax.get_position().y0 for ax in axes]
    assert tops == sorted(tops, reverse=True)
    # A consumer leaves (live panel: Remove consumer): its strip goes, no empty axes stay.
    live = pool.PoolFigure(live=True)
    live.update(stream, per)
    before = len(live.fig.axes)
    live.update(stream, per[per["consumer"] != "c3"])
    assert set(live.pending_axes) == {"c1", "c2"} and len(live.fig.axes) == before - 1
    live.picture("PNG")  # draws without error after the strips were rebuilt


def _shown_figures(panel, monkeypatch, **kwargs):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    panel.show(**kwargs)
    return shown


def _titles(figure):
    return [ax.get_title(loc="left") for ax in figure.axes]


def test_show_without_ordering_draws_no_ordering_panel(r, prefix, monkeypatch):
    panel = ConsumerPoolPanel(r, prefix + "s", "g", consumers=2, rate=50, ms=1, start_id="0",
                              name=prefix + "panel")
    try:
        panel.run_for(0.5)
        with_ordering = _shown_figures(panel, monkeypatch)
        without = _shown_figures(panel, monkeypatch, ordering=False)
    finally:
        panel.close()
    assert len(with_ordering) == 2, "the dashboard and the larger ordering plot"
    assert any("out of order" in t for t in _titles(with_ordering[0]))
    assert len(without) == 1, "ordering=False still showed the ordering plot"
    titles = _titles(without[0])
    assert not any("out of order" in t for t in titles), titles
    assert "Group lag" in titles and any(t.startswith("Pending per consumer") for t in titles)
