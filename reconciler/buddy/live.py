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

Which live pipeline a declaration is, is ``matching.py``'s (pure); fingerprints are ``reconciler.fingerprint``'s
(``ABSENT`` is re-exported here for the modules that import it from here).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from reconciler import fields
from reconciler.buddy import settings
from reconciler.buddy.client import BuddyClient
from reconciler.buddy.dedupe import split
from reconciler.buddy.matching import PipelineState, match_actions, match_pipelines, resolve_pipeline
from reconciler.buddy.pages import Listing
from reconciler.errors import (
    NotFoundError,
    PipelineError,
    PipelineNotFoundError,
    ProjectNotFoundError,
    ReadsStopped,
    ShiftedReadError,
)
from reconciler.fingerprint import ABSENT, PRESENT, live_fingerprint
from reconciler.model import (
    MULTI_ARCH,
    ActionSummary,
    DesiredPipeline,
    ImportedAction,
    ImportedPipeline,
    LivePipeline,
    PipelineKey,
    source_told,
)


def summary_of(action: dict[str, Any]) -> ActionSummary:
    return ActionSummary(id=int(action["id"]), name=str(action.get("name")), type=str(action.get("type")))


def needs_detail(names: Iterable[str], summary: Mapping[str, Any]) -> bool:
    """True when the pipeline must be read (one GET) before a decision: a declared pipeline field (of
    ``names``) is not in the list's summary, or the summary does not say whether the pipeline is
    defined in YAML (``git_config_ref``, ``definition_source``: a missing one is unknown, not its default,
    and so is a ``definition_source`` Buddy does not document)."""
    return any(not fields.in_pipeline_summary(name) or name not in summary for name in names) or not source_told(
        summary
    )


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
    match_pipelines(states, listed)
    for state in states:
        summaries = listed[(state.desired.workspace, state.desired.project)]
        state.listing = summaries if not isinstance(summaries, str) else None
    reader = _Reader(client, dedupe)
    for state in states:
        if state.live is not None and not state.error and not state.skipped:
            reader.start(state)
    reader.run()
    return states


Job = tuple[str, PipelineState, int | None, "Future[Any]"]


class _Reader:
    """The reads of ``read_live`` past the pipeline lists, each submitted to the client's pool as soon
    as what it depends on has arrived: a pipeline's GET when the summary does not say whether it is
    defined in YAML or lacks a declared field, its action list (after that GET, whose actions then
    confirm the pages), and one GET per declared live action once the list is in."""

    def __init__(self, client: BuddyClient, dedupe: bool) -> None:
        self._client = client
        self._dedupe = dedupe
        # Completions arrive on a queue (O(1) each) rather than through ``wait`` over every pending
        # future, which costs O(pending) per call and starves the request threads of the GIL.
        self._done: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._outstanding = 0

    def _submit(self, kind: str, state: PipelineState, action_id: int | None, fn: Any, *args: Any) -> None:
        future = self._client.submit(fn, *args)
        self._outstanding += 1
        future.add_done_callback(lambda f: self._done.put((kind, state, action_id, f)))

    def _where(self, state: PipelineState) -> tuple[str, str, int]:
        assert state.live is not None
        return state.desired.workspace, state.desired.project, state.live.id

    def start(self, state: PipelineState) -> None:
        assert state.live is not None
        if needs_detail(state.desired.fields, state.live.summary):  # the list waits: the GET confirms it too
            self._submit("pipeline", state, None, self._client.get_pipeline, *self._where(state))
        else:
            self._submit("list", state, None, partial(self._client.list_actions, confirm=True), *self._where(state))

    def run(self) -> None:
        first_error: BaseException | None = None
        while self._outstanding:
            kind, state, action_id, future = self._done.get()
            self._outstanding -= 1
            try:
                result = future.result()
            except ShiftedReadError as exc:  # this pipeline is not planned; the others go on
                state.error = exc.message
                continue
            except BaseException as exc:
                first_error = first_error or exc
                continue
            if first_error is None and state.live is not None and not state.error:
                self._arrived(kind, state, action_id, result)
        if first_error is not None:
            raise first_error

    def _arrived(self, kind: str, state: PipelineState, action_id: int | None, result: Any) -> None:
        assert state.live is not None
        if kind == "get":
            state.details[action_id] = result  # type: ignore[index]
        elif kind == "pipeline":
            state.live = replace(state.live, detail=result)
            if state.live.yaml_defined:
                state.skipped = state.live.yaml_reason
            elif not state.live.yaml_known:
                state.error = UNKNOWN_SOURCE
            else:
                listing = partial(self._client.list_actions, confirm=True, pipeline=result)
                self._submit("list", state, None, listing, *self._where(state))
        else:
            self._listed(state, tuple(summary_of(a) for a in result))

    def _listed(self, state: PipelineState, actions: tuple[ActionSummary, ...]) -> None:
        assert state.live is not None
        state.live = replace(state.live, actions=actions)
        try:
            matched = match_actions(state.desired, split(state.desired, actions)[0] if self._dedupe else actions)
        except PipelineError as exc:
            state.error = exc.reason
            return
        for live_action in matched.values():
            self._submit("get", state, live_action.id, self._client.get_action, *self._where(state), live_action.id)


