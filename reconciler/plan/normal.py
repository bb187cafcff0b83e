"""Normalisation and matching: a file's value and the server's value put in one canonical form, and
declared actions matched to live ones.

The diff compares what this module produces; import writes what it produces. How a field compares is
the field table's answer (``fields.compare_rule``); what each rule means lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import fields
from reconciler.errors import PipelineError
from reconciler.model import ActionSummary, DesiredPipeline


def is_empty(value: Any) -> bool:
    """``null``, ``""``, ``[]`` and ``{}`` all mean "unset"."""
    return value is None or value == "" or value == [] or value == {}


def platforms(value: Any) -> Any:
    """``target_platform`` as a sorted list of its comma-separated entries (order and spaces do not
    matter); ``None`` when it names none."""
    if isinstance(value, str):
        items = sorted({p.strip() for p in value.split(",") if p.strip()})
        return items or None
    return value


def unify(name: str, value: Any) -> Any:
    """Spellings that mean the same thing, made one: an integration's ``hash_id`` is its identifier."""
    if fields.compare_rule(name) == "integration" and isinstance(value, Mapping):
        value = dict(value)
        hash_id = value.pop("hash_id", None)
        if value.get("identifier") is None and hash_id is not None:
            value["identifier"] = hash_id
    return value


def canonical(name: str, value: Any) -> Any:
    """One form for a file's value and the server's value of field ``name``."""
    if fields.compare_rule(name) == "platforms":
        return platforms(value)
    return clean(unify(name, value))


def stored(name: str, value: Any) -> Any:
    """Pipeline field ``name`` as the server stores ``value``: ``null`` becomes the server's default
    (``disabled: null`` is stored as ``false``), so that a declared ``null`` compares as what it leaves."""
    return fields.server_default(name, on="pipeline") if value is None else value


def clean(value: Any) -> Any:
    """``value`` with every empty part (see ``is_empty``) made ``None``, recursively."""
    if isinstance(value, Mapping):
        cleaned = {k: clean(v) for k, v in value.items()}
        return cleaned or None
    if isinstance(value, list):
        return None if not value else [clean(v) for v in value]
    return None if is_empty(value) else value


def project(desired: Any, live: Any) -> Any:
    """``live`` cut to the shape of ``desired``: only declared keys, lists item by item."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        return {k: project(v, live.get(k)) for k, v in desired.items()}
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [project(d, v) for d, v in zip(desired, live, strict=True)]
    return live


def live_as_declared(name: str, desired: Any, live: Any) -> Any:
    """The live value of field ``name`` as far as the file declares it (the server's extras dropped)."""
    return project(unify(name, desired), unify(name, live))


def match_actions(desired: DesiredPipeline, live_actions: Sequence[ActionSummary]) -> dict[str, ActionSummary]:
    """Declared name → the live action it manages (by its name, else by a previous name).

    Raises ``PipelineError`` for a type clash or for two live actions answering to one name."""
    by_name: dict[str, list[ActionSummary]] = {}
    for summary in live_actions:
        by_name.setdefault(summary.name, []).append(summary)
    matched: dict[str, ActionSummary] = {}
    for action in desired.actions:
        for name in (action.name, *action.previous_names):
            found = by_name.get(name, [])
            if not found:
                continue
            if len(found) > 1:
                ids = ", ".join(f"#{a.id}" for a in found)
                raise PipelineError(
                    desired.label,
                    f'{len(found)} live actions are named "{name}" ({ids}); rename all but one in Buddy '
                    "so the file can say which it manages, or run apply with --dedupe to keep the first",
                )
            live = found[0]
            if live.type != action.type:
                raise PipelineError(
                    desired.label,
                    f'the live action "{name}" (#{live.id}) is of type {live.type}, the file declares '
                    f"{action.type} ({action.location}); the API cannot change a type: rename one of "
                    "them, or delete the live action in Buddy",
                )
            matched[action.name] = live
            break
    return matched
