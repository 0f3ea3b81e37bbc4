"""Checkers for lesson 08, durability and operations (notebooks/08-durability-and-operations.ipynb).

Solutions: notebooks/solutions/08-durability-and-operations.py.
"""

from __future__ import annotations

import pandas as pd

from .. import ids as stream_ids
from . import ExerciseSet, NotAttempted, Wrong

exercises = ExerciseSet(lesson=8, solutions="08-durability-and-operations.py")

#: Exercise 1: 20 writes, the restart keeps the first 12.
EX1_WRITES, EX1_KEPT = 20, 12

#: Exercise 2: the right setting for each stream, and why the others are not.
EX2_RIGHT = {"cache": "none", "payments": "aof-always", "clicks": "aof-everysec"}
EX2_SETTINGS = ("none", "rdb", "aof-everysec", "aof-always")
EX2_WHY = {
    ("cache", "rdb"): "the cache refills itself in a minute: snapshots cost forks and disk for "
                      "data nobody needs back.",
    ("cache", "aof-everysec"): "the cache refills itself in a minute: logging every write buys nothing.",
    ("cache", "aof-always"): "the cache refills itself in a minute: an fsync per write buys nothing.",
    ("payments", "none"): "a restart would lose every payment.",
    ("payments", "rdb"): "a crash loses every payment since the last snapshot.",
    ("payments", "aof-everysec"): "a power cut can lose about the last second of acknowledged payments.",
    ("clicks", "none"): "a restart loses every click, far more than a second.",
    ("clicks", "rdb"): "a crash loses everything since the last snapshot: minutes with usual rules.",
    ("clicks", "aof-always"): "it keeps the clicks, but an fsync per write costs throughput that "
                              "a second of possible loss does not justify.",
}

#: Exercise 3: the actions to choose from, and three situations (first and last sample each).
EX3_ACTIONS = ("add consumers", "fix acking", "retire the dead consumer", "nothing: healthy")


def _situation(lag, pending, oldest_ms, inactive_ms, who) -> pd.DataFrame:
    return pd.DataFrame({
        "lag": lag, "pending": pending, "oldest pending idle ms": oldest_ms,
        "max consumer inactive ms": inactive_ms, "least active consumer": who,
    }, index=pd.Index(["first", "last"], name="sample"))


EX3_SITUATIONS = {
    "X": _situation([0, 0], [40, 2400], [30, 95_000], [20, 40], ["c1", "c2"]),
    "Y": _situation([5, 3], [6, 9], [120, 610_000], [15, 610_000], ["c2", "c4"]),
    "Z": _situation([100, 52_000], [12, 14], [90, 110], [10, 25], ["c1", "c3"]),
}
EX3_RIGHT = {"X": "fix acking", "Y": "retire the dead consumer", "Z": "add consumers"}
EX3_WHY = {
    "X": "lag stays 0 while pending climbs to 2,400 and the oldest waits 95 s: the consumers "
         "read everything and acknowledge nothing.",
    "Y": "c4 has not read for 610 s and the oldest pending entry is as old: c4 died holding it.",
    "Z": "lag grows to 52,000 while every consumer is active and pending stays small: too few "
         "consumers for the rate.",
}


@exercises.add(1, "Read the ledger", hints=[
    "`acked` is the ledger: every ID XADD returned. `r.xrange('lesson08:ex1')` gives what is left.",
    "Keep the IDs of `acked` that are not among the IDs XRANGE returns, in `acked`'s order.",
])
def ex1(ex, lost):
    """lesson08:ex1 had 20 acknowledged writes; a restart kept 12. Which acknowledged IDs are lost?"""
    stream = ex.key("ex1")
    present = [entry_id for entry_id, _ in ex.r.xrange(stream)]
    if not present:
        raise NotAttempted(f"{stream} is empty or missing: run the whole exercise cell.")
    if isinstance(lost, (str, bytes, int)) or not hasattr(lost, "__iter__"):
        raise Wrong("`lost` should be a list of stream IDs, such as ['1717000000000-0', ...].")
    lost = [x.decode() if isinstance(x, bytes) else str(x) for x in lost]
    still_there = [x for x in lost if x in present]
    if still_there:
        raise Wrong(f"{len(still_there)} of the IDs in `lost` are still in {stream} "
                    f"(e.g. {still_there[0]}): lost means acknowledged and not there any more.")
    want = EX1_WRITES - len(present)
    if len(lost) < want:
        raise Wrong(f"`lost` has {len(lost)} IDs; {EX1_WRITES} writes were acknowledged and "
                    f"{len(present)} are left, so {want} are missing.")
    if len(lost) > want:
        raise Wrong(f"`lost` has {len(lost)} IDs, more than the {want} that are missing: "
                    "list each one once, and only IDs from `acked`.")
    if lost != sorted(lost, key=stream_ids.parse):
        raise Wrong("the right IDs, but not oldest first: keep `acked`'s order.")
    return (f"{len(lost)} acknowledged writes lost, from {lost[0]} on: a ledger like this is the "
            "only way to know, because the restarted server does not remember them.")


