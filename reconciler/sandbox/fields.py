"""What the simulator knows about fields: types, enums, nested shapes, defaults.

The tables are derived by hand from the 2026 reference page of "Build multi-arch image" and from
CONTRACT.md (pipeline fields, nested objects). They are deliberately small and independent of
``schemas/``: the simulator must stay a second, separate reading of the documentation, or it would
agree with the reconciler's schema by construction and catch nothing.

A spec is one of:

* ``"str"``, ``"int"``, ``"bool"``, ``"any"``
* ``Enum(values)``
* ``ListOf(spec)``
* ``Obj(name, fields, open=False)``: a nested object; unknown keys are refused unless ``open``
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

ENCRYPTED_PREFIX = "encrypted:"


@dataclass(frozen=True)
class Enum:
    values: frozenset[str]


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class Obj:
    name: str
    fields: Mapping[str, Spec]
    open: bool = False
    #: keys whose string values are write-only: stored and returned encrypted
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    required: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Limited:  # an integer between ``low`` and ``high``, or a string matching ``pattern`` (said in ``words``)
    kind: str
    low: int | None = None
    high: int | None = None
    pattern: str = ""
    words: str = ""


Spec = Union[str, Enum, ListOf, Obj, Limited]  # noqa: UP007 - a runtime alias used before 3.12 "type"


def enum(*values: str) -> Enum:
    return Enum(frozenset(values))


class FieldError(ValueError):
    """A value does not fit its spec; ``path`` is a dotted JSON path such as ``secrets[0].type``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def encrypt(plaintext: str) -> str:
    """The deterministic stand-in for Buddy's encryption: a hash, so the plaintext is not kept."""
    return ENCRYPTED_PREFIX + hashlib.sha256(plaintext.encode("utf-8")).hexdigest()[:40]


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)


TRIGGER_TIMES = enum(
    "ON_EVERY_EXECUTION", "ON_SUCCESS", "ON_FAILURE", "ON_BACK_TO_SUCCESS", "ON_WARNING", "ON_WAIT_FOR_APPROVE",
    "ON_TERMINATE",
)  # fmt: skip
ACCESS_LEVEL = enum("DEFAULT", "DENIED", "READ_ONLY", "RUN_ONLY", "READ_WRITE")
EXECUTION_STATUS = enum(
    "INPROGRESS", "ENQUEUED", "TERMINATED", "SUCCESSFUL", "FAILED", "INITIAL", "NOT_EXECUTED", "SKIPPED",
    "TERMINATING", "WAITING_FOR_APPLY", "WAITING_FOR_VARIABLES", "WAITING_FOR_SETTABLE_VARIABLES",
    "WAITING_FOR_VT_SESSION",
)  # fmt: skip

