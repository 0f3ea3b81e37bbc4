"""A real private Redis Cluster: it starts and stops cleanly, the partitioned pipeline keeps per-key
order and moves every entry exactly once, CROSSSLOT fails where lesson 09 says and hash tags fix it,
and lesson 04's dead-letter and idempotency scripts lose nothing on it.

Skips without a redis-server/valkey-server binary (fails with STREAMLAB_REQUIRE_SERVER=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import redis

import streamlab as sl
from streamlab import cluster, groups, partitions, server
from streamlab.chaos import ChaosExperiment

from helpers import wait_until

pytestmark = pytest.mark.skipif(
    server.find_server_binary() is None and not os.environ.get("STREAMLAB_REQUIRE_SERVER"),
    reason="no redis-server or valkey-server on PATH to build a cluster from")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def private_cluster():
    pc = cluster.PrivateCluster().start()
    yield pc
    pc.stop()


@pytest.fixture(scope="module")
def rc(private_cluster):
    client = cluster.connect(private_cluster.url, quiet=True)
    yield client
    client.close()


@pytest.fixture
def tag():
    return f"streamlab:test:{uuid.uuid4().hex[:10]}"


def node_dirs(pc) -> list[str]:
    dirs = []
    for node in pc.nodes:
        c = redis.Redis(port=node.port, decode_responses=True)
        dirs.append(c.config_get("dir")["dir"])
        c.close()
    return dirs


def test_private_cluster_starts_healthy_and_stops_leaving_nothing():
    pc = cluster.PrivateCluster().start()
    pids = [n.pid for n in pc.nodes]
    dirs = node_dirs(pc)
    try:
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
        assert all(pc.node_state(i) == "ok" for i in range(3))
        # Equal slot ranges, every slot served once, loopback only, nothing saved.
        c = redis.Redis(port=pc.nodes[0].port, decode_responses=True)
        assert c.config_get("bind")["bind"] == "127.0.0.1"
        assert c.config_get("save")["save"] == "" and c.config_get("appendonly")["appendonly"] == "no"
        assert sum(e - s + 1 for s, e in cluster.slot_ranges(3)) == cluster.SLOTS
        c.close()
    finally:
        pc.stop()
    assert wait_until(lambda: not any(pid_alive(p) for p in pids), 15)
    assert wait_until(lambda: not any(os.path.exists(d) for d in dirs), 15)
    pc.stop()  # twice is fine


OWNER = textwrap.dedent("""
    import sys, time, redis
    from streamlab import cluster
    pc = cluster.PrivateCluster().start()
    dirs = [redis.Redis(port=n.port, decode_responses=True).config_get("dir")["dir"] for n in pc.nodes]
    print(" ".join(str(n.pid) for n in pc.nodes), " ".join(dirs), flush=True)
    pc.freeze(1)  # even a stopped (SIGSTOP) node must go
    time.sleep(300)
