"""The sandbox's own field checks, callable without HTTP (``action_field_errors``)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox import FieldError, action_field_errors, pipeline_field_errors

MULTI = "DOCKER_BUILD_MULTI_ARCH"


def paths(body: dict[str, Any]) -> list[str]:
    errors = action_field_errors(body)
    assert all(isinstance(e, FieldError) for e in errors)
    return [e.path for e in errors]


def test_a_valid_body_has_no_field_errors() -> None:
    body = {
        "name": "Build",
        "type": MULTI,
        "retry_count": 2,
        "integration": {"identifier": "hub"},
        "secrets": [{"id": "s", "type": "ENV", "value": "v"}],
        "after_action_id": 40,
    }
    assert action_field_errors(body) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retry_count", 1.0),
        ("timeout", 30.0),
        ("retry_count", True),
        ("integration", {"identifier": None}),
        ("integration", {}),
        ("cache_mode", "MEDIUM"),
        ("secrets", [{"type": "DISK"}]),
        ("trigger_conditions", [{"trigger_hours": [1.0]}]),
        ("pull", "yes"),
        ("after_action_id", "40"),
    ],
)
def test_values_the_api_refuses_are_field_errors(field: str, value: Any) -> None:
    found = paths({"name": "Build", "type": MULTI, field: value})
    assert len(found) == 1 and found[0].startswith(field), found


def test_every_error_is_reported_not_only_the_first() -> None:
    assert sorted(paths({"type": MULTI, "retry_count": 1.5, "colour": "red"})) == ["colour", "name", "retry_count"]


def test_unknown_fields_are_errors_only_for_the_modelled_type() -> None:
    assert paths({"name": "Run", "type": "BUILD", "commands": ["make"]}) == []
    assert paths({"name": "Run", "type": "BUILD", "retry_count": 1.0}) == ["retry_count"]


def test_read_only_fields_are_not_field_errors() -> None:
    assert paths({"name": "Build", "type": MULTI, "id": 5, "url": "x"}) == []


def test_a_null_unsets_a_field_but_is_no_item_of_a_list() -> None:
    assert paths({"name": "Build", "type": MULTI, "build_args": None}) == []
    assert paths({"name": "Build", "type": MULTI, "build_args": ["A=1", None]}) == ["build_args[1]"]


def test_a_pipeline_patch_body_is_checked_field_by_field() -> None:
    assert pipeline_field_errors({"priority": "HIGH", "events": [{"type": "PUSH", "refs": None}]}) == []
    found = pipeline_field_errors({"name": "  ", "id": 3, "colour": "red", "clone_depth": 1.0, "identifier": ""})
    assert [e.path for e in found] == ["name", "id", "colour", "clone_depth", "identifier"]