TRIGGER_CONDITION = Obj(
    "TriggerConditionView",
    {
        "trigger_condition": enum(
            "ON_CHANGE",
            "ON_CHANGE_AT_PATH",
            "VAR_IS",
            "VAR_IS_NOT",
            "VAR_CONTAINS",
            "VAR_NOT_CONTAINS",
            "DATETIME",
            "SUCCESS_PIPELINE",
            "TRIGGERING_USER_IS",
            "TRIGGERING_USER_IS_NOT",
            "TRIGGERING_USER_IS_IN_GROUP",
            "TRIGGERING_USER_IS_NOT_IN_GROUP",
            "ALWAYS",
        ),
        "trigger_condition_paths": ListOf("str"),
        "trigger_variable_key": "str",
        "trigger_variable_value": "str",
        "trigger_hours": ListOf("int"),
        "trigger_days": ListOf("int"),
        "timezone": "str",
        "trigger_project_name": "str",
        "trigger_pipeline_name": "str",
        "trigger_user": "str",
        "trigger_group": "str",
    },
)
#: A pipeline's trigger conditions: the action's kinds but ``ALWAYS`` (PIPELINE-MODEL.md).
PIPELINE_TRIGGER_CONDITION = Obj(
    "PipelineTriggerConditionView",
    {
        **TRIGGER_CONDITION.fields,
        "trigger_condition": Enum(TRIGGER_CONDITION.fields["trigger_condition"].values - {"ALWAYS"}),  # type: ignore[union-attr]
    },
)
VARIABLE = Obj(
    "EnvironmentVariableView",
    {
        "key": "str",
        "value": "str",
        "type": enum("VAR", "SSH_KEY"),
        "encrypted": "bool",
        "settable": "bool",
        "description": "str",
    },
)
SECRET = Obj(
    "DockerSecretView",
    {"id": "str", "type": enum("FILE", "ENV"), "value": "str"},
    secret_keys=frozenset({"value"}),
)
INTEGRATION = Obj("DockerIntegrationRef", {"identifier": "str", "hash_id": "str"})
PERMISSION_ENTRY = Obj("PermissionEntry", {"id": "int", "access_level": ACCESS_LEVEL}, required=frozenset({"id"}))
PERMISSIONS = Obj(
    "PermissionsView",
    {"others": ACCESS_LEVEL, "users": ListOf(PERMISSION_ENTRY), "groups": ListOf(PERMISSION_ENTRY)},
)
#: CONTRACT.md names PUSH, CREATE_REF, DELETE_REF, SCHEDULE "…"; Buddy's Terraform provider adds these two.
EVENT_TYPES = enum("PUSH", "CREATE_REF", "DELETE_REF", "SCHEDULE", "PULL_REQUEST", "WEBHOOK", "EMAIL")
#: The pull-request events Buddy's Go SDK names (PIPELINE-MODEL.md, ``events[]``).
PULL_REQUEST_EVENTS = enum(
    "assigned", "unassigned", "labeled", "unlabeled", "opened", "edited", "closed", "reopened", "synchronize",
    "converted_to_draft", "locked", "unlocked", "enqueued", "dequeued", "milestoned", "demilestoned",
    "ready_for_review", "review_requested", "review_request_removed", "auto_merge_enabled", "auto_merge_disabled",
)  # fmt: skip
#: An event's keys (PIPELINE-MODEL.md); Buddy does not refuse a key on another event type.
EVENT = Obj(
    "EventView",
    {
        "type": EVENT_TYPES,
        "events": ListOf(PULL_REQUEST_EVENTS),
        "delay": "int",
        "totp": "bool",
        **dict.fromkeys(("refs", "branches", "whitelist"), ListOf("str")),
        **dict.fromkeys(("cron", "timezone", "start_date", "prefix"), "str"),
    },
)
EVENT_EXCLUDES = (("cron", "start_date"), ("cron", "delay"), ("refs", "branches"), ("refs", "events"))
EVENT_TOGETHER = ("start_date", "delay")  # Terraform: the interval form's two keys go together

MULTI_ARCH = "DOCKER_BUILD_MULTI_ARCH"

#: Fields every action type has (validated for any type, returned for any type).
COMMON_ACTION_FIELDS: dict[str, Spec] = {
    "name": "str",
    "type": "str",
    "trigger_time": TRIGGER_TIMES,
    "trigger_conditions": ListOf(TRIGGER_CONDITION),
    "run_next": enum("WAIT_ON_SUCCESS", "IN_SOFT_PARALLEL", "IN_HARD_PARALLEL"),
    "run_only_on_first_failure": "bool",
    "variables": ListOf(VARIABLE),
    "disabled": "bool",
    "timeout": "int",
    "ignore_errors": "bool",
    "retry_count": "int",
    "retry_interval": "int",
    "loop": ListOf("str"),
    "current_revision": "str",
    "permissions": PERMISSIONS,
}

