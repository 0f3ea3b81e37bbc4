"""The course's look (streamlab.ui.style, docs/VISUAL.md): colour-blind-safe roles, projector
sizes, titles that state results, one way to build a figure.

Every course figure is built here from small made-up (or recorded) data and checked
as drawn: the colours of its data stay apart under a deuteranopia and a protanopia
simulation, its text is large enough for a projector, and its title says what it found.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import Collection
from matplotlib.colors import to_hex, to_rgba
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from streamlab import durability, pubsub
from streamlab.ui.figures import capstone, cluster, latency, pool
from streamlab.ui import PubSubPanel, style
# pubsub and durability are also engine modules here: their figures modules say so in their names.
from streamlab.ui.figures import durability as durability_figures, pubsub as pubsub_figures

#: Below this CIEDE2000 difference two colours in one figure are hard to tell apart at a glance.
MIN_DELTA_E = 10.0
KINDS = ("normal", "deuteranopia", "protanopia")


# --- the colour arithmetic itself ----------------------------------------------------------

@pytest.mark.parametrize("lab1, lab2, expected", [
    # Sharma, Wu & Dalal (2005), the CIEDE2000 test data: pairs 1, 7 and 17.
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
])
def test_delta_e_matches_the_published_ciede2000_test_pairs(monkeypatch, lab1, lab2, expected):
    # delta_e takes colours; feed it Lab directly to compare with the published pairs.
    monkeypatch.setattr(style, "_lab", lambda c: np.array(c, dtype=float))
    assert style.delta_e(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_simulation_collapses_red_and_green_and_leaves_grey_alone():
    red, green = "#d62728", "#2ca02c"  # matplotlib's default red and green: the pair issue 17 named
    normal = style.delta_e(red, green)
    assert normal > 50
    for kind in ("deuteranopia", "protanopia"):
        seen = style.delta_e(style.simulate(red, kind), style.simulate(green, kind))
        assert seen < normal / 2, f"{kind}: red/green still {seen:.1f} apart"
        if kind == "deuteranopia":  # the colours' hues collapse; only lightness is left
            assert seen < MIN_DELTA_E, f"red/green still {seen:.1f} apart: the check could not fail"
        grey = style.simulate("#808080", kind)
        assert grey == pytest.approx((0.502, 0.502, 0.502), abs=0.01)
    with pytest.raises(ValueError, match="kind must be"):
        style.simulate("#000000", "monochromacy")


@pytest.mark.parametrize("kind", KINDS)
def test_every_role_and_consumer_colour_stays_distinguishable(kind):
    colours = style.distinct_role_colours()
    assert len(colours) >= 8
    closest, a, b = style.closest_pairs(colours, kind)[0]
    assert closest >= MIN_DELTA_E, f"{kind}: {a} and {b} only {closest:.1f} apart"


def test_roles_that_mean_one_thing_share_one_colour_and_unknown_roles_are_named():
    assert style.role("acked") == style.role("processed") == style.role("received")
    assert style.role("lost") == style.role("missed") != style.role("acked")
    assert style.role("reaper") != style.role("stream")  # issue 17: cyan meant both in lesson 07
    with pytest.raises(KeyError, match="roles: "):
        style.role("reaperr")


# --- every course figure, as drawn ------------------------------------------------------------

def _pool_frames():
    t = [i * 0.1 for i in range(60)]
    stream = pd.DataFrame({"t": t, "xlen": [30 * i for i in range(60)], "lag": [i % 7 for i in range(60)],
                           "lag_source": "server", "pending": [i % 5 for i in range(60)]})
    consumers = pd.concat([pd.DataFrame({"t": t, "consumer": c, "pending": [(i + k) % 4 for i in range(60)],
                                         "processed": range(60), "throughput": 90.0 + k})
                           for k, c in enumerate(("c1", "c2", "c3"))])
    positions = [i + (3 if i % 10 == 0 else 0) for i in range(40)]
    ordering = pd.DataFrame({"completion": range(40), "position": positions,
                             "consumer": [f"c{i % 3 + 1}" for i in range(40)],
                             "out_of_order": [i % 10 == 1 for i in range(40)]})
    return stream, consumers, ordering


def _pubsub_result():
    return pubsub.Result(events=10, offline=(4, 6), subscriber_seqs=[1, 2, 3, 7, 8, 9, 10],
                         stream_seqs=list(range(1, 11)), published_at=[i * 0.1 for i in range(10)],
                         subscriber_at=[0.01, 0.11, 0.21, 0.61, 0.71, 0.81, 0.91],
                         stream_at=[0.01, 0.11, 0.21, 0.65, 0.65, 0.65, 0.66, 0.71, 0.81, 0.91],
                         offline_at=(0.3, 0.6))


def _capstone_frames():
    t = [i * 0.5 for i in range(12)]
    group = pd.DataFrame({"t": t, "lag": [0, 3, 5, 2, 0, 0, 1, 0, 0, 0, 0, 0], "pending": 1,
                          "xlen": range(12), "lag_source": "server"})
    consumers = pd.concat([pd.DataFrame({"t": t, "consumer": w, "pending": 1, "processed": range(12),
                                         "throughput": 2.0}) for w in ("w1", "w2", "w3", "reaper")])
    alerts = pd.DataFrame({"t": t, "alerts": [i // 3 for i in range(12)], "readings": [4 * i for i in range(12)]})
    return {"workers": group, "alerters": group.assign(lag=0), "consumers": consumers, "alerts": alerts}


def _partition_frame():
    rows = [{"t": i * 0.2, "partition": p, "shard": p % 2, "rate": 50.0 + p, "lag": (i + p) % 3,
             "done": 10 * i} for i in range(10) for p in range(4)]
    return pd.DataFrame(rows)


def _key_ordering():
    return pd.DataFrame({"consumer": [f"c{i % 3 + 1}" for i in range(30)], "completion": range(30),
                         "entry_id": [f"{1000 + i}-0" for i in range(30)],
                         "key_out_of_order": [i == 7 for i in range(30)]})


def course_figures():
    """(name, figure) for every figure function of the package that the lessons show."""
    stream, consumers, ordering = _pool_frames()
    rec = durability.recorded()
    health = {"A": pd.DataFrame({m: [0.0, 5.0, 2000.0] for m in durability_figures.METRICS})}
    return [
        ("dashboard", pool.dashboard_figure(stream, consumers, ordering, title="s · group g")),
        ("ordering", pool.ordering_figure(ordering)),
        ("latency", latency.strip_plot([0.0, 0.1, 0.2, 0.3], [0.4, 0.6, 0.5, 9.0], "fakeredis")),
        ("pubsub", pubsub_figures.result_figure(_pubsub_result())),
        ("capstone", capstone.capstone_figure(_capstone_frames(), [(2.0, "kill w1")])),
        ("crash", durability_figures.plot_crash(rec["crash"])),
        ("failover", durability_figures.plot_failover(rec["failover_writes"])),
        ("health", durability_figures.plot_health(health)),
        ("partitions", cluster.partition_dashboard(_partition_frame(), "4 partitions")),
        ("key order", cluster.key_order(_key_ordering())),
        ("slow subscriber", pubsub_figures.buffer_limit_figure(
            pubsub.BufferLimitDemo("a scratch server", "pubsub 256kb 0 0", 4000, 1008, 944, True))),
    ]


@pytest.fixture(scope="module")
def figures():
    return course_figures()


def _data_colours(fig) -> set[str]:
    """The colours a figure draws its data in (lines, markers, bars, bands), as hex, without
    white, black and greys (text, frames, grids, references)."""
    found = set()
    for ax in fig.axes:
        artists = [*ax.lines, *ax.collections, *ax.patches]
        for artist in artists:
            if not artist.get_visible() or artist is ax.patch:
                continue
            if isinstance(artist, Line2D):
                values = [artist.get_color(), artist.get_markerfacecolor()]
            elif isinstance(artist, Collection):
                values = [*artist.get_facecolors(), *artist.get_edgecolors()]
            elif isinstance(artist, Patch):
                values = [artist.get_facecolor()]
            else:
                continue
            for value in values:
                rgba = to_rgba(value)
                if rgba[3] == 0:
                    continue
                r, g, b = rgba[:3]
                if max(r, g, b) - min(r, g, b) < 0.02:  # white, black, a grey: not a role colour
                    continue
                found.add(to_hex(rgba[:3]).upper())
    return found


def test_every_figure_draws_only_palette_colours_that_stay_apart(figures):
    palette = {c.upper() for c in [*style.ROLE.values(), *style.CONSUMER_COLOURS]}
    for name, fig in figures:
        used = _data_colours(fig)
        assert used, f"{name}: no data colours found"
        assert used <= palette, f"{name} draws colours outside the palette: {sorted(used - palette)}"
        for kind in KINDS:
            for a, b in itertools.combinations(sorted(used), 2):
                seen = style.delta_e(style.simulate(a, kind), style.simulate(b, kind))
                assert seen >= MIN_DELTA_E, f"{name}, {kind}: {a} and {b} only {seen:.1f} apart"


def test_one_look_means_one_thing_in_each_figure(figures):
    """Two legend entries of one figure never share a colour, line style and pattern: the
    capstone's w3 and its alerts were both bluish green once."""
    for name, fig in figures:
        looks: dict[tuple, set[str]] = {}
        for legend in fig.findobj(Legend):
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                if isinstance(handle, Line2D):
                    colour = handle.get_color() if handle.get_linestyle() != "None" else handle.get_markerfacecolor()
                    key = (to_hex(colour), str(handle.get_linestyle()), handle.get_marker())
                elif isinstance(handle, Patch):
                    key = (to_hex(handle.get_facecolor(), keep_alpha=True), handle.get_hatch() or "")
                else:  # a scatter's marker: filled, or an outline only ("out of order")
                    filled = len(handle.get_facecolor()) > 0
                    colour = (handle.get_facecolor() if filled else handle.get_edgecolor())[0]
                    key = (to_hex(colour), "filled" if filled else "outline")
                looks.setdefault(key, set()).add(text.get_text().split(" (")[0])
        shared = {k: v for k, v in looks.items() if len(v) > 1}
        assert not shared, f"{name}: one look for several things: {shared}"


