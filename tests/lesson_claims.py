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
              r'\(6-0 \+ COUNT 3\n1\) 1\) "7-0"(?![\s\S]*\n2\) 1\) ")',
              "the last page is shorter than three"),
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
        Claim("as-of-7 lesson03:orders REPLACE",
              r'"1-5"[\s\S]*"1-7"[\s\S]*DELCONSUMER[^\n]*\n\(integer\) 6\n> XGROUP DESTROY[^\n]*\n\(integer\) 1\b',
              "audit given the whole stream again but 1-6; DESTROY answered 1"),
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
    ],
}


def output_text(cell) -> str:
    """Everything a cell showed, as text (stream output, plain text, HTML)."""
    parts = []
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
            parts.append((None, data.get("text/html", "")))
    return "\n".join(text for _, text in parts)


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
