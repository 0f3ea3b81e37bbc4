"""Lesson 09's checkers: untouched, wrong answers and the solution, on both backends."""

from __future__ import annotations

import pytest

from streamlab import exercises
from streamlab.cluster import slot_of


@pytest.fixture
def ex(r, prefix):
    return dict(enumerate(exercises.load(9, r, prefix=prefix), start=1))


def test_untouched_exercises_are_not_attempted(ex):
    assert ex[1].evaluate({"stream": ..., "dead": ..., "total": ...}).status == "not-attempted"
    assert ex[2].evaluate([..., ..., ...]).status == "not-attempted"
    assert ex[3].evaluate(lambda stream: ...).status == "not-attempted"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_solution_passes_its_checker(ex, number):
    outcome = ex[number].evaluate(*exercises.run_solution(ex[number]))
    assert outcome.correct, outcome


def test_ex1_keys_without_a_tag_are_in_different_slots(ex, prefix):
    outcome = ex[1].evaluate({"stream": prefix + "orders", "dead": prefix + "orders:dead",
                              "total": prefix + "total"})
    assert outcome.status == "wrong" and "CROSSSLOT" in outcome.message


def test_ex1_one_tag_for_the_whole_lesson_is_wrong(ex, prefix):
    outcome = ex[1].evaluate({"stream": "{lesson09}:a", "dead": "{lesson09}:b", "total": "{lesson09}:c"})
    assert outcome.status == "wrong" and "starts with" in outcome.message
    outcome = ex[1].evaluate({"stream": prefix + "{lesson09}:a", "dead": prefix + "{lesson09}:b",
                              "total": prefix + "{lesson09}:c"})
    assert outcome.status == "wrong" and "every key of the lesson" in outcome.message


def test_ex2_keys_on_the_same_shard_are_wrong(ex, prefix):
    outcome = ex[2].evaluate([prefix + "ex2:{p0}", prefix + "ex2:{p1}", prefix + "ex2:{p4}"])
    assert outcome.status == "wrong" and "not one per shard" in outcome.message and "shard 2" in outcome.message


def test_ex2_keys_without_tags_are_wrong(ex, prefix):
    outcome = ex[2].evaluate([prefix + "ex2:a", prefix + "ex2:b", prefix + "ex2:c"])
    assert outcome.status == "wrong" and "hash tag" in outcome.message


def test_ex3_one_alerts_key_for_every_partition_is_wrong(ex, prefix):
    outcome = ex[3].evaluate(lambda stream: prefix + "ex3:alerts")
    assert outcome.status == "wrong" and "CROSSSLOT" in outcome.message


def test_ex3_a_key_outside_the_lesson_is_wrong(ex):
    outcome = ex[3].evaluate(lambda stream: "alerts:" + stream)
    assert outcome.status == "wrong" and "starting with" in outcome.message


# --- the exact feedback, and the edges mutation testing found unchecked (tools/mutate.py) -------

# Hash tags whose slot is known (CRC16, the same on every server): the slot-range edges of three
# equal shards, 0-5460, 5461-10922, 10923-16383, and the slot of {lesson09}.
TAG_AT_SLOT = {0: "t10790", 5460: "t674", 5461: "t12636", 10922: "t13187", 10923: "t5151",
               16383: "t11021", 291: "t13343"}


def test_the_tags_used_below_are_in_the_slots_they_are_said_to_be_in():
    for slot, tag in TAG_AT_SLOT.items():
        assert slot_of("{" + tag + "}") == slot
    assert slot_of("{lesson09}") == 291


@pytest.mark.parametrize("role", ["stream", "dead", "total"])
def test_ex1_an_empty_key_name_is_not_attempted(ex, prefix, role):
    keys = {"stream": prefix + "{o}:s", "dead": prefix + "{o}:d", "total": prefix + "{o}:t", role: ""}
    outcome = ex[1].evaluate(keys)
    assert (outcome.status, outcome.message) == ("not-attempted", "fill in all three key names.")


def test_ex1_exact_feedback(ex, prefix):
    def said(keys):
        outcome = ex[1].evaluate(keys)
        assert outcome.status == "wrong", outcome
        return outcome.message

    assert said({"stream": "s", "dead": prefix + "{a}:d", "total": prefix + "{a}:t"}) == (
        f"every key of this lesson starts with `{prefix}` (so `sl.reset` can find it).")
    assert said({"stream": prefix + "s", "dead": prefix + "s", "total": prefix + "s"}) == (
        "the three keys must be different keys.")
    # Two keys share a slot, the third does not: still CROSSSLOT.
    keys = {"stream": prefix + "{a}:s", "dead": prefix + "{a}:d", "total": prefix + "{b}:t"}
    slots = [slot_of(keys[role]) for role in ("stream", "dead", "total")]
    assert slots[0] == slots[1] != slots[2]
    assert said(keys) == (
        f"they are in different slots ('{prefix}{{a}}:s' -> slot {slots[0]}, '{prefix}{{a}}:d' -> slot "
        f"{slots[1]}, '{prefix}{{b}}:t' -> slot {slots[2]}): the script would fail with CROSSSLOT. "
        "Give them one hash tag.")
    lesson_tag = ("they share a slot, but the tag `{lesson09}` would put every key of the lesson "
                  "(every partition too) in that one slot, on one shard. Tag what belongs together: "
                  "`{orders}`.")
    assert said({"stream": prefix + "{lesson09}:a", "dead": prefix + "{lesson09}:b",
                 "total": prefix + "{lesson09}:c"}) == lesson_tag
    # The stream's tag is the one judged, even when the others' tag shares its slot.
    other = TAG_AT_SLOT[291]
    assert said({"stream": prefix + "{lesson09}:s", "dead": prefix + "{" + other + "}:d",
                 "total": prefix + "{" + other + "}:t"}) == lesson_tag


