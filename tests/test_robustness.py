"""The catalogue of bad input a learner can give, each on fakeredis and on a real server.

Every case goes through the three ways a learner meets it:

- the helpers: ``with sl.friendly(): ...`` prints "What happened / What to do"
  (and the producer's and consumer pool's own checks say the same in a
  ``ValueError``);
- the widgets: a panel's status line shows the message, never a traceback;
- ``%%redis``, run in a real IPython shell: ``(error) ...`` then ``hint: ...``.

After each error the stream still holds every entry it held before.

Where no widget takes the input (an explicit ID for XADD, a BLOCK time),
the case says so and tests the two other ways. A wrong ``REDIS_URL`` is about
``connect()`` itself, so those cases run once, not per backend; a server that
answered and is gone now runs on both (fakeredis can play an unreachable server).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
import time
import uuid

import fakeredis
import pytest

import streamlab as sl
from streamlab import backend as sl_backend
from streamlab import server as sl_server
from streamlab.consumers import ConsumerPool
from streamlab.ui.pool_panel import ConsumerPoolPanel
from streamlab.ui.magics import register
from streamlab.observe import Sampler
from streamlab.producer import Producer
from streamlab.ui.producer_panel import ProducerPanel
from helpers import is_blocked, wait_until

MALFORMED_IDS = ["abc", "1-x", "-1"]


# --- fixtures and checks ---------------------------------------------------------------

@pytest.fixture
def cell(shell, r, capsys):
    """``cell(text)``: run ``%%redis`` + text on ``r`` in the shell; what it printed."""
    register(shell, r)
    capsys.readouterr()

    def run(text: str) -> str:
        result = shell.run_cell("%%redis\n" + text)
        out = capsys.readouterr().out
        assert result.success, f"the cell raised {result.error_in_exec!r}:\n{out}"
        assert "Traceback" not in out
        return out

    return run


@pytest.fixture
def stream(r, prefix):
    """A stream with three entries at 5-0, 6-0, 7-0."""
    key = prefix + "s"
    for ms in (5, 6, 7):
        r.xadd(key, {"n": ms}, id=f"{ms}-0")
    return key


def friendly_output(action) -> str:
    """What ``with sl.friendly(): action()`` prints; fails on any exception that gets out."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), sl.friendly():
        action()
    return out.getvalue()


def assert_explained(text: str, *words: str) -> None:
    assert "What happened:" in text and "What to do:" in text, text
    assert "Traceback" not in text
    for word in words:
        assert word in text, f"{word!r} not in: {text}"


def assert_cli_error(text: str, *words: str) -> None:
    assert "(error)" in text and "hint:" in text, text
    for word in words:
        assert word in text, f"{word!r} not in: {text}"


# --- malformed and decreasing IDs --------------------------------------------------------

@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_malformed_id_is_explained_by_the_helpers_and_redis_magic(r, stream, cell, bad):
    before = r.xrange(stream)
    assert_explained(friendly_output(lambda: r.xadd(stream, {"n": 1}, id=bad)), "not a stream ID")
    assert_explained(friendly_output(lambda: r.xrange(stream, bad, "+")), "<ms>-<seq>")
    assert_explained(friendly_output(lambda: r.xread({stream: bad})), "not a stream ID")
    assert_cli_error(cell(f"XADD {stream} {bad} n 1"), "Invalid stream ID", "<ms>-<seq>")
    assert_cli_error(cell(f"XRANGE {stream} {bad} +"), "Invalid stream ID")
    assert r.xrange(stream) == before


