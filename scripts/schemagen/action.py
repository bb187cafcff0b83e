"""The action schema: the page's fields, with the nested objects and server facts the page does not
define (each table cites where it comes from)."""

from __future__ import annotations

from typing import Any

from schemagen.pages import PageError, Param

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# The action schema has an `$id` so that tools can name it. The config schema deliberately has none:
# its `$ref`s to "action.schema.json" must resolve against wherever the file itself was loaded from
# (a path beside a user's YAML, a URL, the installed package), and an absolute `$id` would send
# check-jsonschema and editors to the network instead.
ACTION_ID = "https://reconcile.dev/schemas/action.schema.json"
ACTION_REF = "action.schema.json"

SCALARS = {"string": "string", "integer": "integer", "boolean": "boolean", "number": "number"}

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


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
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


def nested_defs(ref_base: str = "") -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for name, spec in NESTED.items():
        props: dict[str, Any] = {}
        # A key that can meet a requirement (``identifier`` or ``hash_id``) must not be null either.
        required = set(spec.get("required", [])) | {k for keys in spec.get("any_of_required", []) for k in keys}
        for key, (kind, description) in spec["properties"].items():
            schema = {"description": description, **_type_schema(kind, ref_base)}
            if key in spec.get("write_only", ()):
                schema["writeOnly"] = True
            props[key] = schema if key in required else nullable(schema)
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
            properties[param.name] = schema if param.required else nullable(schema)
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
        "$defs": nested_defs(),
        "x-2024-spellings": spellings,
    }
