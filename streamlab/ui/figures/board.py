"""The instructor's progress board as a figure: a heat map of learners x exercises.

``board_figure(progress)`` draws a ``workshop.Progress`` (what ``ui.board_panel.BoardPanel``
shows live, and ``streamlab workshop board`` prints). Colours are the course's roles
(``style.ROLE``: passed blue, tried the pending purple), and every state has a second cue:
*tried* cells are hatched, *stuck* ones are outlined in vermillion with a ``!``, and the
legend says so, so the board also reads on a grey projector.
"""

from __future__ import annotations

from ... import workshop
from .. import style

# The course's roles (docs/VISUAL.md): passed is the good outcome, blue; tried-not-passed is
# work started and not finished, the pending colour, hatched; stuck is past a threshold, a
# vermillion outline with a "!". Not yet is a pale grey so that the eye goes to what happened.
COLOURS = {workshop.PASSED: style.ROLE["acked"], workshop.TRIED: style.ROLE["pending"],
           workshop.NOT_YET: style.EMPTY}
STUCK = style.ROLE["lost"]
HATCH_EDGE = style.PENDING_SHADE  # a dark shade of the pending colour: the hatching reads on it
CODES = {workshop.NOT_YET: 0, workshop.TRIED: 1, workshop.PASSED: 2}


def board_headline(progress: workshop.Progress) -> tuple[str, str]:
    """(result, details) for the board: what was passed and who is stuck; the class's size."""
    frame = progress.frame()
    learners, columns = list(frame.index), list(frame.columns)
    if not learners:
        return "No learners on this server yet", "run `streamlab workshop setup` first"
    passed = sum(c[workshop.PASSED] for c in progress.counts().values())
    stuck = len(progress.stuck())
    result = (f"{style.plural(passed, 'exercise')} passed, "
              f"{style.plural(stuck, 'learner')} stuck" if stuck else
              f"{style.plural(passed, 'exercise')} passed, nobody stuck")
    lessons = len({c[:2] for c in columns})
    details = (f"{style.plural(len(learners), 'learner')} · {style.plural(len(columns), 'exercise')} in "
               f"{style.plural(lessons, 'lesson')} · stuck: {workshop.STUCK_TRIES} failed checks or "
               f"{workshop.STUCK_SECONDS // 60} minutes")
    return result, details


def board_figure(progress: workshop.Progress, title: str | None = None):
    """The heat map (a ``style.figure``): one row per learner, one column per exercise, grouped
    by lesson; the headline says how many exercises were passed and how many learners are stuck."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch, Rectangle

    frame = progress.frame()
    learners, columns = list(frame.index), list(frame.columns)
    rows = max(1, len(learners))
    fig = style.figure(max(9.0, 0.34 * len(columns) + 2.5), min(6.4, max(3.4, 0.4 * rows + 2.6)))
    ax = fig.add_subplot()
    codes = frame.replace(CODES).to_numpy(dtype=float) if learners else [[0] * len(columns)]
    cmap = ListedColormap([COLOURS[workshop.NOT_YET], COLOURS[workshop.TRIED], COLOURS[workshop.PASSED]])
    ax.imshow(codes, cmap=cmap, vmin=0, vmax=2, aspect="auto", interpolation="nearest")
    for i, learner in enumerate(learners):
        for j, key in enumerate(columns):
            if frame.iat[i, j] == workshop.TRIED:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                       edgecolor=HATCH_EDGE, linewidth=0))
    for learner, key, _, _ in progress.stuck():
        if learner not in learners or key not in columns:
            continue  # Progress ignores unknown exercises; never a crash of the panel if not
        i, j = learners.index(learner), columns.index(key)
        ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, edgecolor=STUCK,
                               linewidth=2.5, zorder=4))
        ax.text(j, i, "!", ha="center", va="center", color=STUCK, fontsize=style.SIZE["annotation"],
                fontweight="bold", zorder=5,
                bbox=dict(boxstyle="circle,pad=0.1", facecolor="white", edgecolor="none"))
    ax.set_yticks(range(len(learners)), learners if learners else [])
    # One label per lesson, under the middle of its columns, and a darker line between lessons.
    groups: dict[str, list[int]] = {}
    for j, key in enumerate(columns):
        groups.setdefault(key[:2], []).append(j)
    ax.set_xticks([sum(js) / len(js) for js in groups.values()], list(groups))
    ax.tick_params(labelsize=style.SIZE["tick"], length=0)
    ax.set_xticks([x - 0.5 for x in range(1, len(columns))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1, zorder=2)
    ax.tick_params(which="minor", length=0)
    for j in range(1, len(columns)):
        if columns[j][:2] != columns[j - 1][:2]:
            ax.axvline(j - 0.5, color=style.DIVIDER, linewidth=1)
    ax.set_xlabel("lesson (one column per exercise)", fontsize=style.SIZE["label"])
    result, details = board_headline(progress)
    style.headline(fig, title or result, details)
    legend = [Patch(facecolor=COLOURS[workshop.PASSED], label="passed"),
              Patch(facecolor=COLOURS[workshop.TRIED], hatch="///", edgecolor=HATCH_EDGE,
                    label="tried, not passed"),
              Patch(facecolor=COLOURS[workshop.NOT_YET], edgecolor=style.EMPTY_EDGE, label="not yet"),
              Patch(facecolor="white", edgecolor=STUCK, linewidth=2, label="! stuck")]
    fig.legend(handles=legend, loc="lower center", ncol=4, frameon=False, fontsize=style.SIZE["legend"])
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, style.headline_space(fig)))
    return fig


def figure_png(fig) -> bytes:
    """The board as PNG bytes at twice its pixels (sharp on a projector)."""
    return style.to_png(fig, scale=style.SHARPNESS)