def test_hatching_carries_lost_and_dead_lettered_bars(figures):
    bars = dict(figures)["pubsub"].axes[0].patches
    missed = [p for p in bars if to_hex(p.get_facecolor()).upper() == style.ROLE["missed"].upper()]
    assert missed and all(p.get_hatch() == style.HATCH["missed"] for p in missed)


def _texts(fig):
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            yield text


def test_every_figure_is_readable_on_a_projector(figures):
    for name, fig in figures:
        fig.canvas.draw()
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
                if label.get_text():
                    assert label.get_fontsize() >= 11, f"{name}: tick {label.get_text()!r} too small"
            for loc in ("left", "center"):
                title = ax.title if loc == "center" else ax._left_title
                if title.get_text():
                    assert title.get_fontsize() >= 12, f"{name}: title {title.get_text()!r} too small"
        for legend in fig.findobj(Legend):
            for text in legend.get_texts():
                assert text.get_fontsize() >= 11, f"{name}: legend {text.get_text()!r} too small"
        for text in _texts(fig):
            assert text.get_fontsize() >= 11, f"{name}: text {text.get_text()!r} at {text.get_fontsize()} pt"


def test_every_figure_states_a_result_with_a_number(figures):
    for name, fig in figures:
        result, _ = style.headline_text(fig)
        titles = [result, *(ax.get_title(loc="left") for ax in fig.axes)]
        stated = [t for t in titles if any(ch.isdigit() for ch in t)]
        assert stated, f"{name}: no title states a result ({titles})"
        if result:
            assert style.headline_text(fig)[0] != style.headline_text(fig)[1]


