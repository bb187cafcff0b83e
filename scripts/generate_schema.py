#!/usr/bin/env python3
"""Derive schemas/action.schema.json and schemas/config.schema.json from Buddy's reference pages.

The action's fields, types, enums and descriptions are parsed from the text of the 2026 page
("Add action: Build multi-arch image"), never typed in by hand, so that a new page means a new schema
by running this script again. What the page does not define (the shapes of its nested objects, the
pipeline fields, the keys of our own file format) comes from the small tables below, each citing
where it comes from.

    python scripts/generate_schema.py              # write the schemas
    python scripts/generate_schema.py --check      # exit 1 when the committed schemas are stale
    python scripts/generate_schema.py --docs DIR   # read the pages from DIR (default ../shared/api-docs)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = REPO.parent / "shared" / "api-docs"
PAGE_2026 = "add-docker-build-multi-arch.2026.txt"
PAGE_2024 = "add-docker-build-multi-arch.2024.txt"

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# The action schema has an `$id` so that tools can name it. The config schema deliberately has none:
# its `$ref`s to "action.schema.json" must resolve against wherever the file itself was loaded from
# (a path beside a user's YAML, a URL, the installed package), and an absolute `$id` would send
# check-jsonschema and editors to the network instead.
ACTION_ID = "https://reconcile.dev/schemas/action.schema.json"
ACTION_REF = "action.schema.json"

SCALARS = {"string": "string", "integer": "integer", "boolean": "boolean", "number": "number"}

# The pages list fields as `name` + optional `required`/`read-only` + type (+ `[]`) + optional ` enum`,
# glued together ("namerequiredstring", "trigger_conditionsTriggerConditionView[]"); the 2024 page puts
# a space before the type and may end a line with "BETA". Names are lower case and object types start
# with a capital, so the shortest name that leaves a known type suffix is the right split.
_HEADER = re.compile(
    r"^(?P<name>[a-z][a-z0-9_]*?)(?P<flag>required|read-only)? ?"
    r"(?P<type>string|integer|boolean|number|[A-Z][A-Za-z0-9]*)(?P<array>\[\])?(?P<enum> enum)?(?:BETA)?$"
)
_ENUM_VALUE = re.compile(r"^[A-Z0-9_/.-]+,?$")

# Fields the server sets that the pages do not mark read-only. SPEC.md ("Files") lists
# `current_revision` with the read-only fields: it is the revision of the last run, set by Buddy.
READ_ONLY_BY_SPEC = ("current_revision",)
# Accepted by the API but refused in a file: SPEC.md says placement comes from file order and `after`.
REFUSED_PLACEMENT = "after_action_id"
# Fields the server takes but never returns as sent (CONTRACT.md: it keeps a hash, answers encrypted).
# Marked with JSON Schema's `writeOnly` annotation: reconciler/fields.py reads it from there, so that
# validate, the diff, masking and import all learn of a new one from the schema alone. Nested ones are
# named by their object's `write_only` list in NESTED (`secrets[].value`).
WRITE_ONLY_BY_SPEC = ("password",)

# The nested objects the page names without defining them. Shapes from CONTRACT.md, "Nested objects
# (shapes inferred; the reference pages name them without defining them)". Each entry: property ->
# (JSON type or a list of enum values, description); `required` as listed.
_LEVELS = ["DEFAULT", "DENIED", "READ_ONLY", "RUN_ONLY", "READ_WRITE"]
_TRIGGER_CONDITIONS = [
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
]
NESTED: dict[str, dict[str, Any]] = {
    "DockerSecretView": {
        "description": "A secret passed to `docker build --secret`.",
        "required": ["id"],
        "write_only": ["value"],
        "properties": {
            "id": ("string", "The secret's identifier, as used by `RUN --mount=type=secret,id=…`"),
            "type": (["FILE", "ENV"], "Whether the value is a file or an environment variable"),
            "value": ("string", "The secret's value (write-only: never shown, never compared)"),
        },
    },
    "DockerIntegrationRef": {
        "description": "The integration that holds the registry credentials: give `identifier` (or `hash_id`).",
        "any_of_required": [["identifier"], ["hash_id"]],
        "properties": {
            "identifier": ("string", "The integration's identifier"),
            "hash_id": ("string", "The integration's hash ID (the name older answers use for the identifier)"),
        },
    },
    "EnvironmentVariableView": {
        "description": "A variable available to the action.",
        "required": ["key"],
        "properties": {
            "key": ("string", "The variable's name"),
            "value": ("string", "The variable's value"),
            "type": (["VAR", "SSH_KEY"], "The kind of variable"),
            "encrypted": ("boolean", "Whether Buddy stores the value encrypted"),
            "settable": ("boolean", "Whether the value can be set when a run starts"),
            "description": ("string", "What the variable is for"),
        },
    },
    "TriggerConditionView": {
        "description": "A condition that must hold for the action (or pipeline) to run.",
        "required": ["trigger_condition"],
        "properties": {
            "trigger_condition": (_TRIGGER_CONDITIONS, "The kind of condition"),
            "trigger_condition_paths": (["string"], "Paths whose change triggers (ON_CHANGE_AT_PATH)"),
            "trigger_variable_key": ("string", "The variable to test (VAR_*)"),
            "trigger_variable_value": ("string", "The value to test the variable against (VAR_*)"),
            "trigger_hours": (["integer"], "Hours of the day when the condition holds (DATETIME)"),
            "trigger_days": (["integer"], "Days of the week when the condition holds (DATETIME)"),
            "timezone": ("string", "The time zone of `trigger_hours` and `trigger_days`"),
            "trigger_project_name": ("string", "The project of the pipeline to watch (SUCCESS_PIPELINE)"),
            "trigger_pipeline_name": ("string", "The pipeline to watch (SUCCESS_PIPELINE)"),
            "trigger_user": ("string", "The user to test (TRIGGERING_USER_IS*)"),
            "trigger_group": ("string", "The group to test (TRIGGERING_USER_IS*_IN_GROUP)"),
        },
    },
    "PermissionsView": {
        "description": "Who may see and run the action.",
        "properties": {
            "others": (_LEVELS, "The access level of everyone not listed"),
            "users": ("PermissionEntry[]", "Access levels of single users"),
            "groups": ("PermissionEntry[]", "Access levels of groups"),
        },
    },
    "PermissionEntry": {
        "description": "The access level of one user or group.",
        "required": ["id"],
        "properties": {
            "id": ("integer", "The user's or group's ID"),
            "access_level": (_LEVELS, "The access level"),
        },
    },
}

# What the 2024 page spelled differently. The loader translates these before the schema check (the
# schema itself is 2026-only); the map is emitted so that editors and readers can see the correspondence.
SPELLINGS_2024 = {
    "secret_id": "secrets[].id",
    "secret_src": "secrets[].value (type FILE)",
    "integration_hash": "integration.identifier",
}

# What the server fills in on create when an action field is unset, from CONTRACT.md ("Server defaults on
# create"). These fields are not nullable in a file: an explicit null would be sent on every apply and
# never hold. The value is written as the standard `default` annotation, which editors show.
SERVER_DEFAULTS: dict[str, Any] = {
    "trigger_time": "ON_EVERY_EXECUTION",
    "disabled": False,
    "target_platform": "linux/amd64",
}

# The pipeline's fields, event keys, exclusions and objects: schemas/pipeline-model.json, Buddy's model
# restated from PIPELINE-MODEL.md (its Go SDK and Terraform provider) as data.
MODEL = REPO / "schemas" / "pipeline-model.json"
# A defaults block (SPEC.md, "Defaults") may give any action field but the action's identity.
NOT_DEFAULTED = ("name", "after", "previous_names")
DEFAULTS_TITLE = "Action defaults"

# A pipeline's `safety` block (SPEC.md, "Commands": `safety:` on a pipeline sets the percentages).
SAFETY_KEYS = {
    "max_delete_percent": "Refuse deleting more than this percentage of the pipeline's live actions (default 30).",
    "max_update_percent": (
        "Refuse updating more than this percentage of the pipeline's live actions, in a pipeline of 10 or more "
        "(default 30)."
    ),
}


@dataclass
class Param:
    """One field as a reference page lists it."""

    name: str
    type: str  # "string", "integer", "boolean", "number" or an object type name ("PermissionsView")
    array: bool = False
    required: bool = False
    read_only: bool = False
    enum: list[str] = field(default_factory=list)
    description: str = ""


class PageError(Exception):
    """The page does not read as expected: better to stop than to write a wrong schema."""


def parse_section(text: str, start: str, stops: tuple[str, ...]) -> list[Param]:
    """The fields listed between the line ``start`` and the first line in ``stops``, in page order."""
    lines = [line.strip() for line in text.splitlines()]
    try:
        begin = lines.index(start) + 1
    except ValueError:
        raise PageError(f"no {start!r} section") from None
    params: list[Param] = []
    i = begin
    while i < len(lines) and not lines[i].startswith(stops):
        line = lines[i]
        i += 1
        match = _HEADER.match(line)
        if match is None:
            if line and not params:
                raise PageError(f"expected a field after {start!r}, found {line!r}")
            if line and params:
                params[-1].description = " ".join(filter(None, [params[-1].description, line]))
            continue
        param = Param(
            name=match["name"],
            type=match["type"],
            array=bool(match["array"]),
            required=match["flag"] == "required",
            read_only=match["flag"] == "read-only",
        )
        params.append(param)
        if match["enum"] or lines[i : i + 2][-1:] == ["Allowed enum:"]:
            # a description line, then "Allowed enum:", then one value a line, each but the last with a comma
            if i < len(lines) and lines[i] != "Allowed enum:":
                param.description = lines[i]
                i += 1
            if i >= len(lines) or lines[i] != "Allowed enum:":
                raise PageError(f"{param.name}: an enum without 'Allowed enum:'")
            i += 1
            while i < len(lines) and _ENUM_VALUE.match(lines[i]):
                value = lines[i]
                i += 1
                param.enum.append(value.rstrip(","))
                if not value.endswith(","):
                    break
            if not param.enum:
                raise PageError(f"{param.name}: no enum values")
    if not params:
        raise PageError(f"the {start!r} section lists no fields")
    return params


def parse_page(text: str) -> tuple[list[Param], list[Param]]:
    """(POST parameters, response fields) of a reference page; the second is empty when the page has
    no response section (the 2024 page shows an example instead)."""
    stops = ("Response", "RESPONSE BODY", "Last modified", "Example:", "Request example")
    post = parse_section(text, "POST PARAMETERS", stops)
    response: list[Param] = []
    if "RESPONSE BODY" in (line.strip() for line in text.splitlines()):
        response = parse_section(text, "RESPONSE BODY", stops[2:])
    return post, response


# ---------------------------------------------------------------------------------------------------
# Building the schemas


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` also accepting null: an explicit null in a file means "this field must be unset"."""
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _type_schema(kind: Any, ref_base: str) -> dict[str, Any]:
    """The schema of a table entry's type: a JSON type, ``[item type]``, an enum list or ``Name[]``."""
    if isinstance(kind, list) and len(kind) == 1 and kind[0] in SCALARS:
        return {"type": "array", "items": {"type": kind[0]}}
    if isinstance(kind, list):
        return {"type": "string", "enum": list(kind)}
    if kind in SCALARS:
        return {"type": kind}
    name, array = (kind[:-2], True) if kind.endswith("[]") else (kind, False)
    obj = {"type": "object", "$ref": f"{ref_base}#/$defs/{name}"}
    return {"type": "array", "items": obj} if array else obj


