"""What the schemas say of each field, read once: the one place every module asks about a field path.

A *path* names a field of an action as the README's field reference does: ``password``,
``secrets[].value`` (``[]`` steps into the items of a list, ``.`` into an object). The answers come
from the shipped schemas (``schemas/*.schema.json``):

* write-only: JSON Schema's ``"writeOnly": true`` annotation (the server never returns the value as
  sent: never compared, always masked, refused as plaintext by validate, imported as ``${env:…}``);
* read-only: ``"readOnly": true`` (the server sets it; refused in a file, never compared);
* ours: the keys a config file adds that are not API fields (``after``, ``previous_names``, and the
  pipeline's ``name``/``id``/``prune``/``actions``/``previous_names``);
* how it compares (``compare_rule``) and what the server fills in when it is unset
  (``is_server_default``), which the schemas do not say and this module states once.

``table()`` is read once per process; tests may point it at other schemas with ``FieldTable.from_dir``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from reconciler import envrefs

#: How a masked value is written in every output meant for people.
SENSITIVE = "(sensitive)"
#: One step of a path inside a field: a mapping key, or ``LIST`` for "every item of a list".
LIST = "[]"
#: The keys of a pipeline that are ours: how a file names it and what it holds (everything else on a
#: pipeline is an API field: sent on create, compared and updated on a live pipeline).
PIPELINE_KEYS = frozenset({"name", "id", "prune", "actions", "previous_names", "safety", "defaults"})
#: The pipeline fields a pipeline-list summary carries (CONTRACT.md: "A pipeline summary carries at
#: least …"); a declared field outside this set costs one GET of the pipeline.
PIPELINE_SUMMARY_FIELDS = frozenset({"identifier", "refs", "events", "definition_source", "git_config_ref", "disabled"})
#: Pipeline keys that are ours but never imported: only pipelines defined here are imported, and for
#: them these hold their defaults.
PIPELINE_NOT_IMPORTED = frozenset({"definition_source", "git_config_ref"})
# What a new pipeline gets when a field is unset: the pipeline schema's ``default`` annotations
# (``FieldTable.pipeline_defaults``), generated from schemas/pipeline-model.json, whose
# ``default_source`` says for each whether Buddy states it. Stated by Buddy's clients (SDK/Terraform):
# ``refs``/``tags``/``events``/``trigger_conditions`` ``[]``, ``execution_message_template``
# ``$BUDDY_EXECUTION_REVISION_SUBJECT``, ``git_config_ref`` ``NONE``, ``definition_source`` ``LOCAL``.
# Assumed (not stated; the usual value, the Go zero value): ``priority`` ``NORMAL``, ``cpu`` ``X64``,
# ``clone_depth`` ``0`` and ``false`` for every boolean flag (``disabled`` is also CONTRACT.md's).
# ``pause_on_repeated_failures``, ``git_changeset_base``, ``filesystem_changeset_base`` and the
# strings and objects have none.
#: What Buddy returns on a pipeline that no file sets (PIPELINE-MODEL.md "read-only", the model's
#: ``read_only``; tests/test_fields.py checks the two agree), and the actions it may embed.
PIPELINE_READ_ONLY = frozenset(
    {"url", "html_url", "id", "create_date", "creator", "project", "last_execution_status", "last_execution_revision"}
)
CompareRule = Literal["value", "platforms", "integration"]
#: Fields that compare by a rule of their own rather than value for value (see ``compare_rule``).
COMPARE_RULES: Mapping[str, CompareRule] = {"target_platform": "platforms", "integration": "integration"}
Step = str
Parts = tuple[str | int, ...]


def split_path(path: str) -> tuple[Step, ...]:
    """``secrets[].value`` → ``("secrets", "[]", "value")``."""
    steps: list[Step] = []
    for part in path.split("."):
        name, *lists = part.split(LIST)
        steps.append(name)
        steps.extend(LIST for _ in lists)
    return tuple(steps)


def join_path(steps: tuple[Step, ...]) -> str:
    """``("secrets", "[]", "value")`` → ``secrets[].value``."""
    out = ""
    for step in steps:
        out += step if step == LIST or not out else f".{step}"
    return out


@dataclass(frozen=True)
class FieldTable:
    """The facts about fields that the schemas hold."""

    action_fields: tuple[str, ...]
    write_only: frozenset[str]
    read_only: frozenset[str]
    action_keys: frozenset[str]
    pipeline_fields: tuple[str, ...]
    #: what the server fills in on create when an action field is unset: the schema's ``default``s
    action_defaults: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: what the server fills in on create when a pipeline field is unset: the schema's ``default``s
    pipeline_defaults: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: ``write_only_steps``'s answers, by field name: asked once per field of every action, it must not
    #: hash the table each time (as a cached method would)
    _steps: dict[str, tuple[tuple[Step, ...], ...]] = field(default_factory=dict, hash=False, compare=False, repr=False)

    @classmethod
    def from_schemas(cls, action: Mapping[str, Any], config: Mapping[str, Any]) -> FieldTable:
        """Read the annotations of an action schema and a config schema."""
        defs = action.get("$defs", {})
        write_only: set[str] = set()
        for name, node in action["properties"].items():
            write_only |= {join_path((name, *steps)) for steps in _write_only_steps(node, defs)}
        own = config["$defs"]["action"]["properties"]
        pipeline = config["$defs"]["pipeline"]["properties"]
        return cls(
            action_fields=tuple(action["properties"]),
            write_only=frozenset(write_only),
            read_only=frozenset(k for k, v in action["properties"].items() if v.get("readOnly")),
            action_keys=frozenset(k for k, v in own.items() if not str(v.get("$ref", "")).startswith("action.schema")),
            pipeline_fields=tuple(k for k in pipeline if k not in PIPELINE_KEYS),
            action_defaults={k: v["default"] for k, v in action["properties"].items() if "default" in v},
            pipeline_defaults={
                k: v["default"] for k, v in pipeline.items() if "default" in v and k not in PIPELINE_KEYS
            },
        )

    @classmethod
    def from_dir(cls, directory: Path) -> FieldTable:
        """The table of the two schema files in ``directory`` (for scripts and tests)."""
        action = json.loads((directory / "action.schema.json").read_text(encoding="utf-8"))
        config = json.loads((directory / "config.schema.json").read_text(encoding="utf-8"))
        return cls.from_schemas(action, config)

    @cached_property
    def write_only_fields(self) -> frozenset[str]:
        """The fields that are write-only or hold a write-only part (``password``, ``secrets``)."""
        return frozenset(str(split_path(path)[0]) for path in self.write_only)

    def write_only_steps(self, name: str) -> tuple[tuple[Step, ...], ...]:
        """The write-only paths inside field ``name``, relative to it (``()`` when it is one itself)."""
        known = self._steps.get(name)
        if known is not None:
            return known
        found = []
        for path in self.write_only:
            steps = split_path(path)
            if steps[0] == name:
                found.append(steps[1:])
        self._steps[name] = answer = tuple(sorted(found))
        return answer


def _write_only_steps(node: Mapping[str, Any], defs: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[Step, ...]]:
    if node.get("writeOnly"):
        yield ()
        return
    if depth > 8:
        return  # a recursive definition: nothing write-only hides that deep
    items = node.get("items")
    if isinstance(items, Mapping):
        yield from ((LIST, *rest) for rest in _write_only_steps(items, defs, depth + 1))
    target = _local(node, defs)
    for key, child in (target or node).get("properties", {}).items():
        yield from ((key, *rest) for rest in _write_only_steps(child, defs, depth + 1))


def _local(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    ref = str(node.get("$ref", ""))
    return defs.get(ref.removeprefix("#/$defs/")) if ref.startswith("#/$defs/") else None


@cache
def table() -> FieldTable:
    """The table of the shipped schemas, read once."""
    from reconciler.shipped import load_schema  # read only when first asked

    return FieldTable.from_schemas(load_schema("action"), load_schema("config"))


# -- questions about a name -------------------------------------------------------------------------


def is_write_only(path: str) -> bool:
    """True for a field (``password``) or nested field (``secrets[].value``) the server never returns."""
    return path in table().write_only


def is_read_only(name: str) -> bool:
    """True for an action field the server sets (refused in a file, never compared)."""
    return name in table().read_only


def is_ours(name: str, *, on: Literal["action", "pipeline"] = "action") -> bool:
    """True for a key a config file adds that is not an API field (never sent, never compared)."""
    return name in (table().action_keys if on == "action" else PIPELINE_KEYS)


def is_compared(name: str) -> bool:
    """True for a declared action field the diff compares (not the name or type, not read-only, not
    wholly write-only; write-only parts inside it are stripped by ``strip_write_only``)."""
    return name not in ("name", "type") and not is_read_only(name) and not is_write_only(name)


def compare_rule(name: str) -> CompareRule:
    """How field ``name`` compares: ``platforms`` (a set: order and spaces do not matter),
    ``integration`` (``identifier`` and ``hash_id`` are one), else ``value``, where an empty string,
    an empty list and ``null`` are all "unset"."""
    return COMPARE_RULES.get(name, "value")


def is_server_default(name: str, value: Any, *, on: Literal["action", "pipeline"] = "action") -> bool:
    """True when ``value`` is what the server fills in for ``name`` when it is unset."""
    defaults = table().action_defaults if on == "action" else table().pipeline_defaults
    return name in defaults and value == defaults[name]


def in_pipeline_summary(name: str) -> bool:
    """True for a pipeline field the pipeline list's summaries carry (no GET of the pipeline needed)."""
    return name in PIPELINE_SUMMARY_FIELDS


