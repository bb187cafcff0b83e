"""``after:``: the action a create goes after, named as the files name it once applied.

An anchor is a declared action (its live twin is known: by name, or by a previous name when the same
apply renames it), else a live action by its current name, else an action this plan creates before.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from reconciler import suggest
from reconciler.errors import PipelineError
from reconciler.model import ActionSummary, DesiredAction, DesiredPipeline


@dataclass(frozen=True)
class Anchor:
    """Where a create goes: after live action ``id`` (``None``: one created just before), shown as
    ``name``; ``renamed_from`` is the live name when the same apply renames the anchor to ``name``."""

    id: int | None
    name: str
    renamed_from: str | None = None


def named(
    desired: DesiredPipeline,
    action: DesiredAction,
    live: Sequence[ActionSummary],
    matched: Mapping[str, ActionSummary],
    created: Collection[str],
    deleted_ids: Collection[int],
) -> Anchor:
    """The anchor ``action.after`` names (it is not ``None``); ``PipelineError`` when it names none, or
    an action this plan deletes."""
    after = action.after
    assert after is not None
    twin = matched.get(after)
    if twin is not None:  # a declared action: by its name once applied
        return Anchor(twin.id, after, twin.name if twin.name != after else None)
    anchor = next((a for a in live if a.name == after), None)
    if anchor is not None and anchor.id in deleted_ids:
        raise PipelineError(desired.label, f'"{action.name}" is to go after "{after}", which this plan deletes')
    if anchor is not None:
        return Anchor(anchor.id, anchor.name)
    if after in created:
        return Anchor(None, after)
    renamed_away = {twin.name for name, twin in matched.items() if twin.name != name}
    known = dict.fromkeys([*matched, *(a.name for a in live if a.name not in renamed_away)])
    raise PipelineError(
        desired.label,
        f'"{action.name}" is to go after "{after}" ({action.location}), but no live action has that name '
        "and none is created before it" + suggest.hint(suggest.closest(after, known)),
    )