def test_ex1_right_answer_names_the_slot_and_tag(ex, prefix):
    keys = {role: prefix + "{orders}:" + role for role in ("stream", "dead", "total")}
    outcome = ex[1].evaluate(keys)
    assert outcome.correct
    assert outcome.message == (f"all three are in slot {slot_of('{orders}')} (tag {{orders}}), "
                               "so one script may use them.")


def test_ex2_keys_on_the_edges_of_the_slot_ranges_land_on_their_shards(ex, prefix):
    for edges in ((0, 5461, 10923), (5460, 10922, 16383)):
        keys = [prefix + "ex2:{" + TAG_AT_SLOT[slot] + "}" for slot in edges]
        outcome = ex[2].evaluate(keys)
        assert outcome.correct, outcome
        assert outcome.message == "one partition on each shard: " + ", ".join(
            f"{k} -> shard {s}" for s, k in enumerate(keys))


def test_ex2_exact_feedback(ex, prefix):
    a, b, c = (prefix + "ex2:{" + TAG_AT_SLOT[slot] + "}" for slot in (0, 10922, 5460))

    def said(keys, status="wrong"):
        outcome = ex[2].evaluate(keys)
        assert outcome.status == status, outcome
        return outcome.message

    assert said([a, b]) == "`keys` should be a list of 3 key names."
    assert said([a, b, c, a]) == "`keys` should be a list of 3 key names."
    assert said([a, b, ""], "not-attempted") == "fill in all three keys."
    assert said([a, b, "x"]) == f"each key should start with `{prefix}ex2:`."
    assert said([a, b, prefix + "ex2:c"]) == (
        "give each key a hash tag (`{...}`), so that the partition's companion keys (dead letters, "
        "alerts) can share its slot later.")
    assert said([a, b, c]) == (
        f"not one per shard: '{a}' -> slot 0 (shard 0), '{b}' -> slot 10922 (shard 1), "
        f"'{c}' -> slot 5460 (shard 0).")


def _alerts_for(stream):
    return stream.replace(":ex3:", ":ex3:alerts:")


def test_ex3_exact_feedback(ex, prefix):
    outcome = ex[3].evaluate(lambda stream: None)
    assert (outcome.status, outcome.message) == (
        "not-attempted", "`alerts_for` returns nothing yet: write its body so it returns the alerts key.")
    first = prefix + "ex3:{p0}"
    outcome = ex[3].evaluate(lambda stream: "alerts")
    assert outcome.message == (f"alerts_for({first!r}) returned 'alerts': it should be a key starting "
                               f"with {prefix!r}.")
    outcome = ex[3].evaluate(lambda stream: stream)
    assert outcome.message == "the alerts key must be another key than the partition stream itself."


def test_ex3_leaves_no_key_behind_and_does_not_mind_what_an_interrupted_check_left(ex, r, prefix):
    streams = [prefix + f"ex3:{{p{p}}}" for p in range(6)]
    # What a check stopped half-way leaves: the stream with its group, an alert in the alerts key.
    r.xgroup_create(streams[0], "alerts", id="0", mkstream=True)
    r.xadd(_alerts_for(streams[0]), {"old": "alert"})
    outcome = ex[3].evaluate(_alerts_for)
    assert outcome.correct, outcome
    assert outcome.message == ("every partition's alert shares its slot: the alert-and-ack script "
                               "ran on all 6.")
    assert list(r.scan_iter(match=prefix + "ex3:*")) == []


def test_ex3_an_alert_script_that_alerts_but_does_not_ack_is_reported(ex, prefix, monkeypatch):
    from streamlab import programs

    def alert_only(r, stream, group, entry_id, fields, alerts_key):
        r.xadd(alerts_key, fields)

    monkeypatch.setattr(programs, "alert_and_ack", alert_only)
    outcome = ex[3].evaluate(_alerts_for)
    assert outcome.status == "wrong"
    assert outcome.message == (f"the alert script on {prefix}ex3:{{p0}} did not leave one alert "
                               "and nothing pending.")
