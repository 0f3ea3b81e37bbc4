"""The exercise framework: outcomes, hints, solutions, and that nothing ever raises at the learner."""

from __future__ import annotations

import textwrap

import pytest

from streamlab import exercises
from streamlab.exercises import ExerciseSet, NotAttempted, Outcome, Wrong

SOLUTIONS = textwrap.dedent('''\
    """Solutions to the toy lesson."""

    # %% ex1: three entries
    ids = [r.xadd("lesson99:stream", {"n": str(i)}) for i in range(3)]

    # %% ex2: a function
    def double(x):
        return 2 * x
    # %% something that is not an exercise
    unrelated = 1
    ''')


def make_set() -> ExerciseSet:
    toy = ExerciseSet(lesson=99, solutions="99-toy.py")

    @toy.add(1, "three entries", hints=["XADD returns the ID.", "Use a list."])
    def ex1(ex, ids):
        stream = ex.key("stream")
        length = ex.r.xlen(stream)
        if length == 0:
            raise NotAttempted(f"{stream} is empty")
        if length != 3:
            raise Wrong(f"the stream has {length} entries but the exercise asks for 3")
        if list(ids) != [e[0] for e in ex.r.xrange(stream)]:
            raise Wrong("those are not the IDs of the entries in the stream")
        return "three entries, and you kept their IDs."

    @toy.add(2, "a function")
    def ex2(ex, double):
        got = ex.call(double, 21)
        if got != 42:
            raise Wrong(f"double(21) returned {got!r}, expected 42")

    @toy.add(3, "None is an answer", blanks=(...,))
    def ex3(ex, value):
        if value is not None:
            raise Wrong("the answer is None")

    @toy.add(4, "a buggy checker")
    def ex4(ex, value):
        return {}["missing"]

    return toy