def _param_schema(param: Param) -> dict[str, Any]:
    if param.type in SCALARS:
        item: dict[str, Any] = {"type": SCALARS[param.type]}
        if param.enum:
            item["enum"] = param.enum
    elif param.type in NESTED:
        # The nested definitions do not say `type: object` themselves, so that a nullable field can
        # say `type: [object, null]` beside its `$ref` without an anyOf (whose errors cascade).
        item = {"type": "object", "$ref": f"#/$defs/{param.type}"}
    else:
        raise PageError(f"{param.name}: the page's type {param.type!r} has no shape in NESTED (see CONTRACT.md)")
    schema = {"type": "array", "items": item} if param.array else item
    return {"description": param.description, **schema}


def _nested_defs(ref_base: str = "") -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for name, spec in NESTED.items():
        props: dict[str, Any] = {}
        # A key that can meet a requirement (``identifier`` or ``hash_id``) must not be null either.
        required = set(spec.get("required", [])) | {k for keys in spec.get("any_of_required", []) for k in keys}
        for key, (kind, description) in spec["properties"].items():
            schema = {"description": description, **_type_schema(kind, ref_base)}
            if key in spec.get("write_only", ()):
                schema["writeOnly"] = True
            props[key] = schema if key in required else _nullable(schema)
        definition: dict[str, Any] = {"description": spec["description"], "properties": props}
        if spec.get("required"):
            definition["required"] = spec["required"]
        if spec.get("any_of_required"):
            definition["anyOf"] = [{"required": keys} for keys in spec["any_of_required"]]
        definition["additionalProperties"] = False
        defs[name] = definition
    return defs


