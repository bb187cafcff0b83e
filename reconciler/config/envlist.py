"""The environment variables a configuration references (``reconcile env``), and the short report of
the unset ones that plan and apply give.

Pure: it reads the desired model and a mapping of the environment, never a value out of it (only
whether each variable is set), and needs no network. The CLI prints what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import envrefs, fields
from reconciler.model import DesiredPipeline
from reconciler.problems import Location


@dataclass(frozen=True)
class Use:
    """One reference to a variable: the field (and action) holding it, and where the file says so.
    ``write_only`` fields are only sent (by apply, or plan with ``--update-secrets``), never compared;
    a reference with a ``default`` works with the variable unset."""

    pipeline: str  # workspace/project/pipeline
    action: str | None  # None: a pipeline field
    field: str  # as the README names it: `password`, `secrets[].value`
    location: Location
    write_only: bool
    default: bool

    def to_json(self) -> dict[str, Any]:
        loc = self.location
        return {
            "pipeline": self.pipeline,
            "action": self.action,
            "field": self.field,
            "file": loc.file,
            "line": loc.line,
            "column": loc.col,
            "write_only": self.write_only,
            "has_default": self.default,
        }


@dataclass(frozen=True)
class Variable:
    """One variable, every use of it, and whether it is set now (its value is never read out)."""

    name: str
    uses: tuple[Use, ...]
    is_set: bool

    @property
    def needed_by_plan(self) -> bool:
        """Plan compares a field using it, with no default to fall back on."""
        return any(not u.write_only and not u.default for u in self.uses)

    @property
    def needed_by_apply(self) -> bool:
        """Some use has no default: apply needs it set."""
        return any(not u.default for u in self.uses)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "set": self.is_set,
            "needed_by_plan": self.needed_by_plan,
            "needed_by_apply": self.needed_by_apply,
            "uses": [use.to_json() for use in self.uses],
        }


def variables(pipelines: Iterable[DesiredPipeline], env: Mapping[str, str]) -> list[Variable]:
    """Every variable the pipelines reference, by name, each with its uses in file order. A variable
    set to the empty string counts as unset, as ``envrefs.resolve`` takes it."""
    uses: dict[str, list[Use]] = {}
    for pipeline in pipelines:
        where = f"{pipeline.workspace}/{pipeline.project}/{pipeline.label}"
        for name, value in pipeline.fields.items():
            for ref, label, write_only in _refs(name, value):
                use = Use(where, None, label, pipeline.location, write_only, ref.default is not None)
                uses.setdefault(ref.name, []).append(use)
        for action in pipeline.actions:
            for name, value in action.fields.items():
                location = action.field_locations.get(name, action.location)
                for ref, label, write_only in _refs(name, value):
                    use = Use(where, action.name, label, location, write_only, ref.default is not None)
                    uses.setdefault(ref.name, []).append(use)
    return [Variable(name, tuple(uses[name]), bool(env.get(name))) for name in sorted(uses)]


def _refs(name: str, value: Any) -> Iterator[tuple[envrefs.EnvRef, str, bool]]:
    """(reference, the field's label, whether write-only) for every reference in field ``name``."""
    for parts, secret in fields.write_only_values(name, value):
        for text in envrefs.strings(secret):
            for ref in envrefs.find_refs(text):
                yield ref, fields.label(name, parts), True
    for text in envrefs.strings(fields.strip_write_only(name, value)):
        for ref in envrefs.find_refs(text):
            yield ref, name, False


#: the variables of a value ``resolve`` would refuse (envrefs has it: the ground's)
unset_names = envrefs.unset_names


#: the short "variables are not set" report (envrefs has it: the ground's)
unset_report = envrefs.unset_report
