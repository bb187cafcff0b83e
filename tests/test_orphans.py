"""plan/orphans: which live pipelines a project's declarations claim, without a network."""

from __future__ import annotations

from reconciler.model import DesiredPipeline
from reconciler.plan.orphans import claimed_ids
from reconciler.problems import Location

LIVE = [{"id": 1, "name": "Release"}, {"id": 2, "name": "Old"}, {"id": 3, "name": "Twin"}, {"id": 4, "name": "Twin"}]


def declared(name: str | None = None, ident: int | None = None, previous: tuple[str, ...] = ()) -> DesiredPipeline:
    return DesiredPipeline(
        "acme", "web", name, ident, None, {}, (), Location("web.yml", 1, 1), "web.yml", previous_names=previous
    )


def test_a_declaration_claims_its_pipeline_by_id_else_by_name_else_by_a_previous_name() -> None:
    assert claimed_ids([declared(ident=2)], LIVE) == {2}
    assert claimed_ids([declared("Release")], LIVE) == {1}
    assert claimed_ids([declared("New", previous=("Gone", "Old"))], LIVE) == {2}


def test_the_name_wins_over_a_previous_name_and_an_unknown_id_claims_nothing() -> None:
    assert claimed_ids([declared("Release", previous=("Old",))], LIVE) == {1}
    assert claimed_ids([declared(ident=99)], LIVE) == set()


def test_a_name_two_live_pipelines_share_claims_both_so_neither_is_deleted() -> None:
    assert claimed_ids([declared("Twin")], LIVE) == {3, 4}
