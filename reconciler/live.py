"""Live state for the declared pipelines, read with the fewest requests the contract allows.

Per project: the pipeline-list pages. Per declared live pipeline: its action-list pages. Per declared
action that exists live: one GET. Undeclared live actions are known from their summaries alone.
Action lists and action GETs run concurrently on the client's bounded pool, as a pipeline: a
pipeline's GETs start as soon as its list arrives.
"""

from __future__ import annotations

import queue
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from reconciler.client import BuddyClient
from reconciler.errors import NotFoundError, PipelineError
from reconciler.model import ActionSummary, DesiredPipeline, LivePipeline
from reconciler.normal import match_actions


@dataclass
class PipelineState:
    """What is live for one declared pipeline."""

    desired: DesiredPipeline
    live: LivePipeline | None = None  # None: it does not exist
    details: dict[int, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None


def summary_of(action: dict[str, Any]) -> ActionSummary:
    return ActionSummary(id=int(action["id"]), name=str(action.get("name")), type=str(action.get("type")))


def resolve_pipeline(desired: DesiredPipeline, summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The live summary a declared pipeline names, ``None`` when absent; ``PipelineError`` when the
    reference is ambiguous or wrong (an unknown ``id``, a renamed pipeline, two with one name)."""
    if desired.id is not None:
        found = [s for s in summaries if s.get("id") == desired.id]
        if not found:
            raise PipelineError(desired.label, f"no live pipeline has id {desired.id} ({desired.location})")
        live = found[0]
        if desired.name is not None and live.get("name") != desired.name:
            raise PipelineError(
                desired.label,
                f'the live pipeline #{desired.id} is named "{live.get("name")}", the file says "{desired.name}"; '
                "pipeline renames are not managed: rename it in Buddy or change the file",
            )
        return live
    found = [s for s in summaries if s.get("name") == desired.name]
    if len(found) > 1:
        ids = ", ".join(f"#{s.get('id')}" for s in found)
        raise PipelineError(
            desired.label, f"{len(found)} live pipelines have this name ({ids}); give `id:` in the file"
        )
    return found[0] if found else None


def read_live(client: BuddyClient, pipelines: Iterable[DesiredPipeline]) -> list[PipelineState]:
    """Read what the declared pipelines need; per-pipeline problems land in ``PipelineState.error``."""
    states = [PipelineState(p) for p in pipelines]
    projects = sorted({(s.desired.workspace, s.desired.project) for s in states})
    listed: dict[tuple[str, str], list[dict[str, Any]] | str] = {}

    def list_project(key: tuple[str, str]) -> list[dict[str, Any]] | str:
        try:
            return client.list_pipelines(*key)
        except NotFoundError as exc:
            return f"workspace {key[0]!r} or project {key[1]!r} not found ({exc.detail})"

    for key, result in zip(projects, client.map(list_project, projects), strict=True):
        listed[key] = result

    # Completions arrive on a queue (O(1) each) rather than through ``wait`` over every pending
    # future, which costs O(pending) per call and starves the request threads of the GIL.
    done: queue.SimpleQueue[tuple[str, PipelineState, int | None, Future[Any]]] = queue.SimpleQueue()
    outstanding = 0

    def submit(kind: str, state: PipelineState, action_id: int | None, fn: Any, *args: Any) -> None:
        nonlocal outstanding
        future = client.submit(fn, *args)
        outstanding += 1
        future.add_done_callback(lambda f: done.put((kind, state, action_id, f)))

    for state in states:
        summaries = listed[(state.desired.workspace, state.desired.project)]
        if isinstance(summaries, str):
            state.error = summaries
            continue
        try:
            summary = resolve_pipeline(state.desired, summaries)
        except PipelineError as exc:
            state.error = exc.reason
            continue
        if summary is None:
            continue
        state.live = LivePipeline(id=int(summary["id"]), name=str(summary.get("name")), summary=summary)
        if state.live.yaml_defined:
            state.skipped = state.live.yaml_reason
            continue
        submit("list", state, None, client.list_actions, state.desired.workspace, state.desired.project, state.live.id)

    first_error: BaseException | None = None
    while outstanding:
        kind, state, action_id, future = done.get()
        outstanding -= 1
        try:
            result = future.result()
        except BaseException as exc:
            first_error = first_error or exc
            continue
        if first_error is not None or state.live is None:
            continue
        if kind == "get":
            state.details[action_id] = result  # type: ignore[index]
            continue
        actions = tuple(summary_of(a) for a in result)
        state.live = LivePipeline(state.live.id, state.live.name, state.live.summary, actions)
        try:
            matched = match_actions(state.desired, actions)
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
