"""Normalisation: a file's value and the server's value put in one canonical form (which live action a
declared one is lives with the read, in ``buddy/matching``).

The diff compares what this module produces; import writes what it produces. How a field compares is
the field table's answer (``fields.compare_rule``); what each rule means lives here, as one
``FieldRule`` per field (``rule(name)``): how to canonicalise a value, which part of it is compared
(and needs its ``${env:…}`` variables), whether two values differ, what is sent, and how a
difference is described path by path. The diff, apply's check of the server's answer and import ask it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from reconciler import fields
from reconciler.plan import elements, merge

On = Literal["action", "pipeline"]
#: what ``FieldRule.compared`` says of a field none of which is compared
NOTHING: Any = object()


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
    return empty_to_none(unify(name, value))


def stored(name: str, value: Any) -> Any:
    """Pipeline field ``name`` as the server stores ``value``: ``null`` becomes the server's default
    (``disabled: null`` is stored as ``false``), so that a declared ``null`` compares as what it leaves."""
    return fields.server_default(name, on="pipeline") if value is None else value


def empty_to_none(value: Any) -> Any:
    """``value`` with every empty part (see ``is_empty``) made ``None``, recursively (to compare;
    ``without_empty`` drops them instead, to write)."""
    if isinstance(value, Mapping):
        cleaned = {k: empty_to_none(v) for k, v in value.items()}
        return cleaned or None
    if isinstance(value, list):
        return None if not value else [empty_to_none(v) for v in value]
    return None if is_empty(value) else value


#: Keys an item of a list requires (``variables[].key``, ``remote_parameters[].key``): written even as "".
REQUIRED_ITEM_KEYS = frozenset({"key"})


def without_empty(value: Any) -> Any:
    """``value`` with every null, empty string, empty list and empty mapping removed from mappings,
    recursively. Items of a list are cleaned but kept, since lists are compared item by item. A
    variable's or parameter's ``key`` is kept even when empty: the schema requires it."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            cleaned = without_empty(item)
            if not is_empty(cleaned) or (key in REQUIRED_ITEM_KEYS and cleaned == ""):
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [without_empty(item) for item in value]
    return value


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


@dataclass(frozen=True)
class FieldRule:
    """How field ``name`` of an action or a pipeline (``on``) is compared, sent and described.

    A pipeline field is taken as the server stores it (a ``null`` is its default) and sent merged
    with the live keys a partial item leaves out (``merge``); an action field is compared without its
    write-only parts, and not at all when it is wholly write-only, read-only, its name or its type."""

    name: str
    on: On = "action"

    def canonical(self, value: Any) -> Any:
        """One form for a file's value and the server's value."""
        return canonical(self.name, value)

    def compared(self, value: Any) -> Any:
        """The part of a declared value that is compared (and whose ``${env:…}`` variables a plan
        needs; apply alone needs those of write-only parts): ``NOTHING`` when none is."""
        if self.name == "name" and self.on == "pipeline":
            return NOTHING  # a rename, not a comparison (names hold no reference: rules refuse one)
        if self.on == "pipeline":
            return value
        return fields.strip_write_only(self.name, value) if fields.is_compared(self.name) else NOTHING

    def stored(self, value: Any) -> Any:
        """``value`` as the server stores it (for a pipeline field, a ``null`` is its default)."""
        return stored(self.name, value) if self.on == "pipeline" else value

    def as_declared(self, desired: Any, live: Any) -> Any:
        """The live value as far as the declared one declares it (the server's extras dropped)."""
        return live_as_declared(self.name, self.stored(desired), live)

    def differs(self, desired: Any, live: Any) -> bool:
        """True when the live value differs from the declared (compared, resolved) one in what it declares."""
        desired, live = self.stored(desired), self.stored(live)
        return canonical(self.name, desired) != canonical(self.name, live_as_declared(self.name, desired, live))

    def sent(self, raw: Any, live: Any) -> Any:
        """What a change sends for the declared ``raw`` value, given the live one."""
        return merge.merged(self.name, raw, live) if self.on == "pipeline" else raw

    def written(self, live: Any) -> Any:
        """What import writes for the live value: the part a file may hold, in the file's spelling (an
        integration as ``{identifier: …}``), empty parts dropped; ``NOTHING`` when that is empty or the
        server's default."""
        value = live
        if self.on == "action" and fields.compare_rule(self.name) == "integration":
            value = unify(self.name, value)
            if isinstance(value, Mapping):
                identifier = value.get("identifier")
                value = {"identifier": identifier} if identifier is not None else None
        value = without_empty(fields.known_part(self.name, value, on=self.on)[0])
        if is_empty(value) or fields.is_server_default(self.name, value, on=self.on):
            return NOTHING
        return value

    def describe(self, desired: Any, live: Any) -> list[dict[str, Any]]:
        """Per-path entries for what differs inside a structured value (``elements`` walks the two
        canonical forms, so that only real differences are listed)."""
        desired, live = self.stored(desired), self.stored(live)
        left = canonical(self.name, live_as_declared(self.name, desired, live))
        right = canonical(self.name, desired)
        if not elements.is_container(left) or not elements.is_container(right):
            return []
        return [change.to_json() for change in elements.changes(self.name, left, right)]


@cache
def rule(name: str, on: On = "action") -> FieldRule:
    """The rule of field ``name``."""
    return FieldRule(name, on)
