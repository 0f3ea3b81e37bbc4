"""Build notebooks/02-reading-and-blocking.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson02.py

Exercise checkers: streamlab/exercises/lesson02.py; solutions:
notebooks/solutions/02-reading-and-blocking.py.
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 02 · Reading and blocking

    Read a stream every way Redis allows, and wait for entries that do not exist yet.

    **Learning goals**
    - read ranges with `XRANGE` and `XREVRANGE`, page through a long stream, and query a time window
    - read with `XREAD` from `0`, from `$`, from a stored ID and from several streams at once
    - explain why `$` does not mean "the last entry"
    - wait for new entries with `XREAD BLOCK`, measure how fast a blocked reader wakes up,
      and avoid redis-py's socket-timeout trap
    - write a consumer that stops and carries on where it left off (walrus and redis-py)

    **Prerequisites**: [01 · XADD and IDs](01-xadd-and-ids.ipynb).
    **Time**: about 30 minutes.
    """),
    code("""
    import time

    import pandas as pd
    import streamlab as sl

    r = sl.connect()
    cleared = sl.reset(r, lesson=2, quiet=True)  # start clean: deletes only lesson02:* keys
    """),
    md("""
    Something to read: a sensor that reported every 100 ms over the last minute. The
    history is written after the fact with explicit IDs (lesson 01), one per reading
    time, so the IDs carry the reading times.
    """),
    code("""
    start_ms = int(time.time() * 1000) - 60_000
    pipe = r.pipeline(transaction=False)
    for n in range(600):
        pipe.xadd("lesson02:history",
                  {"sensor_id": f"sensor{n % 3 + 1}", "temp": f"{20 + (n % 40) / 10:.1f}", "n": n},
                  id=f"{start_ms + n * 100}-0")
    pipe.execute()
    r.xlen("lesson02:history")
    """),

    md("""
    ## 1. `XRANGE` and `XREVRANGE`

    `XRANGE key start end` returns the entries between two IDs, oldest first; `-` and
    `+` stand for the smallest and the largest possible ID. `XREVRANGE key end start`
    goes newest first (note the order of its arguments). `COUNT` caps the reply.
    """),
    redis("""
    XRANGE lesson02:history - + COUNT 2
    XREVRANGE lesson02:history + - COUNT 1
    """),
    md("""
    Each entry is a pair: its ID, then its fields and values in one flat list. redis-py
    gives a list of `(id, {field: value})` tuples:
    """),
    code("""
    r.xrevrange("lesson02:history", count=2)
    """),

    md("""
    ## 2. Paging through a long stream

    Reading a big stream in one call makes one big reply. Read it a page at a time
    instead: `COUNT n` for the page size, and start each page **after** the last ID of
    the page before. `(` in front of an ID makes that end of the range exclusive (Redis
    6.2+; on older servers, add one to the sequence number instead). Seven entries,
    pages of three:
    """),
    code("""
    for n in range(1, 8):
        r.xadd("lesson02:small", {"n": n}, id=f"{n}-0")
    """),
    redis("""
    XRANGE lesson02:small - + COUNT 3
    XRANGE lesson02:small (3-0 + COUNT 3
    XRANGE lesson02:small (6-0 + COUNT 3
    """),
    md("""
    The last page is shorter than three: the stream is done. Without the `(`, each page
    would begin with the last entry of the page before. `XREVRANGE` pages backwards the
    same way, with `(` on the end ID. Exercise 2 asks you to write the loop.
    """),

    md("""
    ## 3. A time window

    Since IDs start with milliseconds, a range of IDs is a range of time. A range end
    may be a bare millisecond number: as a start, `1700000000000` means
    `1700000000000-0`; as an end, it means the last entry of that millisecond. So "the
    last 10 seconds" is:
    """),
    code("""
    now_ms = int(time.time() * 1000)
    last_10s = r.xrange("lesson02:history", min=now_ms - 10_000, max="+")
    ages = [(now_ms - int(entry_id.split("-")[0])) / 1000 for entry_id, _ in last_10s]
    print(f"{len(last_10s)} entries, from {max(ages):.1f} s to {min(ages):.1f} s ago")
    """),
    md("""
    Fewer than 100, though there is a reading every 100 ms: this history is not live. It
    stopped when the cell at the top wrote it, so its newest reading is already a little
    old (the second number above), and the end of the window holds no readings.

    The same works for any window, e.g. between 30 and 20 seconds ago, counted per sensor:
    """),
    code("""
    window = r.xrange("lesson02:history", min=now_ms - 30_000, max=now_ms - 20_000)
    pd.Series([fields["sensor_id"] for _, fields in window]).value_counts().sort_index()
    """),

    md("""
    ## 4. `XREAD`: from an ID onwards, over one or more streams

    `XREAD STREAMS key id` returns the entries **after** `id`. Its reply names the
    stream, because one `XREAD` can read several. `0` reads from the start:
    """),
    redis("""
    XREAD COUNT 2 STREAMS lesson02:history 0
    """),
    md("""
    From a stored ID, it carries on after that entry; that is how a reader resumes
    (section 9):
    """),
    code("""
    reply = r.xread({"lesson02:history": "0"}, count=2)
    stream, entries = reply[0]
    last_seen = entries[-1][0]
    print("read up to", last_seen)
    r.xread({"lesson02:history": last_seen}, count=2)
    """),
    md("""
    Several streams: all the keys first, then one ID per key in the same order. In
    redis-py, a dict `{key: id}`. A stream with nothing after its ID is left out of the
    reply.
    """),
    code("""
    r.xadd("lesson02:alerts", {"sensor_id": "sensor2", "alert": "temp above 23"})
    """),
    redis("""
    XREAD COUNT 1 STREAMS lesson02:history lesson02:alerts lesson02:nothing 0 0 0
    """),

    md("""
    ## 5. `$` is not "the last entry"

    `$` stands for the newest ID in the stream at the moment the command runs. Reading
    *after* it therefore returns nothing, ever, unless the command waits (`BLOCK`, next
    section) for entries added later:
    """),
    redis("""
    XREAD STREAMS lesson02:history $
    """),
    md("""
    A real server replies `(nil)`; fakeredis replies `(empty array)`. Both mean the
    same: nothing to read. To get the newest entry itself, ask for one entry from the top: `XREVRANGE key + -
    COUNT 1`. Redis 7.4 added `XREAD ... STREAMS key +` for the same thing, handy over
    several streams at once.
    """),
    code("""
    print("XREVRANGE + - COUNT 1:", r.xrevrange("lesson02:history", count=1))
    if r.supports("xread-plus"):
        print("XREAD STREAMS key +:  ", r.xread({"lesson02:history": "+"}))
    else:
        print(f"{r.backend.server_name} {r.backend.version_text} has no XREAD +; "
              "it came in Redis 7.4.")
    """),

    md("""
    ## 6. Waiting for new entries: `XREAD BLOCK`

    With `BLOCK ms`, an `XREAD` that finds nothing waits up to `ms` milliseconds and
    returns as soon as an entry arrives. Here the producer from lesson 01's panel adds 20
    readings a second on a background thread, while this cell blocks and records how long
    each entry took to reach it: from the producer calling `XADD` to `XREAD` returning.
    Every entry it writes carries `seq`, its running count (1, 2, 3, ...), and `sent_at`,
    its clock when it made the entry, in seconds since 1970; `time.time()` minus
    `sent_at` is the time taken.

    Three things in the code below:

    - A blocked `XREAD` holds its connection until it returns: nothing else can be sent
      on that connection meanwhile. The producer runs on another thread, so it gets a
      client of its own, `r.new_client()`.
    - The reader notes the stream's newest ID (or `0-0` if there is no stream yet)
      **before** starting the producer, and reads from there. `$` would be too late: it
      means "newest when this `XREAD` runs", and the producer sends its first entry the
      moment it starts, usually before the first `XREAD` reaches the server.
    - Every later read starts at the last ID it got. Going back to `$` each time would
      miss entries that arrived between two reads.
    """),
    code("""
    from streamlab.producer import Producer

    newest = r.xrevrange("lesson02:live", count=1)
    last_id = newest[0][0] if newest else "0-0"
    producer = Producer(r.new_client(), "lesson02:live", rate=20)
    sent_at, latencies_ms = [], []
    producer.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            reply = r.xread({"lesson02:live": last_id}, block=1000)
            returned = time.time()
            for _, entries in reply:
                for entry_id, fields in entries:
                    sent_at.append(float(fields["sent_at"]))
                    latencies_ms.append((returned - sent_at[-1]) * 1000)
                    last_id = entry_id
    finally:
        producer.stop()
    """),
    md("""
    The median (p50), the 95th percentile (95 % of entries took less) and the slowest, in
    milliseconds:
    """),
    code("""
    from streamlab import latency

    latency.summary(latencies_ms)
    """),
    md("""
    Each dot below is one entry: when it was sent, and how long it took to reach the
    reader. The red line is the median. When the slowest entry took over ten times as
    long as the fastest, the vertical axis is logarithmic (1, 2, 5, 10 ms nearly evenly
    spaced), so the usual case and the slow ones both fit.
    """),
    code("""
    latency.strip_plot(sent_at, latencies_ms,
                       f"{len(latencies_ms)} entries on {r.backend.server_name} {r.backend.version_text}")
    """),
    code("""
    if r.backend.is_fake:
        print("On fakeredis the server lives in this Python process: the latency is one "
              "thread handing over to another, with no network in between.")
    else:
        print("On a real server the latency covers the XADD's trip to the server, the "
              "server waking the blocked client, and the reply's trip back.")
    """),
    md("""
    Here the median is usually around a millisecond; the tail, the few slow dots, depends
    on the machine. A slow dot is the machine busy with something else at that moment,
    and here the producer and the reader are also two threads of one Python process,
    taking turns.
    """),

    md("""
    ## 7. A block that times out

    When nothing arrives in time, `XREAD BLOCK` replies `(nil)`, which redis-py gives
    as `[]`:
    """),
    redis("""
    XREAD BLOCK 500 STREAMS lesson02:quiet $
    """),
    code("""
    started = time.monotonic()
    reply = r.xread({"lesson02:quiet": "$"}, block=500)
    print(f"{reply!r} after {time.monotonic() - started:.2f} s")
    """),

    md("""
    ## 8. The socket-timeout trap

    A redis-py client stops waiting for a reply after its `socket_timeout`, and redis-py
    8 sets that to **5 seconds** by default. A `BLOCK` longer than that makes the client
    give up while the server is still, correctly, waiting: `TimeoutError: Timeout
    reading from socket`. Worse, a redis-py 8 client retries a timed-out command **10
    times** by default, pausing a little longer each time (a random pause under 10 ms,
    then under 20, 40, ..., at most 1 s), and each retry waits its own 5 s. So
    `XREAD BLOCK 8000` on a quiet stream raises `TimeoutError` only after 11 tries of
    5 s, about a minute. The article's consumer-group program blocks for 5000 ms, right
    at that edge.

    Here is the same thing in small: a read timeout of 0.5 s, a `BLOCK` of 1 s, and no
    retries so it fails at once.
    """),
    code("""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    default = redis.Redis()  # not connected: it only shows redis-py's defaults
    print("redis-py's default socket_timeout:", default.get_connection_kwargs()["socket_timeout"], "s;",
          "retries:", default.get_retry().get_retries())
    if r.backend.is_fake:
        print("fakeredis has no socket, so it cannot show the trap: the same read simply "
              "waits 1 s and returns []. On a real server it raises TimeoutError.")
    else:
        plain = redis.Redis.from_url(r.backend.url, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        started = time.monotonic()
        try:
            plain.xread({"lesson02:quiet": "$"}, block=1000)
        except redis.TimeoutError as exc:
            print(f"after {time.monotonic() - started:.2f} s: TimeoutError: {exc}")
        finally:
            plain.close()
    """),
    md("""
    The fix is a client whose read timeout is longer than any `BLOCK` it sends, or none
    at all: `redis.Redis(..., socket_timeout=None)`. Clients from `sl.connect()` are
    made that way, so the same read simply returns `[]` when the time is up:
    """),
    code("""
    print("this client's socket_timeout:", r.get_connection_kwargs().get("socket_timeout"))
    started = time.monotonic()
    reply = r.xread({"lesson02:quiet": "$"}, block=1000)
    print(f"{reply!r} after {time.monotonic() - started:.2f} s")
    """),

    md("""
    ## 9. A consumer that carries on where it stopped

    The article's repository has a consumer that keeps the ID of the last entry it
    handled under a key of its own. When it starts, it reads that key and asks `XREAD`
    for what came after; after each entry, it stores the new ID. Stop it, start it again
    later, and it picks up exactly where it was.

    With walrus: `Stream.read(count, block, last_id)` is `XREAD` on one stream and
    returns the entries (with bytes IDs, as in lesson 01).
    """),
    code("""
    def consume_with_walrus(db, stream_key, last_id_key, block_ms=300):
        stream = db.Stream(stream_key)
        last_id = db.get(last_id_key) or b"0"
        handled = 0
        while True:
            messages = stream.read(count=10, block=block_ms, last_id=last_id)
            if not messages:
                return handled  # nothing new within block_ms: stop, as if the program ended
            for msg_id, data in messages:
                # processing would go here; the article's consumer prints the message
                last_id = msg_id
                db.set(last_id_key, msg_id)
                handled += 1


    producer = Producer(r, "lesson02:app:event", rate=10)
    producer.burst(5)
    print("first run handled", consume_with_walrus(r.walrus, "lesson02:app:event", "lesson02:walrus:last-id"))
    producer.burst(3)
    print("second run handled", consume_with_walrus(r.walrus, "lesson02:app:event", "lesson02:walrus:last-id"))
    print("stored:", r.get("lesson02:walrus:last-id"), "= newest:", r.xrevrange("lesson02:app:event", count=1)[0][0])
    """),
    md("""
    The second run handled only the three new entries. The same consumer with redis-py:
    """),
    code("""
    def consume_with_redis_py(r, stream_key, last_id_key, block_ms=300):
        last_id = r.get(last_id_key) or "0"
        handled = 0
        while True:
            reply = r.xread({stream_key: last_id}, count=10, block=block_ms)
            if not reply:
                return handled
            for entry_id, fields in reply[0][1]:
                last_id = entry_id
                r.set(last_id_key, entry_id)
                handled += 1


    print("first run handled", consume_with_redis_py(r, "lesson02:app:event", "lesson02:redis-py:last-id"))
    producer.burst(2)
    print("second run handled", consume_with_redis_py(r, "lesson02:app:event", "lesson02:redis-py:last-id"))
    """),
    md("""
    Its first run handled all eight entries: each consumer keeps its own position, and
    neither changes the stream. Two things to know about this pattern:

    - The ID is stored *after* the entry is handled. If the program dies in between,
      it handles that entry again when it restarts ("at least once"), so handling the
      same entry twice must be harmless (lesson 04).
    - Several copies of this consumer would each read everything. Sharing the work
      needs a consumer group, which also keeps the position on the server (lesson 03).
    """),

    md("""
    ## Try it

    A producer panel, and a reader that prints each entry as it arrives. The second cell
    below starts the panel's producer itself (as a click on **Start** would), reads for
    2 seconds, stops the producer and counts: every entry sent is printed once. Change
    the rate with the slider, or the 2 seconds, and run that cell again.
    """),
    code("""
    from streamlab.widgets import ProducerPanel

    panel = ProducerPanel(r.new_client(), "lesson02:try", rate=5)
    panel
    """),
    code("""
    # One XREAD after last_id, waiting up to block_ms; prints what came, returns (last ID, how many).
    def print_new(last_id, block_ms=None):
        count = 0
        for _, entries in r.xread({"lesson02:try": last_id}, block=block_ms):
            for entry_id, fields in entries:
                print(entry_id, "seq", fields["seq"], fields["sensor_id"], fields["temp"])
                last_id, count = entry_id, count + 1
        return last_id, count
    """),
    code("""
    newest = r.xrevrange("lesson02:try", count=1)
    last_id = newest[0][0] if newest else "0-0"  # noted before the producer starts, as in section 6
    sent_before, received = panel.producer.sent, 0

    panel.start()
    until = time.monotonic() + 2
    while time.monotonic() < until:
        last_id, n = print_new(last_id, block_ms=500)
        received += n
    panel.stop()
    last_id, n = print_new(last_id)  # entries sent after the last read, before stop(): no need to wait
    received += n
    print(f"sent {panel.producer.sent - sent_before}, received {received}")
    """),

    md("""
    ## Exercises

    `exN.check(...)` checks your answer, `exN.hint()` gives a hint (again for the next
    one), `exN.solution()` shows a solution.
    """),
    code("""
    from streamlab import exercises

    ex1, ex2, ex3, ex4 = exercises.load(2, r)
    """),
    md("""
    **Exercise 1.** Write `window(r, stream, start, end)`: the entries added from
    `start` (included) up to `end` (left out), oldest first, where `start` and `end` are
    `datetime`s in UTC. One `XRANGE` does it. Careful with entries that share the
    millisecond of `end`.
    """),
    code("""
    def window(r, stream, start, end):
        return ...  # your code here


    ex1.check(window)
    # ex1.hint()
    # ex1.solution()
    """),
    md("""
    **Exercise 2.** Write `read_in_pages(r, stream, page_size)`: every entry of the
    stream, oldest first, read with `XRANGE` at most `page_size` entries per call. A
    key that does not exist gives `[]`.
    """),
    code("""
    def read_in_pages(r, stream, page_size):
        return ...  # your code here


    ex2.check(read_in_pages)
    # ex2.hint()
    # ex2.solution()
    """),
    md("""
    **Exercise 3.** A reader follows several streams; `positions` maps each stream to the
    last ID it has read, e.g. `{"lesson02:history": "0", "lesson02:alerts": "0"}`. Write
    `read_new(r, positions)`: with **one** `XREAD` (no blocking), return
    `(entries, new_positions)`: `entries` is one list of the new entries of every stream,
    each an `(id, fields)` pair as redis-py gives them (without the stream names), and
    `new_positions` is a new dict with each stream's last ID read. Leave `positions`
    itself unchanged.
    """),
    code("""
    def read_new(r, positions):
        return ...  # your code here


    ex3.check(read_new)
    # ex3.hint()
    # ex3.solution()
    """),
    md("""
    **Exercise 4.** Write `wait_for_next(r, stream, timeout_ms)`: wait up to
    `timeout_ms` for an entry added **after** the call, and return it as
    `(id, fields)`, or `None` if none came in time. (`BLOCK 0` would wait forever: keep
    the timeout.)
    """),
    code("""
    def wait_for_next(r, stream, timeout_ms):
        return ...  # your code here


    ex4.check(wait_for_next)
    # ex4.hint()
    # ex4.solution()
    """),

    md("""
    ## Recap

    - `XRANGE key start end [COUNT n]` reads oldest first, `XREVRANGE key end start`
      newest first; `-`/`+` are the ends of the stream.
    - Page with `COUNT` and an exclusive start `(last_id`; a short page means the end.
    - A bare millisecond number is a valid range end, so a time window is one `XRANGE`.
    - `XREAD` returns entries *after* an ID, over one or more streams; a stream with
      nothing new is left out of the reply.
    - `$` means "whatever is newest when the command runs": useful only with `BLOCK`.
      For the newest entry use `XREVRANGE key + - COUNT 1` (or `XREAD ... +` on 7.4+).
    - `XREAD BLOCK ms` returns as soon as an entry arrives (around a millisecond after
      the `XADD` here; the slow tail depends on the machine), and `[]` on timeout,
      provided the client's socket timeout is longer than the block (redis-py's default
      is 5 s, and it retries 10 times before it raises).
    - To miss nothing, note where you are (the newest ID, or the last ID read) before
      entries can arrive; `$` is "newest when this `XREAD` runs".
    - Storing the last ID handled under a key lets a consumer stop and resume.

    ## Next

    [03 · Consumer groups](03-consumer-groups.ipynb): share a stream's work among
    several consumers, with the server keeping track of who has what.
    """),
]

if __name__ == "__main__":
    print(write("notebooks/02-reading-and-blocking.ipynb", CELLS))
