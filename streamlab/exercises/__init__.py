"""Exercises with ``check()``, ``hint()`` and ``solution()``, in the style of Kaggle's learntools.

In a lesson notebook
--------------------
The Exercises section starts with one cell that binds the lesson's exercises
to the learner's client::

    from streamlab import exercises
    ex1, ex2, ex3 = exercises.load(1, r)

Each exercise is then a cell with a blank the learner fills in, followed by the
check, which is given the answer explicitly (no reading of notebook globals:
what is checked is what you see)::

    ids = ...          # your code: the list of IDs XADD returned
    ex1.check(ids)

    ex1.hint()         # the next hint each time it is called
    ex1.solution()     # the solution code, read from notebooks/solutions/

``check()`` shows one of four outcomes, as HTML with a coloured mark in
Jupyter and as one line of text elsewhere; it never raises:

- **not attempted yet** (grey): an answer still holds its placeholder ``...``
  (or ``None``), a learner function still returns ``...``, or the checker finds
  nothing on the server yet;
- **wrong** (red ✘): what is wrong, in the lesson's terms;
- **correct** (green ✔);
- **error** (orange): the learner's function, Redis, or the checker raised; the
  message is a short line (``streamlab.explain``), never a traceback.

How an outcome is shown is ``show``'s business (``print`` here; ``import streamlab``
sets IPython's display in a notebook, which renders ``Outcome._repr_html_``): this
module imports no IPython.

Writing a lesson's checkers (``streamlab/exercises/lessonNN.py``)
----------------------------------------------------------------
::

    from . import ExerciseSet, NotAttempted, Wrong

    exercises = ExerciseSet(lesson=1, solutions="01-xadd-and-ids.py")

    @exercises.add(1, "Three readings, three IDs", hints=[
        "XADD returns the ID of the entry it added.",
        "Collect the three return values in a list.",
    ])
    def ex1(ex, ids):
        stream = ex.key("readings")     # "lesson01:readings"; a test prefix in tests
        if len(ids) != 3:
            raise Wrong(f"you gave {len(ids)} IDs but the exercise asks for 3")
        if ex.r.xlen(stream) == 0:
            raise NotAttempted(f"{stream} is empty")
        return "All three entries are in the stream."   # shown after the tick

- The checker's parameters after ``ex`` are the learner's answers, named as
  the notebook names them (``ids`` above): the notebook calls
  ``ex1.check(ids)``, and the tests use the names to pick the answers out of
  the solution they executed.
- ``ex.r`` is the learner's client (inspect server state through it),
  ``ex.key(name)`` the lesson key (``lesson01:name``), ``ex.call(fn, *args)``
  runs a function the learner wrote: it turns a ``...`` return into "not
  attempted" and an exception into a short error that names the call.
- Raise ``Wrong(message)`` or ``NotAttempted(message)``; return the success
  message (or ``None`` for a plain "Correct").
- Placeholders: ``...`` and ``None`` count as "not attempted" for every answer
  unless the exercise is added with ``blanks=(...,)`` (when ``None`` can be a
  real answer).

Testing a lesson's checkers (``tests/test_exercises_lessonNN.py``)
------------------------------------------------------------------
::

    @pytest.fixture
    def ex(r, prefix):                     # both backends, keys under a test prefix
        return dict(enumerate(exercises.load(1, r, prefix=prefix), start=1))

    def test_solution_passes(ex):
        assert ex[1].evaluate(*exercises.run_solution(ex[1])).correct

    def test_untouched(ex):
        assert ex[1].evaluate(...).status == "not-attempted"

``evaluate()`` returns the ``Outcome`` that ``check()`` would show (``check()``
itself returns None and keeps it in ``ex.last``), so tests read ``.status``
and ``.message``.

Solutions
---------
``notebooks/solutions/NN-name.py`` is the one place a solution is written.
It has one section per exercise, starting with a line ``# %% exN: title``.
``solution()`` shows that section (and the ``%load -r`` line that pastes it
into a cell), and the tests execute the same section and feed its result to
the checker, so a solution and its checker cannot drift apart. Sections use
the lesson's key names (``lesson01:...``); tests swap in their own prefix.
"""

