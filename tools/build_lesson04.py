"""Build notebooks/04-failure-and-recovery.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson04.py

Helpers: streamlab/recovery.py, streamlab/chaos.py, streamlab/chaospanel.py.
Exercise checkers: streamlab/exercises/lesson04.py; solutions:
notebooks/solutions/04-failure-and-recovery.py.
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 04 · Failure and recovery

    What happens to work a consumer took and never finished, how to find it, take it
    over, give up on it, and make sure doing it twice does no harm.

    **Learning goals**
    - find stuck work with `XPENDING` (summary, extended form, `IDLE`, per consumer)
    - take it over with `XCLAIM` and `XAUTOCLAIM`, and say why the minimum idle time
      keeps two rescuers from taking the same entry
    - move a poison message to a dead-letter stream after N deliveries
    - make processing idempotent, so that at-least-once delivery never does the work twice
    - stop a consumer without leaving half-done work, and prove with a chaos
      experiment that nothing gets lost

    **Prerequisites**: [03 · Consumer groups](03-consumer-groups.ipynb).
    **Time**: about 35 minutes.
    """),
    code("""
    import time

    import pandas as pd
    import streamlab as sl
    from streamlab import recovery

    r = sl.connect()
    cleared = sl.reset(r, lesson=4, quiet=True)  # start clean: deletes only lesson04:* keys
    """),

    md("""
    ## 1. A consumer that read and never acked

    Group `workers` reads the stream `lesson04:orders`. Consumer `alice` takes three
    orders and her process dies before it sends `XACK`. `bob` takes two and finishes one.
    """),
    redis("""
    XGROUP CREATE lesson04:orders workers $ MKSTREAM
    """),
    code("""
    ids = [r.xadd("lesson04:orders", {"order": n, "amount": n * 10}) for n in range(1, 9)]

    alice = r.xreadgroup("workers", "alice", {"lesson04:orders": ">"}, count=3)
    bob = r.xreadgroup("workers", "bob", {"lesson04:orders": ">"}, count=2)
    done = r.xack("lesson04:orders", "workers", bob[0][1][0][0])  # bob finished his first order
    # ... and alice crashes here: no XACK for her three orders.
    """),
    md("""
    Nothing in the stream changed: a crash does not lose the entries. What Redis keeps
    is the group's **pending entries list** (PEL): every entry delivered to a consumer
    and not yet acknowledged, with who holds it. `XPENDING key group` summarises it.
    """),
    redis("""
    XPENDING lesson04:orders workers
    """),
    md("""
    The reply: 4 entries pending, the smallest and the greatest pending ID, then each
    consumer with how many it holds (alice 3, bob 1). A real server sends those two
    counts as strings (`"3"`), fakeredis as integers (`(integer) 3`): the same numbers.
    The same as a table (its `pending` column holds numbers on both):
    """),
    code("""
    summary = recovery.pending_summary(r, "lesson04:orders", "workers")
    print(summary.attrs)
    summary
    """),
    code("""
    if r.backend.is_fake:
        print("fakeredis lists consumers in XPENDING (and XINFO) in the order they were "
              "created; real Redis sorts them by name. The table above is sorted either way.")
    """),
    md("""
    ### The extended form: one line per entry

    `XPENDING key group start end count` lists the entries themselves: ID, consumer,
    **idle** time (milliseconds since it was last delivered) and **delivery count**.
    """),
    redis("""
    XPENDING lesson04:orders workers - + 10
    """),
    code("""
    time.sleep(0.3)  # let alice's orders grow old
    recovery.pending_entries(r, "lesson04:orders", "workers")
    """),
    md("""
    `IDLE ms` (Redis 6.2+) keeps only entries idle for at least that long, and a
    consumer name at the end keeps only that consumer's. Entries idle for a long time are
    the stuck ones: a healthy consumer acks within its processing time.
    """),
    redis("""
    XPENDING lesson04:orders workers IDLE 250 - + 10 alice
    """),
    code("""
    recovery.pending_entries(r, "lesson04:orders", "workers", consumer="alice", min_idle_ms=250)
    """),
    md("""
    `recovery.pending_entries` only makes a table. The raw redis-py call takes the same
    parts by name (`idle=` is `IDLE`, `consumername=` the consumer at the end) and
    returns one dict per entry:
    """),
    code("""
    rows = r.xpending_range("lesson04:orders", "workers", min="-", max="+", count=10,
                            consumername="alice", idle=250)
    rows[0]
    """),
    md("""
    ### Delivery counts grow

    Each time an entry is handed out again, its delivery count goes up. Here alice comes
    back twice and re-reads her own pending entries: `XREADGROUP` with `0` instead of `>`
    hands a consumer the entries it already holds, again (lesson 03, section 4; section 4
    below uses it to restart a consumer).
    """),
    code("""
    for _ in range(2):
        r.xreadgroup("workers", "alice", {"lesson04:orders": "0"})
    recovery.pending_entries(r, "lesson04:orders", "workers", consumer="alice")
    """),
    code("""
    if r.backend.is_fake:
        print("On fakeredis the idle times above kept growing: re-reading with 0 does not "
              "reset them. A real Redis server resets them to 0, as each re-read is a new delivery.")
    else:
        print("The idle times went back to about 0: each re-read is a new delivery.")
    """),

    md("""
    ## 2. Taking work over: `XCLAIM`

    Another consumer can take a pending entry with
    `XCLAIM key group <new owner> <min-idle-time> <id> ...`. The entry moves to the new
    owner's PEL, its idle time restarts at 0 and its delivery count goes up by one. The
    **minimum idle time** is the safety catch: the claim only happens if the entry has
    been idle at least that long.
    """),
    code("""
    time.sleep(0.2)
    stuck = recovery.pending_entries(r, "lesson04:orders", "workers", consumer="alice")["entry_id"].tolist()
    print("carol:", r.xclaim("lesson04:orders", "workers", "carol", 150, stuck[:1]))
    print("dave: ", r.xclaim("lesson04:orders", "workers", "dave", 150, stuck[:1]))
    recovery.pending_entries(r, "lesson04:orders", "workers")
    """),
    md("""
    Carol's claim returned the entry. Dave asked a moment later for the same entry with
    the same minimum idle time and got nothing: carol's claim had just reset its idle
    time. That is what keeps two rescuers from working on one entry.

    ### Two rescuers racing

    Twenty entries are stuck. Two rescuers send the same `XCLAIM` for all twenty at the
    same moment, each on its own connection and thread (`recovery.race_claim`).
    """),
    code("""
    race_ids = [r.xadd("lesson04:race", {"order": n}) for n in range(20)]
    r.xgroup_create("lesson04:race", "workers", id="0")
    r.xreadgroup("workers", "crashed", {"lesson04:race": ">"})
    time.sleep(0.15)

    race = recovery.race_claim(r, "lesson04:race", "workers", race_ids, min_idle_ms=100)
    race
    """),
    code("""
    won = [entry_id for got in race["ids"] for entry_id in got]
    print(f"{len(won)} claims for {len(race_ids)} entries; "
          f"claimed by both: {len(set(race['ids'][0]) & set(race['ids'][1]))}")
    """),
    md("""
    Redis runs one command at a time, so one `XCLAIM` ran first and took every entry;
    for the second, all of them had just become idle 0 ms. Each entry went to exactly one
    rescuer. With a minimum idle time of 0 the catch is off: both claims succeed, and the
    second takes the entries away from the first, which may already be working on them.
    """),
    code("""
    recovery.race_claim(r, "lesson04:race", "workers", race_ids, min_idle_ms=0)[["claimer", "claimed"]]
    """),

    md("""
    ## 3. `XAUTOCLAIM`: scan and claim in one command

    `XCLAIM` needs the IDs, found first with `XPENDING`. `XAUTOCLAIM key group <consumer>
    <min-idle-time> <start> COUNT n` (Redis 6.2+) scans the PEL from `start` and claims
    up to `n` entries idle long enough. Its reply has three parts:

    1. a **cursor**: where to start the next call; `0-0` when the scan reached the end;
    2. the claimed entries, with their fields;
    3. the IDs that were pending but **no longer exist** in the stream (Redis 7.0+).
    """),
    code("""
    backlog = [r.xadd("lesson04:backlog", {"order": n}) for n in range(25)]
    r.xgroup_create("lesson04:backlog", "workers", id="0")
    r.xreadgroup("workers", "crashed", {"lesson04:backlog": ">"})
    time.sleep(0.15)
    """),
    redis("""
    XAUTOCLAIM lesson04:backlog workers rescuer 100 0-0 COUNT 10
    """),
    md("""
    One call claimed ten entries and answered with a cursor: the PEL holds more. A rescuer
    calls again from that cursor, and again, until the cursor comes back as `0-0`.
    `recovery.autoclaim_pages` does that loop; here is each page it went through:
    """),
    code("""
    pages = recovery.autoclaim_pages(r, "lesson04:backlog", "workers", "rescuer", 100, count=10)
    pd.DataFrame([{"from cursor": p.cursor, "next cursor": p.next_cursor,
                   "claimed": len(p.claimed), "deleted": p.deleted} for p in pages])
    """),
    md("""
    The first page started at `0-0` again, so it found the ten entries the `%%redis`
    call had claimed a moment before: their idle time was reset by that claim, under
    100 ms, so it skipped them. It claimed the next fifteen, and the last page ended the
    scan with `0-0`.

    ### Entries deleted or trimmed while pending

    A pending entry can disappear from the stream (`XDEL`, or `XTRIM`/`MAXLEN`, lesson
    05) while its ID is still in the PEL. There is nothing left to process.
    `XAUTOCLAIM` removes such IDs from the PEL and lists them in the third element of its
    reply, so the rescuer can log what was lost. This time the raw redis-py call,
    `XAUTOCLAIM lesson04:backlog workers rescuer-2 0 0-0 COUNT 100`, with the three
    parts of the reply unpacked:
    """),
    code("""
    held = recovery.pending_entries(r, "lesson04:backlog", "workers")["entry_id"].tolist()
    r.xdel("lesson04:backlog", held[0], held[1])  # gone from the stream, still in the PEL

    reply = r.xautoclaim("lesson04:backlog", "workers", "rescuer-2", min_idle_time=0,
                         start_id="0-0", count=100)
    if r.supports("xautoclaim-deleted"):
        cursor, claimed, deleted = reply
        print(f"cursor {cursor}; claimed {len(claimed)}; deleted while pending: {deleted}")
        print("still in the PEL:", recovery.pending_summary(r, "lesson04:backlog", "workers").attrs["total"])
    else:
        print(f"This server ({r.backend.version_text}) is older than Redis 7.0: XAUTOCLAIM has "
              "no third element; deleted entries come back in the second one with no fields (nil).")
    """),

    md("""
    ## 4. A restarted consumer: its own pending entries first

    A consumer that comes back under the **same name** still owns its PEL. It should
    finish that first: `XREADGROUP ... <id>` with an ID instead of `>` re-reads the
    consumer's own pending entries after that ID (`0`: from the start) and never blocks.
    An empty reply means the history is done; then it switches to `>` for new entries.
    (The consumers of lesson 03, `sl.consumers.Consumer`, start this way.)
    """),
    code("""
    r.xgroup_create("lesson04:restart", "workers", id="$", mkstream=True)
    for n in range(3):
        r.xadd("lesson04:restart", {"order": n})
    r.xreadgroup("workers", "erin", {"lesson04:restart": ">"})  # erin reads 3 and crashes
    for n in range(3, 5):
        r.xadd("lesson04:restart", {"order": n})  # two more arrive while she is down


    def restart(r, stream, group, consumer):
        \"\"\"What a consumer does when it starts again: its own PEL (from 0), then new entries (>).\"\"\"
        after = "0"
        while True:
            reply = r.xreadgroup(group, consumer, {stream: after}, count=2)
            entries = reply[0][1] if reply else []
            if not entries:
                break  # history done
            print(f"from {after:>15}: {[f['order'] for _, f in entries]}  (her own, again)")
            for entry_id, _ in entries:
                r.xack(stream, group, entry_id)
            after = entries[-1][0]  # walk forward: an entry that keeps failing is not re-read for ever
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=10)
        print(f"from {'>':>15}: {[f['order'] for _, f in reply[0][1]]}  (new)")


    restart(r, "lesson04:restart", "workers", "erin")
    """),
    md("""
    A consumer that comes back under a **new** name (a container with a fresh host
    name, say) never sees the old PEL: only a claim (`XCLAIM`/`XAUTOCLAIM`) recovers it.
    Stable consumer names make restarts cheap; a reaper covers the rest.

    ## 5. Poison messages and the dead-letter stream

    Some entries fail every time: a field that does not parse, an order for a product
    that does not exist. Claiming them again and again only burns work. Their delivery
    count gives them away. A common policy: once an entry has been delivered more than N
    times, **copy it to a dead-letter stream** (with its original ID and delivery count, so
    someone can look at it later) and **ack it**, so that it leaves the PEL.

    The PEL itself is not a dead-letter queue, though it can look like one: it holds work
    in progress, every entry of it owned by a consumer and due to be finished or handed
    out again. Nothing in it is set aside; an entry given up on needs a place of its own.

    `recovery.dead_letter` does both in one Lua script: `XACK` first, and `XADD` to the
    dead-letter stream only if that `XACK` answered 1. So an entry someone else finished
    in the meantime is not dead-lettered too.

    `recovery.Reaper` is a worker that loops over `XAUTOCLAIM` (with its cursor), retries
    what it claims with a handler, and dead-letters what was delivered more than
    `max_deliveries` times. Here one payment has an amount that is not a number:
    """),
    code("""
    for amount in ["10", "25", "abc", "40"]:
        r.xadd("lesson04:payments", {"amount": amount})
    r.xgroup_create("lesson04:payments", "workers", id="0")
    r.xreadgroup("workers", "frank", {"lesson04:payments": ">"})  # frank crashes


    def charge(entry_id, fields, deliveries):
        int(fields["amount"])  # "abc" raises ValueError: this entry can never succeed


    reaper = recovery.Reaper(r, "lesson04:payments", "workers", min_idle_ms=50,
                             max_deliveries=3, handler=charge, name="lesson04-reaper")
    reaper.run_for(1.0)
    print(f"claimed {reaper.claimed}, acked {reaper.acked}, failed {reaper.failed}, "
          f"dead-lettered {reaper.dead_lettered}")
    """),
    code("""
    pd.DataFrame([{"dead-letter ID": i, **f} for i, f in r.xrange("lesson04:payments:dead")])
    """),
    md("""
    The three good payments were acked on the reaper's first claim (their second
    delivery). The bad one failed on deliveries 2 and 3; the claim that made it delivery
    4 found it over the limit of 3, so the reaper copied it to `lesson04:payments:dead`,
    with its original ID and `deliveries` 4, and acked it instead of trying again.
    The PEL is empty:
    """),
    code("""
    recovery.pending_summary(r, "lesson04:payments", "workers").attrs
    """),
    md("""
    The reaper is not the only one who delivers an entry again: a consumer restarting
    under its own name re-reads its PEL (section 4), and each re-read is a delivery. It
    should apply the same limit, with the counts from `XPENDING`; otherwise a poison
    entry is retried on every restart. On a real server each re-read also resets the
    entry's idle time, so while the consumer keeps restarting the reaper never finds it
    idle (fakeredis keeps the idle time growing, section 1). The chaos experiment below
    checks the limit in both places.
    """),

    md("""
    ## 6. At-least-once means duplicates

    A consumer can crash **after** doing the work and **before** `XACK`. The entry is
    still pending, so it is delivered again and the work runs twice. Streams promise
    *at-least-once* delivery; *exactly-once effect* is the consumer's job. Make the work
    idempotent: remember which IDs were done, and skip them.

    `recovery.IdempotencyGuard` does `SET processed:<id> <who> NX EX <ttl>`: `NX` sets
    the key only if it does not exist, so it answers "first time" exactly once per ID.
    The effect (here, adding an order's amount to a total) happens in the **same Lua
    script**, so a crash cannot leave the mark without the effect, or the effect
    without the mark. The marks expire (`EX`) long after any redelivery could come.
    """),
    code("""
    guard = recovery.IdempotencyGuard(r, "lesson04:guard:", ttl=3600)
    arrivals = [ids[0], ids[1], ids[0], ids[2], ids[1], ids[0]]  # redeliveries included

    rows = []
    for entry_id in arrivals:
        naive = r.incrby("lesson04:naive-total", 10)
        applied = guard.apply(entry_id, "lesson04:guarded-total", 10)
        rows.append({"delivery of": entry_id, "naive total": naive, "guard applied it": applied,
                     "guarded total": int(r.get("lesson04:guarded-total"))})
    pd.DataFrame(rows)
    """),
    code("""
    print(f"duplicates absorbed by the guard: {guard.absorbed()}")
    """),
    md("""
    The naive total counted every delivery (60); the guarded total counted three orders
    once each (30) and turned three duplicates away.

    ## 7. Graceful shutdown

    A deploy or a scale-down sends the consumer `SIGTERM`. A crash leaves its batch
    pending for a rescuer; a **graceful** stop does better: stop reading, finish and
    `XACK` the entries in hand, then exit. Nothing is half-done and nothing waits for a
    reaper. The lesson 03 pool stops that way; `recovery.GracefulShutdown` connects it
    to the signals in a script:

    ```python
    shutdown = recovery.GracefulShutdown(pool)
    with shutdown.installed():      # SIGTERM and Ctrl-C now call shutdown.request()
        pool.start()
        shutdown.wait()             # until a signal comes
    ```

    In a notebook, Ctrl-C belongs to Jupyter, so we call `request()` ourselves:
    """),
    code("""
    from streamlab.consumers import ConsumerPool

    # 3 consumers; each entry takes 10 ms of pretend work (seconds=0.01); 5 entries per read;
    # the group starts at the beginning of the stream (start_id="0").
    pool = ConsumerPool(r, "lesson04:shutdown", "workers", consumers=3, seconds=0.01,
                        start_id="0", count=5, name="lesson04-shutdown")
    for n in range(500):
        r.xadd("lesson04:shutdown", {"order": n})
    pool.start()
    time.sleep(0.3)

    shutdown = recovery.GracefulShutdown(pool)
    shutdown.request("end of shift")
    print(f"processed {pool.total_processed} of 500 before the stop; "
          f"pending now: {recovery.pending_summary(r, 'lesson04:shutdown', 'workers').attrs['total']}")
    """),
    md("""
    Every batch a consumer held was finished and acked before it stopped; the rest of the
    stream waits, undelivered, for the next start.

    ## 8. Try it: the chaos experiment

    Everything at once. A producer puts orders on a stream, some of them poison; three
    consumers process them and crash at random (10% of deliveries, half of the crashes
    after the work and before `XACK`); a supervisor restarts crashed consumers; a reaper
    claims idle entries, and dead-letters an entry delivered more than 5 times
    (`max_deliveries=5`: the claim that makes it delivery 6 moves it to the dead-letter
    stream instead of retrying it); every order goes through the idempotency guard.

    The panel's controls: crash probability, poison share, consumers, the reaper (on/off
    and its minimum idle time), and how a crashed consumer comes back (same name, a new
    name, or not at all). It shows pending entries over time, entries by number of
    deliveries, the dead-letter stream's length, the **ledger**, and the journey of one
    entry (type an ID or an order number). The cells below drive it from Python.
    """),
    code("""
    from streamlab.chaos import ChaosExperiment
    from streamlab.chaospanel import ChaosPanel

    panel = ChaosPanel(r, entries=800, consumers=3, crash_probability=0.1, poison_share=0.02,
                       min_idle_ms=100, restart="same", seed=4)
    panel
    """),
    code("""
    panel.run_until_done(timeout=30)
    chaos = panel.experiment
    chaos.figure()
    """),
    md("""
    The ledger: each line says where its number comes from. "Lost" is what was produced
    but is neither acked, dead-lettered, still pending nor waiting to be delivered. It
    must read 0.
    """),
    code("""
    chaos.ledger()
    """),
    md("""
    Two lines count something other than orders. `processed more than once` counts
    acked orders whose work ran twice or more; `extra runs absorbed` counts **runs**: an
    order whose work ran three times adds 2. The journal knows how often each order's
    work ran:
    """),
    code("""
    counts = chaos.counts()
    runs = chaos.work_runs()  # orders, by how many times their work ran (0: poison, never worked)
    print(runs.to_frame().T.to_string())
    again = runs[runs.index > 1]
    extra = int(((again.index - 1) * again).sum())
    print(f"{counts['crashes']} crashes. {again.sum()} orders ran their work more than once, "
          f"{extra} extra runs in all; the guard absorbed {counts['duplicates absorbed']} runs"
          f"{' (every extra run)' if extra == counts['duplicates absorbed'] else ''}.")
    if again.sum() != counts["processed more than once"]:
        print(f"The ledger's 'processed more than once' ({counts['processed more than once']}) counts acked "
              f"orders only. Dead-lettered after their work had run: "
              f"{again.sum() - counts['processed more than once']}.")
    print(f"Total in Redis {counts['total in Redis']:,}, expected {counts['total expected']:,}: "
          f"{'each order counted once' if counts['total in Redis'] == counts['total expected'] else 'they differ'}.")
    """),
    md("""
    A delivery count counts deliveries, not attempts. A consumer that crashes on the
    first entry of a batch of ten never touches the other nine, yet each of them was
    delivered once more (its journey says `not reached`). So a healthy order with unlucky
    neighbours can pass the limit and end up dead-lettered: the histogram shows those in
    orange (`dead-lettered: healthy`), on top of the dark red poison, when a run has any.
    The line below counts both. A dead-letter stream is a queue for a human or a replay
    tool, not a bin; and the limit should sit well above the retries a healthy entry may
    need.
    """),
    code("""
    hist = chaos.delivery_histogram()
    print(f"dead-lettered: {hist['dead-lettered: poison'].sum()} poison orders; healthy orders "
          f"that ran out of deliveries: {hist['dead-lettered: healthy'].sum()}")
    """),
    md("""
    The journey of one poison order: every delivery (who, how), every failure, and the
    dead letter at the end.
    """),
    code("""
    chaos.journey(chaos.pick("dead-lettered"))
    """),
    md("""
    And one order whose consumer crashed after the work and before `XACK`: the entry
    stayed pending, a later delivery ran the work again, and the guard turned it away.
    In a journey, `not reached` means the consumer crashed on an earlier order of the
    same batch: this one was delivered (its count went up) but never touched.
    `abandoned` is the reaper's stand-in for a crash: it leaves the entry pending and
    carries on with the next one.
    """),
    code("""
    chaos.journey(chaos.pick("crashed after the work"))
    """),
    md("""
    A claim does not stop the consumer it takes an entry from. If that consumer was only
    slow, not dead, both work on the entry at once, and the second `XACK` replies 0. That
    is at-least-once delivery too: only the minimum idle time keeps a rescuer away from
    live work, so set it well above the time a healthy consumer holds an entry (a whole
    batch, not one entry), and let the guard absorb the rare overlap.
    """),
    code("""
    if r.backend.is_fake:
        print("On fakeredis a re-read with 0 does not reset an entry's idle time, so the reaper "
              "often claims an entry a restarted consumer is still working on: expect more "
              "duplicates here than on a real server. The guard absorbs them all the same.")
    """),
    md("""
    ### Without a reaper

    Now consumers come back under **new** names, and the reaper starts switched off.
    Crashed consumers' entries stay pending: not lost, but nobody will ever come for them.
    After a second and a half we switch the reaper on.
    """),
    code("""
    orphans = ChaosExperiment(r, "lesson04:chaos2:", entries=400, crash_probability=0.1,
                              poison_share=0.02, reaper=False, min_idle_ms=100, restart="new", seed=7)
    orphans.start()
    time.sleep(1.5)
    before = orphans.ledger()["entries"]
    orphans.set_reaper(True)
    orphans.run_until_done(timeout=30)
    pd.concat([before, orphans.ledger()["entries"]], axis=1,
              keys=["reaper off, after 1.5 s", "reaper on, at the end"])
    """),
    code("""
    orphans.figure()
    """),
    md("""
    Pending climbed with every crash while the reaper was off, and fell once it ran (the
    dotted line marks the moment `set_reaper(True)` switched it on); the dead-letter
    stream only starts filling after it. In the panel above, try the same: untick the
    reaper, choose "restart as new", start, and watch the pending line; then tick it again.

    ## Exercises

    Each exercise has a cell to fill in and a check. `exN.hint()` gives a hint (run it
    again for the next one) and `exN.solution()` shows a solution. An exercise you have
    not touched says *not attempted yet*. Each check builds its own scene under
    `lesson04:exN` and calls your function on it.
    """),
    code("""
    from streamlab import exercises

    ex1, ex2, ex3, ex4 = exercises.load(4, r)
    """),
    md("""
    **Exercise 1.** Write `stuck_ids(r, stream, group, min_idle_ms)`: the IDs of every
    entry pending in `group` for at least `min_idle_ms` milliseconds, whoever holds them,
    in ID order.
    """),
    code("""
    def stuck_ids(r, stream, group, min_idle_ms):
        return ...  # your code here


    ex1.check(stuck_ids)
    # ex1.hint()
    # ex1.solution()
    """),
    md("""
    **Exercise 2.** Write `rescue_all(r, stream, group, consumer, min_idle_ms)`: claim
    for `consumer` every entry idle for at least `min_idle_ms`, with `XAUTOCLAIM`, and
    return the claimed IDs. The check leaves 250 entries stuck.
    """),
    code("""
    def rescue_all(r, stream, group, consumer, min_idle_ms):
        return ...  # your code here


    ex2.check(rescue_all)
    # ex2.hint()
    # ex2.solution()
    """),
    md("""
    **Exercise 3.** Write `dead_letter_poison(r, stream, group, dead_stream, max_deliveries)`:
    every pending entry delivered more than `max_deliveries` times goes to `dead_stream`
    (its fields plus `original_id` and `deliveries`) and is acked. Return the IDs moved.
    """),
    code("""
    def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
        return ...  # your code here


    ex3.check(dead_letter_poison)
    # ex3.hint()
    # ex3.solution()
    """),
    md("""
    **Exercise 4.** Write `apply_once(r, prefix, entry_id, amount)`: add `amount` to the
    key `prefix + "total"` the first time `entry_id` comes, and do nothing for a
    duplicate; return True if it applied the amount. Keep the "done" marks under
    `prefix + "processed:" + entry_id`. The check also kills your function half-way
    through, then delivers the entry again: the amount must be added exactly once.
    """),
    code("""
    def apply_once(r, prefix, entry_id, amount):
        return ...  # your code here


    ex4.check(apply_once)
    # ex4.hint()
    # ex4.solution()
    """),
    md("""
    ## Recap

    - A crash between read and `XACK` loses nothing: the entry stays in the group's PEL.
      `XPENDING` shows it (summary, or per entry with idle time and delivery count;
      `IDLE` and a consumer name narrow it down).
    - `XCLAIM ... <min-idle-time>` takes an entry over only if it has been idle that
      long; the claim resets the idle time, so a second rescuer gets nothing.
    - `XAUTOCLAIM` scans and claims in one command; call it from its cursor until the
      cursor is `0-0`. Its third element (Redis 7.0+) lists pending entries that were
      deleted or trimmed.
    - A consumer restarting under its own name re-reads its PEL with `0` (walking forward)
      before asking for `>`.
    - Poison: once delivered more than N times, copy it to a dead-letter stream with the
      original ID and count, and ack it, atomically (`XACK` first, the copy only if it
      replied 1). The PEL is work in progress, not a dead-letter queue.
    - At-least-once delivery means duplicates: mark and apply in one step
      (`SET processed:<id> NX` + the effect, in a Lua script).
    - Stop gracefully: finish and ack what you hold, then stop reading.

    ## Next

    [05 · Trimming and retention](05-trimming-and-retention.ipynb): cap a stream by
    length or age, and see what trimming does to consumer groups and their pending entries.
    """),
]

if __name__ == "__main__":
    print(write("notebooks/04-failure-and-recovery.ipynb", CELLS))
