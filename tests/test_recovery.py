"""Finding stuck work, taking it over, dead letters, idempotency and graceful shutdown, on both backends."""

from __future__ import annotations

import signal
import time

import pytest

from streamlab import recovery
from streamlab.consumers import ConsumerPool

from helpers import wait_until


def stuck(r, prefix, n=5, consumer="alice", read=None):
    """A stream of ``n`` orders, group ``g`` from 0, and ``consumer`` that read ``read`` of them and never acked."""
    stream = prefix + "orders"
    ids = [r.xadd(stream, {"order": i}) for i in range(n)]
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", consumer, {stream: ">"}, count=read or n)
    return stream, ids


# How idle the tests make stuck entries. XCLAIM's IDLE option sets it outright, so a test never
# sleeps for idle time and a slow machine cannot make fresh entries look idle: with
# ``min_idle_ms=IDLE_MS // 2`` only the entries made idle qualify, however long a step takes.
IDLE_MS = 600_000


def make_idle(r, stream, consumer, ids, group="g"):
    """Mark ``ids`` idle for IDLE_MS (XCLAIM ... IDLE ... JUSTID: same owner, delivery count kept)."""
    assert r.xclaim(stream, group, consumer, 0, ids, idle=IDLE_MS, justid=True) == ids


def test_a_consumer_that_read_and_never_acked_leaves_its_entries_pending(r, prefix):
    stream, ids = stuck(r, prefix, n=5, read=3)
    r.xreadgroup("g", "bob", {stream: ">"}, count=1)
    summary = recovery.pending_summary(r, stream, "g")
    assert summary.to_dict("records") == [{"consumer": "alice", "pending": 3}, {"consumer": "bob", "pending": 1}]
    assert summary.attrs == {"total": 4, "smallest": ids[0], "greatest": ids[3]}
    table = recovery.pending_entries(r, stream, "g")
    assert list(table.columns) == recovery.PENDING_COLUMNS
    assert table["entry_id"].tolist() == ids[:4]
    assert table["deliveries"].tolist() == [1, 1, 1, 1]