from __future__ import annotations

import copy
import html
import importlib
import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import redis

from ..backend import Client
from ..explain import hint as explain_hint
from ..explain import one_line
from ..keys import lesson_prefix
from ..palette import CODE_BACKGROUND, MUTED, OUTCOME_COLOURS
from ..progress import append_check

__all__ = [
    "Exercise", "ExerciseSet", "NotAttempted", "Outcome", "Wrong",
    "find_solutions_file", "load", "run_solution", "solution_sections",
]

SOLUTIONS_ENV = "STREAMLAB_SOLUTIONS"
_SECTION_RE = re.compile(r"^# %% ex(\d+)\b:?\s*(.*)$")


class Wrong(Exception):
    """Raised by a checker: the answer is wrong, and the message says why in the lesson's terms."""


class NotAttempted(Exception):
    """Raised by a checker: nothing to check yet (the blank is untouched)."""


class CodeRaised(Exception):
    """The learner's own code raised; carries a short description of the call that failed.

    ``original`` is the exception the learner's code raised, so a checker can add
    advice for a known mistake (e.g. indexing an empty reply).
    """

    def __init__(self, message: str, original: BaseException | None = None):
        super().__init__(message)
        self.original = original


def _arg_text(value: Any, limit: int = 60) -> str:
    """How an argument of a learner's function reads in a message: short, in the notebook's terms.

    A client (the learner's ``r``, or a checker's spy wrapped around it) reads ``r``
    rather than its long repr; a datetime reads as its ISO text; anything else is its
    repr, cut to ``limit`` characters.
    """
    if isinstance(value, redis.Redis) or hasattr(value, "xadd"):
        return "r"
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):
        return f"<{value.isoformat()}>"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- outcomes ---------------------------------------------------------------

# status -> (mark, label); the colours are streamlab.palette.OUTCOME_COLOURS
_LOOK = {
    "correct": ("✔", "Correct"),
    "wrong": ("✘", "Not yet right"),
    "not-attempted": ("○", "Not attempted yet"),
    "error": ("⚠", "Could not check"),
    "hint": ("💡", "Hint"),
    "solution": ("📖", "Solution"),
}


@dataclass
class Outcome:
    """What a ``check()``, ``hint()`` or ``solution()`` shows: a status, a message, maybe code."""

    status: str  # correct, wrong, not-attempted, error, hint, solution
    title: str
    message: str
    code: str | None = None

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        mark, label = _LOOK[self.status]
        text = f"{mark} {self.title} — {label}"
        if self.message:
            text += f": {self.message}"
        if self.code:
            text += "\n\n" + self.code
        return text

    def _repr_html_(self) -> str:
        mark, label = _LOOK[self.status]
        colour = OUTCOME_COLOURS[self.status]
        body = html.escape(self.message).replace("\n", "<br>")
        # `backticks` in messages become inline code, as in the lesson prose.
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", body)
        parts = [
            f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">',
            f'<span style="color:{colour};font-weight:bold">{mark} {label}</span>',
            f' <span style="color:{MUTED}">· {html.escape(self.title)}</span>',
        ]
        if body:
            parts.append(f"<div>{body}</div>")
        if self.code:
            parts.append(f'<pre style="background:{CODE_BACKGROUND};padding:6px;margin:4px 0">'
                         f"{html.escape(self.code)}</pre>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": str(self), "text/html": self._repr_html_()}

    def __repr__(self) -> str:
        return str(self)


#: How ``check()``, ``hint()`` and ``solution()`` show their Outcome: its text form, printed.
#: ``import streamlab`` replaces it with one that uses IPython's display in a notebook (HTML,
#: ``Outcome._repr_html_``), so that this engine module needs no IPython.
show: Callable[[Outcome], None] = print


# --- the workshop's progress board ------------------------------------------------------------