""")


def test_cluster_is_gone_after_its_owner_is_sigkilled():
    proc = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().split()
        pids, dirs = [int(x) for x in line[:3]], line[3:]
        assert len(dirs) == 3 and all(pid_alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until(lambda: not any(pid_alive(p) for p in pids), 20), "a node outlived its owner"
        assert wait_until(lambda: not any(os.path.exists(d) for d in dirs), 20), "a node's dir was left"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_connect_cluster_true_uses_a_cluster_url_and_refuses_a_single_server(private_cluster, monkeypatch):
    monkeypatch.delenv("STREAMLAB_BACKEND", raising=False)
    monkeypatch.setenv("REDIS_URL", private_cluster.url)
    rc = sl.connect(cluster=True, quiet=True)
    try:
        assert cluster.is_cluster(rc) and rc.backend.kind == "cluster-env"
        assert len(rc.shards()) == 3 and "3 primaries" in rc.banner()
    finally:
        rc.close()
    with server.PrivateServer() as single:
        with pytest.raises(sl.BackendError, match="not a cluster node"):
            sl.connect(single.url, cluster=True, quiet=True)


def test_connect_cluster_true_on_fakeredis_says_there_is_none(monkeypatch, capsys):
    monkeypatch.setenv("STREAMLAB_BACKEND", "fake")
    r = sl.connect(cluster=True)
    assert not cluster.is_cluster(r) and r.backend.is_fake
    assert "no Redis Cluster here" in capsys.readouterr().out


# --- CROSSSLOT and hash tags ------------------------------------------------------------------

def test_crossslot_for_xread_and_multi_and_hash_tags_fix_both(rc, tag):
    a, b = f"{tag}:sensors:a", f"{tag}:sensors:b"
    assert cluster.slot_of(a) != cluster.slot_of(b)
    rc.xadd(a, {"n": 1})
    rc.xadd(b, {"n": 2})
    # The server itself refuses (asked directly, so the client cannot stop it first) ...
    assert "CROSSSLOT" in cluster.server_error(rc, "XREAD", "STREAMS", a, b, "0", "0")
    assert "CROSSSLOT" in cluster.server_error(rc, "MSET", a + ":x", 1, b + ":x", 2)
    # ... and redis-py refuses before sending.
    with pytest.raises(redis.RedisClusterException, match="same key slot"):
        rc.xread({a: "0", b: "0"})
    with pytest.raises(redis.RedisClusterException):
        pipe = rc.pipeline(transaction=True)
        pipe.xadd(a, {"n": 3})
        pipe.xadd(b, {"n": 4})
        pipe.execute()
    ta, tb = f"{tag}:{{sensors}}:a", f"{tag}:{{sensors}}:b"
    assert cluster.slot_of(ta) == cluster.slot_of(tb) == cluster.slot_of("sensors")
    rc.xadd(ta, {"n": 1})
    rc.xadd(tb, {"n": 2})
    assert [s for s, _ in rc.xread({ta: "0", tb: "0"})] == [ta, tb]
    pipe = rc.pipeline(transaction=True)
    pipe.xadd(ta, {"n": 3})
    pipe.xadd(tb, {"n": 4})
    assert len(pipe.execute()) == 2
    rc.delete(a, b, ta, tb)


def test_lesson04_scripts_fail_without_a_tag_and_work_with_one(rc, tag):
    from streamlab.recovery import IdempotencyGuard, dead_letter

    stream, dead = f"{tag}:orders", f"{tag}:orders:dead"
    rc.xgroup_create(stream, "g", id="0", mkstream=True)
    entry = rc.xadd(stream, {"amount": 5})
    rc.xreadgroup("g", "c", {stream: ">"})
    with pytest.raises(redis.RedisClusterException, match="same key slot"):
        dead_letter(rc, stream, "g", entry, {"amount": 5}, dead, deliveries=5)
    with pytest.raises(redis.RedisClusterException, match="same key slot"):
        IdempotencyGuard(rc, f"{tag}:").apply(entry, f"{tag}:total", 5)
    tagged = f"{tag}:{{orders}}:"
    s, d = tagged + "orders", tagged + "orders:dead"
    rc.xgroup_create(s, "g", id="0", mkstream=True)
    entry = rc.xadd(s, {"amount": 5})
    rc.xreadgroup("g", "c", {s: ">"})
    assert dead_letter(rc, s, "g", entry, {"amount": 5}, d, deliveries=5)
    guard = IdempotencyGuard(rc, tagged)
    assert guard.apply(entry, tagged + "total", 5) and not guard.apply(entry, tagged + "total", 5)
    assert rc.get(tagged + "total") == "5" and guard.absorbed() == 1
    rc.delete(stream, dead, s, d, tagged + "total", tagged + "absorbed", guard.marker(entry))


@pytest.mark.parametrize("seed", range(1, 6))
def test_lesson04_reliability_on_the_cluster_with_a_hash_tag(rc, tag, seed):
    prefix = f"{tag}:{{chaos}}:"
    exp = ChaosExperiment(rc, prefix, entries=2000, consumers=3, crash_probability=0.1,
                          poison_share=0.01, min_idle_ms=50, max_deliveries=5, processing_ms=0,
                          restart="same" if seed % 2 == 0 else "new", seed=seed)
    try:
        finished = exp.run_until_done(timeout=120)
        c = exp.counts()
        assert finished, f"not every entry was acked or dead-lettered in time: {c}"
        assert c["produced"] == 2000 == rc.xlen(exp.stream)
        assert c["lost"] == 0 and c["still pending"] == 0
        assert c["crashes"] > 100 and c["duplicate runs (journal)"] > 0
        assert c["duplicates absorbed"] == c["duplicate runs (journal)"]
        assert c["total in Redis"] == c["total expected"]
    finally:
        exp.stop()
    keys = list(rc.scan_iter(match=prefix + "*", count=1000, target_nodes=rc.get_node_from_key(prefix)))
    for k in keys:
        rc.delete(k)


# --- the partitioned pipeline, as processes ---------------------------------------------------

def test_three_producers_three_consumers_six_partitions_exactly_once_in_order(private_cluster, rc, tag):
    base, P, per_key, keys = f"{tag}:sensors", 6, 100, 4
    env = {**os.environ, "REDIS_URL": private_cluster.url, "STREAMLAB_BACKEND": "env"}
    cli = [sys.executable, "-m", "streamlab.cli"]
    producers = [subprocess.Popen(cli + ["produce", f"s{i}", "--stream", base, "--partitions", str(P),
                                         "--keys", str(keys), "--rate", "400", "--count", str(per_key * keys)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(3)]
    consumers = [subprocess.Popen(cli + ["consume", "workers", f"w{i + 1}", "--stream", base,
                                         "--partitions", str(P), "--member", f"{i + 1}/3", "--count", "10",
                                         "--block", "200", "--ledger", "--idle-exit", "3"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(3)]
    outs = []
    for proc in producers + consumers:
        out, err = proc.communicate(timeout=120)
        outs.append(out)
        assert proc.returncode == 0, err
    expected = {f"s{i}.{k}": per_key for i in range(3) for k in range(keys)}
    check = partitions.ledger_check(rc, base, P, expected)
    assert check == {"processed": 1200, "missing": 0, "duplicates": 0, "unexpected": 0,
                     "out_of_order": 0, "wrong_partition": 0}
    assert sum(rc.xlen(partitions.partition_key(base, p)) for p in range(P)) == 1200
    for p in range(P):
        group = rc.xinfo_groups(partitions.partition_key(base, p))[0]
        assert group["pending"] == 0 and group["lag"] == 0
    assert all("0 out of order per key" in out for out in outs[3:])
    # The partitions really are spread: more than one shard holds some.
    assert len({rc.shard_of(partitions.partition_key(base, p)) for p in range(P)}) > 1
    for p in range(P):
        rc.delete(partitions.partition_key(base, p), partitions.partition_key(base, p, "done"))


def test_partition_routing_and_member_ownership():
    assert partitions.owned_partitions(6, (2, 3)) == [1, 4]
    assert sorted(sum((partitions.owned_partitions(6, (i, 3)) for i in (1, 2, 3)), [])) == list(range(6))
    with pytest.raises(ValueError, match="like 1/3"):
        partitions.parse_member("2")
    with pytest.raises(ValueError, match="brace"):
        partitions.check_base("a:{x}")
    keys = [f"sensor{i}" for i in range(1000)]
    moved = partitions.moved_keys(keys, 6, 7)
    assert 0.7 < len(moved) / len(keys) < 0.95  # modulo routing moves about 6 keys in 7
    assert partitions.partition_key("b", 3, "done") == "b:done:{p3}"
    assert cluster.hash_tag("b:done:{p3}") == "p3" and cluster.hash_tag("a{}b") is None


def test_a_frozen_shard_stops_only_its_partitions(private_cluster, rc, tag):
    base = f"{tag}:sensors"
    report = cluster.shard_outage(rc, private_cluster, base, 6, shard=0, wait=True)
    frozen = report[report["shard"] == 0]
    others = report[report["shard"] != 0]
    assert (frozen["during"] == "no answer").all()
    assert (others["during"] == "ok").all()
    assert (report["after"] == "ok").all()
    assert private_cluster.wait_healthy(30)
    for p in range(6):
        rc.delete(partitions.partition_key(base, p))


def test_doctor_shows_the_cluster_lesson_09_would_use(private_cluster, monkeypatch):
    from streamlab import diagnostics

    monkeypatch.setenv("REDIS_URL", private_cluster.url)
    check = next(c for c in diagnostics.diagnose().checks if c.name == "cluster")
    assert check.ok and "is a cluster node" in check.detail
    monkeypatch.delenv("REDIS_URL")
    check = next(c for c in diagnostics.diagnose(url=None).checks if c.name == "cluster")
    assert check.ok and "private 3-primary cluster" in check.detail
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    check = next(c for c in diagnostics.diagnose().checks if c.name == "cluster")
    assert not check.ok and "did not answer" in check.detail


def test_a_cluster_transaction_parses_replies_like_a_plain_client(rc, tag):
    # redis-py 8.1 skips the per-command parsers after a cluster EXEC; ClusterClient adds them.
    stream = f"{tag}:{{t}}:s"
    rc.xgroup_create(stream, "g", id="0", mkstream=True)
    rc.xadd(stream, {"n": 1})
    rc.xreadgroup("g", "c", {stream: ">"})
    pipe = rc.pipeline(transaction=True)
    pipe.xinfo_groups(stream)
    pipe.xpending_range(stream, "g", min="-", max="+", count=10)
    groups, pending = pipe.execute()
    assert groups[0]["name"] == "g" and groups[0]["pending"] == 1
    assert pending[0]["consumer"] == "c"
    rc.delete(stream)


# --- the partitioned consumer's once-per-entry effects, on the cluster ------------------------

def test_partitioned_consume_on_the_cluster_one_alert_after_a_claim_and_a_failing_write_stays_pending(rc, tag):
    """The same checks as test_partitions_safety.py, on partitions spread over the shards."""
    from test_partitions_safety import claim_race

    base = f"{tag}:claims"
    stats, late = claim_race(rc, base)
    assert stats.alerts == 1 and late == "duplicate"
    assert rc.xlen(partitions.partition_key(base, 0, "alerts")) == 1
    assert rc.xlen(partitions.partition_key(base, 0, "done")) == 1
    # A failing alert write on another partition (another shard): pending, then dead-lettered.
    p = next(p for p in range(1, 12) if rc.shard_of(partitions.partition_key(base, p))
             != rc.shard_of(partitions.partition_key(base, 0)))
    stream, alerts = partitions.partition_key(base, p), partitions.partition_key(base, p, "alerts")
    groups.ensure_group(rc, stream, "workers", "0")
    entry = rc.xadd(stream, {"sensor_id": "s.1", "temp": "30", "seq": "1"})
    rc.set(alerts, "not a stream")
    rc.xreadgroup("workers", "w1", {stream: ">"}, count=1)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        partitions.programs.effects_and_ack(rc, stream, "workers", entry,
                                            [(alerts, {"temp": "30"})])
    assert rc.xpending(stream, "workers")["pending"] == 1
    lines = []
    stats = partitions.consume(rc, "workers", "w1", base, p + 1, member=(p + 1, p + 1), block_ms=50,
                               alert_above=25, max_deliveries=2, retry_after=0.05, idle_exit=0.2,
                               out=lines.append)
    assert stats.dead_lettered == 1 and stats.total == 0, lines
    assert [f["original_id"] for _, f in rc.xrange(partitions.partition_key(base, p, "dead"))] == [entry]
    # Keys of another slot in one script: refused before it runs.
    with pytest.raises(redis.RedisClusterException, match="same key slot|CROSSSLOT"):
        partitions.programs.effects_and_ack(rc, stream, "workers", entry,
                                            [(partitions.partition_key(base, 0, "alerts"), {"x": "1"})])
    for q in (0, p):
        rc.delete(*(partitions.partition_key(base, q, kind) for kind in (None, "alerts", "done", "dead")))


def test_a_cluster_client_probes_features_as_a_single_server_does(rc):
    """COMMAND INFO/DOCS go to one node, the tries to a hash-tagged scratch key: the answers
    are those of the same server binary alone, and the banner names the server from HELLO."""
    from streamlab import backend as sl_backend

    sl_backend.forget_probes()
    on_cluster = {f: rc.supports(f) for f in sl_backend.FEATURES}
    with server.PrivateServer() as srv:  # the binary the private cluster was started from
        alone = sl.connect(srv.url, quiet=True)
        try:
            assert on_cluster == alone.features()
            assert f"({alone.backend.server})" in rc.banner()
        finally:
            alone.close()
    assert not list(rc.scan_iter(match="streamlab:probe:*"))  # the scratch keys are gone
