"""What of a live action or pipeline import writes: the fields that carry information, cleaned.

``clean_action`` / ``clean_pipeline`` keep only the fields worth writing (no read-only field, no
null or empty value, no server default); ``unknown_action_fields`` / ``unknown_pipeline_fields``
name what the file format does not know, so that import never drops a field silently.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from reconciler import envrefs, fields
from reconciler.model import MULTI_ARCH
from reconciler.plan.normal import NOTHING, is_empty, rule

#: The order action fields are written in: what is built, then where it goes, then when and how the
#: action runs; the order of the examples. A field of the schema not named here comes after them.
ACTION_ORDER: tuple[str, ...] = (
    "dockerfile_path",
    "context_path",
    "target_stage",
    "target_platform",
    "build_args",
    "secrets",
    "cache_mode",
    "provenance",
    "pull",
    "image_location",
    "use_image_from_action",
    "docker_build_action_id",
    "docker_build_action_name",
    "target_path",
    "docker_registry",
    "registry",
    "insecure_registry",
    "region",
    "integration",
    "package",
    "repository",
    "docker_image_tag",
    "versions",
    "do_not_prune_images",
    "login",
    "password",
    "trigger_time",
    "trigger_conditions",
    "run_only_on_first_failure",
    "run_next",
    "disabled",
    "timeout",
    "ignore_errors",
    "retry_count",
    "retry_interval",
    "loop",
    "variables",
    "permissions",
)


# -- cleaning ----------------------------------------------------------------------------------------


#: a literal ``${env:`` written so that it reads back as text (``envrefs.escape``)
escape = envrefs.escape


def clean_action(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a live multi-arch action worth writing, ``name`` and ``type`` first, in
    ``ACTION_ORDER`` order: no read-only field, no null or empty value, no server default; nested objects
    cleaned alike and ``integration`` written as ``{identifier: …}`` (each field's ``FieldRule.written``).
    Write-only values are kept as they came (encrypted): ``render_action`` replaces them with
    references. No escaping here."""
    out: dict[str, Any] = {"name": detail.get("name"), "type": detail.get("type", MULTI_ARCH)}
    for key in _written_order():
        if key in ("name", "type") or fields.is_read_only(key) or key not in detail:
            continue
        value = rule(key).written(detail[key])
        if value is not NOTHING:
            out[key] = value
    # The API allows run_only_on_first_failure only with ON_FAILURE (and requires it there); a server
    # that answers `false` for it elsewhere must not make the file invalid.
    if out.get("trigger_time") != "ON_FAILURE":
        out.pop("run_only_on_first_failure", None)
    elif "run_only_on_first_failure" not in out and detail.get("run_only_on_first_failure") is not None:
        out["run_only_on_first_failure"] = detail["run_only_on_first_failure"]
    return out


def _written_order() -> list[str]:
    known = fields.action_fields()
    return [k for k in ACTION_ORDER if k in known] + [k for k in known if k not in ACTION_ORDER]


def unknown_action_fields(detail: Mapping[str, Any]) -> list[str]:
    """Keys the live action has a value for that the file format does not know (not written), also
    inside its fields' objects (``variables[].id``)."""
    known = set(fields.action_fields())
    nested = [path for k in known if k in detail for path in fields.known_part(k, detail[k])[1]]
    return sorted([k for k, v in detail.items() if k not in known and not is_empty(v)] + nested)


def clean_pipeline(name: str, live: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline fields worth writing, ``name`` first: set, non-default, cleaned like actions.
    ``identifier`` is kept only when it is not what Buddy would derive from the name anyway."""
    out: dict[str, Any] = {"name": name}
    for key in fields.pipeline_fields():
        if key in fields.PIPELINE_NOT_IMPORTED:
            continue
        value = rule(key, on="pipeline").written(live.get(key))
        if value is NOTHING or (key == "identifier" and value == slug(name)):
            continue
        out[key] = value
    return out


def slug(name: str) -> str:
    """A file-name (and identifier-like) form of a name: lower-case ASCII, ``-`` between words."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def unknown_pipeline_fields(live: Mapping[str, Any]) -> list[str]:
    """Keys the live pipeline has a value for that the file format does not know (a newer server's),
    also inside its events, trigger conditions and permissions (``events[].html_url``): never written."""
    known = set(fields.pipeline_fields())
    ignored = fields.PIPELINE_READ_ONLY | fields.PIPELINE_KEYS
    top = [k for k, v in live.items() if k not in known and k not in ignored and not is_empty(v)]
    nested = [path for k in known if k in live for path in fields.known_part(k, live[k], on="pipeline")[1]]
    return sorted(top + nested)


def unknown_pipeline_notes(where: str, live: Mapping[str, Any]) -> list[str]:
    """One note for each key of ``unknown_pipeline_fields``: what import could not write, and where to
    change it instead."""
    return [f"{where}: {key}: not managed: edit it in Buddy" for key in unknown_pipeline_fields(live)]
