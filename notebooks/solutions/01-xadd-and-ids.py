"""Solutions to lesson 01, XADD and IDs (notebooks/01-xadd-and-ids.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: Three readings, three IDs
r.delete("lesson01:ex1")  # so that running the cell again still leaves three entries
ids = [r.xadd("lesson01:ex1", {"sensor_id": "kitchen", "temp": temp})
       for temp in (20.5, 20.7, 21.0)]

# %% ex2: From an ID to the time it was added
from datetime import datetime, timezone


def id_to_datetime(entry_id):
    milliseconds, _sequence = entry_id.split("-")
    return datetime.fromtimestamp(int(milliseconds) / 1000, tz=timezone.utc)

# %% ex3: The smallest ID XADD accepts next
next_id = "1700000000000-8"

# %% ex4: A nested field, stored as JSON
import json

reading = {"sensor_id": "lab1", "temp": 21.5, "location": {"room": "lab", "floor": 2}}
reading["location"] = json.dumps(reading["location"])
entry_id = r.xadd("lesson01:ex4", reading)
