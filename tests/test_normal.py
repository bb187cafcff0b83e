"""Normalisation and matching: one canonical form for a file's value and the server's, and which live
action a declared one manages."""

from __future__ import annotations

import pytest

from reconciler.buddy.matching import match_actions
from reconciler.errors import PipelineError
from reconciler.model import MULTI_ARCH, ActionSummary, DesiredAction, DesiredPipeline
from reconciler.plan.normal import NOTHING, canonical, is_empty, live_as_declared, platforms, rule
from reconciler.problems import Location

LOC = Location("web.yml", 1, 1)


def pipeline(*names: str, previous: tuple[str, ...] = ()) -> DesiredPipeline:
    actions = tuple(DesiredAction(n, MULTI_ARCH, {"name": n}, LOC, previous_names=previous) for n in names)
    return DesiredPipeline("acme", "web", "Release", None, None, {}, actions, LOC, "web.yml")


def test_an_integration_hash_id_is_its_identifier():
    assert canonical("integration", {"hash_id": "x"}) == {"identifier": "x"}
    assert canonical("integration", {"identifier": "y", "hash_id": "x"}) == {"identifier": "y"}


def test_target_platform_is_a_sorted_set_of_entries():
    assert platforms("linux/arm64, linux/amd64,,") == ["linux/amd64", "linux/arm64"]
    assert canonical("target_platform", " , ") is None


def test_empty_values_are_unset_at_every_depth():
    assert all(is_empty(v) for v in (None, "", [], {}))
    assert canonical("variables", [{"key": "A", "value": ""}]) == [{"key": "A", "value": None}]


def test_the_live_value_is_cut_to_the_declared_keys():
    live = {"identifier": "x", "hash_id": "x", "name": "Docker Hub"}
    assert live_as_declared("integration", {"identifier": "x"}, live) == {"identifier": "x"}


def test_a_previous_name_matches_a_live_action():
    live = [ActionSummary(1, "Old", MULTI_ARCH)]
    assert match_actions(pipeline("New", previous=("Old",)), live) == {"New": live[0]}


def test_a_live_action_of_another_type_with_a_declared_name_is_an_error():
    with pytest.raises(PipelineError, match="is of type BUILD"):
        match_actions(pipeline("Build"), [ActionSummary(1, "Build", "BUILD")])


def test_two_live_actions_with_one_declared_name_are_an_error():
    with pytest.raises(PipelineError, match="2 live actions"):
        match_actions(pipeline("Build"), [ActionSummary(1, "Build", MULTI_ARCH), ActionSummary(2, "Build", MULTI_ARCH)])


def test_a_field_rule_compares_platforms_as_a_set_and_a_pipeline_null_as_the_servers_default() -> None:
    from reconciler import fields
    from reconciler.plan.normal import rule

    assert not rule("target_platform").differs("linux/arm64, linux/amd64", "linux/amd64,linux/arm64")
    default = fields.server_default("disabled", on="pipeline")
    assert not rule("disabled", "pipeline").differs(None, default)


def test_a_field_rule_compares_no_write_only_part_and_describes_only_real_differences() -> None:
    from reconciler.plan.normal import NOTHING, rule

    assert rule("password").compared("${env:PW}") is NOTHING
    assert rule("secrets").compared([{"id": "a", "type": "FILE", "value": "x"}]) == [{"id": "a", "type": "FILE"}]
    assert rule("name", "pipeline").compared("Release") is NOTHING  # a rename, not a comparison
    paths = rule("variables").describe([{"key": "A", "value": "2"}], [{"key": "A", "value": "1", "extra": ""}])
    assert paths == [{"path": "variables[0].value", "op": "change", "from": "1", "to": "2"}]


def test_a_field_rule_writes_what_import_keeps_and_nothing_for_an_empty_or_default_value() -> None:
    assert rule("integration").written({"hash_id": "h1", "name": "Docker Hub"}) == {"identifier": "h1"}
    assert rule("variables").written([{"key": "", "value": "", "id": 4}]) == [{"key": ""}]
    assert rule("build_args").written([]) is NOTHING
    assert rule("trigger_time").written("ON_EVERY_EXECUTION") is NOTHING  # the server's default
    assert rule("trigger_time").written("ON_FAILURE") == "ON_FAILURE"
    assert rule("priority", on="pipeline").written("NORMAL") is NOTHING
    assert rule("priority", on="pipeline").written("HIGH") == "HIGH"
