"""Did-you-mean: the live name a slip was probably meant to be."""

from __future__ import annotations

from reconciler.suggest import closest, distance, hint, near


def test_the_edit_distance_counts_inserts_deletes_and_replacements():
    assert distance("kitten", "sitting") == 3
    assert distance("", "abc") == 3 and distance("same", "same") == 0


def test_a_name_equal_but_for_case_or_two_characters_away_is_near():
    live = ["Release images", "Nightly builds"]
    assert near("release Images", live) == "Release images"
    assert near("Relase images", live) == "Release images"
    assert near("Release imagess!", live) == "Release images"
    assert near("Nightly", live) is None
    assert near("Release images", live) is None  # the same name is no slip


def test_short_names_need_to_be_closer():
    assert near("ab", ["xy"]) is None


def test_closest_falls_back_to_the_most_similar_name_for_a_hint():
    assert closest("Run the tests", ["Run tests", "Deploy"]) == "Run tests"
    assert closest("zzz", ["Run tests"]) is None
    assert hint("Run tests") == '; did you mean "Run tests"?' and hint(None) == ""
