"""Solutions to lesson 09, Redis Cluster (notebooks/09-redis-cluster.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section is the whole exercise cell and expects the
lesson's setup cell (`from streamlab import cluster`) to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: Keys that travel together
keys = {
    "stream": "lesson09:{orders}:stream",
    "dead": "lesson09:{orders}:dead",
    "total": "lesson09:{orders}:total",
}

# %% ex2: Three partitions, three shards
from streamlab import cluster

ranges = cluster.slot_ranges(3)  # shard 0: 0-5460, shard 1: 5461-10922, shard 2: 10923-16383
keys = [None, None, None]
i = 0
while None in keys:
    key = f"lesson09:ex2:{{t{i}}}"
    slot = cluster.slot_of(key)
    shard = next(n for n, (lo, hi) in enumerate(ranges) if lo <= slot <= hi)
    if keys[shard] is None:
        keys[shard] = key
    i += 1

# %% ex3: A cluster-safe alert and ack
def alerts_for(stream):
    tag = stream[stream.index("{"):stream.index("}") + 1]   # "{p3}"
    return f"lesson09:ex3:alerts:{tag}"
