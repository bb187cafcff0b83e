"""Execute a plan through the client: ordered, bounded, and honest about what happened.

Pipelines run in parallel (bounded); within a pipeline every change runs in plan order: the new
pipeline, then creates (each placed after the action created or matched just before it), updates,
deletes. A POST whose outcome is unknown is never blindly repeated: the list is read again first.
The report says what was applied, what failed (with the API's message) and what was not tried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reconciler import envrefs, fields, live, settings
from reconciler.client import BuddyClient
from reconciler.diff import field_differs
from reconciler.errors import (
    ApiError,
    EnvError,
    NotFoundError,
    StalePlanError,
    TargetMismatchError,
)
from reconciler.fields import SENSITIVE
from reconciler.model import PipelineKey
from reconciler.plan import Change, Plan

Status = Literal["applied", "failed", "not tried"]
#: how often an uncertain create is tried again, after the re-read found nothing
UNCERTAIN_TRIES = 3


@dataclass
class Outcome:
    """What became of one change. ``object_id`` is the id of what it made or touched: the new
    pipeline's for ``create_pipeline``, else the action's."""

    change: Change
    status: Status
    message: str | None = None
    object_id: int | None = None


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def of(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return not self.of("failed") and not self.of("not tried")


class Progress(Protocol):
    """Where apply reports as it goes (the CLI draws a bar on a terminal, lines in CI)."""

    def start(self, total: int) -> None: ...

    def done(self, outcome: Outcome) -> None: ...

    def finish(self) -> None: ...


def resolve_fields(plan: Plan, env: Mapping[str, str], *, sandbox: bool) -> dict[int, dict[str, Any]]:
    """Every change's body with ``${env:…}`` resolved, before anything is sent: an unset variable
    stops the apply before the first write."""
    bodies: dict[int, dict[str, Any]] = {}
    missing: list[str] = []
    for index, change in enumerate(plan.changes):
        if change.fields is None:
            continue
        body: dict[str, Any] = {}
        for name, value in change.fields.items():
            try:
                body[name] = envrefs.resolve(value, env, sandbox=sandbox)
            except EnvError as exc:
                missing.append(f"{change.pipeline} / {change.action_name or '(pipeline)'} field {name}: {exc}")
        bodies[index] = body
    if missing:
        raise EnvError("cannot apply, variables are not set (nothing was changed): " + "; ".join(missing))
    return bodies


def check_target(plan: Plan, client: BuddyClient, workspace: str | None) -> None:
    """Refuse a plan made for another base URL or workspace."""
    if plan.target.base_url.rstrip("/") != client.target:
        raise TargetMismatchError(
            f"the plan was made for {settings.display_url(plan.target.base_url)}, not {client.target}; nothing was "
            "changed. "
            "Make a new plan against this target"
        )
    if workspace:
        others = sorted({c.workspace for c in plan.changes if c.workspace != workspace})
        if others:
            raise TargetMismatchError(
                f"the plan changes workspace(s) {', '.join(others)}, but BUDDY_WORKSPACE is {workspace}; "
                "nothing was changed"
            )


def refresh(client: BuddyClient, plan: Plan) -> dict[str, int]:
    """Re-read every pipeline the plan touches (through ``live``); refuse (``StalePlanError``) when
    any fingerprint changed. Returns the live action count per pipeline key, for the safety check."""
    names = {c.key: c.pipeline for c in plan.changes}
    keys = sorted({c.key for c in plan.changes} | {PipelineKey.parse(k) for k in plan.fingerprints}, key=str)
    declared = {k: {int(i): f for i, f in plan.declared.get(str(k), {}).items()} for k in keys}
    counts: dict[str, int] = {}
    stale: list[str] = []
    for state in live.read_keys(client, keys, declared):
        key = state.key
        counts[str(key)] = state.count
        if state.fingerprint == plan.fingerprints.get(str(key)):
            continue
        if key.id is None:
            stale.append(f'pipeline "{key.name}" now exists in {key.workspace}/{key.project}')
        elif state.fingerprint is None:
            stale.append(f"pipeline #{key.id} ({names.get(key, '?')}) no longer exists")
        else:
            stale.append(f'pipeline "{names.get(key, key.id)}" (#{key.id})')
    if stale:
        raise StalePlanError(
            "the plan is stale, Buddy changed since it was made: "
            + "; ".join(stale)
            + ". Nothing was changed. Run plan again"
        )
    return counts


class _PipelineRun:
    """The changes of one pipeline, strictly in order."""

    def __init__(
        self, client: BuddyClient, report: ApplyReport, lock: threading.Lock, progress: Progress | None
    ) -> None:
        self.client = client
        self.report = report
        self.lock = lock
        self.progress = progress
        self.pipeline_id: int | None = None
        self.created: dict[str, int] = {}

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.report.outcomes.append(outcome)
        if self.progress is not None:
            self.progress.done(outcome)

    def warn(self, message: str) -> None:
        with self.lock:
            self.report.warnings.append(message)

    def run(self, changes: list[tuple[Change, dict[str, Any] | None]]) -> None:
        creates_blocked: str | None = None
        pipeline_missing: str | None = None
        for change, body in changes:
            if pipeline_missing is not None:
                self.record(Outcome(change, "not tried", pipeline_missing))
                continue
            if change.kind == "create" and creates_blocked is not None:
                self.record(Outcome(change, "not tried", creates_blocked))
                continue
            try:
                outcome = self.execute(change, body or {})
            except ApiError as exc:
                outcome = Outcome(change, "failed", exc.message)
                if change.kind == "create_pipeline":
                    pipeline_missing = f'pipeline "{change.pipeline}" was not created'
                elif change.kind == "create":
                    creates_blocked = f'the create of "{change.action_name}" before it failed'
            self.record(outcome)

    def execute(self, change: Change, body: dict[str, Any]) -> Outcome:
        c = self.client
        ws, project = change.workspace, change.project
        pipeline_id = change.pipeline_id if change.pipeline_id is not None else self.pipeline_id
        if change.kind == "create_pipeline":
            created = self._create_pipeline(change, body)
            self.pipeline_id = int(created["id"])
            return Outcome(change, "applied", object_id=self.pipeline_id)
        assert pipeline_id is not None
        if change.kind == "create":
            send = dict(body)
            if change.after_action_id is not None:
                send["after_action_id"] = change.after_action_id
            elif change.after_action_name is not None:
                send["after_action_id"] = self.created[change.after_action_name]
            answer = self._create_action(change, pipeline_id, send)
            self.created[change.action_name or ""] = int(answer["id"])
            self.verify(change, body, answer)
            return Outcome(change, "applied", object_id=int(answer["id"]))
        if change.kind == "update":
            assert change.action_id is not None
            answer = c.update_action(ws, project, pipeline_id, change.action_id, body)
            self.verify(change, body, answer)
            return Outcome(change, "applied", object_id=change.action_id)
        assert change.action_id is not None
        try:
            c.delete_action(ws, project, pipeline_id, change.action_id)
        except NotFoundError:
            return Outcome(change, "applied", "already gone", object_id=change.action_id)
        return Outcome(change, "applied", object_id=change.action_id)

    def _create_pipeline(self, change: Change, body: dict[str, Any]) -> dict[str, Any]:
        c, ws, project = self.client, change.workspace, change.project
        return self._create_once(
            lambda: c.create_pipeline(ws, project, body),
            lambda: live.find_pipeline(c, ws, project, change.pipeline),
        )

    def _create_action(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> dict[str, Any]:
        c, ws, project = self.client, change.workspace, change.project
        return self._create_once(
            lambda: c.create_action(ws, project, pipeline_id, body),
            lambda: live.find_action(c, ws, project, pipeline_id, change.action_name or ""),
        )

    @staticmethod
    def _create_once(post: Callable[[], dict[str, Any]], find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        """POST, and after an unknown outcome look (``find``) before trying again: never a duplicate."""
        for attempt in range(1, UNCERTAIN_TRIES + 1):
            try:
                return post()
            except ApiError as exc:
                if not exc.uncertain or attempt == UNCERTAIN_TRIES:
                    raise
            found = find()
            if found is not None:
                return found
        raise AssertionError("unreachable: the last attempt returns or raises")

    def verify(self, change: Change, body: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """The server's answer is what it stored: a declared field that still differs is a
        normalisation the diff does not know yet, worth a warning."""
        for name, value in body.items():
            if name in ("name", "type") or fields.has_write_only(name, value):
                continue
            if field_differs(name, value, answer.get(name)):
                raw = (change.fields or {}).get(name)
                shown = SENSITIVE if fields.is_sensitive(name, raw) else repr(answer.get(name))
                self.warn(
                    f'pipeline "{change.pipeline}", action "{change.action_name}": field {name} still differs '
                    f"after apply (Buddy has {shown}); the diff may need to learn this normalisation"
                )


def apply_plan(
    client: BuddyClient,
    plan: Plan,
    *,
    env: Mapping[str, str],
    sandbox: bool = False,
    force: bool = False,
    live_counts: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """Make the plan's changes. Refuses (before any write) when unsafe or when a variable is unset."""
    bodies = resolve_fields(plan, env, sandbox=sandbox)
    plan.raise_if_unsafe(force=force, live_counts=live_counts)
    report = ApplyReport()
    lock = threading.Lock()
    groups: dict[str, list[tuple[Change, dict[str, Any] | None]]] = {}
    for index, change in enumerate(plan.changes):
        groups.setdefault(change.pipeline_key, []).append((change, bodies.get(index)))
    if not groups:
        return report
    if progress is not None:
        progress.start(len(plan.changes))
    try:
        with ThreadPoolExecutor(max_workers=client.parallelism, thread_name_prefix="apply") as pool:
            futures = [
                pool.submit(_PipelineRun(client, report, lock, progress).run, changes) for changes in groups.values()
            ]
            for future in futures:
                future.result()
    finally:
        if progress is not None:
            progress.finish()
    order = {id(c): i for i, c in enumerate(plan.changes)}
    report.outcomes.sort(key=lambda o: order[id(o.change)])
    return report
