"""Solutions to lesson 04, failure and recovery (notebooks/04-failure-and-recovery.ipynb).

One section per exercise, each starting with a `# %% exN` line. In the
lesson, `ex1.solution()` shows a section and the `%load -r` line that pastes
it into a cell. Each section expects `r = sl.connect()` to have run.
The tests run every section and check it with its checker.
"""

# %% ex1: Find the stuck work
def stuck_ids(r, stream, group, min_idle_ms):
    rows = r.xpending_range(stream, group, min="-", max="+", count=1000, idle=min_idle_ms)
    return [p["message_id"] for p in rows]

# %% ex2: Rescue everything with XAUTOCLAIM
def rescue_all(r, stream, group, consumer, min_idle_ms):
    claimed, cursor = [], "0-0"
    while True:
        reply = r.xautoclaim(stream, group, consumer, min_idle_ms, start_id=cursor)
        cursor, entries = reply[0], reply[1]
        claimed += [entry_id for entry_id, _ in entries]
        if cursor == "0-0":  # the whole PEL has been scanned
            return claimed

# %% ex3: Send poison to the dead-letter stream
# Still pending? Then copy, and XACK last: a copy that fails stops the script with the
# entry still pending (a script is not rolled back), so nothing is lost.
DEAD_LETTER = r.register_script("""
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return false end
local copy = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return copy
""")

def dead_letter_poison(r, stream, group, dead_stream, max_deliveries):
    moved = []
    for p in r.xpending_range(stream, group, min="-", max="+", count=1000):
        entry_id, n = p["message_id"], p["times_delivered"]
        if n <= max_deliveries:
            continue
        found = r.xrange(stream, entry_id, entry_id)
        fields = {**(found[0][1] if found else {}), "original_id": entry_id, "deliveries": n}
        flat = [x for pair in fields.items() for x in pair]
        if DEAD_LETTER(keys=[stream, dead_stream], args=[group, entry_id, *flat], client=r):
            moved.append(entry_id)
    return moved

# %% ex4: Apply each order once
# The mark has no expiry: nothing bounds how late a redelivery can come (section 6).
# With a TTL, keep it longer than a maximum age past which entries are dead-lettered.
APPLY_ONCE = r.register_script("""
if redis.call('SET', KEYS[1], 1, 'NX') then
  redis.call('INCRBY', KEYS[2], ARGV[1])
  return 1
end
return 0
""")

def apply_once(r, prefix, entry_id, amount):
    marker, total = prefix + "processed:" + entry_id, prefix + "total"
    return APPLY_ONCE(keys=[marker, total], args=[amount], client=r) == 1
