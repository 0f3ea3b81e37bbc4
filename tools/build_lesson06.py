"""Build notebooks/06-pubsub-vs-streams.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson06.py

Exercise checkers: streamlab/exercises/lesson06.py; solutions:
notebooks/solutions/06-pubsub-vs-streams.py.
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 06 · Pub/Sub vs Streams

    Redis has two ways to move messages from producers to consumers. This lesson runs them side by side, takes the readers away for a while, and counts what each one lost.

    **Learning goals**

    - publish and subscribe with `PUBLISH`, `SUBSCRIBE` and `PSUBSCRIBE`, with a subscriber on a background thread;
    - show that a Pub/Sub subscriber that is offline loses every message sent meanwhile, while a stream consumer group catches up;
    - compare fan-out with Pub/Sub and with several consumer groups, and their delivery guarantees (at most once, at least once);
    - explain what happens to a subscriber that cannot keep up (the output buffer limit);
    - choose between Pub/Sub and Streams for a job.

    **Prerequisites**: lessons 02 (reading) and 03 (consumer groups).

    **Time**: about 25 minutes.
    """),
    md("""
    ## Setup
    """),
    code("""
    import time

    import pandas as pd

    import streamlab as sl
    from streamlab import pubsub

    r = sl.connect()
    cleared = sl.reset(r, lesson=6, quiet=True)  # start clean: stops workers, deletes only lesson06:* keys
    """),

    md("""
    ## Pub/Sub in one minute

    In Pub/Sub a message goes to a **channel**. `PUBLISH channel message` delivers it to every client subscribed to that channel *at this moment*, and replies with how many there were. Redis keeps nothing: no history, no acknowledgement, no second try.
    """),
    redis("""
    PUBLISH lesson06:hello "is anyone there?"
    """),
    md("""
    `(integer) 0`: nobody was subscribed, so the message went nowhere, and it is gone. (A channel is not a key: nothing is stored under its name. It exists only while at least one client is subscribed to it, which is what `PUBSUB CHANNELS` lists; publishing to it does not create it.)

    `SUBSCRIBE` turns a connection into a listener that can do nothing but receive, so it cannot run in a `%%redis` cell, which would never return. In Python, redis-py's `PubSub` object holds that connection. A listener gets its own client, `r.new_client()`:
    """),
    code("""
    print("PUBLISH before anyone listens:", r.publish("lesson06:hello", "too early"))

    listener = r.new_client()
    p = listener.pubsub()
    p.subscribe("lesson06:hello")
    print("confirmation:", p.get_message(timeout=1))      # the server's reply to SUBSCRIBE

    print("PUBLISH replied:", r.publish("lesson06:hello", "hello, subscriber"))
    print("received:       ", p.get_message(timeout=1))
    print("anything else?  ", p.get_message(timeout=0.2))  # "too early" is not coming
    p.close()
    listener.close()
    """),
    md("""
    The first message a subscriber reads is the server's confirmation (`type: subscribe`, with how many channels the connection now listens on). Then comes the published one, with `type: message`, the channel and the data. `PUBLISH` answered **1**: one subscriber got it.

    "too early", published **before** `SUBSCRIBE`, never arrives (`None`): a subscription only covers what is published after it. Real Redis and fakeredis agree on this.
    """),

    md("""
    ## A subscriber on a background thread

    A real subscriber sits in a loop, waiting for messages. `pubsub.Subscriber` runs that loop on a thread: `start()` subscribes and returns once the server has confirmed; `stop()` closes the connection and ends the thread within a tenth of a second. Messages it received are in `messages`.
    """),
    code("""
    sub = pubsub.Subscriber(r, "lesson06:news").start()
    for headline in ("first", "second", "third"):
        r.publish("lesson06:news", headline)
    print("PUBSUB NUMSUB:", r.pubsub_numsub("lesson06:news"))   # subscribers per channel
    time.sleep(0.3)
    sub.stop()
    pd.DataFrame(sub.messages)[["channel", "data"]]
    """),
    code("""
    import threading

    print("still running:", sub.running, "| streamlab threads left:",
          [t.name for t in threading.enumerate() if t.name.startswith("streamlab-")])
    """),
    md("""
    ### `PSUBSCRIBE`: channels by pattern

    `PSUBSCRIBE pattern` listens on every channel whose name matches a glob pattern (`*` any text, `?` one character, `[abc]` one of). Each message says which pattern matched:
    """),
    code("""
    sensors = pubsub.Subscriber(r, patterns="lesson06:sensor:*").start()
    r.publish("lesson06:sensor:1", "21.5")
    r.publish("lesson06:sensor:2", "19.0")
    r.publish("lesson06:alerts", "not a sensor")
    time.sleep(0.3)
    sensors.stop()
    pd.DataFrame(sensors.messages)[["pattern", "channel", "data"]]
    """),

    md("""
    ## Side by side: the same events, two ways

    Now the experiment this lesson is about. One publisher sends 100 numbered events. Each event goes **both** to a channel (`PUBLISH lesson06:events <n>`) and to a stream (`XADD lesson06:events * seq <n>`, the same name is fine: channels and keys live apart). Two readers listen:

    - a **Pub/Sub subscriber** on the channel;
    - a **stream consumer** in a consumer group (`XREADGROUP ... >`, then `XACK`).

    Just before event 31, both readers go offline (the subscriber's connection closes; the consumer stops reading). The publisher waits until both are really gone (a fraction of a second: each reader first finishes the read it is waiting in; that is the flat stretch just before the grey band on the plot), so that events 31 to 70 are sent while nobody listens. Just after event 70, both come back. Then we count.
    """),
    code("""
    experiment = pubsub.PubSubVsStreams(r, prefix="lesson06:", name="events")
    result = experiment.run(events=100, offline=(31, 70), rate=200)
    result.table()
    """),
    code("""
    result.plot();
    """),
    md("""
    - The **subscriber** received 60 events: 1–30 and 71–100. Events 31–70 were published while it was not subscribed; `PUBLISH` delivered them to nobody, and there is no way to get them back.
    - The **stream consumer** received all 100. The entries stayed in the stream, and the group remembered how far it had read (its `last-delivered-id`), so when it came back, `XREADGROUP ... >` handed it the 40 it had missed, at once (the steep step on the right-hand plot), then carried on with new ones.
    """),
    code("""
    print("subscriber missed:", result.subscriber_missed[0], "to", result.subscriber_missed[-1],
          f"({len(result.subscriber_missed)} events)")
    print("stream consumer missed:", result.stream_missed or "nothing")
    print("stream consumer got them in order:", result.stream_seqs == sorted(result.stream_seqs))
    """),

    md("""
    ## Try it: take the readers offline yourself

    The same experiment, live: a publisher sends 20 events a second. **Readers offline** disconnects both readers, **Readers back** brings them back; watch *subscriber missed* grow while *stream reader behind* drops back to 0 when they return. The next cell drives the panel from Python (start, offline after 1.5 s, back after 3 s, stop at 4.5 s), so the executed notebook shows numbers too.
    """),
    code("""
    panel = pubsub.pubsub_panel(r, rate=20)
    panel
    """),
    code("""
    panel.start()
    time.sleep(1.5)
    panel.take_offline()
    time.sleep(1.5)
    panel.bring_back()
    time.sleep(1.5)
    panel.stop()
    print(panel.summary())
    panel.result().plot();
    """),

    md("""
    ## Fan-out: every reader gets every message

    Both tools can send one message to many readers, in different ways.

    - **Pub/Sub**: every subscriber of a channel gets every message. Three subscribers, three copies.
    - **Streams**: every **consumer group** gets every entry, and each group keeps its own position. Within one group, the consumers **share** the entries (lesson 03): that is how a stream scales out the work, which Pub/Sub cannot do.
    """),
    code("""
    subs = [pubsub.Subscriber(r, "lesson06:fanout", name=f"fanout-sub-{i}").start() for i in range(3)]
    r.delete("lesson06:fanout")
    groups = [pubsub.GroupReader(r, "lesson06:fanout", group, name=f"fanout-{group}").start()
              for group in ("billing", "audit", "search")]
    shared = [pubsub.GroupReader(r, "lesson06:fanout", "workers", consumer=f"w{i}", name=f"fanout-w{i}").start()
              for i in (1, 2)]

    for n in range(30):
        r.publish("lesson06:fanout", n)
        r.xadd("lesson06:fanout", {"n": n})
        time.sleep(0.01)   # a steady trickle, so both "workers" consumers are waiting in turn
    time.sleep(0.3)
    for worker in subs + groups + shared:
        worker.stop()

    pd.DataFrame(
        [{"reader": f"Pub/Sub subscriber {i + 1}", "got": s.count} for i, s in enumerate(subs)]
        + [{"reader": f"group {g.group}", "got": g.count} for g in groups]
        + [{"reader": f"group workers, consumer {w.consumer}", "got": w.count} for w in shared]
    ).set_index("reader")
    """),
    md("""
    Each subscriber and each group got all 30; the two consumers of `workers` split the 30 between them (how evenly depends on who was waiting when each entry arrived).

    ## Delivery guarantees

    | | Pub/Sub | Streams with a consumer group |
    |---|---|---|
    | a reader that is offline | misses the message for good | reads it when it comes back |
    | a reader that crashes mid-message | the message is gone | it stays **pending** until `XACK`; another consumer can `XCLAIM` it (lesson 04) |
    | guarantee | **at most once**: zero or one delivery | **at least once**: delivered until acknowledged (so make processing idempotent) |
    | history | none | the stream, until it is trimmed (lesson 05) |
    | fan-out | every subscriber | every group; consumers in a group share |
    | ordering | publish order, per connection | ID order; a group's consumers may finish out of order |
    | cost per message | tiny: nothing is stored | an entry in memory until trimmed |
    | who knows the backlog | nobody | `XINFO GROUPS` lag, `XPENDING` |
    """),

    md("""
    ## A slow subscriber

    Pub/Sub does not wait for slow readers. When a subscriber reads more slowly than messages arrive, Redis queues the undelivered messages in that client's **output buffer**, in the server's memory. To protect itself, Redis has a limit per kind of client, `client-output-buffer-limit`; for Pub/Sub clients the default is `pubsub 32mb 8mb 60`: disconnect a subscriber whose buffer passes 32 MB, or stays above 8 MB for 60 seconds. A disconnected subscriber loses everything that was queued for it.

    Reading the setting is harmless: `CONFIG GET`.
    """),
    code("""
    limit = pubsub.output_buffer_limit(r)
    if limit:
        hard, soft, seconds = limit.split()[1:]
        print(f"{limit}\\n-> disconnect a subscriber at {int(hard):,} bytes queued, "
              f"or above {int(soft):,} bytes for {seconds} s")
    elif r.backend.is_fake:
        print("fakeredis has no CONFIG and no output buffer limit: it keeps every undelivered message")
        print("in Python memory, for as long as it takes, and never disconnects a slow subscriber.")
    else:
        print("This server does not allow CONFIG GET (common on managed services).")
    """),
    md("""
    Changing it is another matter. `CONFIG SET` changes the whole server, for everyone on it, so the course never runs it on a server it did not start (`r.backend.kind` says which kind yours is). To *see* a disconnect, `pubsub.slow_subscriber_demo()` starts a scratch `redis-server` of its own (when one is installed), sets a tiny limit there (`pubsub 256kb 0 0`), subscribes a client, and publishes 4,000 messages of 4 KB while that client reads nothing. Once the publishing is over, the client reads whatever reached it. The scratch server is stopped afterwards.
    """),
    code("""
    where = {"url": "the server at the URL you passed to sl.connect()",
             "env": "the server named by the REDIS_URL environment variable",
             "local": "a Redis server already running on this machine (127.0.0.1:6379)",
             "private": "a redis-server this kernel started for itself",
             "fake": "fakeredis, an imitation of Redis inside this Python process"}[r.backend.kind]
    print(f"Your backend is {where} (r.backend.kind == {r.backend.kind!r}).")
    if r.backend.is_fake:
        print("CONFIG SET there? No: fakeredis has no CONFIG, so the demo needs a scratch server.")
    elif pubsub.may_reconfigure(r):
        print("CONFIG SET there? Yes: streamlab started that server, nobody else uses it.")
    else:
        print("CONFIG SET there? No: streamlab did not start it, so the demo uses a scratch server.")
    demo = pubsub.slow_subscriber_demo(r, messages=4000, payload_bytes=4096, hard_limit="256kb")
    print(demo)
    """),
    md("""
    Read the numbers from the top. `PUBLISH` replies with the number of receivers, so the publisher saw the moment the subscriber vanished: the replies dropped from 1 to 0. Up to then, every message went into the server's output buffer for that client, and from there into the network connection as fast as the operating system took it. The subscriber's later reads found only what had already crossed to its end of the connection (how much depends on the operating system's buffers). What was still in the server's buffer was thrown away with the connection, and the server never says which messages those were. With a stream, a slow consumer only falls behind: its lag grows, and nothing is lost until trimming removes entries it has not read.
    """),

    md("""
    ## When to use which

    | use **Pub/Sub** when | use **Streams** when |
    |---|---|
    | a message is only useful right now (typing indicators, live cursor positions, "something changed, refresh") | every message must be processed (orders, payments, sensor readings you store) |
    | a missed message is harmless, or the next one replaces it | a reader may be offline, restart or crash, and must catch up |
    | every listener should get every message and none does heavy work | work must be shared among several workers, with retries |
    | you want no memory cost and no clean-up | you want history: replay, audit, a new service reading from the start |

    The article's point, that streams can do what Pub/Sub does *and* keep history and track consumers, holds; but Pub/Sub is still the simpler, cheaper tool when "at most once" is all a job needs.
    """),

    md("""
    ## Exercises
    """),
    code("""
    from streamlab import exercises

    ex1, ex2, ex3 = exercises.load(6, r)
    """),
    md("""
    ### Exercise 1: one pattern for every temperature channel

    Sensors publish on channels named `lesson06:sensor:<id>:temp` and `lesson06:sensor:<id>:humidity`. Write a `PSUBSCRIBE` pattern that receives every temperature channel, whatever the sensor id, and nothing else. The check subscribes with your pattern and publishes a few test messages.
    """),
    code("""
    pattern = ...   # a glob pattern, as a string

    ex1.check(pattern)
    """),
    code("""
    # ex1.hint()
    # ex1.solution()
    """),
    md("""
    ### Exercise 2: catch up after a day off

    The first lines create a consumer group `billing` on `lesson06:ex2`, then 25 events arrive while its consumer is away. Bring the consumer back (any consumer name will do: the group, not the consumer, remembers what it has been given): read everything the group has not seen yet, append each entry's `seq` (as a number) to `seen` in the order you read them, and acknowledge each one.
    """),
    code("""
    r.delete("lesson06:ex2")
    r.xgroup_create("lesson06:ex2", "billing", id="$", mkstream=True)
    for seq in range(1, 26):                      # sent while the billing consumer was away
        r.xadd("lesson06:ex2", {"seq": seq, "amount": 10 * seq})

    seen = ...   # the seq values you processed, in the order you read them
    # your code: XREADGROUP as group "billing", XACK what you processed

    ex2.check(seen)
    """),
    code("""
    # ex2.hint()
    # ex2.solution()
    """),
    md("""
    ### Exercise 3: Pub/Sub or Streams?

    For each job, write `"pubsub"` or `"streams"`.
    """),
    code("""
    choices = {
        "typing indicator in a chat": ...,
        "orders that must each be charged exactly once": ...,
        "tell every open dashboard to refresh now (one that misses it refreshes by itself within a minute)": ...,
        "a new service that must replay last week's events": ...,
        "sensor readings processed by a pool of workers": ...,
    }

    ex3.check(choices)
    """),
    code("""
    # ex3.hint()
    # ex3.solution()
    """),

    md("""
    ## Recap

    - `PUBLISH` delivers to whoever is subscribed at that moment and replies with how many; nothing is stored. `SUBSCRIBE` needs a connection of its own (in Python, a `PubSub` object on its own client, read on a thread); `PSUBSCRIBE` takes glob patterns.
    - A subscriber that is offline, or subscribes late, loses those messages for good: **at most once**. A consumer group remembers its position and keeps unacknowledged entries pending: **at least once**.
    - Fan-out: every subscriber gets every message; with streams every group does, and consumers within a group share the work.
    - A subscriber that cannot keep up fills its output buffer on the server and is disconnected at `client-output-buffer-limit pubsub`; a slow stream consumer only lags.
    - Pick Pub/Sub for fire-and-forget notifications, Streams for anything that must not be lost.

    ## Next

    Lesson 07 puts everything together: the article's sensor pipeline, with several producer and consumer processes, failure handling, alerts and a live dashboard.
    """),
]


if __name__ == "__main__":
    print(write("notebooks/06-pubsub-vs-streams.ipynb", CELLS))
