"""validate: the one check for whole numbers and numbers in a range, in the caller's words."""

from __future__ import annotations

import math

import pytest

from streamlab import validate

WHOLE = "{what} must be a whole number from {low} to {high:,}; got {value!r}."


@pytest.mark.parametrize("value", [True, False, 1.0, "3", None, 0, 1_001])
def test_whole_refuses_bools_floats_text_and_values_out_of_range(value):
    with pytest.raises(ValueError) as err:
        validate.whole(value, WHOLE, "count", 1, 1000)
    assert str(err.value) == f"count must be a whole number from 1 to 1,000; got {value!r}."


def test_whole_returns_the_value_and_open_bounds_take_anything_on_that_side():
    assert validate.whole(1000, WHOLE, "count", 1, 1000) == 1000
    assert validate.is_whole(10**12, low=0) and validate.is_whole(-5)
    assert not validate.is_whole(-1, low=0) and not validate.is_whole(True)


def test_number_says_not_a_number_and_out_of_range_apart():
    kw = dict(what="share", low=0, high=0.9, outside="{what} must be from 0 to {high}; got {number!r}.")
    with pytest.raises(ValueError, match=r"^share is not a number: 'lots'$"):
        validate.number("lots", "{what} is not a number: {value!r}", **kw)
    with pytest.raises(ValueError, match=r"^share must be from 0 to 0.9; got 1.0\.$"):
        validate.number(1, "unused", **kw)
    assert validate.number("0.5", "unused", **kw) == 0.5


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "nan"])
def test_number_refuses_what_is_not_finite_even_without_a_range(value):
    with pytest.raises(ValueError, match="finite"):
        validate.number(value, "not a number", outside="{value!r} is not finite")


def test_the_defaults_leave_the_name_empty_and_the_range_open():
    # `what` defaults to "" and the bounds to open: a message that uses them says so.
    with pytest.raises(ValueError, match=r"^\[\] 1\.5 None None$"):
        validate.whole(1.5, "[{what}] {value} {low} {high}")
    with pytest.raises(ValueError, match=r"^\[\] x -inf inf$"):
        validate.number("x", "[{what}] {value} {low} {high}")
    assert validate.number("-1e300", "unused") == -1e300 and validate.number(1e300, "unused") == 1e300


def test_every_placeholder_is_filled_in_each_message():
    fields = "{what}|{value!r}|{low}|{high}"
    with pytest.raises(ValueError) as err:
        validate.whole(0, fields, "n", 1, 5)
    assert str(err.value) == "n|0|1|5"
    with pytest.raises(ValueError) as err:
        validate.number("x", fields, "s", 0, 2)
    assert str(err.value) == "s|'x'|0|2"
    with pytest.raises(ValueError) as err:
        validate.number(3, "unused", "s", 0, 2, outside=fields + "|{number!r}")
    assert str(err.value) == "s|3|0|2|3.0"
    with pytest.raises(ValueError) as err:
        validate.number("inf", "unused", "s", outside=fields + "|{number!r}")
    assert str(err.value) == "s|'inf'|-inf|inf|inf"


def test_number_takes_both_ends_of_its_range():
    assert validate.number(0, "unused", low=0, high=2) == 0.0
    assert validate.number("2", "unused", low=0, high=2) == 2.0