def test_every_headline_and_legend_fits_inside_its_figure(figures):
    for name, fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width, height = fig.canvas.get_width_height()
        # Headlines, titles, labels and annotations (tick labels outside the view are not drawn).
        texts = [*fig.texts, *(t for ax in fig.axes for t in (*ax.texts, ax.title, ax._left_title,
                                                             ax.xaxis.label, ax.yaxis.label))]
        for text in texts:
            if not text.get_text().strip() or not text.get_visible():
                continue
            box = text.get_window_extent(renderer)
            assert box.x0 >= -1 and box.x1 <= width + 1, f"{name}: {text.get_text()!r} runs off the figure"
        for legend in fig.findobj(Legend):
            box = legend.get_window_extent(renderer)
            assert box.x1 <= width + 1 and box.y0 >= -1, f"{name}: a legend runs off the figure"


def test_headlines_match_the_data_they_draw(figures):
    figs = dict(figures)
    assert style.headline_text(figs["dashboard"]) == (
        "177 processed by 3 consumers; lag peaked at 6, ended at 3", "s · group g")
    assert style.headline_text(figs["ordering"])[0] == "4 of 40 completions out of order"
    assert style.headline_text(figs["capstone"])[0] == (
        "44 of 44 readings processed, 3 alerts; lag 0 now, 5 at most")
    assert style.headline_text(figs["key order"])[0] == (
        "1 of 30 readings finished out of order for their key")
    # Circled where it is, as out-of-order points are in lesson 03's pool.
    circled = figs["key order"].axes[0].collections[-1]
    assert len(circled.get_facecolor()) == 0 and circled.get_offsets().tolist() == [[7, 2]]
    assert style.headline_text(figs["health"])[0] == (
        "1 of 1 situations cross a threshold; metrics past it: A 5")