def test_malformed_id_in_the_chaos_panels_journey_box_is_explained(r, prefix):
    """The one widget that takes an entry ID: lesson 04's "journey of" box."""
    from streamlab.ui.chaos_panel import ChaosPanel

    panel = ChaosPanel(r, prefix=prefix, entries=100, crash_probability=0, poison_share=0,
                       processing_ms=0, seed=1)
    try:
        panel.run_until_done(timeout=30)
        stream = panel.experiment.stream
        before = r.xlen(stream)
        for bad in MALFORMED_IDS:
            panel.pick_box.value = bad
            assert "not a stream ID" in panel.status.value, (bad, panel.status.value)
            assert "What to do" in panel.status.value and "Traceback" not in panel.status.value
            panel.pick_box.value = ""
        panel.pick_box.value = "9999"  # a well-formed order number it never produced
        assert "No entry 9999" in panel.status.value
        panel.pick_box.value = ""
        assert r.xlen(stream) == before
    finally:
        panel.close()


def test_bad_id_left_in_the_journey_box_does_not_break_stop_or_rerun(r, prefix):
    from streamlab.ui.chaos_panel import ChaosPanel

    panel = ChaosPanel(r, prefix=prefix, entries=100, crash_probability=0, poison_share=0,
                       processing_ms=0, seed=1)
    rerun = None
    try:
        panel.run_until_done(timeout=60)
        assert panel.experiment.done, panel.status_text()
        panel.pick_box.value = "abc"
        assert "not a stream ID" in panel.status.value, panel.status.value
        panel.redraw()  # what the refresher does on every tick: says so again, raises nothing
        assert "not a stream ID" in panel.status.value, panel.status.value
        panel.stop()
        first = panel.experiment
        panel.run_until_done(timeout=60)  # a re-run with the bad ID still in the box
        assert panel.experiment is not first and panel.experiment.done, panel.status_text()
        assert panel.experiment.journal.resolved == 100
        assert not any(w.running for w in panel.workers())
        rerun = ChaosPanel(r, prefix=prefix, entries=100)  # re-running the cell replaces it
        assert "ready" in rerun.status.value
    finally:
        panel.pick_box.value = ""
        panel.close()
        if rerun is not None:
            rerun.close()


def test_decreasing_id_is_explained_and_the_stream_keeps_its_entries(r, stream, cell):
    """No widget sends explicit IDs (the producer always lets Redis pick with ``*``)."""
    before = r.xrange(stream)
    assert_explained(friendly_output(lambda: r.xadd(stream, {"n": 1}, id="3-0")),
                     "only ever grow", "XINFO STREAM key shows it")
    assert_explained(friendly_output(lambda: r.xadd(stream, {"n": 1}, id="7-0")), "only ever grow")
    assert_cli_error(cell(f"XADD {stream} 6-5 n 1"), "equal or smaller", "only ever grow")
    assert_cli_error(cell(f"XADD {stream} 0-0 n 1"), "0-1")
    assert r.xrange(stream) == before
    new_id = r.xadd(stream, {"n": 8})  # * still works after the refusals
    assert int(new_id.split("-")[0]) > 7


# --- a key of another type ---------------------------------------------------------------------

def test_key_of_another_type_is_explained_by_helpers_producer_and_redis_magic(r, prefix, cell):
    key = prefix + "text"
    r.set(key, "hello")
    assert_explained(friendly_output(lambda: r.xadd(key, {"n": 1})), "WRONGTYPE", "TYPE key")
    # fakeredis answers XREAD on a string with a Python AttributeError; explained all the same
    assert_explained(friendly_output(lambda: r.xread({key: "0"})), "WRONGTYPE")
    with pytest.raises(ValueError, match="holds a string, not a stream"):
        Producer(r, key).burst(1)
    assert_cli_error(cell(f"XADD {key} * n 1"), "WRONGTYPE")
    assert_cli_error(cell(f"XREAD STREAMS {key} 0"), "WRONGTYPE", "TYPE key")
    assert r.get(key) == "hello"


def test_key_of_another_type_is_explained_in_the_producer_and_pool_panels(r, prefix):
    key = prefix + "text"
    r.set(key, "hello")
    producer_panel = ProducerPanel(r, key, rate=50)
    pool_panel = ConsumerPoolPanel(r, key, "g", consumers=2, rate=50, name=prefix + "pool")
    try:
        producer_panel.start_button.click()
        assert "WRONGTYPE" in producer_panel.status.value and "holds a string" in producer_panel.status.value
        pool_panel.start_button.click()
        assert "What happened" in pool_panel.status.value and "WRONGTYPE" in pool_panel.status.value, \
            pool_panel.status.value
        assert not producer_panel.busy() and not pool_panel.busy()
    finally:
        producer_panel.close()
        pool_panel.close()
    assert r.get(key) == "hello"


