"""Writes notebooks/03-consumer-groups.ipynb: the maintained source of lesson 03 (run it, then check the notebook)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = []


def md(text):
    cells.append(new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(new_code_cell(text.strip("\n")))


md("""
# 03 · Consumer groups

Share the work of one stream among several consumers, and watch who does what.

**Learning goals**
- create a group with `XGROUP CREATE` (from `$` or `0`, with `MKSTREAM`) and read from it with `XREADGROUP ... >`
- confirm work with `XACK`, and find unconfirmed work in the pending entries list (`XPENDING`, `XREADGROUP ... 0`)
- read `XINFO GROUPS` and `XINFO CONSUMERS`: what `entries-read` and `lag` mean, and when the server cannot tell the lag
- tell one group with many consumers from many groups on one stream
- explain why several consumers finish work out of order, and how to keep order per key
- spot the bug in the article's consumer-group start-up, which rewinds the group on every start

**Prerequisites**: [01 · XADD and IDs](01-xadd-and-ids.ipynb), [02 · Reading and blocking](02-reading-and-blocking.ipynb).
**Time**: about 35 minutes.
""")

code("""
import pandas as pd

import streamlab as sl
from streamlab import observe, plots
from streamlab.consumers import ConsumerPool
from streamlab.dashboard import ConsumerPoolPanel
from streamlab.producer import Producer

r = sl.connect()
cleared = sl.reset(r, lesson=3, quiet=True)  # start clean: stops workers, deletes only lesson03:* keys
""")

md("""
## 1. What a group adds to a stream

With `XREAD` (lesson 02) every reader gets every entry and remembers its own
position. A **consumer group** is a name stored *on the server*, next to the stream,
holding two things:

- a **position** (`last-delivered-id`): the newest entry the group has handed out;
- a **pending entries list** (PEL): entries handed to a consumer that it has not
  confirmed yet, with who has each one.

The consumers in a group share the entries: each entry goes to one of them.

We use small explicit IDs (`1-1`, `1-2`, ...) so the commands below can name them.
""")

code("""
%%redis
XADD lesson03:orders 1-1 item tea
XADD lesson03:orders 1-2 item cake
XADD lesson03:orders 1-3 item soup
XGROUP CREATE lesson03:orders kitchen 0
XGROUP CREATE lesson03:orders audit $
""")

md("""
Both groups were created (`OK`). The last argument is where the group starts:

- `0`: before the first entry, so `kitchen` will be given all three orders;
- `$`: after the newest entry, so `audit` only gets orders added from now on.

A group needs its stream to exist. `MKSTREAM` creates an empty one when it does not;
without it Redis refuses. Creating a group that exists is refused too (`BUSYGROUP`),
and that refusal leaves the group as it was.
""")

code("""
%%redis
XGROUP CREATE lesson03:nothing-yet billing $
XGROUP CREATE lesson03:nothing-yet billing $ MKSTREAM
XGROUP CREATE lesson03:orders kitchen 0
""")

md("""
## 2. `XREADGROUP` with `>`

`XREADGROUP GROUP <group> <consumer> ... STREAMS <key> >` asks for entries that
nobody in the group has been given yet. The consumer name is whatever you pass:
a consumer is created the first time it reads (`XGROUP CREATECONSUMER` can create one
ahead of time).
""")

code("""
%%redis
XREADGROUP GROUP kitchen alice COUNT 2 STREAMS lesson03:orders >
XREADGROUP GROUP kitchen bob COUNT 2 STREAMS lesson03:orders >
XREADGROUP GROUP kitchen bob COUNT 2 STREAMS lesson03:orders >
""")

md("""
`alice` got tea and cake, `bob` got the soup, and bob's second read found nothing
new: `(nil)`. The group moved its position forward with each read, so no order went
to two consumers. In Python the reply has the same shape: a list of
`[stream, [(id, fields), ...]]`.
""")

code("""
r.xadd("lesson03:orders", {"item": "pie"}, id="1-4")
r.xreadgroup("kitchen", "alice", {"lesson03:orders": ">"}, count=5)
""")

md("""
## 3. Pending entries and `XACK`

Every entry handed out sits in the group's pending entries list until its consumer
sends `XACK`. The summary form of `XPENDING` gives the count, the smallest and
largest pending ID, and how many each consumer holds; the extended form
(`- + count`) lists entries, with how long each has waited (ms) and how many times it
was delivered.
""")

code("""
%%redis
XPENDING lesson03:orders kitchen
XACK lesson03:orders kitchen 1-1 1-3
XPENDING lesson03:orders kitchen - + 10
""")

md("""
In the summary (the first reply), alice holds 3 and bob 1. A real server sends those
counts as strings (`"3"`), fakeredis as integers (`(integer) 3`): the same numbers.