#: a pipeline whose full answer does not say whether Buddy YAML defines it: not ours to guess, not changed
UNKNOWN_SOURCE = (
    "Buddy's answer does not say whether the pipeline is defined in Buddy YAML (it has no git_config_ref "
    "or definition_source, or a definition_source of neither LOCAL nor REMOTE): not changed"
)


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
    front of it mid-read. Such a project's list is read again, confirmed (a read equal to the first
    proves nothing: an addition and a removal during it can make it so), else the project's pipelines
    are not planned: no pipeline that exists is planned as a create."""
    doubtful: set[tuple[str, str]] = set()
    for state in states:
        key = (state.desired.workspace, state.desired.project)
        summaries = listed[key]
        if key in doubtful or not isinstance(summaries, Listing) or summaries.checked:
            continue
        try:
            if resolve_pipeline(state.desired, summaries) is None:
                doubtful.add(key)
        except PipelineError:
            continue

    def again(key: tuple[str, str]) -> list[dict[str, Any]] | str:
        try:
            return client.list_pipelines(*key, confirm=True)
        except ShiftedReadError as exc:
            return exc.message

    keys = sorted(doubtful)
    listed.update(zip(keys, client.map(again, keys), strict=True))


# -- apply: re-reading a saved plan's pipelines -------------------------------------------------------


@dataclass(frozen=True)
class KeyState:
    """What a re-read found for one pipeline key: its fingerprint now (``ABSENT``/``PRESENT`` for a
    pipeline the plan creates; ``None`` when a live pipeline no longer exists), its action count, and
    why it must never be written or deleted now (defined in Buddy YAML, or not said), else ``None``."""

    key: PipelineKey
    fingerprint: str | None
    count: int = 0
    kept: str | None = None


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
        kept = live.yaml_reason if live.yaml_defined else None if live.yaml_known else UNKNOWN_SOURCE
        return KeyState(key, live_fingerprint(live, details, wanted, names), len(actions), kept)

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
    summaries = _project_summaries(client, workspace, project)
    live_names = [str(s.get("name")) for s in summaries]
    if names:
        summaries = _named(workspace, project, summaries, names)
    notes: list[str] = []
    chosen = [s for s in summaries if not _yaml_note(workspace, project, _live(s), notes)]
    # One phase per kind of request, each spread over the client's pool (a task that waited on tasks
    # of the same pool could starve it): the pipelines, then the action lists of those kept (each
    # confirmed by its pipeline's answer, which holds its actions), then the multi-arch actions.
    ids = [int(s["id"]) for s in chosen]
    full = dict(zip(ids, client.map(lambda i: client.get_pipeline(workspace, project, i), ids), strict=True))
    # a summary that did not say whether YAML defines the pipeline: its full answer does
    chosen = [s for s in chosen if not _yaml_note(workspace, project, _live(s, full[int(s["id"])]), notes)]
    ids = [int(s["id"]) for s in chosen]

    def actions(pipeline_id: int) -> Listing:
        return client.list_actions(workspace, project, pipeline_id, confirm=True, pipeline=full[pipeline_id])

    listed = dict(zip(ids, client.map(actions, ids), strict=True))
    multi = [(i, int(a["id"])) for i in ids for a in listed[i] if a.get("type") == MULTI_ARCH]
    details = dict(zip(multi, client.map(lambda key: client.get_action(workspace, project, *key), multi), strict=True))
    pipelines: list[ImportedPipeline] = []
    for summary in chosen:
        pipeline_id, name = int(summary["id"]), str(summary.get("name"))
        imported = tuple(
            ImportedAction(int(a["id"]), str(a.get("name")), str(a.get("type")), details.get((pipeline_id, a["id"])))
            for a in listed[pipeline_id]
        )
        answer = full[pipeline_id] or summary
        pipelines.append(ImportedPipeline(pipeline_id, name, answer, imported, shares_name=live_names.count(name) > 1))
    return pipelines, notes


def _named(workspace: str, project: str, summaries: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The summaries of the pipelines ``names`` (import's names): ``PipelineNotFoundError`` for one not live."""
    live_names = [str(s.get("name")) for s in summaries]
    missing = [n for n in dict.fromkeys(names) if n not in live_names]
    if missing:
        raise PipelineNotFoundError(workspace, project, missing, live_names)
    return [s for s in summaries if s.get("name") in set(names)]


def _project_summaries(client: BuddyClient, workspace: str, project: str) -> list[dict[str, Any]]:
    try:
        return client.list_pipelines(workspace, project, confirm=True)
    except NotFoundError as exc:
        raise ProjectNotFoundError(
            f"workspace {workspace!r} or project {project!r} not found ({exc.detail}); --workspace is the "
            "workspace's URL handle and --project the project's name ID"
        ) from None


def _live(summary: Mapping[str, Any], detail: Mapping[str, Any] | None = None) -> LivePipeline:
    return LivePipeline(id=int(summary["id"]), name=str(summary.get("name")), summary=summary, detail=detail)


def _yaml_note(workspace: str, project: str, live: LivePipeline, notes: list[str]) -> bool:
    """True (and a note) for a pipeline import leaves out: defined in Buddy YAML, or not known not to be
    once its full answer is in (``live.detail``); a summary that does not say is kept for its GET."""
    if live.yaml_defined:
        why = f"{live.yaml_reason}; edit it through its YAML"
    elif live.detail is not None and not live.yaml_known:
        why = UNKNOWN_SOURCE.removesuffix(": not changed")
    else:
        return False
    notes.append(f'{workspace}/{project} pipeline "{live.name}" (#{live.id}) skipped: {why}')
    return True