# --- groups ----------------------------------------------------------------------------------------

def test_missing_group_is_explained_and_the_pool_creates_it(r, stream, cell):
    before = r.xrange(stream)
    assert_explained(friendly_output(lambda: r.xreadgroup("nope", "c1", {stream: ">"})),
                     "does not exist", "XGROUP CREATE")
    assert_cli_error(cell(f"XREADGROUP GROUP nope c1 STREAMS {stream} >"), "NOGROUP", "XGROUP CREATE")
    assert_cli_error(cell(f"XGROUP CREATECONSUMER {stream} nope c1"), "NOGROUP")
    # The sampler reports a missing group as "no group yet", not as an error.
    assert Sampler(r, stream, "nope").sample()["lag_source"] == "none"
    # The pool makes the group it needs (XGROUP CREATE ... MKSTREAM) and reads everything.
    pool = ConsumerPool(r, stream, "made", consumers=1, seconds=0, start_id="0")
    pool.start()
    try:
        assert wait_until(lambda: pool.total_processed == 3)
    finally:
        pool.stop()
    assert r.xrange(stream) == before


def test_existing_group_is_explained_and_never_rewound(r, stream, cell):
    r.xgroup_create(stream, "g", id="0")
    r.xreadgroup("g", "c1", {stream: ">"}, count=2)
    before = r.xrange(stream)
    assert_explained(friendly_output(lambda: r.xgroup_create(stream, "g", id="0")),
                     "already exists", "XGROUP SETID")
    assert_cli_error(cell(f"XGROUP CREATE {stream} g 0"), "BUSYGROUP", "already exists")
    # The pool (and the panel built on it) reuse the group where it is.
    assert ConsumerPool(r, stream, "g", start_id="0").create_group() is False
    group = next(g for g in r.xinfo_groups(stream) if g["name"] == "g")
    assert group["last-delivered-id"] == "6-0" and group["pending"] == 2
    assert r.xrange(stream) == before


def test_existing_group_in_the_pool_panel_carries_on_from_where_it_was(r, stream, prefix):
    r.xgroup_create(stream, "g", id="$")
    panel = ConsumerPoolPanel(r, stream, "g", consumers=1, rate=None, ms=0, start_id="0",
                              name=prefix + "pool")
    try:
        panel.run_for(0.5)
        assert panel.pool.total_processed == 0  # the group was at the end: nothing to re-deliver
        assert "error" not in panel.status.value.lower() and "What happened" not in panel.status.value
    finally:
        panel.close()
    assert r.xlen(stream) == 3


# --- an empty or missing stream ----------------------------------------------------------------------

def test_empty_stream_is_an_answer_not_an_error(r, prefix, cell):
    key = prefix + "empty"
    assert r.xrange(key) == [] and r.xlen(key) == 0
    assert r.xread({key: "0"}, block=50) == []
    assert friendly_output(lambda: r.xrevrange(key, count=1)) == ""
    out = cell(f"XLEN {key}\nXRANGE {key} - +\nXREAD COUNT 1 BLOCK 50 STREAMS {key} $")
    assert "(integer) 0" in out and "(empty array)" in out and "(nil)" in out
    assert "(error)" not in out
    row = Sampler(r, key, "g").sample()
    assert row["xlen"] == 0 and row["lag"] is None


def test_empty_stream_in_the_panels_shows_zero_and_no_error(r, prefix):
    key = prefix + "empty"
    producer_panel = ProducerPanel(r, key)
    pool_panel = ConsumerPoolPanel(r, key, "g", consumers=2, rate=None, ms=0, name=prefix + "pool")
    try:
        assert "<b>XLEN</b> 0" in producer_panel.counters.value
        assert "ready" in producer_panel.status.value
        pool_panel.run_for(0.5)
        assert pool_panel.pool.total_processed == 0
        assert pool_panel.status_text() == "stopped"
    finally:
        producer_panel.close()
        pool_panel.close()


