"""Checkers for lesson 03, consumer groups (notebooks/03-consumer-groups.ipynb).

Solutions: notebooks/solutions/03-consumer-groups.py. Each checker builds its
own stream under ``lesson03:exN`` (a test prefix in the tests) and calls the
learner's function on it, so what is checked never depends on what ran before.
"""

from __future__ import annotations

from . import CodeRaised, ExerciseSet, Wrong

exercises = ExerciseSet(lesson=3, solutions="03-consumer-groups.py")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _group(r, stream: str, group: str) -> dict | None:
    """The group's row of ``XINFO GROUPS`` or None."""
    if not r.exists(stream):
        return None
    return next((g for g in r.xinfo_groups(stream) if _text(g["name"]) == group), None)


def _fill(r, stream: str, n: int, start: int = 0) -> list[str]:
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + n):
        pipe.xadd(stream, {"sensor_id": f"sensor{i % 3 + 1}", "temp": f"{20 + i * 0.5:.1f}"})
    return pipe.execute()


# --- exercise 1 -------------------------------------------------------------

class _NoackSpy:
    """The learner's client, refusing XREADGROUP ... NOACK: with it nothing is ever pending,
    so "acked every entry" would pass while nothing was acked (at most once, not at least once)."""

    def __init__(self, r):
        self._r = r

    def xreadgroup(self, *args, **kwargs):
        if kwargs.get("noack"):
            raise Wrong("your function reads with NOACK (noack=True): the entries never enter "
                        "the pending entries list, so a consumer that dies mid-work loses them "
                        "(at most once). Read without it and XACK each entry after handling it.")
        return self._r.xreadgroup(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._r, name)


@exercises.add(1, "Take a share of the work", hints=[
    "`r.xreadgroup(group, consumer, {stream: '>'}, count=count)` asks the group for entries "
    "nobody in the group has been given yet. Its reply is `[[stream, [(id, fields), ...]]]`, "
    "or `[]` when there is nothing new.",
    "After handling an entry, `r.xack(stream, group, entry_id)` takes it off the pending "
    "entries list. Collect the IDs in a list and return it.",
])
def ex1(ex, read_and_ack):
    """A function that reads up to ``count`` new entries for one consumer, acks them, returns their IDs."""
    r, stream, group = ex.r, ex.key("ex1"), "reporting"
    r.delete(stream)
    ids = _fill(r, stream, 7)
    r.xgroup_create(stream, group, id="0")
    shares = [("alice", 3, ids[:3]), ("bob", 10, ids[3:]), ("alice", 5, [])]
    for consumer, count, expected in shares:
        call = f"`read_and_ack(r, '{stream}', '{group}', '{consumer}', {count})`"
        try:
            got = ex.call(read_and_ack, _NoackSpy(r), stream, group, consumer, count)
        except CodeRaised as exc:
            if not expected and isinstance(exc.original, (IndexError, TypeError)):
                raise Wrong(f"{call} raised {type(exc.original).__name__} when the group had "
                            "nothing new for it. Then XREADGROUP replies with an empty list "
                            "`[]` (`(nil)` in redis-cli), so `reply[0][1]` fails: check "
                            "`if not reply: return []` before taking the entries out.") from None
            raise
        if not isinstance(got, (list, tuple)):
            raise Wrong(f"{call} returned {type(got).__name__} {got!r:.80}; return the list of "
                        "entry IDs you read and acked.")
        got = [_text(i[0] if isinstance(i, (list, tuple)) else i) for i in got]
        if got != expected:
            if not got and expected:
                raise Wrong(f"{call} returned no IDs, but the group still had {len(expected)} "
                            "entries for it. New entries come with the ID `>`; `0` only "
                            "re-reads the consumer's own pending entries.")
            if len(got) > count:
                raise Wrong(f"{call} returned {len(got)} IDs: read at most `count` entries "
                            "(the `count=` argument of XREADGROUP).")
            raise Wrong(f"{call} returned {got}, expected {expected}: each call should get the "
                        "next entries the group has not handed to anyone yet.")
        pending = r.xpending(stream, group)["pending"]
        if pending:
            raise Wrong(f"after {call} the group still has {pending} pending entries: "
                        "XACK each entry once it is handled, or it stays pending for ever.")
    return ("alice got the first 3 entries, bob the other 4, and nothing is pending: "
            "the group shared the work and every entry was acked once.")


# --- exercise 2 -------------------------------------------------------------

