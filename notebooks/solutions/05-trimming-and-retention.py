"""Solutions to lesson 05, trimming and retention (notebooks/05-trimming-and-retention.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section is the whole exercise cell (its setup lines
included) and expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: Keep exactly the newest 500
r.delete("lesson05:ex1")
pipe = r.pipeline(transaction=False)
for n in range(1234):
    pipe.xadd("lesson05:ex1", {"n": n})
pipe.execute()

removed = r.xtrim("lesson05:ex1", maxlen=500, approximate=False)

# %% ex2: Keep the last 45 minutes
from datetime import datetime, timedelta, timezone

from streamlab import retention

now = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
r.delete("lesson05:ex2")
retention.fill_history(r, "lesson05:ex2", datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc),
                       timedelta(minutes=1), 180)
cutoff = now - timedelta(minutes=45)
minid = f"{int(cutoff.timestamp() * 1000)}-0"
r.xtrim("lesson05:ex2", minid=minid, approximate=False)

# %% ex3: Size a stream before you build it
rate = 200 / 5                        # entries per second, all sensors together
maxlen = int(rate * 7 * 24 * 3600)    # seconds in 7 days
mib = maxlen * 45.5 / (1024 * 1024)

# %% ex4: Clear pending entries that were trimmed away
r.delete("lesson05:ex4")
for n in range(8):
    r.xadd("lesson05:ex4", {"job": n})
r.xgroup_create("lesson05:ex4", "workers", id="0")
r.xreadgroup("workers", "crashed", {"lesson05:ex4": ">"}, count=5)  # 5 pending
r.xtrim("lesson05:ex4", maxlen=5, approximate=False)               # the first 3 are gone

cursor, claimed, deleted = r.xautoclaim("lesson05:ex4", "workers", "cleaner", 0)
