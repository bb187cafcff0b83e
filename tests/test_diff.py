"""The diff, without a network: matching, comparing, placement, prune, fingerprints."""

from __future__ import annotations

import io
from typing import Any

import pytest

from reconciler import render, render_markdown
from reconciler.errors import EnvError
from reconciler.model import MULTI_ARCH, ActionSummary, DesiredAction, DesiredPipeline, LivePipeline
from reconciler.plan.diff import Options, diff_pipeline, field_differs
from reconciler.plan.plan import Plan, Target
from reconciler.problems import Location

LOC = Location("web.yml", 1, 1)


def action(name: str, *, after: str | None = None, previous: tuple[str, ...] = (), **fields: Any) -> DesiredAction:
    return DesiredAction(
        name=name,
        type=fields.pop("type", MULTI_ARCH),
        fields={"name": name, "type": fields.get("type", MULTI_ARCH), **fields},
        location=LOC,
        after=after,
        previous_names=previous,
    )


def pipeline(*actions: DesiredAction, prune: bool | None = None, name: str = "Release") -> DesiredPipeline:
    return DesiredPipeline("acme", "web", name, None, prune, {}, tuple(actions), LOC, "web.yml")


def live(*actions: tuple[int, str, str]) -> LivePipeline:
    return LivePipeline(7, "Release", {}, tuple(ActionSummary(i, n, t) for i, n, t in actions))


def run(
    desired: DesiredPipeline,
    current: LivePipeline | None,
    details: dict[int, dict[str, Any]] | None = None,
    **options: Any,
):
    return diff_pipeline(desired, current, details or {}, Options(**options))


def placements(result) -> list[tuple[str, int | None, str | None]]:
    return [(c.action_name, c.after_action_id, c.after_action_name) for c in result.changes if c.kind == "create"]


# -- comparing ---------------------------------------------------------------------------------------


def test_target_platform_compares_as_a_set_ignoring_order_and_spaces():
    assert not field_differs("target_platform", "linux/arm64, linux/amd64", "linux/amd64,linux/arm64")
    assert field_differs("target_platform", "linux/amd64", "linux/amd64,linux/arm64")


def test_an_empty_list_or_string_equals_a_live_null():
    assert not field_differs("build_args", [], None)
    assert not field_differs("target_stage", "", None)
    assert not field_differs("target_stage", None, None)


def test_keys_the_server_adds_inside_nested_objects_are_ignored():
    declared = [{"key": "NODE_ENV", "value": "production"}]
    served = [{"key": "NODE_ENV", "value": "production", "type": "VAR", "encrypted": None, "settable": False}]
    assert not field_differs("variables", declared, served)


def test_lists_of_objects_compare_item_by_item_in_order():
    a = [{"key": "A", "value": "1"}, {"key": "B", "value": "2"}]
    b = [{"key": "B", "value": "2"}, {"key": "A", "value": "1"}]
    assert field_differs("variables", a, b)


def test_an_integration_identifier_equals_a_live_hash_id():
    assert not field_differs("integration", {"identifier": "abc"}, {"hash_id": "abc", "identifier": None})


# -- updates -----------------------------------------------------------------------------------------


def test_a_drifted_field_is_an_update_with_only_that_field():
    desired = pipeline(action("Build", cache_mode="MAX", dockerfile_path="Dockerfile"))
    result = run(
        desired,
        live((40, "Build", MULTI_ARCH)),
        {40: {"cache_mode": "MIN", "dockerfile_path": "Dockerfile", "registry": None}},
    )
    [change] = result.changes
    assert change.kind == "update" and change.action_id == 40
    assert change.fields == {"cache_mode": "MAX"}
    assert change.diff == {"cache_mode": {"from": "MIN", "to": "MAX"}}


def test_server_defaults_and_undeclared_fields_are_never_a_diff():
    desired = pipeline(action("Build", dockerfile_path="Dockerfile"))
    detail = {
        "dockerfile_path": "Dockerfile",
        "trigger_time": "ON_EVERY_EXECUTION",
        "target_platform": "linux/amd64",
        "password": "encrypted:abc",
        "disabled": False,
    }
    assert run(desired, live((40, "Build", MULTI_ARCH)), {40: detail}).changes == []


def test_an_explicit_null_is_managed_and_sent_as_null():
    desired = pipeline(action("Build", target_stage=None))
    [change] = run(desired, live((40, "Build", MULTI_ARCH)), {40: {"target_stage": "prod"}}).changes
    assert change.fields == {"target_stage": None}


