"""The capstone's end-of-run accounts: was every reading processed, every hot one alerted once?

``account()`` checks a run against Redis itself and returns a ``Ledger``: one row
per check (what, value, verdict) and whether everything adds up. The ledger is
data and plain text; its coloured table in a notebook comes from
``streamlab.ui.capstone_panel`` (``ledger_html``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from .. import ids as stream_ids
from .. import programs
from ..backend import Client
from ..observe import lag_of
from .members import Member


@dataclass(repr=False)
class Ledger:
    """The end-of-run accounts: one row per check, and whether everything adds up."""

    rows: list[tuple[str, object, str]] = field(default_factory=list)  # (what, value, verdict)
    ok: bool = True
    missing: list[str] = field(default_factory=list)
    # Acked, but by a run killed (SIGKILL) between its XACK and its "processed" line.
    unreported: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["what", "value", "check"])

    def add(self, what: str, value, good: bool, note: str = "") -> None:
        """One check: its verdict starts with ✔ or ✘, and a ✘ makes the whole ledger not ok."""
        self.rows.append((what, value, ("✔ " if good else "✘ ") + note))
        self.ok &= good

    def __str__(self) -> str:
        width = max(len(w) for w, _, _ in self.rows)
        lines = [f"{w:<{width}}  {v!s:>8}  {c}" for w, v, c in self.rows]
        lines.append("NOTHING LOST: every check adds up." if self.ok else "SOMETHING DOES NOT ADD UP (see ✘).")
        return "\n".join(lines)

    __repr__ = __str__


def account(r: Client, *, stream: str, alerts: str, group: str, alert_group: str, threshold: float,
            count: int | None, runs: list[Member], reaper_ids: list[str]) -> Ledger:
    """Check a run against Redis: every reading processed, the alerts exactly the hot readings.

    Reads the whole stream (``XRANGE``), the alerts (``XRANGE``), both groups
    (``XINFO GROUPS``, and each group's lag), and what every run of every worker
    (``runs``) and the reaper (``reaper_ids``) reported processing. ``count``:
    readings each producer was to send (``None``: until stopped, not checked).
    """
    entries = r.xrange(stream)
    ids = [i for i, _ in entries]
    hot = {i for i, f in entries if programs._temperature(f) > threshold}
    alert_sources = [f.get("source_id") for _, f in r.xrange(alerts)]
    done = [i for m in runs if m.role == "worker" for i in m.processed_ids] + list(reaper_ids)
    counted = Counter(done)
    groups = {g["name"]: g for g in r.xinfo_groups(stream)}
    producers = [m for m in runs if m.role == "producer"]  # a producer has one run: never restarted
    produced = sum(m.sent for m in producers)
    expected = count * len(producers) if count is not None else None
    led = Ledger()
    led.missing = [i for i in ids if i not in counted]
    led.unreported = _acked_by_a_killed_run(r, stream, groups.get(group), led.missing, runs)
    led.missing = [i for i in led.missing if i not in led.unreported]
    led.duplicates = sorted(i for i, n in counted.items() if n > 1)

    led.add("readings in the stream (XLEN)", len(ids), expected is None or len(ids) == expected,
            "" if expected is None else f"{count} from each of {len(producers)} sensors")
    led.add("readings the producers printed", produced, produced == len(ids), "= XLEN")
    for name in (group, alert_group):
        g = groups.get(name, {})
        lag = lag_of(r, stream, g)[0] if g else None
        led.add(f"group {name}: pending / lag", f"{g.get('pending', '?')} / {lag}",
                g.get("pending") == 0 and lag == 0, "read everything, acked everything")
    led.add(f"processed by {group} (+ reaper)", len(counted) + len(led.unreported), not led.missing,
            ("every reading" if not led.missing else f"{len(led.missing)} never processed")
            + (f"; {len(led.unreported)} acked by a killed run before it printed 'processed'"
               if led.unreported else ""))
    led.add("processed twice", len(led.duplicates), True,
            "at-least-once: a redelivery after a crash" if led.duplicates else "none")
    led.add(f"readings above {threshold:g} °C", len(hot), True, "counted from XRANGE")
    twice = sorted(i for i, n in Counter(alert_sources).items() if n > 1)
    unalerted = sorted(hot - set(alert_sources))
    problems = ([f"{len(twice)} readings alerted more than once"] if twice else []) + \
               ([f"{len(unalerted)} hot readings without an alert"] if unalerted else []) + \
               (["alerts for readings that are not hot"] if set(alert_sources) - hot else [])
    led.add(f"alerts in {alerts}", len(alert_sources), sorted(alert_sources) == sorted(hot),
            "; ".join(problems) or "exactly the hot readings, each once")
    return led


def _acked_by_a_killed_run(r: Client, stream: str, group: dict | None, unseen: list[str],
                           runs: list[Member]) -> list[str]:
    """Of the readings no run reported, those a killed worker finished before it could say so.

    ``streamlab consume`` prints "processed <id>" right after its ``XACK``, which comes after
    the work. A SIGKILL between the two leaves a reading done and acked but never printed.
    Such a reading was delivered (at or before the group's ``last-delivered-id``) and is no
    longer pending (``XPENDING``). A reading acked without the work looks the same to Redis:
    a dead-lettered one (its copy in ``<stream>:dead`` names it as ``original_id``) is left
    out; one still pending, or never delivered, was not processed. Without a killed worker
    run nothing is excused.
    """
    killed = any(m.role == "worker" and m.status == "killed" for m in runs)
    if not (unseen and killed and group):
        return []
    last = stream_ids.try_parse(group.get("last-delivered-id"))
    pending = {str(p["message_id"]) for p in r.xpending_range(stream, group["name"], "-", "+",
                                                               max(int(group.get("pending") or 0), 1))}
    dead = {f.get("original_id") for _, f in r.xrange(stream + ":dead")}
    return [i for i in unseen
            if last is not None and stream_ids.parse(i) <= last and i not in pending and i not in dead]
