"""The instructor's board figure follows the course's look: projector sizes, a headline that
states the result, passed in the good outcome's blue, one label per lesson."""

from __future__ import annotations

from streamlab.ui import style
from streamlab import workshop
from streamlab.ui.figures.board import COLOURS, board_figure, board_headline


def _progress() -> workshop.Progress:
    progress = workshop.Progress(None, now=lambda: 1_000_010.0)
    progress.learners = ["ana", "ben", "carl"]
    checks = [("ana", 1, 1, "correct"), ("ana", 1, 2, "correct"), ("ben", 1, 1, "wrong"),
              ("ben", 1, 1, "wrong"), ("ben", 1, 1, "wrong"), ("carl", 3, 1, "error")]
    for n, (learner, lesson, exercise, outcome) in enumerate(checks):
        progress._apply(learner, f"{1_000_000_000 + n}-0",
                        {"lesson": str(lesson), "exercise": str(exercise), "outcome": outcome})
    return progress


def test_the_board_is_a_course_figure_with_a_headline_and_passed_in_blue():
    import test_style

    progress = _progress()
    fig = board_figure(progress)
    assert style.headline_text(fig) == board_headline(progress)
    result, details = board_headline(progress)
    assert result == "2 exercises passed, 1 learner stuck"
    assert details.startswith("3 learners · ") and "(s)" not in result + details
    assert COLOURS[workshop.PASSED] == style.ROLE["acked"]  # blue, not consumer c3's bluish green
    # One tick label per lesson, not one rotated label per exercise.
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    lessons = sorted({key[:2] for key in progress.frame().columns})
    assert labels == lessons
    figures = [("board", fig)]
    test_style.test_every_figure_is_readable_on_a_projector(figures)
    test_style.test_every_figure_states_a_result_with_a_number(figures)
