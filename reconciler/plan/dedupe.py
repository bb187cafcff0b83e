"""``--dedupe``: live multi-arch actions that share a declared name, told apart.

Two applies run at once can both create an action, leaving two live actions with one name; the
plan then cannot say which one the file manages, and stops that pipeline with an error. With
``--dedupe`` the first in pipeline order is the one the file manages (updated if it differs), and
the later ones are deleted (plan changes with the reason ``duplicate``). Only groups made of
multi-arch actions alone are split: an action of another type with the same name stays an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.model import MULTI_ARCH, ActionSummary, DesiredPipeline

#: the start of a delete change's ``reason`` when it removes a duplicate
REASON = "duplicate"


@dataclass(frozen=True)
class Duplicate:
    """A later live action with the name of an earlier one that is kept."""

    action: ActionSummary
    kept: ActionSummary

    @property
    def reason(self) -> str:
        """Why the plan deletes this duplicate, as its delete change says."""
        return f'{REASON}: "{self.kept.name}" #{self.kept.id} comes first and is kept'


def split(desired: DesiredPipeline, live: Sequence[ActionSummary]) -> tuple[tuple[ActionSummary, ...], list[Duplicate]]:
    """The live actions without the later duplicates of a declared name (or previous name), and
    those duplicates, in pipeline order."""
    declared = {name for action in desired.actions for name in (action.name, *action.previous_names)}
    groups: dict[str, list[ActionSummary]] = {}
    for action in live:
        if action.name in declared:
            groups.setdefault(action.name, []).append(action)
    duplicates: list[Duplicate] = []
    for group in groups.values():
        if len(group) > 1 and all(a.type == MULTI_ARCH for a in group):
            duplicates.extend(Duplicate(a, group[0]) for a in group[1:])
    gone = {d.action.id for d in duplicates}
    duplicates.sort(key=lambda d: [a.id for a in live].index(d.action.id))
    return tuple(a for a in live if a.id not in gone), duplicates
