"""Checkers for lesson 04, failure and recovery (notebooks/04-failure-and-recovery.ipynb).

Solutions: notebooks/solutions/04-failure-and-recovery.py. Every exercise asks
for a function; the checker builds its own scene under ``lesson04:exN`` (a
crashed consumer, entries delivered many times, ...) and runs the function on it.
"""

from __future__ import annotations

import copy

import redis

from .. import ids as stream_ids
from ..explain import one_line
from . import CodeRaised, ExerciseSet, Wrong

exercises = ExerciseSet(lesson=4, solutions="04-failure-and-recovery.py")

GROUP = "workers"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ids(value, call: str) -> list[str]:
    """The learner's answer as a list of ID strings (IDs, (id, fields) pairs, or XPENDING dicts)."""
    if isinstance(value, (str, bytes, int)) or not hasattr(value, "__iter__"):
        raise Wrong(f"{call} returned {value!r:.80}; return a list of entry IDs.")
    out = []
    for item in value:
        if isinstance(item, dict) and "message_id" in item:
            item = item["message_id"]
        elif isinstance(item, (tuple, list)) and item:
            item = item[0]
        out.append(_text(item))
    return out


def _scene(r, stream: str, n: int) -> list[str]:
    """A fresh stream of ``n`` orders and the group ``workers`` reading it from the start."""
    r.delete(stream, stream + ":dead")
    ids = [r.xadd(stream, {"order": i, "amount": i % 9 + 1}) for i in range(n)]
    r.xgroup_create(stream, GROUP, id="0")
    return ids


def _read(r, stream: str, consumer: str, count: int) -> list[str]:
    reply = r.xreadgroup(GROUP, consumer, {stream: ">"}, count=count)
    return [i for i, _ in reply[0][1]] if reply else []


# Exercises 1 and 2 ask for the entries idle for at least MIN_IDLE_MS. 'crashed''s entries are
# made idle for ten minutes outright (XCLAIM ... IDLE ms JUSTID: same owner, same delivery
# count), not by waiting: after a wait of a fraction of a second, a busy machine (a full
# Binder) could take long enough to reach the learner's answer that the entries 'busy' has
# just received looked idle too, and a right answer was called wrong.
MIN_IDLE_MS = 60_000
CRASHED_IDLE_MS = 600_000


def _crashed(r, stream: str, count: int) -> list[str]:
    """``count`` entries read by 'crashed', which stopped ten minutes ago and never acked them."""
    ids = _read(r, stream, "crashed", count)
    r.xclaim(stream, GROUP, "crashed", 0, ids, idle=CRASHED_IDLE_MS, justid=True)
    return ids


# --- exercise 1 -----------------------------------------------------------------------

@exercises.add(1, "Find the stuck work", hints=[
    "`XPENDING stream group IDLE ms - + count` lists only entries idle for at least `ms` "
    "milliseconds; redis-py: `r.xpending_range(stream, group, min='-', max='+', count=1000, idle=ms)`.",
    "Each row is a dict; the ID is under `'message_id'`. Return `[p['message_id'] for p in rows]`.",
])
def ex1(ex, stuck_ids):
    """A function returning the IDs pending for at least ``min_idle_ms``, whoever holds them."""
    r, stream = ex.r, ex.key("ex1")
    ids = _scene(r, stream, 8)
    crashed = _crashed(r, stream, 3)
    busy = _read(r, stream, "busy", 3)
    r.xack(stream, GROUP, busy[0])
    call = f"`stuck_ids(r, '{stream}', '{GROUP}', {MIN_IDLE_MS})`"
    got = _ids(ex.call(stuck_ids, r, stream, GROUP, MIN_IDLE_MS), call)
    if sorted(got) == sorted(crashed):
        if got != sorted(got, key=stream_ids.parse):
            raise Wrong(f"{call} found the right entries but not in ID order; XPENDING lists them in order.")
        return ("The three entries 'crashed' has held for ten minutes are stuck; the two "
                "'busy' holds were delivered just now, so they are not (yet).")
    if sorted(got) == sorted(crashed + busy[1:]):
        raise Wrong(f"{call} returned every pending entry, including the two 'busy' received "
                    f"a moment ago. Only entries idle for at least {MIN_IDLE_MS} ms are stuck: use IDLE.")
    if sorted(got) == sorted(ids[6:]):
        raise Wrong(f"{call} returned the entries nobody has read yet; stuck entries are "
                    "the ones delivered and never acked (XPENDING).")
    raise Wrong(f"{call} returned {got}, but the entries idle for {MIN_IDLE_MS} ms or more are {crashed}.")


