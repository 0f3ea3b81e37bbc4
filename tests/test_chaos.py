"""The chaos experiment loses nothing: crashes, poison and redeliveries on both backends, and a ledger that adds up.

The reliability test runs the issue's scenario (2,000 orders, 3 consumers, a
10% crash rate per delivery, 1% poison) for 10 fixed seeds on each backend.
Seeds decide every crash per (entry, delivery), so a failing seed replays the
same fates. Even seeds restart a crashed consumer under its own name (it
re-reads its PEL with 0), odd seeds under a new name (only the reaper can
recover its entries). Each run's figures go to test-output/chaos-reliability.json.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from streamlab.ui import style
from streamlab.ui.figures import chaos as chaos_figures
from streamlab import workers
from streamlab.chaos import ChaosExperiment, fate, is_poison, unit

from helpers import output_dir, wait_until

FIGURES_FILE = output_dir() / "chaos-reliability.json"
SEEDS = range(1, 11)


def record_figures(backend: str, seed: int, figures: dict) -> None:
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES_FILE.read_text()) if FIGURES_FILE.exists() else {}
    data.setdefault(backend, {})[str(seed)] = figures
    partial = FIGURES_FILE.with_name(f"{FIGURES_FILE.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(partial, FIGURES_FILE)  # a reader never sees half a file


def streamlab_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("streamlab-") and t.is_alive()]


@pytest.mark.parametrize("seed", SEEDS)
def test_chaos_run_loses_nothing_and_the_guard_absorbs_every_duplicate(r, prefix, backend_kind, seed):
    exp = ChaosExperiment(r, prefix, entries=2000, consumers=3, crash_probability=0.1,
                          poison_share=0.01, min_idle_ms=50, max_deliveries=5, processing_ms=0,
                          restart="same" if seed % 2 == 0 else "new", seed=seed)
    began = time.monotonic()
    finished = exp.run_until_done(timeout=90)
    seconds = time.monotonic() - began
    c = exp.counts()
    record_figures(backend_kind, seed, {
        "produced": c["produced"], "processed once": c["processed once"],
        "processed more than once": c["processed more than once"],
        "duplicates absorbed": c["duplicates absorbed"], "dead-lettered": c["dead-lettered"],
        "lost": c["lost"], "crashes": c["crashes"], "restarts": exp.restarts,
        "restart": exp.restart, "seconds": round(seconds, 2)})

    assert finished, f"not every entry was acked or dead-lettered in time: {c}"
    assert c["produced"] == 2000 == r.xlen(exp.stream)
    assert c["lost"] == 0, f"lost orders {c['lost seqs'][:20]}"
    assert c["still pending"] == 0 and c["not delivered yet"] == 0
    # Each entry left the PEL exactly once: by one XACK that answered 1, or by being dead-lettered.
    records = exp.journal.snapshot()
    assert len(records) == 2000
    assert all((rec.acks == 1) != rec.dead for rec in records)
    assert c["processed once"] + c["processed more than once"] + c["dead-lettered"] == 2000
    # Poison never succeeds, so every poison order is in the dead-letter stream.
    poison = {rec.seq for rec in records if rec.poison}
    dead = {int(f["seq"]) for _, f in r.xrange(exp.dead_stream)}
    assert poison and poison <= dead
    # At-least-once produced duplicates, and the guard absorbed exactly those.
    assert c["crashes"] > 100
    assert c["duplicate runs (journal)"] > 0
    assert c["duplicates absorbed"] == c["duplicate runs (journal)"]
    assert c["total in Redis"] == c["total expected"]
    assert not [w for w in exp.workers() if w.running]
    assert streamlab_threads() == []


def test_fates_depend_only_on_seed_entry_and_delivery():
    first = [fate(7, seq, d, 0.1) for seq in range(1, 500) for d in (1, 2, 3)]
    again = [fate(7, seq, d, 0.1) for seq in range(1, 500) for d in (1, 2, 3)]
    other = [fate(8, seq, d, 0.1) for seq in range(1, 500) for d in (1, 2, 3)]
    assert first == again != other
    crashes = sum(f != "ok" for f in first) / len(first)
    assert 0.07 < crashes < 0.13
    assert {"crash-before", "crash-after"} <= set(first)
    assert 0 <= unit(1, 2, 3) < 1
    assert sum(is_poison(7, seq, 0.02) for seq in range(1, 5001)) in range(60, 141)


def test_without_a_reaper_poison_stays_pending_and_the_ledger_says_so(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=200, consumers=2, crash_probability=0, poison_share=0.05,
                          reaper=False, processing_ms=0, seed=3)
    assert not exp.run_until_done(timeout=1.5)
    c = exp.counts()
    poison = sum(rec.poison for rec in exp.journal.snapshot())
    assert poison > 0
    assert c["still pending"] == poison
    assert c["dead-lettered"] == 0
    assert c["lost"] == 0
    assert c["processed once"] == 200 - poison


def test_restart_under_a_new_name_needs_the_reaper_and_retires_the_old_name(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=300, consumers=2, crash_probability=0.2, poison_share=0,
                          reaper=True, min_idle_ms=30, processing_ms=0, restart="new", seed=5)
    assert exp.run_until_done(timeout=30)
    assert exp.restarts > 0
    claims = [e for rec in exp.journal.snapshot() for e in rec.events
              if e[1].startswith("delivery") and e[2] == "reaper"]
    assert claims, "with new names only the reaper can take over a crashed consumer's entries"
    names = {c["name"] for c in r.xinfo_consumers(exp.stream, exp.group)}
    assert not names & set(exp.buried)
    assert exp.counts()["lost"] == 0


def test_journey_shows_deliveries_claims_and_the_dead_letter(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=100, consumers=2, crash_probability=0, poison_share=0.05,
                          min_idle_ms=20, max_deliveries=3, processing_ms=0, seed=2)
    assert exp.run_until_done(timeout=20)
    seq = exp.pick("dead-lettered")
    journey = exp.journey(seq)
    assert journey.attrs["poison"]
    assert list(journey["what"])[0] == "produced"
    assert list(journey["what"])[-1] == "dead-lettered"
    delivered = journey[journey["what"].str.startswith("delivery")]
    assert delivered["what"].tolist() == ["delivery 1", "delivery 2", "delivery 3", "delivery 4"]
    assert "XAUTOCLAIM" in " ".join(delivered["detail"])
    assert exp.journey(journey.attrs["entry_id"]).equals(journey)
    with pytest.raises(ValueError, match="No entry"):
        exp.journey(10_000)


def test_a_consumer_replaying_its_own_pending_list_dead_letters_past_the_limit_and_says_who(r, prefix):
    # No reaper: only a consumer restarted under its old name, replaying its own pending entries,
    # can see a delivery count over the limit (1 here: every replayed entry is over it).
    exp = ChaosExperiment(r, prefix, entries=100, consumers=2, crash_probability=0.3, poison_share=0,
                          reaper=False, max_deliveries=1, processing_ms=0, restart="same", seed=6)
    assert exp.run_until_done(timeout=30)
    dead = [rec for rec in exp.journal.snapshot() if rec.dead]
    assert dead, "crashes at 30 % must leave entries that a restarted consumer replays"
    assert len(dead) == r.xlen(exp.dead_stream), "every dead-lettered entry is in its order's journey"
    consumers = {c["name"] for c in r.xinfo_consumers(exp.stream, exp.group)}
    for rec in dead:
        ends = [e for e in rec.events if e[1] == "dead-lettered"]
        assert len(ends) == 1, rec.events
        _, _, who, detail = ends[0]
        assert who in consumers and who != "reaper", rec.events
        assert detail == "after 2 deliveries", rec.events


def test_ledger_and_figure_are_ready_for_the_notebook(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=150, consumers=3, crash_probability=0.1, poison_share=0.02,
                          min_idle_ms=30, processing_ms=0, seed=4)
    assert exp.run_until_done(timeout=20)
    ledger = exp.ledger()
    assert ledger.loc["lost", "entries"] == 0
    assert ledger.loc["produced", "entries"] == 150
    assert len(exp.timeline()) >= 2
    hist = exp.delivery_histogram()
    assert hist.to_numpy().sum() == 150
    fig = chaos_figures.chaos_figure(exp)
    assert len(fig.axes) >= 3


def test_journeys_explain_every_delivery_and_the_histogram_splits_dead_letters(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=300, consumers=3, crash_probability=0.15, poison_share=0.03,
                          min_idle_ms=30, max_deliveries=3, processing_ms=0, seed=9)
    assert exp.run_until_done(timeout=30)
    records = exp.journal.snapshot()
    # A crash mid-batch leaves its neighbours delivered but untouched: their journeys say so.
    assert any(e[1] == "not reached" and "same batch" in e[3] for rec in records for e in rec.events)
    seq = exp.pick("crashed after the work")
    journey = exp.journey(seq)
    assert "after the work, before XACK" in journey["detail"].tolist()
    assert "duplicate: the guard absorbed it" in journey["detail"].tolist()
    hist = exp.delivery_histogram()
    dead = {rec.seq: rec.poison for rec in records if rec.dead}
    assert hist["dead-lettered: poison"].sum() == sum(dead.values())
    assert hist["dead-lettered: healthy"].sum() == len(dead) - sum(dead.values())
    runs = exp.work_runs()
    assert runs.sum() == 300
    extra = sum((n - 1) * orders for n, orders in runs.items() if n > 1)
    assert extra == exp.counts()["duplicates absorbed"]


def test_switching_the_reaper_on_is_remembered_and_drawn(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=200, consumers=2, crash_probability=0.1, poison_share=0,
                          reaper=False, min_idle_ms=30, processing_ms=0, restart="new", seed=3)
    exp.start()
    # Switch it on mid-run: once crashes have left entries stranded without a reaper.
    assert wait_until(lambda: exp.journal.crashes >= 1, timeout=60)
    exp.set_reaper(True)
    switched_at = time.time() - exp.t0
    assert exp.run_until_done(timeout=60)
    assert len(exp.reaper_switches) == 1 and exp.reaper_switches[0][1] is True
    assert 0 < exp.reaper_switches[0][0] <= switched_at
    fig = chaos_figures.chaos_figure(exp)
    result, details = style.headline_text(fig)
    assert "reaper off, then on at" in details
    # The headline counts the orders from the delivery histogram the figure draws.
    hist = exp.delivery_histogram()
    assert result.startswith(f"{int(hist['acked'].sum()):,} of {exp.entries:,} orders acked")


def test_an_experiment_runs_once_and_bad_settings_are_refused(r, prefix):
    with pytest.raises(ValueError, match="crash_probability"):
        ChaosExperiment(r, prefix, crash_probability=1.5)
    with pytest.raises(ValueError, match="restart"):
        ChaosExperiment(r, prefix, restart="sometimes")
    with pytest.raises(ValueError, match="entries"):
        ChaosExperiment(r, prefix, entries=0)
    exp = ChaosExperiment(r, prefix, entries=20, crash_probability=0, poison_share=0, processing_ms=0)
    assert exp.run_until_done(timeout=10)
    with pytest.raises(RuntimeError, match="already run"):
        exp.start()
    assert workers.running_workers() == []


def test_chaos_panel_runs_from_python_and_shows_ledger_plots_and_a_journey(r, prefix):
    from streamlab.ui.chaos_panel import ChaosPanel

    panel = ChaosPanel(r, prefix=prefix, entries=100, crash_probability=0.1, poison_share=0.02,
                       min_idle_ms=30, seed=6, processing_ms=0)
    try:
        assert "not started" in panel.summary()
        panel.start()
        panel.crash.value = 0.05  # a slider moved while it runs reaches the experiment
        assert panel.experiment.crash_probability == 0.05
        panel.experiment.run_until_done(timeout=20)
        panel.stop()
        assert panel.experiment.done
        assert panel.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        assert "lost" in panel.ledger_view.value and "✔ 0" in panel.ledger_view.value
        assert "order" in panel.journey_view.value
        panel.pick_box.value = "1"
        assert "order 1" in panel.journey_view.value
        assert "finished: 100 of 100 orders" in panel.summary()
    finally:
        panel.close()
    assert not panel.busy()


def test_a_new_experiment_on_the_same_keys_stops_the_running_one_first(r, prefix):
    first = ChaosExperiment(r, prefix, entries=100_000, rate=200, crash_probability=0, poison_share=0,
                            processing_ms=0)
    first.start()
    assert wait_until(lambda: r.xlen(first.stream) > 0, timeout=60)  # the first one is under way
    second = ChaosExperiment(r, prefix, entries=50, crash_probability=0, poison_share=0, processing_ms=0)
    assert second.run_until_done(timeout=10)
    assert not first.running and not first.pool.running and not first.reaper.running
    assert second.counts()["produced"] == 50 == r.xlen(second.stream)


def test_the_guard_is_keyed_on_the_order_number_so_a_retried_xadd_is_absorbed(r, prefix):
    exp = ChaosExperiment(r, prefix, entries=20, consumers=1, crash_probability=0,
                          poison_share=0, min_idle_ms=50, processing_ms=0, seed=1)
    assert exp.run_until_done(timeout=30)
    assert exp.guard.seen("order:1") and not exp.guard.seen(r.xrange(exp.stream, count=1)[0][0])
    total = int(r.get(exp.total_key))
    first = r.xrange(exp.stream, count=1)[0]
    # A producer that retried its XADD: the same order again, under a new entry ID.
    client = r.new_client()
    try:
        entry_id = r.xadd(exp.stream, first[1])
        exp.after_work("retry-test", entry_id, first[1], client, RuntimeError)
    except RuntimeError:
        pass  # a scheduled crash after the work: the work itself has run
    finally:
        client.close()
    assert int(r.get(exp.total_key)) == total, "the duplicate order was applied twice"


def test_an_entry_deleted_while_pending_is_skipped_not_a_crash(r, prefix):
    """A pending-list read returns a deleted entry with no fields ({} in redis-py 8): no order to record."""
    from streamlab.chaos import order_of
    from streamlab.recovery import ReaperEvent

    assert order_of({}) is None and order_of(None) is None and order_of({"seq": "7"}) == 7
    exp = ChaosExperiment(r, prefix, entries=5, consumers=1, crash_probability=0,
                          poison_share=0, min_idle_ms=50, processing_ms=0, seed=1)
    try:
        before = exp.journal.deliveries_of(3)
        for kind in ("claimed", "acked", "dead-lettered"):
            exp._on_reaper_event(ReaperEvent(kind, "reaper", exp.stream, "1-1", {}, time.time(), None, 4))
        assert exp.journal.deliveries_of(3) == before, "a deleted entry must not touch any order's journey"
        exp._on_reaper_event(ReaperEvent("claimed", "reaper", exp.stream, "1-1", {"seq": "3"}, time.time(), None, 2))
        assert exp.journal.deliveries_of(3) == before + 1, "a claimed entry with fields is a delivery"
    finally:
        exp.stop()


def test_one_healthy_dead_letter_is_a_bar_of_its_own_with_its_count():
    """Stacked on 17 poison orders on the log axis, one healthy order was a slice under 2 px
    (the visual review); side by side it is a full bar with its own label."""
    import pandas as pd
    from matplotlib.colors import to_hex

    from streamlab.ui.figures.chaos import OUTCOME_STYLE, _outcome_bars

    hist = pd.DataFrame({"acked": [700, 60, 22, 0], "dead-lettered: poison": [0, 0, 0, 17],
                         "dead-lettered: healthy": [0, 0, 0, 1], "not finished": [0, 0, 0, 0]},
                        index=pd.Index([1, 2, 3, 6], name="deliveries"))
    ax = style.figure(4, 3).subplots()
    _outcome_bars(ax, hist)
    bars = {to_hex(p.get_facecolor()).upper(): p for p in ax.patches}
    healthy = bars[OUTCOME_STYLE["dead-lettered: healthy"]["color"].upper()]
    poison = bars[OUTCOME_STYLE["dead-lettered: poison"]["color"].upper()]
    assert (healthy.get_y(), healthy.get_height()) == (0, 1)  # standing on the axis, not on the poison
    assert poison.get_height() == 17 and poison.get_x() + poison.get_width() <= healthy.get_x() + 1e-9
    labels = {(round(t.xy[0], 2), t.get_text()) for t in ax.texts}
    assert (round(healthy.get_x() + healthy.get_width() / 2, 2), "1") in labels
    assert (round(poison.get_x() + poison.get_width() / 2, 2), "17") in labels
    legend = [t.get_text() for t in style.legend(ax).get_texts()]
    assert sorted(legend) == ["acked", "dead-lettered: healthy", "dead-lettered: poison"]  # each once


def test_a_long_journey_keeps_its_times_on_one_line_and_folds_its_middle(r, prefix):
    from streamlab.ui.chaos_panel import JOURNEY_ROWS, journey_html

    exp = ChaosExperiment(r, prefix, entries=200, consumers=3, crash_probability=0.3, poison_share=0.05,
                          min_idle_ms=30, processing_ms=0, seed=5)
    assert exp.run_until_done(timeout=60)
    seq = exp.pick("dead-lettered")
    events = len(exp.journey(seq))
    assert events > JOURNEY_ROWS  # five deliveries and a dead letter make a long story
    page = journey_html(exp, seq)
    assert "t (s)" in page and " s</td>" not in page  # the unit is in the header, not in every cell
    assert page.count("white-space:nowrap") >= 3 * JOURNEY_ROWS
    assert f"{events - 2 * (JOURNEY_ROWS // 2):,} more events" in page