#: The multi-arch action's own fields, as the 2026 page's request and response list them.
MULTI_ARCH_FIELDS: dict[str, Spec] = {
    **COMMON_ACTION_FIELDS,
    "type": enum(MULTI_ARCH),
    "docker_image_tag": "str",
    "repository": "str",
    "registry": "str",
    "insecure_registry": "bool",
    "region": "str",
    "login": "str",
    "password": "str",
    "target_stage": "str",
    "do_not_prune_images": "bool",
    "versions": ListOf("str"),
    "docker_registry": enum(
        "NONE",
        "DOCKER_HUB",
        "AMAZON_ECR",
        "GOOGLE_GCR",
        "GOOGLE_ARTIFACT_REGISTRY",
        "OTHER",
        "GIT_HUB_CONTAINER_REGISTRY",
        "PACKAGE_REGISTRY",
        "DIGITAL_OCEAN_CONTAINER_REGISTRY",
    ),
    "target_platform": "str",
    "cache_mode": enum("MIN", "MAX"),
    "pull": "bool",
    "target_path": "str",
    "use_image_from_action": "bool",
    "docker_build_action_id": "int",
    "docker_build_action_name": "str",
    "image_location": enum("PUBLIC_REGISTRY", "PRIVATE_REGISTRY", "ACTION", "PACKAGE_REGISTRY"),
    "dockerfile_path": "str",
    "context_path": "str",
    "provenance": enum("NONE", "MIN", "MAX"),
    "build_args": ListOf("str"),
    "secrets": ListOf(SECRET),
    "integration": INTEGRATION,
    "package": "str",
}

#: Accepted in a request but absent from the 2026 page's RESPONSE BODY.
MULTI_ARCH_REQUEST_ONLY = frozenset(
    {"target_path", "use_image_from_action", "docker_build_action_id", "docker_build_action_name", "image_location"}
)
#: Write-only top-level action fields: stored and returned encrypted.
SECRET_ACTION_FIELDS = frozenset({"password"})
#: Set by the server; a request body that carries them is handled by the ``read_only`` switch.
ACTION_READ_ONLY = frozenset({"url", "html_url", "id", "last_execution_status", "pipeline"})
#: Server defaults on create (``target_platform`` only for the multi-arch type).
ACTION_DEFAULTS: dict[str, Any] = {"trigger_time": "ON_EVERY_EXECUTION", "disabled": False}
MULTI_ARCH_DEFAULTS: dict[str, Any] = {**ACTION_DEFAULTS, "target_platform": "linux/amd64"}

PIPELINE_FLAGS = (
    "disabled", "paused", "always_from_scratch", "auto_clear_cache", "no_skip_to_most_recent", "fetch_all_refs",
    "fail_on_prepare_env_warning", "do_not_create_commit_status", "ignore_fail_on_project_status",
    "concurrent_pipeline_runs", "description_required", "manage_variables_by_yaml", "manage_permissions_by_yaml",
)  # fmt: skip
PIPELINE_FIELDS: dict[str, Spec] = {
    "name": "str",
    "identifier": Limited("str", pattern=r"[a-zA-Z][\w-]*", words="a letter, then letters, digits, _ or -"),
    "refs": ListOf("str"),
    "events": ListOf(EVENT),
    "trigger_conditions": ListOf(PIPELINE_TRIGGER_CONDITION),
    "priority": enum("HIGH", "NORMAL", "LOW"),
    "cpu": enum("X64", "ARM"),
    **dict.fromkeys(PIPELINE_FLAGS, "bool"),
    "disabled_reason": "str",
    "clone_depth": "int",
    "pause_on_repeated_failures": Limited("int", low=1, high=100),
    "tags": ListOf("str"),
    "execution_message_template": "str",
    "worker": "str",
    "target_site_url": "str",
    "loop": ListOf("str"),
    "definition_source": enum("LOCAL", "REMOTE"),
    "git_config_ref": enum("NONE", "DYNAMIC", "FIXED"),
    "git_config": Obj("GitConfigView", {"path": "str", "branch": "str", "project": "str"}),
    "remote_path": "str",
    "remote_branch": "str",
    "remote_ref": "str",
    "remote_project_name": "str",
    "remote_parameters": ListOf(
        Obj("RemoteParameterView", {"key": "str", "value": "str"}, required=frozenset({"key"}))
    ),
    "git_changeset_base": enum("LATEST_RUN", "LATEST_RUN_MATCHING_REF", "PULL_REQUEST"),
    "filesystem_changeset_base": enum("DATE_MODIFIED", "CONTENTS"),
    "permissions": PERMISSIONS,
}
#: A seed may hold what a newer server returns: an event key the sandbox does not know, kept as given.
SEED_PIPELINE_FIELDS = {**PIPELINE_FIELDS, "events": ListOf(Obj(EVENT.name, EVENT.fields, open=True))}
PIPELINE_READ_ONLY = frozenset(
    {
        "url",
        "html_url",
        "id",
        "create_date",
        "last_execution_status",
        "last_execution_revision",
        "project",
        "creator",
        "actions",
    }
)
PIPELINE_DEFAULTS: dict[str, Any] = {"disabled": False, "definition_source": "LOCAL", "git_config_ref": "NONE"}


