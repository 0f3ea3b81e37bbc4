"""Build notebooks/00-start-here.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson00.py
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 00 · Start here

    A ten-minute tour: how this course works, which Redis your notebook is talking to, and your first stream entries.

    **Learning goals**

    - run cells, and restart the kernel when something gets stuck;
    - read the banner that says which Redis you are on, and switch to another one;
    - find your way around the eight lessons;
    - add entries to a stream with `XADD` and read them back with `XRANGE`, as Redis commands and in Python.

    **Prerequisites**: none about Redis. You should be comfortable with basic Python (dicts, lists, calling functions).

    **Time**: about 10 minutes.
    """),
    md("""
    ## What this course is

    **Redis Streams** are an append-only log inside Redis: producers add entries, each with an ID and a few fields, and consumers read them, alone or shared out in consumer groups that acknowledge what they have processed. The course builds up to a small sensor pipeline: readings flow in, several workers process them, some fail and are recovered, and a dashboard shows it all live. Lesson 06 sets Streams beside Redis **Pub/Sub**, so you can tell when each one fits.

    It is for Python developers who have used Redis a little, or not at all. You can work through it alone on Binder, in a workshop, or watch an instructor drive it on a projector: every lesson runs top to bottom in under a minute.
    """),
    md("""
    ## Running cells

    - **Shift-Enter** runs the selected cell and moves to the next one. **Ctrl-Enter** runs it and stays put.
    - `[*]` beside a cell means it is still running; a number means it has finished (the numbers show the order cells ran in).
    - Run the cells **from top to bottom**: later cells use names that earlier ones define.
    - If something hangs or gets confusing: **Kernel → Restart Kernel…**, then run the notebook again from the top (**Run → Run All Cells** does it in one go).

    Your streams live in Redis, not in the kernel, so a restart usually keeps them. The exceptions are the *fakeredis* and *private* backends (below): they belong to the kernel, so a restart starts them empty.

    Try it: select the next cell and press Shift-Enter.
    """),
    code("""
    import sys

    print(f"Hello from Python {sys.version.split()[0]}")
    """),
    md("""
    ## Setup

    Every lesson starts with the same two lines. `sl.connect()` finds a Redis to use and prints one line, the *banner*, saying which one and its version (a password in a URL is never shown). It also switches on the `%%redis` cells you will meet below.
    """),
    code("""
    import streamlab as sl

    r = sl.connect()
    """),
    md("""
    ## Which Redis am I on?

    `connect()` takes the first of these that works: a URL you pass it, the `REDIS_URL` environment variable, a Redis already running on this machine, a private `redis-server` it starts for this kernel alone, and last [fakeredis](https://fakeredis.readthedocs.io/), a Redis imitation written in Python that needs nothing installed. `r.backend.kind` names the one it took: `url`, `env`, `local`, `private` or `fake`.
    """),
    code("""
    r.backend.kind
    """),
    code("""
    if r.backend.is_fake:
        print("fake: fakeredis, inside this kernel. Other programs cannot see its data, and a kernel")
        print("restart empties it. It is close enough to Redis for nearly the whole course; where it")
        print("behaves differently, the lesson says so on the spot.")
    else:
        print(f"{r.backend.kind}: a real server, {r.backend.server_name} {r.backend.version_text}. "
              "What you see is what Redis does.")
    """),
    md("""
    `r` is an ordinary [redis-py](https://redis.readthedocs.io/) client, so `r.xadd(...)`, `r.xrange(...)` and the rest all work on it.

    **To use another Redis**, set `REDIS_URL` in the terminal before you start JupyterLab (`export REDIS_URL=redis://host:6379/0`, then `jupyter lab`), or pass the URL in the notebook: `r = sl.connect("redis://host:6379/0")`. `STREAMLAB_BACKEND=local` (or `env`, `private`, `fake`) forces one step of the list; if that step fails you get an error saying why and what to do, never a quiet switch to another backend.

    **When something looks wrong**, run `sl.doctor()` (or `streamlab doctor` in a terminal): it checks the installation and the backend, and prints the command that fixes each problem it finds.
    """),
    md("""
    ## Your first stream

    A stream is a Redis key, like any other. Keys in this course start with the lesson's name, `lesson00:` here, so they never get mixed up with anything else on the server.

    A `%%redis` cell takes Redis commands exactly as you would type them into `redis-cli`, one per line, and shows each reply. `XADD` adds an entry; `*` asks Redis to choose its ID. The fields come after it in pairs, name then value:
    """),
    redis("""
    DEL lesson00:hello
    XADD lesson00:hello * sensor_id kitchen temp 20.5
    XADD lesson00:hello * sensor_id kitchen temp 20.7
    """),
    md("""
    Each `XADD` replied with the ID of the entry it added, like `"1732712345678-0"`: the server's clock in **milliseconds**, a dash, and a **sequence number** that counts entries added within the same millisecond. Two `XADD`s in one cell often land in the same millisecond; then their IDs differ only after the dash. IDs always increase, so a stream is ordered by the time entries arrived. Lesson 01 is all about IDs.

    (`DEL` first makes the cell safe to run twice: without it, each run would add two more entries.)

    `XRANGE` reads entries back, oldest first; `-` and `+` mean "from the very first" and "to the very last":
    """),
    redis("""
    XRANGE lesson00:hello - +
    """),
    md("""
    Each entry comes back as a pair: `1)` its ID and `2)` its fields as one flat list, name, value, name, value. Now the same in Python. `r.xadd` takes the fields as a dict and returns the new ID:
    """),
    code("""
    entry_id = r.xadd("lesson00:hello", {"sensor_id": "hall", "temp": 19.8})
    entry_id
    """),
    md("""
    `r.xrange` returns a list of `(id, fields)` pairs. Here is the last one:
    """),
    code("""
    entries = r.xrange("lesson00:hello")
    entries[-1]
    """),
    md("""
    Look at `temp`: you gave `19.8`, a float, and got back `'19.8'`, a string. Redis stores field values as strings (bytes, really), so convert when you read: `float(fields["temp"])`.

    A list of pairs turns into a table easily:
    """),
    code("""
    import pandas as pd

    pd.DataFrame([fields for _, fields in entries], index=[eid for eid, _ in entries])
    """),
    md("""
    `XLEN` counts the entries:
    """),
    code("""
    r.xlen("lesson00:hello")
    """),
    md("""
    ## How the course is organised

    | # | notebook | afterwards you can |
    |---|---|---|
    | 00 | start here | run cells, see which backend you are on, add and read your first entries |
    | 01 | XADD and IDs | add entries, read an ID as time + sequence, use explicit and partial IDs, explain why IDs must increase |
    | 02 | reading and blocking | page with `XRANGE`/`XREVRANGE`, query a time window, `XREAD` from `0`/`$`/several streams, wait for new entries, resume where you stopped |
    | 03 | consumer groups | share work across consumers, acknowledge it, read the pending list, fan out to several groups, watch lag |
    | 04 | failure and recovery | find work a crashed consumer left behind and hand it to another, set poison messages aside, make processing safe to repeat |
    | 05 | trimming and retention | cap a stream by length or age, exact vs `~`, see what trimming does to groups, size a stream's memory |
    | 06 | Pub/Sub vs Streams | watch Pub/Sub lose what an offline subscriber missed while a stream replays it; pick the right tool |
    | 07 | capstone | run the sensor pipeline: several producers and consumers, alerts, a live dashboard |

    Every lesson has the same shape: goals and time at the top; short sections that **show a command, show the reply, explain the reply**; **Try it** panels with live plots you can play with; **Exercises**; a **Recap** and what comes **Next**. Do them in order: each lesson assumes the ones before it.
    """),
    md("""
    ## What your server can do

    Redis keeps adding stream features, and a few lessons use newer ones. Those lessons say which Redis version a feature needs and what you will see on an older server. `r.features()` lists them and whether this backend has each; the names will mean something once a lesson gets there:
    """),
    code("""
    r.features()
    """),
    md("""
    A real server has a feature when its version is new enough. fakeredis is different: its banner names the Redis version it emulates, but it accepts many newer commands whatever that version is, so it can say yes to features from Redis 7.2 or 8.2. That is why the lessons ask the backend what it does (`r.supports("partial-ids")`) rather than compare version numbers.
    """),
    md("""
    ## How exercises work

    From lesson 01 on, each lesson ends with exercises. An exercise is a cell with a blank (`...`) for you to fill in, followed by a check:

    ```python
    ids = ...          # your code here
    ex1.check(ids)     # ✔ correct, ✘ what is wrong, or "not attempted yet"
    ex1.hint()         # a hint; call it again for the next one
    ex1.solution()     # the solution, and a line that pastes it into a cell
    ```

    Checking never breaks anything: an untouched exercise just says *not attempted yet*, and a mistake gets a short message in the lesson's terms, not a wall of traceback. The solutions are also in `notebooks/solutions/`.
    """),
    md("""
    ## Sharing a server safely

    Everything the course creates is recognisably the course's: lesson keys start with `lessonNN:` and the course's own helpers use `streamlab:`. `sl.reset()` stops any producers or consumers the course left running and deletes those keys, **and only those**, so it is safe on a server that also holds other people's data. Nothing in the course runs `FLUSHDB` or `FLUSHALL`, and a `%%redis` cell refuses them unless the server belongs to this kernel (fakeredis or a private one).

    `sl.reset(r, lesson=0)` clears just this lesson:
    """),
    code("""
    sl.reset(r, lesson=0)
    r.exists("lesson00:hello")
    """),
    md("""
    In a workshop where everyone shares one server, everyone's `lesson03:` keys are the same keys. Your instructor may give each person their own database number, the last part of the URL (`redis://host:6379/7`); `sl.reset()` then only touches your database.
    """),
    md("""
    ## Recap

    - Run cells top to bottom with **Shift-Enter**; restart the kernel and run again from the top if things get stuck.
    - `r = sl.connect()` picks a Redis (your URL, `REDIS_URL`, a local server, a private one, or fakeredis) and says which in its banner; `sl.doctor()` explains the choice and prints the fix for each problem.
    - `XADD key * field value …` appends an entry and returns its ID, *milliseconds-sequence*; `XRANGE key - +` reads entries back in order. In Python: `r.xadd(key, {...})`, `r.xrange(key)`.
    - Field values come back as strings.
    - Course keys start with `lessonNN:`; `sl.reset()` deletes only those.

    ## Next

    [01 · XADD and IDs](01-xadd-and-ids.ipynb): what an entry ID really says, choosing IDs yourself, and the rule that they must always increase.
    """),
]

if __name__ == "__main__":
    print(write("notebooks/00-start-here.ipynb", CELLS))
