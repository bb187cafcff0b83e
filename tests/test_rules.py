"""The semantic rules: what a schema cannot say about a config, each problem located."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from reconciler.config.loader import Document, load_text
from reconciler.config.rules import KNOWN_PLATFORMS, check_documents
from reconciler.problems import Problem

HEAD = "workspace: acme\nproject: web\npipelines:\n  - name: Release images\n    actions:\n"
GOOD_ACTION = {
    "name": "Build app image",
    "type": "DOCKER_BUILD_MULTI_ARCH",
    "target_platform": "linux/amd64,linux/arm64",
    "password": "${env:DOCKERHUB_TOKEN}",
}


def doc_of(text: str, file: str = "web.yml") -> Document:
    result = load_text(text, file)
    assert result.documents, [str(p) for p in result.problems]
    return result.documents[0]


def actions_doc(*actions: dict[str, Any], file: str = "web.yml") -> Document:
    body = yaml.safe_dump(list(actions), sort_keys=False, default_flow_style=False)
    return doc_of(HEAD + "".join(f"      {line}\n" for line in body.splitlines()), file)


def check_actions(*actions: dict[str, Any]) -> list[Problem]:
    return check_documents([actions_doc(*actions)])


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def action(**fields: Any) -> dict[str, Any]:
    return {**GOOD_ACTION, **fields}


def test_a_good_action_has_no_problems() -> None:
    assert check_actions(action()) == []


def test_action_names_are_unique_per_pipeline() -> None:
    problems = check_actions(action(), action())
    assert len(problems) == 1
    assert problems[0].path == "$.pipelines[0].actions[1].name"
    assert 'action name "Build app image" is used twice in this pipeline (first at line 6)' in problems[0].message


def test_the_same_action_name_in_two_pipelines_is_fine() -> None:
    text = HEAD + "      - name: A\n        type: T\n  - name: Other\n    actions:\n      - name: A\n        type: T\n"
    assert check_documents([doc_of(text)]) == []


def test_a_previous_name_must_not_be_a_declared_name() -> None:
    problems = check_actions(action(), action(name="Build worker image", previous_names=["Build app image"]))
    assert [p.path for p in problems] == ["$.pipelines[0].actions[1].previous_names[0]"]
    assert "is the name of a declared action" in problems[0].message


def test_a_previous_name_is_claimed_once_per_pipeline() -> None:
    problems = check_actions(action(name="A", previous_names=["Old", "Old"]), action(name="B", previous_names=["Old"]))
    assert [p.path for p in problems] == [
        "$.pipelines[0].actions[0].previous_names[1]",
        "$.pipelines[0].actions[1].previous_names[0]",
    ]


def test_after_must_name_an_action() -> None:
    problems = check_actions(action(after="  "))
    assert [p.path for p in problems] == ["$.pipelines[0].actions[0].after"]


def test_a_pipeline_needs_a_name_or_an_id() -> None:
    problems = check_documents([doc_of("workspace: acme\nproject: web\npipelines:\n  - prune: true\n")])
    assert messages(problems) == [
        "web.yml:4:5: $.pipelines[0]: a pipeline needs a `name` (or the `id` of a live pipeline)"
    ]


def test_a_pipeline_declared_in_two_files_names_both() -> None:
    first = doc_of("workspace: acme\nproject: web\npipelines:\n  - name: Release images\n", "a.yml")
    second = doc_of("workspace: acme\nproject: web\npipelines:\n  - id: 1\n  - name: Release images\n", "b.yml")
    problems = check_documents([first, second])
    assert messages(problems) == [
        'b.yml:5:5: $.pipelines[1]: pipeline "Release images" of acme/web is declared twice: in a.yml:4:5 '
        "and in b.yml:5:5; declare each pipeline in one file only"
    ]


def test_a_pipeline_id_declared_twice_is_an_error() -> None:
    text = "workspace: acme\nproject: web\npipelines:\n  - id: 7\n  - id: 7\n"
    assert "pipeline #7 of acme/web is declared twice" in check_documents([doc_of(text)])[0].message


def test_the_same_pipeline_name_in_two_projects_is_fine() -> None:
    web = doc_of("workspace: acme\nproject: web\npipelines:\n  - name: Nightly builds\n", "a.yml")
    api = doc_of("workspace: acme\nproject: api\npipelines:\n  - name: Nightly builds\n", "b.yml")
    assert check_documents([web, api]) == []


def test_on_failure_requires_run_only_on_first_failure() -> None:
    problems = check_actions(action(trigger_time="ON_FAILURE"))
    assert [p.path for p in problems] == ["$.pipelines[0].actions[0].trigger_time"]
    assert check_actions(action(trigger_time="ON_FAILURE", run_only_on_first_failure=False)) == []


def test_run_only_on_first_failure_is_allowed_only_with_on_failure() -> None:
    problems = check_actions(action(run_only_on_first_failure=True))
    assert [p.path for p in problems] == ["$.pipelines[0].actions[0].run_only_on_first_failure"]
    assert check_actions(action(run_only_on_first_failure=None)) == []  # null: "must be unset"


@pytest.mark.parametrize("password", ["${env:DOCKERHUB_TOKEN}", "$DOCKERHUB_TOKEN", "${DOCKERHUB_TOKEN}", None])
def test_a_password_may_be_a_reference_or_a_buddy_variable(password: str | None) -> None:
    # `${NAME}` is allowed, with a warning that it is not an env reference (tests/test_cli_trial.py)
    assert [p for p in check_actions(action(password=password)) if p.severity == "error"] == []


@pytest.mark.parametrize("password", ["hunter2-very-secret", "pre${env:TOKEN}", "$${env:TOKEN}", "$TOKEN extra"])
def test_a_plaintext_password_is_refused_with_a_hint_and_never_echoed(password: str) -> None:
    (problem,) = check_actions(action(password=password))
    assert problem.path == "$.pipelines[0].actions[0].password"
    assert "write `password: ${env:DOCKERHUB_TOKEN}` and set the variable in CI" in problem.message
    assert password not in str(problem)


def test_a_password_reference_must_not_have_a_default() -> None:
    (problem,) = check_actions(action(password="${env:TOKEN:-fallback-secret}"))
    assert "must not have a `:-default`" in problem.message
    assert "fallback-secret" not in str(problem)


def test_a_secret_value_reference_must_not_have_a_default() -> None:
    secrets = [{"id": "npmrc", "value": "${env:NPMRC:-plain}", "type": "ENV"}]
    (problem,) = check_actions(action(secrets=secrets))
    assert problem.path == "$.pipelines[0].actions[0].secrets[0].value"
    assert "plain" not in problem.message.replace("plaintext", "")


def test_target_platform_entries_are_shaped_os_arch_variant() -> None:
    problems = check_actions(action(target_platform="linux/amd64,amd64,"))
    assert [p.severity for p in problems] == ["error", "error"]
    assert '"amd64" is not' in problems[0].message and "an empty entry is not" in problems[1].message


def test_an_unknown_platform_is_only_a_warning() -> None:
    (problem,) = check_actions(action(target_platform="linux/amd64, windows/amd64"))
    assert problem.severity == "warning"
    assert "windows/amd64" in problem.message


def test_every_known_platform_is_accepted() -> None:
    assert check_actions(action(target_platform=",".join(sorted(KNOWN_PLATFORMS)))) == []


def test_a_target_platform_from_a_variable_is_not_checked() -> None:
    assert check_actions(action(target_platform="$PLATFORMS")) == []


def test_amazon_ecr_needs_a_region() -> None:
    (problem,) = check_actions(action(docker_registry="AMAZON_ECR"))
    assert problem.path == "$.pipelines[0].actions[0]"
    assert "needs a `region`" in problem.message
    assert check_actions(action(docker_registry="AMAZON_ECR", region="eu-west-1")) == []


def test_use_image_from_action_needs_the_build_action() -> None:
    (problem,) = check_actions(action(use_image_from_action=True))
    assert problem.path == "$.pipelines[0].actions[0].use_image_from_action"
    assert check_actions(action(use_image_from_action=True, docker_build_action_name="Build")) == []


def test_retry_interval_without_retry_count_is_a_warning() -> None:
    (problem,) = check_actions(action(retry_interval=30))
    assert problem.severity == "warning"
    assert check_actions(action(retry_interval=30, retry_count=2)) == []


def test_env_references_must_be_well_formed_anywhere() -> None:
    text = "workspace: ${env:WS\nproject: web\n"
    (problem,) = check_documents([doc_of(text)])
    assert str(problem).startswith("web.yml:1:12: $.workspace: unterminated")


def test_an_env_reference_in_a_key_is_an_error() -> None:
    (problem,) = check_actions(action(variables=[{"${env:KEY}": "v"}]))
    assert problem.path == "$.pipelines[0].actions[0].variables[0].${env:KEY}"
    assert "only in a value" in problem.message


def test_every_problem_is_located_with_a_json_path() -> None:
    problems = check_actions(
        action(password="plain", trigger_time="ON_FAILURE", docker_registry="AMAZON_ECR", after=""),
        action(target_platform="x"),
    )
    assert len(problems) >= 5
    assert all(p.location.line >= 1 and p.path.startswith("$") for p in problems)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "text",
        {"pipelines": "nope"},
        {"pipelines": [1, None, "x", {"actions": "no"}, {"actions": [1, None, []]}]},
        {"workspace": 1, "project": [], "pipelines": [{"name": {"a": 1}, "id": True}]},
        {
            "pipelines": [
                {
                    "name": "P",
                    "actions": [
                        {
                            "name": 1,
                            "previous_names": "x",
                            "password": 5,
                            "secrets": "x",
                            "target_platform": ["a"],
                            "after": 3,
                        }
                    ],
                }
            ]
        },
        {"pipelines": [{"name": "P", "actions": [{"secrets": [1, {"value": None}], "previous_names": [1]}]}]},
    ],
)
def test_rules_never_raise_on_data_the_schema_refuses(data: Any) -> None:
    check_documents([Document("x.yml", data)])


@pytest.mark.parametrize("value", [".npmrc", "pre${env:NPMRC}"])
def test_a_plaintext_secret_value_is_refused_like_a_plaintext_password(value: str) -> None:
    (problem,) = check_actions(action(secrets=[{"id": "npmrc", "value": value, "type": "FILE"}]))
    assert problem.path == "$.pipelines[0].actions[0].secrets[0].value"
    assert "`secrets[].value` must not be plaintext" in problem.message
    assert value not in str(problem)


@pytest.mark.parametrize("value", ["${env:NPMRC}", "$NPMRC", None, ""])
def test_a_secret_value_may_be_a_reference_or_a_buddy_variable(value: str | None) -> None:
    assert check_actions(action(secrets=[{"id": "npmrc", "value": value, "type": "FILE"}])) == []


# -- names are identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("name", "Build ${env:APP}", "$.pipelines[0].actions[0].name"),
        ("name", "Build $${env:APP}", "$.pipelines[0].actions[0].name"),
        ("after", "${env:ANCHOR}", "$.pipelines[0].actions[0].after"),
        ("previous_names", ["Old ${env:APP}"], "$.pipelines[0].actions[0].previous_names[0]"),
    ],
)
def test_an_env_reference_in_an_action_identity_is_refused_saying_why(field: str, value: Any, path: str) -> None:
    action = {**GOOD_ACTION, field: value}
    if field == "name":
        action = {"name": value, **{k: v for k, v in GOOD_ACTION.items() if k != "name"}}
    (problem,) = [p for p in check_actions(action) if "identity" in p.message]
    assert problem.path == path
    assert "sent resolved but matched as written" in problem.message
    assert "create another action" in problem.message


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("    name: Pipe ${env:APP}\n", "$.pipelines[0].name"),
        ("    name: P\n    previous_names: ['Old ${env:APP}']\n", "$.pipelines[0].previous_names[0]"),
    ],
)
def test_an_env_reference_in_a_pipeline_name_or_previous_name_is_refused(line: str, path: str) -> None:
    doc = doc_of(f"workspace: acme\nproject: web\npipelines:\n  -{line[3:]}    actions: []\n")
    (problem,) = check_documents([doc])
    assert problem.path == path and problem.location.line == 4 + line.count("\n") - 1
    assert "create another pipeline" in problem.message


def test_an_env_reference_elsewhere_in_an_action_is_fine() -> None:
    assert check_actions({**GOOD_ACTION, "repository": "acme/${env:APP}"}) == []
