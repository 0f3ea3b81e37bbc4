"""Solutions to lesson 02, reading and blocking (notebooks/02-reading-and-blocking.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: A time window
def window(r, stream, start, end):
    start_ms = round(start.timestamp() * 1000)
    end_ms = round(end.timestamp() * 1000)
    # As a range end a bare millisecond covers all of it, so stop one millisecond before `end`.
    return r.xrange(stream, min=start_ms, max=end_ms - 1)

# %% ex2: Page through a stream
def read_in_pages(r, stream, page_size):
    entries = []
    start = "-"
    while True:
        page = r.xrange(stream, min=start, max="+", count=page_size)
        entries.extend(page)
        if len(page) < page_size:
            return entries
        start = "(" + page[-1][0]  # exclusive: the next page begins after this entry

# %% ex3: Several streams, one XREAD
def read_new(r, positions):
    new_positions = dict(positions)
    entries = []
    for stream, stream_entries in r.xread(positions):
        entries.extend(stream_entries)
        new_positions[stream] = stream_entries[-1][0]
    return entries, new_positions

# %% ex4: Wait for the next entry
def wait_for_next(r, stream, timeout_ms):
    reply = r.xread({stream: "$"}, block=timeout_ms, count=1)
    if not reply:
        return None
    return reply[0][1][0]
