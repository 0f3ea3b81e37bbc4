"""Old way, new way: the stream commands Redis 7.2 to 8.10 added, beside what works everywhere.

Lessons 02 to 05 first teach the way that works on every server the course
supports, then the newer command that does the same job better. ``where(r,
feature)`` decides where that newer command runs:

- on the learner's own server, when ``r.supports(feature)`` says it has it;
- otherwise on a separate fakeredis server emulating Redis 8.10
  (``streamlab.backend.emulated()``), and the cell says so in its first line.

Only features whose fakeredis emulation was checked against the Redis
documentation are in ``NEW_WAY`` with ``emulated=True`` (docs/SERVERS.md says
what each server does). The rest (``XREAD ... +``, ``XINFO CONSUMERS inactive``)
are explained in prose and run only on a server that has them.

The ``*_scene`` functions set up a small, fixed history (explicit IDs ``1-1``,
``1-2``, ... so the commands a lesson shows can name them) and are safe to run
again: each deletes its key first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import backend as _backend
from . import pel as _pel
from .errors import LearnerError
from .redis_cli import Session
from .waiting import wait_until

@dataclass(frozen=True)
class NewWay:
    """How a lesson shows one newer feature where the server lacks it."""

    emulated: bool  # True: fakeredis's emulation was checked against the Redis docs
    valkey: str = "not in Valkey 9.1"


#: The features lessons 02 to 05 show "the new way", keys of ``streamlab.backend.FEATURES``
#: (which names the command and the Redis version that brought it).
NEW_WAY: dict[str, NewWay] = {
    "xread-maxcount": NewWay(True),
    "xreadgroup-claim": NewWay(True),
    "idmp": NewWay(True),
    "xnack": NewWay(True),
    "trim-acked": NewWay(True),
    "xdelex": NewWay(True, valkey="Valkey 9.2 has it too"),
    # Not emulated: fakeredis 2.41 accepts `XREAD ... +` but returns nothing, and
    # fills XINFO CONSUMERS `inactive` on every read (NOACK and empty ones too).
    "xread-plus": NewWay(False, valkey="Valkey 8.1 has it"),
    "xinfo-inactive": NewWay(False, valkey="Valkey 8.1 has it"),
}


class NotOnThisServer(LearnerError):
    """The feature is missing here and has no trusted emulation. The message says which server brings it."""


@dataclass
class Side:
    """Where a new-way cell runs its commands: the learner's server, or the labelled emulation."""

    client: _backend.Client
    emulated: bool
    note: str

    @property
    def label(self) -> str:
        """What a table column or row says about where its value came from."""
        return "emulation" if self.emulated else "your server"

    def cli(self, text: str) -> None:
        """Run command lines as ``%%redis`` does (each line printed, then its reply), on this side."""
        session = Session(self.client)
        try:
            session.run(text)
        finally:
            session.close()

    def __repr__(self) -> str:
        return self.note


def where(r, feature: str, quiet: bool = False) -> Side:
    """Where ``feature``'s commands run: ``r`` when it has them, else the emulation (printed first).

    Raises ``NotOnThisServer`` for a missing feature whose emulation was not
    checked (the message names the version that brings it).
    """
    if feature not in NEW_WAY:
        raise ValueError(f"Unknown new-way feature {feature!r}. Known: {', '.join(sorted(NEW_WAY))}.")
    spec = NEW_WAY[feature]
    since, command = _backend.FEATURES[feature]
    version = ".".join(map(str, since))
    here = r.backend.server
    if r.supports(feature):
        side = Side(r, False, f"{here} has {command}: the commands below run on it.")
    elif not spec.emulated:
        raise NotOnThisServer(f"{here} has no {command} (it came in Redis {version}; {spec.valkey}). "
                              "Run this cell on such a server to see it.")
    else:
        # Short on purpose: the word a learner must not miss comes first; which Valkey
        # has what is for `streamlab doctor` and docs/SERVERS.md.
        emulates = ".".join(map(str, _backend.EMULATION_VERSION))
        side = Side(_backend.emulated(), True,
                    f"EMULATION: {here} has no {command} (Redis {version}+). The new-way commands "
                    f"below run on a fakeredis emulating Redis {emulates}, not on your server.")
    if not quiet:
        print(side.note)
    return side


# --- lesson 02: MAXCOUNT ---------------------------------------------------------------