def action_fields_for(action_type: str) -> Mapping[str, Spec]:
    """The field table of one action type; unknown types get only the common fields."""
    return MULTI_ARCH_FIELDS if action_type == MULTI_ARCH else COMMON_ACTION_FIELDS


def action_field_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """Every field error the sandbox finds in an action create body, without HTTP: ``name`` and
    ``type`` required, each field checked against its type's table (an integral float such as
    ``1.0`` in an integer field and ``integration: {"identifier": null}`` are errors), unknown
    fields refused for the modelled type. Read-only fields are not reported (the server ignores them
    by default); cross-field rules (``run_only_on_first_failure``) are not field errors."""
    errors: list[FieldError] = []
    action_type = body.get("type")
    for key in ("name", "type"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(FieldError(key, "is required (a non-empty string)"))
    table = action_fields_for(action_type if isinstance(action_type, str) else "")
    for key, value in body.items():
        if key in ACTION_READ_ONLY or (key in ("name", "type") and not isinstance(value, str)):
            continue
        if key == "after_action_id":
            spec: Spec = "int"
        elif key in table:
            spec = table[key]
        elif action_type == MULTI_ARCH:
            errors.append(FieldError(key, f"unknown field of {MULTI_ARCH}"))
            continue
        else:
            continue  # a field of a type the sandbox does not model
        try:
            check(value, spec, key)
        except FieldError as exc:
            errors.append(exc)
    return errors


def pipeline_field_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """Every field error the sandbox answers a pipeline PATCH body with, without HTTP: read-only and
    unknown fields, each field checked against the pipeline table, and ``name`` and ``identifier``
    not empty (a PATCH cannot unset them)."""
    errors: list[FieldError] = []
    for key, value in body.items():
        if key in PIPELINE_READ_ONLY:
            errors.append(FieldError(key, "read-only"))
        elif key not in PIPELINE_FIELDS:
            errors.append(FieldError(key, "unknown pipeline field"))
        elif _is_empty(key, value):
            errors.append(FieldError(key, "must not be empty"))
        else:
            try:
                check(value, PIPELINE_FIELDS[key], key)
            except FieldError as exc:
                errors.append(exc)
    return errors


def _is_empty(key: str, value: Any) -> bool:
    """A PATCH cannot unset a pipeline's name (nor blank it) or its identifier."""
    if key == "name":
        return not isinstance(value, str) or not value.strip()
    return key == "identifier" and not value


def check(value: Any, spec: Spec, path: str, *, encrypt_secrets: bool = True) -> Any:
    """Check ``value`` against ``spec`` and return its stored form.

    ``None`` is accepted for a field (it means "unset"), never as an item of a list. Nested objects
    come back with every known key present (``None`` when unset), the way the API returns them;
    write-only keys come back encrypted. ``encrypt_secrets=False`` keeps values that are already encrypted (seed files).
    """
    if value is None:
        return None
    if isinstance(spec, str):
        return _check_scalar(value, spec, path)
    if isinstance(spec, Enum):
        if not isinstance(value, str) or value not in spec.values:
            allowed = ", ".join(sorted(spec.values))
            raise FieldError(path, f"must be one of {allowed}, not {_show(value)}")
        return value
    if isinstance(spec, Limited):
        return _check_limited(value, spec, path)
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise FieldError(path, f"must be a list, not {_kind(value)}")
        if None in value:  # a null unsets a field, but an item of a list is not a field
            raise FieldError(f"{path}[{value.index(None)}]", "must not be null")
        return [check(item, spec.item, f"{path}[{i}]", encrypt_secrets=encrypt_secrets) for i, item in enumerate(value)]
    return _check_object(value, spec, path, encrypt_secrets=encrypt_secrets)


def _check_scalar(value: Any, kind: str, path: str) -> Any:
    # bool is a subclass of int in Python: a JSON true must not pass as an integer
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "any": True,
    }[kind]
    if not ok:
        wanted = {"str": "a string", "int": "an integer", "bool": "a boolean"}[kind]
        raise FieldError(path, f"must be {wanted}, not {_kind(value)}")
    return value