def test_write_only_fields_are_never_compared_but_sent_with_update_secrets():
    desired = pipeline(action("Build", password="${env:TOKEN}", login="bot"))
    detail = {"password": "encrypted:zzz", "login": "bot"}
    assert run(desired, live((40, "Build", MULTI_ARCH)), {40: detail}).changes == []
    [change] = run(desired, live((40, "Build", MULTI_ARCH)), {40: detail}, update_secrets=True).changes
    assert change.fields == {"password": "${env:TOKEN}"}
    assert change.diff == {
        "password": {"from": "(sensitive)", "to": "(sensitive)", "resend": True, "variables": ["TOKEN"]}
    }
    assert change.only_resends  # the safety check does not count it


def test_secret_values_inside_secrets_are_not_compared():
    desired = pipeline(action("Build", secrets=[{"id": "npm", "type": "FILE", "value": "${env:NPMRC}"}]))
    detail = {"secrets": [{"id": "npm", "type": "FILE", "value": "encrypted:1"}]}
    assert run(desired, live((40, "Build", MULTI_ARCH)), {40: detail}).changes == []


def test_a_value_from_the_environment_is_compared_resolved_and_shown_masked():
    desired = pipeline(action("Build", login="${env:USER_NAME}"))
    [change] = run(desired, live((40, "Build", MULTI_ARCH)), {40: {"login": "old"}}, env={"USER_NAME": "new"}).changes
    assert change.fields == {"login": "${env:USER_NAME}"}
    assert change.diff == {"login": {"from": "(sensitive)", "to": "(sensitive)"}}


def test_a_value_from_the_environment_replacing_an_unset_live_value_shows_the_live_null():
    desired = pipeline(action("Build", login="${env:USER_NAME}"))
    [change] = run(desired, live((40, "Build", MULTI_ARCH)), {40: {"login": None}}, env={"USER_NAME": "new"}).changes
    assert change.diff == {"login": {"from": None, "to": "(sensitive)"}}


def test_an_unset_variable_in_a_compared_field_fails_the_plan():
    desired = pipeline(action("Build", login="${env:NOPE}"))
    with pytest.raises(EnvError, match="NOPE"):
        run(desired, live((40, "Build", MULTI_ARCH)), {40: {"login": "x"}})


def test_an_unset_variable_in_a_write_only_field_is_shown_not_set():
    desired = pipeline(action("Build", password="${env:NOPE}"))
    [change] = run(desired, live()).changes
    assert change.unset_sensitive == ("password",)


def test_a_previous_name_renames_instead_of_creating():
    desired = pipeline(action("Build app", previous=("Build",), cache_mode="MAX"))
    [change] = run(desired, live((40, "Build", MULTI_ARCH)), {40: {"cache_mode": "MAX"}}).changes
    assert change.kind == "update" and change.fields == {"name": "Build app"}


# -- placement ---------------------------------------------------------------------------------------


def test_creates_in_an_empty_pipeline_are_appended_in_file_order():
    result = run(pipeline(action("A"), action("B")), live())
    assert placements(result) == [("A", None, None), ("B", None, "A")]


def test_a_create_in_the_middle_goes_after_the_preceding_declared_action():
    desired = pipeline(action("A"), action("New"), action("C"))
    result = run(desired, live((1, "A", MULTI_ARCH), (2, "Unmanaged", "BUILD"), (3, "C", MULTI_ARCH)))
    assert placements(result) == [("New", 1, "A")]


def test_a_new_first_action_goes_before_the_next_declared_live_one():
    desired = pipeline(action("New"), action("C"))
    result = run(desired, live((1, "Tests", "BUILD"), (3, "C", MULTI_ARCH)))
    assert placements(result) == [("New", 1, "Tests")]


def test_a_new_first_action_before_the_very_first_live_action_is_appended_with_a_warning():
    desired = pipeline(action("New"), action("C"))
    result = run(desired, live((3, "C", MULTI_ARCH), (4, "Notify", "SLACK")))
    assert placements(result) == [("New", None, None)]
    assert any("at the end" in w for w in result.warnings)


def test_after_places_a_create_right_after_the_named_live_action():
    desired = pipeline(action("New", after="Tests"))
    result = run(desired, live((1, "Checkout", "BUILD"), (2, "Tests", "BUILD"), (3, "Deploy", "SSH")))
    assert placements(result) == [("New", 2, "Tests")]


def test_a_chain_of_creates_names_the_anchor_created_just_before():
    desired = pipeline(action("A"), action("B"), action("C"))
    result = run(desired, live((1, "A", MULTI_ARCH)))
    assert placements(result) == [("B", 1, "A"), ("C", None, "B")]


def test_no_create_is_anchored_on_an_action_this_plan_deletes():
    desired = pipeline(action("New"), action("C"), prune=True)
    result = run(desired, live((1, "Tests", "BUILD"), (2, "Old", MULTI_ARCH), (3, "C", MULTI_ARCH)))
    assert placements(result) == [("New", 1, "Tests")]
    assert [c.action_id for c in result.changes if c.kind == "delete"] == [2]


