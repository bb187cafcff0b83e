"""`${env:NAME}` references: found, checked, resolved, and never leaked into a message."""

from __future__ import annotations

import pytest

from reconciler import envrefs
from reconciler.envrefs import EnvRef, find_refs, has_refs, mentions_env, referenced_names, resolve, syntax_errors
from reconciler.errors import EnvError
from reconciler.problems import Location

WHERE = Location("web.yml", 12, 19)


def test_a_reference_is_found_anywhere_inside_a_string_with_its_span() -> None:
    value = "user-${env:CI_USER}@${env:HOST:-example.com}"
    assert find_refs(value) == [
        EnvRef("CI_USER", None, (5, 19)),
        EnvRef("HOST", "example.com", (20, 44)),
    ]
    assert value[20:44] == "${env:HOST:-example.com}"


def test_buddy_variables_are_not_references() -> None:
    assert find_refs("$BUDDY_EXECUTION_REVISION ${BUDDY_PIPELINE_NAME} $env") == []
    assert syntax_errors("$BUDDY_EXECUTION_REVISION ${BUDDY_PIPELINE_NAME}") == []


def test_an_escaped_reference_is_literal_text() -> None:
    assert find_refs("$${env:NOT_A_REF}") == []
    assert syntax_errors("$${env:") == []


def test_an_empty_default_is_a_default() -> None:
    assert find_refs("${env:X:-}") == [EnvRef("X", "", (0, 10))]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("${env:TOKEN", "unterminated"),
        ("${env:}", "without a variable name"),
        ("${env::-x}", "without a variable name"),
        ("${env:1ABC}", "invalid variable name"),
        ("${env:MY-VAR}", "invalid variable name"),
        ("${env:X:default}", "invalid variable name"),
        ("ok ${env:A} then ${env:", "unterminated"),
    ],
)
def test_malformed_references_are_syntax_errors(value: str, fragment: str) -> None:
    (message,) = syntax_errors(value)
    assert fragment in message


def test_a_syntax_error_never_repeats_the_text_it_complains_about() -> None:
    (message,) = syntax_errors("${env:hunter2 is my password}")
    assert "hunter2" not in message


def test_has_refs_and_mentions_env_look_inside_lists_and_mappings() -> None:
    value = {"a": [1, {"b": "x ${env:B}"}]}
    assert has_refs(value) and mentions_env(value)
    assert not has_refs({"a": ["$B", 1, None]})
    assert not mentions_env("$${env:LITERAL}")


def test_a_malformed_reference_is_still_sensitive_for_masking() -> None:
    assert not has_refs("${env:BROKEN")
    assert mentions_env("${env:BROKEN")


def test_resolve_replaces_references_from_the_environment() -> None:
    env = {"USER": "bot", "TOKEN": "t0k"}
    assert resolve("${env:USER}:${env:TOKEN}", env) == "bot:t0k"


def test_resolve_walks_mappings_and_lists_and_leaves_other_values_alone() -> None:
    value = {"login": "${env:USER}", "build_args": ["A=${env:A}", "B=$B"], "timeout": 5, "x": None}
    assert resolve(value, {"USER": "u", "A": "1"}) == {
        "login": "u",
        "build_args": ["A=1", "B=$B"],
        "timeout": 5,
        "x": None,
    }


def test_a_default_is_used_when_the_variable_is_unset_or_empty() -> None:
    assert resolve("${env:TAG:-latest}", {}) == "latest"
    assert resolve("${env:TAG:-latest}", {"TAG": ""}) == "latest"
    assert resolve("${env:TAG:-latest}", {"TAG": "v1"}) == "v1"


def test_an_unset_variable_without_default_names_the_variable_and_the_location() -> None:
    with pytest.raises(EnvError) as caught:
        resolve("${env:DOCKERHUB_TOKEN}", {}, location=WHERE)
    assert str(caught.value) == (
        "web.yml:12:19: environment variable DOCKERHUB_TOKEN is not set (referenced as ${env:DOCKERHUB_TOKEN})"
    )
    assert caught.value.location == WHERE


def test_an_empty_variable_without_default_is_an_error_too() -> None:
    with pytest.raises(EnvError, match="DOCKERHUB_TOKEN is empty"):
        resolve("${env:DOCKERHUB_TOKEN}", {"DOCKERHUB_TOKEN": ""})


def test_the_error_message_never_contains_a_value() -> None:
    env = {"USER": "secret-user-value"}
    with pytest.raises(EnvError) as caught:
        resolve("${env:USER}:${env:MISSING}", env, location=WHERE)
    assert "secret-user-value" not in str(caught.value)


def test_a_malformed_reference_cannot_be_resolved() -> None:
    with pytest.raises(EnvError, match="unterminated"):
        resolve("${env:OOPS", {"OOPS": "x"})


def test_the_sandbox_turns_an_unset_variable_into_a_placeholder() -> None:
    assert resolve("${env:DOCKERHUB_TOKEN}", {}, sandbox=True) == "sandbox:DOCKERHUB_TOKEN"
    assert resolve("${env:TAG:-latest}", {}, sandbox=True) == "latest"
    assert resolve("${env:SET}", {"SET": "v"}, sandbox=True) == "v"


def test_resolve_unescapes_the_literal_form() -> None:
    assert resolve("echo $${env:HOME} ${env:A}", {"A": "a"}) == "echo ${env:HOME} a"
    assert resolve("$${env:HOME}", {}) == "${env:HOME}"


def test_resolve_leaves_keys_alone() -> None:
    assert resolve({"${env:K}": "v"}, {"K": "x"}) == {"${env:K}": "v"}


def test_referenced_names_walks_nested_values_and_skips_escaped_references():
    value = {"a": "${env:ONE}-$${env:NOT}", "b": [{"c": "${env:TWO}${env:ONE}"}, 3, None]}
    assert referenced_names(value) == ["ONE", "TWO", "ONE"]


def test_a_reference_and_an_escape_are_spelled_here_and_read_back_as_written() -> None:
    assert envrefs.reference("TOKEN") == "${env:TOKEN}"
    assert envrefs.resolve(envrefs.reference("TOKEN"), {"TOKEN": "t"}) == "t"
    assert envrefs.resolve(envrefs.escape({"k": ["${env:HOME}/x"]}), {}) == {"k": ["${env:HOME}/x"]}


def test_the_environment_says_what_is_sent_and_what_is_missing_and_nothing_is_missing_in_the_sandbox() -> None:
    value = {"a": "${env:SET}", "b": ["${env:GONE}", "${env:EMPTY:-d}"]}
    env = envrefs.Environment({"SET": "1", "EMPTY": ""})
    assert env.unset(value) == ["GONE"]
    assert [m for m in env.missing(value) if "GONE" in m] == env.missing(value)
    with pytest.raises(EnvError, match="GONE"):
        env.resolve(value)
    sandbox = envrefs.Environment({"SET": "1"}, sandbox=True)
    assert sandbox.unset(value) == [] and sandbox.missing(value) == []
    assert sandbox.resolve(value) == {"a": "1", "b": ["sandbox:GONE", "d"]}
