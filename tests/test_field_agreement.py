"""validate and the sandbox agree on every field: a file that passes validate never earns a 400.

The candidates come from the schemas themselves (every property of ``action.schema.json`` and every
API field of a pipeline in ``config.schema.json``): valid values of each type, enum and nested shape,
and invalid ones (a wrong type, ``null`` where the field is not nullable, ``1.0`` or ``true`` for an
integer, an enum value in the wrong case, a nested object missing a required key, with an unknown
key, with a nested ``null``). Each is written into a config file and checked the way ``reconcile
validate`` checks it (``config.check_paths``: schema and rules), and checked by the sandbox's own
field checks (``action_field_errors``, ``pipeline_field_errors``), which are a second, independent
reading of the API documentation.

Both ways: what validate accepts the sandbox accepts, and what the sandbox accepts validate accepts,
but for the exceptions listed below, each with its reason. A new schema field, or a changed sandbox
table, is tested here without anyone adding it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler import fields as field_table
from reconciler.config import build as config
from reconciler.config.schema import load_schema
from reconciler.sandbox import action_field_errors, pipeline_field_errors

MULTI = "DOCKER_BUILD_MULTI_ARCH"
#: A whole env reference: how a file gives a write-only value (validate refuses plaintext).
SECRET_REF = "${env:AGREE_SECRET}"
#: Fields a file may not hold besides the read-only ones (placement comes from file order and `after`).
NOT_IN_A_FILE = frozenset({"after_action_id"})

Node = dict[str, Any]
Candidate = tuple[str, Any]  # (what it is, the value)

# ---------------------------------------------------------------------------------------------------
# Where the two sides may differ, and why. Each entry: (field, a test of the value) -> reason. Only
# "validate refuses, the sandbox accepts" can be excused; the other way round is always a bug.


def _is_null(value: Any) -> bool:
    return value is None


def _is_plaintext(value: Any) -> bool:
    return isinstance(value, str) and value != "" and value != SECRET_REF


def _secret_value_plaintext(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(i, dict) and _is_plaintext(i.get("value")) for i in value)


def _lacks_nested_key(key: str) -> Callable[[Any], bool]:
    """A list whose item lacks ``key`` (or holds ``null`` there)."""

    def test(value: Any) -> bool:
        return isinstance(value, list) and any(isinstance(i, dict) and i.get(key) is None for i in value)

    return test


def _permission_entry_without_id(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    entries = [e for k in ("users", "groups") if isinstance(value.get(k), list) for e in value[k]]
    return any(isinstance(e, dict) and e.get("id") is None for e in entries)


def _not_a_platform(value: Any) -> bool:
    return isinstance(value, str) and "/" not in value


_SERVER_DEFAULT = (
    "a null on a field Buddy fills with a default never converges (PATCHed on every apply, never "
    "held): validate refuses it and names the default; the API takes it as 'unset'"
)
_IDENTITY_KEY = (
    "validate requires the key that identifies a nested item (the diff matches items by it); the "
    "contract leaves the API's answer to an item without it open, and the sandbox takes null as unset"
)
ACTION_EXCEPTIONS: dict[tuple[str, Callable[[Any], bool]], str] = {
    ("password", _is_plaintext): "validate refuses a plaintext secret in a file; the API accepts any string",
    ("secrets", _secret_value_plaintext): "validate refuses a plaintext secret in a file; the API accepts it",
    ("trigger_time", _is_null): _SERVER_DEFAULT,
    ("disabled", _is_null): _SERVER_DEFAULT,
    ("target_platform", _is_null): _SERVER_DEFAULT,
    ("target_platform", _not_a_platform): "validate checks the `os/arch` shape; the API takes any string",
    ("type", lambda v: isinstance(v, str) and v != MULTI): (
        "validate manages the multi-arch type only; the API has many other action types, which the "
        "sandbox does not model and so takes as they come"
    ),
    ("integration", lambda v: isinstance(v, dict) and None in v.values()): (
        "an integration is named by one of two keys: validate wants the key given to be a string rather "
        "than reason about which of a string and a null names it; the API takes the null as unset"
    ),
    ("secrets", _lacks_nested_key("id")): _IDENTITY_KEY,
    ("variables", _lacks_nested_key("key")): _IDENTITY_KEY,
    ("trigger_conditions", _lacks_nested_key("trigger_condition")): _IDENTITY_KEY,
    ("permissions", _permission_entry_without_id): _IDENTITY_KEY,
}
PIPELINE_EXCEPTIONS: dict[tuple[str, Callable[[Any], bool]], str] = {
    ("trigger_conditions", _lacks_nested_key("trigger_condition")): _IDENTITY_KEY,
    ("events", _lacks_nested_key("type")): _IDENTITY_KEY,
}
#: Values validate accepts that the sandbox's PATCH check refuses, and why the tool never PATCHes them.
PIPELINE_NEVER_PATCHED: dict[tuple[str, Callable[[Any], bool]], str] = {
    ("identifier", lambda v: v in (None, "")): (
        "an unset identifier (null or empty) is never compared, so never PATCHed; on create Buddy derives one"
    ),
}

# ---------------------------------------------------------------------------------------------------
# Candidates, from the schema


def _resolve(node: Node) -> Node:
    """``node`` with its ``$ref`` merged in. Every ``$ref`` of the two schemas names one of their
    ``$defs``, and no name is defined in both."""
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        defs = load_schema("action")["$defs"]
        target = defs[name] if name in defs else load_schema("config")["$defs"][name]
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target}
    return node


def _types(node: Node) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _required(node: Node) -> list[str]:
    if node.get("required"):
        return list(node["required"])
    for branch in node.get("anyOf", []):  # `identifier` or `hash_id`: the first will do
        if branch.get("required"):
            return list(branch["required"])
    return []


def valid(node: Node) -> Any:
    """One value the schema describes (the simplest)."""
    node = _resolve(node)
    if "default" in node:
        return node["default"]
    if "enum" in node:
        return next(v for v in node["enum"] if v is not None)
    kind = next(t for t in _types(node) if t != "null")
    if kind == "string":
        return SECRET_REF if node.get("writeOnly") else node.get("examples", ["text"])[0]
    if kind == "integer":
        return max(1, node.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return [valid(node["items"])]
    props = node.get("properties", {})
    return {key: valid(props[key]) for key in (_required(node) or list(props)[:1])}


def valids(node: Node) -> Iterator[Candidate]:
    """Valid values: the simplest, every enum value, null where allowed, each optional nested key."""
    node = _resolve(node)
    yield "valid", valid(node)
    for value in node.get("enum", []):
        yield f"enum {value}", value
    if "null" in _types(node):
        yield "null", None
    if "string" in _types(node) and "enum" not in node:
        yield "plain string", "text"
        yield "empty string", ""
        yield "blank string", "  "
    if "array" in _types(node):
        yield "empty list", []
        for label, item in valids(node["items"]):
            yield f"[{label}]", [item]
    if "object" in _types(node):
        base = valid(node)
        for key, sub in node.get("properties", {}).items():
            for label, value in valids(sub):
                yield f"{{{key}: {label}}}", {**base, key: value}


def _wrong_type(types: list[str]) -> Any:
    for kind, value in (("string", 7), ("integer", "7"), ("boolean", "true"), ("array", "x"), ("object", "x")):
        if kind in types:
            return value
    return None


def invalids(node: Node) -> Iterator[Candidate]:
    """Values that do not fit the schema, one mistake each, nested ones included."""
    node = _resolve(node)
    types = _types(node)
    yield "wrong type", _wrong_type(types)
    if "null" not in types:
        yield "null", None
    if "integer" in types:
        yield "integral float", 1.0
        yield "boolean for an integer", True
    if "boolean" in types:
        yield "integer for a boolean", 1
    enum = [v for v in node.get("enum", []) if v is not None]
    if enum:
        yield "wrong-case enum", enum[0].lower()
        yield "unknown enum", "NOT_A_" + enum[0]
    if "array" in types:
        for label, item in invalids(node["items"]):
            yield f"[{label}]", [item]
    if "object" in types:
        base = valid(node)
        if _required(node):
            yield "missing required key", {}
        if node.get("additionalProperties") is False:
            yield "unknown nested key", {**base, "no_such_key": "x"}
        for key, sub in node.get("properties", {}).items():
            for label, value in invalids(sub):
                yield f"{{{key}: {label}}}", {**base, key: value}


def candidates(node: Node) -> list[Candidate]:
    """Every candidate for ``node``, each value once."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for label, value in [*valids(node), *invalids(node)]:
        key = json.dumps(value, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((label, value))
    return out


# ---------------------------------------------------------------------------------------------------
# The two judges


def _companions(field: str, value: Any) -> dict[str, Any]:
    """Other fields a value needs to pass the cross-field rules (both sides check those alike)."""
    if field == "run_only_on_first_failure" and value is not None:
        return {"trigger_time": "ON_FAILURE"}
    if field == "trigger_time" and value == "ON_FAILURE":
        return {"run_only_on_first_failure": False}
    if field == "docker_registry" and value == "AMAZON_ECR":
        return {"region": "eu-west-1"}
    if field == "use_image_from_action" and value is True:
        return {"docker_build_action_name": "Build base"}
    return {}


class Validate:
    """``reconcile validate`` (``config.check_paths``: schema and rules) over one config file per field,
    each candidate in a pipeline of its own, so that one check answers for all of them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def _errors(self, pipelines: list[dict[str, Any]]) -> list[list[str]]:
        self.count += 1
        file = self.folder / f"c{self.count}.yaml"
        document = {"workspace": "ws", "project": "pr", "pipelines": pipelines}
        file.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML; 1.0 stays a float
        _, problems, _, _ = config.check_paths([file])
        errors: list[list[str]] = [[] for _ in pipelines]
        for problem in problems:
            if problem.severity != "error":
                continue
            found = re.match(r"\$\.pipelines\[(\d+)\]", problem.path)
            assert found, f"a problem outside the candidates' pipelines: {problem}"
            errors[int(found[1])].append(f"{problem.path}: {problem.message}")
        return errors

    def actions(self, actions: list[dict[str, Any]]) -> list[list[str]]:
        return self._errors([{"name": f"P{i}", "actions": [a]} for i, a in enumerate(actions)])

    def pipelines(self, field: str, values: list[Any]) -> list[list[str]]:
        return self._errors([{"name": f"P{i}", field: v} for i, v in enumerate(values)])


@pytest.fixture(scope="module")
def validate(tmp_path_factory: pytest.TempPathFactory) -> Validate:
    return Validate(tmp_path_factory.mktemp("agree"))


def _excused(table: dict[tuple[str, Callable[[Any], bool]], str], field: str, value: Any) -> str | None:
    return next((why for (name, test), why in table.items() if name == field and test(value)), None)


def _action_fields() -> list[str]:
    props = load_schema("action")["properties"]
    return [k for k, v in props.items() if not v.get("readOnly") and k not in NOT_IN_A_FILE]


def _action_disagreements(validate: Validate, field: str) -> tuple[list[str], set[str]]:
    """What the two sides disagree on for ``field`` (unexcused), and the exceptions that excused others."""
    node = load_schema("action")["properties"][field]
    tried = candidates(node)
    actions = [{"name": "Agree", "type": MULTI, **_companions(field, v), field: v} for _, v in tried]
    return _compare(tried, validate.actions(actions), [action_field_errors(a) for a in actions], field)


def _compare(
    tried: list[Candidate],
    by_validate: list[list[str]],
    by_sandbox: list[list[Any]],
    field: str,
    *,
    on: str = "action",
) -> tuple[list[str], set[str]]:
    excuses = ACTION_EXCEPTIONS if on == "action" else PIPELINE_EXCEPTIONS
    found: list[str] = []
    used: set[str] = set()
    for (label, value), refused_by_validate, sandbox_errors in zip(tried, by_validate, by_sandbox, strict=True):
        refused_by_sandbox = [str(e) for e in sandbox_errors]
        if refused_by_sandbox and not refused_by_validate:
            why = _excused(PIPELINE_NEVER_PATCHED, field, value) if on == "pipeline" else None
            if why is None:
                found.append(f"{field} {label} {value!r}: validate accepts, the sandbox answers {refused_by_sandbox}")
            else:
                used.add(why)
        elif refused_by_validate and not refused_by_sandbox:
            why = _excused(excuses, field, value)
            if why is None:
                found.append(f"{field} {label} {value!r}: the sandbox accepts, validate says {refused_by_validate}")
            else:
                used.add(why)
    return found, used


@pytest.mark.parametrize("field", _action_fields())
def test_validate_and_the_sandbox_agree_on_every_action_field(validate: Validate, field: str) -> None:
    found, _ = _action_disagreements(validate, field)
    assert not found, "\n".join(found)


def test_the_schema_gives_every_action_field_something_to_test() -> None:
    # the generator reads the schema: a field it could not make values for would silently go untested
    for field in _action_fields():
        node = load_schema("action")["properties"][field]
        labels = [label for label, _ in candidates(node)]
        assert "valid" in labels and len(labels) >= 3, field


def _pipeline_disagreements(validate: Validate, field: str) -> tuple[list[str], set[str]]:
    node = load_schema("config")["$defs"]["pipeline"]["properties"][field]
    tried = candidates(node)
    values = [v for _, v in tried]
    by_sandbox = [pipeline_field_errors({field: v}) for v in values]
    return _compare(tried, validate.pipelines(field, values), by_sandbox, field, on="pipeline")


#: The pipeline's API fields, and its name (sent in a PATCH that renames it).
PIPELINE_FIELDS = [*field_table.pipeline_fields(), "name"]


@pytest.mark.parametrize("field", PIPELINE_FIELDS)
def test_validate_and_the_sandbox_agree_on_every_pipeline_field(validate: Validate, field: str) -> None:
    found, _ = _pipeline_disagreements(validate, field)
    assert not found, "\n".join(found)


def test_every_listed_exception_still_applies(validate: Validate) -> None:
    # an exception that no candidate needs any more is stale: drop it rather than let it hide a bug
    used: set[str] = set()
    for field in _action_fields():
        used |= _action_disagreements(validate, field)[1]
    for field in PIPELINE_FIELDS:
        used |= _pipeline_disagreements(validate, field)[1]
    listed = {*ACTION_EXCEPTIONS.values(), *PIPELINE_EXCEPTIONS.values(), *PIPELINE_NEVER_PATCHED.values()}
    assert listed <= used, listed - used


def test_the_tests_own_judges_see_the_issue_examples(validate: Validate) -> None:
    examples = [
        ("retry_count", 1.0),
        ("integration", {"identifier": None}),
        ("disabled", None),
        ("password", SECRET_REF),
    ]
    verdicts = validate.actions([{"name": "Agree", "type": MULTI, field: value} for field, value in examples])
    assert [bool(v) for v in verdicts] == [True, True, True, False]
    assert action_field_errors({"name": "Agree", "type": MULTI, "retry_count": 1.0})
