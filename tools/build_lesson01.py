"""Build notebooks/01-xadd-and-ids.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson01.py

Exercise checkers: streamlab/exercises/lesson01.py; solutions:
notebooks/solutions/01-xadd-and-ids.py.
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 01 · XADD and IDs

    How entries get into a stream, and what the IDs Redis gives them mean.

    **Learning goals**
    - add entries with `XADD` and read the ID it returns as *milliseconds*-*sequence*
    - turn an ID into a date and time, and a date and time into an ID
    - write explicit and partial IDs, and explain why Redis refuses an ID that does not grow
    - store numbers, nested data and missing values in fields that only hold strings
    - run the article's sensor producer with walrus and with redis-py

    **Prerequisites**: [00 · Start here](00-start-here.ipynb).
    **Time**: about 25 minutes.
    """),
    code("""
    import streamlab as sl

    r = sl.connect()
    cleared = sl.reset(r, lesson=1, quiet=True)  # start clean: deletes only lesson01:* keys
    """),

    md("""
    ## 1. XADD with `*`

    A stream is an append-only log. Each entry has an **ID** and a few **field/value**
    pairs. `XADD key * field value ...` appends one entry; the `*` asks the server to
    choose the ID. The reply is that ID.
    """),
    redis("""
    XADD lesson01:demo * sensor_id sensor1 temp 21.5 humidity 41
    XADD lesson01:demo * sensor_id sensor2 temp 19.8 humidity 55
    XLEN lesson01:demo
    """),
    md("""
    Each `XADD` answered with a new ID, and `XLEN` counts two entries. The same command
    in Python, with redis-py: `r.xadd(key, fields)`. The fields are a dict, and `*` is the
    default ID.
    """),
    code("""
    entry_id = r.xadd("lesson01:demo", {"sensor_id": "sensor3", "temp": 22.1, "humidity": 38})
    entry_id
    """),

    md("""
    ## 2. What an ID is made of

    An ID is two numbers joined by a dash: the **milliseconds** since 1970-01-01 UTC when
    the entry was added (by the server's clock), and a **sequence number** that tells
    apart entries added in the same millisecond.
    """),
    code("""
    from datetime import datetime, timezone

    milliseconds, sequence = entry_id.split("-")
    added_at = datetime.fromtimestamp(int(milliseconds) / 1000, tz=timezone.utc)
    print(f"milliseconds {milliseconds}, sequence {sequence}")
    print(f"added at {added_at:%Y-%m-%d %H:%M:%S.%f} UTC")
    """),
    md("""
    And back: a date and time becomes an ID by counting its milliseconds. `round` rather
    than `int`, because `timestamp()` is a float and `0.123 * 1000` can come out as
    `122.99999`.
    """),
    code("""
    def datetime_to_id(moment, sequence=0):
        return f"{round(moment.timestamp() * 1000)}-{sequence}"


    print(datetime_to_id(added_at))
    print(datetime_to_id(datetime(2024, 1, 1, tzinfo=timezone.utc)))
    """),
    md("""
    Every ID in the stream, taken apart in a table (`XRANGE key - +` returns all the
    entries, oldest first; lesson 02 covers it).
    """),
    code("""
    import pandas as pd


    def id_table(entries):
        rows = []
        for eid, fields in entries:
            ms, seq = eid.split("-")
            rows.append({"id": eid, "milliseconds": int(ms), "sequence": int(seq),
                         "added at (UTC)": pd.to_datetime(int(ms), unit="ms"), **fields})
        return pd.DataFrame(rows)


    id_table(r.xrange("lesson01:demo"))
    """),

    md("""
    ## 3. Several entries in one millisecond

    A pipeline sends many commands in one round trip, so the server adds them faster
    than its clock ticks. Entries that land in the same millisecond share the first
    number, and the sequence counts up: 0, 1, 2, ... It starts again at 0 in the next
    millisecond. (If the server's clock ever goes backwards, Redis keeps the last
    millisecond and carries on counting, so IDs still grow.)
    """),
    code("""
    pipe = r.pipeline(transaction=False)
    for n in range(50):
        pipe.xadd("lesson01:burst", {"n": n})
    ids = pipe.execute()

    per_ms = id_table(r.xrange("lesson01:burst")).groupby("milliseconds")["sequence"]
    per_ms.agg(entries="count", first_sequence="min", last_sequence="max")
    """),

    md("""
    ## 4. Explicit IDs, and why an ID must grow

    Instead of `*` you may give the ID yourself. The rule: it must be **greater** than
    the ID of the newest entry (Redis calls it the stream's *top item*). A stream is kept
    in ID order, and new entries only ever go on the end.
    """),
    redis("""
    XADD lesson01:explicit 1-1 reading first
    XADD lesson01:explicit 1-2 reading second
    XADD lesson01:explicit 1-2 reading same-id-again
    XADD lesson01:explicit 0-9 reading older
    XADD lesson01:explicit 5 reading milliseconds-only
    """),
    md("""
    The third and fourth `XADD` fail: `1-2` equals the top item and `0-9` is smaller.
    The stream is unchanged by them. The last one gives only milliseconds; Redis fills
    in sequence 0, so the ID is `5-0`.

    Each `(error)` line is the server's reply, as redis-cli shows it. The `hint:` line
    under it is not from Redis: the course's `%%redis` adds it, and redis-cli prints no
    such line.

    `0-0` is special: it is the smallest possible ID, which readers use to mean "from
    the very beginning", so no entry may have it, even in an empty stream.
    """),
    redis("""
    XADD lesson01:zero 0-0 reading zero
    EXISTS lesson01:zero
    """),
    md("""
    In Python the refusal is a `redis.ResponseError` with the same text, which you can
    catch:
    """),
    code("""
    import redis

    try:
        r.xadd("lesson01:explicit", {"reading": "late"}, id="2-0")
    except redis.ResponseError as exc:
        print("refused:", exc)
    print("newest entry is still", r.xrevrange("lesson01:explicit", count=1)[0][0])
    """),

    md("""
    ## 5. Partial IDs: `<milliseconds>-*`

    Since Redis 7.0 you may fix the milliseconds and let the server pick the sequence:
    `XADD key 1700000000000-* ...`. Useful when the time comes from the data (a sensor's
    own clock) and several readings share a millisecond.
    """),
    redis("""
    XADD lesson01:partial 1700000000000-* reading a
    XADD lesson01:partial 1700000000000-* reading b
    XADD lesson01:partial 1700000000005-* reading c
    """),
    code("""
    if r.supports("partial-ids"):
        print(f"{r.backend.server_name} {r.backend.version_text} takes partial IDs: "
              "the sequence counted 0, 1 within the millisecond, then restarted at 0.")
    else:
        print(f"{r.backend.server_name} {r.backend.version_text} is older than Redis 7.0: "
              "the cell above printed errors. On 7.0+ it replies 1700000000000-0, "
              "1700000000000-1, 1700000000005-0.")
    """),

    md("""
    ## 6. `NOMKSTREAM` and `XLEN`

    `XADD` creates the stream if the key does not exist. With `NOMKSTREAM` (Redis 6.2+)
    it does not: the reply is `(nil)` and nothing is written. That protects against a
    typo in a key name quietly creating a new stream that no reader watches.
    """),
    redis("""
    XADD lesson01:nobody-here NOMKSTREAM * reading lost
    EXISTS lesson01:nobody-here
    XADD lesson01:demo NOMKSTREAM * sensor_id sensor1 temp 21.7 humidity 40
    XLEN lesson01:demo
    XLEN lesson01:nobody-here
    """),
    md("""
    `XLEN` is the number of entries: 4 in `lesson01:demo` now. A key that does not exist
    also gives 0, so `XLEN` alone cannot tell "no stream" from "empty stream"; `EXISTS`
    or `TYPE` can. In redis-py, `nomkstream=True` returns `None` instead of an ID:
    """),
    code("""
    print(r.xadd("lesson01:nobody-here", {"reading": "lost"}, nomkstream=True))
    print(r.xlen("lesson01:demo"))
    """),

    md("""
    ## 7. Field values are flat strings

    Redis stores every field and value as a string (bytes, really). redis-py turns ints
    and floats into their text on the way in, and what comes back is text: converting
    it back is the reader's job.
    """),
    code("""
    eid = r.xadd("lesson01:payloads", {"count": 42, "ratio": 0.1, "big": 10**20, "name": "café"})
    r.xrange("lesson01:payloads", eid, eid)
    """),
    md("""
    Values with no obvious text form are refused by redis-py before anything reaches the
    server:
    """),
    code("""
    attempts = {"a dict": {"room": "lab"}, "None": None, "True": True, "a list": [1, 2]}
    rows = []
    for label, value in attempts.items():
        try:
            r.xadd("lesson01:payloads", {"value": value})
            rows.append({"value": label, "result": "stored"})
        except redis.DataError as exc:
            rows.append({"value": label, "result": f"DataError: {str(exc).split('.')[0]}"})
    pd.DataFrame(rows)
    """),
    md("""
    What to do instead, and the choice each one makes:

    | Python value | store it as | read it back with |
    |---|---|---|
    | nested dict / list | `json.dumps(value)` | `json.loads(text)` |
    | `None` | leave the field out (or `""`: pick one rule for the whole stream) | `fields.get("name")` |
    | `True` / `False` | `"1"` / `"0"` | `text == "1"` |
    | float | as is (redis-py writes `repr`, which reads back exactly) | `float(text)` |
    """),
    code("""
    import json

    reading = {"sensor_id": "lab1", "temp": 21.5, "location": {"room": "lab", "floor": 2},
               "battery": None}
    flat = {k: json.dumps(v) if isinstance(v, (dict, list)) else v
            for k, v in reading.items() if v is not None}
    eid = r.xadd("lesson01:payloads", flat)
    _, stored = r.xrange("lesson01:payloads", eid, eid)[0]
    print(stored)
    print(json.loads(stored["location"])["floor"], float(stored["temp"]), stored.get("battery"))
    """),

    md("""
    ## 8. The article's producer, in walrus and in redis-py

    The article sends sensor readings with [walrus](https://walrus.readthedocs.io), a
    small library on top of redis-py: `Database().Stream(key).add(fields, id="*")`. Here
    is its `main()` with two small changes: it is handed the database instead of making
    one with `Database()` (which would connect to localhost), and it returns the ID. We
    pass `r.walrus`, a walrus `Database` on the same server as `r`. The loop stands in
    for running `python producer.py sensor1`, then `sensor2`, then `sensor3`.
    """),
    code("""
    import random


    def produce_with_walrus(db, stream_key, sensor_id):
        stream = db.Stream(stream_key)
        msg_id = stream.add(
            {"sensor_id": sensor_id, "temp": random.random(), "humidity": random.random()},
            id="*",
        )
        print(f"message {msg_id} sent")
        return msg_id


    for sensor in ("sensor1", "sensor2", "sensor3"):
        produce_with_walrus(r.walrus, "lesson01:app:event", sensor)
    """),
    md("""
    The IDs print as `b'...'`: **bytes**, not text. A redis-py client returns bytes
    unless it is created with `decode_responses=True`, and walrus's `Database` is a
    redis-py client without it (walrus compares some replies with bytes such as
    `b'stream'`, so it must stay that way). `r` from `sl.connect()` has
    `decode_responses=True`, which is why its replies are `str`. With walrus, decode
    yourself: `msg_id.decode()`.

    The same producer with redis-py alone:
    """),
    code("""
    def produce_with_redis_py(r, stream_key, sensor_id):
        msg_id = r.xadd(
            stream_key,
            {"sensor_id": sensor_id, "temp": random.random(), "humidity": random.random()},
            id="*",
        )
        print(f"message {msg_id} sent")
        return msg_id


    for sensor in ("sensor1", "sensor2", "sensor3"):
        produce_with_redis_py(r, "lesson01:app:event", sensor)
    """),
    md("""
    | | redis-cli | redis-py | walrus |
    |---|---|---|---|
    | add an entry | `XADD key * f v ...` | `r.xadd(key, {f: v})` | `db.Stream(key).add({f: v}, id="*")` |
    | count entries | `XLEN key` | `r.xlen(key)` | `len(db.Stream(key))` |
    | read all | `XRANGE key - +` | `r.xrange(key)` | `db.Stream(key).range()` |
    | replies | text | `str` (with `decode_responses=True`) | `bytes` |

    Both wrote to the same stream; here are its six entries, through each library:
    """),
    code("""
    print(len(r.walrus.Stream("lesson01:app:event")), "entries;", "walrus's newest:",
          r.walrus.Stream("lesson01:app:event").revrange(count=1))
    id_table(r.xrange("lesson01:app:event"))
    """),

    md("""
    ## 9. Try it: the producer panel

    The panel runs a producer on a background thread: pick a stream, sensors and a rate
    (1 to 10,000 messages a second), then **Start**, **Stop** or **Burst** N entries at
    full speed. It shows what was sent, the rate achieved, `XLEN` and the newest
    entries. Re-running the cell stops the previous panel.
    """),
    code("""
    from streamlab.widgets import ProducerPanel

    panel = ProducerPanel(r, "lesson01:sensors", sensors=("sensor1", "sensor2", "sensor3"), rate=20)
    panel
    """),
    md("""
    The buttons have a Python API too. Two seconds at 20 messages a second:
    """),
    code("""
    panel.run_for(2)
    """),
    md("""
    The entries carry the article's three fields and two more that the course's
    producer adds to every entry:

    - `seq`: the producer's running count, 1, 2, 3, ... A reader that sees a number
      skipped knows an entry went missing.
    - `sent_at`: the producer's clock when it made the entry, in seconds since 1970
      (`time.time()`). A reader subtracts it from its own clock to see how long the
      entry took to reach it; lesson 02 does that.

    `burst(n)` ignores the rate: it sends `n` entries as fast as the server takes them,
    many `XADD`s per round trip (a pipeline, as in section 3). 2,000 of them:
    """),
    code("""
    panel.burst(2000)
    """),
    md("""
    Did the burst's entries share milliseconds, as in section 3? Count them. How many fit
    in one millisecond depends on the server: fakeredis, which is Python code running in
    this kernel, takes far fewer than a real Redis.
    """),
    code("""
    per_ms = id_table(r.xrange("lesson01:sensors")[-2000:]).groupby("milliseconds").size()
    print(f"the burst's {per_ms.sum():,} entries landed in {len(per_ms):,} different milliseconds; "
          f"{per_ms.mean():.1f} entries shared each of those on average, up to {per_ms.max()}")
    """),

    md("""
    ## Exercises

    Each exercise has a cell to fill in and a check. `exN.hint()` gives a hint (run it
    again for the next one) and `exN.solution()` shows a solution. An exercise you have
    not touched says *not attempted yet*.
    """),
    code("""
    from streamlab import exercises

    ex1, ex2, ex3, ex4 = exercises.load(1, r)
    """),
    md("""
    **Exercise 1.** Add three readings from sensor `kitchen` to the stream
    `lesson01:ex1`, each with a `sensor_id` and a `temp` (a number). Keep the three IDs
    `XADD` returns, in order, in a list `ids`.
    """),
    code("""
    ids = ...  # your code here

    ex1.check(ids)
    # ex1.hint()
    # ex1.solution()
    """),
    md("""
    **Exercise 2.** Write `id_to_datetime(entry_id)`: given an ID such as
    `"1700000000123-7"`, return the time its entry was added, as a `datetime` in UTC.
    """),
    code("""
    from datetime import datetime, timezone


    def id_to_datetime(entry_id):
        return ...  # your code here


    ex2.check(id_to_datetime)
    # ex2.hint()
    # ex2.solution()
    """),
    md("""
    **Exercise 3.** The newest entry of a stream has the ID `1700000000000-7`. Which is
    the smallest ID that `XADD key <ID> ...` accepts next? Put it in `next_id` as a
    string. (The check tries it with a real `XADD`.)
    """),
    code("""
    next_id = ...  # your answer, e.g. "123-4"

    ex3.check(next_id)
    # ex3.hint()
    # ex3.solution()
    """),
    md("""
    **Exercise 4.** Add this reading to `lesson01:ex4` so that a reader gets `location`
    back as a dict with `json.loads`, and keep the ID in `entry_id`:
    `{"sensor_id": "lab1", "temp": 21.5, "location": {"room": "lab", "floor": 2}}`.
    """),
    code("""
    entry_id = ...  # your code here

    ex4.check(entry_id)
    # ex4.hint()
    # ex4.solution()
    """),

    md("""
    ## Recap

    - `XADD key * field value ...` appends an entry and returns its ID; `XLEN` counts entries.
    - An ID is `<milliseconds>-<sequence>`: when it was added (UTC) and a counter for
      entries in the same millisecond.
    - Explicit IDs must be greater than the newest one; `0-0` is never allowed;
      `<ms>-*` (Redis 7.0+) fixes the time and lets the server count.
    - `NOMKSTREAM` refuses to create a missing stream.
    - Fields hold strings: convert numbers when reading, `json.dumps` nested data, and
      pick one rule for `None`.
    - walrus replies are bytes; `sl.connect()` clients decode to `str`.

    ## Next

    [02 · Reading and blocking](02-reading-and-blocking.ipynb): read a stream every way
    Redis allows, query a time window, and wait for new entries.
    """),
]

if __name__ == "__main__":
    print(write("notebooks/01-xadd-and-ids.ipynb", CELLS))
