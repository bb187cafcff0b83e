"""The only reader of live state: every call of the client's read endpoints (``list_pipelines``,
``get_pipeline``, ``list_actions``, ``get_action``) is made here.

* ``read_live``: what a plan needs of the declared pipelines, with the fewest requests the contract
  allows. Per project: the pipeline-list pages. Per declared live pipeline: its action-list pages, and
  one GET of the pipeline only when it declares a field the list's summaries lack.
  Per declared action that exists live: one GET. Undeclared live actions are known from their
  summaries alone. Action lists and action GETs run concurrently on the client's bounded pool, as a
  pipeline: a pipeline's GETs start as soon as its list arrives.
* ``read_keys``: what apply re-reads of a saved plan's pipelines, to tell whether it is stale.
* ``find_pipeline`` / ``find_action``: the look after a create whose outcome is unknown.
* ``read_touched``: what apply reads again after its changes, to find duplicates.
* ``read_project``: every pipeline of a project, for import.
* ``live_fingerprint``: what a plan depends on of a live pipeline (plan records it, apply compares).
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from reconciler import fields, suggest
from reconciler.buddy import settings
from reconciler.buddy.client import BuddyClient
from reconciler.buddy.pages import Listing
from reconciler.errors import (
    NotFoundError,
    PipelineError,
    PipelineNotFoundError,
    ProjectNotFoundError,
    ShiftedReadError,
)
from reconciler.model import (
    MULTI_ARCH,
    ActionSummary,
    DesiredPipeline,
    ImportedAction,
    ImportedPipeline,
    LivePipeline,
    PipelineKey,
)
from reconciler.plan.dedupe import split
from reconciler.plan.normal import match_actions

# -- fingerprints: what a plan depends on of the live state, to tell on apply whether it changed ------

#: What makes a pipeline defined in Buddy YAML, so not ours to write: always in its fingerprint.
YAML_FIELDS = ("git_config_ref", "definition_source")
#: The fingerprint of a pipeline the plan creates: it must still be absent on apply.
ABSENT = "absent"
#: What a re-read finds where the plan expected ``ABSENT``: a pipeline of that name now exists.
PRESENT = "present"


def fingerprint(
    actions: Iterable[tuple[int, str, str]],
    declared: Mapping[int, Mapping[str, Any]],
    pipeline: Mapping[str, Any] | None = None,
) -> str:
    """sha256 over what a plan depends on: the ordered (id, name, type) of every live action, per
    declared live action the live values of its declared fields (write-only ones excluded), and the
    live values of the declared pipeline fields (``pipeline``)."""
    payload: dict[str, Any] = {
        "actions": [list(a) for a in actions],
        "declared": {str(k): dict(sorted(v.items())) for k, v in sorted(declared.items())},
    }
    if pipeline:
        payload["pipeline"] = dict(sorted(pipeline.items()))
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def live_fingerprint(
    live: LivePipeline,
    details: Mapping[int, Mapping[str, Any]],
    declared: Mapping[int, Sequence[str]],
    pipeline_fields: Sequence[str] = (),
) -> str:
    """SPEC.md's fingerprint of a live pipeline, given which fields of which actions, and which of the
    pipeline's own fields, are declared. The live name is always covered (the file matches by it), and so
    are the fields that make a pipeline YAML-defined (a saved plan for one that became so is stale)."""
    values = {
        action_id: {k: details.get(action_id, {}).get(k) for k in names if not fields.is_write_only(k)}
        for action_id, names in declared.items()
    }
    own = {"name": live.name} | {name: live.value(name) for name in (*YAML_FIELDS, *pipeline_fields)}
    return fingerprint([(a.id, a.name, a.type) for a in live.actions], values, own)


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


def summary_of(action: dict[str, Any]) -> ActionSummary:
    return ActionSummary(id=int(action["id"]), name=str(action.get("name")), type=str(action.get("type")))


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


def needs_detail(names: Iterable[str], summary: Mapping[str, Any]) -> bool:
    """True when a declared pipeline field (of ``names``) is not in the list's summary: the pipeline
    must be read."""
    return any(not fields.in_pipeline_summary(name) or name not in summary for name in names)


def _every_project_missing(projects: list[tuple[str, str]], target: str) -> str:
    """One line for a plan whose every project answered 404: most likely the wrong Buddy."""
    names = ", ".join(f"{ws}/{project}" for ws, project in projects)
    which = "the project" if len(projects) == 1 else f"all {len(projects)} projects"
    return (
        f"{which} the files name answered 404 not found ({names}): if the names are right, the base URL may "
        f"be wrong: it is {settings.display_url(target)} (set BUDDY_BASE_URL, or give --base-url or --region)"
    )


def read_live(
    client: BuddyClient, pipelines: Iterable[DesiredPipeline], *, dedupe: bool = False
) -> list[PipelineState]:
    """Read what the declared pipelines need; per-pipeline problems land in ``PipelineState.error``.
    With ``dedupe``, later live duplicates of a declared name are not matched (see ``dedupe``)."""
    states = [PipelineState(p) for p in pipelines]
    listed = _list_projects(client, sorted({(s.desired.workspace, s.desired.project) for s in states}))
    _confirm_absent(client, states, listed)

    # Completions arrive on a queue (O(1) each) rather than through ``wait`` over every pending
    # future, which costs O(pending) per call and starves the request threads of the GIL.
    done: queue.SimpleQueue[tuple[str, PipelineState, int | None, Future[Any]]] = queue.SimpleQueue()
    outstanding = 0

    def submit(kind: str, state: PipelineState, action_id: int | None, fn: Any, *args: Any) -> None:
        nonlocal outstanding
        future = client.submit(fn, *args)
        outstanding += 1
        future.add_done_callback(lambda f: done.put((kind, state, action_id, f)))

    _match_pipelines(states, listed)
    for state in states:
        if state.live is None or state.error or state.skipped:
            continue
        ws, project = state.desired.workspace, state.desired.project
        submit("list", state, None, partial(client.list_actions, confirm=True), ws, project, state.live.id)
        if needs_detail(state.desired.fields, state.live.summary):
            submit("pipeline", state, None, client.get_pipeline, ws, project, state.live.id)

    first_error: BaseException | None = None
    while outstanding:
        kind, state, action_id, future = done.get()
        outstanding -= 1
        try:
            result = future.result()
        except ShiftedReadError as exc:  # this pipeline is not planned; the others go on
            state.error = exc.message
            continue
        except BaseException as exc:
            first_error = first_error or exc
            continue
        if first_error is not None or state.live is None or state.error:
            continue
        if kind == "get":
            state.details[action_id] = result  # type: ignore[index]
            continue
        if kind == "pipeline":
            state.live = replace(state.live, detail=result)
            continue
        actions = tuple(summary_of(a) for a in result)
        state.live = replace(state.live, actions=actions)
        try:
            matched = match_actions(state.desired, split(state.desired, actions)[0] if dedupe else actions)
        except PipelineError as exc:
            state.error = exc.reason
            continue
        for live_action in matched.values():
            submit(
                "get",
                state,
                live_action.id,
                client.get_action,
                state.desired.workspace,
                state.desired.project,
                state.live.id,
                live_action.id,
            )
    if first_error is not None:
        raise first_error
    return states


def _list_projects(
    client: BuddyClient, projects: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]] | str]:
    """Each project's pipeline summaries, or why they could not be read; every project missing is an
    error of its own (the base URL may be wrong)."""
    listed: dict[tuple[str, str], list[dict[str, Any]] | str] = {}

    def list_project(key: tuple[str, str]) -> list[dict[str, Any]] | str:
        try:
            return client.list_pipelines(*key)
        except NotFoundError as exc:
            missing.add(key)
            return f"workspace {key[0]!r} or project {key[1]!r} not found ({exc.detail})"
        except ShiftedReadError as exc:
            return exc.message

    missing: set[tuple[str, str]] = set()
    for key, result in zip(projects, client.map(list_project, projects), strict=True):
        listed[key] = result
    if listed and missing == set(listed):
        raise ProjectNotFoundError(_every_project_missing(list(listed), client.target))
    return listed


def _confirm_absent(
    client: BuddyClient, states: Sequence[PipelineState], listed: dict[tuple[str, str], list[dict[str, Any]] | str]
) -> None:
    """A declared pipeline missing from a list of several pages may have been skipped by a removal in
    front of it mid-read. Such a project's list is read again and kept only when two reads agree (else
    the project's pipelines are not planned): no pipeline that exists is planned as a create."""
    doubtful: set[tuple[str, str]] = set()
    for state in states:
        key = (state.desired.workspace, state.desired.project)
        summaries = listed[key]
        if key in doubtful or not isinstance(summaries, Listing) or summaries.pages <= 1:
            continue
        try:
            if resolve_pipeline(state.desired, summaries) is None:
                doubtful.add(key)
        except PipelineError:
            continue

    def again(key: tuple[str, str]) -> list[dict[str, Any]] | str:
        try:
            return client.list_pipelines(*key, baseline=listed[key])  # type: ignore[arg-type]
        except ShiftedReadError as exc:
            return exc.message

    keys = sorted(doubtful)
    listed.update(zip(keys, client.map(again, keys), strict=True))


