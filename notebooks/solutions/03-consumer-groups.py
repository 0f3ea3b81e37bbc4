"""Solutions to lesson 03, consumer groups (notebooks/03-consumer-groups.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: Take a share of the work
def read_and_ack(r, stream, group, consumer, count):
    done = []
    for _, entries in r.xreadgroup(group, consumer, {stream: ">"}, count=count):
        for entry_id, fields in entries:
            # ... the real work on `fields` would happen here ...
            r.xack(stream, group, entry_id)
            done.append(entry_id)
    return done

# %% ex2: Who is holding what?
def pending_by_consumer(r, stream, group):
    summary = r.xpending(stream, group)
    return {c["name"]: c["pending"] for c in summary["consumers"]}

# %% ex3: Start without rewinding
import redis

def start_group(r, stream, group):
    try:
        r.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if not str(exc).startswith("BUSYGROUP"):
            raise
        # The group exists already: keep its position and its pending entries.