def _check_limited(value: Any, spec: Limited, path: str) -> Any:  # an integer's range, a string's pattern
    _check_scalar(value, spec.kind, path)
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        raise FieldError(path, f"must be {spec.words}, not {_show(value)}")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise FieldError(path, f"must be between {spec.low} and {spec.high}, not {value}")
    return value


def _check_event(event: Mapping[str, Any], path: str) -> None:
    given = set(event)  # Terraform's exclusions; a key given as null counts, as it does for validate
    for first, second in EVENT_EXCLUDES:
        if {first, second} <= given:
            raise FieldError(path, f"{first} and {second} exclude each other")
    if len(given & set(EVENT_TOGETHER)) == 1:
        raise FieldError(path, f"{' and '.join(EVENT_TOGETHER)} go together")


def _check_object(value: Any, spec: Obj, path: str, *, encrypt_secrets: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(path, f"must be an object ({spec.name}), not {_kind(value)}")
    unknown = sorted(set(value) - set(spec.fields))
    if unknown and not spec.open:
        raise FieldError(f"{path}.{unknown[0]}", f"unknown field of {spec.name}")
    out: dict[str, Any] = {}
    for key, sub in spec.fields.items():
        checked = check(value.get(key), sub, f"{path}.{key}", encrypt_secrets=encrypt_secrets)
        if key in spec.secret_keys and isinstance(checked, str):
            checked = seal(checked, encrypt_secrets=encrypt_secrets)
        out[key] = checked
    for key in unknown:  # only reached for open objects
        out[key] = value[key]
    if missing := sorted(k for k in spec.required if value.get(k) is None):
        raise FieldError(f"{path}.{missing[0]}", "is required")
    if spec.name == EVENT.name:  # returned with the keys given only, as Buddy answers an event
        _check_event(value, path)
        out = {k: v for k, v in out.items() if v is not None}
    if spec is INTEGRATION:
        # either spelling names the integration; answer with both, as the contract allows
        ident = out["identifier"] if out["identifier"] is not None else out["hash_id"]
        if ident is None:
            raise FieldError(path, "needs an identifier (or hash_id)")
        out = {"identifier": ident, "hash_id": ident}
    return out


#: Keys of an ``integration`` object that hold its credential: never stored, never returned.
INTEGRATION_TOKEN_KEYS = frozenset({"token", "access_token"})


def unmodelled_field(key: str, value: Any, *, encrypt_secrets: bool = True) -> Any:
    """The stored form of a field of an action type the sandbox does not model: kept as sent, except
    that CONTRACT.md's secrets rules hold for every type (``secrets[].value`` encrypted, integration
    tokens dropped)."""
    if key == "secrets" and isinstance(value, list):
        return [
            {**item, "value": seal(item["value"], encrypt_secrets=encrypt_secrets)}
            if isinstance(item, dict) and isinstance(item.get("value"), str)
            else item
            for item in value
        ]
    if key == "integration" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in INTEGRATION_TOKEN_KEYS}
    return value


def seal(value: str, *, encrypt_secrets: bool = True) -> str:
    """Encrypt a write-only value; with ``encrypt_secrets=False`` an already encrypted one is kept."""
    if not encrypt_secrets and is_encrypted(value):
        return value
    return encrypt(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else _kind(value)