def _match_pipelines(
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


# -- apply: re-reading a saved plan's pipelines -------------------------------------------------------


@dataclass(frozen=True)
class KeyState:
    """What a re-read found for one pipeline key: its fingerprint now (``ABSENT``/``PRESENT`` for a
    pipeline the plan creates; ``None`` when a live pipeline no longer exists) and its action count."""

    key: PipelineKey
    fingerprint: str | None
    count: int = 0


def read_keys(
    client: BuddyClient,
    keys: Sequence[PipelineKey],
    declared: Mapping[PipelineKey, Mapping[int, Sequence[str]]],
    pipeline_fields: Mapping[PipelineKey, Sequence[str]] | None = None,
) -> list[KeyState]:
    """Re-read each pipeline of ``keys`` (its project's pipeline list for its live name, its action
    list, one GET per declared action still there, and its own declared fields as the plan read them)
    and fingerprint it with the declared fields of ``declared`` and ``pipeline_fields``, as the plan
    did."""
    own = pipeline_fields or {}
    projects = sorted({k.project_key for k in keys})
    creates = {k.project_key for k in keys if k.id is None}  # "still absent" must not rest on a shifted read

    def listing(key: tuple[str, str]) -> list[dict[str, Any]]:
        return client.list_pipelines(*key, confirm=key in creates)

    listed = dict(zip(projects, client.map(listing, projects), strict=True))

    def read(key: PipelineKey) -> KeyState:
        if key.id is None:
            exists = any(p.get("name") == key.name for p in listed[key.project_key])
            return KeyState(key, PRESENT if exists else ABSENT)
        names = own.get(key, ())
        detail: dict[str, Any] | None = None
        found = [p for p in listed[key.project_key] if p.get("id") == key.id]
        if not found:
            return KeyState(key, None)
        summary: dict[str, Any] = found[0]
        try:
            actions = tuple(summary_of(a) for a in client.list_actions(key.workspace, key.project, key.id))
            if needs_detail(names, summary):
                detail = client.get_pipeline(key.workspace, key.project, key.id)
        except NotFoundError:
            return KeyState(key, None)
        wanted = declared.get(key, {})
        live_ids = {a.id for a in actions}
        details = {i: client.get_action(key.workspace, key.project, key.id, i) for i in wanted if i in live_ids}
        live = LivePipeline(key.id, summary.get("name") or "", summary, actions, detail)
        return KeyState(key, live_fingerprint(live, details, wanted, names), len(actions))

    return list(client.map(read, keys))


# -- apply: the look after an uncertain create ----------------------------------------------------------


def find_pipeline(client: BuddyClient, workspace: str, project: str, name: str) -> dict[str, Any] | None:
    """The live pipeline named ``name``, if there is one."""
    return next((p for p in client.list_pipelines(workspace, project, confirm=True) if p.get("name") == name), None)


def find_action(
    client: BuddyClient, workspace: str, project: str, pipeline_id: int, name: str
) -> dict[str, Any] | None:
    """The full live multi-arch action named ``name`` in a pipeline, if there is one."""
    for action in client.list_actions(workspace, project, pipeline_id, confirm=True):
        if action.get("name") == name and action.get("type") == MULTI_ARCH:
            return client.get_action(workspace, project, pipeline_id, int(action["id"]))
    return None


@dataclass
class Touched:
    """What ``read_touched`` found: the pipeline summaries per project, the action summaries per
    pipeline (``None`` when the pipeline no longer exists)."""

    pipelines: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    actions: dict[tuple[str, str, int], tuple[ActionSummary, ...] | None] = field(default_factory=dict)


class ReadsStopped(Exception):
    """``read_touched`` was asked to stop (an interrupt): not every list was read."""


def read_touched(
    client: BuddyClient,
    pipelines: Sequence[tuple[str, str, int]],
    projects: Sequence[tuple[str, str]],
    stop: threading.Event | None = None,
) -> Touched:
    """The action lists of ``pipelines`` (workspace, project, id) and the pipeline lists of ``projects``.
    Once ``stop`` is set no further read is started (those running finish): ``ReadsStopped``."""

    def check() -> None:
        if stop is not None and stop.is_set():
            raise ReadsStopped

    def summaries(key: tuple[str, str]) -> list[dict[str, Any]]:
        check()
        return client.list_pipelines(*key, confirm=True)

    def actions(key: tuple[str, str, int]) -> tuple[ActionSummary, ...] | None:
        check()
        try:
            return tuple(summary_of(a) for a in client.list_actions(*key, confirm=True))
        except NotFoundError:
            return None

    found = Touched()
    found.pipelines = dict(zip(projects, client.map(summaries, projects), strict=True))
    found.actions = dict(zip(pipelines, client.map(actions, pipelines), strict=True))
    return found


# -- import ---------------------------------------------------------------------------------------------


def read_project(
    client: BuddyClient, workspace: str, project: str, names: Sequence[str] = ()
) -> tuple[list[ImportedPipeline], list[str]]:
    """The live pipelines of a project to import (only ``names`` when given), and notes on those
    left out (defined in Buddy YAML). Raises ``ProjectNotFoundError`` for an unknown workspace or
    project and ``PipelineNotFoundError`` for an unknown pipeline name."""
    try:
        summaries: list[dict[str, Any]] = client.list_pipelines(workspace, project, confirm=True)
    except NotFoundError as exc:
        raise ProjectNotFoundError(
            f"workspace {workspace!r} or project {project!r} not found ({exc.detail}); --workspace is the "
            "workspace's URL handle and --project the project's name ID"
        ) from None
    live_names = [str(s.get("name")) for s in summaries]
    if names:
        missing = [n for n in dict.fromkeys(names) if n not in live_names]
        if missing:
            raise PipelineNotFoundError(workspace, project, missing, live_names)
        wanted = set(names)
        summaries = [s for s in summaries if s.get("name") in wanted]
    notes: list[str] = []
    chosen: list[dict[str, Any]] = []
    for summary in summaries:
        live = LivePipeline(id=int(summary["id"]), name=str(summary.get("name")), summary=summary)
        if live.yaml_defined:
            notes.append(
                f'{workspace}/{project} pipeline "{live.name}" (#{live.id}) skipped: {live.yaml_reason}; '
                "edit it through its YAML"
            )
            continue
        chosen.append(summary)

    # One phase per kind of request, each spread over the client's pool: a task that waited on
    # tasks of the same pool could starve it.
    jobs = [(kind, int(s["id"])) for s in chosen for kind in ("pipeline", "actions")]

    def fetch(job: tuple[str, int]) -> Any:
        kind, pipeline_id = job
        if kind == "pipeline":
            return client.get_pipeline(workspace, project, pipeline_id)
        return client.list_actions(workspace, project, pipeline_id, confirm=True)

    answers = dict(zip(jobs, client.map(fetch, jobs), strict=True))
    multi = [
        (int(s["id"]), int(a["id"]))
        for s in chosen
        for a in answers[("actions", int(s["id"]))]
        if a.get("type") == MULTI_ARCH
    ]
    details = dict(zip(multi, client.map(lambda key: client.get_action(workspace, project, *key), multi), strict=True))
    pipelines: list[ImportedPipeline] = []
    for summary in chosen:
        pipeline_id = int(summary["id"])
        full = answers[("pipeline", pipeline_id)] or summary
        actions = tuple(
            ImportedAction(
                id=int(a["id"]),
                name=str(a.get("name")),
                type=str(a.get("type")),
                detail=details.get((pipeline_id, int(a["id"]))),
            )
            for a in answers[("actions", pipeline_id)]
        )
        name = str(summary.get("name"))
        pipelines.append(ImportedPipeline(pipeline_id, name, full, actions, shares_name=live_names.count(name) > 1))
    return pipelines, notes