@exercises.add(2, "Choose the persistence", hints=[
    "Ask of each stream: what may a crash cost, and does it matter how fast writes go?",
    "A cache that refills itself needs nothing. `always` is the only setting that loses no "
    "acknowledged write in a power cut. `everysec` loses about a second at most.",
])
def ex2(ex, choice):
    """For a self-refilling cache, payments and clicks: the setting that keeps enough, no more."""
    if not isinstance(choice, dict):
        raise Wrong("`choice` should be the dict of the exercise cell, one setting per stream.")
    for stream, right in EX2_RIGHT.items():
        got = choice.get(stream, ...)
        if got is ... or got is None:
            raise NotAttempted(f"`choice['{stream}']` is still `...`: fill in all three.")
        if got not in EX2_SETTINGS:
            raise Wrong(f"choice['{stream}'] is {got!r}; use one of {', '.join(map(repr, EX2_SETTINGS))}.")
        if got != right:
            raise Wrong(f"{stream!r}: {got!r} is not the best fit: {EX2_WHY[(stream, got)]}")
    return "none for the cache, always for payments, everysec for clicks."


@exercises.add(3, "Apply the rule of thumb", hints=[
    "Look at what moves between the first and the last sample, and what stays small.",
    "Lag growing with active consumers: too few consumers. Pending growing with lag flat: no "
    "acks. One consumer inactive as long as the oldest pending entry: a dead consumer.",
])
def ex3(ex, actions):
    """Situations X, Y, Z: choose an action from EX3_ACTIONS for each."""
    if not isinstance(actions, dict):
        raise Wrong("`actions` should be the dict of the exercise cell: {'X': ..., 'Y': ..., 'Z': ...}.")
    for name, right in EX3_RIGHT.items():
        got = actions.get(name, ...)
        if got is ... or got is None:
            raise NotAttempted(f"`actions['{name}']` is still `...`: fill in all three.")
        if got not in EX3_ACTIONS:
            raise Wrong(f"actions['{name}'] is {got!r}; copy one of the actions exactly: "
                        f"{', '.join(map(repr, EX3_ACTIONS))}.")
        if got != right:
            raise Wrong(f"situation {name}: not {got!r}. {EX3_WHY[name]}")
    return "X: fix acking, Y: retire c4 (claim first), Z: add consumers."


@exercises.add(4, "Retire a dead consumer", hints=[
    "`r.xpending_range(stream, 'workers', '-', '+', 100, consumername='worker-old')` lists its "
    "4 entries.",
    "`XCLAIM` them to worker-new (`r.xclaim(stream, 'workers', 'worker-new', 0, ids)`), and only "
    "then `r.xgroup_delconsumer(stream, 'workers', 'worker-old')`.",
])
def ex4(ex):
    """lesson08:ex4: worker-old died holding 4 orders. Claim them to worker-new, then delete worker-old."""
    stream = ex.key("ex4")
    try:
        consumers = {c["name"]: c for c in ex.r.xinfo_consumers(stream, "workers")}
        pending = ex.r.xpending_range(stream, "workers", "-", "+", 100)
    except Exception:  # noqa: BLE001 - no stream or group yet: the setup has not run
        raise NotAttempted(f"{stream} or its group 'workers' does not exist: run the whole "
                           "exercise cell.") from None
    delivered = ex.r.xinfo_groups(stream)[0]["last-delivered-id"]
    if "worker-old" in consumers:
        if consumers["worker-old"]["pending"] == 4:
            raise NotAttempted("worker-old is still there with its 4 pending orders: retire it.")
        raise Wrong(f"worker-old is still in the group (with {consumers['worker-old']['pending']} "
                    "pending): after claiming its entries, XGROUP DELCONSUMER it.")
    if not pending and delivered != "0-0":
        raise Wrong("worker-old is gone, and so are its 4 orders from the pending list: "
                    "XGROUP DELCONSUMER dropped them, and nobody will be given them again. "
                    "Claim first (XCLAIM to worker-new), then delete. Run the cell again to retry.")
    owners = {p["consumer"] for p in pending}
    if len(pending) != 4 or owners != {"worker-new"}:
        raise Wrong(f"the pending list has {len(pending)} entries owned by "
                    f"{', '.join(sorted(owners)) or 'nobody'}; the 4 orders should be pending "
                    "under worker-new.")
    return "worker-old is retired and its 4 orders wait for worker-new: nothing was dropped."
