"""Numbers and facts the lessons' prose quotes, checked against what the cells print.

Each claim names a code cell by a snippet of its source (unique in that lesson) and a
regular expression its output must match. ``tests/test_notebooks.py`` checks them on
every backend, top to bottom and as a learner runs the lesson (every cell twice, with
a pause after setup): a number the prose quotes must hold in all of those runs.

When you write "XLEN says 2" in a lesson, add the claim here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    cell: str      # a snippet of the cell's source, unique within the lesson
    expect: str    # a regular expression the cell's output must match
    why: str = ""  # the sentence of prose that quotes it


CLAIMS: dict[str, list[Claim]] = {
    "01-xadd-and-ids": [
        Claim("XADD lesson01:demo * sensor_id sensor1", r"\(integer\) 2\b", "XLEN counts two entries"),
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
        Claim("for limit in (None, 500, 0)", r"MAXLEN ~ 1000: removed 10000 entries[\s\S]*LIMIT 500: removed 500 entries[\s\S]*LIMIT 0: removed 500 entries \(1500 -> 1000",
              "the first call removed 10,000, the next 500, LIMIT 0 finished the job"),
        Claim("xdel_key = \"lesson05:xdel\"", r"1000 XADDs\s+1000\s+10\b[\s\S]*XDEL of 250 entries\s+750\s+10\b[\s\S]*XTRIM MAXLEN = 500\s+500\s+5\b",
              "XDEL freed no node; trimming freed 5"),
        Claim("ids, states, _ = replay(\"XTRIM MAXLEN = 5\")", r"XTRIM MAXLEN = 5\s+5\s+3\s+3\s+(7|5)\b",
              "3 pending after the trim; lag 7 (Redis 7.x, fakeredis) or 5 (Redis 8)"),
        Claim("replay(\"XAUTOCLAIM\")", r"deleted: \['\d+-\d+', '\d+-\d+', '\d+-\d+'\]\s+pending now: 0\b",
              "XAUTOCLAIM reported the three and cleared them"),
        Claim("sized = \"lesson05:sized\"", r"entries added 1,500, XLEN 1,000[\s\S]*reads 1,000: n = 500 to 1499",
              "readings 0 to 499 were never delivered"),
        Claim("rate, cap = 50, 100_000", r"down 10 min[^\n]*ok[\s\S]*down 20 min[^\n]*ALERT[\s\S]*down 40 min[^\n]*20,000 unread",
              "alert at half the cap; trimming eats unread readings after 33 minutes"),
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
        Claim("XINFO GROUPS lesson07:sensors", r'"workers"\s+3\) "consumers"\s+4\) \(integer\) 4\b',
              "workers has 4 consumers: w1, w2, w3 and the reaper"),
    ],
    "04-failure-and-recovery": [
        Claim("summary = recovery.pending_summary(r, \"lesson04:orders\"", r"'total': 4\b[\s\S]*alice\s+3\b[\s\S]*bob\s+1\b",
              "4 entries pending, alice 3, bob 1"),
        Claim("claimed by both:", r"20 claims for 20 entries; claimed by both: 0\b",
              "each entry went to exactly one rescuer"),
        Claim("pages = recovery.autoclaim_pages(", r"0-0\s+\S+\s+10\b[\s\S]*\s0-0\s+5\b",
              "the first page skips the ten just claimed and claims ten, the last five end the scan"),
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
        Claim("chaos.ledger()", r"\blost\s+0\b", "lost must read 0"),
        Claim("runs = chaos.work_runs()", r"each order counted once", "the total in Redis counts each order once"),
    ],
}


def output_text(cell) -> str:
    """Everything a cell showed, as text (stream output, plain text, HTML)."""
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        data = out.get("data", {})
        parts.append(data.get("text/plain", ""))
        parts.append(data.get("text/html", ""))
    return "\n".join(parts)


def broken_claims(lesson: str, nb) -> list[str]:
    """Each claim of ``lesson`` that the executed notebook ``nb`` does not bear out."""
    problems = []
    for claim in CLAIMS.get(lesson, []):
        cells = [c for c in nb.cells if c.cell_type == "code" and claim.cell in c.source]
        if len(cells) != 1:
            problems.append(f"claim {claim.cell!r}: {len(cells)} cells match (want exactly 1)")
            continue
        text = output_text(cells[0])
        if not re.search(claim.expect, text):
            problems.append(f"claim {claim.cell!r} ({claim.why}): output does not match "
                            f"{claim.expect!r}; it was: {text[:300]!r}")
    return problems
