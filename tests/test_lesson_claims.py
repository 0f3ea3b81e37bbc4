"""lesson_claims: a claim that holds on some servers only is checked on those, read from the banner."""

from __future__ import annotations

import nbformat

import lesson_claims as lc


def executed(banner: str, output: str):
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("r = sl.connect()")
    setup.outputs = [nbformat.v4.new_output("stream", name="stdout", text=banner + "\n")]
    cell = nbformat.v4.new_code_cell("print(lag_after_trim())")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells = [setup, cell]
    return nb


def test_the_server_is_read_from_the_banner():
    nb = executed("streamlab: connected to Valkey 8.1.8 via REDIS_URL at redis://h:1/0", "")
    assert lc.server_of(nb) == lc.Server("valkey", (8, 1, 8))
    nb = executed("streamlab: connected to fakeredis 2.41.0 emulating Redis 8.10 via fakeredis, "
                  "in this Python process", "")
    assert lc.server_of(nb) == lc.Server("fakeredis", (8, 10))
    assert lc.server_of(executed("no banner here", "")) is None


def test_a_claim_is_checked_only_on_the_servers_it_names(monkeypatch):
    claim = lc.Claim("lag_after_trim()", r"lag 7\b", "lag says 7 on Redis before 8.2",
                     on=lc.redis_before(8, 2))
    monkeypatch.setitem(lc.CLAIMS, "99-test", [claim])
    redis70 = "streamlab: connected to Redis 7.0.15 via the URL you passed at redis://h:1/0"
    valkey = "streamlab: connected to Valkey 9.1.2 via the URL you passed at redis://h:1/0"
    assert lc.broken_claims("99-test", executed(redis70, "lag 7")) == []
    assert "does not match" in lc.broken_claims("99-test", executed(redis70, "lag 5"))[0]
    assert lc.broken_claims("99-test", executed(valkey, "lag 5")) == []  # not claimed there
    assert "no banner" in lc.broken_claims("99-test", executed("", "lag 5"))[0]
    assert lc.server_named("valkey")(lc.Server("valkey", (9, 1, 2)))
    assert lc.redis_from(8, 2)(lc.Server("redis", (8, 2, 0)))
    assert not lc.redis_from(8, 2)(lc.Server("fakeredis", (8, 10)))
