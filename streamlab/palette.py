"""The colours of text the engine renders itself (HTML outcomes, callouts), in one place.

An engine module (no matplotlib): ``streamlab.ui.style`` takes ``STATUS_COLOURS`` and
``MUTED`` from here for the panels, so a status means the same colour in a panel, a
``%%redis`` cell and an exercise's outcome. docs/VISUAL.md has the rules.
"""

from __future__ import annotations

#: Status colours for panels' HTML status lines and verdicts (text on white: darker
#: shades of the same roles, readable at small sizes; never a red/green pair).
STATUS_COLOURS = {"info": "#4d4d4d", "ok": "#005a8c", "warn": "#8a5a00", "error": "#b34700"}
MUTED = "#57606a"  # secondary text: units, "how it is counted", notes
TEXT = "#1f2328"  # body text of a callout: near-black, GitHub's Primer foreground

#: Pale backgrounds under a coloured bar (callouts), by the bar's status.
BACKGROUNDS = {"ok": "#eef5fb", "error": "#fdf1e9"}

#: An exercise's outcome, by status: the mark's and the bar's colour (GitHub's Primer
#: colours, as in Kaggle's learntools; the mark and the label carry the meaning too).
OUTCOME_COLOURS = {
    "correct": "#1a7f37",
    "wrong": "#cf222e",
    "not-attempted": "#6e7781",
    "error": "#bc4c00",
    "hint": "#0969da",
    "solution": "#8250df",
}
#: The background of an outcome's code (a solution).
CODE_BACKGROUND = "#f6f8fa"
