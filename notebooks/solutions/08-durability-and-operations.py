"""Solutions to lesson 08, durability and operations (notebooks/08-durability-and-operations.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section is the whole exercise cell (its setup lines
included) and expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: Read the ledger
r.delete("lesson08:ex1")
acked = [r.xadd("lesson08:ex1", {"n": n}) for n in range(20)]
r.xdel("lesson08:ex1", *acked[12:])   # what a restart from the snapshot would leave

present = {entry_id for entry_id, _ in r.xrange("lesson08:ex1")}
lost = [entry_id for entry_id in acked if entry_id not in present]

# %% ex2: Choose the persistence
choice = {
    "cache": "none",            # refills itself: nothing worth an fsync or a fork
    "payments": "aof-always",   # fsync before the reply: survives a power cut
    "clicks": "aof-everysec",   # at most about a second lost, at full speed
}

# %% ex3: Apply the rule of thumb
actions = {
    "X": "fix acking",                  # pending and its age climb, lag stays 0
    "Y": "retire the dead consumer",    # c4 inactive as long as the oldest pending entry
    "Z": "add consumers",               # lag climbs, everyone active, pending small
}

# %% ex4: Retire a dead consumer
r.delete("lesson08:ex4")
for n in range(10):
    r.xadd("lesson08:ex4", {"order": n})
r.xgroup_create("lesson08:ex4", "workers", id="0")
r.xreadgroup("workers", "worker-old", {"lesson08:ex4": ">"}, count=4)
r.xgroup_createconsumer("lesson08:ex4", "workers", "worker-new")

pending = r.xpending_range("lesson08:ex4", "workers", "-", "+", 100, consumername="worker-old")
ids = [p["message_id"] for p in pending]
r.xclaim("lesson08:ex4", "workers", "worker-new", 0, ids, justid=True)   # claim first
r.xgroup_delconsumer("lesson08:ex4", "workers", "worker-old")             # then retire