def test_prune_deletes_only_undeclared_multi_arch_actions_and_creates_come_first():
    desired = pipeline(action("Keep"), action("New"), prune=True)
    result = run(desired, live((1, "Keep", MULTI_ARCH), (2, "Old", MULTI_ARCH), (3, "Tests", "BUILD")))
    assert [c.kind for c in result.changes] == ["create", "delete"]
    assert result.changes[1].action_id == 2 and "not declared in web.yml" in (result.changes[1].reason or "")


def test_prune_false_in_the_file_wins_over_the_flag():
    desired = pipeline(action("Keep"), prune=False)
    result = run(desired, live((1, "Keep", MULTI_ARCH), (2, "Old", MULTI_ARCH)), prune=True)
    assert [c.kind for c in result.changes] == []


def test_a_missing_pipeline_is_created_first_then_its_actions():
    result = run(pipeline(action("A"), action("B")), None)
    assert [c.kind for c in result.changes] == ["create_pipeline", "create", "create"]
    assert result.fingerprint == "absent" and result.key == "acme/web/name:Release"


def test_a_live_order_that_differs_from_the_file_is_a_warning():
    result = run(pipeline(action("A"), action("B")), live((2, "B", MULTI_ARCH), (1, "A", MULTI_ARCH)))
    assert any("order" in w for w in result.warnings)


def test_the_fingerprint_changes_with_a_declared_field_but_not_with_an_undeclared_one():
    desired = pipeline(action("A", cache_mode="MIN"))
    current = live((1, "A", MULTI_ARCH))
    base = run(desired, current, {1: {"cache_mode": "MIN", "registry": "x"}}).fingerprint
    assert run(desired, current, {1: {"cache_mode": "MIN", "registry": "y"}}).fingerprint == base
    assert run(desired, current, {1: {"cache_mode": "MAX", "registry": "x"}}).fingerprint != base


# -- the pipeline's own fields -------------------------------------------------------------------------


def settings(fields: dict[str, Any], live_fields: dict[str, Any], *, detail: bool = False, **options: Any):
    desired = DesiredPipeline("acme", "web", "Release", None, None, fields, (), LOC, "web.yml")
    current = LivePipeline(7, "Release", live_fields if not detail else {}, (), live_fields if detail else None)
    return run(desired, current, **options).changes


def test_a_declared_null_on_a_defaulted_pipeline_field_equals_the_default_the_server_stores():
    assert settings({"disabled": None}, {"disabled": False}) == []
    [change] = settings({"disabled": None}, {"disabled": True})
    # sent as written, shown as what the server will store: `true -> null` would read as clearing it
    assert change.fields == {"disabled": None} and change.diff == {"disabled": {"from": True, "to": False}}
    plan = Plan.of(Target("https://api.buddy.works"), [change])
    for write in (render.write_text, render_markdown.write_markdown):
        out = io.StringIO()
        write(plan, out)
        assert "true -> false" in out.getvalue() or "`true` → `false`" in out.getvalue(), out.getvalue()


def test_pipeline_lists_compare_as_stored_and_objects_on_their_declared_keys():
    assert settings({"tags": [], "refs": ["a"]}, {"tags": None, "refs": ["a"]}) == []
    events = [{"type": "PUSH", "refs": ["refs/heads/main"]}]
    assert settings({"events": [{"type": "PUSH"}]}, {"events": events}) == []
    [change] = settings({"events": [{"type": "CREATE_REF"}]}, {"events": events})
    assert change.diff == {
        "events": {
            "from": [{"type": "PUSH"}],
            "to": [{"type": "CREATE_REF"}],
            "paths": [{"path": "events[0].type", "op": "change", "from": "PUSH", "to": "CREATE_REF"}],
        }
    }


def test_an_env_reference_in_a_pipeline_field_is_compared_resolved_and_shown_masked():
    fields = {"target_site_url": "${env:SITE}"}
    assert settings(fields, {"target_site_url": "https://a.test"}, detail=True, env={"SITE": "https://a.test"}) == []
    [change] = settings(fields, {"target_site_url": "https://b.test"}, detail=True, env={"SITE": "https://a.test"})
    assert change.fields == fields  # the reference is sent, resolved at apply time
    assert change.diff == {"target_site_url": {"from": "(sensitive)", "to": "(sensitive)"}}


def test_the_plan_needs_the_variables_of_compared_parts_only_and_of_every_pipeline_field() -> None:
    from reconciler.plan.diff import NOTHING, needed

    assert needed("password", "${env:PW}") is NOTHING  # write-only: apply alone needs it
    assert needed("name", "${env:N}") is NOTHING  # not compared
    secrets = [{"id": "a", "type": "FILE", "value": "${env:S}"}]
    assert "value" not in needed("secrets", secrets)[0]
    assert needed("docker_image_tag", "${env:TAG}") == "${env:TAG}"
    assert needed("priority", "${env:P}", on="pipeline") == "${env:P}"
