"""config/yamldata.py: the locations the builder makes quickly are Locations in every respect."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.config.loader import load_text
from reconciler.problems import Location


def test_a_location_the_builder_makes_equals_hashes_orders_and_prints_as_one_built_by_hand() -> None:
    doc = load_text("workspace: acme\nproject: web\npipelines: []\n", "web.yml").documents[0]
    made = doc.locations[("project",)]
    by_hand = Location("web.yml", 2, 10)
    assert made == by_hand and hash(made) == hash(by_hand)
    assert repr(made) == repr(by_hand) and str(made) == "web.yml:2:10"
    assert doc.key_locations[("project",)] < made < Location("web.yml", 3, 1)
    assert dataclasses.astuple(made) == ("web.yml", 2, 10)


def test_a_location_the_builder_makes_is_frozen() -> None:
    made = load_text("workspace: acme\nproject: web\npipelines: []\n", "web.yml").documents[0].locations[("project",)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.line = 3  # type: ignore[misc]
