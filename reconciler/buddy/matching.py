"""Which live pipeline (and action) each declared one is: pure logic over the lists ``live.py`` read.

``resolve_pipeline`` finds one declaration's live summary; ``match_pipelines`` does it for every
declaration of a plan, with the errors (a live pipeline claimed twice), the did-you-mean of a
pipeline to be created and the warning of a rename onto a name another pipeline keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler import suggest
from reconciler.errors import PipelineError
from reconciler.model import ActionSummary, DesiredPipeline, LivePipeline


@dataclass
class PipelineState:
    """What is live for one declared pipeline."""

    desired: DesiredPipeline
    live: LivePipeline | None = None  # None: it does not exist
    details: dict[int, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None
    #: a live pipeline of the project whose name is close to a declared one that is absent (a typo?)
    nearby: str | None = None
    #: plan warnings of what was found, e.g. a rename onto the name of another live pipeline
    warnings: list[str] = field(default_factory=list)
    #: the new name of a rename when no other live pipeline of the project has it: a saved plan is stale
    #: once one has (the plan records it as a name that must stay absent)
    free_name: str | None = None
    #: every live pipeline summary of its project, when the list could be read (for the pipelines no
    #: file declares)
    listing: Sequence[dict[str, Any]] | None = None


def resolve_pipeline(desired: DesiredPipeline, summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The live summary a declared pipeline names, ``None`` when absent; ``PipelineError`` when the
    reference is ambiguous or wrong (an unknown ``id``, two live pipelines with one name).

    By ``id``, whatever the live name (a different one is renamed). By name, else by the first of its
    ``previous_names`` a live pipeline has (it is renamed), as actions are matched."""
    if desired.id is not None:
        found = [s for s in summaries if s.get("id") == desired.id]
        if not found:
            raise PipelineError(desired.label, f"no live pipeline has id {desired.id} ({desired.location})")
        return found[0]
    for name in (desired.name, *desired.previous_names):
        found = [s for s in summaries if s.get("name") == name]
        if len(found) > 1:
            ids = ", ".join(f"#{s.get('id')}" for s in found)
            raise PipelineError(
                desired.label,
                f'{len(found)} live pipelines are named "{name}" ({ids}); give `id:` in the file',
            )
        if found:
            return found[0]
    return None


def match_pipelines(
    states: Sequence[PipelineState], listed: Mapping[tuple[str, str], list[dict[str, Any]] | str]
) -> None:
    """Find each declared pipeline's live summary (``state.live``), or say why not (``state.error``),
    or that it is left alone (``state.skipped``). One live pipeline claimed by two declarations is an
    error for the second."""
    claimed: dict[tuple[str, str, int], DesiredPipeline] = {}
    new: list[PipelineState] = []
    for state in states:
        desired = state.desired
        summaries = listed[(desired.workspace, desired.project)]
        if isinstance(summaries, str):
            state.error = summaries
            continue
        try:
            summary = resolve_pipeline(desired, summaries)
        except PipelineError as exc:
            state.error = exc.reason
            continue
        if summary is None:
            new.append(state)
            continue
        other = claimed.setdefault((desired.workspace, desired.project, int(summary["id"])), desired)
        if other is not desired:
            state.error = (
                f'the live pipeline "{summary.get("name")}" (#{summary["id"]}) is already managed by '
                f'"{other.label}" ({other.location}): rename one of the two declarations'
            )
            _also_claimed(states, other, state)  # a pipeline claimed twice gets no change at all
            continue
        state.live = LivePipeline(id=int(summary["id"]), name=str(summary.get("name")), summary=summary)
        if state.live.yaml_defined:
            state.skipped = state.live.yaml_reason
    _suggest_pipelines(new, listed, claimed)
    _warn_shared_names(states, listed, claimed)


def _also_claimed(states: Sequence[PipelineState], first: DesiredPipeline, second: PipelineState) -> None:
    """The first claimant of a live pipeline that ``second`` claims too: an error too, so that neither
    plans a change (which of the two the files mean is not ours to guess)."""
    for state in states:
        if state.desired is first and state.error is None and state.live is not None:
            state.error = (
                f'the live pipeline "{state.live.name}" (#{state.live.id}) is also claimed by '
                f'"{second.desired.label}" ({second.desired.location}): rename one of the two declarations'
            )
            state.live, state.skipped = None, None


def _suggest_pipelines(
    new: Sequence[PipelineState],
    listed: Mapping[tuple[str, str], list[dict[str, Any]] | str],
    claimed: Mapping[tuple[str, str, int], DesiredPipeline],
) -> None:
    """For each declared pipeline that will be created, the closest live name (``state.nearby``)
    among the live pipelines no other declaration manages: a slip, not a second declaration."""
    for state in new:
        desired = state.desired
        summaries = listed[(desired.workspace, desired.project)]
        if desired.name is None or isinstance(summaries, str):
            continue
        free = [s for s in summaries if (desired.workspace, desired.project, int(s["id"])) not in claimed]
        state.nearby = suggest.near(desired.name, [str(s.get("name")) for s in free])


def _warn_shared_names(
    states: Sequence[PipelineState],
    listed: Mapping[tuple[str, str], list[dict[str, Any]] | str],
    claimed: Mapping[tuple[str, str, int], DesiredPipeline],
) -> None:
    """Warn of a rename (by ``id``; by ``previous_names`` only when no live pipeline has the name)
    onto the name of another live pipeline of the project that keeps it: two pipelines would then
    share one name. Another pipeline that a declaration renames away frees the name."""
    for state in states:
        desired, live = state.desired, state.live
        if live is None or state.error or state.skipped or desired.name in (None, live.name):
            continue
        summaries = listed[(desired.workspace, desired.project)]
        assert not isinstance(summaries, str)  # the pipeline was found in them
        if not any(other.get("name") == desired.name for other in summaries):
            state.free_name = desired.name
        for other in summaries:
            if other.get("name") != desired.name or other.get("id") == live.id:
                continue
            owner = claimed.get((desired.workspace, desired.project, int(other["id"])))
            if owner is not None and owner.name not in (None, desired.name):
                continue  # renamed away in the same plan
            state.warnings.append(
                f'{desired.location}: renaming pipeline #{live.id} to "{desired.name}", the name of live '
                f"pipeline #{other['id']}: two pipelines will share it, and name matching will need ids"
            )


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