def _refused(description: str, why: str) -> dict[str, Any]:
    # `not: {}` refuses any value while keeping a description for editors; `readOnly` is the standard
    # annotation for "set by the server".
    return {"description": f"{description}. {why}", "readOnly": True, "not": {}}


def build_action_schema(post: list[Param], response: list[Param], post_2024: list[Param]) -> dict[str, Any]:
    """The JSON Schema of one action as a file declares it (2026 spelling)."""
    posted = {p.name for p in post}
    read_only = {p.name for p in post if p.read_only} | {p.name for p in response if p.read_only}
    # Fields the server returns but does not take are the server's own (id, status, the pipeline).
    read_only |= {p.name for p in response if p.name not in posted}
    read_only |= set(READ_ONLY_BY_SPEC)
    for name in READ_ONLY_BY_SPEC:
        if name not in posted | {p.name for p in response}:
            raise PageError(f"{name}: SPEC.md calls it read-only but the page no longer lists it")

    properties: dict[str, Any] = {}
    for param in [*post, *(p for p in response if p.name not in posted)]:
        if param.name in read_only:
            properties[param.name] = _refused(
                param.description.rstrip("."), "Read-only: set by Buddy, not accepted in a file"
            )
        elif param.name == REFUSED_PLACEMENT:
            properties[param.name] = _refused(
                param.description.rstrip("."),
                "Not accepted in a file: an action's place comes from the file's order and `after`",
            )
        elif param.name in SERVER_DEFAULTS:
            properties[param.name] = {**_param_schema(param), "default": SERVER_DEFAULTS[param.name]}
        else:
            schema = _param_schema(param)
            if param.name in WRITE_ONLY_BY_SPEC:
                schema["writeOnly"] = True
            if param.required and param.type == "string" and not param.enum:
                schema["minLength"] = 1  # required: the API answers an empty one as missing
            properties[param.name] = schema if param.required else _nullable(schema)
    if missing := set(SERVER_DEFAULTS) - set(properties):
        raise PageError(f"{sorted(missing)}: CONTRACT.md names server defaults the page no longer lists")
    required = sorted(p.name for p in post if p.required)
    if set(required) != {"name", "type"}:
        raise PageError(f"the 2026 page should require name and type, not {required}")

    old = {p.name: p for p in post_2024}
    spellings = {name: new for name, new in SPELLINGS_2024.items() if name in old}
    if "target_platform" in old and old["target_platform"].array and not properties["target_platform"].get("items"):
        spellings["target_platform"] = "target_platform: a list in 2024, a comma-separated string in 2026"

    return {
        "$schema": DRAFT,
        "$id": ACTION_ID,
        "title": "Build multi-arch image (DOCKER_BUILD_MULTI_ARCH) action",
        "description": (
            "One Buddy.works action of type DOCKER_BUILD_MULTI_ARCH, with the fields, types and enums of "
            "Buddy's 2026 API reference. An explicit null means the field must be unset. Generated by "
            "scripts/generate_schema.py; do not edit."
        ),
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
        "$defs": _nested_defs(),
        "x-2024-spellings": spellings,
    }