def three_streams_scene(client, prefix: str = "lesson02:mc", entries: int = 4) -> list[str]:
    """Three streams ``<prefix>:a``, ``:b``, ``:c`` of ``entries`` each (IDs ``1-1`` on): their keys."""
    keys = [f"{prefix}:{name}" for name in "abc"]
    client.delete(*keys)
    for key in keys:
        for n in range(1, entries + 1):
            client.xadd(key, {"n": n}, id=f"1-{n}")
    return keys


def read_with_maxcount(client, keys: list[str], count: int,
                       maxcount: int | None = None) -> dict[str, list[str]]:
    """``XREAD COUNT count [MAXCOUNT maxcount] STREAMS keys... 0...``: the IDs read, per stream.

    Every stream named is in the answer, with ``[]`` when nothing was read from it.
    ``MAXCOUNT`` came in Redis 8.10; without it this is the plain ``XREAD``.
    """
    cap = ["MAXCOUNT", maxcount] if maxcount is not None else []
    reply = client.execute_command("XREAD", "COUNT", count, *cap,
                                   "STREAMS", *keys, *["0"] * len(keys)) or []
    got = {_text(stream): [_text(entry[0]) for entry in entries] for stream, entries in reply}
    return {key: got.get(key, []) for key in keys}


def describe_read(got: dict[str, list[str]]) -> str:
    """``read_with_maxcount``'s answer on one line: the total, then each stream's IDs (or "nothing")."""
    total = sum(map(len, got.values()))
    per_stream = " | ".join(f"{key.rsplit(':', 1)[-1]}: {' '.join(ids) or 'nothing'}" for key, ids in got.items())
    return f"{total} entries  {per_stream}"


# --- lesson 03: idle and inactive ------------------------------------------------------

#: Lesson 03's cells up to section 6 (alice and bob read, alice gets the pie, XACK,
#: both re-read with 0, XACK, carol reads with NOACK), one second apart, then
#: XINFO CONSUMERS: measured on Valkey 8.1.8, which has `inactive` with the meaning
#: Redis 7.2+ gives it. Shown where the learner's server has no such field (Redis 7.0)
#: or fills it differently (fakeredis).
MEASURED_INACTIVE = {
    "server": "Valkey 8.1.8",
    "rows": [
        {"name": "alice", "pending": 0, "idle": 3009, "inactive": 5010},
        {"name": "bob", "pending": 0, "idle": 3004, "inactive": 6012},
        {"name": "carol", "pending": 0, "idle": 1000, "inactive": -1},
    ],
}


def idle_and_inactive(r, key: str, group: str) -> pd.DataFrame:
    """XINFO CONSUMERS ``key group`` as a table: pending, idle, inactive, and what inactive says.

    ``inactive`` (Redis 7.2+) is -1 for a consumer that never had a successful
    read or claim: one that read only with NOACK, or only found nothing. Where
    the server has no such field (Redis 7.0) or fills it differently
    (fakeredis), one line says so and the table is ``MEASURED_INACTIVE``, labelled.
    """
    # fakeredis (2.41) reports an `inactive` field at every version, but sets it on every read,
    # NOACK and empty ones included, and never -1: it cannot be read as Redis's.
    if r.backend.is_fake:
        print(f"{r.backend.server} sets 'inactive' on every read (NOACK and empty ones too), "
              "so it cannot show what the field means.")
    elif not r.supports("xinfo-inactive"):
        print(f"{r.backend.server} has only 'idle' ('inactive' came in Redis 7.2).")
    else:
        return _inactive_table(r.xinfo_consumers(key, group), "name")
    print(f"Below: this lesson's steps, one cell a second, measured on {MEASURED_INACTIVE['server']} "
          "(a fixed table, not your server).")
    return _inactive_table(MEASURED_INACTIVE["rows"], f"{MEASURED_INACTIVE['server']}, measured")


def _inactive_table(consumers, index_name: str) -> pd.DataFrame:
    rows = []
    for c in consumers:
        inactive = c["inactive"]
        meaning = "never got entries" if inactive == -1 else f"got entries {inactive / 1000:.1f} s ago"
        rows.append({index_name: c["name"], "pending": c["pending"], "idle": c["idle"],
                     "inactive": inactive, "inactive means": meaning})
    return pd.DataFrame(rows).set_index(index_name)


# --- lesson 04: CLAIM, XNACK, IDMP -----------------------------------------------------

