"""ConsumerPool(ack="batch"): one XACK per batch, the same exact counts, and its trade-off on a crash."""

from __future__ import annotations

import pytest

from streamlab.consumers import ConsumerCrashed, Consumer, ConsumerPool


def fill(r, key, n):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(key, {"sensor_id": f"s{i % 3}", "seq": i})
    pipe.execute()


def xack_calls(r):
    if r.backend.is_fake:
        return None
    return int(r.info("commandstats").get("cmdstat_xack", {}).get("calls", 0))


def test_batch_mode_acks_everything_with_one_xack_per_batch(r, prefix):
    key = prefix + "s"
    fill(r, key, 250)
    before = xack_calls(r)
    pool = ConsumerPool(r, key, "g", consumers=1, seconds=0, start_id="0", count=50, ack="batch",
                        name=prefix + "pool")
    pool.start()
    try:
        assert pool.wait_processed(250, 30)
    finally:
        pool.stop()
    assert pool.total_processed == 250 and r.xpending(key, "g")["pending"] == 0
    frame = pool.ordering_frame()
    assert len(frame) == 250 and frame["out_of_order"].sum() == 0
    if before is not None:  # a real server counts its commands: 5 batches of 50, so 5 XACKs
        assert xack_calls(r) - before == 5


class CrashOnTenth(Consumer):
    def process(self, entry_id, fields):
        if int(fields["seq"]) == 9:
            raise ConsumerCrashed("killed mid-batch")


@pytest.mark.parametrize("ack, pending_after", [("entry", 11), ("batch", 20)])
def test_a_crash_mid_batch_leaves_the_finished_entries_pending_only_in_batch_mode(r, prefix, ack, pending_after):
    key = prefix + "s"
    fill(r, key, 20)
    pool = ConsumerPool(r, key, "g", consumers=1, seconds=0, start_id="0", count=20, ack=ack,
                        consumer_class=CrashOnTenth, name=prefix + "pool")
    pool.start()
    try:
        consumer = pool.consumers["c1"]
        consumer._thread.join(10)
    finally:
        pool.stop()
    # Per entry: entries 0-8 were acked as each finished; batch: nothing was acked.
    assert r.xpending(key, "g")["pending"] == pending_after
    assert pool.total_processed == 20 - pending_after


def test_an_unknown_ack_mode_is_refused_with_the_choices(r, prefix):
    with pytest.raises(ValueError, match="'entry' acks each entry"):
        ConsumerPool(r, prefix + "s", "g", ack="bulk")
