"""The sandbox answers the endpoints of CONTRACT.md over real HTTP the way the contract says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import PROJECT_PATH, SandboxHandle, tls_context

from reconciler.sandbox import encrypt
from reconciler.sandbox.fields import MULTI_ARCH_FIELDS, PIPELINE_FIELDS

P = PROJECT_PATH
ACTIONS = f"{P}/pipelines/7/actions"
SUMMARY_KEYS = {"url", "html_url", "id", "name", "type", "trigger_time", "status", "revision"}
#: Every field of the 2026 page's RESPONSE BODY.
RESPONSE_FIELDS = {
    "type", "url", "html_url", "id", "name", "current_revision", "trigger_time", "trigger_conditions",
    "run_next", "run_only_on_first_failure", "variables", "disabled", "timeout", "ignore_errors",
    "retry_count", "retry_interval", "last_execution_status", "pipeline", "permissions", "loop",
    "docker_image_tag", "repository", "registry", "insecure_registry", "region", "login", "password",
    "target_stage", "do_not_prune_images", "versions", "docker_registry", "target_platform", "cache_mode",
    "pull", "dockerfile_path", "context_path", "provenance", "build_args", "secrets", "integration", "package",
}  # fmt: skip


def new_action(**fields: Any) -> dict[str, Any]:
    return {"name": "Build worker image", "type": "DOCKER_BUILD_MULTI_ARCH", **fields}


def errors(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"errors"}
    return " ".join(e["message"] for e in body["errors"])


def order(client: httpx.Client) -> list[int]:
    return [a["id"] for a in client.get(ACTIONS).json()["actions"]]


# -- pipelines -------------------------------------------------------------------------------------


def test_pipeline_list_returns_summaries_in_order(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{P}/pipelines")
    assert response.status_code == 200
    body = response.json()
    assert body["url"].endswith(f"{P}/pipelines")
    assert [p["id"] for p in body["pipelines"]] == [7, 9]
    summary = body["pipelines"][0]
    for key in ("url", "html_url", "id", "name", "identifier", "refs", "events", "definition_source",
                "git_config_ref", "disabled"):  # fmt: skip
        assert key in summary
    assert "actions" not in summary
    assert summary["identifier"] == "release-images"
    assert body["pipelines"][1]["git_config_ref"] == "FIXED"


def test_pipeline_get_includes_action_summaries_in_execution_order(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.get(f"{P}/pipelines/7").json()
    assert body["name"] == "Release images"
    assert [a["id"] for a in body["actions"]] == [40, 41]
    assert all(set(a) == SUMMARY_KEYS for a in body["actions"])
    assert body["cpu"] is None and body["definition_source"] == "LOCAL"


def test_pipeline_create_derives_identifier_and_fills_defaults(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.post(f"{P}/pipelines", json={"name": "Release Images!", "priority": "HIGH"})
    assert response.status_code == 201
    body = response.json()
    assert body["identifier"] == "release-images-2"  # "release-images" is taken by pipeline 7
    assert body["priority"] == "HIGH"
    assert (body["disabled"], body["definition_source"], body["git_config_ref"]) == (False, "LOCAL", "NONE")
    assert body["events"] is None and body["actions"] == []
    assert body["id"] > 41
    assert sandbox_http.get(f"{P}/pipelines/{body['id']}").json() == body


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "name"),
        ({"name": "X", "colour": "red"}, "colour"),
        ({"name": "X", "priority": "URGENT"}, "priority"),
        ({"name": "X", "clone_depth": "3"}, "clone_depth"),
        ({"name": "X", "events": [{"refs": "main"}]}, "events[0].refs"),
        ({"name": "X", "identifier": "release-images"}, "identifier"),
    ],
)
def test_pipeline_create_refuses_bad_fields(sandbox_http: httpx.Client, payload: dict[str, Any], fragment: str) -> None:
    response = sandbox_http.post(f"{P}/pipelines", json=payload)
    assert response.status_code == 400
    assert fragment in errors(response)


def test_pipeline_patch_and_delete(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.patch(f"{P}/pipelines/7", json={"refs": ["refs/heads/release"], "paused": True})
    assert response.status_code == 200
    assert response.json()["refs"] == ["refs/heads/release"] and response.json()["paused"] is True
    assert sandbox_http.patch(f"{P}/pipelines/7", json={"paused": "yes"}).status_code == 400
    delete = sandbox_http.delete(f"{P}/pipelines/7")
    assert delete.status_code == 204 and delete.content == b""
    assert sandbox_http.get(f"{P}/pipelines/7").status_code == 404
    assert sandbox_http.get(f"{P}/pipelines/7/actions/41").status_code == 404


def test_pipeline_get_returns_every_pipeline_field_null_when_unset(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.get(f"{P}/pipelines/7").json()
    assert set(PIPELINE_FIELDS) <= set(body)
    assert body["tags"] is None and body["clone_depth"] is None and body["trigger_conditions"] is None
    for key in ("url", "html_url", "id", "create_date", "last_execution_status", "project", "creator"):
        assert key in body


def test_pipeline_patch_renames_and_answers_the_full_pipeline(sandbox_http: httpx.Client) -> None:
    change = {
        "name": "Release everything",
        "priority": "LOW",
        "cpu": "ARM",
        "events": [{"type": "PUSH", "refs": ["refs/heads/main"]}],
        "trigger_conditions": [{"trigger_condition": "ON_CHANGE_AT_PATH", "trigger_condition_paths": ["src/"]}],
        "tags": ["prod"],
        "clone_depth": 1,
    }
    response = sandbox_http.patch(f"{P}/pipelines/7", json=change)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Release everything" and body["priority"] == "LOW" and body["cpu"] == "ARM"
    assert body["trigger_conditions"][0]["trigger_condition_paths"] == ["src/"]
    assert body["trigger_conditions"][0]["trigger_variable_key"] is None  # stored as the API returns it
    assert set(PIPELINE_FIELDS) <= set(body) and [a["id"] for a in body["actions"]] == [40, 41]
    assert body["identifier"] == "release-images"  # a rename keeps the identifier
    assert sandbox_http.get(f"{P}/pipelines/7").json() == body
    assert sandbox_http.get(f"{P}/pipelines").json()["pipelines"][0]["name"] == "Release everything"


def test_pipeline_patch_null_on_a_defaulted_field_stores_the_default(sandbox_http: httpx.Client) -> None:
    assert sandbox_http.patch(f"{P}/pipelines/7", json={"disabled": True}).json()["disabled"] is True
    assert sandbox_http.patch(f"{P}/pipelines/7", json={"disabled": None}).json()["disabled"] is False
    assert sandbox_http.patch(f"{P}/pipelines/7", json={"priority": None}).json()["priority"] is None


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"colour": "red"}, "colour"),
        ({"id": 8}, "id: read-only"),
        ({"create_date": "2020-01-01T00:00:00Z"}, "create_date: read-only"),
        ({"actions": []}, "actions: read-only"),
        ({"priority": "URGENT"}, "priority"),
        ({"cpu": "RISCV"}, "cpu"),
        ({"events": [{"type": "TELEPATHY"}]}, "events[0].type"),
        ({"events": "PUSH"}, "events"),
        ({"trigger_conditions": [{"trigger_condition": "SOMETIMES"}]}, "trigger_conditions[0].trigger_condition"),
        ({"trigger_conditions": [{"trigger_condition": "ALWAYS", "extra": 1}]}, "trigger_conditions[0].extra"),
        ({"clone_depth": 1.0}, "clone_depth"),
        ({"disabled": "no"}, "disabled"),
        ({"tags": ["a", 1]}, "tags[1]"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"identifier": None}, "identifier"),
        ({"definition_source": "CLOUD"}, "definition_source"),
        ({"after_action_id": 40}, "after_action_id"),
    ],
)
def test_pipeline_patch_refuses_bad_unknown_and_read_only_fields(
    sandbox_http: httpx.Client, payload: dict[str, Any], fragment: str
) -> None:
    before = sandbox_http.get(f"{P}/pipelines/7").json()
    response = sandbox_http.patch(f"{P}/pipelines/7", json=payload)
    assert response.status_code == 400, response.text
    assert fragment in errors(response)
    assert sandbox_http.get(f"{P}/pipelines/7").json() == before


def test_pipeline_patch_refuses_an_identifier_in_use(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.patch(f"{P}/pipelines/7", json={"identifier": "docs"})
    assert response.status_code == 400 and "already used" in errors(response)


@pytest.mark.parametrize("yaml_fields", [{"git_config_ref": "DYNAMIC"}, {"definition_source": "REMOTE"}])
def test_pipeline_patch_refuses_a_pipeline_defined_in_yaml(
    sandbox_http: httpx.Client, yaml_fields: dict[str, str]
) -> None:
    assert sandbox_http.patch(f"{P}/pipelines/9", json={"priority": "LOW"}).status_code == 400  # FIXED
    created = sandbox_http.post(f"{P}/pipelines", json={"name": "From YAML", **yaml_fields}).json()
    response = sandbox_http.patch(f"{P}/pipelines/{created['id']}", json={"name": "Renamed"})
    assert response.status_code == 400 and "YAML" in errors(response)
    assert sandbox_http.get(f"{P}/pipelines/{created['id']}").json()["name"] == "From YAML"


# -- actions: reading ------------------------------------------------------------------------------


def test_action_list_returns_exact_summaries(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.get(ACTIONS).json()
    assert body["url"].endswith(ACTIONS)
    assert [(a["id"], a["name"], a["type"]) for a in body["actions"]] == [
        (40, "Run tests", "BUILD"),
        (41, "Build app image", "DOCKER_BUILD_MULTI_ARCH"),
    ]
    assert all(set(a) == SUMMARY_KEYS for a in body["actions"])


def test_action_get_has_every_documented_field_null_when_unset(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.get(f"{ACTIONS}/41").json()
    assert set(body) >= RESPONSE_FIELDS
    summary = sandbox_http.get(f"{P}/pipelines").json()["pipelines"][0]
    assert body["pipeline"] == summary  # "with a pipeline summary": the same summary as in the list
    assert body["pipeline"]["url"] == body["url"].rsplit("/actions/", 1)[0]
    assert body["cache_mode"] == "MIN" and body["dockerfile_path"] == "Dockerfile"
    assert body["provenance"] is None and body["secrets"] is None and body["integration"] is None
    assert (body["trigger_time"], body["disabled"], body["target_platform"]) == (
        "ON_EVERY_EXECUTION",
        False,
        "linux/amd64",
    )
    assert body["last_execution_status"] == "INITIAL"
    assert "after_action_id" not in body


def test_action_of_another_type_keeps_its_seeded_fields(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.get(f"{ACTIONS}/40").json()
    assert body["type"] == "BUILD" and body["commands"] == ["make test"]
    assert body["trigger_time"] == "ON_EVERY_EXECUTION"


def test_request_only_fields_can_be_hidden_by_switch(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    assert "image_location" in sandbox_http.get(f"{ACTIONS}/41").json()
    sandbox_server.app.set_switches(hide_request_only_fields=True)
    assert "image_location" not in sandbox_http.get(f"{ACTIONS}/41").json()


# -- actions: writing ------------------------------------------------------------------------------


def test_action_create_appends_with_defaults_and_201(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.post(ACTIONS, json=new_action(cache_mode="MAX"))
    assert response.status_code == 201
    body = response.json()
    assert body["cache_mode"] == "MAX" and body["trigger_time"] == "ON_EVERY_EXECUTION"
    assert body["target_platform"] == "linux/amd64" and body["disabled"] is False
    assert set(body) >= RESPONSE_FIELDS
    assert order(sandbox_http) == [40, 41, body["id"]]
    assert sandbox_http.get(f"{ACTIONS}/{body['id']}").json() == body


def test_action_create_status_can_be_200(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_switches(action_create_status=200)
    assert sandbox_http.post(ACTIONS, json=new_action()).status_code == 200


def test_after_action_id_places_the_new_action(sandbox_http: httpx.Client) -> None:
    created = sandbox_http.post(ACTIONS, json=new_action(after_action_id=40)).json()
    assert order(sandbox_http) == [40, created["id"], 41]


@pytest.mark.parametrize("after", [999, 0, 9, "40", True])
def test_after_action_id_must_name_an_action_of_the_pipeline(sandbox_http: httpx.Client, after: Any) -> None:
    response = sandbox_http.post(ACTIONS, json=new_action(after_action_id=after))
    assert response.status_code == 400
    assert "after_action_id" in errors(response)
    assert order(sandbox_http) == [40, 41]


def test_insert_first_switch_puts_after_zero_first(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_switches(insert_first=True)
    created = sandbox_http.post(ACTIONS, json=new_action(after_action_id=0)).json()
    assert order(sandbox_http) == [created["id"], 40, 41]


def test_patch_validates_after_action_id_then_ignores_it(sandbox_http: httpx.Client) -> None:
    assert sandbox_http.patch(f"{ACTIONS}/41", json={"after_action_id": 12345}).status_code == 400
    response = sandbox_http.patch(f"{ACTIONS}/40", json={"after_action_id": 41, "timeout": 60})
    assert response.status_code == 200 and response.json()["timeout"] == 60
    assert order(sandbox_http) == [40, 41]


def test_move_on_patch_switch_moves_the_action(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_switches(move_on_patch=True)
    assert sandbox_http.patch(f"{ACTIONS}/40", json={"after_action_id": 41}).status_code == 200
    assert order(sandbox_http) == [41, 40]


def test_patch_changes_only_the_fields_sent_and_bumps_revision(sandbox_http: httpx.Client) -> None:
    before = sandbox_http.get(f"{ACTIONS}/41").json()
    response = sandbox_http.patch(f"{ACTIONS}/41", json={"cache_mode": "MAX", "build_args": ["A=1"]})
    assert response.status_code == 200
    after = response.json()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"cache_mode", "build_args"}
    revisions = {a["id"]: a["revision"] for a in sandbox_http.get(ACTIONS).json()["actions"]}
    assert revisions == {40: 1, 41: 2}
    sandbox_http.patch(f"{ACTIONS}/41", json={"cache_mode": "MAX"})  # no change: same revision
    assert sandbox_http.get(ACTIONS).json()["actions"][1]["revision"] == 2


def test_patch_null_unsets_and_null_default_restores_it(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.patch(f"{ACTIONS}/41", json={"cache_mode": None, "trigger_time": None}).json()
    assert body["cache_mode"] is None and body["trigger_time"] == "ON_EVERY_EXECUTION"


def test_patch_refuses_a_type_change(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.patch(f"{ACTIONS}/41", json={"type": "BUILD"})
    assert response.status_code == 400 and "change the type" in errors(response)
    assert sandbox_http.patch(f"{ACTIONS}/41", json={"type": "DOCKER_BUILD_MULTI_ARCH"}).status_code == 200


def test_duplicate_action_names_are_allowed(sandbox_http: httpx.Client) -> None:
    assert sandbox_http.post(ACTIONS, json=new_action(name="Build app image")).status_code == 201
    names = [a["name"] for a in sandbox_http.get(ACTIONS).json()["actions"]]
    assert names.count("Build app image") == 2


def test_delete_action(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.delete(f"{ACTIONS}/40")
    assert response.status_code == 204 and response.content == b""
    assert order(sandbox_http) == [41]
    assert sandbox_http.delete(f"{ACTIONS}/40").status_code == 404


def test_yaml_defined_pipeline_refuses_action_writes(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.post(f"{P}/pipelines/9/actions", json=new_action())
    assert response.status_code == 400 and "YAML" in errors(response)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"type": "DOCKER_BUILD_MULTI_ARCH"}, "name"),
        ({"name": "x"}, "type"),
        (new_action(colour="red"), "colour"),
        (new_action(cache_mode="HUGE"), "cache_mode"),
        (new_action(timeout="60"), "timeout"),
        (new_action(timeout=True), "timeout"),
        (new_action(pull="yes"), "pull"),
        (new_action(target_platform=["linux/amd64"]), "target_platform"),
        (new_action(build_args="A=1"), "build_args"),
        (new_action(secrets=[{"id": "s", "type": "DISK"}]), "secrets[0].type"),
        (new_action(secrets=[{"id": "s", "path": "/x"}]), "secrets[0].path"),
        (new_action(integration={}), "integration"),
        (new_action(integration="abc"), "integration"),
        (new_action(variables=[{"key": "A", "encrypted": "no"}]), "variables[0].encrypted"),
        (new_action(trigger_conditions=[{"trigger_condition": "SOMETIMES"}]), "trigger_condition"),
        (new_action(permissions={"others": "ALL"}), "permissions.others"),
        (new_action(trigger_time="ON_FAILURE"), "run_only_on_first_failure"),
        (new_action(run_only_on_first_failure=True), "run_only_on_first_failure"),
    ],
)
def test_action_create_refuses_bad_fields(sandbox_http: httpx.Client, payload: dict[str, Any], fragment: str) -> None:
    response = sandbox_http.post(ACTIONS, json=payload)
    assert response.status_code == 400, response.text
    assert fragment in errors(response)
    assert order(sandbox_http) == [40, 41]


def test_bodies_that_are_not_json_objects_are_400(sandbox_http: httpx.Client) -> None:
    assert sandbox_http.post(ACTIONS, content=b"not json").status_code == 400
    assert sandbox_http.post(ACTIONS, json=[1, 2]).status_code == 400
    assert sandbox_http.post(ACTIONS).status_code == 400


def test_read_only_fields_are_ignored_or_refused_by_switch(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    body = sandbox_http.post(ACTIONS, json=new_action(id=5, url="x", last_execution_status="FAILED")).json()
    assert body["id"] != 5 and body["last_execution_status"] == "INITIAL"
    sandbox_server.app.set_switches(reject_read_only=True)
    assert sandbox_http.post(ACTIONS, json=new_action(id=5)).status_code == 400


def test_nested_objects_come_back_with_every_key(sandbox_http: httpx.Client) -> None:
    payload = new_action(
        variables=[{"key": "A", "value": "1"}],
        trigger_conditions=[{"trigger_condition": "ON_CHANGE"}],
        permissions={"others": "READ_ONLY", "users": [{"id": 3, "access_level": "READ_WRITE"}]},
        integration={"identifier": "dockerhub-1"},
    )
    body = sandbox_http.post(ACTIONS, json=payload).json()
    assert body["variables"] == [
        {"key": "A", "value": "1", "type": None, "encrypted": None, "settable": None, "description": None}
    ]
    condition = body["trigger_conditions"][0]
    assert condition["trigger_condition"] == "ON_CHANGE" and condition["trigger_hours"] is None
    assert len(condition) == 11
    assert body["permissions"] == {
        "others": "READ_ONLY",
        "users": [{"id": 3, "access_level": "READ_WRITE"}],
        "groups": None,
    }
    assert body["integration"] == {"identifier": "dockerhub-1", "hash_id": "dockerhub-1"}


def test_every_field_of_the_table_round_trips(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.post(ACTIONS, json=new_action()).json()
    assert set(MULTI_ARCH_FIELDS) <= set(body)


def test_normalize_target_platform_switch(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_switches(normalize_target_platform=True)
    body = sandbox_http.post(ACTIONS, json=new_action(target_platform="linux/amd64, linux/arm64")).json()
    assert body["target_platform"] == "linux/amd64,linux/arm64"


def test_on_failure_rule_accepts_consistent_values_and_clears_on_trigger_change(sandbox_http: httpx.Client) -> None:
    payload = new_action(trigger_time="ON_FAILURE", run_only_on_first_failure=True)
    created = sandbox_http.post(ACTIONS, json=payload)
    assert created.status_code == 201
    patched = sandbox_http.patch(f"{ACTIONS}/{created.json()['id']}", json={"trigger_time": "ON_SUCCESS"}).json()
    assert patched["run_only_on_first_failure"] is None


# -- secrets ---------------------------------------------------------------------------------------


def test_write_only_values_come_back_encrypted(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    payload = new_action(
        login="bot", password="s3cret-pass", secrets=[{"id": "npmrc", "type": "FILE", "value": "token-123"}]
    )
    body = sandbox_http.post(ACTIONS, json=payload).json()
    assert body["login"] == "bot"
    assert body["password"] == encrypt("s3cret-pass") != "s3cret-pass"
    assert body["secrets"] == [{"id": "npmrc", "type": "FILE", "value": encrypt("token-123")}]
    seeded = sandbox_http.get(f"{ACTIONS}/41").json()
    assert seeded["password"] == encrypt("seed-plaintext-password")
    dumped = str(sandbox_server.app.state.to_data())
    for plaintext in ("s3cret-pass", "token-123", "seed-plaintext-password"):
        assert plaintext not in dumped
        assert plaintext not in sandbox_http.get(ACTIONS).text


def test_patch_password_is_encrypted_too(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.patch(f"{ACTIONS}/41", json={"password": "rotated"}).json()
    assert body["password"] == encrypt("rotated")


def test_secret_values_of_any_action_type_are_encrypted_and_integration_tokens_never_returned(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    payload = {
        "name": "Deploy",
        "type": "SSH_COMMAND",
        "secrets": [{"id": "key", "value": "plain-ssh-secret"}],
        "integration": {"identifier": "ssh-int", "token": "plain-integration-token"},
    }
    created = sandbox_http.post(ACTIONS, json=payload).json()
    assert created["secrets"] == [{"id": "key", "value": encrypt("plain-ssh-secret")}]
    assert created["integration"] == {"identifier": "ssh-int"}
    patched = sandbox_http.patch(
        f"{ACTIONS}/{created['id']}",
        json={"secrets": [{"id": "key", "value": "rotated-ssh-secret"}], "integration": {"token": "rotated-token"}},
    ).json()
    assert patched["secrets"] == [{"id": "key", "value": encrypt("rotated-ssh-secret")}]
    assert patched["integration"] == {}
    dumped = str(sandbox_server.app.state.to_data()) + sandbox_http.get(f"{ACTIONS}/{created['id']}").text
    for plaintext in ("plain-ssh-secret", "plain-integration-token", "rotated-ssh-secret", "rotated-token"):
        assert plaintext not in dumped


# -- lookups, methods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/workspaces/nope/projects/web/pipelines",
        "/workspaces/acme/projects/nope/pipelines",
        f"{P}/pipelines/999",
        f"{P}/pipelines/abc",
        f"{P}/pipelines/7/actions/999",
        f"{P}/pipelines/9/actions/41",
        f"{P}/somewhere",
        "/",
    ],
)
def test_unknown_objects_are_404(sandbox_http: httpx.Client, path: str) -> None:
    response = sandbox_http.get(path)
    assert response.status_code == 404
    assert errors(response)


def test_unsupported_method_is_405(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.put(f"{ACTIONS}/41", json={})
    assert response.status_code == 405 and "PATCH" in response.headers["Allow"]


# -- pagination ------------------------------------------------------------------------------------


def _fill(client: httpx.Client, n: int) -> list[int]:
    return [client.post(ACTIONS, json=new_action(name=f"a{i}")).json()["id"] for i in range(n)]


def test_action_list_paginates(sandbox_http: httpx.Client) -> None:
    ids = [40, 41, *_fill(sandbox_http, 23)]  # 25 actions
    first = sandbox_http.get(ACTIONS).json()["actions"]
    assert [a["id"] for a in first] == ids[:20]  # default per_page 20
    second = sandbox_http.get(ACTIONS, params={"page": 2}).json()
    assert [a["id"] for a in second["actions"]] == ids[20:]
    assert set(second) == {"url", "html_url", "actions"}  # no totals
    assert sandbox_http.get(ACTIONS, params={"page": 3}).json()["actions"] == []
    pages = [sandbox_http.get(ACTIONS, params={"page": n, "per_page": 10}).json()["actions"] for n in (1, 2, 3)]
    assert [a["id"] for page in pages for a in page] == ids


def test_pipeline_list_paginates(sandbox_http: httpx.Client) -> None:
    for i in range(3):
        sandbox_http.post(f"{P}/pipelines", json={"name": f"p{i}"})
    page = sandbox_http.get(f"{P}/pipelines", params={"per_page": 2, "page": 2}).json()["pipelines"]
    assert [p["name"] for p in page] == ["p0", "p1"]
    assert sandbox_http.get(f"{P}/pipelines", params={"per_page": 2, "page": 4}).json()["pipelines"] == []
    for i in range(3, 20):
        sandbox_http.post(f"{P}/pipelines", json={"name": f"p{i}"})
    first = sandbox_http.get(f"{P}/pipelines").json()
    assert len(first["pipelines"]) == 20 and set(first) == {"url", "html_url", "pipelines"}  # per_page 20, no totals
    assert [p["name"] for p in sandbox_http.get(f"{P}/pipelines", params={"page": 2}).json()["pipelines"]] == [
        "p18",
        "p19",
    ]


def test_per_page_is_clamped_to_100_or_refused_by_switch(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    _fill(sandbox_http, 100)
    assert len(sandbox_http.get(ACTIONS, params={"per_page": 500}).json()["actions"]) == 100
    sandbox_server.app.set_switches(per_page_over_max="error")
    assert sandbox_http.get(ACTIONS, params={"per_page": 101}).status_code == 400


@pytest.mark.parametrize("params", [{"page": 0}, {"page": "x"}, {"per_page": 0}, {"per_page": -3}])
def test_bad_paging_parameters_are_400(sandbox_http: httpx.Client, params: dict[str, Any]) -> None:
    assert sandbox_http.get(ACTIONS, params=params).status_code == 400


# -- auth ------------------------------------------------------------------------------------------


def test_missing_or_bad_token_is_401(sandbox_server: SandboxHandle) -> None:
    with httpx.Client(base_url=sandbox_server.url, verify=tls_context()) as anonymous:
        assert anonymous.get(ACTIONS).status_code == 401
        assert anonymous.get(ACTIONS, headers={"Authorization": "Basic abc"}).status_code == 401
    with sandbox_server.client(token="wrong-token") as client:
        response = client.get(ACTIONS)
        assert response.status_code == 401
        assert "wrong-token" not in response.text and sandbox_server.token not in response.text


def test_missing_scope_is_403_naming_it(sandbox_server: SandboxHandle) -> None:
    app = sandbox_server.app
    app.add_token("read-only", {"WORKSPACE", "EXECUTION_INFO"})
    app.add_token("new-read-only", {"WORKSPACE", "PIPELINE_READ"})
    app.add_token("no-workspace", {"EXECUTION_INFO", "EXECUTION_MANAGE"})
    app.add_token("writer", {"WORKSPACE", "PIPELINE_WRITE"})
    with sandbox_server.client(token="read-only") as client:
        assert client.get(ACTIONS).status_code == 200
        response = client.post(ACTIONS, json=new_action())
        assert response.status_code == 403 and "EXECUTION_MANAGE" in errors(response)
    with sandbox_server.client(token="new-read-only") as client:
        assert client.get(ACTIONS).status_code == 200
    with sandbox_server.client(token="no-workspace") as client:
        response = client.get(ACTIONS)
        assert response.status_code == 403 and "WORKSPACE" in errors(response)
    with sandbox_server.client(token="writer") as client:
        assert client.post(ACTIONS, json=new_action()).status_code == 201
        response = client.get(ACTIONS)
        assert response.status_code == 403 and "EXECUTION_INFO" in errors(response)
    assert sandbox_server.app.state.pipeline("acme", "web", 7) is not None


def test_a_workspace_with_the_api_disabled_answers_403_to_every_request(sandbox_server: SandboxHandle) -> None:
    sandbox_server.app.set_api_disabled("acme")
    with sandbox_server.client() as client:
        for response in (client.get(f"{P}/pipelines"), client.get(ACTIONS), client.post(ACTIONS, json=new_action())):
            assert response.status_code == 403
            assert errors(response) == "API is disabled in this workspace"
            assert "X-Rate-Limit-Remaining" in response.headers
        with httpx.Client(base_url=sandbox_server.url, verify=tls_context()) as anonymous:
            assert anonymous.get(ACTIONS).status_code == 401  # the token is checked first
        sandbox_server.app.set_api_disabled("acme", disabled=False)
        assert client.get(ACTIONS).status_code == 200
    assert len(sandbox_server.app.state.pipeline("acme", "web", 7).actions) == 2  # nothing was written


def test_the_old_media_type_header_is_ignored(sandbox_http: httpx.Client) -> None:
    plain = sandbox_http.get(f"{P}/pipelines/7").json()
    for value in ("buddy.v1.1.0", "something-else"):
        assert sandbox_http.get(f"{P}/pipelines/7", headers={"X-Buddy-Media-Type": value}).json() == plain
    created = sandbox_http.post(ACTIONS, json=new_action(), headers={"X-Buddy-Media-Type": "buddy.v1.1.0"})
    assert created.status_code == 201


def test_auth_comes_before_lookups(sandbox_server: SandboxHandle) -> None:
    with httpx.Client(base_url=sandbox_server.url, verify=tls_context()) as anonymous:
        assert anonymous.get("/workspaces/nope/projects/x/pipelines").status_code == 401