@pytest.fixture
def solutions_dir(tmp_path, monkeypatch):
    (tmp_path / "99-toy.py").write_text(SOLUTIONS)
    monkeypatch.setenv(exercises.SOLUTIONS_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def toy(r, prefix):
    return make_set().bind(r, prefix)


def test_untouched_placeholder_is_not_attempted_and_does_not_raise(toy):
    ex1, ex2, ex3, _ = toy
    for outcome in (ex1.evaluate(...), ex1.evaluate(None), ex3.evaluate(...)):
        assert outcome.status == "not-attempted"
        assert "placeholder" in outcome.message


def test_check_without_the_answer_shows_the_call_to_make(toy):
    outcome = toy[0].evaluate()
    assert outcome.status == "not-attempted"
    assert "ex1.check(ids)" in outcome.message


def test_checker_can_say_not_attempted_from_server_state(toy):
    outcome = toy[0].evaluate([])
    assert outcome.status == "not-attempted"
    assert "is empty" in outcome.message


def test_wrong_answer_says_what_is_wrong(toy, r, prefix):
    ids = [r.xadd(prefix + "stream", {"n": "1"}) for _ in range(2)]
    outcome = toy[0].evaluate(ids)
    assert outcome.status == "wrong"
    assert outcome.message == "the stream has 2 entries but the exercise asks for 3"


def test_right_answer_is_correct(toy, r, prefix):
    ids = [r.xadd(prefix + "stream", {"n": str(i)}) for i in range(3)]
    outcome = toy[0].evaluate(ids)
    assert outcome.correct
    assert "three entries" in outcome.message


def test_none_can_be_a_real_answer_when_the_exercise_says_so(toy):
    assert toy[2].evaluate(None).correct
    assert toy[2].evaluate(0).status == "wrong"


def test_learner_function_returning_ellipsis_is_not_attempted(toy):
    def double(x):
        return ...

    outcome = toy[1].evaluate(double)
    assert outcome.status == "not-attempted"
    assert "double" in outcome.message


def test_learner_function_that_raises_becomes_a_short_error(toy):
    def double(x):
        raise ValueError("oops\nsecond line that should not be shown")

    outcome = toy[1].evaluate(double)
    assert outcome.status == "error"
    assert "`double(21)` raised ValueError: oops" in outcome.message
    assert "second line" not in outcome.message
    assert "Traceback" not in str(outcome)


def test_learner_passing_a_value_where_a_function_is_expected_is_wrong(toy):
    outcome = toy[1].evaluate(42)
    assert outcome.status == "wrong"
    assert "expected a function" in outcome.message


def test_bug_in_a_checker_becomes_a_short_error(toy):
    outcome = toy[3].evaluate(1)
    assert outcome.status == "error"
    assert "KeyError" in outcome.message and "streamlab bug" in outcome.message


def test_redis_error_while_checking_is_reported_not_raised(toy, r, prefix):
    r.set(prefix + "stream", "not a stream")
    outcome = toy[0].evaluate(["1-1"])
    assert outcome.status == "error"
    assert "WRONGTYPE" in outcome.message


def test_wrong_number_of_answers_is_an_error_naming_the_call(toy):
    outcome = toy[0].evaluate(1, 2)
    assert outcome.status == "error"
    assert "ex1.check(ids)" in outcome.message


def test_check_prints_text_outside_jupyter_and_keeps_the_outcome(toy, capsys):
    toy[0].check(...)
    out = capsys.readouterr().out
    assert "Not attempted yet" in out
    assert toy[0].last.status == "not-attempted"


def test_importing_streamlab_shows_outcomes_with_ipython_only_inside_it(toy, shell, capsys):
    import streamlab

    assert exercises.show is streamlab._show_outcome
    shown = []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    try:
        toy[0].hint()
    finally:
        del shell.display_pub.publish
    assert "text/html" in shown[0] and "XADD returns the ID." in shown[0]["text/plain"]
    assert capsys.readouterr().out == ""


def test_outcome_renders_html_with_coloured_mark_and_plain_text():
    wrong = Outcome("wrong", "Exercise 1: x", "the stream has `2` entries <not 3>")
    bundle = wrong._repr_mimebundle_()
    assert bundle["text/plain"].startswith("✘ Exercise 1: x")
    assert "#cf222e" in bundle["text/html"] and "✘" in bundle["text/html"]
    assert "<code>2</code>" in bundle["text/html"]
    assert "&lt;not 3&gt;" in bundle["text/html"]
    assert "✔" in Outcome("correct", "t", "")._repr_html_()


def test_hints_come_one_at_a_time_and_end_with_the_solution_pointer():
    ex1 = make_set().bind(None)[0]
    first, second, third = (ex1.hint_outcome() for _ in range(3))
    assert "(1 of 2) XADD returns the ID." in first.message
    assert "ex1.hint()" in first.message
    assert "(2 of 2) Use a list." in second.message
    assert "ex1.solution()" in second.message
    assert third.message == second.message
    assert "(1 of 2)" in ex1.hint_outcome(1).message


def test_bound_copies_count_hints_separately():
    toy = make_set()
    a, b = toy.bind(None)[0], toy.bind(None)[0]
    a.hint_outcome()
    assert "(1 of 2)" in b.hint_outcome().message


def test_solution_is_read_from_its_section_with_a_load_line(solutions_dir):
    ex1, ex2, _, _ = make_set().bind(None)
    sol = ex1.solution_outcome()
    assert sol.status == "solution"
    assert sol.code == 'ids = [r.xadd("lesson99:stream", {"n": str(i)}) for i in range(3)]'
    assert sol.message.endswith("%load -r 4-4 " + str(_rel(solutions_dir / "99-toy.py")) + "`")
    assert "unrelated" not in ex2.solution_outcome().code


def _rel(path):
    import os

    return os.path.relpath(path)


def test_missing_solutions_file_says_where_it_should_be(tmp_path, monkeypatch):
    monkeypatch.setenv(exercises.SOLUTIONS_ENV, str(tmp_path))
    toy = ExerciseSet(lesson=99, solutions="99-nowhere.py")

    @toy.add(1, "t")
    def ex1(ex, a):
        return None

    outcome = toy.bind(None)[0].solution_outcome()
    assert outcome.status == "error"
    assert "notebooks/solutions/99-nowhere.py" in outcome.message
    assert str(tmp_path) in outcome.message


def test_solution_sections_give_titles_code_and_line_ranges():
    sections = exercises.solution_sections(SOLUTIONS)
    assert sorted(sections) == [1, 2]
    title, code, first, last = sections[2]
    assert title == "a function"
    assert code.splitlines()[0] == "def double(x):"
    assert (first, last) == (7, 8)


def test_run_solution_uses_the_test_prefix_and_passes_the_checker(toy, solutions_dir, r, prefix):
    ex1, ex2 = toy[0], toy[1]
    answers = exercises.run_solution(ex1)
    assert r.xlen(prefix + "stream") == 3
    assert r.exists("lesson99:stream") == 0
    assert ex1.evaluate(*answers).correct
    assert ex2.evaluate(*exercises.run_solution(ex2)).correct


def test_unbound_exercise_says_how_to_load_it():
    outcome = make_set().exercises[1].evaluate([])
    assert outcome.status == "error"
    assert "exercises.load(99, r)" in outcome.message


def test_load_of_a_lesson_without_exercises_is_a_clear_error(r):
    with pytest.raises(ValueError, match="lesson 42 has no exercises"):
        exercises.load(42, r)


def test_two_exercises_with_one_number_are_refused():
    toy = make_set()
    with pytest.raises(ValueError, match="already has an exercise 1"):
        toy.add(1, "again")(lambda ex, a: None)