def report(ex: "Exercise", outcome: Outcome) -> bool:
    """Append this check to the learner's workshop progress stream; True if it was written.

    One ``XADD workshop:progress:<learner> NOMKSTREAM ...`` (``progress.append_check``) on a
    client without the namespace (the stream is outside it; the learner's ACL allows exactly
    that ``XADD``). Only for a client with a learner namespace, and ``NOMKSTREAM`` writes only
    where ``streamlab workshop setup`` made the stream: no workshop, nothing written. A
    failure (no grant, a lost connection) is swallowed: reporting progress must never break
    a check.
    """
    r = ex.r
    if r is None:  # an exercise not bound to a client (bind(None)) has no workshop
        return False
    learner = r.backend.learner
    if not learner:
        return False
    try:
        plain = getattr(r, "_progress_client", None)
        if plain is None:
            plain = r._progress_client = r.without_namespace()
        return append_check(plain, learner, ex.lesson, ex.number, outcome.status)
    except Exception:  # noqa: BLE001 - the board is a bonus; the learner's check comes first
        return False


# --- solutions --------------------------------------------------------------

def _solution_dirs() -> list[Path]:
    """Where solutions may be, most specific first (a notebook runs with cwd = notebooks/)."""
    dirs = []
    if os.environ.get(SOLUTIONS_ENV):
        dirs.append(Path(os.environ[SOLUTIONS_ENV]))
    cwd = Path.cwd()
    dirs += [cwd / "solutions", cwd / "notebooks" / "solutions",
             Path(__file__).resolve().parents[2] / "notebooks" / "solutions"]
    return dirs


def find_solutions_file(name: str) -> tuple[Path | None, list[Path]]:
    """(path of ``name`` in the first solutions folder that has it, the folders looked in)."""
    looked = _solution_dirs()
    for d in looked:
        if (d / name).is_file():
            return d / name, looked
    return None, looked


def solution_sections(text: str) -> dict[int, tuple[str, str, int, int]]:
    """Split a solutions file: {exercise number: (title, code, first line, last line)}.

    A section starts at a ``# %% exN: title`` line and runs to the next ``# %%``
    line; line numbers are 1-based and cover the code without the marker, as
    ``%load -r`` takes them.
    """
    lines = text.splitlines()
    sections: dict[int, tuple[str, str, int, int]] = {}
    current: tuple[int, str, int] | None = None

    def close(end: int) -> None:
        if current is None:
            return
        number, title, start = current
        body = lines[start:end]
        while body and not body[-1].strip():
            body.pop()
        sections[number] = (title, "\n".join(body), start + 1, start + len(body))

    for i, line in enumerate(lines):
        if line.startswith("# %%"):
            close(i)
            m = _SECTION_RE.match(line)
            current = (int(m.group(1)), m.group(2).strip(), i + 1) if m else None
    close(len(lines))
    return sections


# --- exercises --------------------------------------------------------------

