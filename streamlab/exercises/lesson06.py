"""Checkers for lesson 06, Pub/Sub vs Streams (notebooks/06-pubsub-vs-streams.ipynb).

Solutions: notebooks/solutions/06-pubsub-vs-streams.py.
"""

from __future__ import annotations

import time

from ..pubsub import Subscriber
from ..waiting import wait_until
from . import ExerciseSet, NotAttempted, Wrong

exercises = ExerciseSet(lesson=6, solutions="06-pubsub-vs-streams.py")

#: Exercise 1: channels the checker publishes to, and whether the pattern should match each.
EX1_CHANNELS = {
    "sensor:1:temp": True,
    "sensor:42:temp": True,
    "sensor:1:humidity": False,
    "alerts:temp": False,
}

#: Exercise 2: the group and how many events arrived while its consumer was away.
EX2_GROUP = "billing"
EX2_EVENTS = 25

#: Exercise 3: the right tool for each job.
EX3_ANSWERS = {
    "typing indicator in a chat": "pubsub",
    "orders that must each be charged exactly once": "streams",
    "tell every open dashboard to refresh now (one that misses it refreshes by itself within a minute)": "pubsub",
    "a new service that must replay last week's events": "streams",
    "sensor readings processed by a pool of workers": "streams",
}


@exercises.add(1, "One pattern for every temperature channel", hints=[
    "PSUBSCRIBE patterns are globs: `*` matches any run of characters, `?` one character.",
    "Channel names here are `lesson06:sensor:<id>:temp`; put the `*` where the id goes "
    "and keep `:temp` at the end.",
])
def ex1(ex, pattern):
    """A PSUBSCRIBE pattern that receives lesson06:sensor:<any id>:temp and nothing else."""
    text = pattern.decode() if isinstance(pattern, bytes) else pattern
    if not isinstance(text, str) or not text:
        raise Wrong("`pattern` should be a string such as 'lesson06:something:*'.")
    sub = Subscriber(ex.r, patterns=text, name=f"lesson06-ex1-checker-{id(ex)}").start()
    try:
        for channel in EX1_CHANNELS:
            ex.r.publish(ex.key(channel), channel)
        expected = [c for c, wanted in EX1_CHANNELS.items() if wanted]
        wait_until(lambda: sub.count >= len(expected), 2)
        time.sleep(0.1)  # long enough for a message that should not come to arrive
    finally:
        sub.stop()
    got = [m["data"] for m in sub.messages]
    missing = [ex.key(c) for c in expected if c not in got]
    extra = [ex.key(c) for c in got if not EX1_CHANNELS.get(c)]
    if missing and len(missing) == len(expected):
        raise Wrong(f"{text!r} matched none of the temperature channels, e.g. {missing[0]!r}. "
                    f"Channel names start with {ex.key('')!r}.")
    if missing:
        raise Wrong(f"{text!r} missed {', '.join(missing)}.")
    if extra:
        raise Wrong(f"{text!r} also received {', '.join(extra)}: make it match temperature "
                    "channels only.")
    return f"{text!r} received both temperature channels and nothing else."


@exercises.add(2, "Catch up after a day off", hints=[
    "The group remembers where it stopped. `XREADGROUP GROUP billing <consumer> ... STREAMS "
    "lesson06:ex2 >` gives what the group has not been given yet, whatever the consumer's name.",
    "Loop: read with count=10 until the reply is empty; for each entry append "
    "`int(fields['seq'])` to `seen` and `r.xack(...)` its ID.",
])
def ex2(ex, seen):
    """The billing group missed 25 events while its consumer was away: read them all and ACK them."""
    stream = ex.key("ex2")
    groups = {g["name"]: g for g in ex.r.xinfo_groups(stream)} if ex.r.exists(stream) else {}
    if EX2_GROUP not in groups:
        raise NotAttempted(f"{stream} or its group {EX2_GROUP!r} does not exist yet: run the whole "
                           "exercise cell.")
    group = groups[EX2_GROUP]
    last_id = ex.r.xrevrange(stream, count=1)[0][0]
    try:
        seen = [int(s) for s in seen]
    except (TypeError, ValueError):
        raise Wrong("`seen` should be the list of `seq` values you processed, as numbers.") from None
    if group["last-delivered-id"] != last_id:
        raise Wrong(f"the group {EX2_GROUP!r} has not been given every entry yet (it is at "
                    f"{group['last-delivered-id']}, the stream ends at {last_id}). Read with "
                    "XREADGROUP and `>`; XREAD with `$` only waits for new entries.")
    if group["pending"]:
        raise Wrong(f"you read the events but {group['pending']} are still pending: XACK each "
                    "one after processing it.")
    if "entries-read" in group and group["entries-read"] != EX2_EVENTS:
        # XGROUP SETID (or CREATE) moves the group past the entries without delivering them:
        # its entries-read counter is then unknown (nil) or short of what arrived.
        told = "nil (unknown)" if group["entries-read"] is None else group["entries-read"]
        raise Wrong(f"the group {EX2_GROUP!r} is at the end of the stream, but XINFO GROUPS says "
                    f"entries-read is {told}, not {EX2_EVENTS}: it was moved "
                    "there (XGROUP SETID?) instead of reading. Skipping events is what the "
                    "exercise is about not doing: read them with XREADGROUP and `>`.")
    if sorted(seen) != list(range(1, EX2_EVENTS + 1)):
        raise Wrong(f"`seen` holds {len(seen)} values; it should be seq 1 to {EX2_EVENTS}, "
                    "each once.")
    if seen != sorted(seen):
        raise Wrong("you have every event, but not in stream order: append them as you read them.")
    return f"all {EX2_EVENTS} events read and acknowledged: nothing was lost while you were away."


@exercises.add(3, "Pub/Sub or Streams?", hints=[
    "Ask: does it matter if a receiver that is offline right now never gets the message?",
    "If a message must not be lost, must be processed once by one of several workers, or must "
    "be read again later, it belongs in a stream.",
])
def ex3(ex, choices):
    """For each job in EX3_ANSWERS, 'pubsub' or 'streams'."""
    if not isinstance(choices, dict):
        raise Wrong("`choices` should be the dict from the exercise cell, each value "
                    "'pubsub' or 'streams'.")
    unanswered = [job for job in EX3_ANSWERS if choices.get(job) in (None, ..., "")]
    if len(unanswered) == len(EX3_ANSWERS):
        raise NotAttempted("every job still has `...`: put 'pubsub' or 'streams' for each.")
    if unanswered:
        raise Wrong(f"still to answer: {', '.join(repr(j) for j in unanswered)}.")
    odd = {job: v for job, v in choices.items() if str(v).lower() not in ("pubsub", "streams")}
    if odd:
        raise Wrong(f"use 'pubsub' or 'streams' only (got {odd}).")
    wrong = [job for job, want in EX3_ANSWERS.items() if str(choices[job]).lower() != want]
    if wrong:
        raise Wrong(f"{len(wrong)} of {len(EX3_ANSWERS)} are not the best fit: "
                    f"{', '.join(repr(j) for j in wrong)}. Would losing a message there hurt?")
    return ("each job has the right tool: Pub/Sub where a missed message does no harm (the next "
            "keystroke, the next refresh), Streams where every message must be processed, shared "
            "or replayed. A stream alone does not charge an order exactly once, though: it "
            "delivers at least once, so the charge must be idempotent too (keyed on the order's "
            "own ID, lesson 04); and the stream must survive a restart (persistence, see the "
            "lesson's last table).")
