"""Solutions to lesson 06, Pub/Sub vs Streams (notebooks/06-pubsub-vs-streams.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section is the whole exercise cell (its setup lines
included) and expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: One pattern for every temperature channel
pattern = "lesson06:sensor:*:temp"

# %% ex2: Catch up after a day off
r.delete("lesson06:ex2")
r.xgroup_create("lesson06:ex2", "billing", id="$", mkstream=True)
for seq in range(1, 26):                      # sent while the billing consumer was away
    r.xadd("lesson06:ex2", {"seq": seq, "amount": 10 * seq})

seen = []
while True:
    reply = r.xreadgroup("billing", "back-again", {"lesson06:ex2": ">"}, count=10)
    if not reply:
        break
    for _stream, entries in reply:
        for entry_id, fields in entries:
            seen.append(int(fields["seq"]))
            r.xack("lesson06:ex2", "billing", entry_id)

# %% ex3: Pub/Sub or Streams?
choices = {
    "typing indicator in a chat": "pubsub",
    "orders that must each be charged exactly once": "streams",
    "tell every open dashboard to refresh now (one that misses it refreshes by itself within a minute)": "pubsub",
    "a new service that must replay last week's events": "streams",
    "sensor readings processed by a pool of workers": "streams",
}