# --- exercise 2 -----------------------------------------------------------------------

@exercises.add(2, "Rescue everything with XAUTOCLAIM", hints=[
    "`r.xautoclaim(stream, group, consumer, min_idle_ms, start_id=cursor)` returns "
    "`[next_cursor, claimed_entries, deleted_ids]`. One call claims at most `COUNT` entries "
    "(`count=`; without it Redis uses 100) and scans at most 10 × `COUNT` pending entries, "
    "so 250 stuck entries take more than one call.",
    "Start with `cursor = '0-0'`, call it in a `while True` loop, keep the IDs of "
    "`claimed_entries`, set `cursor = next_cursor`, and stop when it comes back as `'0-0'`.",
    "Leave `justid=True` off: with it redis-py returns only the list of claimed IDs and drops "
    "the cursor (and the deleted IDs), so there is nothing to continue from. Take the IDs "
    "from the claimed entries instead: `[entry_id for entry_id, _ in claimed_entries]`.",
])
def ex2(ex, rescue_all):
    """A function that claims every entry idle for ``min_idle_ms``, following XAUTOCLAIM's cursor."""
    r, stream = ex.r, ex.key("ex2")
    _scene(r, stream, 260)
    crashed = _crashed(r, stream, 250)
    busy = _read(r, stream, "busy", 5)
    call = f"`rescue_all(r, '{stream}', '{GROUP}', 'rescuer', {MIN_IDLE_MS})`"
    spy, justid = _spy_justid(r)
    justid_note = (" You passed justid=True: redis-py then returns only the claimed IDs and drops "
                   "the cursor, so there is no cursor to continue from. Leave it off and take the "
                   "IDs from the claimed entries.")
    try:
        got = _ids(ex.call(rescue_all, spy, stream, GROUP, "rescuer", MIN_IDLE_MS), call)
    except (Wrong, CodeRaised) as exc:
        if justid:
            raise Wrong(f"{exc}{justid_note}") from None
        raise
    held = {c["name"]: int(c["pending"]) for c in r.xpending(stream, GROUP)["consumers"]}
    if justid and held.get("rescuer", 0) < len(crashed):
        raise Wrong(f"after {call} 'rescuer' holds {held.get('rescuer', 0)} of the "
                    f"{len(crashed)} stuck entries.{justid_note}")
    if held.get("busy", 0) < len(busy):
        raise Wrong(f"{call} took entries from 'busy', which received them a moment ago. "
                    "Pass the minimum idle time to XAUTOCLAIM so that live work is left alone.")
    if held.get("rescuer", 0) < len(crashed):
        if len(got) in (10, 100) or held.get("rescuer", 0) in (10, 100):
            raise Wrong(f"{call} claimed {held.get('rescuer', 0)} of the {len(crashed)} stuck "
                        "entries: one XAUTOCLAIM call looks at a page of the PEL at a time. "
                        "Call it again from the cursor it returns until that cursor is '0-0'.")
        raise Wrong(f"after {call} 'rescuer' holds {held.get('rescuer', 0)} entries; all "
                    f"{len(crashed)} entries 'crashed' left behind should be its now.")
    if sorted(got) != sorted(crashed):
        raise Wrong(f"'rescuer' now holds the right entries, but {call} returned {len(got)} IDs "
                    f"instead of the {len(crashed)} it claimed; return the claimed IDs.")
    return (f"All {len(crashed)} stuck entries are 'rescuer''s now, found page by page; "
            "the 5 'busy' is working on were left alone.")


def _spy_justid(r):
    """A copy of ``r`` that notes whether ``XAUTOCLAIM`` was sent with ``JUSTID``."""
    spy = copy.copy(r)
    seen: list[bool] = []
    run_command = r.execute_command

    def execute_command(*args, **options):
        words = [_text(a).upper() for a in args if isinstance(a, (str, bytes))]
        if words and words[0] == "XAUTOCLAIM" and "JUSTID" in words:
            seen.append(True)
        return run_command(*args, **options)

    spy.execute_command = execute_command
    return spy, seen


# --- exercise 3 -----------------------------------------------------------------------