@exercises.add(2, "Who is holding what?", hints=[
    "`r.xpending(stream, group)` is the summary form of XPENDING: a dict with the total "
    "`pending`, the `min` and `max` IDs, and `consumers`, a list of "
    "`{'name': ..., 'pending': ...}`.",
    "Turn that list into a dict: `{c['name']: c['pending'] for c in summary['consumers']}`.",
])
def ex2(ex, pending_by_consumer):
    """A function returning {consumer: entries it holds unacknowledged} from XPENDING."""
    r, stream, group = ex.r, ex.key("ex2"), "alerts"
    r.delete(stream)
    _fill(r, stream, 12)
    r.xgroup_create(stream, group, id="0")
    held = r.xreadgroup(group, "a1", {stream: ">"}, count=4)[0][1]
    r.xack(stream, group, held[0][0], held[1][0])  # a1 finished two of its four
    r.xreadgroup(group, "a2", {stream: ">"}, count=3)
    for entry_id, _ in r.xreadgroup(group, "a3", {stream: ">"}, count=5)[0][1]:
        r.xack(stream, group, entry_id)  # a3 finished everything it read
    expected = {"a1": 2, "a2": 3}
    call = f"`pending_by_consumer(r, '{stream}', '{group}')`"
    got = ex.call(pending_by_consumer, r, stream, group)
    if isinstance(got, int):
        raise Wrong(f"{call} returned {got}, the group's total. The exercise asks for each "
                    "consumer's share: a dict such as {'a1': 2, ...}.")
    if not isinstance(got, dict):
        raise Wrong(f"{call} returned {type(got).__name__}; return a dict "
                    "{consumer name: pending count}.")
    try:
        got = {_text(k): int(v) for k, v in got.items() if int(v) != 0}
    except (TypeError, ValueError):
        raise Wrong(f"{call} returned {got!r:.120}; the values should be counts.") from None
    if got == expected:
        return ("a1 holds 2 and a2 holds 3 unacknowledged entries; a3 acked all it read, so "
                "XPENDING does not list it.")
    if got == {"a1": 4, "a2": 3, "a3": 5}:
        raise Wrong(f"{call} counted every entry each consumer was given (read); pending "
                    "means given and not yet acked. XPENDING knows the difference.")
    raise Wrong(f"{call} returned {got}, but XPENDING says {expected}.")


# --- exercise 3 -------------------------------------------------------------

@exercises.add(3, "Start without rewinding", hints=[
    "Create the group with `r.xgroup_create(stream, group, id='0', mkstream=True)`: `0` so "
    "that entries already in the stream are delivered, MKSTREAM so that a missing stream is "
    "created.",
    "The second start finds the group already there and Redis answers `BUSYGROUP`. That is "
    "good news, not an error: catch `redis.ResponseError` whose text starts with BUSYGROUP "
    "and carry on. Never call XGROUP SETID (walrus `set_id`) on start.",
])
def ex3(ex, start_group):
    """A start-up function: create the group from the beginning once, never rewind it afterwards."""
    r, group = ex.r, "ingest"
    fresh = ex.key("ex3:new")
    r.delete(fresh)
    call = f"`start_group(r, '{fresh}', '{group}')`"
    _start(ex, start_group, call, r, fresh, group)
    if _group(r, fresh, group) is None:
        raise Wrong(f"after {call} on a stream that did not exist yet there is no group "
                    f"{group!r} on it. MKSTREAM lets XGROUP CREATE make the stream.")

    stream = ex.key("ex3")
    r.delete(stream)
    ids = _fill(r, stream, 3)
    call = f"`start_group(r, '{stream}', '{group}')`"
    _start(ex, start_group, call, r, stream, group)
    info = _group(r, stream, group)
    if info is None:
        raise Wrong(f"after {call} there is no group {group!r} on {stream}.")
    if _text(info["last-delivered-id"]) != "0-0":
        raise Wrong(f"{call} created the group at `$` (its last-delivered-id is "
                    f"{_text(info['last-delivered-id'])}), so the {len(ids)} entries already "
                    "in the stream will never reach it. Create it from `0`.")
    # The first run of the consumer: everything delivered and acked.
    for entry_id, _ in r.xreadgroup(group, "worker", {stream: ">"})[0][1]:
        r.xack(stream, group, entry_id)
    call_again = f"{call} a second time (a restart)"
    _start(ex, start_group, call_again, r, stream, group)
    after = _group(r, stream, group)
    if after is None:
        raise Wrong(f"after {call_again} the group is gone: a restart must keep it, with "
                    "its position and its pending entries.")
    if _text(after["last-delivered-id"]) != ids[-1]:
        raise Wrong(f"{call_again} rewound the group: its last-delivered-id went back from "
                    f"{ids[-1]} to {_text(after['last-delivered-id'])}, so all {len(ids)} "
                    "entries would be processed again. This is the article's `set_id('0')` bug.")
    return ("The first start creates the group from the beginning (and the stream if needed); "
            "a restart leaves it exactly where it was.")


def _start(ex, start_group, call: str, *args) -> None:
    try:
        ex.call(start_group, *args)
    except CodeRaised as exc:
        text = str(exc)
        if "BUSYGROUP" in text:
            raise Wrong(f"{call} raised BUSYGROUP: the group already exists, which on a restart "
                        "is expected. Catch that error and carry on.") from None
        if "requires the key to exist" in text or "no such key" in text.lower():
            raise Wrong(f"{call} failed because the stream does not exist yet: add "
                        "`mkstream=True` (MKSTREAM) to XGROUP CREATE.") from None
        raise

