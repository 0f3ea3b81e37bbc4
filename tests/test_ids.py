"""Stream IDs (``streamlab.ids``): parsed as numbers, stepped, and turned into times and back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from streamlab import ids


def test_parse_compares_as_numbers_not_as_text():
    assert ids.parse("1700000000000-3") == (1700000000000, 3)
    assert ids.parse(b"17") == (17, 0)
    assert ids.parse("9-0") < ids.parse("10-0")  # as text "9-0" > "10-0"
    with pytest.raises(ValueError, match="not a stream entry ID"):
        ids.parse("12-x")


def test_try_parse_answers_none_for_what_is_not_an_id():
    for text in (None, "", "abc", "1-2-3", "-1-0", "1.5-0"):
        assert ids.try_parse(text) is None
    assert ids.try_parse(" 5-1 ") == (5, 1)


def test_following_is_the_smallest_greater_id():
    assert ids.following("5-1") == "5-2"
    assert ids.following("5") == "5-1"
    assert ids.following(f"5-{ids.MAX_SEQ}") == "6-0"


def test_from_datetime_is_the_milliseconds_with_sequence_zero():
    when = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    assert ids.from_datetime(when) == f"{int(when.timestamp() * 1000)}-0"
    assert ids.to_datetime(ids.from_datetime(when)) == when
    assert ids.seconds(ids.from_datetime(when)) == when.timestamp()


def test_from_datetime_rejects_what_is_not_a_datetime_or_before_1970():
    with pytest.raises(TypeError, match="needs a datetime"):
        ids.from_datetime("2024-01-01")
    with pytest.raises(ValueError, match="before 1970"):
        ids.from_datetime(datetime(1960, 1, 1, tzinfo=timezone.utc))


def test_try_parse_full_takes_only_the_whole_form_as_xadd_returns_it():
    assert ids.try_parse("17-0", full=True) == (17, 0)
    assert ids.try_parse(b"17-0", full=True) == (17, 0)
    for text in ("17", " 17-0", "17-0\n", "17-0 ", "17-*", None):
        assert ids.try_parse(text, full=True) is None
