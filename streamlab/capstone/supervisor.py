"""The capstone's supervisor: the one thread that watches a running pipeline.

Every 0.1 s it reads each member's new output and notices exits; every
``interval`` seconds it samples both groups (``XINFO GROUPS``, ``XPENDING``) and the
alerts stream (``XLEN``) for the dashboard. It is a ``streamlab`` worker named after
the pipeline, so starting another pipeline of the same name, ``sl.reset()`` and
``workers.stop_all()`` stop it, and stopping it stops the members.
"""

from __future__ import annotations

from collections import Counter

from .. import workers


class GroupCounts:
    """What ``observe.Sampler`` needs of a pool, for one group of a capstone: its consumers,
    and how many entries each has processed (every run of it, plus the reaper's)."""

    def __init__(self, cap, group: str):
        self.cap, self.group = cap, group

    @property
    def consumers(self) -> list[str]:
        names = [m.name for m in self.cap.members.values() if m.group == self.group]
        return names + (["reaper"] if self.group == self.cap.group and self.cap.reaper else [])

    @property
    def processed(self) -> Counter:
        counts = Counter()
        for m in self.cap.runs():  # a restarted worker's line carries on from its earlier run
            if m.group == self.group:
                counts[m.name] += m.processed
        if self.group == self.cap.group and self.cap.reaper is not None:
            counts["reaper"] = len(self.cap.reaper_ids)
        return counts


class Supervisor(workers.Worker):
    """The pipeline's own thread: reads members' output, notices exits, and samples."""

    def __init__(self, cap):
        super().__init__(cap.name)
        self.cap = cap

    def on_start(self) -> None:
        self.client = self.cap.r.new_client()  # its own connection: samples never wait for the notebook's

    def step(self) -> None:
        self.cap._tick(self.client)
        self.sleep(0.1)

    def on_stop(self) -> None:
        try:
            self.cap._stop_members(self.cap.stop_timeout)
        finally:
            self.client.close()