def server_default(name: str, *, on: Literal["action", "pipeline"] = "action") -> Any:
    """What the server stores for ``name`` when it is unset (or sent as ``null``); ``None`` when nothing."""
    return (table().action_defaults if on == "action" else table().pipeline_defaults).get(name)


def action_fields() -> tuple[str, ...]:
    """The action's API fields, in schema order."""
    return table().action_fields


def pipeline_fields() -> tuple[str, ...]:
    """The pipeline's API fields (``name`` and the other keys of ours left out), in schema order."""
    return table().pipeline_fields


# -- questions about a value ------------------------------------------------------------------------

_DROP = object()


def _walk(
    value: Any,
    paths: tuple[tuple[Step, ...], ...],
    leaf: Callable[[Parts, Any], Any],
    other: Callable[[Any], Any],
    here: Parts = (),
) -> Any:
    """``value`` rebuilt: every write-only part (``paths``) through ``leaf``, every other part through
    ``other``; a ``leaf`` answer of ``_DROP`` removes the key."""
    if () in paths:
        return leaf(here, value)
    if isinstance(value, list) and any(p[0] == LIST for p in paths):
        inner = tuple(p[1:] for p in paths if p[0] == LIST)
        return [_walk(item, inner, leaf, other, (*here, i)) for i, item in enumerate(value)]
    if isinstance(value, Mapping) and paths:
        out: dict[str, Any] = {}
        for key, item in value.items():
            inner = tuple(p[1:] for p in paths if p[0] == key)
            result = _walk(item, inner, leaf, other, (*here, key)) if inner else other(item)
            if result is not _DROP:
                out[key] = result
        return out
    return other(value)


