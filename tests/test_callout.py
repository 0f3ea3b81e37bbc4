"""sl.note / sl.backend_note: one rendered callout instead of an if-branch printing paragraphs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import streamlab as sl
from streamlab.ui.callout import Callout


def _client(kind: str, name: str = "redis", version: str = "7.4.1"):
    return SimpleNamespace(backend=SimpleNamespace(is_fake=kind == "fake", kind=kind,
                                                   server_name=name, version_text=version))


def test_backend_note_picks_the_text_of_this_backend_and_names_the_server():
    fake = sl.backend_note(_client("fake", "fakeredis", "2.32.0"), fake="no {server} socket",
                           real="a socket")
    real = sl.backend_note(_client("private", "valkey", "8.1.0"), fake="no socket",
                           real="{server} resets it")
    assert (fake.title, fake.text) == ("On fakeredis 2.32.0", "no fakeredis 2.32.0 socket")
    assert (real.title, real.text) == ("On Valkey 8.1.0", "Valkey 8.1.0 resets it")


def test_a_fake_only_note_shows_nothing_on_a_real_server():
    assert sl.backend_note(_client("local"), fake="only fakeredis does this") is None
    assert sl.backend_note(_client("fake", "fakeredis"), fake="only fakeredis does this") is not None


def test_html_and_plain_text_carry_the_same_words_escaped():
    note = sl.note("XADD <key> fails\n   on fakeredis", title="Careful", kind="caution")
    page = note._repr_html_()
    assert "&lt;key&gt;" in page and "<key>" not in page and "<b>Careful</b>" in page
    assert repr(note) == "[Careful] XADD <key> fails on fakeredis"  # source line breaks gone


def test_an_unknown_kind_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="caution"):
        Callout("x", kind="warning")


def test_the_lessons_use_callouts_not_print_branches_on_the_backend():
    from pathlib import Path

    lessons = Path(__file__).resolve().parents[1] / "lessons"
    offenders = []
    for path in sorted(lessons.glob("[0-9][0-9]-*.md")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith(("if r.backend.is_fake:", "elif r.backend.is_fake:")) \
                    and lines[i + 1].strip().startswith("print("):
                offenders.append(f"{path.name}:{i + 1}")
    assert not offenders, f"a branch printing prose about the backend: {offenders}"


def test_callout_bars_are_the_panels_status_colours():
    from streamlab.ui import callout, style

    assert callout.KINDS["note"][0] == style.STATUS_COLOURS["ok"]
    assert callout.KINDS["caution"][0] == style.STATUS_COLOURS["error"]
