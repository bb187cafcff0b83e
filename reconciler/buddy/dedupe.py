"""``--dedupe``: live multi-arch actions that share a declared name, told apart.

Two applies run at once can both create an action, leaving two live actions with one name; the
plan then cannot say which one the file manages, and stops that pipeline with an error. With
``--dedupe`` the first in pipeline order is the one the file manages (updated if it differs), and
the later ones are deleted (plan changes with the reason ``duplicate``). Only groups made of
multi-arch actions alone are split: an action of another type with the same name stays an error, and
so does a name two declarations claim (one's name, another's previous name). Only distinct live ids are
duplicates: a list that names one id twice moved while it was read, and nothing is deleted on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import PipelineError
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
    those duplicates, in pipeline order.

    Only distinct ids are duplicates: one id listed twice is a list that moved while it was read, not
    two actions (``PipelineError``: nothing is deleted on such a read). Only a name that one declared
    action alone claims (as its name or a previous name) is split: two claimants leave it an error. The
    copy kept is never among those deleted."""
    ids = [a.id for a in live]
    repeated = [ident for ident, times in Counter(ids).items() if times > 1]
    if repeated:
        raise PipelineError(
            desired.label,
            f"the live action list names #{repeated[0]} twice: it changed while it was being read (someone "
            "edited the pipeline); nothing is deduplicated on such a read: run again",
        )
    claims = Counter(name for action in desired.actions for name in {action.name, *action.previous_names})
    groups: dict[str, list[ActionSummary]] = {}
    for action in live:
        if claims.get(action.name) == 1:
            groups.setdefault(action.name, []).append(action)
    duplicates: list[Duplicate] = []
    for group in groups.values():
        if len(group) > 1 and all(a.type == MULTI_ARCH for a in group):
            duplicates.extend(Duplicate(a, group[0]) for a in group[1:])
    gone = {d.action.id for d in duplicates}
    order = {ident: index for index, ident in enumerate(ids)}
    duplicates.sort(key=lambda d: order[d.action.id])
    return tuple(a for a in live if a.id not in gone), duplicates
