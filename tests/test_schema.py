"""The JSON Schemas derived from Buddy's reference pages, and the schema check of a config document."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from reconciler.config import schema
from reconciler.config.defaults import apply_defaults
from reconciler.config.loader import Document, load_paths
from reconciler.problems import MAX_PROBLEMS_PER_FILE, Location, Problem

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO.parent / "shared" / "api-docs"
PAGE_2026 = DOCS / "add-docker-build-multi-arch.2026.txt"
READ_ONLY = ["url", "html_url", "id", "last_execution_status", "pipeline", "current_revision"]

REALISTIC = """\
# yaml-language-server: $schema=../schemas/config.schema.json
workspace: acme
project: web
pipelines:
  - name: Release images
    prune: false
    refs: [refs/heads/main]
    events:
      - type: PUSH
        refs: [refs/heads/main]
    priority: NORMAL
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        dockerfile_path: Dockerfile
        context_path: /
        target_platform: linux/amd64,linux/arm64
        docker_registry: DOCKER_HUB
        repository: acme/web
        docker_image_tag: $BUDDY_EXECUTION_REVISION
        build_args: [NODE_ENV=production]
        cache_mode: MAX
        login: ${env:DOCKERHUB_USER}
        password: ${env:DOCKERHUB_TOKEN}
        secrets:
          - {id: npmrc, value: "${env:NPMRC}", type: FILE}
        integration: {identifier: dockerhub}
        variables:
          - {key: NODE_VERSION, value: "20"}
        trigger_conditions:
          - trigger_condition: ON_CHANGE_AT_PATH
            trigger_condition_paths: [app/]
        permissions:
          others: READ_ONLY
          users: [{id: 3, access_level: READ_WRITE}]
      - name: Build worker image
        type: DOCKER_BUILD_MULTI_ARCH
        after: Run tests
        previous_names: [Build worker]
        dockerfile_path: worker/Dockerfile
        target_stage: null
        trigger_time: ON_FAILURE
        run_only_on_first_failure: true
  - id: 42
    actions: []
