"""The config schema: a file of pipelines, the pipeline from schemas/pipeline-model.json, our own keys
and the defaults blocks, around the action schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemagen.action import ACTION_REF, DRAFT, SCALARS, nested_defs, nullable

REPO = Path(__file__).resolve().parent.parent.parent
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
        pipeline_props[name] = nullable(_model_schema(spec, "Compared and updated."))
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
        **{key: nullable(_model_schema(spec)) for key, spec in model["event_keys"].items()},
    }
    condition = nested_defs(ACTION_REF)["TriggerConditionView"]
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
            key: (_model_schema(sub) if key in spec.get("required", ()) else nullable(_model_schema(sub)))
            for key, sub in spec["properties"].items()
        }
        definition: dict[str, Any] = {"description": spec["description"], "properties": props}
        if spec.get("required"):
            definition["required"] = spec["required"]
        defs[name] = {**definition, "additionalProperties": False}
    return defs
