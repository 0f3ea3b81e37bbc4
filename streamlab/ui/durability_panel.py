"""Lesson 08's Try-it panel: pick a persistence setting and a rate, write, SIGKILL, count.

The UI side of ``streamlab.durability`` (which never imports this module). Each run
adds a row to the panel's table; on fakeredis, where there is no server process to
kill, the panel shows the recorded run's row for the setting instead, labelled so.
"""

from __future__ import annotations

import html

import ipywidgets as W

from .. import durability
from . import style
from .panel import Panel, button_row


class DurabilityPanel(Panel):
    """Controls: setting, rate, seconds; **Write, then SIGKILL** runs ``durability.crash_test``.

    Python API: ``run(setting=None, rate=None, seconds=None)`` does what the button does and
    returns the row; ``rows`` holds every row shown so far.
    """

    def __init__(self, r=None, name: str = "lesson08:durability"):
        super().__init__(name)
        self.live = durability.can_run_live(r)
        self.rows: list[dict] = []
        self.setting = W.Dropdown(options=[(v["label"], k) for k, v in durability.SETTINGS.items()],
                                  value="aof-everysec", description="setting")
        self.rate = W.IntSlider(value=300, min=50, max=1000, step=50, description="XADD/s",
                                layout=W.Layout(width="420px"))
        self.seconds = W.FloatSlider(value=1.5, min=1.0, max=4.0, step=0.5, description="seconds")
        self.button = W.Button(description="Write, then SIGKILL", button_style="danger",
                               icon="bolt", layout=W.Layout(width="190px"))
        self.button.on_click(self._report(lambda: self.run()))
        self.table = W.HTML()
        # The same order in every panel: settings (the rate first), buttons, status, results.
        self.widget = W.VBox([self.rate, self.setting, self.seconds, button_row(self.button),
                              self.status, self.table])
        if self.live:
            self.set_status("Ready: each run starts its own server, kills it, restarts it (3-5 s).")
        else:
            rec = durability.recorded()
            self.rate.disabled = self.seconds.disabled = True
            self.button.description = "Show the recorded run"
            self.button.button_style = "info"
            self.set_status(f"fakeredis has no process to kill: this shows the RECORDED run "
                            f"({rec['server']}, {rec['recorded_at']}).")

    def run(self, setting: str | None = None, rate: int | None = None,
            seconds: float | None = None) -> dict:
        """One crash test with the panel's settings (or these), its row added to the table."""
        setting = setting or self.setting.value
        if self.live:
            self.set_status(f"running {durability.SETTINGS[setting]['label']} ...")
            res = durability.crash_test(setting, seconds=seconds or self.seconds.value,
                                        rate=rate or self.rate.value)
            row = {"run": len(self.rows) + 1, "XADD/s asked": res.rate, **res.row()}
            self.set_status(f"{row['setting']}: {row['lost']} of {row['acknowledged']} "
                            f"acknowledged writes lost.", "ok" if row["lost"] == 0 else "warn")
        else:
            rec = durability.recorded()["crash"]
            label = durability.SETTINGS[setting]["label"]
            row = {"run": "recorded", "setting": label, **rec.loc[label].to_dict()}
        self.rows.append(row)
        self.redraw()
        return row

    def start(self) -> "DurabilityPanel":
        self.run()
        return self

    def refresh(self) -> None:
        cols = ["run", "setting", "acknowledged", "present after restart", "lost",
                "acked work handed out again", "XADD/s"]
        self.table.value = style.table_html(self.rows, cols) if self.rows else ""

    def summary(self) -> str:
        lines = [f"DurabilityPanel ({'live' if self.live else 'recorded run'})"]
        for row in self.rows:
            lines.append(f"  {row['run']}: {row['setting']}: acknowledged {row['acknowledged']}, "
                         f"present after restart {row['present after restart']}, lost {row['lost']}")
        return "\n".join(lines)

    def summary_html(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"