def test_pending_entries_filters_by_consumer_and_idle_time(r, prefix):
    stream, ids = stuck(r, prefix, n=4, read=2)
    make_idle(r, stream, "alice", ids[:2])
    r.xreadgroup("g", "bob", {stream: ">"}, count=2)
    assert recovery.pending_entries(r, stream, "g", consumer="bob")["entry_id"].tolist() == ids[2:]
    idle = recovery.pending_entries(r, stream, "g", min_idle_ms=IDLE_MS // 2)
    assert idle["entry_id"].tolist() == ids[:2]
    assert (idle["idle_ms"] >= IDLE_MS).all()


def test_rereading_own_pending_with_0_adds_a_delivery(r, prefix):
    stream, ids = stuck(r, prefix, n=3)
    again = r.xreadgroup("g", "alice", {stream: "0"})
    assert [i for i, _ in again[0][1]] == ids
    assert recovery.delivery_counts(r, stream, "g", ids) == {i: 2 for i in ids}
    r.xack(stream, "g", ids[0])
    assert recovery.delivery_counts(r, stream, "g", ids) == {ids[1]: 2, ids[2]: 2}


def test_xclaim_takes_only_entries_idle_long_enough(r, prefix):
    stream, ids = stuck(r, prefix, n=3)
    assert recovery.claim(r, stream, "g", "rescuer", IDLE_MS // 2, ids) == []
    make_idle(r, stream, "alice", ids)
    assert recovery.claim(r, stream, "g", "rescuer", IDLE_MS // 2, ids[:2]) == ids[:2]
    table = recovery.pending_entries(r, stream, "g")
    assert table.set_index("entry_id").loc[ids[0], "consumer"] == "rescuer"
    assert table.set_index("entry_id").loc[ids[0], "deliveries"] == 2
    assert recovery.claim(r, stream, "g", "rescuer", 50, []) == []


def test_two_racing_rescuers_with_min_idle_never_take_the_same_entry(r, prefix):
    stream, ids = stuck(r, prefix, n=20)
    make_idle(r, stream, "alice", ids)
    race = recovery.race_claim(r, stream, "g", ids, min_idle_ms=IDLE_MS // 2)
    assert race["claimer"].tolist() == ["rescuer-a", "rescuer-b"]
    won = [i for got in race["ids"] for i in got]
    assert sorted(won) == sorted(ids), "every entry goes to exactly one rescuer"
    owners = recovery.pending_entries(r, stream, "g").set_index("entry_id")["consumer"]
    for _, row in race.iterrows():
        assert all(owners[i] == row["claimer"] for i in row["ids"])


def test_without_min_idle_the_second_rescuer_steals_from_the_first(r, prefix):
    stream, ids = stuck(r, prefix, n=5)
    race = recovery.race_claim(r, stream, "g", ids, min_idle_ms=0)
    assert race["claimed"].tolist() == [5, 5]
    assert recovery.delivery_counts(r, stream, "g", ids) == {i: 3 for i in ids}


def test_autoclaim_follows_its_cursor_until_0_0(r, prefix):
    stream, ids = stuck(r, prefix, n=25)
    pages = list(recovery.autoclaim_pages(r, stream, "g", "rescuer", 0, count=10))
    assert [p.cursor for p in pages][0] == "0-0"
    assert pages[-1].next_cursor == "0-0"
    assert len(pages) >= 3
    assert [p.next_cursor for p in pages[:-1]] == [p.cursor for p in pages[1:]]
    assert [i for p in pages for i, _ in p.claimed] == ids
    claimed, deleted = recovery.autoclaim_all(r, stream, "g", "other", 60_000)
    assert claimed == [] and deleted == []


def test_autoclaim_reports_entries_deleted_while_pending(r, prefix):
    if not r.supports("xautoclaim-deleted"):
        pytest.skip("XAUTOCLAIM's third element needs Redis 7.0")
    stream, ids = stuck(r, prefix, n=4)
    r.xdel(stream, ids[1], ids[2])
    claimed, deleted = recovery.autoclaim_all(r, stream, "g", "rescuer", 0)
    assert [i for i, _ in claimed] == [ids[0], ids[3]]
    assert deleted == [ids[1], ids[2]]
    assert recovery.pending_summary(r, stream, "g").attrs["total"] == 2


def test_dead_letter_keeps_the_fields_original_id_and_delivery_count_and_acks(r, prefix):
    stream, ids = stuck(r, prefix, n=2)
    dlq = prefix + "orders:dead"
    copy_id = recovery.dead_letter(r, stream, "g", ids[0], {"order": "0"}, dlq, deliveries=6,
                                   consumer="alice", reason="poison")
    assert copy_id is not None
    [(got_id, fields)] = r.xrange(dlq)
    assert got_id == copy_id
    assert fields == {"order": "0", "original_id": ids[0], "deliveries": "6", "source_stream": stream,
                      "group": "g", "last_consumer": "alice", "reason": "poison"}
    assert recovery.pending_entries(r, stream, "g")["entry_id"].tolist() == [ids[1]]


def test_dead_letter_of_an_entry_someone_already_acked_copies_nothing(r, prefix):
    stream, ids = stuck(r, prefix, n=1)
    r.xack(stream, "g", ids[0])
    assert recovery.dead_letter(r, stream, "g", ids[0], {"order": "0"}, prefix + "dead", 3) is None
    assert r.exists(prefix + "dead") == 0


def test_idempotency_guard_applies_an_entry_once_and_counts_the_duplicates(r, prefix):
    guard = recovery.IdempotencyGuard(r, prefix, ttl=60)
    total = prefix + "total"
    results = [guard.apply(i, total, 5) for i in ("1-0", "2-0", "1-0", "1-0", "2-0")]
    assert results == [True, True, False, False, False]
    assert int(r.get(total)) == 10
    assert guard.absorbed() == 3
    assert guard.first_time("3-0") and not guard.first_time("3-0")
    assert guard.absorbed() == 4
    assert guard.seen("1-0") and not guard.seen("9-0")
    assert 0 < r.ttl(guard.marker("1-0")) <= 60


def test_reaper_retries_what_it_claims_and_dead_letters_poison(r, prefix):
    stream, ids = stuck(r, prefix, n=6)
    poison = {ids[2]}
    done = []

    def handler(entry_id, fields, deliveries):
        if entry_id in poison:
            raise ValueError("cannot process this order")
        done.append(entry_id)

    reaper = recovery.Reaper(r, stream, "g", min_idle_ms=20, max_deliveries=3, handler=handler,
                             name=f"reaper-test:{prefix}")
    events = []
    reaper.listeners.append(events.append)
    reaper.start()
    arrived = wait_until(lambda: reaper.dead_lettered >= 1, timeout=60)
    reaper.stop()
    assert arrived, "the reaper never dead-lettered the poison entry"
    assert sorted(done) == sorted(set(ids) - poison)
    assert recovery.pending_summary(r, stream, "g").attrs["total"] == 0
    [(_, copy)] = r.xrange(stream + ":dead")
    assert copy["original_id"] == ids[2] and copy["deliveries"] == "4"
    kinds = [e.kind for e in events if e.entry_id == ids[2]]
    assert kinds == ["claimed", "failed", "claimed", "failed", "claimed", "dead-lettered"]
    assert reaper.passes >= 1 and not reaper.running


def test_reaper_takes_only_entries_idle_long_enough_page_by_page(r, prefix):
    stream, ids = stuck(r, prefix, n=7)
    idle = ids[:5]
    make_idle(r, stream, "alice", idle)  # the last two stay fresh: alice may still be on them
    seen = []
    reaper = recovery.Reaper(r, stream, "g", consumer="rescuer", min_idle_ms=IDLE_MS // 2, count=2,
                             handler=lambda entry_id, fields, n: seen.append((entry_id, fields["order"], n)),
                             name=f"reaper-test:{prefix}")
    cursors = []
    for _ in range(5):  # pages of two, following the cursor: the whole list is scanned once
        cursors.append(reaper.reap_page().next_cursor)
        if cursors[-1] == "0-0":
            break
    assert cursors[-1] == "0-0" and len(cursors) >= 3
    assert seen == [(i, str(n), 2) for n, i in enumerate(idle)], "claimed: its second delivery"
    assert (reaper.claimed, reaper.acked) == (5, 5)
    left = recovery.pending_entries(r, stream, "g")
    assert left["entry_id"].tolist() == ids[5:] and set(left["consumer"]) == {"alice"}


def test_reaper_says_when_someone_else_acked_a_claimed_entry_first(r, prefix):
    stream, ids = stuck(r, prefix, n=2)
    reaper = recovery.Reaper(r, stream, "g", min_idle_ms=0, handler=lambda entry_id, fields, n:
                             r.xack(stream, "g", entry_id) if entry_id == ids[0] else None,
                             name=f"reaper-test:{prefix}")
    events = []
    reaper.listeners.append(events.append)
    reaper.reap_page()
    assert [(e.kind, e.entry_id) for e in events] == [
        ("claimed", ids[0]), ("acked-by-someone-else", ids[0]), ("claimed", ids[1]), ("acked", ids[1])]
    assert reaper.acked == 1 and reaper.claimed == 2
    assert all(e.deliveries == 2 for e in events)
    assert recovery.pending_summary(r, stream, "g").attrs["total"] == 0


def test_reaper_at_the_delivery_limit_retries_and_over_it_dead_letters(r, prefix):
    stream, ids = stuck(r, prefix, n=2)
    r.xreadgroup("g", "alice", {stream: "0"}, count=1)  # ids[0]: delivered twice before the reaper
    handled = []
    reaper = recovery.Reaper(r, stream, "g", min_idle_ms=0, max_deliveries=2,
                             handler=lambda entry_id, fields, n: handled.append(entry_id),
                             dead_letter_stream=prefix + "poison", name=f"reaper-test:{prefix}")
    reaper.reap_page()  # the claim is one more delivery: ids[0] 3 (over 2), ids[1] 2 (at it)
    assert handled == [ids[1]]
    assert reaper.dead_lettered == 1 and reaper.acked == 1
    [(_, copy)] = r.xrange(prefix + "poison")
    assert copy["original_id"] == ids[0] and copy["reason"] == "delivered 3 times (limit 2)"
    assert copy["last_consumer"] == "reaper"
    assert recovery.pending_summary(r, stream, "g").attrs["total"] == 0


def test_reaper_events_carry_the_entry_its_fields_the_time_the_error_and_the_deliveries(r, prefix):
    stream, ids = stuck(r, prefix, n=4)
    make_idle(r, stream, "alice", ids)
    r.xdel(stream, ids[3])  # deleted while pending
    boom = ValueError("cannot process this order")

    def handler(entry_id, fields, deliveries):
        if entry_id != ids[0]:
            raise boom

    reaper = recovery.Reaper(r, stream, "g", min_idle_ms=IDLE_MS // 2, max_deliveries=2, handler=handler,
                             name=f"reaper-test:{prefix}")
    assert (reaper.passes, reaper.failed, reaper.claimed, reaper.acked, reaper.dead_lettered) == (0, 0, 0, 0, 0)
    events = []
    reaper.listeners.append(events.append)
    began = time.time()
    reaper.reap_page()  # ids[0] acked; ids[1], ids[2] fail at their second delivery
    make_idle(r, stream, "reaper", ids[1:3])
    reaper.cursor = "0-0"
    reaper.reap_page()  # third delivery: over the limit of 2, dead-lettered
    ended = time.time()
    assert reaper.failed == 2 and reaper.dead_lettered == 2 and reaper.acked == 1
    seen = [(e.kind, e.entry_id, e.deliveries) for e in events if e.kind != "deleted"]
    assert seen == [("claimed", ids[0], 2), ("acked", ids[0], 2),
                    ("claimed", ids[1], 2), ("failed", ids[1], 2), ("claimed", ids[2], 2), ("failed", ids[2], 2),
                    ("claimed", ids[1], 3), ("dead-lettered", ids[1], 3),
                    ("claimed", ids[2], 3), ("dead-lettered", ids[2], 3)]
    if r.supports("xautoclaim-deleted"):
        assert [(e.entry_id, e.fields) for e in events if e.kind == "deleted"] == [(ids[3], {})]
    for e in events:
        assert began <= e.time <= ended and e.consumer == "reaper" and e.stream == stream
        if e.kind != "deleted":
            assert e.fields == {"order": str(ids.index(e.entry_id))}
        assert (e.error is boom) == (e.kind == "failed")


def test_reaper_pages_follow_the_cursor_from_one_call_to_the_next(r, prefix):
    stream, ids = stuck(r, prefix, n=5)
    make_idle(r, stream, "alice", ids)
    reaper = recovery.Reaper(r, stream, "g", min_idle_ms=IDLE_MS // 2, count=2, name=f"reaper-test:{prefix}")
    pages = [reaper.reap_page()]
    while pages[-1].next_cursor != "0-0" and len(pages) < 10:
        pages.append(reaper.reap_page())
    assert pages[0].cursor == "0-0"
    assert [p.cursor for p in pages[1:]] == [p.next_cursor for p in pages[:-1]]
    assert [i for p in pages for i, _ in p.claimed] == ids


def test_reaper_settings_at_their_limits_are_accepted(r, prefix):
    reaper = recovery.Reaper(r, prefix + "s", "g", min_idle_ms=0, max_deliveries=1)
    assert (reaper.min_idle_ms, reaper.max_deliveries) == (0, 1)
    assert reaper.dead_letter_stream == prefix + "s:dead"
    assert reaper.name == f"reaper:{prefix}s:g"
    # the defaults the class docstring and lesson 04 describe
    default = recovery.Reaper(r, prefix + "s", "g")
    assert (default.min_idle_ms, default.max_deliveries, default.count) == (1000, 5, 100)


def test_reaper_refuses_nonsense_settings(r, prefix):
    with pytest.raises(ValueError, match="max_deliveries"):
        recovery.Reaper(r, prefix + "s", "g", max_deliveries=0)
    with pytest.raises(ValueError, match="min_idle_ms"):
        recovery.Reaper(r, prefix + "s", "g", min_idle_ms=-1)


def test_graceful_shutdown_finishes_the_batch_in_hand_and_leaves_nothing_pending(r, prefix):
    stream = prefix + "orders"
    pool = ConsumerPool(r, stream, "g", consumers=2, seconds=0.01, start_id="0", count=5,
                        name=f"pool-test:{prefix}")
    pool.start()
    for i in range(200):
        r.xadd(stream, {"order": i})
    shutdown = recovery.GracefulShutdown(pool)
    assert wait_until(lambda: pool.total_processed >= 10, timeout=60)
    shutdown.request("test")
    assert shutdown.wait(0) and shutdown.reason == "test"
    assert not pool.running
    assert recovery.pending_summary(r, stream, "g").attrs["total"] == 0
    assert 10 <= pool.total_processed < 200


def test_sigterm_requests_a_shutdown_and_the_old_handler_comes_back():
    class Stoppable:
        stopped = False

        def stop(self):
            self.stopped = True

    before = signal.getsignal(signal.SIGTERM)
    target = Stoppable()
    shutdown = recovery.GracefulShutdown(target)
    with shutdown.installed():
        signal.raise_signal(signal.SIGTERM)
        assert shutdown.wait(1)
    assert shutdown.reason == "SIGTERM" and target.stopped
    assert signal.getsignal(signal.SIGTERM) is before