`XACK` answered `2`: two entries left the list. Tea (`1-1`) and soup (`1-3`) are done;
cake and pie are still with `alice`. As a pandas table:
""")

code("""
pd.DataFrame(r.xpending_range("lesson03:orders", "kitchen", min="-", max="+", count=10))
""")

md("""
## 4. Reading your own history with `0`

With an ID instead of `>`, `XREADGROUP` does not take new entries: it re-reads the
consumer's **own** pending entries after that ID. `0` means all of them. A consumer
that restarts after a crash does this first, to finish what it was given before.
Lesson 04 builds on it.
""")

code("""
%%redis
XREADGROUP GROUP kitchen alice STREAMS lesson03:orders 0
XREADGROUP GROUP kitchen bob STREAMS lesson03:orders 0
""")

code("""
if r.backend.is_fake:
    print("fakeredis note: re-reading history with 0 does not reset the entries' idle time "
          "in XPENDING; a real server resets it to 0.")
else:
    print(f"{r.backend.server_name} {r.backend.version_text}: re-reading history with 0 "
          "resets the entries' idle time in XPENDING.")
""")

md("""
alice got cake and pie again (and their delivery counts went up); bob has nothing
pending, so he gets an empty list. Let alice finish:
""")

code("""
%%redis
XACK lesson03:orders kitchen 1-2 1-4
""")

md("""
## 5. `NOACK`: no pending list at all

`NOACK` hands the entry out and forgets it at once: nothing to acknowledge, and
nothing to recover if the consumer dies while working. That is *at most once*
delivery; the default (ack after the work) is *at least once*.
""")

code("""
%%redis
XADD lesson03:orders 1-5 item tart
XREADGROUP GROUP kitchen carol NOACK STREAMS lesson03:orders >
XPENDING lesson03:orders kitchen
""")

md("""
## 6. `XINFO GROUPS` and `XINFO CONSUMERS`

