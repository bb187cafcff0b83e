"""Which write-only fields ``--update-secrets`` sends again, and the variables they come from.

A bare ``--update-secrets`` re-sends every write-only field; ``--update-secrets=NAME[,NAME…]`` only
those whose write-only values reference one of those ``${env:…}`` variables, so rotating one secret
needs only that variable set. A name no write-only field uses is a usage error naming the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler import envrefs, fields
from reconciler.errors import UsageError
from reconciler.model import DesiredAction, DesiredPipeline
from reconciler.plan.options import Options


def secret_variables(name: str, value: Any) -> list[str]:
    """The ``${env:…}`` variables the write-only values of field ``name`` reference, in order, once each."""
    found: list[str] = []
    for _parts, item in fields.write_only_values(name, value):
        if isinstance(item, str):
            found += [ref.name for ref in envrefs.find_refs(item) if ref.name not in found]
    return found


def resent(action: DesiredAction, options: Options) -> dict[str, list[str]]:
    """The fields of ``action`` that ``options`` re-sends, each with the variables its secrets come from."""
    if not options.update_secrets:
        return {}
    out: dict[str, list[str]] = {}
    for name, value in action.fields.items():
        if not fields.has_write_only(name, value):
            continue
        names = secret_variables(name, value)
        if not options.secret_names or options.secret_names & set(names):
            out[name] = names
    return out


def known_variables(pipelines: Iterable[DesiredPipeline]) -> list[str]:
    """Every variable a write-only field of ``pipelines`` references, sorted."""
    return sorted(
        {
            v
            for p in pipelines
            for a in p.actions
            for name, value in a.fields.items()
            for v in secret_variables(name, value)
        }
    )


def check_secret_names(pipelines: Sequence[DesiredPipeline], options: Options) -> None:
    """Every name of ``--update-secrets=NAME,…`` is used by a write-only field of ``pipelines``: else a
    ``UsageError`` naming the unknown ones and the known ones."""
    if not options.secret_names:
        return
    known = known_variables(pipelines)
    unknown = sorted(options.secret_names - set(known))
    if not unknown:
        return
    noun = "variable" if len(unknown) == 1 else "variables"
    uses = f"they use: {', '.join(known)}" if known else "they use no ${env:…} variable in a write-only field"
    raise UsageError(
        f"--update-secrets: no write-only field of the planned pipelines uses the {noun} {', '.join(unknown)}; " + uses
    )


def parse_names(values: Sequence[str] | None) -> frozenset[str]:
    """The variable names of every ``--update-secrets=NAME[,NAME…]`` given; a usage error for an empty one."""
    names: set[str] = set()
    for value in values or ():
        parts = [part.strip() for part in value.split(",")]
        if not all(parts):
            raise UsageError(
                f"--update-secrets={value}: give variable names separated by commas "
                "(--update-secrets=DOCKERHUB_TOKEN), or --update-secrets alone for every write-only field"
            )
        names.update(parts)
    return frozenset(names)


def resend_entry(name: str, raw: Any, variables: list[str]) -> Mapping[str, Any]:
    """The diff entry of a field sent again: both sides masked, and the variables it comes from by name."""
    entry: dict[str, Any] = {"from": fields.SENSITIVE, "to": fields.masked(name, raw), "resend": True}
    if variables:
        entry["variables"] = list(variables)
    return entry