def crashed_consumer_scene(client, key: str, idle_ms: int, group: str = "kitchen",
                           timeout: float = 10.0) -> list[str]:
    """Five orders ``1-1``..``1-5``; alice reads three and crashes (no XACK); two more arrive.

    Returns once alice's entries have been idle at least ``idle_ms`` (polled with
    XPENDING, not slept). The IDs of alice's entries are returned.
    """
    client.delete(key)
    for n, item in enumerate(("tea", "toast", "soup", "cake", "pie"), start=1):
        client.xadd(key, {"item": item}, id=f"1-{n}")
    client.xgroup_create(key, group, id="0")
    client.xreadgroup(group, "alice", {key: ">"}, count=3)
    for n, item in ((6, "bun"), (7, "tart")):
        client.xadd(key, {"item": item}, id=f"1-{n}")
    wait_until_idle(client, key, group, idle_ms, timeout)
    return ["1-1", "1-2", "1-3"]


def wait_until_idle(client, key: str, group: str, idle_ms: int, timeout: float = 10.0) -> None:
    """Poll ``XPENDING key group - + 1000`` until every pending entry of ``group`` has been idle
    ``idle_ms`` or more; ``TimeoutError`` if that takes longer than ``timeout`` seconds."""
    def all_idle() -> bool:
        return all(p["time_since_delivered"] >= idle_ms for p in client.xpending_range(key, group, "-", "+", 1000))

    if not wait_until(all_idle, timeout):
        raise TimeoutError(f"{key}: pending entries not idle {idle_ms} ms after {timeout} s")


def read_with_claim(client, key: str, group: str, consumer: str, min_idle_ms: int,
                    count: int = 10) -> list[tuple]:
    """``XREADGROUP GROUP group consumer COUNT count CLAIM min_idle_ms STREAMS key >`` (Redis 8.4).

    Each entry comes back as ``(id, fields, idle_ms, delivered_before)``: idle
    pending entries first (``delivered_before`` >= 1), then new ones (0).
    """
    reply = client.xreadgroup(group, consumer, {key: ">"}, count=count, claim_min_idle_time=min_idle_ms)
    if not reply:
        return []
    return [(_text(entry_id), _fields(fields), int(idle), int(before))
            for entry_id, fields, idle, before in reply[0][1]]


def claim_compare(r, side: Side, min_idle_ms: int = 200) -> pd.DataFrame:
    """The same scene read the old way (on ``r``) and the new way (on ``side``): one row per entry.

    Old way, works everywhere: XAUTOCLAIM for idle pending entries, then
    XREADGROUP ``>`` for new ones: two calls, usually in a separate reaper.
    New way: one XREADGROUP ... CLAIM. The column headers say which server each
    value came from ("your server" or "emulation").
    """
    old_key, new_key = "lesson04:claim:old", "lesson04:claim"
    crashed_consumer_scene(r, old_key, min_idle_ms)
    _, claimed, *_ = r.xautoclaim(old_key, "kitchen", "bob", min_idle_ms, "0", count=10)
    fresh = r.xreadgroup("kitchen", "bob", {old_key: ">"}, count=10)
    old = {_text(entry_id): ("call 1: XAUTOCLAIM", fields) for entry_id, fields in claimed}
    old.update({_text(entry_id): ("call 2: XREADGROUP >", fields)
                for entry_id, fields in (fresh[0][1] if fresh else [])})

    crashed_consumer_scene(side.client, new_key, min_idle_ms)
    mine, new = "your server", side.label
    rows = []
    for position, (entry_id, fields, idle, before) in enumerate(
            read_with_claim(side.client, new_key, "kitchen", "bob", min_idle_ms), start=1):
        call, old_fields = old.get(entry_id, ("not read", fields))
        rows.append({(mine, "item"): _fields(old_fields).get("item"), (mine, "old way"): call,
                     (new, "CLAIM position"): position, (new, "idle ms"): idle,
                     (new, "delivered before"): before, ("", "id"): entry_id})
    table = pd.DataFrame(rows).set_index(("", "id"))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index.name = "id"
    return table


def claim_consumer_pass(client, key: str, group: str, consumer: str, handle, min_idle_ms: int,
                        dead_key: str, max_deliveries: int = 3, count: int = 10) -> dict[str, list[str]]:
    """One pass of a consumer that needs no reaper (Redis 8.4+): read with CLAIM, then each entry.

    An entry already delivered ``max_deliveries`` times goes to ``dead_key`` (copied and
    acked in one Lua script, ``pel.dead_letter``). Otherwise ``handle(entry_id, fields)``
    runs and the entry is acked; if it raises, the entry stays pending, and a later
    ``CLAIM`` (this consumer's or another's) takes it once it has been idle ``min_idle_ms``.
    Returns the IDs acked, failed and dead-lettered.
    """
    outcome: dict[str, list[str]] = {"acked": [], "failed": [], "dead-lettered": []}
    for entry_id, fields, _, before in read_with_claim(client, key, group, consumer, min_idle_ms, count):
        if before >= max_deliveries:
            _pel.dead_letter(client, key, group, entry_id, fields, dead_key, before + 1, consumer,
                             f"delivered {before + 1} times")
            outcome["dead-lettered"].append(entry_id)
            continue
        try:
            handle(entry_id, fields)
        except Exception:  # noqa: BLE001 - any failure of the work leaves the entry pending
            outcome["failed"].append(entry_id)
            continue
        client.xack(key, group, entry_id)
        outcome["acked"].append(entry_id)
    return outcome


