"""Build notebooks/05-trimming-and-retention.ipynb (this script is the lesson's maintained source).

    .venv/bin/python tools/build_lesson05.py

Exercise checkers: streamlab/exercises/lesson05.py; solutions:
notebooks/solutions/05-trimming-and-retention.py.
"""

from notebook_builder import code, md, redis, write

CELLS = [
    md("""
    # 05 · Trimming and retention

    A stream keeps every entry until something removes it. This lesson is about deciding what to keep, by count or by age, and what that costs.

    **Learning goals**

    - cap a stream by length (`MAXLEN`) or by age (`MINID`), in `XTRIM` or inline in `XADD`;
    - explain why `~` (approximate) trimming removes whole nodes, and what `LIMIT` does;
    - predict what trimming does to a consumer group's pending entries and lag;
    - estimate a stream's memory from its rate and retention, and choose between capping in every `XADD` and a scheduled trim job.

    **Prerequisites**: lessons 01 (IDs), 02 (reading) and 03 (consumer groups). Lesson 04's `XAUTOCLAIM` helps.

    **Time**: about 30 minutes.
    """),
    md("""
    ## Setup
    """),
    code("""
    from datetime import datetime, timedelta, timezone

    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    import streamlab as sl
    from streamlab import retention, widgets
    from streamlab.observe import group_info

    r = sl.connect()
    cleared = sl.reset(r, lesson=5, quiet=True)  # start clean: stops workers, deletes only lesson05:* keys
    """),

    md("""
    ## The article's two commands

    The article caps its stream in two ways: a separate `XTRIM` (which it suggests running as a scheduled job), and `MAXLEN` inside `XADD` itself. Here are both, exactly as the article wrote them except for the key, which is `lesson05:app:events` instead of `app:events` so that it stays inside this lesson:
    """),
    redis("""
    XADD lesson05:app:events MAXLEN 10000 * user_id 1001 action login
    XTRIM lesson05:app:events MAXLEN 10000
    XLEN lesson05:app:events
    """),
    md("""
    `XADD` returned the new ID as usual; `MAXLEN 10000` only matters once the stream is longer than 10,000 entries. `XTRIM` replied with **how many entries it removed**: none, since one entry is well under the cap. Nothing else about the stream changes: trimming always removes from the old end (the smallest IDs), so the newest entries stay.

    Before copying `MAXLEN 10000` into your code, it is worth knowing what "about 10,000" and "exactly 10,000" mean to Redis.
    """),

    md("""
    ## Exact and approximate trimming: nodes

    Inside Redis a stream is a radix tree whose leaves are **nodes**, each a compact block (a listpack) of up to `stream-node-max-entries` entries: 100 unless someone configured otherwise. `XINFO STREAM` counts the nodes as `radix-tree-keys`.

    Let us make a stream of 1,050 entries: that is 10 full nodes and one with 50.
    """),
    code("""
    nodes_key = "lesson05:nodes"
    r.delete(nodes_key)
    retention.fill(r, nodes_key, 1050)   # pipelined XADDs of sensor readings
    info = r.xinfo_stream(nodes_key)
    print("XLEN:", r.xlen(nodes_key), " nodes (radix-tree-keys):", info["radix-tree-keys"])
    print("entries per node on this server:", retention.node_max_entries(r))
    if r.backend.is_fake:
        print("(fakeredis has no CONFIG GET; it copies Redis's default of 100 entries per node)")
    """),
    md("""
    `~` means "about": Redis may keep a few more entries than asked, and in return it only ever drops **whole nodes**, which is cheap (free one block) instead of editing a node entry by entry. Watch what `MAXLEN ~ 1000` does to 1,050 entries:
    """),
    redis("""
    XTRIM lesson05:nodes MAXLEN ~ 1000
    XTRIM lesson05:nodes MAXLEN ~ 950
    XLEN lesson05:nodes
    """),
    md("""
    - `MAXLEN ~ 1000` removed **0**: the oldest node holds 100 entries, and dropping it would leave 950, fewer than asked. So Redis keeps all 1,050 for now.
    - `MAXLEN ~ 950` removed **100**: exactly one node.

    Without `~` (or with `=`, the same thing) Redis removes exactly what it takes:
    """),
    redis("""
    XTRIM lesson05:nodes MAXLEN = 900
    XLEN lesson05:nodes
    """),
    md("""
    `retention.trim()` does the same `XTRIM` and reports the stream's length and node count before and after, so the difference is visible side by side:
    """),
    code("""
    r.delete(nodes_key)
    retention.fill(r, nodes_key, 1050)
    reports = [
        retention.trim(r, nodes_key, maxlen=1000, approximate=True),
        retention.trim(r, nodes_key, maxlen=950, approximate=True),
        retention.trim(r, nodes_key, maxlen=925, approximate=False),
    ]
    pd.DataFrame([vars(rep) for rep in reports]).drop(columns="seconds").set_index("command")
    """),
    md("""
    The exact trim to 925 removed 25 entries but left 10 nodes: the oldest node now holds 75 live entries and 25 that are only *marked* deleted. Memory comes back when a whole node goes.

    > **redis-py's default is `~`.** `r.xtrim(key, maxlen=1000)` sends `MAXLEN ~ 1000`, and so does `r.xadd(key, fields, maxlen=1000)`. Pass `approximate=False` when you mean exactly. (`retention.trim()` is exact unless you ask.)
    """),
    md("""
    ### `LIMIT`: how much one call may remove

    An approximate trim also stops after removing a bounded number of entries, so one command never blocks the server for long: by default 100 × `stream-node-max-entries`, which is 10,000. `LIMIT n` sets another bound (it needs `~`); `LIMIT 0` means no bound.
    """),
    code("""
    r.delete(nodes_key)
    retention.fill(r, nodes_key, 12_000)
    for limit in (None, 500, 0):
        print(retention.trim(r, nodes_key, maxlen=1000, approximate=True, limit=limit))
    """),
    md("""
    The first call removed 10,000 (the default bound) although 11,000 were over the cap; the next removed 500; `LIMIT 0` finished the job. A stream capped in every `XADD` never builds up a backlog like this, but a trim job that runs once an hour may.
    """),

    md("""
    ## How long does trimming take?

    Two timings on the same server: one big `XTRIM` of a large stream down to 1,000 entries, and many `XADD`s that each trim (`MAXLEN` in every write, the stream already full). On a real server the `XADD`s run in a loop inside Redis (one `EVAL` of a small Lua script), so the clock measures Redis's own work and not the network; the loop holds the server for well under a second.
    """),
    code("""
    # fakeredis is much slower at filling a stream, so it gets smaller numbers
    big = 100_000 if not r.backend.is_fake else 5_000
    adds = 20_000 if not r.backend.is_fake else 1_000
    rows = []
    for approximate in (False, True):
        report = retention.time_xtrim(r, "lesson05:timing", entries=big, keep=1000, approximate=approximate)
        capped = retention.time_capped_adds(r, "lesson05:timing", adds=adds, maxlen=1000,
                                            approximate=approximate)
        rows.append({"trim": "~" if approximate else "exact",
                     f"one XTRIM of {big:,} entries (ms)": round(report.seconds * 1000, 2),
                     "entries removed": report.removed,
                     f"{adds:,} capped XADDs (s)": round(capped, 3)})
    timing = pd.DataFrame(rows).set_index("trim")
    timing
    """),
    code("""
    fig, ax = plt.subplots(figsize=(6, 2.8))
    timing[f"{adds:,} capped XADDs (s)"].plot.barh(ax=ax, color=["#cf222e", "#2da44e"])
    ax.set_xlabel("seconds (lower is faster)")
    ax.set_title(f"{adds:,} XADDs with MAXLEN 1000, stream full ({r.backend.server_name})")
    plt.tight_layout()
    plt.show()
    if r.backend.is_fake:
        print("These timings come from fakeredis, a Python imitation of Redis: they measure Python,")
        print("not Redis, and say nothing about a real server. Run the lesson on a real server to compare.")
    """),
    md("""
    What to read from it (on a real server):

    - **One big `XTRIM` is fast either way.** Most of the removed entries sit in whole nodes, and freeing a node costs the same whether it held 1 entry or 100.
    - **Capping in every `XADD` is where `~` pays.** With an exact cap, each new entry makes Redis delete one old entry inside the oldest node (and rewrite the node's header); with `~` it does nothing until a whole node can go, then frees it in one step. On Redis 7.0 the `~` loop was several times faster when this lesson was written; your numbers depend on your server and machine.
    """),

    md("""
    ## Capping inside `XADD`: `MAXLEN` and `MINID`

    `XADD` takes the same trimming options as `XTRIM`, between the key and the ID. Twenty additions to a stream capped at exactly 5:
    """),
    code("""
    capped = "lesson05:capped"
    r.delete(capped)
    for n in range(20):
        r.xadd(capped, {"n": n}, maxlen=5, approximate=False)   # XADD capped MAXLEN = 5 * n <n>
    print("XLEN:", r.xlen(capped))
    print("kept n =", [fields["n"] for _, fields in r.xrange(capped)])
    """),
    md("""
    `MINID` does the same by age: every entry with an ID smaller than the one given is removed as this entry is added. Since an ID starts with a millisecond time, "smaller than *this* ID" means "older than *this* moment":
    """),
    code("""
    one_minute_ago = retention.minid_for_age(timedelta(minutes=1))
    print("MINID for one minute ago:", one_minute_ago)
    r.xadd(capped, {"n": 20}, minid=one_minute_ago, approximate=False)  # XADD capped MINID = <id> * n 20
    print("XLEN:", r.xlen(capped), "(every entry is younger than a minute, so none went)")
    """),

    md("""
    ## Retention by age, from a datetime

    Most retention rules are about time ("keep a day of readings"), and `MINID` expresses them directly. To try it without waiting for hours, `retention.fill_history()` adds readings with explicit IDs, one a minute for the last three hours:
    """),
    code("""
    history = "lesson05:history"
    r.delete(history)
    now = datetime.now(timezone.utc)
    retention.fill_history(r, history, start=now - timedelta(hours=3), every=timedelta(minutes=1), count=180)
    first_id = r.xrange(history, count=1)[0][0]
    print("entries:", r.xlen(history), " oldest:", retention.datetime_from_id(first_id).strftime("%H:%M:%S UTC"))
    """),
    md("""
    Keep only the last hour. The cutoff is a datetime; its ID is its Unix time in **milliseconds**, with sequence `0` (the smallest ID in that millisecond):
    """),
    code("""
    cutoff = datetime.now(timezone.utc) - timedelta(hours=1)
    minid = f"{int(cutoff.timestamp() * 1000)}-0"
    removed = r.xtrim(history, minid=minid, approximate=False)
    first_id = r.xrange(history, count=1)[0][0]
    print(f"XTRIM {history} MINID {minid} -> removed {removed}")
    print("entries left:", r.xlen(history), " oldest now:",
          retention.datetime_from_id(first_id).strftime("%H:%M:%S UTC"), " cutoff:", cutoff.strftime("%H:%M:%S UTC"))
    """),
    md("""
    Two slips to avoid: `timestamp()` is in **seconds** (multiply by 1000), and a **naive** datetime (`datetime.now()` without a time zone) is read as local time, which is fine for `timestamp()` but easy to mix up with UTC elsewhere. `retention.minid_for_age(timedelta(hours=1))` and `retention.trim_by_age(r, key, timedelta(hours=1))` do the arithmetic for you.

    Like `MAXLEN`, `MINID` takes `~` (drop only whole nodes whose entries are all older than the cutoff) and `LIMIT`.
    """),

    md("""
    ## `XDEL` is not trimming

    `XDEL key id ...` deletes chosen entries, anywhere in the stream. Use it to remove a specific entry (a mistake, personal data); not to save space:

    - a deleted entry only gets a "deleted" flag inside its node; the node's memory is released when **all** its entries are gone;
    - the stream remembers the largest deleted ID (`max-deleted-entry-id`), and consumer groups that have not read past it can no longer tell their lag (below).

    Delete every other entry of the oldest 500 of a 1,000-entry stream, then trim the same number of entries instead:
    """),
    code("""
    def snapshot(key, what):
        info = r.xinfo_stream(key)
        return {"after": what, "XLEN": r.xlen(key), "nodes": info["radix-tree-keys"],
                "MEMORY USAGE": retention.human_bytes(retention.memory_usage(r, key)),
                "max-deleted-entry-id": info.get("max-deleted-entry-id")}

    xdel_key = "lesson05:xdel"
    r.delete(xdel_key)
    retention.fill(r, xdel_key, 1000)
    rows = [snapshot(xdel_key, "1000 XADDs")]
    old_ids = [entry_id for entry_id, _ in r.xrange(xdel_key, count=500)]
    r.xdel(xdel_key, *old_ids[::2])
    rows.append(snapshot(xdel_key, "XDEL of 250 entries"))
    r.xtrim(xdel_key, maxlen=500, approximate=False)
    rows.append(snapshot(xdel_key, "XTRIM MAXLEN = 500"))
    pd.DataFrame(rows).set_index("after")
    """),
    code("""
    if r.supports("memory-usage"):
        print("XDEL took 250 entries away but freed no node, so the memory hardly moved; trimming freed 5 nodes.")
    else:
        print("MEMORY USAGE does not exist on fakeredis (n/a above): the node counts tell the same story.")
        print("XDEL took 250 entries away but freed no node; trimming freed 5 whole nodes.")
    """),

    md("""
    ## What trimming does to a consumer group

    Trimming does not look at consumer groups. It removes entries whether or not a group has read them, and whether or not they are still **pending** (delivered, not yet acknowledged). Set up a group that has read three entries and not acknowledged them:
    """),
    code("""
    jobs = "lesson05:jobs"
    r.delete(jobs)
    ids = [r.xadd(jobs, {"job": n}) for n in range(10)]
    r.xgroup_create(jobs, "workers", id="0")
    r.xreadgroup("workers", "alice", {jobs: ">"}, count=3)   # 3 delivered, none acknowledged

    def group_state(note):
        g = group_info(r, jobs, "workers")  # this group's row of XINFO GROUPS
        return {"after": note, "XLEN": r.xlen(jobs), "pending": g["pending"],
                "entries-read": g.get("entries-read"),
                "lag": "None (unknown)" if g.get("lag") is None else g["lag"]}

    states = [group_state("alice read 3")]
    r.xtrim(jobs, maxlen=5, approximate=False)               # the oldest 5 go, alice's 3 among them
    states.append(group_state("XTRIM MAXLEN = 5"))
    pd.DataFrame(states).set_index("after")
    """),
    md("""
    The group still has 3 pending entries, but the entries are gone. `XPENDING` lists IDs that `XRANGE` cannot find:
    """),
    code("""
    pending_ids = [p["message_id"] for p in r.xpending_range(jobs, "workers", "-", "+", 10)]
    print("XPENDING lists:", pending_ids)
    print("XRANGE finds:  ", [entry_id for entry_id, _ in r.xrange(jobs, ids[0], ids[2])])
    """),
    md("""
    A recovery job (lesson 04) that runs `XAUTOCLAIM` now gets those IDs in the **third element** of the reply (Redis 7.0+): "these were pending, but the entries no longer exist", and XAUTOCLAIM removes them from the pending list at the same time.
    """),
    code("""
    cursor, claimed, deleted = r.xautoclaim(jobs, "workers", "recovery", min_idle_time=0)
    print("claimed:", claimed)
    print("deleted:", deleted)
    print("pending now:", r.xpending(jobs, "workers")["pending"])
    """),
    md("""
    Nothing to process, and nothing lost silently: log the deleted IDs (they are work that was never finished) and carry on.

    **Lag after trimming.** Look at the table above again: after the trim, lag said **7**. Five entries are left, none read yet; the other 2 were trimmed before anyone read them. Lag is computed from counters (entries added minus entries read), so entries trimmed unread still count. Read two more and compare the servers:
    """),
    code("""
    r.xreadgroup("workers", "alice", {jobs: ">"}, count=2)
    states.append(group_state("alice read 2 more"))
    pd.DataFrame(states).set_index("after")
    """),
    code("""
    now = states[-1]
    print(f"{r.backend.server_name} {r.backend.version_text}: entries-read {now['entries-read']}, lag {now['lag']}.")
    if r.backend.is_fake:
        print("Redis 7.0.15 says entries-read 5 and lag 5 here (measured): fakeredis counts the trimmed")
        print("entries as read. Treat lag after a trim as an estimate on any backend.")
    else:
        print("fakeredis says entries-read 7 and lag 3 here (measured). Lag after a trim is an estimate:")
        print("trimmed entries that no one read stay in the count.")
    """),
    md("""
    Trim harder: keep only the newest entry, and let alice read it. Now **nothing** is unread, so the true lag is 0. What does this backend say?
    """),
    code("""
    r.xtrim(jobs, maxlen=1, approximate=False)
    states.append(group_state("XTRIM MAXLEN = 1"))
    r.xreadgroup("workers", "alice", {jobs: ">"})
    states.append(group_state("alice read the rest"))
    pd.DataFrame(states).set_index("after")
    """),
    code("""
    lag = states[-1]["lag"]
    print(f"Nothing is unread, and {r.backend.server_name} {r.backend.version_text} says lag {lag}.")
    if r.backend.is_fake:
        print("Redis 7.0.15 says lag 4 here (measured): it still counts the 4 entries trimmed before")
        print("anyone read them as unread. fakeredis counts them as read, so it says 0.")
    else:
        print("The 4 entries trimmed before anyone read them still count as unread. fakeredis says 0")
        print("here (measured): it counts them as read. The two backends disagree on the same history.")
    """),
    md("""
    And when an **unread** entry is removed with `XDEL`, Redis stops guessing: lag becomes `None` (nil), "unknown", until the group reads past the deleted ID. Tools that plot lag must cope with that (the course's sampler falls back to counting with `XRANGE`). Two new entries arrive, and the newest is deleted before anyone reads it:
    """),
    code("""
    r.xadd(jobs, {"job": 10})
    last_id = r.xadd(jobs, {"job": 11})
    r.xdel(jobs, last_id)
    states.append(group_state("2 XADDs, XDEL of the unread newest"))
    pd.DataFrame(states).set_index("after")
    """),
    md("""
    Where fakeredis and Redis 7.0.15 differ on this (measured, from the course's FIDELITY notes: 10 entries, 3 read; the tables above are this backend's own answers):

    | step | Redis 7.0.15 | fakeredis 2.41 |
    |---|---|---|
    | `XTRIM MAXLEN 5` | lag 7 | lag 7 |
    | read 2 more | entries-read 5, lag 5 | entries-read 7, lag 3 |
    | `XTRIM MAXLEN 1`, read the rest | lag 4 (nothing is unread) | lag 0 |
    | `XDEL` of an unread entry | lag nil | lag nil |

    The lesson: after trimming, **pending** is exact, **lag** is an estimate, and `None` means "unknown", not zero.
    """),

    md("""
    ## Memory

    How much memory does a stream take per entry? `MEMORY USAGE key SAMPLES 0` asks the server for a key's size, counting every node (the default samples only a few).
    """),
    code("""
    lengths = [10, 100, 1_000, 5_000, 10_000, 20_000, 50_000]
    if r.backend.is_fake:
        lengths = lengths[:5]   # it can only count nodes here, and filling is slow
    memory = retention.sample_memory(r, "lesson05:memory", lengths)
    memory
    """),
    code("""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    if memory["bytes"].notna().any():
        left.plot(memory["length"], memory["bytes"] / 1024, "o-")
        left.set_ylabel("MEMORY USAGE (KiB)")
        left.set_title(f"memory vs length ({r.backend.server_name} {r.backend.version_text})")
        per = memory["bytes_per_entry"]
        right.loglog(memory["length"], per, "o-", color="#9a6700")
        for x, y in zip(memory["length"], per):   # each point's value, so the log axis needs no guessing
            right.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        right.set_yticks([t for t in (20, 50, 100, 200, 500, 1000, 2000) if per.min() / 2 <= t <= per.max() * 2])
        right.set_ylim(per.min() / 1.5, per.max() * 2)
        right.set_ylabel("bytes per entry (log)")
        right.set_xlabel("entries (log)")
        right.set_title("per entry: high for tiny streams, then flat")
        right.yaxis.set_major_formatter(ScalarFormatter())
        right.yaxis.set_minor_formatter(NullFormatter())
    else:
        left.plot(memory["length"], memory["nodes"], "o-")
        left.set_ylabel("nodes (radix-tree-keys)")
        left.set_title("fakeredis: nodes vs length (no MEMORY USAGE)")
        shapes = list(retention.MEASURED_BYTES_PER_ENTRY.items())
        right.barh([name.split(" {")[0] for name, _ in shapes], [value for _, value in shapes], color="#9a6700")
        right.set_xlabel("bytes per entry")
        right.set_title("measured earlier on Redis 7.0.15 (reference)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.set_xlabel("entries")
    plt.tight_layout()
    plt.show()
    """),
    code("""
    if r.supports("memory-usage"):
        per_entry = memory["bytes_per_entry"].iloc[-1]
        print(f"About {per_entry:.1f} bytes per sensor reading in a long stream.")
        print(f"A 10-entry stream already takes {memory['bytes'].iloc[0]:,} bytes: its node is allocated")
        print("at about 4 KiB (stream-node-max-bytes) however few entries it holds.")
    else:
        print("fakeredis has no MEMORY command, so a stream's size cannot be measured here: it stores")
        print("entries as Python objects, nothing like Redis's listpacks. The left plot shows what can be")
        print("seen (one node per 100 entries); the right one shows sizes measured on a real Redis 7.0.15.")
    """),
    md("""
    Why so small? Inside a node, an entry whose field names match the node's first entry stores only its values, and its ID as a small difference from the node's first ID. Same-shaped entries are cheap; entries whose fields vary, or long values, cost more. Measure your own entries rather than trusting a rule of thumb.
    """),

    md("""
    ## A retention calculator

    At steady state a stream holds **rate × retention** entries; memory is that times the bytes per entry. `retention.plan_retention()` does the sum and measures bytes per entry live on entries shaped like yours when the server has `MEMORY USAGE` (5,000 scratch entries, deleted afterwards); on fakeredis it uses a documented estimate instead.
    """),
    code("""
    plan = retention.plan_retention(rate=50, retention=timedelta(days=1), r=r,
                                    key="lesson05:calculator")
    plan.as_table()
    """),
    code("""
    rates = [10, 100, 1_000]
    keeps = {"1 hour": timedelta(hours=1), "1 day": timedelta(days=1), "7 days": timedelta(days=7)}
    per_entry = plan.bytes_per_entry
    pd.DataFrame(
        {label: [retention.human_bytes(retention.retention_entries(rate, keep) * per_entry) for rate in rates]
         for label, keep in keeps.items()},
        index=[f"{rate:,}/s" for rate in rates],
    ).rename_axis(f"memory at {per_entry:.0f} B/entry")
    """),
    md("""
    The estimate on fakeredis (`retention.estimate_entry_bytes`) is 16 bytes plus each value's length plus one; on Redis 7.0.15 it was within 10% for the sensor readings and the article's login events. Leave headroom: replicas, fragmentation and a trim job that runs late all add to it.
    """),

    md("""
    ## Cap on every write, or trim on a schedule?

    The article mentions both. To see the difference, write the same entries to two streams for three seconds: one capped in every `XADD ... MAXLEN ~ 1000`, the other uncapped, with a `TrimJob` (a worker running `XTRIM MAXLEN ~ 1000` every second) cleaning up after it.
    """),
    code("""
    compare = retention.compare_inline_and_scheduled(
        r, "lesson05:inline", "lesson05:scheduled", cap=1000, rate=2000, seconds=3, interval=1)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":", label="cap")
    ax.plot(compare["t"], compare["inline"], linewidth=2.5, label="XADD ... MAXLEN ~ 1000 (inline)")
    ax.plot(compare["t"], compare["scheduled"], label="XADD, then XTRIM MAXLEN ~ 1000 every second")
    ax.set_xlabel("seconds")
    ax.set_ylabel("XLEN")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    plt.tight_layout()
    plt.show()
    """),
    md("""
    The inline cap holds the stream within one node of 1,000. The scheduled job lets it grow by a second's worth of entries (about 2,000 here) and cuts it back: a saw-tooth.

    | | inline `XADD ... MAXLEN ~ n` | scheduled `XTRIM` job |
    |---|---|---|
    | stream size | always about `n` | grows between runs: plan memory for the peak |
    | cost per write | a little more (cheap with `~`) | none |
    | who remembers to do it | every producer, in every `XADD` | one job; producers stay simple |
    | retention by age | `MINID` in each `XADD` needs the clock in the producer | natural: `XTRIM MINID <now − age>` |
    | a job that stops | — | the stream grows without bound until someone notices |
    | a burst | trimmed as it arrives | stays until the next run (`LIMIT` may spread it over runs) |

    A common middle way: a generous inline `MAXLEN ~` as a safety net against runaway growth, plus a scheduled `MINID` trim for the real retention rule.
    """),

    md("""
    ## Try it: a producer with a cap

    The producer panel from lesson 01, this time with `maxlen=1000` and `approximate=True`, so every `XADD` carries `MAXLEN ~ 1000`. Press **Start**, raise the rate, and watch `XLEN` stop growing. The cell below the panel runs it for two seconds so that the executed notebook shows numbers too.
    """),
    code("""
    panel = widgets.producer_panel(r, "lesson05:live", rate=2000, maxlen=1000, approximate=True)
    panel
    """),
    code("""
    panel.run_for(2)
    print(f"sent {panel.producer.sent:,} entries; XLEN {r.xlen('lesson05:live'):,} (cap ~1000)")
    """),

    md("""
    ## Exercises

    Load the lesson's exercises once:
    """),
    code("""
    from streamlab import exercises

    ex1, ex2, ex3, ex4 = exercises.load(5, r)
    """),
    md("""
    ### Exercise 1: keep exactly the newest 500

    The first lines fill `lesson05:ex1` with 1,234 entries. Trim it to **exactly** the newest 500 with one `XTRIM`, and keep its reply in `removed`.
    """),
    code("""
    r.delete("lesson05:ex1")
    pipe = r.pipeline(transaction=False)
    for n in range(1234):
        pipe.xadd("lesson05:ex1", {"n": n})
    pipe.execute()

    removed = ...   # your XTRIM here

    ex1.check(removed)
    """),
    code("""
    # ex1.hint()
    # ex1.solution()
    """),
    md("""
    ### Exercise 2: keep the last 45 minutes

    `lesson05:ex2` gets one reading a minute from 09:00 to 11:59 UTC on 1 June 2024. Pretend it is now 12:00 UTC that day (`now` below). Compute the `MINID` that keeps the readings of the last 45 minutes (11:15 on), put it in `minid`, and trim with it.
    """),
    code("""
    now = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
    r.delete("lesson05:ex2")
    retention.fill_history(r, "lesson05:ex2", datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc),
                           timedelta(minutes=1), 180)

    minid = ...     # the ID for 45 minutes before `now`
    # ...and XTRIM lesson05:ex2 with it

    ex2.check(minid)
    """),
    code("""
    # ex2.hint()
    # ex2.solution()
    """),
    md("""
    ### Exercise 3: size a stream before you build it

    200 sensors each send a reading every 5 seconds. You must keep 7 days of readings, and one reading takes about 45.5 bytes. What `MAXLEN` keeps 7 days, and about how many MiB is that?
    """),
    code("""
    maxlen = ...    # entries in 7 days
    mib = ...       # memory in MiB (1 MiB = 1024 * 1024 bytes)

    ex3.check(maxlen, mib)
    """),
    code("""
    # ex3.hint()
    # ex3.solution()
    """),
    md("""
    ### Exercise 4: clear pending entries that were trimmed away

    The setup makes a group `workers` whose consumer `crashed` read 5 entries and never acknowledged them; then a trim removes the oldest 3. Clear the 3 vanished entries out of the pending list (leave the 2 real ones pending) and keep their IDs in `deleted`.
    """),
    code("""
    r.delete("lesson05:ex4")
    for n in range(8):
        r.xadd("lesson05:ex4", {"job": n})
    r.xgroup_create("lesson05:ex4", "workers", id="0")
    r.xreadgroup("workers", "crashed", {"lesson05:ex4": ">"}, count=5)  # 5 pending
    r.xtrim("lesson05:ex4", maxlen=5, approximate=False)               # the first 3 are gone

    deleted = ...   # the IDs of the pending entries that no longer exist

    ex4.check(deleted)
    """),
    code("""
    # ex4.hint()
    # ex4.solution()
    """),

    md("""
    ## Recap

    - `XTRIM key MAXLEN n` / `MINID id` remove the oldest entries; the same options go inside `XADD` to cap as you write. Trimming never touches the newest entries.
    - `~` removes only whole nodes (100 entries by default), so it may keep a few more than asked and costs less; `=` (the default in Redis, **not** in redis-py) removes exactly. `LIMIT` bounds one call's work (default 10,000 with `~`).
    - Retention by age is `MINID` = the cutoff time in milliseconds, `-0`.
    - `XDEL` is for removing particular entries, not for saving space.
    - Trimming ignores consumer groups: pending entries can vanish (`XAUTOCLAIM` reports them in its third element and clears them), and lag afterwards is an estimate; `None` means unknown.
    - Memory is roughly rate × retention × bytes per entry; measure bytes per entry with `MEMORY USAGE` on a real server.

    ## Next

    Lesson 06 puts a stream next to Redis Pub/Sub, the other way Redis moves messages, and shows what each one does with a reader that goes away for a while.
    """),
]


if __name__ == "__main__":
    print(write("notebooks/05-trimming-and-retention.ipynb", CELLS))
