"""Live values that validate would refuse: import names them and writes a file that validates.

A server may hold what the file format's stated rules refuse (an action with ``trigger_time:
ON_FAILURE`` and no ``run_only_on_first_failure``, an event with both ``cron`` and ``start_date``).
``drop_refused`` checks one action or one pipeline's settings as written, with the schema and the rules
that ``validate`` runs, and leaves out each field a problem is about: a field left out of a file is not
compared, so the plan stays empty and Buddy keeps the value. Each dropped field is named with its live
value and the rule it breaks; a rule between fields drops each field it names. A problem that names no
field of the item leaves nothing to drop; the caller then leaves the whole action out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from reconciler.located import Document

_FIELD = re.compile(r"^\$\.pipelines\[0\](?:\.actions\[0\])?\.([A-Za-z_][A-Za-z0-9_]*)")
_MENTIONED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
_ROUNDS = 4  # leaving out one field may uncover a rule about another; a few rounds settle it


def _problems(item: Mapping[str, Any], on: Literal["action", "pipeline"]) -> list[tuple[str | None, str]]:
    """(field, message) for each error validate would report about ``item``; ``None`` when the problem
    is about no one field."""
    from reconciler.config import rules, schema  # the schema package compiles its validators on first use

    pipeline: dict[str, Any] = {"name": "imported", "actions": [dict(item)]}
    if on == "pipeline":
        pipeline = {**item, "actions": []}
    doc = Document(file="<import>", data={"workspace": "w", "project": "p", "pipelines": [pipeline]})
    found: list[tuple[str | None, str]] = []
    for problem in schema.check_document(doc) + rules.check_document(doc):
        if problem.severity != "error":
            continue
        match = _FIELD.match(problem.path)
        field = match.group(1) if match else None
        if on == "pipeline" and field == "actions":
            field = None
        found.append((field, problem.message))
    return found


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def drop_refused(
    item: dict[str, Any],
    where: str,
    *,
    on: Literal["action", "pipeline"] = "action",
    keep: frozenset[str] = frozenset(),
) -> tuple[list[str], bool]:
    """Leave out of ``item`` (as written, changed in place) each field that validate would refuse;
    returns a note per field left out, and whether ``item`` now validates. Fields in ``keep`` (a
    pipeline's ``name``, an action's ``name`` and ``type``) are never left out."""
    notes: list[str] = []
    for _ in range(_ROUNDS):
        problems = _problems(item, on)
        if not problems:
            return notes, True
        droppable: dict[str, str] = {}
        for field, message in problems:
            # A rule between fields (`remote_branch` and `remote_ref` exclude each other) is about the
            # item: each field it names goes.
            named = [field] if field is not None else _MENTIONED.findall(message)
            droppable |= {f: message for f in named if f in item and f not in keep}
        if not droppable:
            return notes, False
        for field, message in droppable.items():
            notes.append(
                f"{where}: {field}: {_shown(item.pop(field))} not written: {message}; "
                "Buddy keeps the live value (edit it there)"
            )
    return notes, not _problems(item, on)
