"""Orphan pipelines: the live pipelines of a declared project that no file declares.

A plan tells them (``Plan.orphans``, "not managed here"), as information and not as changes. A file
saying ``prune_pipelines: true`` deletes them: each becomes a ``DeletePipeline``, fingerprinted like any
pipeline a plan touches so that ``apply --plan`` refuses a stale one. Never deleted: one defined in
Buddy YAML, one whose definition the API does not tell, and a hidden one (the list does not show it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.buddy import live
from reconciler.buddy.client import BuddyClient
from reconciler.buddy.matching import PipelineState
from reconciler.model import DesiredPipeline, LivePipeline, PipelineKey
from reconciler.plan.changes import DeletePipeline
from reconciler.plan.plan import Orphan, PipelinePlan, Plan

#: why a pipeline whose source the API leaves unsaid is not deleted
UNKNOWN = "not deleted: the API does not say whether Buddy YAML defines it"

Project = tuple[str, str]


def claimed_ids(declared: Iterable[DesiredPipeline], summaries: Sequence[dict[str, Any]]) -> set[int]:
    """The live pipeline ids that a declaration names, as ``resolve_pipeline`` matches them (by id, else
    by name, else by the first previous name a live pipeline has); a name two live pipelines share
    claims both (the plan reports that error for the declaration). Indexed: linear in the list."""
    ids = {int(s["id"]) for s in summaries}
    by_name: dict[Any, list[int]] = {}
    for summary in summaries:
        by_name.setdefault(summary.get("name"), []).append(int(summary["id"]))
    taken: set[int] = set()
    for desired in declared:
        if desired.id is not None:
            taken.update({desired.id} & ids)
            continue
        for name in (desired.name, *desired.previous_names):
            if name in by_name:
                taken.update(by_name[name])
                break
    return taken


def find(states: Sequence[PipelineState], declared: Sequence[DesiredPipeline]) -> dict[Project, list[LivePipeline]]:
    """Per project read, its live pipelines that none of ``declared`` (every declaration of the files,
    targeted or not) names, in list order."""
    out: dict[Project, list[LivePipeline]] = {}
    for state in states:
        project = (state.desired.workspace, state.desired.project)
        if project in out or state.listing is None:
            continue
        mine = [d for d in declared if (d.workspace, d.project) == project]
        taken = claimed_ids(mine, state.listing)
        out[project] = [
            LivePipeline(id=int(s["id"]), name=str(s.get("name")), summary=s)
            for s in state.listing
            if int(s["id"]) not in taken
        ]
    return out


def add_to_plan(
    client: BuddyClient,
    made: Plan,
    states: Sequence[PipelineState],
    declared: Sequence[DesiredPipeline],
    *,
    prune: bool = True,
    doubtful: Sequence[str] = (),
) -> None:
    """Tell the orphans of every project read in ``made``; where the files say ``prune_pipelines: true``
    (and ``prune``: not in a targeted plan), plan the delete of each one defined through the API.
    None is deleted while a pipeline that may be one of them is unknown: a declaration that failed to
    plan (its project may be one of these, under another spelling), or a file passed over that might
    declare some (``doubtful``); a warning says why."""
    pruning = _pruning(made, declared, prune, doubtful)
    doomed: list[tuple[Project, LivePipeline]] = []
    for project, pipelines in find(states, declared).items():
        spared = _spared(declared, states, project)
        if project not in pruning:
            made.orphans.extend(Orphan(*project, p.id, p.name, _kept(p, spared)) for p in pipelines)
            continue
        doomed.extend((project, p) for p in _told(client, made, project, pipelines, spared))
        listing = next(s.listing for s in states if (s.desired.workspace, s.desired.project) == project)
        made.project_pipelines[f"{project[0]}/{project[1]}"] = len(listing or ())
    keys = [PipelineKey(ws, project, pipeline.id) for (ws, project), pipeline in doomed]
    for (project, pipeline), state in zip(doomed, live.read_keys(client, keys, {}), strict=True):
        change = DeletePipeline(
            workspace=project[0], project=project[1], pipeline=pipeline.name, pipeline_id=pipeline.id
        )
        made.pipelines.append(
            PipelinePlan(str(state.key), fingerprint=state.fingerprint, live_count=state.count, changes=[change])
        )


def _pruning(made: Plan, declared: Sequence[DesiredPipeline], prune: bool, doubtful: Sequence[str]) -> set[Project]:
    """The projects whose orphans this plan deletes; a warning for each one held back (``_held``)."""
    pruning = {(d.workspace, d.project) for d in declared if d.prune_pipelines} if prune else set()
    held = _held(made, doubtful) if pruning else None
    if held is None:
        return pruning
    made.warnings.extend(f"{ws}/{name}: prune_pipelines deletes nothing: {held}" for ws, name in sorted(pruning))
    return set()


def _told(
    client: BuddyClient,
    made: Plan,
    project: Project,
    pipelines: Sequence[LivePipeline],
    spared: dict[str, str],
) -> list[LivePipeline]:
    """Tell the orphans of a project that prunes them; returns those to delete (defined through the
    API: read first when the summary does not say; not ``spared``)."""
    doomed: list[LivePipeline] = []
    for pipeline in pipelines:
        if not pipeline.yaml_known:  # the summary does not say: its GET does
            detail = client.get_pipeline(*project, pipeline.id)
            pipeline = LivePipeline(pipeline.id, pipeline.name, pipeline.summary, detail=detail)
        kept = _kept(pipeline, spared)
        made.orphans.append(Orphan(*project, pipeline.id, pipeline.name, kept))
        if kept is None:
            doomed.append(pipeline)
    return doomed


def _spared(declared: Sequence[DesiredPipeline], states: Sequence[PipelineState], project: Project) -> dict[str, str]:
    """The live names in ``project`` never deleted as undeclared (keyed by ``_loose``), each to why: a
    previous name of a declaration (both live: it may be the original, with its history), and a name
    close to a declared pipeline the plan creates (``state.nearby``, or the same name but for case and
    spaces: most likely a typo in the file)."""
    spared: dict[str, str] = {}
    for state in states:
        desired = state.desired
        if (desired.workspace, desired.project) != project or state.live is not None or not desired.name:
            continue
        why = f'not deleted: close to "{desired.name}", which this plan creates (a typo?)'
        spared[_loose(desired.name)] = why
        if state.nearby is not None:
            spared[_loose(state.nearby)] = why
    for d in declared:
        if (d.workspace, d.project) == project:
            spared.update({_loose(old): f'not deleted: a previous name of "{d.name}"' for old in d.previous_names})
    return spared


def _loose(name: str) -> str:
    """A name as a typo leaves it: case and runs of spaces aside."""
    return " ".join(name.split()).casefold()


def _held(made: Plan, doubtful: Sequence[str]) -> str | None:
    """Why no pipeline may be deleted in this plan, or ``None``."""
    if made.errors:
        count = len(made.errors)
        return f"{count} declared pipeline{'s' if count > 1 else ''} could not be planned (see the errors)"
    if doubtful:
        shown = ", ".join(doubtful[:3]) + (f" and {len(doubtful) - 3} more" if len(doubtful) > 3 else "")
        return f"a file that might declare pipelines was passed over ({shown}): make it readable, or fix it"
    return None


def _kept(pipeline: LivePipeline, spared: dict[str, str]) -> str | None:
    """Why ``pipeline`` is never deleted, or ``None`` (``spared``: see ``_spared``)."""
    if pipeline.yaml_defined:
        return pipeline.yaml_reason
    if not pipeline.yaml_known:
        return UNKNOWN
    return spared.get(_loose(pipeline.name))
