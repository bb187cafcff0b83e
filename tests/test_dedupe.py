"""--dedupe: only distinct ids with one declared name are told apart, and the copy kept is never deleted."""

from __future__ import annotations

import pytest

from reconciler.buddy.dedupe import split
from reconciler.errors import PipelineError
from reconciler.model import MULTI_ARCH, ActionSummary, DesiredAction, DesiredPipeline
from reconciler.problems import Location

HERE = Location("f.yml", 1, 1)


def declared(*actions: tuple[str, tuple[str, ...]]) -> DesiredPipeline:
    made = tuple(DesiredAction(name, MULTI_ARCH, {}, HERE, previous_names=previous) for name, previous in actions)
    return DesiredPipeline("acme", "web", "Release", None, None, {}, made, HERE, "f.yml")


def ma(ident: int, name: str) -> ActionSummary:
    return ActionSummary(ident, name, MULTI_ARCH)


def test_the_first_of_a_declared_name_is_kept_and_the_later_ones_are_deleted() -> None:
    live = [ma(1, "Build"), ma(2, "Test"), ma(3, "Build"), ma(4, "Build")]
    kept, duplicates = split(declared(("Build", ()), ("Test", ())), live)
    assert [a.id for a in kept] == [1, 2]
    assert [(d.action.id, d.kept.id) for d in duplicates] == [(3, 1), (4, 1)]
    assert {d.kept.id for d in duplicates}.isdisjoint(d.action.id for d in duplicates)


def test_one_id_listed_twice_is_a_moved_list_and_nothing_is_deduplicated() -> None:
    live = [ma(1, "Build"), ma(2, "Test"), ma(2, "Test"), ma(3, "Build")]
    with pytest.raises(PipelineError, match="names #2 twice: it changed while it was being read"):
        split(declared(("Build", ()), ("Test", ())), live)


def test_a_name_two_declarations_claim_is_not_split() -> None:
    # "Old" is one action's previous name and another's name: which copy is whose is not ours to guess
    live = [ma(1, "Old"), ma(2, "Old")]
    kept, duplicates = split(declared(("New", ("Old",)), ("Old", ())), live)
    assert duplicates == [] and [a.id for a in kept] == [1, 2]


def test_an_undeclared_name_is_left_alone() -> None:
    kept, duplicates = split(declared(("Build", ())), [ma(1, "Lint"), ma(2, "Lint")])
    assert duplicates == [] and len(kept) == 2