def write_only_values(name: str, value: Any) -> list[tuple[Parts, Any]]:
    """Every write-only value field ``name`` holds, with its path below the field: ``[((), v)]`` for
    a write-only field, ``[((0, "value"), v), …]`` for ``secrets``. A key present with ``null`` counts."""
    steps = table().write_only_steps(name)
    if not steps:
        return []  # most fields hold nothing write-only: no walk
    found: list[tuple[Parts, Any]] = []

    def leaf(parts: Parts, item: Any) -> Any:
        found.append((parts, item))
        return item

    _walk(value, steps, leaf, lambda item: item)
    return found


def has_write_only(name: str, value: Any) -> bool:
    """True when field ``name`` is write-only or holds a write-only key (``secrets[].value``)."""
    return bool(write_only_values(name, value))


def strip_write_only(name: str, value: Any) -> Any:
    """``value`` without its write-only parts (what the diff compares of it)."""
    return _walk(value, table().write_only_steps(name), lambda _parts, _item: _DROP, lambda item: item)


def replace_write_only(name: str, value: Any, leaf: Callable[[Parts, Any], Any], other: Callable[[Any], Any]) -> Any:
    """``value`` with each write-only part replaced by ``leaf(parts, value)`` and every other part by
    ``other(value)`` (import writes ``${env:…}`` references this way)."""
    return _walk(value, table().write_only_steps(name), leaf, other)


def is_sensitive(name: str, value: Any) -> bool:
    """Never shown: field ``name`` is write-only, or ``value`` came from ``${env:…}``."""
    return is_write_only(name) or envrefs.has_refs(value)


def masked(name: str, value: Any) -> Any:
    """``value`` as it may be shown: each write-only part and each part from ``${env:…}`` replaced by
    ``(sensitive)``."""
    return _walk(
        value,
        table().write_only_steps(name),
        lambda _parts, _item: SENSITIVE,
        lambda item: SENSITIVE if envrefs.has_refs(item) else item,
    )


def known_part(name: str, value: Any, *, on: Literal["action", "pipeline"] = "action") -> tuple[Any, list[str]]:
    """``value`` of field ``name`` without the keys its schema does not name inside its objects (a
    server may add some: an ``id`` to each variable, an ``email`` to each user), and the paths of the
    keys left out (``variables[].id``), sorted. Import writes only what a file may hold."""
    from reconciler.shipped import load_schema  # read only when first asked

    schemas = {"action": load_schema("action"), "config": load_schema("config")}
    doc = schemas["action"] if on == "action" else schemas["config"]
    props = doc["properties"] if on == "action" else doc["$defs"]["pipeline"]["properties"]
    dropped: set[str] = set()

    def shape(node: Any, doc: Mapping[str, Any], value: Any, path: tuple[Step, ...]) -> Any:
        if not isinstance(node, Mapping):
            return value
        ref = str(node.get("$ref", ""))
        if "#" in ref:  # "#/$defs/X" here, or "action.schema.json#/$defs/X" in the other schema
            file, pointer = ref.split("#", 1)
            doc = schemas[file.removesuffix(".schema.json")] if file else doc
            node = doc
            for part in pointer.strip("/").split("/"):
                node = node[part]
        known = node.get("properties")
        if isinstance(value, Mapping) and isinstance(known, Mapping):
            dropped.update(join_path((*path, k)) for k in value if k not in known)
            return {k: shape(known[k], doc, v, (*path, k)) for k, v in value.items() if k in known}
        if isinstance(value, list) and isinstance(node.get("items"), Mapping):
            return [shape(node["items"], doc, item, (*path, LIST)) for item in value]
        return value

    return shape(props.get(name), doc, value, (name,)), sorted(dropped)


def label(name: str, parts: Parts) -> str:
    """A value's path as the README names it: ``secrets[].value`` for ``("secrets", 0, "value")``."""
    return join_path((name, *(LIST if isinstance(p, int) else p for p in parts)))