class Exercise:
    """One exercise: ``check(answer...)``, ``hint()``, ``solution()``.

    Made by ``ExerciseSet.add``; ``bind(r)`` gives the copy a notebook uses,
    tied to the learner's client and the lesson's key prefix.
    """

    def __init__(self, lesson: int, number: int, title: str, verify: Callable[..., Any],
                 hints: list[str], solutions: str | None, blanks: tuple = (..., None)):
        self.lesson = lesson
        self.number = number
        self.title = title
        self.verify = verify
        self.hints = list(hints)
        self.solutions = solutions
        self.blanks = blanks
        self.answer_names = list(inspect.signature(verify).parameters)[1:]
        self.r: Client | None = None
        self.prefix = lesson_prefix(lesson)
        self.last: Outcome | None = None
        self._hints_shown = 0

    # --- for notebooks ---------------------------------------------------
    def bind(self, r: Client | None, prefix: str | None = None) -> "Exercise":
        """A copy that checks against ``r``, with keys under ``prefix`` (default ``lessonNN:``)."""
        bound = copy.copy(self)
        bound.r = r
        bound.prefix = prefix if prefix is not None else lesson_prefix(self.lesson)
        bound.last = None
        bound._hints_shown = 0
        return bound

    def check(self, *answers: Any) -> None:
        """Check the answer(s) and show the outcome; never raises. ``self.last`` keeps it.

        In a workshop the outcome is also reported to the instructor's board (``report``).
        """
        self.last = self.evaluate(*answers)
        report(self, self.last)
        show(self.last)

    def hint(self, n: int | None = None) -> None:
        """Show the next hint (or hint ``n``, counting from 1)."""
        show(self.hint_outcome(n))

    def solution(self) -> None:
        """Show the solution code from ``notebooks/solutions/``."""
        show(self.solution_outcome())

    # --- the same, returning the Outcome (tests, other tools) ---------------
    @property
    def label(self) -> str:
        return f"Exercise {self.number}: {self.title}"

    def call_text(self) -> str:
        return f"ex{self.number}.check({', '.join(self.answer_names)})"

    def evaluate(self, *answers: Any) -> Outcome:
        """Run the checker on ``answers``; every failure becomes an Outcome, never an exception."""
        if self.r is None:
            return Outcome("error", self.label,
                           f"this exercise is not connected to Redis yet: run "
                           f"`ex1, ex2, ... = exercises.load({self.lesson}, r)` first.")
        if len(answers) != len(self.answer_names):
            if not answers:
                return Outcome("not-attempted", self.label,
                               f"pass your answer to the check: `{self.call_text()}`.")
            return Outcome("error", self.label,
                           f"the check takes {len(self.answer_names)} answer(s): "
                           f"`{self.call_text()}` (it was given {len(answers)}).")
        for name, value in zip(self.answer_names, answers):
            if any(value is blank for blank in self.blanks):
                shown = "..." if value is ... else repr(value)
                return Outcome("not-attempted", self.label,
                               f"`{name}` still holds its placeholder `{shown}`. "
                               "Replace it with your answer and run the cell again.")
        try:
            message = self.verify(self, *answers)
        except NotAttempted as exc:
            return Outcome("not-attempted", self.label, str(exc))
        except Wrong as exc:
            return Outcome("wrong", self.label, str(exc))
        except CodeRaised as exc:
            return Outcome("error", self.label, str(exc))
        except redis.ConnectionError as exc:
            return Outcome("error", self.label,
                           f"could not reach Redis ({one_line(exc)}). Check the server and "
                           "re-run the setup cell (`r = sl.connect()`).")
        except redis.ResponseError as exc:
            more = explain_hint(exc)
            return Outcome("error", self.label,
                           f"Redis answered the checker with an error: {exc}."
                           + (f"\n{more}" if more else ""))
        except Exception as exc:  # noqa: BLE001 - a checker must never show a traceback
            return Outcome("error", self.label,
                           f"the checker stopped with {one_line(exc)}. If your answer looks "
                           "right to you, this is a streamlab bug: please report it.")
        return Outcome("correct", self.label, message or "")

    def hint_outcome(self, n: int | None = None) -> Outcome:
        if not self.hints:
            return Outcome("hint", self.label, "this exercise has no hints; "
                           f"`ex{self.number}.solution()` shows the answer.")
        if n is None:
            self._hints_shown = min(self._hints_shown + 1, len(self.hints))
            n = self._hints_shown
        n = max(1, min(int(n), len(self.hints)))
        text = self.hints[n - 1]
        if len(self.hints) > 1:
            text = f"({n} of {len(self.hints)}) {text}"
        if n == len(self.hints):
            text += f"\nStill stuck? `ex{self.number}.solution()` shows a solution."
        else:
            text += f"\nRun `ex{self.number}.hint()` again for the next hint."
        return Outcome("hint", self.label, text)

    def solution_outcome(self) -> Outcome:
        if not self.solutions:
            return Outcome("error", self.label, "this exercise has no solution file.")
        path, looked = find_solutions_file(self.solutions)
        where = f"notebooks/solutions/{self.solutions}, section `# %% ex{self.number}`"
        if path is None:
            return Outcome("error", self.label,
                           f"the solution is in {where}, but that file was not found "
                           f"(looked in: {', '.join(str(d) for d in looked)}). Set "
                           f"{SOLUTIONS_ENV} to the course's notebooks/solutions folder.")
        try:
            sections = solution_sections(path.read_text(encoding="utf-8"))
        except OSError as exc:
            return Outcome("error", self.label, f"could not read {path}: {one_line(exc)}")
        if self.number not in sections:
            return Outcome("error", self.label, f"{path} has no section `# %% ex{self.number}`.")
        _, code, first, last = sections[self.number]
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            shown = str(path)
        return Outcome("solution", self.label,
                       f"To paste it into a cell: `%load -r {first}-{last} {shown}`", code)

    # --- for checkers --------------------------------------------------------
    def key(self, name: str) -> str:
        """The full key of ``name`` for this exercise: ``lesson01:`` + name in a notebook."""
        return self.prefix + name

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the learner's function; a ``...`` result means not attempted, an exception a short error."""
        if not callable(fn):
            raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r:.80}")
        shown = ", ".join([_arg_text(a) for a in args]
                          + [f"{k}={_arg_text(v)}" for k, v in kwargs.items()])
        name = getattr(fn, "__name__", "your function")
        try:
            result = fn(*args, **kwargs)
        except (Wrong, NotAttempted):
            raise  # a checker's probe (e.g. a spy client) found the problem while it ran
        except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
            more = explain_hint(exc)
            raise CodeRaised(f"`{name}({shown})` raised {one_line(exc)}"
                               + (f"\n{more}" if more else ""), exc) from None
        if result is ...:
            raise NotAttempted(f"`{name}` still returns `...`: write its body and run the cell again.")
        return result

    def __repr__(self) -> str:
        return (f"<{self.label} (lesson {self.lesson:02d}): "
                f"{self.call_text()}, ex{self.number}.hint(), ex{self.number}.solution()>")


