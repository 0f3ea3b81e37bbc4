"""Build notebooks/07-capstone.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson07.py

The pipeline: streamlab/capstone.py (its programs: streamlab/pipeline.py, run
as `streamlab produce` / `streamlab consume`). Exercise checkers:
streamlab/exercises/lesson07.py; solutions: notebooks/solutions/07-capstone.py.
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 07 · Capstone: the sensor pipeline

    The whole system from the article, running at once: sensors writing to a stream, a group of
    workers sharing the readings, a second group raising alerts, a worker that dies, and the
    accounts at the end that show nothing was lost.

    **Learning goals**
    - draw the pipeline and say which Redis command each arrow is
    - run producers and consumers as separate programs, the way the article does in terminals
    - watch lag, pending entries, work per consumer and alerts live while the pipeline runs
    - kill a worker, find the work it left behind with `XPENDING`, and have it finished by
      `XAUTOCLAIM` (or by the restarted worker)
    - prove with a ledger that every reading was processed and every hot reading raised exactly one alert

    **Prerequisites**: [03 · Consumer groups](03-consumer-groups.ipynb) and
    [04 · Failure and recovery](04-failure-and-recovery.ipynb); 01 and 02 for the basics.
    **Time**: about 30 minutes.
    """),
    code("""
    import time

    import streamlab as sl
    from streamlab.capstone import Capstone

    r = sl.connect()
    cleared = sl.reset(r, lesson=7, quiet=True)  # start clean: deletes only lesson07:* keys
    """),

    md("""
    ## 1. The pipeline on one page

    ```text
                     XADD                         XREADGROUP GROUP workers ... >      XACK
     sensor1 ──┐                               ┌──▶ group "workers":  w1, w2  ──────────────▶ done
     sensor2 ──┼──▶  lesson07:sensors  ────────┤        ▲ XAUTOCLAIM: the reaper takes over work a dead worker left
     sensor3 ──┘     (the stream keeps         │
                      every reading)           └──▶ group "alerts":   a1  ── temp > 25 ──▶ XADD lesson07:alerts
                                                    XREADGROUP GROUP alerts ... >              + XACK (one MULTI/EXEC)
    ```

    | part | what it does | Redis underneath |
    |---|---|---|
    | 3 producers | 8 readings a second each (`sensor_id`, `temp`, `humidity`, `seq`, `sent_at`), 100 in all | `XADD lesson07:sensors * ...` |
    | group `workers` | every reading goes to **one** of w1, w2; each works 80 ms on it, then acknowledges it | `XREADGROUP ... >`, `XACK` |
    | group `alerts` | gets **every** reading too (a group has its own position in the stream); copies the hot ones | `XREADGROUP`, `XADD lesson07:alerts`, `XACK` in one `MULTI`/`EXEC` |
    | reaper | finishes entries nobody acknowledged for 1.5 s: the work of a dead worker | `XAUTOCLAIM ... 1500`, `XACK` |
    | dashboard | lag and pending per group, work per consumer, alerts | `XINFO GROUPS`, `XPENDING`, `XLEN` |

    Two groups on one stream is fan-out (lesson 03): neither group slows the other, and each
    keeps its own pending entries list (PEL). Inside a group, each reading is handed to one
    consumer, which is how the work is shared.
    """),

    md("""
    ## 2. The article's way: one program per terminal

    The article runs each program in its own terminal: `python producer.py sensor1`, then
    `sensor2`, then `sensor3`, each run sending one reading to the stream `app:event`, and its
    consumer-group program in other terminals. streamlab ships the same two programs as commands.
    Here is what the article's consumer does, step by step, and what `streamlab consume` does instead:

    | the article's consumer (walrus) | Redis command | `streamlab consume <group> <consumer>` |
    |---|---|---|
    | `cg.create()` | `XGROUP CREATE app:event <group> $ MKSTREAM` | the same from `0` (all history), once; an existing group is left as it is |
    | `cg.set_id('0')`, on every start | `XGROUP SETID app:event <group> 0` | never: it rewinds the whole group, for every consumer (lesson 03, section 9) |
    | `cg.read(1, block=5000)` | `XREADGROUP GROUP <group> <consumer> COUNT 1 BLOCK 5000 STREAMS app:event >` | the same (`--count`, `--block`), on a client without redis-py's 5 s socket timeout |
    | `cg.app_event.ack(id)` after the work | `XACK app:event <group> <id>` | the same, in one `MULTI`/`EXEC` with the alert, if any |
    | an error (a bare `except`): no ack | the entry stays in the group's pending entries list (PEL) | after a crash, `XAUTOCLAIM` hands it to someone else (section 4) |

    With a Redis server to share, this is the whole pipeline, one command per terminal:

    ```bash
    # terminal 1: a private Redis server (skip it if you already have one)
    streamlab server                       # prints the line to copy: export REDIS_URL=redis://127.0.0.1:PORT/0

    # every other terminal: point it at that server first
    export REDIS_URL=redis://127.0.0.1:PORT/0

    streamlab produce sensor1 --rate 5      # terminals 2, 3, 4: one per sensor, 5 readings a second
    streamlab produce sensor2 --rate 5
    streamlab produce sensor3 --rate 5

    streamlab consume workers w1            # terminals 5, 6: the worker group
    streamlab consume workers w2

    streamlab consume alerts a1 --alert-above 25    # terminal 7: the alert group
    ```

    `streamlab produce sensor1 --count 1` is exactly the article's `python producer.py sensor1`:
    one reading, its ID printed, exit. Without `--count` it keeps sending until you stop it.
    The lesson's stream is `lesson07:sensors`; add `--stream app:event` to use the article's key.

    Press **Ctrl-C** in any of them: it finishes the entry in hand, acknowledges it, and exits
    with status 0, so nothing is left half-done. Start a consumer again under the same name and it
    first takes back its own pending entries (`XREADGROUP ... 0`), then reads new ones (`>`).

    This notebook starts the same commands for you. `Capstone` describes the pipeline; `commands()`
    lists what it will run:
    """),
    code("""
    cap = Capstone(r, threshold=25, rate=8, count=100, work=0.08)
    for command in cap.commands():
        print("$", command)
    """),
    code("""
    if cap.mode == "processes":
        print(f"Each command above will be its own OS process, talking to {sl.backend.redact(r.backend.url)} "
              "through REDIS_URL, as in the terminals.")
    else:
        print("This kernel runs on fakeredis, which lives inside this Python process: no other process "
              "can reach it. So the same two programs run here on threads instead of processes, and "
              "everything below (the dashboard, the kill, the ledger) works the same way. For real "
              "processes: run `streamlab server`, set REDIS_URL to the URL it prints, restart the kernel.")
    """),

    md("""
    ## 3. Start it and watch

    `start()` empties `lesson07:sensors` and `lesson07:alerts`, creates both groups at ID `0`,
    and starts every program at once (a Python process takes about half a second to start, so they
    start side by side, not one after another). The widget below redraws every 2 seconds while the
    pipeline runs; in a saved notebook it stays empty, and the picture at the end keeps the run.
    """),
    code("""
    cap.start()
    cap.dashboard()
    """),
    code("""
    cap.wait_started()
    time.sleep(1)
    cap.status()
    """),
    md("""
    `runs as` says where each program lives: a process ID, or a thread of this kernel on
    fakeredis. What would each terminal show? The last lines each program printed:
    """),
    code("""
    for name in ("sensor1", "w1", "a1"):
        print(cap.tail(name, 2), end="\\n\\n")
    """),

    md("""
    ## 4. Break it: kill a worker

    Now the failure of lesson 04, for real: `kill("w1")` sends w1 **SIGKILL**, which no program
    can catch: no `finally`, no goodbye. (On fakeredis, where w1 is a thread, its next Redis
    command fails instead, so the work in hand is never acknowledged either.) With `holding=1`,
    `kill()` picks a moment when w1 holds work it has read and not yet acknowledged: on a real
    server it freezes w1 (SIGSTOP) while it counts with `XPENDING`, then kills it, so w1 dies
    holding exactly that. It returns the IDs w1 left:
    """),
    code("""
    left = cap.kill("w1", holding=1)
    print(f"w1 died holding {len(left)} {'entry' if len(left) == 1 else 'entries'} "
          "it had read and never acknowledged:")
    cap.pending_entries("w1")
    """),
    md("""
    Those entries are in the group's pending entries list, under w1's name. `>` only ever hands
    out entries nobody has been given, so w2 will never see them. In redis-cli terms:
    """),
    redis("""
    XPENDING lesson07:sensors workers
    """),
    md("""
    The summary: how many entries are pending in the whole group, the smallest and largest
    pending ID, and how many each consumer holds (a real server sends those counts as strings,
    `"2"`; fakeredis as integers; redis-py gives you numbers either way). Until somebody acts,
    w1's entries sit there for ever, and their idle time grows. Two things can finish them:

    - **the reaper** (lesson 04): every half second it runs `XAUTOCLAIM lesson07:sensors workers
      reaper 1500 <cursor>`, which takes over entries idle for 1.5 s or more, whoever holds
      them; it does the work and acknowledges them. (`XAUTOCLAIM` is the article's `XCLAIM`
      with the `XPENDING` search built in: `XCLAIM` needs the IDs, `XAUTOCLAIM` finds them.)
      Live work is never idle that long here (a batch of 5 takes 0.4 s), so only the dead
      worker's entries qualify.
    - **w1 itself**, restarted under the same name: it first reads its own history with
      `XREADGROUP ... STREAMS lesson07:sensors 0`, which returns its pending entries, and finishes them.

    This pipeline runs a reaper, so we wait for it:
    """),
    code("""
    cap.wait_finished(left)
    print(f"w1 holds {cap.holding('w1')} entries now; the reaper finished {len(cap.reaper_ids)}, "
          f"{'all of' if set(left) <= set(cap.reaper_ids) else 'not all of'} the {len(left)} w1 left.")
    cap.pending()
    """),
    md("""
    (`w2` may hold a few entries in the table: that is live work, in hand for a fraction of a second.)

    Meanwhile w2 works alone, and it is much slower than the three sensors together (12.5
    readings a second against 24): the group's lag grows. Bring the capacity back, as you would
    in the terminals: run w1's command again, and open one more terminal for a third worker,
    `streamlab consume workers w3`:
    """),
    code("""
    cap.restart("w1")
    cap.add_worker("w3")
    """),

    md("""
    ## 5. Let it finish, and check the books

    The producers stop after 100 readings each. `wait_drained()` waits until both groups have
    read everything (lag 0) and acknowledged it (nothing pending); `stop()` then sends every
    program Ctrl-C (SIGINT), and SIGKILL to any still running 3 seconds later.
    """),
    code("""
    if not cap.wait_drained(40):
        print("Not drained after 40 s: the status table and the ledger below show what is still open.")
    cap.stop()
    cap.show()
    """),
    md("""
    How to read it, left to right and top to bottom:

    - **Lag** of `workers` climbs after the kill: w2 alone cannot keep up. It falls once w1 is
      back and w3 has joined (on a real server each is a new process, ready about half a second
      after it is started; on fakeredis a thread is ready at once).
      `alerts` barely lags: copying a hot reading takes no time.
    - **Pending per consumer**: w1's line stays flat after the kill (nobody touches its entries),
      then drops to 0 when the reaper takes them. The dashed line is the alert group's pending.
    - **Processed per consumer**: w1 stops, then carries on after its restart; the reaper's
      few; w3 helps to catch up.
    - **Readings and alerts**: the stream grows at 24 a second; about one reading in eight is
      above 25 °C (temperatures are drawn between 18 and 26).
    """),
    code("""
    cap.status()
    """),
    md("""
    w1 has two rows, one per run, as two terminals would show: the run that was **killed**
    (SIGKILL; on fakeredis, the thread that was ended), and the restarted one (on a real server a new
    process ID), which `stop()` ended with Ctrl-C: **exited 0 after Ctrl-C**. The producers
    **exited 0** on their own, after their 100 readings. The chart's `w1` lines add both runs together.

    Now the ledger. It checks the run against Redis itself: it reads the whole stream and the
    alerts stream back with `XRANGE`, each group's state with `XINFO GROUPS`, and what every worker
    and the reaper reported processing.
    """),
    code("""
    cap.ledger()
    """),
    md("""
    Each line is a promise of the design:

    - **pending / lag 0 for both groups**: every reading was delivered to each group and acknowledged.
    - **processed = readings**: not one reading was lost when w1 died; its unacknowledged work
      was still in the PEL, and the reaper finished it. That is the at-least-once guarantee.
    - **processed twice**: entries two consumers both reported finishing, as when the reaper
      takes over an entry from a worker that was slow, not dead. A worker killed after its work
      but before its `XACK` also gets its entry redone, though it never reported the first time:
      at-least-once means *maybe twice*, which is why lesson 04 makes work idempotent.
    - **alerts = hot readings, each once**: the alert and its `XACK` go in one `MULTI`/`EXEC`,
      so an alert is never written for a reading that will be handed out again.

    The same state, as redis-cli shows it:
    """),
    redis("""
    XINFO GROUPS lesson07:sensors
    XLEN lesson07:alerts
    XREVRANGE lesson07:alerts + - COUNT 1
    """),
    md("""
    A real server lists the groups sorted by name (`alerts` first); fakeredis lists them in the
    order they were created. `workers` has 4 consumers, w1, w2, w3 and the reaper: a consumer stays
    in its group after its program dies or stops (`XGROUP DELCONSUMER` removes it), which is why a
    restarted w1 finds its own pending entries again.

    An alert keeps the reading's fields, plus `source_id` (the reading's ID in `lesson07:sensors`)
    and `threshold`: from an alert you can always find the reading that caused it.
    """),

    md("""
    ## Exercises

    Each exercise asks for a function; the check runs it on a small scene of its own (under
    `lesson07:exN`), so it does not matter what your pipeline run happened to do.
    """),
    code("""
    from streamlab import exercises

    ex1, ex2, ex3 = exercises.load(7, r)
    """),
    md("""
    ### Exercise 1: how many alerts should there be?

    Write `count_hot(r, stream, threshold)`: the number of readings in `stream` whose `temp` is
    above `threshold`. This is the number the ledger compared with `XLEN lesson07:alerts`;
    once the check passes, try `count_hot(r, "lesson07:sensors", 25)` yourself.
    """),
    code("""
    def count_hot(r, stream, threshold):
        return ...   # your code here


    ex1.check(count_hot)
    """),
    code("""
    # ex1.hint()
    # ex1.solution()
    """),
    md("""
    ### Exercise 2: who holds the most pending work?

    After a crash the first question is whose work is stuck. Write `most_pending(r, stream, group)`
    returning a pair: the name of the consumer holding the most pending entries, and how many.
    """),
    code("""
    def most_pending(r, stream, group):
        return ...   # your code here


    ex2.check(most_pending)
    """),
    code("""
    # ex2.hint()
    # ex2.solution()
    """),
    md("""
    ### Exercise 3: what is still unfinished?

    A group is done with an entry once it is acknowledged. Write `unfinished(r, stream, group)`
    returning the IDs of every entry the group has **not** finished yet, in ID order, whether
    or not it was delivered to anyone.
    """),
    code("""
    def unfinished(r, stream, group):
        return ...   # your code here


    ex3.check(unfinished)
    """),
    code("""
    # ex3.hint()
    # ex3.solution()
    """),

    md("""
    ## Recap

    - A stream is the log; **each consumer group is one reader** of it with its own position and
      PEL. Two groups on one stream each get every entry; inside a group each entry goes to one consumer.
    - `XACK` is the end of the work. Until it, the entry sits in the PEL under the consumer's
      name: after a crash it is still there, and `XPENDING` shows whose it is and how long it has waited.
    - Work left by a dead consumer is finished by `XAUTOCLAIM` (a reaper, with a minimum idle
      time longer than any real work) or by the same consumer restarted, reading its history with `0`.
    - Put a side effect and its `XACK` in one `MULTI`/`EXEC`, or make the work idempotent:
      delivery is at least once.
    - The proof is a ledger: produced = processed, lag 0 and nothing pending in every group,
      and outputs (alerts) equal to what the inputs call for.

    ## Next

    That is the course. To run the pipeline for real, open seven terminals and use the commands of
    section 2 (`streamlab server`, then `streamlab produce` / `streamlab consume`). A pipeline that
    runs for days also needs a cap on the stream: see [05 · Trimming and retention](05-trimming-and-retention.ipynb).
    Re-running any cell here is safe: starting the pipeline again stops the old one first, and
    `sl.reset(r, lesson=7)` stops it and deletes the lesson's keys.
    """),
]

if __name__ == "__main__":
    print(write("notebooks/07-capstone.ipynb", CELLS))