Two tables a server keeps about its groups. As pandas tables:
""")

code("""
groups = pd.DataFrame(r.xinfo_groups("lesson03:orders")).set_index("name")
groups
""")

md("""
- `pending`: entries given out and not acked (the PEL's size).
- `last-delivered-id`: the group's position.
- `entries-read`: how many of the stream's entries the group has been given so far
  (a counter that Redis 7.0 added).
- `lag`: how many entries are still waiting for the group: entries ever added to the
  stream minus `entries-read`.

`kitchen` has been given all five orders: `entries-read` 5, lag 0. `audit` shows a
case where the server cannot tell: it started at `$` on a stream that already held
entries, and Redis does not know how many came before that point, so `entries-read`
and `lag` are nil (`NaN` in pandas). `XGROUP CREATE ... ENTRIESREAD n` would tell it.
""")

code("""
consumers = pd.DataFrame(r.xinfo_consumers("lesson03:orders", "kitchen")).set_index("name")
consumers
""")

md("""
Per consumer: how many entries it holds (`pending`) and how long since it was last
seen (`idle`, ms).
""")

code("""
if r.backend.is_fake:
    print("fakeredis note: it lists groups and consumers in the order they were created "
          "(a real server sorts them by name), and XINFO CONSUMERS shows fields of newer "
          "Redis versions, such as 'inactive', even though it emulates 7.0.")
""")

md("""
### When the server cannot tell the lag

The lag is a subtraction of two counters, and it only holds while no entry the group
has yet to read was deleted. After an `XDEL` (or a trim) in that range, the server
answers `lag` = `None` (nil) until the group has read past the gap. Servers older
than 7.0 have no `lag` at all. Here `kitchen` has read up to `1-5`; we add two
entries and delete the first of them:
""")

code("""
r.xadd("lesson03:orders", {"item": "scone"}, id="1-6")
r.xadd("lesson03:orders", {"item": "bun"}, id="1-7")
r.xdel("lesson03:orders", "1-6")
kitchen = observe.group_info(r, "lesson03:orders", "kitchen")
print("XINFO GROUPS says lag =", kitchen["lag"])
lag, source = observe.lag_of(r, "lesson03:orders", kitchen, r.xinfo_stream("lesson03:orders"))
print(f"counted instead: lag = {lag} (source: {source})")
""")

md("""
streamlab's sampler takes the server's lag when there is one and otherwise computes
it, first from the counters and, when they cannot be trusted, by counting the entries
after `last-delivered-id` with `XRANGE`. So the lag plots below mean the same thing on
every server, and each sample says where its number came from.

## 7. Moving, trimming and removing groups

- `XGROUP SETID key group <id>` moves the group's position. Everything after the new
  position will be delivered again, even entries already acked.
- `XGROUP DELCONSUMER key group consumer` removes a consumer and returns how many
  entries it still held. Those entries leave the pending list **unprocessed**: claim
  or ack them first (lesson 04).
- `XGROUP DESTROY key group` removes the group, its position and its pending list.
""")

code("""
%%redis
XGROUP SETID lesson03:orders audit 0
XREADGROUP GROUP audit auditor COUNT 10 STREAMS lesson03:orders >
XGROUP DELCONSUMER lesson03:orders audit auditor
XGROUP DESTROY lesson03:orders audit
""")

md("""
After `SETID ... 0` the `audit` group was given the whole stream again (all but the
deleted `1-6`). `DELCONSUMER`
answered with the number of pending entries that vanished with `auditor`, and
`DESTROY` answered `1`: one group removed.

## 8. One group, many consumers; many groups, one stream

Inside a group, consumers **share** the entries. Separate groups on the same stream
each get **every** entry, each at its own pace. Below, 300 readings go to a stream
read by a `billing` group with three consumers and an `analytics` group with one.
`ConsumerPool` runs each consumer on a thread of its own
(`XREADGROUP`, a little work, `XACK`).
""")

code("""
Producer(r, "lesson03:fanout").burst(300)
billing = ConsumerPool(r, "lesson03:fanout", "billing", consumers=3, start_id="0", seconds=0.001)
analytics = ConsumerPool(r, "lesson03:fanout", "analytics", consumers=1, start_id="0", seconds=0)
for pool in (billing, analytics):
    pool.start()
for pool in (billing, analytics):
    pool.wait_until_idle()
    pool.stop()
pd.concat({"billing": billing.summary(), "analytics": analytics.summary()})[["consumer", "processed"]]
""")

md("""
`billing`'s three consumers split the 300 readings between them; `analytics` got all
300 on its own. Use several consumers in one group to go faster, and several groups
when different jobs each need the whole stream.

## 9. The article's consumer-group program, and its bug

The article starts each consumer like this (with walrus, and `--start-from 0`): make a
`consumer_group`, `create()` it, `set_id()` to the start position, then read one entry
at a time and ack it. Here it is, reading with a short block so the cell finishes.
`r.walrus` is a walrus `Database` on the same server. walrus names the stream's
attribute after its key, with `:` turned into `_`: the article's `app:event` became
`cg.app_event`, and our `lesson03:app_event` becomes `cg.lesson03_app_event`.
""")

code("""
from collections import Counter

STREAM = "lesson03:app_event"
db = r.walrus
Producer(r, STREAM).burst(5)


def start_consumer(consumer, start_from="0"):
    \"\"\"The article's start-up: runs every time the consumer program starts.\"\"\"
    cg = db.consumer_group("reporting", [STREAM], consumer=consumer)
    cg.create()           # walrus ignores BUSYGROUP: creating twice is fine
    cg.set_id(start_from)  # XGROUP SETID ... 0 -- on every start!
    return cg


def consume(cg, seen):
    \"\"\"Read one entry at a time, process it (count it), ack it; stop when nothing comes.\"\"\"
    while True:
        streams = cg.read(1, block=100)
        if not streams:
            return
        for stream_id, messages in streams:
            for message_id, message in messages:
                seen[message_id] += 1
                cg.lesson03_app_event.ack(message_id)


seen = Counter()
consume(start_consumer("worker-1"), seen)
print("first run:", sum(seen.values()), "entries processed")
consume(start_consumer("worker-1"), seen)  # the program restarts
print("after a restart:", sum(seen.values()), "processings of", len(seen), "entries")
print("times each entry was processed:", dict(Counter(seen.values())))
""")

md("""
The restart processed every entry **again**. `create()` is harmless on a restart
(the group exists, walrus swallows `BUSYGROUP`), but `set_id('0')` runs `XGROUP SETID
... 0` every time and moves the group back to the start of the stream. With several
consumers it is worse: each one that starts rewinds the group for all of them.

The fix: give the start position to `create()` only, which applies it when the group
is new and leaves an existing group alone. walrus takes it as `{stream: id}`:
""")

code("""
db.consumer_group("reporting", [STREAM]).destroy()
seen = Counter()


def start_consumer_fixed(consumer, start_from="0"):
    cg = db.consumer_group("reporting", {STREAM: start_from}, consumer=consumer)
    cg.create()  # XGROUP CREATE ... 0 the first time; BUSYGROUP (ignored) after that
    return cg


consume(start_consumer_fixed("worker-1"), seen)
consume(start_consumer_fixed("worker-1"), seen)  # the program restarts
print("times each entry was processed:", dict(Counter(seen.values())))
""")

md("""
Each entry once. (The article's consumer also catches every exception with a bare
`except` and never acks the failed entry, which then stays pending for ever:
lesson 04 deals with that.) The article blocks for 5000 ms per read; that works here
because streamlab's clients have no socket read timeout, but redis-py's default 5 s
timeout would break it (lesson 02).

## 10. Try it: a pool of consumers, live

The panel below runs a producer, a group of consumers and a dashboard:

- **Start / Stop**, and the producer's rate (msgs/s);
- **Add / Remove consumer**;
- **processing**: every consumer takes a *fixed* time per entry, a *random* one
  (exponential, with that mean), or *one slow consumer* takes ten times longer than
  the others; **ms/entry** sets the time;
- **Pause** one consumer: the others take its share.

The plots show, over the last 30 seconds: the group's lag, the stream's length and
pending count, each consumer's pending entries (`XPENDING`) and throughput (acks per
second), and the ordering of the last 150 completions (next section). Everything runs
on background threads, so the notebook stays usable while it moves.
""")

code("""
panel = ConsumerPoolPanel(r, "lesson03:sensors", "workers", consumers=3, rate=300,
                          processing="one-slow", ms=3, count=5)