class ExerciseSet:
    """A lesson's exercises, in order. ``add`` registers a checker; ``bind`` ties them to a client."""

    def __init__(self, lesson: int, solutions: str | None = None):
        self.lesson = lesson
        self.solutions = solutions
        self.exercises: dict[int, Exercise] = {}

    def add(self, number: int, title: str, hints: list[str] = (), blanks: tuple = (..., None)):
        """Decorator: make the function an exercise's checker (see the module docstring)."""
        def register(verify: Callable[..., Any]) -> Exercise:
            if number in self.exercises:
                raise ValueError(f"lesson {self.lesson} already has an exercise {number}")
            ex = Exercise(self.lesson, number, title, verify, list(hints), self.solutions, blanks)
            self.exercises[number] = ex
            return ex
        return register

    def bind(self, r: Client | None, prefix: str | None = None) -> tuple[Exercise, ...]:
        """Every exercise of the lesson, in order, bound to ``r`` (see ``Exercise.bind``)."""
        return tuple(self.exercises[n].bind(r, prefix) for n in sorted(self.exercises))


def load(lesson: int, r: Client, prefix: str | None = None) -> tuple[Exercise, ...]:
    """``ex1, ex2, ex3 = load(1, r)``: lesson ``lesson``'s exercises, bound to ``r``.

    Imports ``streamlab.exercises.lessonNN`` and binds its ``exercises`` set;
    ``prefix`` replaces the lesson's key prefix (tests use their own).
    """
    name = f"{__name__}.lesson{int(lesson):02d}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise ValueError(f"lesson {lesson} has no exercises (no module {name})") from None
    return module.exercises.bind(r, prefix)


def run_solution(ex: Exercise, namespace: dict | None = None) -> tuple:
    """Execute ``ex``'s solution section and return the answers it defines, in check order.

    The section runs with ``r`` = ``ex.r`` (plus ``namespace``), with the
    lesson's key prefix replaced by ``ex.prefix``. Tests use it to feed every
    checker its own solution, on every backend.
    """
    path, looked = find_solutions_file(ex.solutions or "")
    if path is None:
        raise FileNotFoundError(f"{ex.solutions} not found in {[str(d) for d in looked]}")
    sections = solution_sections(path.read_text(encoding="utf-8"))
    code = sections[ex.number][1].replace(lesson_prefix(ex.lesson), ex.prefix)
    scope = {"r": ex.r, "__name__": "__solution__", **(namespace or {})}
    exec(compile(code, f"{path.name}#ex{ex.number}", "exec"), scope)  # noqa: S102 - our own file
    return tuple(scope[name] for name in ex.answer_names)
