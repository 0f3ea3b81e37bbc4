"""Checkers for lesson 09, Redis Cluster (notebooks/09-redis-cluster.ipynb).

Solutions: notebooks/solutions/09-redis-cluster.py. The checkers use slot
arithmetic (the client's own CRC16, ``cluster.slot_of``) so they give the same
verdict on fakeredis, one server and a cluster; ex3 also runs the alert-and-ack script.
"""

from __future__ import annotations

from ..cluster import hash_tag, slot_of, slot_ranges
from . import ExerciseSet, NotAttempted, Wrong

exercises = ExerciseSet(lesson=9, solutions="09-redis-cluster.py")

#: Exercise 1: the keys an orders pipeline needs together.
EX1_ROLES = ("stream", "dead", "total")
#: Exercise 2: partitions to place, one per shard of a cluster with equal slot ranges.
EX2_SHARDS = 3
#: Exercise 3: the partition streams the checker tries.
EX3_PARTITIONS = 6


def _shard(slot: int, shards: int) -> int:
    return next(i for i, (lo, hi) in enumerate(slot_ranges(shards)) if lo <= slot <= hi)


@exercises.add(1, "Keys that travel together", hints=[
    "Only the part between the first `{` and the next `}` is hashed, if there is such a part.",
    "Give all three the same tag, e.g. `lesson09:{orders}:stream`, `lesson09:{orders}:dead`, "
    "`lesson09:{orders}:total`.",
])
def ex1(ex, keys):
    """Three key names (stream, dead-letter stream, total) that one Lua script may use on a cluster."""
    if not isinstance(keys, dict) or set(keys) != set(EX1_ROLES):
        raise Wrong(f"`keys` should be a dict with exactly the keys {', '.join(EX1_ROLES)}.")
    names = [keys[role] for role in EX1_ROLES]
    if any(n in (..., None, "") for n in names):
        raise NotAttempted("fill in all three key names.")
    if not all(isinstance(n, str) and n.startswith(ex.key("")) for n in names):
        raise Wrong(f"every key of this lesson starts with `{ex.key('')}` (so `sl.reset` can find it).")
    if len(set(names)) != 3:
        raise Wrong("the three keys must be different keys.")
    slots = {role: slot_of(keys[role]) for role in EX1_ROLES}
    if len(set(slots.values())) > 1:
        shown = ", ".join(f"{keys[r]!r} -> slot {slots[r]}" for r in EX1_ROLES)
        raise Wrong(f"they are in different slots ({shown}): the script would fail with CROSSSLOT. "
                    "Give them one hash tag.")
    tag = hash_tag(names[0])
    if tag == "lesson09":
        raise Wrong("they share a slot, but the tag `{lesson09}` would put every key of the lesson "
                    "(every partition too) in that one slot, on one shard. Tag what belongs "
                    "together: `{orders}`.")
    return f"all three are in slot {slots['stream']} (tag {{{tag}}}), so one script may use them."


@exercises.add(2, "Three partitions, three shards", hints=[
    "`cluster.slot_of(key)` gives the slot; with 3 equal ranges, shard 0 has 0-5460, "
    "shard 1 5461-10922, shard 2 10923-16383 (`cluster.slot_ranges(3)`).",
    "Try tags in a loop: `for i in range(100): cluster.slot_of(f'lesson09:ex2:{{t{i}}}')` and keep "
    "the first that lands on each shard.",
])
def ex2(ex, keys):
    """Three partition stream keys ``lesson09:ex2:{...}`` that land on three different shards."""
    if not isinstance(keys, (list, tuple)) or len(keys) != EX2_SHARDS:
        raise Wrong(f"`keys` should be a list of {EX2_SHARDS} key names.")
    if any(k in (..., None, "") for k in keys):
        raise NotAttempted("fill in all three keys.")
    if not all(isinstance(k, str) and k.startswith(ex.key("ex2:")) for k in keys):
        raise Wrong(f"each key should start with `{ex.key('ex2:')}`.")
    if any(hash_tag(k) is None for k in keys):
        raise Wrong("give each key a hash tag (`{...}`), so that the partition's companion keys "
                    "(dead letters, alerts) can share its slot later.")
    shards = [_shard(slot_of(k), EX2_SHARDS) for k in keys]
    if len(set(shards)) != EX2_SHARDS:
        shown = ", ".join(f"{k!r} -> slot {slot_of(k)} (shard {s})" for k, s in zip(keys, shards))
        raise Wrong(f"not one per shard: {shown}.")
    return "one partition on each shard: " + ", ".join(f"{k} -> shard {s}" for k, s in zip(keys, shards))


@exercises.add(3, "A cluster-safe alert and ack", hints=[
    "The alert key must have the partition stream's hash tag: the text between `{` and `}` in `stream`.",
    "`tag = stream[stream.index('{'):stream.index('}') + 1]`, then `return f'lesson09:ex3:alerts:{tag}'`.",
])
def ex3(ex, alerts_for):
    """``alerts_for(stream)``: the alerts key that may share a Lua script with ``stream``'s XACK."""
    streams = [ex.key(f"ex3:{{p{p}}}") for p in range(EX3_PARTITIONS)]
    answers = {s: ex.call(alerts_for, s) for s in streams}
    if all(a in (..., None) for a in answers.values()):
        raise NotAttempted("`alerts_for` returns nothing yet: write its body so it returns the alerts key.")
    for stream, key in answers.items():
        if not isinstance(key, str) or not key.startswith(ex.key("")):
            raise Wrong(f"alerts_for({stream!r}) returned {key!r}: it should be a key starting "
                        f"with {ex.key('')!r}.")
        if key == stream:
            raise Wrong("the alerts key must be another key than the partition stream itself.")
        if slot_of(key) != slot_of(stream):
            raise Wrong(f"alerts_for({stream!r}) is {key!r}, in slot {slot_of(key)}; the stream is in "
                        f"slot {slot_of(stream)}. On a cluster a script (or MULTI) with both fails with CROSSSLOT.")
    # One alerts key for every partition cannot pass the slot test above: the partitions'
    # tags {p0}..{p5} all hash to different slots.
    # Prove it: the once-per-reading alert script (XPENDING, XADD, XACK) on every partition.
    from ..programs import alert_and_ack

    for stream, key in answers.items():
        ex.r.delete(stream, key)
        ex.r.xgroup_create(stream, "alerts", id="0", mkstream=True)
        entry = ex.r.xadd(stream, {"sensor_id": "s1", "temp": "31.0"})
        ex.r.xreadgroup("alerts", "a1", {stream: ">"})
        alert_and_ack(ex.r, stream, "alerts", entry, {"source_id": entry, "temp": "31.0"}, key)
        ok = ex.r.xlen(key) == 1 and ex.r.xpending(stream, "alerts")["pending"] == 0
        ex.r.delete(stream, key)
        if not ok:
            raise Wrong(f"the alert script on {stream} did not leave one alert and nothing pending.")
    return f"every partition's alert shares its slot: the alert-and-ack script ran on all {len(streams)}."