panel
""")

md("""
The cell below does what a click on **Start** does, for 6 seconds; then it stops the
producer, lets the consumers finish the backlog and shows the final pictures.
""")

code("""
panel.run_for(6)
panel.show(ordering=False)
""")

md("""
Read the dashboard:

- **Throughput**: `c1`, ten times slower, acks far fewer entries than the others;
  the group does not wait for it, the fast consumers simply take more.
- **Pending per consumer**: each consumer reads up to 5 entries at a time (`COUNT 5`)
  and holds them until it has acked each one. The slow `c1` sits on its batch ten
  times longer, while later entries are finished by the others. A consumer whose
  pending count only grows is stuck.
- **Group lag**: entries not yet handed to anyone. It grows when the producer is
  faster than the whole group, and falls back to 0 once the producer stops.
- **Stream length** keeps growing: acking does not delete entries (lesson 05 trims).
""")

md("""
## 11. Why several consumers finish work out of order

A stream is ordered, and a group hands entries out in that order. But with several
consumers, each finishes its entry when its own work is done, so a later entry can be
finished before an earlier one. We count an **out-of-order completion** each time a
consumer finishes an entry whose ID is smaller than an ID finished before it.

The plot puts each entry's position in the stream (ID order) against the order in
which it was finished. One consumer draws the diagonal:
""")

code("""
Producer(r, "lesson03:order-one").burst(150)
one = ConsumerPool(r, "lesson03:order-one", "g", consumers=1, start_id="0", seconds=0.002)
one.start().wait_until_idle()
one.stop()
print("out-of-order completions:", one.out_of_order)
plots.ordering_figure(one.ordering_frame())
""")

code("""
Producer(r, "lesson03:order-three").burst(150)
three = ConsumerPool(r, "lesson03:order-three", "g", consumers=3, start_id="0",
                     processing="one-slow", seconds=0.002)
three.start().wait_until_idle()
three.stop()
print("out-of-order completions:", three.out_of_order)
plots.ordering_figure(three.ordering_frame())
""")

md("""
With three uneven consumers the points leave the diagonal: the slow consumer's
entries (below it) finish long after later entries, and even the two fast ones swap
neighbours. Nothing is lost or duplicated: the work is just done in a different order.

### Keeping order per key

Usually only the order *per key* matters: the readings of one sensor, the events of
one account. Two ways to keep it:

1. **One stream per key** (`lesson03:sensor:{id}`), each read by one consumer at a
   time. Simple, but many keys means many streams to read.