def nack_scene(client, key: str = "lesson04:nack", group: str = "kitchen") -> None:
    """Two orders ``1-1``, ``1-2``; alice has just read both (nothing idle yet)."""
    client.delete(key)
    client.xadd(key, {"item": "soup"}, id="1-1")
    client.xadd(key, {"item": "cake"}, id="1-2")
    client.xgroup_create(key, group, id="0")
    client.xreadgroup(group, "alice", {key: ">"})


def nack(client, key: str, group: str, ids: list[str], mode: str = "FAIL") -> int:
    """``XNACK key group FAIL|SILENT|FATAL IDS n id...`` (Redis 8.8): entries released at once."""
    return client.xnack(key, group, mode, *ids)


def retried_xadd(client, key: str, fields: dict, idmp: tuple[str, str] | None = None) -> tuple[str, str]:
    """A producer's XADD whose reply is lost, then its retry: the two IDs the server answered.

    Without ``idmp`` the retry adds a second entry (a new ID). With ``idmp =
    (producer_id, idempotent_id)`` (``XADD ... IDMP``, Redis 8.6) the retry
    returns the first entry's ID and adds nothing.
    """
    first = client.xadd(key, fields, idmp=idmp)  # the server added it; the reply never arrived
    retry = client.xadd(key, fields, idmp=idmp)  # so the producer sends the same XADD again
    return _text(first), _text(retry)


# --- lesson 05: trimming that respects consumer groups --------------------------------

def acked_scene(client, key: str = "lesson05:acked", group: str = "workers") -> None:
    """Ten jobs ``1-1``..``1-10``; alice read 1-1..1-4 and acked 1-1 and 1-2 (1-3, 1-4 pending)."""
    client.delete(key)
    for n in range(1, 11):
        client.xadd(key, {"job": n}, id=f"1-{n}")
    client.xgroup_create(key, group, id="0")
    client.xreadgroup(group, "alice", {key: ">"}, count=4)
    client.xack(key, group, "1-1", "1-2")


def scene_state(client, key: str = "lesson05:acked", group: str = "workers") -> dict:
    """What is left: the stream's IDs, and the group's pending IDs (with whether each still exists)."""
    ids = [_text(entry_id) for entry_id, _ in client.xrange(key)]
    pending = [_text(p["message_id"]) for p in client.xpending_range(key, group, "-", "+", 100)]
    return {"XLEN": len(ids), "stream": f"{ids[0]} .. {ids[-1]}" if ids else "-",
            "pending": " ".join(p if p in ids else f"{p} (gone)" for p in pending) or "-"}


def trim_policies(r, side: Side, key: str = "lesson05:acked") -> pd.DataFrame:
    """``XTRIM key MAXLEN = 5`` with each reference policy, from the same scene: one row each.

    The plain trim runs on ``r`` (every server); KEEPREF, DELREF and ACKED on ``side``.
    Each row's label says which server it ran on ("your server" or "emulation").
    """
    rows = [("plain (your server)", r, None)] + [
        (f"{policy} ({side.label})", side.client, policy) for policy in ("KEEPREF", "DELREF", "ACKED")]
    table = []
    for label, client, policy in rows:
        acked_scene(client, key)
        args = ["XTRIM", key, "MAXLEN", "=", 5] + ([policy] if policy else [])
        removed = client.execute_command(*args)
        table.append({"XTRIM MAXLEN = 5": label, "removed": removed, **scene_state(client, key)})
    return pd.DataFrame(table).set_index("XTRIM MAXLEN = 5")


# --- helpers ------------------------------------------------------------------------------

def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(flat) -> dict[str, str]:
    if isinstance(flat, dict):
        return {_text(k): _text(v) for k, v in flat.items()}
    return {_text(k): _text(v) for k, v in zip(flat[::2], flat[1::2])}
