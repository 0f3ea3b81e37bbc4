"""Numbers and facts the lessons' prose quotes, checked against what the cells print.

Each claim names a code cell by a snippet of its source (unique in that lesson) and a
regular expression its output must match. ``tests/test_notebooks.py`` checks them on
every backend, top to bottom and as a learner runs the lesson (every cell twice, with
a pause after setup): a number the prose quotes must hold in all of those runs.

When you write "XLEN says 2" in a lesson, add the claim here. A number that holds only on
some servers (docs/SERVERS.md: lag after a trim, what a deleted stream does to a blocked
read) gets ``on=``: the servers it is checked on, e.g. ``on=redis_before(7, 2)``; the
prose must then say which servers it holds on. The server is read from the lesson's banner.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Server:
    """The server a lesson ran on, as its banner (``sl.connect()``) names it."""

    name: str                  # "redis", "valkey" or "fakeredis"
    version: tuple[int, ...]   # the server's own; on fakeredis the Redis version it emulates


def redis_before(*version: int) -> Callable[[Server], bool]:
    """Real Redis older than ``version`` (Valkey and fakeredis excluded)."""
    return lambda s: s.name == "redis" and s.version < version


def redis_from(*version: int) -> Callable[[Server], bool]:
    """Real Redis ``version`` or newer."""
    return lambda s: s.name == "redis" and s.version >= version


def server_named(*names: str) -> Callable[[Server], bool]:
    """Any version of the servers named ("valkey", "fakeredis", "redis")."""
    return lambda s: s.name in names


@dataclass(frozen=True)
class Claim:
    cell: str      # a snippet of the cell's source, unique within the lesson
    expect: str    # a regular expression the cell's output must match
    why: str = ""  # the sentence of prose that quotes it
    on: Callable[[Server], bool] | None = None  # the servers it holds on; None: every server


CLAIMS: dict[str, list[Claim]] = {
    "01-xadd-and-ids": [
        Claim("XADD lesson01:demo * sensor_id sensor1", r"\(integer\) 2\b", "XLEN counts two entries"),
        Claim("XADD lesson01:explicit 5 reading milliseconds-only",
              r'"1-2"\n> XADD lesson01:explicit 1-2 reading same-id-again\n\(error\)[^\n]*\n'
              r'[\s\S]*0-9 reading older\n\(error\)[\s\S]*milliseconds-only\n"5-0"',
              "the third and fourth XADD fail; the last one's ID is 5-0"),
        Claim("XDEL lesson01:explicit 5-0",
              r"5-0 reading again\n\(error\)[\s\S]*3-0 reading between\n\(error\)",
              "after XDEL of 5-0, 5-0 is still refused, and so is 3-0"),
        Claim('info = r.xinfo_stream("lesson01:explicit")',
              r"newest entry: 1-2\s+last-generated-id: 5-0",
              "the newest entry left is 1-2; last-generated-id stays 5-0"),
        Claim("XTRIM lesson01:explicit MAXLEN 0",
              r"XLEN lesson01:explicit\n\(integer\) 0\n> XADD lesson01:explicit 1-1 reading after-trim\n"
              r"\(error\)[\s\S]*\* reading after-trim\n\"\d+-\d+\"",
              "after XTRIM MAXLEN 0 the stream is empty and still refuses 1-1; * works"),
        Claim("XADD lesson01:partial 1700000000000-* reading a",
              r'"1700000000000-0"[\s\S]*"1700000000000-1"[\s\S]*"1700000000005-0"',
              "the sequence counted 0, 1 within the millisecond, then restarted at 0"),
        Claim("XADD lesson01:nomk NOMKSTREAM", r"XLEN lesson01:nomk\n\(integer\) 2\b",
              "XLEN is 2 there"),
    ],
    "02-reading-and-blocking": [
        Claim('r.delete("lesson02:history")', r"^600\b", "a reading every 100 ms for a minute"),
        Claim("XRANGE lesson02:small (6-0 + COUNT 3",
              r'\(6-0 \+ COUNT 3\n1\) 1\) "7-0"\n +2\) 1\) "n"\n +2\) "7"\n(?! *2\) )',
              "the last page is shorter than three"),
        Claim("XREVRANGE lesson02:small (4-0 - COUNT 3",
              r'^1\) 1\) "3-0"[\s\S]*\n2\) 1\) "2-0"[\s\S]*\n3\) 1\) "1-0"',
              "the three entries before 4-0, newest first"),
        Claim("last_10s = r.xrange", r"100 entries, from 9\.9 s to 0\.0 s before it",
              "100 readings, one every 100 ms"),
        Claim("min=newest_ms - 30_000", r"^100 entries", "the window from 30 to 20 s before"),
        Claim('reply = r.xread({"lesson02:quiet": "$"}, block=500)', r"\[\] after 0\.[5-9]\d s",
              "a little over 0.5 s"),
        Claim("by_url = redis.Redis.from_url",
              r"redis\.Redis\(host=\.\.\.\)\s+socket_timeout 5 s, retries 10\n"
              r"redis\.Redis\.from_url\(\.\.\.\)\s+socket_timeout 5 s, retries 0",
              "Redis(host=...) retries 10 times; from_url does not retry"),
        Claim("print(\"this client's socket_timeout:\"", r"socket_timeout: None\s+\[\] after 1\.\d\d s",
              "the same read simply returns [] when the time is up"),
        Claim("def consume_with_walrus", r"first run handled 5\s+second run handled 3\n",
              "the second run handled only the three new entries"),
        Claim("def consume_with_redis_py",
              r"first run handled (\d+) \(the stream holds \1\)\s+second run handled 2\b",
              "its first run handled every entry in the stream"),
        Claim("sent {panel.producer.sent - sent_before}", r"sent (\d+), received \1\b",
              "every entry sent is printed once"),
        Claim("maxcount_side = newway.where",
              r"COUNT 2:\s+6 entries  a: 1-1 1-2 \| b: 1-1 1-2 \| c: 1-1 1-2\n"
              r"COUNT 2 MAXCOUNT 3: 3 entries  a: 1-1 1-2 \| b: 1-1 \| c: nothing\n",
              "six entries without MAXCOUNT; with it three: both of a's, one of b's, none of c's"),
    ],
    "03-consumer-groups": [
        Claim("as-of-2a lesson03:orders REPLACE",
              r'alice COUNT 2 STREAMS lesson03:orders >\n1\) 1\) "lesson03:orders"\n   2\) 1\) 1\) "1-1"'
              r'[\s\S]*"1-2"[\s\S]*bob COUNT 2 STREAMS lesson03:orders >\n1\) 1\) "lesson03:orders"\n'
              r'   2\) 1\) 1\) "1-3"[\s\S]*bob COUNT 2 STREAMS lesson03:orders >\n\(nil\)',
              "alice got tea and cake, bob the soup, bob's second read (nil)"),
        Claim("as-of-3 lesson03:orders REPLACE",
              r'"alice"\n      2\) (\(integer\) 3|"3")\n   2\) 1\) "bob"\n      2\) (\(integer\) 1|"1")'
              r'[\s\S]*XACK lesson03:orders kitchen 1-1 1-3\n\(integer\) 2\b',
              "alice holds 3 and bob 1; XACK answered 2"),
        Claim("as-of-4b lesson03:orders REPLACE", r"XACK lesson03:orders kitchen 1-2 1-4\n\(integer\) 2\b",
              "let alice finish"),
        Claim('groups = pd.DataFrame(r.xinfo_groups("lesson03:orders"))',
              r"kitchen\s+3\s+0\s+1-5\s+5(\.0)?\s+0(\.0)?\b",
              "kitchen: entries-read 5, lag 0; audit: nil"),
        Claim('groups = pd.DataFrame(r.xinfo_groups("lesson03:orders"))',
              r"audit\s+0\s+0\s+1-3\s+NaN\s+NaN", "audit's entries-read and lag are nil"),
        Claim("def compare_lag",
              r"after the XDEL:\s+XINFO GROUPS lag = None\s+really unread = 1\s+sampler shows 1 \(xrange\)\s+"
              r"after kitchen read the rest:\s+XINFO GROUPS lag = \d\s+really unread = 0\s+sampler shows 0 \(xrange\)",
              "nil right after the XDEL; the sampler counts what is really unread"),
        Claim("%redis XGROUP SETID lesson03:orders audit 0",
              r'^OK\n1\) 1\) "lesson03:orders"\n(?:(?!"1-6")[\s\S])*"1-5"(?:(?!"1-6")[\s\S])*"1-7"'
              r'[^\n]*\n[^\n]*\n[^\n]*"bun"\n\(integer\) 6\n\(integer\) 1\n',
              "audit given the whole stream again but 1-6; DELCONSUMER answered 6, DESTROY 1"),
        Claim('r.delete("lesson03:loop")',
              r"handled 20 entries; its 3 old pending ones first: True\s+pending now: 0\b",
              "the worker finishes its own pending entries first, then the rest; nothing pending"),
        Claim('r.delete("lesson03:fanout")', r"analytics 0\s+c1\s+300\b", "analytics got all 300"),
        Claim("def start_consumer(consumer",
              r"first run: 5 entries processed\s+after a restart: 10 processings of 5 entries\s+"
              r"times each entry was processed: \{2: 5\}", "the restart processed every entry again"),
        Claim("def start_consumer_fixed", r"\{1: 5\}", "each entry once"),
        Claim('r.delete("lesson03:order-one")', r"out-of-order completions: 0\b",
              "one consumer draws the diagonal"),
        Claim("routed = ConsumerPool", r"out of order for a key:\s+0\b", "zero out-of-order per key"),
        Claim("routed = ConsumerPool", r"readings per partition:\s+\[165, 33, 102\]",
              "165, 33 and 102 of the 300 readings"),
        Claim('newway.idle_and_inactive(r, "lesson03:orders"', r"carol\s+0\s+\d+\s+-1\s+never got entries",
              "carol read only with NOACK: inactive -1"),
        Claim('newway.idle_and_inactive(r, "lesson03:orders"',
              r"\nname\s*\n[\s\S]*alice\s+0\s+\d+\s+\d+\s+got entries",
              "on 7.2+ and Valkey the table comes from your server",
              on=lambda s: redis_from(7, 2)(s) or s.name == "valkey"),
        Claim('newway.idle_and_inactive(r, "lesson03:orders"',
              r"has only 'idle' \('inactive' came in Redis 7\.2\)\.\nBelow: [^\n]*measured on Valkey 8\.1\.8",
              "elsewhere it is a table measured on Valkey 8.1.8", on=redis_before(7, 2)),
        Claim('newway.idle_and_inactive(r, "lesson03:orders"',
              r"sets 'inactive' on every read[^\n]*\nBelow: [^\n]*measured on Valkey 8\.1\.8",
              "elsewhere it is a table measured on Valkey 8.1.8", on=server_named("fakeredis")),
    ],
    "05-trimming-and-retention": [
        Claim("XADD lesson05:app:events MAXLEN 10000", r"XTRIM[^\n]*\n\(integer\) 0\b[\s\S]*XLEN[^\n]*\n\(integer\) 1\b",
              "XTRIM removed none: one entry is well under the cap"),
        Claim("article_key = ", r"about (6[5-9]|7[0-5]) entries per node", "about 70 per node, not 100"),
        Claim("retention.fill(r, nodes_key, 1050)  # the same", r"\(integer\) 0\s+\(integer\) 100\s+\(integer\) 950\b",
              "MAXLEN ~ 1000 removed 0, MAXLEN ~ 950 removed 100"),
        Claim("r.xadd(capped, {\"n\": n}, maxlen=5", r"XLEN: 5\b", "capped at exactly 5"),
        Claim("retention.trim(r, nodes_key, maxlen=925", r"MAXLEN = 925\s+25\s+950\s+925\b[\s\S]*MAXLEN = 925\s+10\s+10\b",
              "the exact trim to 925 removed 25 entries but left 10 nodes"),
        Claim("for limit in (None, 500, 0)", r"MAXLEN ~ 1000: removed 10,000 entries[\s\S]*LIMIT 500: removed 500 entries[\s\S]*LIMIT 0: removed 500 entries \(1,500 -> 1,000",
              "the first call removed 10,000, the next 500, LIMIT 0 finished the job"),
        Claim("xdel_key = \"lesson05:xdel\"", r"1000 XADDs\s+1000\s+10\b[\s\S]*XDEL of 250 entries\s+750\s+10\b[\s\S]*XTRIM MAXLEN = 500\s+500\s+5\b",
              "XDEL freed no node; trimming freed 5"),
        Claim("ids, states, _ = replay(\"XTRIM MAXLEN = 5\")", r"XTRIM MAXLEN = 5\s+5\s+3\s+3\s+(7|5)\b",
              "3 pending after the trim; lag 7 (Redis 7.x, fakeredis) or 5 (Redis 8)"),
        Claim("replay(\"XAUTOCLAIM\")", r"deleted: \['\d+-\d+', '\d+-\d+', '\d+-\d+'\]\s+pending now: 0\b",
              "XAUTOCLAIM reported the three and cleared them"),
        Claim("sized = \"lesson05:sized\"", r"entries added 1,500, XLEN 1,000[\s\S]*reads 1,000: n = 500 to 1499",
              "readings 0 to 499 were never delivered"),
        Claim("sized = \"lesson05:sized\"", r"XINFO GROUPS says lag 1,000; last-delivered-id 0-0, first entry \d+-\d+",
              "lag said 1,000 (the stream's length), not 1,500; last-delivered-id older than the first entry"),
        # On fakeredis the figures are the recorded real-server ones; on a real server they are
        # measured now. Either way both rows removed 99,000 of 100,000 (the figure says which).
        Claim("timing = retention.trim_timing(r)",
              r"\nexact\s+[\d.]+\s+99,?000\b[^\n]*\n~\s+[\d.]+\s+99,?000\b",
              "one XTRIM of 100,000 down to 1,000: exact and ~ each remove 99,000"),
        Claim("rate, cap = 50, 100_000", r"down 10 min[^\n]*ok[\s\S]*down 20 min[^\n]*ALERT[\s\S]*down 40 min[^\n]*20,000 unread",
              "alert at half the cap; trimming eats unread readings after 33 minutes"),
        Claim("newway.trim_policies(",
              r"plain \(your server\)\s+5\s+5\s+1-6 \.\. 1-10\s+1-3 \(gone\) 1-4 \(gone\)\n"
              r"KEEPREF \((?:emulation|your server)\)\s+5\s+5\s+1-6 \.\. 1-10\s+1-3 \(gone\) 1-4 \(gone\)\n"
              r"DELREF \((?:emulation|your server)\)\s+5\s+5\s+1-6 \.\. 1-10\s+-\n"
              r"ACKED \((?:emulation|your server)\)\s+2\s+8\s+1-3 \.\. 1-10\s+1-3 1-4",
              "plain/KEEPREF remove five with 1-3, 1-4 gone; DELREF empties the PEL; ACKED removes 2, XLEN 8"),
        Claim("XACKDEL lesson05:acked workers",
              r"XACKDEL[^\n]*\n1\) \(integer\) 1\n2\) \(integer\) 1\n> XPENDING[^\n]*\n\(empty array\)\n"
              r"[\s\S]*> XLEN[^\n]*\n\(integer\) 8\b",
              "1 per ID: acked and deleted; nothing pending; 8 entries"),
    ],
    "06-pubsub-vs-streams": [
        Claim("PUBLISH before anyone listens", r"PUBLISH before anyone listens: 0\b[\s\S]*PUBLISH replied: 1\b[\s\S]*anything else\?\s+None",
              "nobody subscribed: 0; then one subscriber got it; 'too early' never arrives"),
        Claim("result = experiment.run(", r"Pub/Sub subscriber\s+60\s+40\b[\s\S]*stream consumer group\s+100\s+0\b",
              "the subscriber received 60, the stream consumer all 100"),
        Claim("subscriber missed:", r"subscriber missed: 31 to 70 \(40 events\)[\s\S]*missed: nothing[\s\S]*in order: True",
              "events 31-70 lost by the subscriber; the stream consumer missed nothing"),
        Claim("for group in (\"billing\", \"audit\", \"search\")",
              r"subscriber 1\s+30\b[\s\S]*subscriber 3\s+30\b[\s\S]*billing\s+30\b[\s\S]*audit\s+30\b[\s\S]*search\s+30\b",
              "each subscriber and each group got all 30"),
    ],
    "07-capstone": [
        Claim("cap.ledger()", r"NOTHING LOST", "the ledger adds up"),
        Claim("demo = \"lesson07:multi-demo\"", r"alerts for one reading: 2\b[\s\S]*WRONGTYPE[\s\S]*still pending: 0\b",
              "MULTI/EXEC: two alerts for one reading; a failed XADD and the XACK still applied"),
        Claim("XINFO GROUPS lesson07:sensors", r'"workers"\s+3\) "consumers"[\s\S]*"lag"\s+12\) \(integer\) 0\b',
              "the groups' state as redis-cli shows it: workers caught up (lag 0)"),
    ],
    "04-failure-and-recovery": [
        Claim("summary = recovery.pending_summary(r, \"lesson04:orders\"", r"'total': 4\b[\s\S]*alice\s+3\b[\s\S]*bob\s+1\b",
              "4 entries pending, alice 3, bob 1"),
        Claim("claimed by both:", r"20 claims for 20 entries; claimed by both: 0\b",
              "each entry went to exactly one rescuer"),
        Claim("XAUTOCLAIM lesson04:backlog workers rescuer 100 0-0 COUNT 3",
              r'^1\) "\d+-\d+"\n2\) 1\) 1\) "\d+-\d+"[\s\S]*\n   3\) 1\) "\d+-\d+"[\s\S]*\n3\) \(empty array\)\n',
              "one call claimed three entries (all shown), deleted none, and gave a cursor"),
        Claim("pages = recovery.autoclaim_pages(", r"0-0\s+\S+\s+10\b[\s\S]*\s\S+\s+\S+\s+10\b[\s\S]*\s0-0\s+2\b",
              "the first page skips the three just claimed and claims ten, then ten, the last two end the scan"),
        Claim("worked on twice", r"worked on twice: \['0', '1', '2'\]", "both processes work on orders 0, 1 and 2"),
        Claim("pd.DataFrame(r.xinfo_consumers(", r"gina\s+3\b", "one consumer, gina, with 3 pending"),
        Claim("dead = \"host-a-4711\"", r"claimed 3 entries from host-a-4711[\s\S]*DELCONSUMER replied 0\b",
              "claim first, then DELCONSUMER has nothing left to drop"),
        Claim("reaper.run_for(1.0)", r"dead-lettered 1\b", "the bad payment is dead-lettered"),
        Claim("pending_summary(r, \"lesson04:payments\"", r"'total': 0\b", "the PEL is empty"),
        Claim("naive = r.incrby", r"60\s+False\s+30\b", "naive total 60, guarded total 30"),
        Claim("duplicates absorbed by the guard", r"absorbed by the guard: 3\b", "three duplicates turned away"),
        Claim("retried = r.xadd(", r"entry ID:\s+10\b[\s\S]*reading_id:\s+5\b",
              "the entry-ID guard counts 10 kWh, the reading_id guard 5"),
        Claim("shutdown.request(", r"pending now: 0\b", "every batch in hand was finished and acked"),
        Claim("panel.run_until_done(timeout=30)", r"dead-lettered, 0 lost\.", "lost must read 0"),
        Claim("runs = chaos.work_runs()", r"each order counted once", "the total in Redis counts each order once"),
        Claim("claim_side.cli(",
              r'1\) "1-1"[\s\S]*?4\) \(integer\) 1\n[\s\S]*?"1-2"[\s\S]*?4\) \(integer\) 1\n'
              r'[\s\S]*?"1-3"[\s\S]*?4\) \(integer\) 1\n[\s\S]*?"1-4"[\s\S]*?3\) \(integer\) 0\n\s+4\) \(integer\) 0',
              "1-1 to 1-3 delivered once before; 1-4 is new: 0 and 0"),
        Claim("newway.claim_compare(",
              r"1-1\s+tea\s+call 1: XAUTOCLAIM\s+1\s+\d+\s+1\n[\s\S]*1-3\s+soup\s+call 1: XAUTOCLAIM\s+3\s+\d+\s+1\n"
              r"1-4\s+cake\s+call 2: XREADGROUP >\s+4\s+0\s+0\n[\s\S]*1-7\s+tart\s+call 2: XREADGROUP >\s+7\s+0\s+0",
              "same entries; here also the same order"),
        Claim("newway.claim_consumer_pass(",
              r"pass 1: \{'acked': \['1-1', '1-2', '1-4', '1-5', '1-6', '1-7'\], 'failed': \['1-3'\], 'dead-lettered': \[\]\}\n"
              r"pass 2: \{'acked': \[\], 'failed': \[\], 'dead-lettered': \['1-3'\]\}\npending now: 0\b",
              "pass 1 acks six and fails the soup; pass 2 dead-letters it; nothing pending"),
        Claim("newway.nack_scene(",
              r'XAUTOCLAIM lesson04:nack kitchen bob 60000 0\n1\) "0-0"\n2\) \(empty array\)[\s\S]*'
              r"XNACK[^\n]*\n\(integer\) 1\nbob got 1-1 \(soup\), delivered 1 time\(s\) before",
              "XAUTOCLAIM empty; XNACK answered 1; bob got 1-1 at once; FAIL kept the count at 1"),
        Claim('r.delete("lesson04:plain")',
              r"plain XADD \(your server\), sent twice: \('(\d+-\d+)', '(?!\1')\d+-\d+'\), XLEN 2\n"
              r"[^\n]*IDMP sensor1 1001 \((?:emulation|your server)\), sent twice: \('(\d+-\d+)', '\2'\), XLEN 1\b",
              "without IDMP two IDs; with it the retry got the first ID back, one entry"),
    ],
    # Lesson 08: live on a real server, the recorded run on fakeredis. Only outcomes that hold
    # in every run are claimed (timings and RDB's loss vary with where the kill lands).
    "08-durability-and-operations": [
        Claim("for setting, row in crash.iterrows()",
              r"no persistence: lost (\d+) of \1 acknowledged; the group is gone",
              "no persistence: every acknowledged write is gone, and so is the group"),
        Claim("for setting, row in crash.iterrows()",
              r"AOF, appendfsync always: lost 0 of \d+ acknowledged; .*; 0 acked entries",
              "AOF always: nothing lost, no acknowledged work handed out again"),
        Claim("for setting, row in crash.iterrows()",
              r"everysec lost (0\.\d\d|1\.\d\d|2\.00) s of writes",
              "everysec loses at most about a second (two while an fsync stalls)"),
        Claim("for name, df in writes.items()",
              r"XADD only: acknowledged \d+, missing on the new primary: [1-9]\d*; "
              r"sent after the cut: ([1-9]\d*), of them acknowledged \1, missing \1\n",
              "without WAIT every write sent after the cut was acknowledged and is missing"),
        Claim("for name, df in writes.items()",
              r"XADD \+ WAIT 1: acknowledged \d+, missing on the new primary: 0; "
              r"sent after the cut: [1-9]\d*, of them acknowledged 0, missing 0\n",
              "with WAIT 1 no acknowledged write is missing, and none sent after the cut was acknowledged"),
        Claim("situations = {name: dur.scenario(r, name)", r"A: alerts .*-> add consumers",
              "A: add consumers"),
        Claim("situations = {name: dur.scenario(r, name)", r"B: alerts .*-> consumers not acking",
              "B: the consumer never acks"),
        Claim("situations = {name: dur.scenario(r, name)", r"C: alerts .*-> dead consumer c3",
              "C: c3 is dead"),
        Claim('situations["C"].iloc[[0, -1]]', r"C, last tick: pending 3, least active consumer c3",
              "c3 goes quiet holding 3 entries"),
        Claim("bp = dur.backpressure(", r"'trimmed before the group read them': 150",
              "150 entries were trimmed before the group read them"),
        Claim("bp = dur.backpressure(", r"room left before the cap removes unread entries: 0",
              "no room left"),
        Claim("def dead_consumer_group(key)", r"DELCONSUMER first: it returned 3; pending now: 0",
              "DELCONSUMER drops the 3 pending entries"),
        Claim("def dead_consumer_group(key)",
              r"'claimed': 3, 'pending dropped by DELCONSUMER': 0",
              "claim first, then DELCONSUMER returns 0"),
        Claim('row = panel.run("aof-always")',
              r"AOF, appendfsync always: acknowledged \d+, lost 0, present after restart \d+",
              "the panel's AOF always run loses nothing"),
    ],
    "09-redis-cluster": [
        Claim('for key in ["lesson09:{orders}:stream"', r"(?s)(stream.*slot=105\n.*dead.*slot=105\n.*total.*slot=105)",
              "the first three share slot 105"),
        Claim("a, b = \"lesson09:sensor:a\"", r"server says: CROSSSLOT", "the server answers CROSSSLOT"),
        Claim("ta, tb = ", r"slots: (\d+) \1\n", "the tagged streams share a slot"),
        Claim("placement.groupby", r"\[2, 2, 1, 0, 2, 2\]|0\s+\[3\]\n1\s+\[2\]\n2\s+\[0, 1, 4, 5\]",
              "p0 ... p5 hash to shards 2, 2, 1, 0, 2, 2"),
        Claim('print("processed:", int(summary', r"processed: (\d+) of \1 sent; pending: 0 ; out of order per key: 0",
              "every reading processed, nothing pending, none out of order per key"),
        Claim("moved = partitions.moved_keys", r"851 of 1000 sensors", "most sensors change partition"),
        Claim("def try_scripts", r"dead_letter\s+RedisClusterException.*\n.*IdempotencyGuard.apply\s+RedisClusterException",
              "both scripts fail with lesson 04's key names"),
        Claim('try_scripts("lesson09:{orders}:")', r"dead_letter\s+ok: .*\n.*IdempotencyGuard.apply\s+ok: True",
              "both work under one tag"),
        Claim("from streamlab.programs import alert_and_ack",
              r"a2 alerts: True\na1 alerts: False\nalerts written: 1\b",
              "a2 wrote the alert and acked; a1 found it no longer pending: one alert"),
        Claim("cluster.pubsub_traffic", r"PUBLISH\s+100\s+100\s+200\n.*SPUBLISH\s+100\s+100\s+0\b",
              "classic 200 bus messages, sharded none"),
        Claim("cluster.shard_outage", r"\{p3\}\s+0 no answer", "only {p3}, on shard 0, stopped"),
    ],
}


def output_text(cell) -> str:
    """Everything a cell showed, as text (stream output, plain text, HTML)."""
    parts, pages = [], []
    for out in cell.get("outputs", []):
        if "text" in out:
            # A printed stream arrives in pieces, cut wherever the kernel happened to flush:
            # glue them back as they were printed, so a claim never depends on the cut.
            if parts and parts[-1][0] == out.get("name"):
                parts[-1] = (out.get("name"), parts[-1][1] + out["text"])
            else:
                parts.append((out.get("name"), out["text"]))
        data = out.get("data", {})
        if data:
            parts.append((None, data.get("text/plain", "")))
            pages.append(data.get("text/html", ""))
            if "<details" in data.get("text/html", ""):
                pages.append(unfolded(data["text/html"]))
    # The HTML after all the text: several displays in one cell (a %redis per line) read as
    # their text in a row, as redis-cli would print them.
    return "\n".join([text for _, text in parts] + pages)


def unfolded(page: str) -> str:
    """The text of a folded ``%%redis`` printout (streamlab.ui.magics.Printout) with every line.

    Its plain text is folded ("… N more items"); its HTML holds the rest in a closed
    ``<details>``, which the learner opens with a click: a claim may quote those lines.
    """
    page = re.sub(r"<summary\b.*?</summary>", "\n", page, flags=re.S).replace("</details>", "\n")
    return html.unescape(re.sub(r"<[^>]+>", "", page))


BANNER = re.compile(r"streamlab: (?:connected to|side emulation:) (Redis|Valkey|fakeredis) "
                    r"(\d+(?:\.\d+)*)(?: emulating Redis (\d+(?:\.\d+)*))?")


def server_of(nb) -> Server | None:
    """The server the lesson ran on: the first banner ``sl.connect()`` printed, or None."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        found = BANNER.search(output_text(cell))
        if found and "side emulation" not in found.group(0):
            name, version, emulated = found.groups()
            numbers = tuple(int(n) for n in (emulated or version).split("."))
            return Server(name.lower(), numbers)
    return None


def broken_claims(lesson: str, nb) -> list[str]:
    """Each claim of ``lesson`` that the executed notebook ``nb`` does not bear out."""
    problems = []
    server = server_of(nb)
    for claim in CLAIMS.get(lesson, []):
        if claim.on is not None:
            if server is None:
                problems.append(f"claim {claim.cell!r} holds on some servers only, and no "
                                "banner says which server the lesson ran on")
                continue
            if not claim.on(server):
                continue
        cells = [c for c in nb.cells if c.cell_type == "code" and claim.cell in c.source]
        if len(cells) != 1:
            problems.append(f"claim {claim.cell!r}: {len(cells)} cells match (want exactly 1)")
            continue
        text = output_text(cells[0])
        if not re.search(claim.expect, text):
            problems.append(f"claim {claim.cell!r} ({claim.why}): output does not match "
                            f"{claim.expect!r}; it was: {text[:300]!r}")
    return problems