@exercises.add(3, "Send poison to the dead-letter stream", hints=[
    "`r.xpending_range(stream, group, '-', '+', 1000)` gives each pending entry's "
    "`times_delivered`; the entry's fields come from `r.xrange(stream, entry_id, entry_id)`. "
    "Poison is delivered **more than** `max_deliveries` times (`>`): an entry delivered "
    "exactly that often still gets its last try.",
    "For each entry delivered more than `max_deliveries` times: check it is still pending, "
    "`XADD` the copy (`{**fields, 'original_id': entry_id, 'deliveries': n}`) to `dead_stream`, "
    "and `XACK` it last. An entry no longer pending was acked by someone meanwhile: it is "
    "done, not poison.",
    "Make the three one step, as `recovery.dead_letter` does, with a Lua script: "
    "`if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return false end "
    "local copy = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) "
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) return copy`, registered with "
    "`r.register_script(...)` and called with `keys=[stream, dead_stream]`, "
    "`args=[group, entry_id, field1, value1, ...]` and `client=r`. Separate commands "
    "are not one step: a crash between them loses the entry or copies it twice, and "
    "`MULTI`/`EXEC` cannot make the `XADD` depend on the entry still being pending.",
])
def ex3(ex, dead_letter_poison):
    """A function moving entries delivered more than ``max_deliveries`` times to a dead-letter stream.

    Three runs: the plain scene; the function killed after each of its commands and then
    run again (a crash between ``XACK`` and ``XADD`` must neither lose nor double an
    entry); and a rival consumer acking one poison entry just before the function's first
    write (its ``XACK`` replies 0, so that entry is not poison any more).
    """
    r, stream = ex.r, ex.key("ex3")
    dead = stream + ":dead"
    call = f"`dead_letter_poison(r, '{stream}', '{GROUP}', '{dead}', 3)`"
    deliveries = _ex3_scene(r, stream)
    poison = [i for i, n in deliveries.items() if n > 3]
    got = _ids(ex.call(dead_letter_poison, r, stream, GROUP, dead, 3), call)
    _ex3_verify(r, stream, dead, call, deliveries, poison)
    if sorted(got) != sorted(poison):
        raise Wrong(f"the dead-letter stream is right, but {call} returned {got} rather than "
                    f"the moved IDs {poison}.")

    # A crash after each command in turn, then a restart that runs the function again.
    for writes in range(1, 60):
        deliveries = _ex3_scene(r, stream)
        try:
            dead_letter_poison(_crash_after(r, writes), stream, GROUP, dead, 3)
            crashed = False
        except _Crash:
            crashed = True
        except Exception as exc:  # noqa: BLE001 - a learner function may raise anything
            raise CodeRaised(f"{call} raised {one_line(exc)}") from None
        ex.call(dead_letter_poison, r, stream, GROUP, dead, 3)  # the restart after the crash
        _ex3_verify(r, stream, dead, call, deliveries, poison=[i for i, n in deliveries.items() if n > 3],
                    after_crash=writes)
        if not crashed:
            break

    # A rival finishes one poison entry between our XPENDING and our first write.
    deliveries = _ex3_scene(r, stream)
    poison = [i for i, n in deliveries.items() if n > 3]
    rival, fired = _ack_before_first_write(r, stream, poison[0])
    got = _ids(ex.call(dead_letter_poison, rival, stream, GROUP, dead, 3), call)
    if fired:
        copied = [_text(f.get("original_id", "")) for _, f in r.xrange(dead)]
        if poison[0] in copied:
            raise Wrong(f"another consumer acked {poison[0]} while {call} was running (it was no "
                        "longer pending: your XACK replied 0, if you sent one), yet the entry was copied to the "
                        "dead-letter stream: it was finished, not poison. Copy only an entry that is "
                        "still pending: one Lua script that checks XPENDING, then XADDs, then XACKs "
                        "(MULTI/EXEC runs the XADD whatever the entry's state).")
        if poison[0] in got:
            raise Wrong(f"{call} returned {poison[0]}, which another consumer acked while it ran "
                        "(your XACK replied 0): return only the IDs you moved.")
    return ("The four entries delivered 4 and 5 times are in the dead-letter stream with their "
            "original ID and delivery count, and acked; the ones delivered once and 3 times are "
            "still pending. A crash at any point neither lost nor doubled one, and an entry "
            "another consumer finished meanwhile was left alone.")


def _ex3_scene(r, stream: str) -> dict[str, int]:
    """Eight entries pending: two delivered once, two 3 times (the limit), two 4 and two 5 times."""
    _scene(r, stream, 8)
    deliveries = {}
    for consumer, extra in (("a", 0), ("b", 2), ("c", 3), ("d", 4)):
        for entry_id in _read(r, stream, consumer, 2):
            deliveries[entry_id] = 1 + extra
        for _ in range(extra):
            r.xreadgroup(GROUP, consumer, {stream: "0"})  # each re-read is one more delivery
    return deliveries


def _ex3_verify(r, stream: str, dead: str, call: str, deliveries: dict[str, int],
                poison: list[str], after_crash: int | None = None) -> None:
    copies = r.xrange(dead)
    pending = [p["message_id"] for p in r.xpending_range(stream, GROUP, "-", "+", 100)]
    crash = (f" (after your function was killed before its command number {after_crash + 1} "
             "and run again, as a restarted process would)") if after_crash else ""
    if not copies:
        raise Wrong(f"after {call} the dead-letter stream {dead} is empty{crash}; XADD a copy of each "
                    "entry delivered more than 3 times to it.")
    originals = [_text(f.get("original_id", "")) for _, f in copies]
    if "" in originals:
        raise Wrong(f"the copies in {dead} need an `original_id` field holding the entry's ID "
                    "in the source stream.")
    twice = sorted({i for i in originals if originals.count(i) > 1})
    if twice:
        raise Wrong(f"{dead} holds {twice} twice{crash}: the copy was made, the process died "
                    "before its XACK, and the restart copied it again. XACK and XADD must be one "
                    "step: a Lua script that checks the entry is still pending, XADDs the copy, and XACKs last.")
    by_original = {_text(f.get("original_id", "")): f for _, f in copies}
    lost = sorted(set(poison) - set(by_original) - set(pending))
    if lost and after_crash:
        raise Wrong(f"{lost} left the PEL but never reached {dead}{crash}: the XACK ran, the "
                    "process died before the XADD, and the entry is gone. XACK and XADD must be "
                    "one step: a Lua script that checks the entry is still pending, XADDs the copy, and XACKs last.")
    if sorted(by_original) != sorted(poison):
        too_many = sorted(set(by_original) - set(poison))
        if too_many:
            limit = [i for i in too_many if deliveries.get(i) == 3]
            raise Wrong(f"{call} dead-lettered {too_many}, delivered only "
                        f"{', '.join(str(deliveries[i]) for i in too_many if i in deliveries)} time(s): "
                        "only entries delivered more than 3 times are poison"
                        + (" (`>`, not `>=`: an entry delivered exactly max_deliveries times "
                           "still has its last try)." if limit else "."))
        raise Wrong(f"{dead} holds copies of {sorted(by_original)}, but the entries delivered "
                    f"more than 3 times are {poison}.")
    for entry_id in poison:
        fields = by_original[entry_id]
        if str(fields.get("deliveries")) != str(deliveries[entry_id]):
            raise Wrong(f"the copy of {entry_id} says deliveries={fields.get('deliveries')!r}; "
                        f"XPENDING said it was delivered {deliveries[entry_id]} times.")
        if "order" not in fields:
            raise Wrong(f"the copy of {entry_id} lost the entry's own fields; copy them too "
                        "(someone will want to look at the poison later).")
    still = sorted(set(poison) & set(pending))
    if still:
        raise Wrong(f"{still} are in the dead-letter stream but still pending in {GROUP!r}{crash}: "
                    "XACK them after copying, or the reaper will find them again and again.")
    if sorted(pending) != sorted(set(deliveries) - set(poison)):
        raise Wrong("entries that were not poison left the PEL too: only ack what you dead-lettered.")


_WRITES = {"XACK", "XADD", "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "MULTI"}


def _ack_before_first_write(r, stream: str, entry_id: str):
    """A copy of ``r`` on which another consumer acks ``entry_id`` just before the first write.

    Covers single commands, Lua scripts run through this client, and pipelines
    (``MULTI``/``EXEC``). Returns the copy and a list that is non-empty once the ack was made.
    """
    rival = copy.copy(r)
    fired: list[bool] = []
    run_command, make_pipeline = r.execute_command, r.pipeline

    def ack_first():
        if not fired:
            fired.append(r.xack(stream, GROUP, entry_id) == 1)

    def execute_command(*args, **options):
        if args and _text(args[0]).upper() in _WRITES:
            ack_first()
        return run_command(*args, **options)

    def pipeline(*args, **kwargs):
        pipe = make_pipeline(*args, **kwargs)
        run_pipeline = pipe.execute

        def execute(*a, **k):
            if any(_text(c[0][0]).upper() in _WRITES for c in pipe.command_stack):
                ack_first()
            return run_pipeline(*a, **k)

        pipe.execute = execute
        return pipe

    rival.execute_command, rival.pipeline = execute_command, pipeline
    return rival, fired


# --- exercise 4 -----------------------------------------------------------------------

class _Crash(redis.ConnectionError):
    """The simulated crash of exercise 4."""


def _crash_after(r, writes: int):
    """A copy of ``r`` that dies before its command number ``writes + 1``, as a process killed mid-way would.

    ``SCRIPT`` commands (redis-py loading a Lua script: it sends ``SCRIPT LOAD`` as one
    word) do not count. A pipeline's ``execute()`` counts as one command: its commands
    leave in one write, so a process that dies sends all of them or none (and MULTI/EXEC
    runs all or none anyway); what a crash can split is two round trips, not one.
    """
    crashy = copy.copy(r)
    done = []
    original = r.execute_command
    original_pipeline = r.pipeline

    def crash_if_due():
        if len(done) >= writes:
            raise _Crash("simulated crash: the process died before this command")

    def execute_command(*args, **options):
        name = _text(args[0]).upper() if args else ""
        loads_a_script = name.split()[:1] == ["SCRIPT"]
        if not loads_a_script:
            crash_if_due()
        result = original(*args, **options)
        if not loads_a_script:
            done.append(name)
        return result

    def pipeline(*args, **kwargs):
        pipe = original_pipeline(*args, **kwargs)
        send = pipe.execute

        def execute(*a, **k):
            crash_if_due()
            result = send(*a, **k)
            done.append("PIPELINE")
            return result

        pipe.execute = execute
        return pipe

    crashy.execute_command = execute_command
    crashy.pipeline = pipeline
    return crashy


@exercises.add(4, "Apply each order once", hints=[
    "`r.set(prefix + 'processed:' + entry_id, 1, nx=True)` returns True only the first time: "
    "that tells a new entry from a duplicate.",
    "Marking and applying must happen together: if the process dies between SET NX and INCRBY, "
    "the mark says done but the amount was never added. A Lua script runs both in one step: "
    "`r.register_script(\"if redis.call('SET', KEYS[1], 1, 'NX') then redis.call('INCRBY', "
    "KEYS[2], ARGV[1]) return 1 end return 0\")`.",
])
def ex4(ex, apply_once):
    """``apply_once(r, prefix, entry_id, amount)``: add ``amount`` to ``prefix + 'total'`` the first time only."""
    r = ex.r
    prefix = ex.key("ex4:")
    _clean(r, prefix)
    deliveries = [("1-0", 5), ("2-0", 7), ("1-0", 5), ("3-0", 2), ("2-0", 7), ("1-0", 5)]
    got = []
    for entry_id, amount in deliveries:
        got.append(ex.call(apply_once, r, prefix, entry_id, amount))
    total = int(r.get(prefix + "total") or 0)
    call = f"`apply_once(r, '{prefix}', id, amount)`"
    if total == sum(a for _, a in deliveries):
        raise Wrong(f"{prefix}total is {total}: every delivery was applied, duplicates too. "
                    "Remember which IDs were processed (SET ... NX) and skip the repeats.")
    if total != 14:
        raise Wrong(f"after deliveries of 1-0 (5), 2-0 (7), 1-0, 3-0 (2), 2-0, 1-0 the total "
                    f"should be 14, but {prefix}total is {total}.")
    if [bool(g) for g in got] != [True, True, False, True, False, False]:
        raise Wrong(f"the total is right, but {call} returned {got}; return True when the "
                    "amount was applied and False for a duplicate.")

    # Kill the process after its first command, then after its second, ...: the
    # redelivery that follows must add the amount exactly once every time.
    for writes in range(1, 60):  # until a run finishes before its crash point, as in exercise 3
        _clean(r, prefix)
        try:
            apply_once(_crash_after(r, writes), prefix, "9-0", 3)
            crashed = False
        except _Crash:
            crashed = True
        except Exception as exc:  # noqa: BLE001 - a learner function may raise anything
            raise CodeRaised(f"{call} raised {one_line(exc)}") from None
        ex.call(apply_once, r, prefix, "9-0", 3)  # the redelivery after the crash
        total = int(r.get(prefix + "total") or 0)
        _clean(r, prefix)
        if total == 0:
            raise Wrong("duplicates are absorbed, but a crash between marking and applying loses "
                        "the order: the mark says 'done', so the redelivery is skipped and the "
                        "amount is never added. Mark and apply in one step (a Lua script, see the hints).")
        if total != 3:
            raise Wrong("duplicates are absorbed, but a crash after applying and before marking "
                        "applies the order twice: the redelivery finds no mark. Mark and apply in "
                        "one step (a Lua script, see the hints).")
        if not crashed:
            break
    return ("Duplicates are absorbed, and a crash in the middle of apply_once neither loses "
            "nor doubles an order: marking and applying happen together.")


def _clean(r, prefix: str) -> None:
    keys = list(r.scan_iter(match=prefix + "*", count=500))
    if keys:
        r.delete(*keys)