# --- payloads that are not flat strings ----------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [(None, "None"), ({"inner": 1}, "dict"), ([1, 2], "list")])
def test_payload_of_none_or_nested_values_is_explained_and_sends_nothing(r, stream, value, shown):
    before = r.xrange(stream)
    assert_explained(friendly_output(lambda: r.xadd(stream, {"temp": value})),
                     f"Python {shown}", "json.dumps")
    producer = Producer(r, stream, payload=lambda sensor, seq: {"temp": value})
    assert_explained(friendly_output(lambda: producer.burst(10)), f"Python {shown}")
    assert r.xrange(stream) == before  # the batch failed before any of it was sent


def test_payload_of_none_in_the_producer_panel_is_explained_when_started(r, stream):
    before = r.xrange(stream)
    panel = ProducerPanel(r, stream, rate=50, payload=lambda sensor, seq: {"temp": None})
    try:
        panel.start()
        assert wait_until(lambda: panel.producer.status == "failed")
        panel.redraw()
        assert "failed" in panel.status.value and "Python None" in panel.status.value
    finally:
        panel.close()
    assert r.xrange(stream) == before


def test_payload_of_none_in_the_producer_panels_burst_stays_explained(r, stream):
    before = r.xrange(stream)
    panel = ProducerPanel(r, stream, rate=50, payload=lambda sensor, seq: {"temp": None})
    try:
        panel.burst_size.value = 10
        panel.burst_button.click()
        # The learner reads the status line after the panel has settled, not within 0.25 s.
        assert wait_until(lambda: not panel.busy() and (panel._refresher is None or not panel._refresher.running))
        assert "Python None" in panel.status.value and "What to do" in panel.status.value
    finally:
        panel.close()
    assert r.xrange(stream) == before


def test_field_without_a_value_in_redis_magic_is_explained(r, stream, cell):
    """redis-cli's nearest to a None value: a field with nothing after it."""
    before = r.xrange(stream)
    assert_cli_error(cell(f"XADD {stream} * temp"), "wrong number of arguments", "XADD key")
    assert r.xrange(stream) == before


# --- BLOCK times ---------------------------------------------------------------------------------------

def test_enormous_block_still_wakes_on_xadd_from_another_client(r, stream):
    """``BLOCK 10**12`` (31 years) is accepted by Redis and fakeredis: it just waits, and an
    XADD from another client wakes it as any BLOCK. No widget takes a BLOCK time."""
    reader = r.new_client()
    replies = []
    name = "streamlab-test-" + uuid.uuid4().hex[:8]
    reader.client_setname(name)
    thread = threading.Thread(target=lambda: replies.append(reader.xread({stream: "$"}, block=10**12)))
    thread.start()
    try:
        assert wait_until(lambda: is_blocked(r, name), timeout=30)
        new_id = r.xadd(stream, {"n": 8})
        thread.join(10)
        assert not thread.is_alive()
        assert replies[0][0][1][0][0] == new_id
    finally:
        if thread.is_alive():
            r.xadd(stream, {"n": 9})
            thread.join(5)
        reader.close()
    assert r.xlen(stream) == 4


def test_enormous_block_in_redis_magic_wakes_on_xadd(r, stream, shell, capsys):
    register(shell, r)
    name = "streamlab-test-" + uuid.uuid4().hex[:8]
    assert shell.run_cell(f"%redis CLIENT SETNAME {name}").success
    capsys.readouterr()
    results = []
    thread = threading.Thread(target=lambda: results.append(
        shell.run_cell(f"%%redis\nXREAD BLOCK 1000000000000 STREAMS {stream} $")))
    thread.start()
    try:
        assert wait_until(lambda: is_blocked(r, name), timeout=30)
        new_id = r.xadd(stream, {"n": 8})
        thread.join(10)
        assert not thread.is_alive() and results[0].success
    finally:
        if thread.is_alive():
            r.xadd(stream, {"n": 9})
            thread.join(5)
    out = capsys.readouterr().out
    assert f'"{new_id}"' in out and "(error)" not in out


