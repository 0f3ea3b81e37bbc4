"""The sampler's lag after deletions and trims: counted where the server's number is known wrong.

Redis 7.0.15 (this machine's server) reports lag 1 for a caught-up group after an
XDEL of an entry it had not read, and lag 7 then 2 after trimming; the sampler must
show what is really unread, on every backend, and keep the server's number beside it.
"""

from __future__ import annotations

from types import SimpleNamespace

from streamlab import observe


def _truth(r, stream, group):
    row = observe.group_info(r, stream, group)
    return observe.count_after(r, stream, row["last-delivered-id"])


def test_xdel_of_an_unread_entry_then_reading_everything_gives_lag_0(r, prefix):
    stream = prefix + "orders"
    for i in range(1, 4):
        r.xadd(stream, {"i": i}, id=f"1-{i}")
    r.xgroup_create(stream, "kitchen", id="0")
    r.xreadgroup("kitchen", "a", {stream: ">"})
    r.xadd(stream, {"i": 6}, id="1-6")
    r.xadd(stream, {"i": 7}, id="1-7")
    r.xdel(stream, "1-6")
    r.xreadgroup("kitchen", "a", {stream: ">"})
    row = observe.group_info(r, stream, "kitchen")
    assert _truth(r, stream, "kitchen") == 0
    assert observe.lag_of(r, stream, row) == (0, "xrange")


def test_a_trim_below_the_group_gives_the_entries_really_unread(r, prefix):
    stream = prefix + "s"
    for i in range(10):
        r.xadd(stream, {"i": i})
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", "c", {stream: ">"}, count=3)
    r.xtrim(stream, maxlen=5, approximate=False)
    row = observe.group_info(r, stream, "g")
    assert observe.lag_of(r, stream, row, r.xinfo_stream(stream)) == (5, "xrange")
    r.xreadgroup("g", "c", {stream: ">"})
    row = observe.group_info(r, stream, "g")
    assert observe.lag_of(r, stream, row, r.xinfo_stream(stream)) == (0, "xrange")


def test_the_sampler_shows_the_counted_lag_and_keeps_the_servers(r, prefix):
    stream = prefix + "s"
    for i in range(10):
        r.xadd(stream, {"i": i})
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", "c", {stream: ">"}, count=3)
    r.xtrim(stream, maxlen=5, approximate=False)
    r.xreadgroup("g", "c", {stream: ">"})
    row = observe.Sampler(r, stream, "g").sample()
    assert row["lag"] == 0 and row["lag_source"] == "xrange"
    assert row["server_lag"] == observe.group_info(r, stream, "g")["lag"]


def test_without_deletions_the_servers_lag_is_taken(r, prefix):
    stream = prefix + "s"
    for i in range(6):
        r.xadd(stream, {"i": i})
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", "c", {stream: ">"}, count=2)
    row = observe.group_info(r, stream, "g")
    assert observe.lag_of(r, stream, row) == (4, "server")


def test_trust_is_decided_by_server_and_version():
    lost = {"max-deleted-entry-id": "0-0", "entries-added": 10, "length": 5}
    clean = {"max-deleted-entry-id": "0-0", "entries-added": 5, "length": 5}

    def backend(name, version):
        return SimpleNamespace(server_name=name, version=version)

    assert observe.server_lag_trusted(backend("redis", (7, 0, 15)), clean)
    assert not observe.server_lag_trusted(backend("redis", (7, 0, 15)), lost)
    assert not observe.server_lag_trusted(backend("redis", (7, 4, 1)), lost)
    assert not observe.server_lag_trusted(backend("redis", (8, 0, 0)), lost)
    assert observe.server_lag_trusted(backend("redis", (8, 2, 0)), lost)
    assert not observe.server_lag_trusted(backend("valkey", (8, 1, 8)), lost)
    assert not observe.server_lag_trusted(backend("fakeredis", (7, 0)), lost)
    assert not observe.server_lag_trusted(None, {"max-deleted-entry-id": "1-6",
                                                 "entries-added": 5, "length": 4})


def test_a_caught_up_or_fully_behind_group_needs_no_xrange(r, prefix):
    stream = prefix + "s"
    ids = [r.xadd(stream, {"i": i}) for i in range(6)]
    r.xdel(stream, ids[0])
    info = r.xinfo_stream(stream)

    class NoXrange:
        backend = r.backend  # lag_of reads the stand-in client's backend like a Client's

        def xrange(self, *args, **kwargs):
            raise AssertionError("XRANGE sent although XINFO STREAM settled the count")

    assert observe.lag_of(NoXrange(), stream, {"last-delivered-id": ids[-1], "lag": 1}, info) == (0, "xrange")
    assert observe.lag_of(NoXrange(), stream, {"last-delivered-id": "0-0", "lag": 9}, info) == (5, "xrange")
    assert observe.lag_of(r, stream, {"last-delivered-id": ids[3], "lag": 9}, info) == (2, "xrange")