"""


def realistic() -> dict[str, Any]:
    return yaml.safe_load(REALISTIC)


def doc_of(data: Any, **kwargs: Any) -> Document:
    return Document(file="web.yaml", data=data, **kwargs)


def check(data: Any) -> list[Problem]:
    return schema.check_document(doc_of(data))


def with_action(**fields: Any) -> dict[str, Any]:
    """A valid file whose one action has ``fields`` on top of a name and a type (None removes a key)."""
    action: dict[str, Any] = {"name": "Build", "type": "DOCKER_BUILD_MULTI_ARCH", **fields}
    return {"workspace": "acme", "project": "web", "pipelines": [{"name": "Release", "actions": [action]}]}


ACTION = ("pipelines", 0, "actions", 0)


def messages(problems: list[Problem]) -> list[str]:
    return [f"{p.path}: {p.message}" for p in problems]


@functools.cache
def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_schema", REPO / "scripts" / "generate_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_schema"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


needs_docs = pytest.mark.skipif(not PAGE_2026.exists(), reason=f"the reference pages are not at {DOCS}")


# -- the generated schemas -------------------------------------------------------------------------


@needs_docs
def test_the_committed_schemas_are_what_the_generator_derives_from_the_reference_pages(tmp_path: Path) -> None:
    generator = load_generator()
    assert generator.main(["--docs", str(DOCS), "--out", str(tmp_path)]) == 0
    for name in ("action.schema.json", "config.schema.json"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (REPO / "schemas" / name).read_text(encoding="utf-8")


@needs_docs
def test_the_check_mode_fails_only_when_a_committed_schema_is_stale(tmp_path: Path) -> None:
    generator = load_generator()
    for name in ("action.schema.json", "config.schema.json"):
        shutil.copy(REPO / "schemas" / name, tmp_path / name)
    assert generator.main([str(DOCS), "--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "action.schema.json").write_text("{}\n", encoding="utf-8")
    assert generator.main([str(DOCS), "--check", "--out", str(tmp_path)]) == 1
    assert (tmp_path / "action.schema.json").read_text(encoding="utf-8") == "{}\n"  # --check writes nothing


@needs_docs
def test_the_action_schema_has_every_post_parameter_of_the_2026_page() -> None:
    # An independent, deliberately simple reading of the page: the field lines of the POST section.
    text = PAGE_2026.read_text(encoding="utf-8")
    section = text.split("POST PARAMETERS", 1)[1].split("\nResponse", 1)[0]
    names = {
        m[1]
        for m in re.finditer(
            r"^([a-z_]+?)(?:required|read-only)?(?:string|integer|boolean|[A-Z]\w*)(?:\[\])?(?: enum)?$",
            section,
            re.MULTILINE,
        )
    }
    assert len(names) == 44
    properties = schema.load_schema("action")["properties"]
    assert names <= set(properties)
    assert set(properties) - names == {"id", "last_execution_status", "pipeline"}  # from the response


def test_the_action_schema_keeps_the_page_s_types_enums_and_descriptions() -> None:
    action = schema.load_schema("action")
    props = action["properties"]
    assert action["required"] == ["name", "type"]
    assert action["additionalProperties"] is False
    assert props["cache_mode"]["enum"] == ["MIN", "MAX", None]
    assert props["cache_mode"]["description"] == "The caching mode for Docker build"
    assert props["target_platform"]["type"] == "string"  # Buddy's default makes a null meaningless
    assert props["target_platform"]["default"] == "linux/amd64"
    assert props["build_args"] == {
        "description": "The list of build arguments to pass to the Docker build",
        "type": ["array", "null"],
        "items": {"type": "string"},
    }
    assert props["type"]["enum"] == ["DOCKER_BUILD_MULTI_ARCH"]
    assert "DIGITAL_OCEAN_CONTAINER_REGISTRY" in props["docker_registry"]["enum"]
    assert props["secrets"]["items"] == {"type": "object", "$ref": "#/$defs/DockerSecretView"}
    assert action["x-2024-spellings"]["integration_hash"] == "integration.identifier"


def test_every_nested_object_is_a_closed_definition() -> None:
    defs = schema.load_schema("action")["$defs"]
    assert set(defs) >= {
        "DockerSecretView",
        "DockerIntegrationRef",
        "EnvironmentVariableView",
        "TriggerConditionView",
        "PermissionsView",
    }
    assert all(d["additionalProperties"] is False for d in defs.values())
    assert defs["DockerSecretView"]["properties"]["type"]["enum"] == ["FILE", "ENV", None]
    assert len(defs["TriggerConditionView"]["properties"]["trigger_condition"]["enum"]) == 13


def test_the_read_only_fields_are_marked_and_refused() -> None:
    props = schema.load_schema("action")["properties"]
    for name in [*READ_ONLY, "after_action_id"]:
        assert props[name]["not"] == {}, name
        assert props[name]["readOnly"] is True, name


def test_load_schema_returns_one_parsed_copy_and_schema_text_the_shipped_text() -> None:
    assert schema.load_schema("config") is schema.load_schema("config")
    assert json.loads(schema.schema_text("action")) == schema.load_schema("action")
    assert schema.schema_text("config").endswith("}\n")


# -- the check of a document -----------------------------------------------------------------------


def test_a_realistic_config_file_is_valid() -> None:
    assert check(realistic()) == []


def test_a_misspelt_field_is_reported_with_a_suggestion_at_the_key() -> None:
    key_at = Location("web.yaml", 9, 7)
    doc = doc_of(
        with_action(dokerfile_path="Dockerfile"),
        locations={(*ACTION, "dokerfile_path"): Location("web.yaml", 9, 23)},
        key_locations={(*ACTION, "dokerfile_path"): key_at},
    )
    assert schema.check_document(doc) == [
        Problem(
            key_at,
            "$.pipelines[0].actions[0].dokerfile_path",
            "unknown field `dokerfile_path`; did you mean `dockerfile_path`?",
        )
    ]


def test_past_the_shown_problems_of_a_file_unknown_fields_are_still_counted_but_not_matched() -> None:
    # Matching a key against every field is what made 100k unknown keys slow; validate shows the first
    # MAX_PROBLEMS_PER_FILE problems of a file only, so past them a suggestion would never be read.
    typos = {f"dockerfile_path{i}": "x" for i in range(MAX_PROBLEMS_PER_FILE + 3)}
    found = messages(check(with_action(**typos)))
    assert len(found) == MAX_PROBLEMS_PER_FILE + 3
    assert all("did you mean `dockerfile_path`?" in m for m in found[:MAX_PROBLEMS_PER_FILE])
    assert found[-1].endswith(f"unknown field `dockerfile_path{MAX_PROBLEMS_PER_FILE + 2}`")


def test_an_unknown_field_like_no_other_gets_no_suggestion() -> None:
    assert messages(check(with_action(frobnicate=1))) == [
        "$.pipelines[0].actions[0].frobnicate: unknown field `frobnicate`"
    ]


def test_two_unknown_fields_are_two_problems() -> None:
    assert len(check(with_action(colour="red", flavour="mint"))) == 2


def test_our_own_keys_are_unknown_outside_a_config_action() -> None:
    data = with_action()
    data["pipelines"][0]["after"] = "x"
    assert messages(check(data)) == ["$.pipelines[0].after: unknown field `after`"]


def test_a_misspelt_key_inside_a_nested_object_is_reported_at_that_key() -> None:
    data = with_action(secrets=[{"id": "npm", "vlaue": "${env:NPM}"}])
    assert messages(check(data)) == [
        "$.pipelines[0].actions[0].secrets[0].vlaue: unknown field `vlaue`; did you mean `value`?"
    ]


def test_a_misspelt_top_level_key_is_reported() -> None:
    data = with_action()
    data["pipeline"] = data.pop("pipelines")
    assert sorted(messages(check(data))) == [
        "$.pipeline: unknown field `pipeline`; did you mean `pipelines`?",
        "$: missing required field `pipelines`",
    ]


def test_a_bad_enum_value_lists_the_allowed_values() -> None:
    assert messages(check(with_action(cache_mode="FOO"))) == [
        "$.pipelines[0].actions[0].cache_mode: `FOO` is not one of the allowed values: MIN, MAX"
    ]


@pytest.mark.parametrize("field", READ_ONLY)
def test_a_read_only_field_is_refused_at_its_key(field: str) -> None:
    key_at = Location("web.yaml", 4, 9)
    doc = doc_of(with_action(**{field: 1}), key_locations={(*ACTION, field): key_at})
    [problem] = schema.check_document(doc)
    assert problem.message == f"`{field}` is read-only (set by Buddy); remove it"
    assert problem.location == key_at


def test_after_action_id_is_refused_because_placement_comes_from_file_order() -> None:
    [problem] = check(with_action(after_action_id=40))
    assert "file's order" in problem.message
    assert "`after: NAME`" in problem.message


def test_every_optional_action_field_without_a_server_default_accepts_an_explicit_null() -> None:
    props = schema.load_schema("action")["properties"]
    optional = [k for k, v in props.items() if k not in ("name", "type") and "not" not in v and "default" not in v]
    assert len(optional) > 30
    assert check(with_action(**dict.fromkeys(optional))) == []


@pytest.mark.parametrize(
    ("field", "default"),
    [("trigger_time", "ON_EVERY_EXECUTION"), ("disabled", "false"), ("target_platform", "linux/amd64")],
)
def test_a_null_on_a_field_buddy_fills_on_create_is_refused_naming_the_default(field: str, default: str) -> None:
    assert messages(check(with_action(**{field: None}))) == [
        f"$.pipelines[0].actions[0].{field}: `{field}` must not be null: Buddy sets {default} when it is unset, "
        f"so a null would be sent on every apply and never hold; write `{field}: {default}` or leave the field out"
    ]


@pytest.mark.parametrize("text", ["retry_count: 1.0", "timeout: 600.0"])
def test_an_integral_float_in_an_integer_field_is_refused(text: str) -> None:
    field, value = text.split(": ")
    (problem,) = check(with_action(**{field: float(value)}))
    assert problem.message == (
        f"expected integer or null, got number ({value}); write it without a fraction: `{int(float(value))}`"
    )


def test_an_integration_needs_a_non_null_identifier() -> None:
    assert messages(check(with_action(integration={"identifier": None}))) == [
        "$.pipelines[0].actions[0].integration.identifier: `identifier` must not be null: expected string"
    ]


def test_optional_keys_inside_nested_objects_accept_null() -> None:
    data = with_action(secrets=[{"id": "npm", "type": None, "value": None}], permissions={"others": None})
    assert check(data) == []


@pytest.mark.parametrize("field", ["name", "type"])
def test_name_and_type_do_not_accept_null(field: str) -> None:
    assert messages(check(with_action(**{field: None}))) == [
        f"$.pipelines[0].actions[0].{field}: `{field}` must not be null: expected string"
    ]


def test_a_wrong_type_says_what_was_expected_and_what_was_given() -> None:
    assert messages(check(with_action(timeout="soon", dockerfile_path=42))) == [
        '$.pipelines[0].actions[0].timeout: expected integer or null, got string ("soon")',
        "$.pipelines[0].actions[0].dockerfile_path: expected string or null, got integer (42); YAML reads `42` as "
        'a number: write it in quotes (`"42"`) to keep it as written',
    ]


def test_a_value_of_the_wrong_type_is_one_problem_not_a_type_and_an_enum_problem() -> None:
    assert messages(check(with_action(cache_mode=3))) == [
        "$.pipelines[0].actions[0].cache_mode: expected string or null, got integer (3); YAML reads `3` as a "
        'number: write it in quotes (`"3"`) to keep it as written'
    ]


def test_a_target_platform_list_left_untranslated_is_refused_as_a_list() -> None:
    # The loader turns a list of strings into the 2026 string; a list it cannot translate reaches here.
    assert messages(check(with_action(target_platform=["linux/amd64", 7]))) == [
        "$.pipelines[0].actions[0].target_platform: expected string, got array"
    ]


def test_a_secret_given_with_the_wrong_type_is_never_echoed() -> None:
    problems = check(with_action(password=918273645, secrets=[{"id": "x", "value": 5550123}]))
    assert messages(problems) == [
        "$.pipelines[0].actions[0].password: expected string or null, got integer",
        "$.pipelines[0].actions[0].secrets[0].value: expected string or null, got integer",
    ]


def test_a_missing_required_field_is_reported_at_the_object() -> None:
    action_at = Location("web.yaml", 6, 9)
    data = with_action()
    del data["pipelines"][0]["actions"][0]["name"]
    [problem] = schema.check_document(doc_of(data, locations={ACTION: action_at}))
    assert (problem.path, problem.message, problem.location) == (
        "$.pipelines[0].actions[0]",
        "missing required field `name`",
        action_at,
    )


def test_a_pipeline_without_name_or_id_gets_one_message_in_the_rule_s_words() -> None:
    data = with_action()
    del data["pipelines"][0]["name"]
    assert messages(check(data)) == ["$.pipelines[0]: a pipeline needs a `name` (or the `id` of a live pipeline)"]


def test_an_integration_needs_an_identifier_or_a_hash_id() -> None:
    assert check(with_action(integration={"hash_id": "abc"})) == []
    assert messages(check(with_action(integration={}))) == [
        "$.pipelines[0].actions[0].integration: missing required field `identifier` (or `hash_id`)"
    ]


def test_an_empty_after_is_reported_in_the_rule_s_words() -> None:
    assert messages(check(with_action(after=""))) == [
        "$.pipelines[0].actions[0].after: `after` must name an action (it is empty)"
    ]


def test_pipeline_fields_are_checked_and_an_unknown_event_key_gets_a_did_you_mean() -> None:
    data = with_action()
    data["pipelines"][0].update(
        priority="URGENT",
        events=[{"type": "SCHEDULE", "cron": "0 3 * * *", "timezon": "UTC"}],
        trigger_conditions=[{"trigger_condition": "VAR_IS", "trigger_dayz": [1]}],
    )
    assert sorted(messages(check(data))) == [
        "$.pipelines[0].events[0].timezon: unknown field `timezon`; did you mean `timezone`?",
        "$.pipelines[0].priority: `URGENT` is not one of the allowed values: HIGH, NORMAL, LOW",
        "$.pipelines[0].trigger_conditions[0].trigger_dayz: unknown field `trigger_dayz`; did you mean `trigger_days`?",
    ]


def test_a_pipeline_refuses_always_a_digit_first_identifier_and_zero_repeated_failures() -> None:
    data = with_action()
    data["pipelines"][0].update(
        identifier="1release", pause_on_repeated_failures=0, trigger_conditions=[{"trigger_condition": "ALWAYS"}]
    )
    found = sorted(messages(check(data)))
    assert found[0].startswith("$.pipelines[0].identifier: `1release` does not fit `identifier`: URL-safe ID: a letter")
    assert found[1] == (
        "$.pipelines[0].pause_on_repeated_failures: `pause_on_repeated_failures` must be between 1 and 100, not `0`"
    )
    assert found[2].startswith("$.pipelines[0].trigger_conditions[0].trigger_condition: `ALWAYS` is not one of")
    assert len(found) == 3


def test_event_keys_that_exclude_each_other_or_go_together_are_named() -> None:
    data = with_action()
    data["pipelines"][0]["events"] = [
        {"type": "SCHEDULE", "cron": "0 3 * * *", "delay": 5, "start_date": "2026-01-01T00:00:00Z"},
        {"type": "PULL_REQUEST", "refs": ["main"], "branches": ["main"]},
        {"type": "SCHEDULE", "delay": 60},
    ]
    assert messages(check(data)) == [
        "$.pipelines[0].events[0]: `cron` and `start_date` exclude each other: give one of them",
        "$.pipelines[0].events[0]: `cron` and `delay` exclude each other: give one of them",
        "$.pipelines[0].events[1]: `refs` and `branches` exclude each other: give one of them",
        "$.pipelines[0].events[2]: `delay` needs `start_date` as well",
    ]


def test_every_field_of_the_pipeline_model_is_accepted() -> None:
    data = with_action()
    data["pipelines"][0].update(
        identifier="release_2", refs=["refs/heads/main"], tags=["web"], priority="HIGH", cpu="ARM",
        always_from_scratch=True, fail_on_prepare_env_warning=True, fetch_all_refs=True, auto_clear_cache=True,
        no_skip_to_most_recent=True, do_not_create_commit_status=True, ignore_fail_on_project_status=True,
        concurrent_pipeline_runs=True, description_required=True, paused=True, disabled=True,
        disabled_reason="frozen", manage_variables_by_yaml=True, manage_permissions_by_yaml=True, clone_depth=1,
        pause_on_repeated_failures=100, execution_message_template="$BUDDY_EXECUTION_REVISION", worker="w1",
        target_site_url="https://acme.test", loop=["REGION"], git_config_ref="FIXED",
        git_config={"path": "buddy.yml", "branch": "main", "project": "web"}, definition_source="REMOTE",
        remote_path="p.yml", remote_ref="refs/heads/main", remote_project_name="web",
        remote_parameters=[{"key": "K", "value": "v"}], git_changeset_base="PULL_REQUEST",
        filesystem_changeset_base="CONTENTS",
        permissions={"others": "READ_ONLY", "users": [{"id": 1, "access_level": "READ_WRITE"}], "groups": []},
        events=[
            {"type": "SCHEDULE", "cron": "0 3 * * *", "timezone": "Europe/Warsaw", "refs": ["main"]},
            {"type": "SCHEDULE", "start_date": "2026-01-01T00:00:00Z", "delay": 60},
            {"type": "PULL_REQUEST", "events": ["opened", "synchronize"], "branches": ["main"]},
            {"type": "EMAIL", "prefix": "ci", "whitelist": ["a@acme.test"]},
            {"type": "WEBHOOK", "totp": True},
        ],
        trigger_conditions=[{"trigger_condition": "DATETIME", "trigger_hours": [1], "timezone": "UTC"}],
    )  # fmt: skip
    assert messages(check(data)) == []


def test_a_document_that_is_not_a_mapping_is_one_problem() -> None:
    assert messages(check(["a", "list"])) == ["$: expected object, got array"]


def test_problems_come_from_every_action_of_every_pipeline() -> None:
    data = realistic()
    data["pipelines"][0]["actions"][1]["cache_mode"] = "HUGE"
    data["pipelines"][1]["actions"] = [{"name": "x", "type": "DOCKER_BUILD_MULTI_ARCH", "pull": "yes"}]
    assert [p.path for p in check(data)] == [
        "$.pipelines[0].actions[1].cache_mode",
        "$.pipelines[1].actions[0].pull",
    ]


def test_the_fast_check_agrees_with_jsonschema_on_every_action() -> None:
    # The fast predicate must never pass what jsonschema refuses: compare them on many random actions.
    fast = schema._action_is_valid()
    slow = schema._action_validator().is_valid
    keys = [*schema.load_schema("config")["$defs"]["action"]["properties"], "bogus"]
    values: list[Any] = [
        None, True, 0, 1.0, 1.5, "", "MAX", "FILE", "ON_FAILURE", [], ["a"], [1], {}, {"id": "x"},
        {"identifier": "i"}, {"hash_id": 3}, [{"id": "x", "type": "ENV"}], [{"key": "k", "value": 1}],
        [{"trigger_condition": "ALWAYS", "trigger_hours": [1]}], {"others": "DENIED", "users": [{"id": 1}]},
    ]  # fmt: skip
    rng = random.Random(2026)
    outcomes = set()
    for _ in range(3000):
        action: dict[str, Any] = {"name": rng.choice(["n", "n", 3]), "type": "DOCKER_BUILD_MULTI_ARCH"}
        for key in rng.sample(keys, rng.randint(0, 3)):
            action[key] = copy.deepcopy(rng.choice(values))
        verdict = slow(action)
        assert fast(action) is verdict, action
        outcomes.add(verdict)
    assert outcomes == {True, False}


def test_a_mapping_of_another_dict_type_is_still_checked_field_by_field() -> None:
    class Mapping(dict[str, Any]):
        pass

    data = with_action()
    data["pipelines"][0]["actions"][0] = Mapping(data["pipelines"][0]["actions"][0], cache_mode="HUGE")
    assert [p.path for p in check(data)] == ["$.pipelines[0].actions[0].cache_mode"]


def test_ten_thousand_actions_in_a_hundred_files_are_checked_quickly() -> None:
    action = realistic()["pipelines"][0]["actions"][0]
    docs = [
        doc_of({"workspace": "acme", "project": f"p{n}", "pipelines": [{"name": "P", "actions": [action] * 100}]})
        for n in range(100)
    ]
    started = time.perf_counter()
    assert all(schema.check_document(d) == [] for d in docs)
    assert time.perf_counter() - started < 3.0


# -- the schema in other tools ---------------------------------------------------------------------


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed")
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(REPO / "schemas" / "config.schema.json"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_check_jsonschema_validates_files_against_the_config_schema_offline(tmp_path: Path) -> None:
    good = tmp_path / "web.yaml"
    good.write_text(REALISTIC, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(REALISTIC.replace("dockerfile_path: Dockerfile", "dokerfile_path: Dockerfile"), encoding="utf-8")

    ok = check_jsonschema(str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    refused = check_jsonschema(str(bad))
    assert refused.returncode == 1
    assert "dokerfile_path" in refused.stdout
    assert "Failure resolving" not in refused.stdout + refused.stderr


def example_configs() -> list[Path]:
    found = sorted((REPO / "examples").rglob("*.y*ml")) if (REPO / "examples").is_dir() else []
    configs = []
    for path in found:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:  # a CI file may use tags of its own (GitLab's !reference)
            continue
        if isinstance(data, dict) and {"workspace", "project", "pipelines"} & set(data):
            configs.append(path)
    return configs


@pytest.mark.slow
@pytest.mark.parametrize("path", example_configs(), ids=lambda p: str(p.relative_to(REPO)))
def test_check_jsonschema_and_our_check_agree_on_each_example(path: Path) -> None:
    # Both read the file as written (no 2024 translation), so they must come to the same verdict. The
    # schema lets a file leave `type` to a defaults block; ours checks the action with its defaults.
    (doc,) = [d for d in apply_defaults(load_paths([path.parent]).documents) if d.file == str(path)]
    ours = schema.check_document(doc)
    theirs = check_jsonschema(str(path))
    assert theirs.returncode in (0, 1), theirs.stdout + theirs.stderr
    assert (theirs.returncode == 0) == (ours == []), (messages(ours), theirs.stdout)


def test_an_unknown_key_of_a_megabyte_is_named_cut_short_in_the_path_and_the_message() -> None:
    from reconciler.problems import MAX_SHOWN_KEY, json_path, shown_key

    key = "k" * 1_000_000
    assert shown_key(key) == "k" * MAX_SHOWN_KEY + "…"
    assert shown_key("cache_mode") == "cache_mode"
    assert json_path(["pipelines", 0, key]) == f"$.pipelines[0].{shown_key(key)}"
    message = schema._unknown_field(key, ["cache_mode"])
    assert message == f"unknown field `{shown_key(key)}` (a key of 1,000,000 characters)"
