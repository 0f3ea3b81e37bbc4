"""Solutions to lesson 07, the capstone (notebooks/07-capstone.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: How many alerts for this threshold?
def count_hot(r, stream, threshold):
    # Stream values are strings: compare numbers, and "above" is strictly above.
    return sum(float(fields["temp"]) > threshold for _, fields in r.xrange(stream))

# %% ex2: Who holds the most pending work?
def most_pending(r, stream, group):
    rows = r.xpending(stream, group)["consumers"]  # one {'name', 'pending'} per consumer
    top = max(rows, key=lambda c: c["pending"])
    return top["name"], top["pending"]

# %% ex3: What is still unfinished?
def unfinished(r, stream, group):
    delivered_not_acked = [p["message_id"] for p in r.xpending_range(stream, group, "-", "+", 10000)]
    last = next(g["last-delivered-id"] for g in r.xinfo_groups(stream) if g["name"] == group)
    never_delivered = [entry_id for entry_id, _ in r.xrange(stream, "(" + last, "+")]
    return delivered_not_acked + never_delivered