def test_figures_are_sharp_pictures_at_their_page_width(figures):
    for name, fig in figures:
        png, meta = fig._repr_png_()
        width = int.from_bytes(png[16:20], "big")  # the PNG header's width field
        assert width == style.SHARPNESS * meta["width"], name


def test_the_live_dashboard_is_drawn_at_twice_its_page_width_and_fits_its_data():
    stream, consumers, ordering = _pool_frames()
    live = pool.PoolFigure(live=True, window=30)
    live.update(stream, consumers, ordering)
    width, _ = live.fig.canvas.get_width_height()
    assert width == pytest.approx(pool.LIVE_SCALE * live.display_px, abs=2)
    # Six seconds of data: the x axis spans the next step (10 s), not the 30 s window.
    assert live.ax_lag.get_xlim() == (-10, 0)
    longer = stream.assign(t=stream["t"] * 10)
    live.update(longer, consumers.assign(t=consumers["t"] * 10), ordering)
    assert live.ax_lag.get_xlim() == (-30, 0)


def test_no_figure_goes_through_pyplot():
    code = ("import sys, streamlab, streamlab.ui.figures.pool, streamlab.ui.chaos_panel, streamlab.ui.figures.capstone, "
            "streamlab.ui.figures.durability, streamlab.ui.figures.cluster, streamlab.ui.cluster_panel, "
            "streamlab.latency, streamlab.pubsub, streamlab.ui.figures.latency, streamlab.ui.figures.chaos, "
            "streamlab.ui.figures.pubsub, "
            "streamlab.ui.pubsub_panel; "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_panel_tables_have_no_borders_and_status_lines_look_alike():
    table = style.table_html([{"a": "<1>", "b": 2}])
    assert "border:none" in table and "&lt;1&gt;" in table and "<th" in table
    ok, error = style.status_html("running", "ok"), style.status_html("failed: x", "error")
    assert "●" in ok and "●" in error and style.STATUS_COLOURS["ok"] in ok
    assert style.STATUS_COLOURS["error"] in error and "failed: x" in error


# --- the panel family ---------------------------------------------------------------------------

def test_panels_are_one_family_rate_first_and_the_same_status_line(r, prefix):
    """Every panel with a rate has its slider first, at one width; status lines share one look;
    the Pub/Sub panel draws a chart of what each side received."""
    from streamlab.ui.pool_panel import ConsumerPoolPanel
    from streamlab.ui.durability_panel import DurabilityPanel
    from streamlab.ui.producer_panel import ProducerPanel

    panels = [ProducerPanel(r, prefix + "p", name=prefix + "producer"),
              ConsumerPoolPanel(r, prefix + "s", "g", consumers=2, rate=50, ms=1, name=prefix + "pool"),
              PubSubPanel(r, prefix=prefix, rate=50),
              DurabilityPanel(r, name=prefix + "durability")]
    try:
        for panel in panels:
            first = panel.widget.children[0]
            assert first.description in ("msgs/s", "XADD/s"), (type(panel).__name__, first)
            assert first.layout.width == "420px", type(panel).__name__
            panel.set_status("something happened", "warn")
            assert panel.status.value == style.status_html("something happened", "warn")
        chart = panels[2]
        chart.run_for(0.6)
        assert chart.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        assert "redraws" not in panels[1].summary()
    finally:
        for panel in panels:
            panel.close()


def test_lesson_02_and_03_figures_fit_a_720_px_screen_with_their_labels_apart(figures):
    """At 1280×720 a page shows about 650 px: the headline and the x axis of the dashboard,
    the ordering figure and the latency strip fit it together (5 in at 100 px each at most)."""
    figs = dict(figures)
    for name in ("dashboard", "ordering", "latency"):
        assert figs[name].get_figheight() * 100 <= 500, name
    dash = figs["dashboard"]
    dash.canvas.draw()
    # The pending strips write only their top number: no "0" against the strip below's top.
    strips = [ax for ax in dash.axes if ax.get_ylabel() in ("c1", "c2", "c3")]
    assert len(strips) == 3
    for ax in strips:
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert labels and "0" not in labels
    # Where the lag comes from is the lag plot's x label, clear of its tick labels.
    lag = next(ax for ax in dash.axes if ax.get_title(loc="left") == "Group lag")
    assert lag.get_xlabel() == "from XINFO GROUPS lag"
    renderer = dash.canvas.get_renderer()
    label_box = lag.xaxis.label.get_window_extent(renderer)
    assert all(label_box.y1 <= t.get_window_extent(renderer).y0 for t in lag.get_xticklabels()
               if t.get_text())