def test_block_beyond_what_redis_accepts_is_explained(r, stream, cell):
    assert_explained(friendly_output(lambda: r.xread({stream: "$"}, block=10**20)),
                     "whole number", "BLOCK")
    assert_cli_error(cell(f"XREAD BLOCK 100000000000000000000 STREAMS {stream} $"),
                     "out of range", "BLOCK")
    if not r.backend.is_fake:  # fakeredis takes a negative BLOCK as no BLOCK and answers (nil)
        assert_cli_error(cell(f"XREAD BLOCK -5 STREAMS {stream} $"), "timeout is negative", "BLOCK")
    assert r.xlen(stream) == 3


def test_negative_block_in_python_is_explained(r, stream):
    assert_explained(friendly_output(lambda: r.xread({stream: "$"}, block=-1)), "BLOCK")


# --- REDIS_URL wrong or unreachable --------------------------------------------------------------------

BAD_URLS = {"unreachable": ("redis://127.0.0.1:1/0", "nothing answered"),
            "not a URL": ("localhost:6379", "is not a Redis URL")}


@pytest.mark.parametrize("case", list(BAD_URLS))
def test_wrong_redis_url_is_explained_and_never_falls_back(monkeypatch, case):
    url, words = BAD_URLS[case]
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    out = friendly_output(lambda: sl.connect(quiet=True))
    assert out.startswith("REDIS_URL:") and words in out
    assert "unset REDIS_URL" in out or "should look like redis://" in out
    with pytest.raises(sl.BackendError):  # a wrong REDIS_URL is reported, not skipped for fakeredis
        sl.connect(quiet=True)


def test_wrong_redis_url_in_a_notebook_cell_shows_the_message_without_a_traceback(
        shell, capsys, monkeypatch):
    monkeypatch.setenv("REDIS_URL", BAD_URLS["unreachable"][0])
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    capsys.readouterr()
    shell.run_cell("import streamlab as sl\nr_bad = sl.connect()")
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "nothing answered at redis://127.0.0.1:1/0" in shown
    assert "Traceback" not in shown and "choose_backend" not in shown


@pytest.fixture
def gone_client(backend_kind):
    """A client whose server answered once and is gone now: what a stopped REDIS_URL looks like.

    On fakeredis, a fake server of its own told to stop answering
    (``FakeServer.connected = False``, which raises ``ConnectionError``).
    """
    if backend_kind == "fake":
        backend = sl_backend.choose_backend(backend="fake")
        server = fakeredis.FakeServer(version=sl_backend.FAKE_EMULATES)
        client = sl_backend._make_client(dataclasses.replace(backend, fake_server=server))
        server.connected = False
    else:
        if sl_server.find_server_binary() is None:
            pytest.skip("no redis-server or valkey-server on PATH")
        server = sl_server.PrivateServer().start()
        client = sl.connect(server.url, quiet=True)
        server.stop()
    yield client
    client.close()


def test_server_gone_is_explained_by_helpers_panels_and_redis_magic(gone_client, shell, capsys):
    client = gone_client
    panel = ProducerPanel(client, "streamlab:test:gone", rate=50)
    try:
        assert_explained(friendly_output(lambda: client.xlen("streamlab:test:gone")),
                         "Nothing answered", "Start a server")
        panel.start_button.click()
        assert "Nothing answered" in panel.status.value and "What to do" in panel.status.value
        register(shell, client)
        capsys.readouterr()
        assert shell.run_cell("%%redis\nXLEN streamlab:test:gone").success
        out = capsys.readouterr().out
        assert_cli_error(out, "Start a server")
        assert "Traceback" not in out
    finally:
        panel.close()