2. **Route keys to consumers**: split the stream into a few *partitions* by a hash of
   the key, one stream each, and give each partition to exactly one consumer. All
   entries of a key go through the same consumer, in order, and the partitions still
   run in parallel. (This is what Kafka's partitions do.)

Below, nine sensors go to three partition streams by `partition_of(sensor, 3)` (a
CRC32 of the name), and `route_by_key=True` gives each consumer one partition.
""")

code("""
from streamlab.consumers import partition_of

partitions = [f"lesson03:sensors:p{i}" for i in range(3)]
sensors = [f"sensor{i}" for i in range(1, 10)]
pipe = r.pipeline(transaction=False)
for n in range(300):
    sensor = sensors[n % len(sensors)]
    pipe.xadd(partitions[partition_of(sensor, 3)], {"sensor_id": sensor, "n": n})
pipe.execute()

routed = ConsumerPool(r, partitions, "g", consumers=3, start_id="0", processing="one-slow",
                      seconds=0.001, route_by_key=True)
routed.start().wait_until_idle()
routed.stop()
print("out of order overall:   ", routed.out_of_order)
print("out of order for a key: ", routed.key_out_of_order)
routed.ordering_frame().groupby("key")["consumer"].unique().to_frame("handled by")
""")

md("""
Across the whole pool entries still finish out of order, but each sensor's readings
were all handled by one consumer, in their stream order: zero out-of-order
completions per key. The price: a slow partition cannot be helped by the other
consumers.

## Exercises

Each exercise has a cell to fill in and a check. `exN.hint()` gives a hint (run it
again for the next one) and `exN.solution()` shows a solution. An exercise you have
not touched says *not attempted yet*. The checks build their own streams
(`lesson03:ex1`, ...) and call your function on them.
""")

code("""
from streamlab import exercises

ex1, ex2, ex3 = exercises.load(3, r)
""")

md("""
**Exercise 1.** Write `read_and_ack(r, stream, group, consumer, count)`: as
`consumer` of `group`, read at most `count` entries nobody in the group has been given
yet, ack each one, and return the list of their IDs (oldest first).
""")

code("""
def read_and_ack(r, stream, group, consumer, count):
    return ...  # your code here


ex1.check(read_and_ack)
# ex1.hint()
# ex1.solution()
""")

md("""
**Exercise 2.** Write `pending_by_consumer(r, stream, group)`: return a dict
`{consumer name: number of entries it was given and has not acked}`.
""")

code("""
def pending_by_consumer(r, stream, group):
    return ...  # your code here


ex2.check(pending_by_consumer)
# ex2.hint()
# ex2.solution()
""")

md("""
**Exercise 3.** Write `start_group(r, stream, group)`, the start-up the article
should have had, with redis-py (or walrus): the first time, create the group so that
it delivers the entries already in the stream (and create the stream if it does not
exist); on every later start, leave the group exactly where it is, and do not fail.
""")

code("""
import redis


def start_group(r, stream, group):
    return ...  # your code here


ex3.check(start_group)
# ex3.hint()
# ex3.solution()
""")

md("""
## Recap

- A group is a position plus a pending entries list, kept by the server.
  `XGROUP CREATE key group 0|$ [MKSTREAM]`; creating it again is refused (`BUSYGROUP`)
  and changes nothing.
- `XREADGROUP ... >` gets entries no one in the group has had; an ID such as `0`
  re-reads your own pending ones. Consumers appear on their first read.
- `XACK` confirms work; until then it is pending (`XPENDING`). `NOACK` skips the
  pending list: at most once.
- `XINFO GROUPS`: `entries-read` and `lag` (Redis 7.0+; nil after deletions the group
  has not passed). `XINFO CONSUMERS`: pending and idle per consumer.
- `XGROUP SETID` rewinds or skips; `DELCONSUMER` drops a consumer's pending entries;
  `DESTROY` removes the group.
- One group shares work; several groups each get everything.
- Several consumers finish out of order; keep order per key with one stream per key
  or by routing each key to one consumer.
- Never call `set_id('0')` (XGROUP SETID) on start: it rewinds the whole group.

## Next

[04 · Failure and recovery](04-failure-and-recovery.ipynb): crash a consumer in the
middle of its work, find the stuck entries, take them over with `XCLAIM` and
`XAUTOCLAIM`, and prove that nothing was lost.
""")

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, Path(__file__).resolve().parents[1] / "notebooks" / "03-consumer-groups.ipynb")
print(len(cells), "cells")