def _action_props(action: dict[str, Any]) -> dict[str, Any]:
    """An action in a config file: ``action``'s properties one by one (so that an unknown key gets
    exactly one error and every field keeps the page's description), plus our own keys."""
    action_props: dict[str, Any] = {name: {"$ref": f"{ACTION_REF}#/properties/{name}"} for name in action["properties"]}
    action_props["after"] = {
        "description": (
            "Place a new action right after the live action of this name (of any type). Not sent to Buddy."
        ),
        "type": "string",
        "minLength": 1,
    }
    action_props["previous_names"] = {
        "description": (
            "Earlier names of this action: a live action with one of them is renamed, not created anew. "
            "Not sent to Buddy."
        ),
        "type": "array",
        "items": {"type": "string", "minLength": 1},
    }
    return action_props


def _pipeline_props(model: dict[str, Any]) -> dict[str, Any]:
    """A pipeline's keys: ours, then the model's pipeline fields."""
    pipeline_props: dict[str, Any] = {
        "name": {
            "description": "The pipeline's name: matched to the live pipeline by name.",
            "type": "string",
            "minLength": 1,
        },
        "id": {"description": "The live pipeline's ID: matched by ID instead of name.", "type": "integer"},
        "prune": {
            "description": "true: live multi-arch actions this file does not declare are deleted.",
            "type": "boolean",
        },
        "previous_names": {
            "description": (
                "Earlier names of this pipeline: when no live pipeline has its name, one with an earlier name is "
                "renamed, not created anew. Not sent to Buddy."
            ),
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "safety": {
            "description": (
                "This pipeline's safety thresholds for apply: the share of its live actions that may be deleted "
                "or updated at once without --force. Not sent to Buddy."
            ),
            "type": "object",
            "properties": {
                key: {"description": description, "type": "integer", "minimum": 0, "maximum": 100}
                for key, description in SAFETY_KEYS.items()
            },
            "additionalProperties": False,
        },
        "defaults": {
            "description": "Defaults for every action of this pipeline; an action's own keys win.",
            "$ref": "#/$defs/action_defaults",
        },
        "actions": {
            "description": "The pipeline's multi-arch actions, in execution order.",
            "type": "array",
            "items": {"$ref": "#/$defs/action"},
        },
    }
    for name, spec in model["fields"].items():
        pipeline_props[name] = _nullable(_model_schema(spec, "Compared and updated."))
    return pipeline_props


def _defaults_defs(action_props: dict[str, Any]) -> dict[str, Any]:
    """A defaults file, and the partial action that every `defaults` block is."""
    return {
        "defaults_file": {
            "description": (
                "A defaults file: `defaults` for every action of the config files in its directory and below."
            ),
            "type": "object",
            "required": ["defaults"],
            "properties": {
                "defaults": {
                    "description": "Defaults for every action of the config files in this directory and below.",
                    "$ref": "#/$defs/action_defaults",
                }
            },
            "additionalProperties": False,
        },
        "action_defaults": {
            "title": DEFAULTS_TITLE,
            "description": (
                "A partial action: any action field but `name` (and not `after` or `previous_names`), none "
                "required. Mappings merge key by key with the action's; lists and scalars are replaced."
            ),
            "type": "object",
            "properties": {name: ref for name, ref in action_props.items() if name not in NOT_DEFAULTED},
            "additionalProperties": False,
        },
    }


def build_config_schema(action: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a config file (or of a defaults file, which has `defaults` and no `pipelines`)."""
    action_props = _action_props(action)
    pipeline_props = _pipeline_props(model)
    return {
        "$schema": DRAFT,
        "title": "reconcile config file",
        "description": (
            "One project of one Buddy.works workspace: its pipelines and their multi-arch image actions. "
            "Generated by scripts/generate_schema.py; do not edit."
        ),
        "type": "object",
        "properties": {
            "workspace": {"description": "The workspace's URL handle.", "type": "string", "minLength": 1},
            "project": {"description": "The project's name ID.", "type": "string", "minLength": 1},
            "defaults": {
                "description": (
                    "Defaults for every action of this file (in a file with no `pipelines`: for every action of "
                    "the files in its directory and below); a pipeline's defaults and an action's own keys win."
                ),
                "$ref": "#/$defs/action_defaults",
            },
            "prune_pipelines": {
                "description": (
                    "true: the project's live pipelines that no file declares are deleted (only those defined "
                    "through the API, never one defined in Buddy YAML). Every file of the project must agree."
                ),
                "type": "boolean",
            },
            "pipelines": {
                "description": "The pipelines of the project this file manages.",
                "type": "array",
                "items": {"$ref": "#/$defs/pipeline"},
            },
        },
        "additionalProperties": False,
        # A file with `defaults` and none of the three config keys is a defaults file: `defaults` alone.
        # Any other file is a config file and needs the three keys.
        "if": {
            "required": ["defaults"],
            "not": {"anyOf": [{"required": ["workspace"]}, {"required": ["project"]}, {"required": ["pipelines"]}]},
        },
        "then": {"$ref": "#/$defs/defaults_file"},
        "else": {"required": ["workspace", "project", "pipelines"]},
        "$defs": {
            **_defaults_defs(action_props),
            "pipeline": {
                "description": "A pipeline, matched to the live one by `name` (or `id`).",
                "type": "object",
                "properties": pipeline_props,
                "anyOf": [{"required": ["name"]}, {"required": ["id"]}],
                "allOf": _excludes(model["excludes"]),
                "additionalProperties": False,
            },
            "action": {
                "description": "A DOCKER_BUILD_MULTI_ARCH action, plus the file's own keys `after` and "
                "`previous_names`.",
                "type": "object",
                # `type` may come from a defaults block: only the name is required of what the file says.
                # validate checks the effective action (defaults applied) against action.schema.json's
                # own `required`.
                "required": [key for key in action["required"] if key == "name"],
                "properties": action_props,
                "additionalProperties": False,
            },
            **_model_defs(model),
        },
    }


def _model_schema(spec: dict[str, Any], note: str = "") -> dict[str, Any]:
    """The schema of one field of the model: its type (``string``, ``string[]``, ``Name``, ``Name[]``),
    enum, pattern, limits and default, with its description (and ``note``) for editors."""
    kind = spec["type"]
    array = kind.endswith("[]")
    item_kind = kind.removesuffix("[]")
    if item_kind in SCALARS:
        item: dict[str, Any] = {"type": item_kind}
    elif item_kind == "PermissionEntry":
        item = {"type": "object", "$ref": f"{ACTION_REF}#/$defs/PermissionEntry"}
    elif item_kind == "PullRequestEvent":
        item = {"type": "string", "$ref": "#/$defs/PullRequestEvent"}
    else:
        item = {"type": "object", "$ref": f"#/$defs/{item_kind}"}
    for key in ("enum", "pattern", "minimum", "maximum"):
        if key in spec:
            item[key] = spec[key]
    schema = {"type": "array", "items": item} if array else item
    description = spec["description"].rstrip(".") + "."
    out = {"description": f"{description} {note}".strip(), **schema}
    if "default" in spec:
        out["default"] = spec["default"]
        out["x-default-source"] = spec["default_source"]  # "stated" by Buddy's clients, or "assumed"
    return out


def _excludes(pairs: list[list[str]]) -> list[dict[str, Any]]:
    """Keys that exclude each other: each pair may not both be given."""
    return [{"not": {"required": pair}} for pair in pairs]


def _model_defs(model: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's own objects: its events, its trigger conditions (the pipeline's 12 kinds, without
    the action's ``ALWAYS``) and the model's objects."""
    event_props = {
        "type": {"description": "What starts a run.", "type": "string", "enum": model["event_types"]},
        **{key: _nullable(_model_schema(spec)) for key, spec in model["event_keys"].items()},
    }
    condition = _nested_defs(ACTION_REF)["TriggerConditionView"]
    condition = {**condition, "description": "A condition that must hold for the pipeline to run."}
    condition["properties"] = {
        **condition["properties"],
        "trigger_condition": {
            "description": "The kind of condition (a pipeline's; `ALWAYS` is for actions only)",
            "type": "string",
            "enum": model["trigger_conditions"],
        },
    }
    defs: dict[str, Any] = {
        "PipelineEvent": {
            "description": "An event that starts a run: `type`, and the keys of that type.",
            "type": "object",
            "required": ["type"],
            "properties": event_props,
            "allOf": _excludes(model["event_excludes"]),
            "dependentRequired": {a: [b] for pair in model["event_together"] for a, b in (pair, pair[::-1])},
            "additionalProperties": False,
        },
        "PullRequestEvent": {"description": "A pull-request event.", "enum": model["pull_request_events"]},
        "PipelineTriggerCondition": condition,
    }
    for name, spec in model["objects"].items():
        props = {
            key: (_model_schema(sub) if key in spec.get("required", ()) else _nullable(_model_schema(sub)))
            for key, sub in spec["properties"].items()
        }
        definition: dict[str, Any] = {"description": spec["description"], "properties": props}
        if spec.get("required"):
            definition["required"] = spec["required"]
        defs[name] = {**definition, "additionalProperties": False}
    return defs


def render(schema: dict[str, Any]) -> str:
    """Stable text: the dict's own order (page order for fields), two-space indent, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate(docs: Path) -> dict[str, str]:
    """File name -> text of every schema, derived from the pages in ``docs``."""
    post, response = parse_page((docs / PAGE_2026).read_text(encoding="utf-8"))
    post_2024, _ = parse_page((docs / PAGE_2024).read_text(encoding="utf-8"))
    action = build_action_schema(post, response, post_2024)
    return {
        "action.schema.json": render(action),
        "config.schema.json": render(build_config_schema(action, json.loads(MODEL.read_text(encoding="utf-8")))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs_dir", nargs="?", type=Path, help="directory of the reference pages")
    parser.add_argument("--docs", type=Path, help=f"directory of the reference pages (default {DEFAULT_DOCS})")
    parser.add_argument("--out", type=Path, default=REPO / "schemas", help="where to write (default schemas/)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the written schemas are not up to date")
    args = parser.parse_args(argv)
    docs: Path = args.docs or args.docs_dir or DEFAULT_DOCS
    try:
        files = generate(docs)
    except (OSError, PageError) as exc:
        print(f"generate_schema: {exc}", file=sys.stderr)
        return 2
    stale = []
    for name, text in files.items():
        target = args.out / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if args.check:
        for name in stale:
            print(f"{args.out / name} is out of date: run scripts/generate_schema.py", file=sys.stderr)
        return 1 if stale else 0
    for name in files:
        print(f"{args.out / name}: {'written' if name in stale else 'unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
